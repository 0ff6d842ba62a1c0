"""Reading a llama-family GGUF: hyperparameters, tokenizer metadata and dequantized tensors.

Only `gguf` and numpy are needed. Tensors come back as float32 numpy arrays in row-major
[out_features, in_features] order (how the GGUF stores them, reversed from ggml's `ne`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from models.lm.errors import GgufError, UnsupportedArchitectureError

_LOGGER = logging.getLogger(__name__)

SUPPORTED_ARCHITECTURES: Final = ("llama", "qwen2")
SUPPORTED_TOKENIZERS: Final = ("gpt2", "llama")  # byte-level BPE; SentencePiece BPE
_MAGIC: Final = b"GGUF"

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, kw_only=True)
class LlamaConfig:
    """The hyperparameters a llama-family decoder needs."""

    architecture: str
    name: str
    n_layers: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    vocab_size: int
    context_length: int
    rope_base: float
    rms_eps: float
    # ggml applies rope to adjacent pairs for llama (its GGUF converter permutes q/k rows to
    # that layout) and to the two halves of each head ("neox") for qwen2.
    rope_interleaved: bool
    tied_embeddings: bool
    qkv_bias: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenizerSpec:
    """The tokenizer as GGUF stores it (`tokenizer.ggml.*`)."""

    model: str
    pre: str
    tokens: tuple[str, ...]
    token_types: tuple[int, ...]
    merges: tuple[str, ...]
    scores: tuple[float, ...]
    add_space_prefix: bool
    bos_id: int | None
    eos_id: int | None
    eot_id: int | None
    add_bos: bool
    chat_template: str | None

    def token(self, token_id: int | None) -> str | None:
        if token_id is None or not 0 <= token_id < len(self.tokens):
            return None
        return self.tokens[token_id]


class GgufModel:
    """A GGUF file opened for conversion. Open with `GgufModel.open(path)`."""

    def __init__(self, path: Path, reader: Any, config: LlamaConfig, tok: TokenizerSpec) -> None:
        self.path = path
        self.config = config
        self.tokenizer = tok
        self._reader = reader
        self._tensors = {t.name: t for t in reader.tensors}

    @classmethod
    def open(cls, path: Path) -> GgufModel:
        reader = _reader(path)
        fields = reader.fields
        arch = str(_value(fields, "general.architecture", path))
        if arch not in SUPPORTED_ARCHITECTURES:
            raise UnsupportedArchitectureError("architecture", arch, SUPPORTED_ARCHITECTURES)
        tensors = {t.name: t for t in reader.tensors}
        config = _config(arch, fields, tensors, path)
        tok = _tokenizer(fields, path)
        if tok.model not in SUPPORTED_TOKENIZERS:
            raise UnsupportedArchitectureError("tokenizer", tok.model, SUPPORTED_TOKENIZERS)
        model = cls(path, reader, config, tok)
        model._check_tensors()
        return model

    def has(self, name: str) -> bool:
        return name in self._tensors

    def tensor(self, name: str) -> F32:
        """Dequantize one tensor to float32."""
        import gguf

        try:
            t = self._tensors[name]
        except KeyError as err:
            raise GgufError(f"{self.path} has no tensor {name!r}; the file is incomplete.") from err
        try:
            values = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type)
        except (NotImplementedError, ValueError) as err:
            raise GgufError(
                f"{self.path}: cannot dequantize {name} ({t.tensor_type.name}): {err}"
            ) from err
        shape = tuple(int(n) for n in reversed(t.shape))
        return np.ascontiguousarray(values, dtype=np.float32).reshape(shape)

    def layer(self, index: int, part: str) -> F32:
        return self.tensor(f"blk.{index}.{part}")

    def embedding(self) -> F32:
        return self.tensor("token_embd.weight")

    def lm_head(self) -> F32:
        """[vocab, n_embd]; the embedding itself when the model ties them."""
        return self.embedding() if self.config.tied_embeddings else self.tensor("output.weight")

    def rope_freq_factors(self) -> F32 | None:
        """Llama 3.x stores its rope scaling as per-frequency divisors."""
        return self.tensor("rope_freqs.weight") if self.has("rope_freqs.weight") else None

    def _check_tensors(self) -> None:
        size = self.path.stat().st_size
        for t in self._tensors.values():
            if int(t.data_offset) + int(t.n_bytes) > size:
                raise GgufError(
                    f"{self.path} is truncated: tensor {t.name} ends past the end of the file. "
                    "Download or copy it again."
                )
        needed = ["token_embd.weight", "output_norm.weight"]
        for i in range(self.config.n_layers):
            needed += [
                f"blk.{i}.{p}.weight"
                for p in (
                    "attn_norm",
                    "attn_q",
                    "attn_k",
                    "attn_v",
                    "attn_output",
                    "ffn_norm",
                    "ffn_gate",
                    "ffn_up",
                    "ffn_down",
                )
            ]
        missing = [n for n in needed if n not in self._tensors]
        if missing:
            raise GgufError(
                f"{self.path} lacks {len(missing)} tensors a {self.config.architecture} model "
                f"needs (first: {missing[0]}); it is not a complete model."
            )


def _reader(path: Path) -> Any:
    import gguf

    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as err:
        raise GgufError(f"Cannot read {path}: {err.strerror or err}.") from err
    if magic != _MAGIC:
        raise GgufError(f"{path} is not a GGUF file (it does not start with 'GGUF').")
    try:
        return gguf.GGUFReader(path)
    except Exception as err:  # the reader raises ValueError, IndexError, struct errors...
        raise GgufError(
            f"{path} is corrupt or truncated ({type(err).__name__}: {err}). "
            "Download or copy it again."
        ) from err


def _value(fields: Any, key: str, path: Path, default: Any = ...) -> Any:
    field = fields.get(key)
    if field is None:
        if default is ...:
            raise GgufError(f"{path} lacks the metadata key {key!r}; it is not a complete model.")
        return default
    try:
        return field.contents()
    except Exception as err:
        raise GgufError(f"{path}: metadata {key!r} is unreadable ({err}).") from err


def _config(arch: str, fields: Any, tensors: dict[str, Any], path: Path) -> LlamaConfig:
    def get(key: str, default: Any = ...) -> Any:
        return _value(fields, f"{arch}.{key}", path, default)

    n_embd = int(get("embedding_length"))
    n_head = int(get("attention.head_count"))
    head_dim = int(get("attention.key_length", n_embd // n_head))
    rope_dim = int(get("rope.dimension_count", head_dim))
    if rope_dim != head_dim:
        raise UnsupportedArchitectureError(
            "rope layout", f"{arch} with rotary dims {rope_dim} of {head_dim}", ["full rotary"]
        )
    embd = tensors.get("token_embd.weight")
    if embd is None:
        raise GgufError(f"{path} has no token_embd.weight tensor; it is not a complete model.")
    vocab = int(embd.shape[-1])
    scaling = str(get("rope.scaling.type", "none"))
    if scaling not in ("none", "llama3"):
        raise UnsupportedArchitectureError("rope scaling", scaling, ["none", "llama3"])
    return LlamaConfig(
        architecture=arch,
        name=str(_value(fields, "general.name", path, path.stem)),
        n_layers=int(get("block_count")),
        n_embd=n_embd,
        n_ff=int(get("feed_forward_length")),
        n_head=n_head,
        n_head_kv=int(get("attention.head_count_kv", n_head)),
        head_dim=head_dim,
        vocab_size=vocab,
        context_length=int(get("context_length")),
        rope_base=float(get("rope.freq_base", 10_000.0)),
        rms_eps=float(get("attention.layer_norm_rms_epsilon")),
        rope_interleaved=arch == "llama",
        tied_embeddings="output.weight" not in tensors,
        qkv_bias="blk.0.attn_q.bias" in tensors,
    )


def _tokenizer(fields: Any, path: Path) -> TokenizerSpec:
    def get(key: str, default: Any = ...) -> Any:
        return _value(fields, key, path, default)

    def optional_id(key: str) -> int | None:
        value = get(key, None)
        return None if value is None else int(value)

    return TokenizerSpec(
        model=str(get("tokenizer.ggml.model")),
        pre=str(get("tokenizer.ggml.pre", "default")),
        tokens=tuple(str(t) for t in get("tokenizer.ggml.tokens")),
        token_types=tuple(int(t) for t in get("tokenizer.ggml.token_type", [])),
        merges=tuple(str(m) for m in get("tokenizer.ggml.merges", [])),
        scores=tuple(float(x) for x in get("tokenizer.ggml.scores", [])),
        add_space_prefix=bool(get("tokenizer.ggml.add_space_prefix", True)),
        bos_id=optional_id("tokenizer.ggml.bos_token_id"),
        eos_id=optional_id("tokenizer.ggml.eos_token_id"),
        eot_id=optional_id("tokenizer.ggml.eot_token_id"),
        add_bos=bool(get("tokenizer.ggml.add_bos_token", False)),
        chat_template=get("tokenizer.chat_template", None),
    )
