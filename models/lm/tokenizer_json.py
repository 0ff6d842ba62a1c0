"""tokenizer.json and tokenizer_config.json rebuilt from a GGUF's `tokenizer.ggml.*` metadata."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Final

from models.lm.gguf_file import TokenizerSpec

_LOGGER = logging.getLogger(__name__)

# Pre-tokenizer split rules of the BPE families llama.cpp names in `tokenizer.ggml.pre`.
_QWEN2_SPLIT: Final = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_LLAMA3_SPLIT: Final = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLITS: Final = {"qwen2": _QWEN2_SPLIT, "llama-bpe": _LLAMA3_SPLIT, "llama3": _LLAMA3_SPLIT}
# tokenizer.ggml.token_type values.
_NORMAL: Final = 1
_UNKNOWN: Final = 2
_CONTROL: Final = 3
_USER_DEFINED: Final = 4


def build_tokenizer(spec: TokenizerSpec) -> Any:
    """A `tokenizers.Tokenizer` for a GGUF vocabulary: byte-level BPE ("gpt2") or
    SentencePiece BPE ("llama": Llama 2, TinyLlama, Mistral)."""
    from tokenizers import AddedToken

    tok = _sentencepiece(spec) if spec.model == "llama" else _byte_level(spec)
    special = [
        AddedToken(token, special=True, normalized=False)
        for token, kind in zip(spec.tokens, spec.token_types, strict=False)
        if kind in (_CONTROL, _USER_DEFINED)
    ]
    tok.add_special_tokens(special)
    return tok


def _sentencepiece(spec: TokenizerSpec) -> Any:
    """SentencePiece BPE: "▁" for spaces, merges ranked by the merged piece's score, and
    unknown characters spelled as <0xNN> byte pieces."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate(spec.tokens)}
    kinds = zip(spec.tokens, spec.token_types, strict=False)
    unk = next((token for token, kind in kinds if kind == _UNKNOWN), None)
    model = models.BPE(
        vocab, _merges_by_score(spec), unk_token=unk, fuse_unk=True, byte_fallback=True
    )
    tok = Tokenizer(model)
    scheme = "first" if spec.add_space_prefix else "never"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme=scheme, split=False
    )
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
        + ([decoders.Strip(" ", 1, 0)] if spec.add_space_prefix else [])
    )
    return tok


def _merges_by_score(spec: TokenizerSpec) -> list[tuple[str, str]]:
    """Every split of a normal piece into two pieces of the vocabulary is a merge; a piece
    with a higher score merges earlier (how SentencePiece's BPE picks)."""
    vocab = {token: i for i, token in enumerate(spec.tokens)}
    ranked: list[tuple[float, int, int, str, str]] = []
    for piece, kind, score in zip(spec.tokens, spec.token_types, spec.scores, strict=False):
        if kind != _NORMAL or len(piece) < 2:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                ranked.append((-score, vocab[left], vocab[right], left, right))
    ranked.sort()
    return [(left, right) for *_, left, right in ranked]


def _byte_level(spec: TokenizerSpec) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {token: i for i, token in enumerate(spec.tokens)}
    merges = [_pair(m) for m in spec.merges]
    tok = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, byte_fallback=False))
    pre: Any
    if spec.pre in _SPLITS:
        pre = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_SPLITS[spec.pre]), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    elif spec.pre == "smollm":
        pre = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
            ]
        )
    else:
        if spec.pre not in ("gpt2", "default"):
            _LOGGER.warning("unknown pre-tokenizer %r; using GPT-2's split rule", spec.pre)
        pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    return tok


def tokenizer_config(spec: TokenizerSpec, context: int) -> dict[str, Any]:
    """What `transformers` and onnxruntime-genai read beside tokenizer.json."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": spec.token(spec.bos_id),
        "eos_token": spec.token(spec.eot_id if spec.eot_id is not None else spec.eos_id),
        "add_bos_token": spec.add_bos,
        "model_max_length": context,
        "chat_template": spec.chat_template,
        "clean_up_tokenization_spaces": False,
    }


def write_tokenizer(spec: TokenizerSpec, folder: Path, context: int) -> None:
    build_tokenizer(spec).save(str(folder / "tokenizer.json"))
    config = tokenizer_config(spec, context)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    if spec.chat_template:
        (folder / "chat_template.jinja").write_text(spec.chat_template, encoding="utf-8")


def _pair(merge: str) -> tuple[str, str]:
    left, _, right = merge.partition(" ")
    return left, right
