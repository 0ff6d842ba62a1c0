"""GGUF -> ONNX folder (fp32, int4 or int8), checked against the numpy reference forward pass.

The folder is the onnxruntime-genai layout: model.onnx (+ model.onnx.data), genai_config.json,
tokenizer.json, tokenizer_config.json (with the chat template) and chat_template.jinja, plus our
own conversion.json recording the source, the check and every file's sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from models.lm import onnx_graph
from models.lm.errors import ModelFolderError
from models.lm.gguf_file import GgufModel
from models.lm.onnx_graph import Progress
from models.lm.reference import forward
from models.lm.tokenizer_json import build_tokenizer, write_tokenizer

_LOGGER = logging.getLogger(__name__)

# int4: 4-bit layers, 8-bit head (small, fast; the default). int8: 8-bit everywhere, which
# holds a 4-bit GGUF's own blocks almost exactly (top-1 agreement 100 % on SmolLM2's check vs
# 78 % for int4) for ~55 MB more.
Precision = Literal["fp32", "int4", "int8"]
PRECISIONS: Final = ("fp32", "int4", "int8")
REPORT_FILE: Final = "conversion.json"
CHECK_PROMPTS: Final = (
    "The capital of France is",
    "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n",
)
# fp32 ONNX vs the numpy pass: same math, other summation order.
FP32_TOLERANCE: Final = 1e-3
QUANT_BLOCK: Final = 32
HEAD_WEIGHT: Final = onnx_graph.HEAD_WEIGHT


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """How the converted model's logits compare with the numpy reference on fixed prompts."""

    max_abs_diff: float
    top1_agreement: float
    tokens: int
    tolerance: float | None

    @property
    def passed(self) -> bool:
        return self.tolerance is None or self.max_abs_diff <= self.tolerance


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversionReport:
    folder: Path
    source: str
    architecture: str
    precision: str
    seconds: float
    check: Check | None
    sha256: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["folder"] = str(self.folder)
        return data


def convert(
    gguf_path: Path,
    out_dir: Path,
    *,
    precision: Precision = "int4",
    verify: bool = True,
    progress: Progress | None = None,
    check_prompts: Sequence[str] = CHECK_PROMPTS,
) -> ConversionReport:
    """Write the ONNX folder for `gguf_path` to `out_dir` (replaced atomically)."""
    started = time.perf_counter()
    report_progress = progress or (lambda step, done, total: None)
    model = GgufModel.open(gguf_path)
    proto = onnx_graph.build(model, report_progress)
    if precision != "fp32":
        report_progress(f"quantizing to {precision}", 0, 1)
        proto = quantize(proto, layer_bits=4 if precision == "int4" else 8)
        report_progress(f"quantizing to {precision}", 1, 1)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        report_progress("writing", 0, 1)
        _save_onnx(proto, staging / "model.onnx")
        del proto
        n_ctx = onnx_graph.context_length(model)
        write_tokenizer(model.tokenizer, staging, n_ctx)
        _write_genai_config(model, staging, n_ctx)
        report_progress("writing", 1, 1)
        check = None
        if verify:
            report_progress("checking against the numpy reference", 0, 1)
            check = check_logits(model, staging, precision, check_prompts)
            report_progress("checking against the numpy reference", 1, 1)
        sha = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
        report = ConversionReport(
            folder=out_dir,
            source=str(gguf_path),
            architecture=model.config.architecture,
            precision=precision,
            seconds=round(time.perf_counter() - started, 2),
            check=check,
            sha256=sha,
        )
        (staging / REPORT_FILE).write_text(json.dumps(report.to_json(), indent=2), "utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def quantize(proto: Any, *, layer_bits: int = 4, block_size: int = QUANT_BLOCK) -> Any:
    """Every MatMul -> `layer_bits`-bit blocks (onnxruntime's MatMulNBitsQuantizer), the LM
    head -> 8-bit blocks.

    The head (49k x 576 for SmolLM2) gets 8-bit blocks: measured on SmolLM2 it is faster on
    CPU than 4-bit and keeps the top-1 token far closer to the reference (78 % vs 61 % of
    positions on the check prompts). The embedding table becomes float16 with a Cast after the
    Gather (the quantizer offers only 4-bit for Gather, which hurt the check further): half its
    memory (57 MB less for SmolLM2) at a relative error of 5e-4.
    """
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    head = [n.name for n in proto.graph.node if n.op_type == "MatMul" and HEAD_WEIGHT in n.input]

    def config(bits: int) -> Any:
        return DefaultWeightOnlyQuantConfig(
            block_size=block_size,
            is_symmetric=False,
            accuracy_level=4,
            op_types_to_quantize=("MatMul",),
            quant_axes=(("MatMul", 0),),
            bits=bits,
        )

    layers = MatMulNBitsQuantizer(proto, nodes_to_exclude=head, algo_config=config(layer_bits))
    layers.process()
    lm_head = MatMulNBitsQuantizer(layers.model.model, nodes_to_include=head, algo_config=config(8))
    lm_head.process()
    quantized = lm_head.model.model
    _embedding_to_fp16(quantized)
    return quantized


def _embedding_to_fp16(proto: Any) -> None:
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    for index, init in enumerate(graph.initializer):
        if init.name == onnx_graph.EMBED_WEIGHT:
            half = numpy_helper.to_array(init).astype(np.float16)
            graph.initializer[index].CopyFrom(numpy_helper.from_array(half, init.name))
            break
    else:
        return
    for index, node in enumerate(graph.node):
        if node.op_type == "Gather" and onnx_graph.EMBED_WEIGHT in node.input:
            out = node.output[0]
            node.output[0] = out + "_fp16"
            cast = helper.make_node(
                "Cast", [node.output[0]], [out], name="/embed_cast", to=TensorProto.FLOAT
            )
            graph.node.insert(index + 1, cast)
            return


def _save_onnx(proto: Any, path: Path) -> None:
    import onnx

    onnx.save_model(
        proto,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=path.name + ".data",
        size_threshold=1024,
    )


def _write_genai_config(model: GgufModel, folder: Path, n_ctx: int) -> None:
    c, tok = model.config, model.tokenizer
    eos = [i for i in (tok.eos_id, tok.eot_id) if i is not None]
    config = {
        "model": {
            "bos_token_id": tok.bos_id,
            "context_length": n_ctx,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": c.head_dim,
                "hidden_size": c.n_embd,
                "inputs": {
                    "input_ids": "input_ids",
                    "attention_mask": "attention_mask",
                    "past_key_names": onnx_graph.PAST_KEY,
                    "past_value_names": onnx_graph.PAST_VALUE,
                },
                "outputs": {
                    "logits": "logits",
                    "present_key_names": onnx_graph.PRESENT_KEY,
                    "present_value_names": onnx_graph.PRESENT_VALUE,
                },
                "num_attention_heads": c.n_head,
                "num_hidden_layers": c.n_layers,
                "num_key_value_heads": c.n_head_kv,
            },
            "eos_token_id": sorted(set(eos)),
            "pad_token_id": eos[0] if eos else 0,
            "type": c.architecture,
            "vocab_size": c.vocab_size,
        },
        "search": {
            "do_sample": False,
            "max_length": n_ctx,
            "min_length": 0,
            "num_beams": 1,
            "num_return_sequences": 1,
            "past_present_share_buffer": True,  # the graph uses GroupQueryAttention
            "repetition_penalty": 1.0,
            "temperature": 1.0,
            "top_k": 1,
            "top_p": 1.0,
        },
    }
    (folder / "genai_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def check_logits(
    model: GgufModel, folder: Path, precision: str, prompts: Sequence[str] = CHECK_PROMPTS
) -> Check:
    """Full-sequence logits of the ONNX folder vs `reference.forward`, on each prompt."""
    from models.lm.decoder import OnnxDecoder

    tokenizer = build_tokenizer(model.tokenizer)
    decoder = OnnxDecoder.load(folder, threads=0)
    worst, agree, count = 0.0, 0, 0
    for prompt in prompts:
        ids = tokenizer.encode(prompt, add_special_tokens=False).ids or [0]
        expected = forward(model, ids)
        got = decoder.logits(ids)
        worst = max(worst, float(np.max(np.abs(got - expected))))
        agree += int(np.sum(got.argmax(-1) == expected.argmax(-1)))
        count += len(ids)
    tolerance = FP32_TOLERANCE if precision == "fp32" else None
    check = Check(
        max_abs_diff=worst, top1_agreement=agree / count, tokens=count, tolerance=tolerance
    )
    _LOGGER.info("logits check (%s): %s", precision, check)
    if not check.passed:
        raise ModelFolderError(
            f"The converted model's logits differ from the reference by {worst:.2e} "
            f"(tolerance {tolerance:.0e}); the conversion is wrong. Please report the GGUF."
        )
    return check


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
