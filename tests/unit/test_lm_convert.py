"""GGUF -> ONNX on tiny random llama-family models written with the `gguf` writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.lm import (
    GgufError,
    GgufModel,
    ModelFolderError,
    UnsupportedArchitectureError,
    convert,
)
from models.lm.convert import sha256_file
from models.lm.decoder import OnnxDecoder
from models.lm.gguf_file import TokenizerSpec
from models.lm.reference import forward
from models.lm.tokenizer_json import build_tokenizer
from tests.unit.lm_tiny import vocabulary, write_tiny_gguf

PROMPT = [5, 40, 77, 100, 12, 250, 3, 9, 61]


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_fp32_logits_match_the_numpy_reference(tmp_path: Path, arch: str) -> None:
    gguf_path = write_tiny_gguf(tmp_path / f"{arch}.gguf", arch=arch)
    report = convert(gguf_path, tmp_path / "onnx", precision="fp32")

    assert report.check is not None and report.check.passed
    model = GgufModel.open(gguf_path)
    got = OnnxDecoder.load(tmp_path / "onnx").logits(PROMPT)
    expected = forward(model, PROMPT)
    assert np.max(np.abs(got - expected)) < 1e-3
    assert report.check.top1_agreement == 1.0


def test_kv_cache_and_chunks_give_the_same_logits_as_one_pass(tmp_path: Path) -> None:
    gguf_path = write_tiny_gguf(tmp_path / "tiny.gguf")
    convert(gguf_path, tmp_path / "onnx", precision="fp32")
    decoder = OnnxDecoder.load(tmp_path / "onnx")

    full = decoder.logits(PROMPT)
    logits, cache = decoder.run(PROMPT[:4], decoder.empty_cache())
    logits, cache = decoder.run(PROMPT[4:7], cache)
    steps = [logits]
    for token in PROMPT[7:]:
        logits, cache = decoder.run([token], cache)
        steps.append(logits)

    assert np.max(np.abs(np.stack(steps) - full[6:])) < 1e-4
    assert cache.length == len(PROMPT)


def test_folder_has_the_genai_layout_and_checksums(tmp_path: Path) -> None:
    gguf_path = write_tiny_gguf(tmp_path / "tiny.gguf")
    folder = tmp_path / "onnx"
    convert(gguf_path, folder, precision="fp32")

    names = {p.name for p in folder.iterdir()}
    assert {
        "model.onnx",
        "model.onnx.data",
        "genai_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "conversion.json",
    } <= names
    genai = json.loads((folder / "genai_config.json").read_text())
    assert genai["model"]["decoder"]["num_hidden_layers"] == 2
    assert genai["model"]["eos_token_id"] == [2]
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert "<|im_start|>" in config["chat_template"]
    report = json.loads((folder / "conversion.json").read_text())
    assert report["sha256"]["model.onnx"] == sha256_file(folder / "model.onnx")


def test_tokenizer_round_trips_and_keeps_special_tokens_whole() -> None:
    tokens = vocabulary()
    spec = TokenizerSpec(
        model="gpt2",
        pre="smollm",
        tokens=tuple(tokens),
        token_types=(3, 3, 3),
        merges=("Ġ t", "h e"),
        scores=(),
        add_space_prefix=False,
        bos_id=1,
        eos_id=2,
        eot_id=None,
        add_bos=False,
        chat_template=None,
    )
    tok = build_tokenizer(spec)
    text = "<|im_start|>user\nthe 42 héllo<|im_end|>"
    ids = tok.encode(text, add_special_tokens=False).ids

    assert ids[0] == 1 and ids[-1] == 2
    assert tok.decode(ids, skip_special_tokens=False) == text
    assert tokens.index("4") in ids and tokens.index("2") in ids  # digits split one by one


def test_sentencepiece_vocabulary_for_tinyllama_style_models(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "spm.gguf", tokenizer="llama")
    report = convert(path, tmp_path / "onnx", precision="fp32")
    assert report.check is not None and report.check.passed

    from models.lm import LocalLanguageModel

    lm = LocalLanguageModel.load(tmp_path / "onnx")
    pieces = lm.tokenizer.encode("the hello é", add_special_tokens=False).tokens
    assert pieces[:2] == ["▁the", "▁hello"]
    assert "<0xC3>" in pieces  # é is spelled in bytes
    assert lm.tokenizer.decode(lm.encode("the hello é")) == "the hello é"
    ids = lm.prompt_ids(lm.render([{"role": "user", "content": "hello"}]))
    assert ids[0] == 1 and lm.encode("<|user|>") == [ids[1]]  # BOS added, specials whole


def test_int4_quantizes_the_matmuls(tmp_path: Path) -> None:
    import onnx

    gguf_path = write_tiny_gguf(tmp_path / "tiny.gguf")
    report = convert(gguf_path, tmp_path / "int4", precision="int4")

    proto = onnx.load(str(tmp_path / "int4" / "model.onnx"), load_external_data=False)
    ops = [n.op_type for n in proto.graph.node]
    assert "MatMul" not in ops
    assert ops.count("MatMulNBits") == 2 * 4 + 1  # qkv, o, gate+up, down; the head
    assert report.check is not None and report.check.tolerance is None


def test_not_a_gguf_file(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(GgufError, match="not a GGUF file"):
        GgufModel.open(path)


def test_truncated_gguf(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    data = path.read_bytes()
    for cut in (len(data) // 2, 200):
        short = tmp_path / f"cut{cut}.gguf"
        short.write_bytes(data[:cut])
        with pytest.raises(GgufError, match=r"truncated|corrupt"):
            GgufModel.open(short)


def test_unsupported_architecture_lists_the_supported_ones(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "mamba.gguf", arch="mamba")
    with pytest.raises(UnsupportedArchitectureError, match=r"'mamba'.*llama, qwen2"):
        GgufModel.open(path)


def test_folder_missing_a_file(tmp_path: Path) -> None:
    convert(write_tiny_gguf(tmp_path / "tiny.gguf"), tmp_path / "onnx", precision="fp32")
    (tmp_path / "onnx" / "tokenizer.json").unlink()
    with pytest.raises(ModelFolderError, match=r"missing tokenizer\.json"):
        OnnxDecoder.load(tmp_path / "onnx")
    (tmp_path / "onnx" / "model.onnx.data").unlink()
    (tmp_path / "onnx" / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelFolderError, match="cannot load"):
        OnnxDecoder.load(tmp_path / "onnx")
