"""The memory-lean embedding graph: the same outputs bit for bit, built once, never fatal."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models import embeddings

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _quantized_model(path: Path, seed: int = 0) -> Path:
    """A tiny graph shaped like the int8 MiniLM: an int8 table with one scale per row read
    by Gather, and an int8 MatMul weight with one scale per column, both as Cast * scale."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.integers(-127, 128, (300, 64), dtype=np.int8), "table_q"),
        numpy_helper.from_array(rng.random((300, 1), dtype=np.float32) / 50, "table_scale"),
        numpy_helper.from_array(rng.integers(-127, 128, (64, 48), dtype=np.int8), "w_q"),
        numpy_helper.from_array(rng.random((1, 48), dtype=np.float32) / 30, "w_scale"),
    ]
    nodes = [
        helper.make_node("Cast", ["table_q"], ["table_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["table_f", "table_scale"], ["table"]),
        helper.make_node("Cast", ["w_q"], ["w_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w_f", "w_scale"], ["w"]),
        helper.make_node("Gather", ["table", "input_ids"], ["emb"], axis=0),
        helper.make_node("MatMul", ["emb", "w"], ["hidden"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["b", "t", 48])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def _run(path: Path) -> Any:
    ids = np.array([[0, 3, 299, 7], [12, 12, 1, 0]], dtype=np.int64)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input_ids": ids})[0]


def test_lean_model_gives_the_same_outputs_bit_for_bit(tmp_path: Path) -> None:
    model = _quantized_model(tmp_path / "model.onnx")
    lean = embeddings.lean_model(model, tmp_path / "cache")
    assert lean != model and lean.with_suffix(".onnx.data").is_file()
    assert np.array_equal(_run(model), _run(lean))
    graph = onnx.load(str(lean), load_external_data=False).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("Cast") == 1  # the table stays int8: only its gathered rows are cast
    assert {t.name for t in graph.initializer} == {"table_q", "table_scale", "w"}


def test_lean_model_is_built_once_and_replaces_a_stale_one(tmp_path: Path) -> None:
    model = _quantized_model(tmp_path / "model.onnx")
    cache = tmp_path / "cache"
    first = embeddings.lean_model(model, cache)
    stamp = first.stat().st_mtime_ns
    assert embeddings.lean_model(model, cache) == first
    assert first.stat().st_mtime_ns == stamp
    _quantized_model(model, seed=1)  # the model changed: a new lean copy, the old one goes
    second = embeddings.lean_model(model, cache)
    assert second != first and not first.exists()
    assert sorted(p.name for p in cache.iterdir()) == [second.name, f"{second.name}.data"]
    assert np.array_equal(_run(model), _run(second))


def test_lean_model_falls_back_to_the_model_when_it_cannot_be_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf at all")
    with caplog.at_level(logging.INFO, logger="models.embeddings"):
        assert embeddings.lean_model(broken, tmp_path / "cache") == broken
    assert "kept as it is" in caplog.text
    assert not list((tmp_path / "cache").glob("*.onnx*"))


def test_lean_model_falls_back_when_the_cache_cannot_be_written(tmp_path: Path) -> None:
    model = _quantized_model(tmp_path / "model.onnx")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    assert embeddings.lean_model(model, blocker) == model


def test_a_graph_with_nothing_to_rewrite_still_works(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    table = np.arange(2400, dtype=np.float32).reshape(300, 8)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["hidden"], axis=0)],
        "plain",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "t"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["b", "t", 8])],
        [numpy_helper.from_array(table, "table")],
    )
    model = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    lean = embeddings.lean_model(model, tmp_path / "cache")
    assert np.array_equal(_run(model), _run(lean))
