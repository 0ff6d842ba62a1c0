"""Generation on a tiny converted model: budgets, stop strings, streaming, cancel, prompt cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.lm import (
    AssistantLanguageModel,
    GenerationSettings,
    LocalLanguageModel,
    PromptTooLongError,
    convert,
    fit_to_context,
)
from models.lm.sampling import Sampler
from models.lm.text import StopFilter
from tests.unit.lm_tiny import write_tiny_gguf

SYSTEM = {"role": "system", "content": "You are terse."}
USER = {"role": "user", "content": "the hen"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lm")
    out = root / "tiny"
    convert(write_tiny_gguf(root / "tiny.gguf", context=96), out, precision="fp32", verify=False)
    return out


@pytest.fixture
def lm(folder: Path) -> Iterator[LocalLanguageModel]:
    yield LocalLanguageModel.load(folder, threads=1)


def greedy(n: int, **kw: object) -> GenerationSettings:
    return GenerationSettings(max_tokens=n, ignore_eos=True, **kw)  # type: ignore[arg-type]


def test_greedy_is_deterministic_and_streams_what_it_returns(lm: LocalLanguageModel) -> None:
    pieces: list[str] = []
    first = lm.chat([SYSTEM, USER], greedy(12), on_token=pieces.append)
    second = lm.chat([SYSTEM, USER], greedy(12))

    assert first.text == second.text
    assert "".join(pieces) == first.text
    assert first.new_tokens == 12 and first.finish == "length"


def test_sampling_with_a_seed_repeats(lm: LocalLanguageModel) -> None:
    settings = greedy(10, temperature=1.0, top_p=0.9, seed=7)
    assert lm.chat([USER], settings).text == lm.chat([USER], settings).text


def test_stop_string_ends_the_text_before_it(lm: LocalLanguageModel) -> None:
    full = lm.chat([USER], greedy(30)).text
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    pieces: list[str] = []
    result = lm.chat([USER], greedy(30, stop=(stop,)), on_token=pieces.append)

    assert result.finish == "stop"
    assert result.text == full[: full.index(stop)]
    assert "".join(pieces) == result.text


def test_time_budget(lm: LocalLanguageModel) -> None:
    result = lm.chat([USER], greedy(50, time_budget_s=0.0))
    assert result.finish == "time" and result.new_tokens == 1


def test_cancel_stops_within_one_token(lm: LocalLanguageModel) -> None:
    seen: list[str] = []
    result = lm.chat([USER], greedy(50), on_token=seen.append, cancel=lambda: len(seen) >= 3)
    assert result.finish == "cancelled"
    assert len(seen) == 3
    before_prefill = lm.chat([USER], greedy(50), cancel=lambda: True)
    assert before_prefill.finish == "cancelled" and before_prefill.new_tokens == 0


def test_system_prompt_cache_is_reused_and_changes_nothing(lm: LocalLanguageModel) -> None:
    cold = lm.chat([SYSTEM, USER], greedy(8))
    warm = lm.chat([SYSTEM, {"role": "user", "content": "in the"}], greedy(8))
    again = lm.chat([SYSTEM, USER], greedy(8))
    lm.clear_cache()

    assert cold.cached_tokens == 0
    system_tokens = len(lm.encode(lm.render([SYSTEM], add_generation_prompt=False)))
    assert warm.cached_tokens == system_tokens == again.cached_tokens
    assert again.text == cold.text


def copy_mode_folder(folder: Path, tmp_path: Path) -> Path:
    """The same model, its genai_config saying the past is not shared with the present."""
    import json
    import shutil

    other = tmp_path / "copy-mode"
    shutil.copytree(folder, other)
    config = json.loads((other / "genai_config.json").read_text())
    assert config["search"]["past_present_share_buffer"] is True  # what the converter writes
    config["search"]["past_present_share_buffer"] = False
    (other / "genai_config.json").write_text(json.dumps(config))
    return other


def test_shared_and_copied_caches_give_the_same_logits(folder: Path, tmp_path: Path) -> None:
    from models.lm.decoder import OnnxDecoder

    shared = OnnxDecoder.load(folder, threads=1)
    copied = OnnxDecoder.load(copy_mode_folder(folder, tmp_path), threads=1)
    assert shared.spec.share_buffer and not copied.spec.share_buffer
    ids = list(range(5, 45))
    a, b = shared.empty_cache(4), copied.empty_cache()  # 4: the shared cache must grow
    for chunk in (ids[:7], ids[7:30], ids[30:31], ids[31:]):
        la, a = shared.run(chunk, a)
        lb, b = copied.run(chunk, b)
        assert np.allclose(la, lb, atol=1e-5)
    assert a.length == b.length == len(ids) and a.capacity >= len(ids)
    # A snapshot is a copy: running on from the original leaves it as it was.
    kept = shared.snapshot(a)
    after, _ = shared.run([3], shared.resume(kept, 64))
    shared.run([9, 9, 9], a)
    again, _ = shared.run([3], shared.resume(kept, 64))
    assert np.array_equal(after, again)
    assert np.allclose(after, copied.run([3], b)[0], atol=1e-5)


def test_generation_is_the_same_in_both_cache_modes(folder: Path, tmp_path: Path) -> None:
    copied = LocalLanguageModel.load(copy_mode_folder(folder, tmp_path), threads=1)
    shared = LocalLanguageModel.load(folder, threads=1)
    for _ in range(2):  # the second time from the cached system prompt
        assert shared.chat([SYSTEM, USER], greedy(10)).text == (
            copied.chat([SYSTEM, USER], greedy(10)).text
        )


def test_prompt_longer_than_the_context_drops_the_oldest_tokens(lm: LocalLanguageModel) -> None:
    long_user = {"role": "user", "content": "the hen " * 200}
    result = lm.chat([SYSTEM, long_user], greedy(16))

    assert result.dropped_tokens > 0
    assert result.prompt_tokens == lm.context_length - 16
    with pytest.raises(PromptTooLongError, match="system prompt alone"):
        lm.chat([{"role": "system", "content": "the " * 200}, USER], greedy(16))


def test_fit_to_context_keeps_the_head_and_the_newest() -> None:
    assert fit_to_context([1, 2, 3], 1, 5) == ([1, 2, 3], 0)
    assert fit_to_context(list(range(10)), 2, 5) == ([0, 1, 7, 8, 9], 5)
    with pytest.raises(PromptTooLongError):
        fit_to_context(list(range(10)), 5, 5)


class _CharTokenizer:
    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(chr(i) for i in ids)


def test_stop_filter_holds_back_a_possible_stop_string() -> None:
    f = StopFilter(_CharTokenizer(), ["\nUser:"])
    out = [f.push(ord(c)) for c in "Hi\nUs"]
    assert "".join(p for p, _ in out) == "Hi"
    piece, stopped = f.push(ord("e"))
    assert (piece, stopped) == ("", False)
    assert f.push(ord("r")) == ("", False)
    assert f.push(ord(":")) == ("", True)
    assert f.text == "Hi"


def test_sampler_top_p_small_is_greedy() -> None:
    import numpy as np

    logits = np.array([0.0, 5.0, 1.0], dtype=np.float32)
    assert Sampler(1.0, 1e-6, seed=1)(logits) == 1
    assert Sampler()(logits) == 1


async def test_async_stream_cancels_when_the_consumer_leaves(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LocalLanguageModel.load(folder, threads=1)
    run = model.decoder.run

    def slow_run(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.005)  # a token of a real model, so the race is not won by accident
        return run(*args, **kwargs)

    monkeypatch.setattr(model.decoder, "run", slow_run)
    lm = AssistantLanguageModel(model, system_prompt="Be terse.")
    lm.settings = GenerationSettings(ignore_eos=True)
    try:
        async with aclosing(lm.stream("the hen", max_tokens=60)) as pieces:
            async for _piece in pieces:
                break
        for _ in range(200):
            if lm.last is not None:
                break
            await asyncio.sleep(0.01)
        assert lm.last is not None
        assert lm.last.finish == "cancelled"
        assert lm.last.new_tokens <= 3

        text = await lm.complete("the hen", max_tokens=5)
        assert lm.last.finish == "length" and text == lm.last.text.strip()
        assert lm.count_tokens("the hen") > 0 and lm.context_tokens == 96
    finally:
        lm.close()
