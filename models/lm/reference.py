"""A plain numpy forward pass of a llama-family GGUF: the yardstick the converter checks against.

It follows ggml's semantics (rope layout, GQA head grouping, RMS norm) directly on the
dequantized GGUF tensors, with no KV cache and none of the ONNX graph's fused operators, so a
match means the conversion kept the model's meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from models.lm.gguf_file import F32, GgufModel, LlamaConfig


def rope_tables(
    config: LlamaConfig, positions: int, freq_factors: F32 | None = None
) -> tuple[F32, F32]:
    """cos and sin, [positions, head_dim / 2], one column per rotated pair."""
    half = config.head_dim // 2
    inv_freq = config.rope_base ** (-np.arange(half, dtype=np.float64) * 2.0 / config.head_dim)
    if freq_factors is not None:
        inv_freq = inv_freq / freq_factors.astype(np.float64)
    angles = np.outer(np.arange(positions, dtype=np.float64), inv_freq)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def _rope(x: F32, cos: F32, sin: F32, interleaved: bool) -> F32:
    """x: [seq, heads, head_dim]."""
    c, s = cos[:, None, :], sin[:, None, :]
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
        return out
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)


def _rms_norm(x: F32, weight: F32, eps: float) -> F32:
    scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return np.asarray(x * scale * weight, dtype=np.float32)


def _softmax(x: npt.NDArray[np.float32]) -> F32:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float32)


def forward(model: GgufModel, token_ids: Sequence[int]) -> F32:
    """Logits [len(token_ids), vocab] for one sequence starting at position 0."""
    c = model.config
    ids = np.asarray(token_ids, dtype=np.int64)
    seq = len(ids)
    x = model.embedding()[ids]
    cos, sin = rope_tables(c, seq, model.rope_freq_factors())
    group = c.n_head // c.n_head_kv
    causal = np.triu(np.full((seq, seq), -np.inf, dtype=np.float32), k=1)
    for i in range(c.n_layers):
        h = _rms_norm(x, model.layer(i, "attn_norm.weight"), c.rms_eps)
        q, k, v = (h @ model.layer(i, f"attn_{n}.weight").T for n in "qkv")
        if c.qkv_bias:
            q = q + model.layer(i, "attn_q.bias")
            k = k + model.layer(i, "attn_k.bias")
            v = v + model.layer(i, "attn_v.bias")
        q = _rope(q.reshape(seq, c.n_head, c.head_dim), cos, sin, c.rope_interleaved)
        k = _rope(k.reshape(seq, c.n_head_kv, c.head_dim), cos, sin, c.rope_interleaved)
        v = v.reshape(seq, c.n_head_kv, c.head_dim)
        k = np.repeat(k, group, axis=1)
        v = np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.float32(np.sqrt(c.head_dim))
        attn = np.einsum("hqk,khd->qhd", _softmax(scores + causal), v).reshape(seq, -1)
        x = x + attn @ model.layer(i, "attn_output.weight").T
        h = _rms_norm(x, model.layer(i, "ffn_norm.weight"), c.rms_eps)
        gate = h @ model.layer(i, "ffn_gate.weight").T
        up = h @ model.layer(i, "ffn_up.weight").T
        act = gate / (1.0 + np.exp(-gate)) * up
        x = (x + act @ model.layer(i, "ffn_down.weight").T).astype(np.float32)
    x = _rms_norm(x, model.tensor("output_norm.weight"), c.rms_eps)
    return (x @ model.lm_head().T).astype(np.float32)
