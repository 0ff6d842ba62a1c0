"""`sottovoce bench lm`: the language model's figures on this machine.

Load time; prefill and decode tokens/s; time to first token for a ~20-token question with and
without the system prompt's cached KV; peak RSS of this process; and, when onnxruntime-genai is
installed, its decode speed on the same folder as a ratio.
"""

from __future__ import annotations

import logging
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from models.lm.assistant_lm import DEFAULT_SYSTEM_PROMPT
from models.lm.runtime import GenerationSettings, LocalLanguageModel, Message

_LOGGER = logging.getLogger(__name__)

QUESTION: Final = "What is the capital of France, and which river runs through the city?"
STORY: Final = "Write a long story about a lighthouse keeper and a storm."
LONG_PROMPT: Final = " ".join(["The quick brown fox jumps over the lazy dog."] * 25)


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e6 if sys.platform == "darwin" else rss / 1024


def run(
    folder: Path, *, tokens: int = 128, repeat: int = 3, threads: int = 0, spin: bool = True
) -> dict[str, Any]:
    started = time.perf_counter()
    lm = LocalLanguageModel.load(folder, threads=threads, spin=spin)
    load_s = time.perf_counter() - started
    system = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
    question = [system, {"role": "user", "content": QUESTION}]
    one = GenerationSettings(max_tokens=1)

    cold, warm = [], []
    for _ in range(repeat):
        lm.clear_cache()
        cold.append(lm.chat(question, one).first_token_s)
        warm.append(lm.chat(question, one).first_token_s)
    cached = lm.chat(question, one)

    long_ids = lm.encode(LONG_PROMPT)[: lm.context_length // 2]
    prefill = []
    for _ in range(repeat):
        lm.clear_cache()
        g = lm.generate(long_ids, GenerationSettings(max_tokens=1))
        prefill.append(g.prompt_tokens / g.prefill_s)

    story = [system, {"role": "user", "content": STORY}]
    decode = []
    for _ in range(repeat):
        g = lm.chat(story, GenerationSettings(max_tokens=tokens, ignore_eos=True))
        decode.append(g.decode_tokens_per_s)
    result: dict[str, Any] = {
        "model": str(folder),
        "threads_spin": spin,
        "load_s": round(load_s, 3),
        "prefill_tokens_per_s": round(statistics.median(prefill), 1),
        "prefill_prompt_tokens": len(long_ids),
        "decode_tokens_per_s": round(statistics.median(decode), 1),
        "decode_tokens": tokens,
        "question_tokens": cached.prompt_tokens - cached.cached_tokens,
        "ttft_cold_ms": round(1000 * statistics.median(cold), 1),
        "ttft_cached_system_ms": round(1000 * statistics.median(warm), 1),
        "cached_system_tokens": cached.cached_tokens,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    result.update(_versus_genai(lm, story, tokens=tokens, repeat=repeat))
    return result


def _versus_genai(
    lm: LocalLanguageModel, story: Sequence[Message], *, tokens: int, repeat: int
) -> dict[str, Any]:
    """Decode speed of onnxruntime-genai on the same folder, when that package is installed.

    Runs alternate with ours, so that load from other processes hits both alike; it comes
    after the peak-RSS reading, which would otherwise count the second copy of the model.
    """
    try:
        import onnxruntime_genai as og
    except ImportError:
        return {"genai": "not installed (pip install onnxruntime-genai)"}
    ids = lm.prompt_ids(lm.render(story))
    ours, theirs = [], []
    try:
        model = og.Model(str(lm.folder))
        for _ in range(repeat):
            ours.append(
                lm.chat(
                    story, GenerationSettings(max_tokens=tokens, ignore_eos=True)
                ).decode_tokens_per_s
            )
            params = og.GeneratorParams(model)
            params.set_search_options(max_length=len(ids) + tokens, do_sample=False)
            generator = og.Generator(model, params)
            generator.append_tokens(ids)
            generator.generate_next_token()
            started = time.perf_counter()
            n = 0
            while not generator.is_done() and n < tokens - 1:
                generator.generate_next_token()
                n += 1
            theirs.append(n / (time.perf_counter() - started))
    except Exception as err:  # a third-party runtime: report, don't fail the benchmark
        _LOGGER.warning("onnxruntime-genai failed: %s", err)
        return {"genai": f"failed: {err}"}
    mine, peer = statistics.median(ours), statistics.median(theirs)
    return {
        "genai_decode_tokens_per_s": round(peer, 1),
        "decode_ratio_vs_genai": round(mine / peer, 2),
    }
