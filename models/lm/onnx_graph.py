"""Build the ONNX decoder graph of a llama-family GGUF (numpy, `gguf` and `onnx`; no torch).

The graph follows the onnxruntime-genai decoder layout, so one folder serves both runtimes:

    inputs   input_ids [batch, seq] int64, attention_mask [batch, total] int64,
             past_key_values.{i}.key / .value [batch, kv_heads, past, head_dim] float32
    outputs  logits [batch, seq, vocab] float32,
             present.{i}.key / .value [batch, kv_heads, total, head_dim] float32

Each layer is a handful of onnxruntime's fused CPU operators (SimplifiedLayerNormalization,
SkipSimplifiedLayerNormalization, GroupQueryAttention with rotary embedding inside), which keeps
the per-token operator count, and so the decode overhead, small.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from models.lm.errors import GgufError
from models.lm.gguf_file import F32, GgufModel
from models.lm.reference import rope_tables

_LOGGER = logging.getLogger(__name__)

OPSET: Final = 21
MAX_CONTEXT: Final = 8192
PAST_KEY: Final = "past_key_values.%d.key"
PAST_VALUE: Final = "past_key_values.%d.value"
PRESENT_KEY: Final = "present.%d.key"
PRESENT_VALUE: Final = "present.%d.value"
HEAD_WEIGHT: Final = "lm_head.weight"
EMBED_WEIGHT: Final = "model.embed_tokens.weight"

Progress = Callable[[str, int, int], None]


def _no_progress(step: str, done: int, total: int) -> None:
    _LOGGER.debug("%s %d/%d", step, done, total)


class _Graph:
    """Accumulates nodes and initializers."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def weight(self, name: str, array: F32 | np.ndarray[Any, Any]) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(
        self, op: str, inputs: list[str], outputs: list[str], *, domain: str = "", **attrs: Any
    ) -> list[str]:
        from onnx import helper

        name = f"/{op}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))
        return outputs

    def matmul(self, x: str, weight: F32, name: str) -> str:
        """x @ weight.T, with weight [out, in] as GGUF stores it (the quantizer wants [in, out])."""
        w = self.weight(f"{name}.weight", weight.T)
        return self.node("MatMul", [x, w], [f"{name}/out"])[0]


def context_length(model: GgufModel) -> int:
    return min(model.config.context_length, MAX_CONTEXT)


def build(model: GgufModel, progress: Progress = _no_progress) -> Any:
    """The fp32 `onnx.ModelProto` of `model`."""
    from onnx import TensorProto, helper

    c = model.config
    g = _Graph()
    n_ctx = context_length(model)
    total = c.n_layers + 2
    progress("building graph", 0, total)

    emb = g.weight(EMBED_WEIGHT, model.embedding())
    x = g.node("Gather", [emb, "input_ids"], ["embeddings"])[0]
    mask_sum = g.node(
        "ReduceSum", ["attention_mask", g.weight("axes_1", np.array([1]))], ["mask_sum"], keepdims=0
    )[0]
    lens = g.node(
        "Sub", [mask_sum, g.weight("one_i64", np.array(1, dtype=np.int64))], ["lens_minus_one"]
    )[0]
    seqlens_k = g.node("Cast", [lens], ["seqlens_k"], to=TensorProto.INT32)[0]
    shape = g.node("Shape", ["attention_mask"], ["mask_shape"])[0]
    total_len = g.node(
        "Gather",
        [shape, g.weight("index_1", np.array(1, dtype=np.int64))],
        ["total_len_i64"],
        axis=0,
    )[0]
    total_len = g.node("Cast", [total_len], ["total_sequence_length"], to=TensorProto.INT32)[0]
    cos, sin = rope_tables(c, n_ctx, model.rope_freq_factors())
    cos_cache, sin_cache = g.weight("cos_cache", cos), g.weight("sin_cache", sin)
    progress("building graph", 1, total)

    residual: str | None = None
    hidden = x
    for i in range(c.n_layers):
        p = f"model.layers.{i}"
        norm = g.weight(f"{p}.input_layernorm.weight", model.layer(i, "attn_norm.weight"))
        if residual is None:
            h = g.node(
                "SimplifiedLayerNormalization",
                [hidden, norm],
                [f"{p}/attn_norm"],
                axis=-1,
                epsilon=c.rms_eps,
            )[0]
            residual = hidden
        else:
            h, residual = _skip_norm(g, hidden, residual, norm, f"{p}/attn_norm", c.rms_eps)
        qkv_w = np.concatenate([model.layer(i, f"attn_{n}.weight") for n in "qkv"], axis=0)
        qkv = g.matmul(h, qkv_w, f"{p}.attn.qkv_proj")
        if c.qkv_bias:
            bias = np.concatenate([model.layer(i, f"attn_{n}.bias") for n in "qkv"])
            qkv = g.node(
                "Add", [qkv, g.weight(f"{p}.attn.qkv_proj.bias", bias)], [f"{p}/qkv_bias"]
            )[0]
        attn = g.node(
            "GroupQueryAttention",
            [qkv, "", "", PAST_KEY % i, PAST_VALUE % i, seqlens_k, total_len, cos_cache, sin_cache],
            [f"{p}/attn", PRESENT_KEY % i, PRESENT_VALUE % i],
            domain="com.microsoft",
            num_heads=c.n_head,
            kv_num_heads=c.n_head_kv,
            do_rotary=1,
            rotary_interleaved=int(c.rope_interleaved),
        )[0]
        out = g.matmul(attn, model.layer(i, "attn_output.weight"), f"{p}.attn.o_proj")
        norm = g.weight(f"{p}.post_attention_layernorm.weight", model.layer(i, "ffn_norm.weight"))
        h, residual = _skip_norm(g, out, residual, norm, f"{p}/ffn_norm", c.rms_eps)
        gate_up_w = np.concatenate(
            [model.layer(i, "ffn_gate.weight"), model.layer(i, "ffn_up.weight")]
        )
        gate_up = g.matmul(h, gate_up_w, f"{p}.mlp.gate_up_proj")
        gate, up = g.node("Split", [gate_up], [f"{p}/gate", f"{p}/up"], axis=-1, num_outputs=2)
        sig = g.node("Sigmoid", [gate], [f"{p}/gate_sigmoid"])[0]
        silu = g.node("Mul", [gate, sig], [f"{p}/gate_silu"])[0]
        act = g.node("Mul", [silu, up], [f"{p}/act"])[0]
        hidden = g.matmul(act, model.layer(i, "ffn_down.weight"), f"{p}.mlp.down_proj")
        progress("building graph", i + 2, total)

    if residual is None:
        raise GgufError(f"{model.path} has no layers (block_count is 0).")
    norm = g.weight("model.norm.weight", model.tensor("output_norm.weight"))
    final, _ = _skip_norm(g, hidden, residual, norm, "final_norm", c.rms_eps)
    head = g.weight(HEAD_WEIGHT, model.lm_head().T)
    g.node("MatMul", [final, head], ["logits"])
    progress("building graph", total, total)

    kv_past: list[str | int] = ["batch_size", c.n_head_kv, "past_sequence_length", c.head_dim]
    kv_present: list[str | int] = ["batch_size", c.n_head_kv, "total_sequence_length", c.head_dim]
    f32 = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info(
            "input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]
        ),
        helper.make_tensor_value_info(
            "attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]
        ),
    ]
    outputs = [
        helper.make_tensor_value_info(
            "logits", f32, ["batch_size", "sequence_length", c.vocab_size]
        )
    ]
    for i in range(c.n_layers):
        inputs += [
            helper.make_tensor_value_info(PAST_KEY % i, f32, kv_past),
            helper.make_tensor_value_info(PAST_VALUE % i, f32, kv_past),
        ]
        outputs += [
            helper.make_tensor_value_info(PRESENT_KEY % i, f32, kv_present),
            helper.make_tensor_value_info(PRESENT_VALUE % i, f32, kv_present),
        ]
    graph = helper.make_graph(g.nodes, c.name or "decoder", inputs, outputs, g.initializers)
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="sottovoce",
    )
    proto.ir_version = 10
    return proto


def _skip_norm(g: _Graph, x: str, skip: str, weight: str, name: str, eps: float) -> tuple[str, str]:
    """(normalized x + skip, x + skip): the residual add fused into the next norm."""
    out, _, _, summed = g.node(
        "SkipSimplifiedLayerNormalization",
        [x, skip, weight],
        [name, "", "", f"{name}/residual"],
        domain="com.microsoft",
        epsilon=eps,
    )
    return out, summed
