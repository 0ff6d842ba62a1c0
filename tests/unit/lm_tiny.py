"""A tiny random llama-family GGUF written with the `gguf` writer, for fast converter tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np

CHATML: Final = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
ZEPHYR: Final = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + "
    "eos_token + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
SPECIALS: Final = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MERGES: Final = ("Ġ t", "h e", "i n", "Ġt he", "a n")


def vocabulary() -> list[str]:
    from tokenizers import pre_tokenizers

    byte_chars = sorted(pre_tokenizers.ByteLevel.alphabet())
    merged = [m.replace(" ", "") for m in MERGES]
    return [*SPECIALS, *byte_chars, *merged]


SPM_PIECES: Final = (
    ("▁", -1.0),
    ("t", -2.0),
    ("h", -2.0),
    ("e", -2.0),
    ("l", -2.0),
    ("o", -2.0),
    ("n", -2.0),
    ("he", -3.0),
    ("▁t", -3.5),
    ("▁the", -4.0),
    ("ll", -5.0),
    ("▁he", -6.0),
    ("▁hell", -7.0),
    ("▁hello", -8.0),
    ("<|user|>", 0.0),
    ("<|assistant|>", 0.0),
)


def spm_vocabulary() -> tuple[list[str], list[int], list[float]]:
    """A SentencePiece ("llama") vocabulary: unk, bos, eos, 256 byte pieces, some merges."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0] * len(tokens)
    for piece, score in SPM_PIECES:
        tokens.append(piece)
        types.append(4 if piece.startswith("<|") else 1)
        scores.append(score)
    return tokens, types, scores


def write_tiny_gguf(
    path: Path,
    *,
    arch: str = "llama",
    seed: int = 0,
    layers: int = 2,
    embd: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    ff: int = 96,
    context: int = 256,
    quantized: bool = True,
    tokenizer: str = "gpt2",
) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    tokens = vocabulary() if tokenizer == "gpt2" else spm_vocabulary()[0]
    vocab = len(tokens)
    head_dim = embd // heads

    def rand(*shape: int, scale: float = 0.2) -> Any:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny-{arch}")
    w.add_block_count(layers)
    w.add_context_length(context)
    w.add_embedding_length(embd)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_freq_base(10_000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(head_dim)
    if tokenizer == "gpt2":
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("smollm")
        w.add_token_list(tokens)
        w.add_token_types([3] * len(SPECIALS) + [1] * (vocab - len(SPECIALS)))
        w.add_token_merges(list(MERGES))
        w.add_add_bos_token(False)
        w.add_chat_template(CHATML)
    else:
        _, types, scores = spm_vocabulary()
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_scores(scores)
        w.add_add_bos_token(True)
        w.add_chat_template(ZEPHYR)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def add(name: str, array: Any, q8: bool = False) -> None:
        if q8 and quantized:
            data = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(name, data, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, array)

    add("token_embd.weight", rand(vocab, embd, scale=1.0), q8=True)
    add("output_norm.weight", 1.0 + rand(embd, scale=0.1))
    for i in range(layers):
        p = f"blk.{i}"
        add(f"{p}.attn_norm.weight", 1.0 + rand(embd, scale=0.1))
        add(f"{p}.attn_q.weight", rand(heads * head_dim, embd), q8=True)
        add(f"{p}.attn_k.weight", rand(kv_heads * head_dim, embd))
        add(f"{p}.attn_v.weight", rand(kv_heads * head_dim, embd))
        if arch == "qwen2":
            add(f"{p}.attn_q.bias", rand(heads * head_dim))
            add(f"{p}.attn_k.bias", rand(kv_heads * head_dim))
            add(f"{p}.attn_v.bias", rand(kv_heads * head_dim))
        add(f"{p}.attn_output.weight", rand(embd, heads * head_dim))
        add(f"{p}.ffn_norm.weight", 1.0 + rand(embd, scale=0.1))
        add(f"{p}.ffn_gate.weight", rand(ff, embd), q8=True)
        add(f"{p}.ffn_up.weight", rand(ff, embd))
        add(f"{p}.ffn_down.weight", rand(embd, ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
