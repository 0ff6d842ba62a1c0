"""all-MiniLM-L6-v2 in its memory-lean form gives the packaged model's vectors bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models import embeddings
from models.errors import ModelError
from tests.corpora import CORPORA, corpus

pytestmark = pytest.mark.integration

SLURP = CORPORA / "eval" / "slurp_devel.jsonl"


def test_lean_minilm_matches_the_packaged_model(tmp_path: Path) -> None:
    try:
        plain = embeddings.load()
        lean = embeddings.load(cache_dir=tmp_path)
    except ModelError as err:  # pragma: no cover - the packages are dependencies
        pytest.skip(err.message)
    assert list(tmp_path.glob("lean-*.onnx")), "the lean model was not built"
    texts = ["what time is it", "set a timer for ten minutes", "wake me up at 7 tomorrow"]
    if SLURP.is_file():
        with SLURP.open(encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for _, line in zip(range(200), f, strict=False)]
    single = np.stack([lean.embed([t])[0] for t in texts])
    assert np.array_equal(single, np.stack([plain.embed([t])[0] for t in texts]))
    assert np.array_equal(lean.embed(texts[:40]), plain.embed(texts[:40]))  # padded batches


def test_batch_size_does_not_change_the_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        embedder = embeddings.load(cache_dir=tmp_path)
    except ModelError as err:  # pragma: no cover - the packages are dependencies
        pytest.skip(err.message)
    with corpus("eval", "slurp_devel.jsonl").open(encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(150), f, strict=False)]
    texts = [f"{t} {i}" for i, t in enumerate(texts)]  # never an entry of the file cache
    small = embedder.embed(texts)
    monkeypatch.setattr(embeddings, "_BATCH", 64)
    other = embeddings.load(cache_dir=tmp_path / "other")
    assert np.array_equal(small, other.embed(texts))
