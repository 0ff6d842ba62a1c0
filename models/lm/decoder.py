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

KvCache = tuple[F32, ...]


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


class OnnxDecoder:
    """Construct with `OnnxDecoder.load(folder)`."""

    def __init__(self, session: Any, spec: DecoderSpec) -> None:
        self._session = session
        self.spec = spec
        self._output_names = ["logits"]
        for i in range(spec.n_layers):
            self._output_names += [spec.present_key % i, spec.present_value % i]

    @classmethod
    def load(cls, folder: Path, *, threads: int = 0, spin: bool = False) -> OnnxDecoder:
        """`threads=0` lets onnxruntime pick (one per core).

        `spin=False` keeps idle worker threads from busy-waiting between operators. Measured on
        2 shared cores: spinning decodes ~25 % faster when a core is free, but twice as slowly
        when other processes (the audio pipeline, other users) want the CPU, and it starves
        them; so the assistant does not spin, and `bench lm --spin` shows the other figure.
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

    def empty_cache(self) -> KvCache:
        shape = (1, self.spec.n_kv_heads, 0, self.spec.head_dim)
        return tuple(np.zeros(shape, dtype=np.float32) for _ in range(2 * self.spec.n_layers))

    def run(
        self, ids: Sequence[int], past: KvCache, *, all_logits: bool = False
    ) -> tuple[F32, KvCache]:
        """Feed `ids` after `past`: logits of the last position [vocab] or of all [seq, vocab]."""
        past_len = int(past[0].shape[2])
        if past_len + len(ids) > self.spec.context_length:
            raise PromptTooLongError(
                f"{past_len + len(ids)} tokens do not fit the model's context of "
                f"{self.spec.context_length}."
            )
        feeds: dict[str, Any] = {
            "input_ids": np.asarray([ids], dtype=np.int64),
            "attention_mask": np.ones((1, past_len + len(ids)), dtype=np.int64),
        }
        for i in range(self.spec.n_layers):
            feeds[self.spec.past_key % i] = past[2 * i]
            feeds[self.spec.past_value % i] = past[2 * i + 1]
        logits, *present = self._session.run(self._output_names, feeds)
        out = logits[0] if all_logits else logits[0, -1]
        return np.asarray(out, dtype=np.float32), tuple(present)

    def logits(self, ids: Sequence[int]) -> F32:
        """All positions' logits for one sequence from position 0 (the converter's check)."""
        logits, _ = self.run(ids, self.empty_cache(), all_logits=True)
        return logits
