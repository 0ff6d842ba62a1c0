"""One onnxruntime session over a decoder folder: token ids + KV cache in, logits + KV cache out."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from models.lm.errors import ModelFolderError, PromptTooLongError
from models.lm.gguf_file import F32

_LOGGER = logging.getLogger(__name__)

REQUIRED_FILES: Final = ("model.onnx", "genai_config.json", "tokenizer.json")


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoderSpec:
    """What genai_config.json says about the decoder."""

    filename: str
    n_layers: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    context_length: int
    eos_ids: tuple[int, ...]
    bos_id: int | None
    past_key: str
    past_value: str
    present_key: str
    present_value: str
    share_buffer: bool  # the graph appends to its past in place (GroupQueryAttention)

    @classmethod
    def read(cls, folder: Path) -> DecoderSpec:
        check_folder(folder)
        path = folder / "genai_config.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            model = raw["model"]
            dec = model["decoder"]
            eos = model["eos_token_id"]
            return cls(
                filename=str(dec.get("filename", "model.onnx")),
                n_layers=int(dec["num_hidden_layers"]),
                n_kv_heads=int(dec["num_key_value_heads"]),
                head_dim=int(dec["head_size"]),
                vocab_size=int(model["vocab_size"]),
                context_length=int(model["context_length"]),
                eos_ids=tuple(int(e) for e in (eos if isinstance(eos, list) else [eos])),
                bos_id=None if model.get("bos_token_id") is None else int(model["bos_token_id"]),
                past_key=str(dec["inputs"]["past_key_names"]),
                past_value=str(dec["inputs"]["past_value_names"]),
                present_key=str(dec["outputs"]["present_key_names"]),
                present_value=str(dec["outputs"]["present_value_names"]),
                share_buffer=bool(raw.get("search", {}).get("past_present_share_buffer", False)),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelFolderError(
                f"{path} is not a usable genai_config.json ({type(err).__name__}: {err}). "
                "Convert the model again with `sottovoce models add`."
            ) from err


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise ModelFolderError(f"{folder} is not a model folder (it does not exist).")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelFolderError(
            f"{folder} is missing {', '.join(missing)}. A model folder needs "
            f"{', '.join(REQUIRED_FILES)} and a chat template; convert the GGUF again with "
            "`sottovoce models add FILE.gguf`."
        )


class KvCache:
    """The keys and values of the positions seen so far, as onnxruntime values bound to one
    `IOBinding`. Built by `OnnxDecoder.empty_cache`; changed only by `OnnxDecoder.run`.

    When the folder says `past_present_share_buffer` (our converter's graphs do: their
    GroupQueryAttention appends in place), the cache is preallocated buffers bound as both
    past input and present output, so a decode step copies nothing; a growing concatenation
    copies the whole cache every token (~20 % of decode time at 300 tokens, measured).
    Otherwise each step's present outputs are bound as the next step's past inputs, still
    without a round trip through numpy.
    """

    def __init__(self, decoder: OnnxDecoder, capacity: int) -> None:
        import onnxruntime as ort

        spec = decoder.spec
        self.share = spec.share_buffer
        self.kv_names = decoder.kv_names
        self.capacity = capacity if self.share else spec.context_length
        self.length = 0
        self.binding = decoder.session.io_binding()
        self.binding.bind_output("logits")  # first: `get_outputs()` follows binding order
        shape = (1, spec.n_kv_heads, capacity if self.share else 0, spec.head_dim)
        self.arrays = [np.zeros(shape, dtype=np.float32) for _ in range(2 * spec.n_layers)]
        self.values = [ort.OrtValue.ortvalue_from_numpy(a) for a in self.arrays]  # no copy
        for (past, present), value in zip(decoder.kv_names, self.values, strict=True):
            self.binding.bind_ortvalue_input(past, value)
            if self.share:
                self.binding.bind_ortvalue_output(present, value)
            else:
                self.binding.bind_output(present)
        # Decode steps write their one row of logits here instead of a fresh tensor.
        self.step_logits = np.zeros((1, 1, spec.vocab_size), dtype=np.float32)
        self.step_value = ort.OrtValue.ortvalue_from_numpy(self.step_logits)

    def copy_into(self, other: KvCache) -> None:
        """Copy the filled positions into `other` (a larger cache, or a snapshot)."""
        if not self.share:  # each step's values are new tensors, never written again
            other.values = list(self.values)
            for (past, _), value in zip(self.kv_names, self.values, strict=True):
                other.binding.bind_ortvalue_input(past, value)
        else:
            for mine, theirs in zip(self.arrays, other.arrays, strict=True):
                theirs[:, :, : self.length] = mine[:, :, : self.length]
        other.length = self.length


class OnnxDecoder:
    """Construct with `OnnxDecoder.load(folder)`."""

    def __init__(self, session: Any, spec: DecoderSpec) -> None:
        self.session = session
        self.spec = spec
        self.kv_names: list[tuple[str, str]] = []  # (past input, present output) per tensor
        for i in range(spec.n_layers):
            self.kv_names += [
                (spec.past_key % i, spec.present_key % i),
                (spec.past_value % i, spec.present_value % i),
            ]

    @classmethod
    def load(cls, folder: Path, *, threads: int = 0, spin: bool = True) -> OnnxDecoder:
        """`threads=0` lets onnxruntime pick (one per core).

        `spin=True` lets worker threads busy-wait between the operators of one forward pass,
        never between passes. Measured on 2 cores (SmolLM2-135M int4, 128 tokens): 157 vs 121
        tokens/s without spinning when a core is free; with Piper synthesizing on the other
        core 104 vs 106, and Piper as fast either way; with a CPU-bound program on the other
        core 90 vs 110. `spin=False` is the choice for machines kept busy by other programs.
        """
        import onnxruntime as ort

        spec = DecoderSpec.read(folder)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        # Spin only inside a forward pass: between tokens and after the answer the threads
        # sleep, so an idle assistant costs nothing.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        try:
            session = ort.InferenceSession(
                os.fspath(folder / spec.filename), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own untyped exceptions
            raise ModelFolderError(
                f"onnxruntime cannot load {folder / spec.filename}: {err}. A file of the folder "
                "may be missing or damaged; convert the model again."
            ) from err
        return cls(session, spec)

    def empty_cache(self, capacity: int = 0) -> KvCache:
        """A cache for `capacity` positions (it grows when a run needs more)."""
        return KvCache(self, max(1, min(capacity, self.spec.context_length)))

    def snapshot(self, cache: KvCache) -> KvCache:
        """A copy of `cache` trimmed to its length, to keep (a cached system prompt)."""
        copy = KvCache(self, max(1, cache.length))
        cache.copy_into(copy)
        return copy

    def resume(self, cache: KvCache, capacity: int) -> KvCache:
        """A new working cache of `capacity` that starts where `cache` ends."""
        grown = self.empty_cache(max(capacity, cache.length))
        cache.copy_into(grown)
        return grown

    def run(
        self, ids: Sequence[int], cache: KvCache, *, all_logits: bool = False
    ) -> tuple[F32, KvCache]:
        """Feed `ids` after the cache: logits of the last position [vocab] or of all
        [seq, vocab], and the cache that now holds them (`cache` itself unless it had to grow)."""
        total = cache.length + len(ids)
        if total > self.spec.context_length:
            raise PromptTooLongError(
                f"{total} tokens do not fit the model's context of {self.spec.context_length}."
            )
        if total > cache.capacity:
            grown = min(self.spec.context_length, max(total, 2 * cache.capacity))
            cache = self.resume(cache, grown)
        binding = cache.binding
        binding.bind_cpu_input("input_ids", np.asarray([ids], dtype=np.int64))
        binding.bind_cpu_input("attention_mask", np.ones((1, total), dtype=np.int64))
        step = len(ids) == 1
        if step:
            binding.bind_ortvalue_output("logits", cache.step_value)
        else:
            binding.bind_output("logits")  # a fresh tensor: its shape follows len(ids)
        self.session.run_with_iobinding(binding)
        cache.length = total
        if not cache.share:
            outputs = binding.get_outputs()
            cache.values = outputs[1:]
            for (past, present), value in zip(self.kv_names, cache.values, strict=True):
                binding.bind_ortvalue_input(past, value)
                binding.bind_output(present)
        logits = cache.step_logits if step else binding.get_outputs()[0].numpy()
        out = logits[0] if all_logits else logits[0, -1]
        return np.array(out, dtype=np.float32), cache  # a copy: step_logits is reused

    def logits(self, ids: Sequence[int]) -> F32:
        """All positions' logits for one sequence from position 0 (the converter's check)."""
        logits, _ = self.run(ids, self.empty_cache(len(ids)), all_logits=True)
        return logits
