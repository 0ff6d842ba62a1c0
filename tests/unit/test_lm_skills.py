"""The answer and summarize skills with a scripted language model and a fake context."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skills.answer import FAILED, NO_MODEL, AnswerSkill, sentence_end, split_sentences
from skills.sdk import EpisodeInfo, Intent, PodcastInfo, ShowNotes
from skills.summarize import SummarizeSkill, extractive_summary, model_summary, summarize_text
from tests.unit.fakes import FakeMedia
from tests.unit.fakes import FakeSkillContext as FakeCtx


@dataclass
class ScriptedLm:
    """Streams `reply` in small pieces; records whether the consumer closed the stream early."""

    reply: str
    closed_early: bool = False
    prompts: list[str] = field(default_factory=list)
    context_tokens: int = 200

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def complete(
        self, prompt: str, *, max_tokens: int = 128, system: str | None = None
    ) -> str:
        return "".join([p async for p in self.stream(prompt, max_tokens=max_tokens)])

    async def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 128,
        system: str | None = None,
        stop: Sequence[str] = (),
    ) -> AsyncGenerator[str, None]:
        self.prompts.append(prompt)
        sent = 0
        try:
            for i in range(0, len(self.reply), 3):
                yield self.reply[i : i + 3]
                sent = i + 3
        finally:
            self.closed_early = sent < len(self.reply)


async def test_answer_speaks_two_sentences_then_stops_the_model() -> None:
    lm = ScriptedLm(
        "Paris is the capital of France. It lies on the Seine. It has **many** museums."
    )
    ctx = FakeCtx(lm=lm)
    await AnswerSkill().handle(Intent("answer", {"query": "capital of france"}), ctx)  # type: ignore[arg-type]

    assert ctx.said == ["Paris is the capital of France.", "It lies on the Seine."]
    assert lm.closed_early
    assert ctx.shown == ["Paris is the capital of France. It lies on the Seine."]


async def test_answer_without_a_model_or_sentence_end() -> None:
    ctx = FakeCtx()
    await AnswerSkill().handle(Intent("answer", {"query": "hi"}), ctx)  # type: ignore[arg-type]
    assert ctx.said == [NO_MODEL]
    ctx = FakeCtx(lm=ScriptedLm("Hello there"))
    await AnswerSkill().handle(Intent("answer", {"query": "hi"}), ctx)  # type: ignore[arg-type]
    assert ctx.said == ["Hello there"]


async def test_answer_says_so_when_the_model_fails() -> None:
    class Broken(ScriptedLm):
        async def stream(self, prompt: str, **kw: Any) -> AsyncGenerator[str, None]:
            yield "Half a sentence"
            raise RuntimeError("onnxruntime fell over")

    ctx = FakeCtx(lm=Broken(""))
    await AnswerSkill().handle(Intent("answer", {"query": "hi"}), ctx)  # type: ignore[arg-type]
    assert ctx.said == [FAILED]


def test_sentences_skip_abbreviations_and_decimals() -> None:
    assert sentence_end("Dr. Who is 3.5 m tall. Yes") == len("Dr. Who is 3.5 m tall.")
    assert sentence_end("No end yet") is None
    assert split_sentences("One. Two! Three? Four") == ["One.", "Two!", "Three?", "Four"]


NOTES = (
    "This week we talk about Borderlands 3 and Apple Arcade. Jeff played Borderlands 3 all "
    "weekend. The weather was nice. Apple Arcade has a lot of games, and Borderlands 3 is not "
    "one of them. We also read your emails. Dan ate a sandwich."
)


def test_extractive_keeps_three_central_sentences_in_order() -> None:
    summary = split_sentences(extractive_summary(NOTES))
    assert len(summary) == 3
    assert summary[0].startswith("This week")
    assert "The weather was nice." not in summary
    assert extractive_summary("Short. Text.") == "Short. Text."


async def test_model_summary_splits_long_texts_to_fit_the_context() -> None:
    lm = ScriptedLm("A summary. Of things. Here. And more.", context_tokens=220)
    summary = await model_summary(" ".join([NOTES] * 8), lm)

    assert len(lm.prompts) > 2  # chunks, then the summary of the summaries
    assert all(lm.count_tokens(p) <= 220 for p in lm.prompts)
    assert summary == "A summary. Of things. Here."
    assert await summarize_text(NOTES, None, method="model") == extractive_summary(NOTES)


async def test_summarize_this_episode_and_a_named_podcast() -> None:
    episode = EpisodeInfo(id=1, podcast="Giant Bombcast", title="Ep 600")
    media = FakeMedia(
        shows=[PodcastInfo(id=3, title="Giant Bombcast")],
        by_podcast={3: [episode]},
        notes={1: ShowNotes(episode=episode, description=NOTES)},
    )
    ctx = FakeCtx(media=media)
    await SummarizeSkill().handle(Intent("summarize", {"target": "this episode"}), ctx)  # type: ignore[arg-type]
    assert len(ctx.said) == 3 and ctx.shown[0].startswith("Ep 600: This week")

    ctx = FakeCtx(media=media)
    intent = Intent("summarize", {"target": "the latest giant bombcast episode"})
    await SummarizeSkill().handle(intent, ctx)  # type: ignore[arg-type]
    assert len(ctx.said) == 3

    ctx = FakeCtx()
    await SummarizeSkill().handle(Intent("summarize", {}), ctx)  # type: ignore[arg-type]
    assert "podcasts are set up" in ctx.said[0]


@pytest.mark.parametrize("target", ["episode", "this one", "what's playing"])
async def test_summarize_what_is_playing_however_it_is_named(target: str) -> None:
    episode = EpisodeInfo(id=1, podcast="Giant Bombcast", title="Ep 600")
    ctx = FakeCtx(media=FakeMedia(notes={1: ShowNotes(episode=episode, description=NOTES)}))
    await SummarizeSkill().handle(Intent("summarize", {"target": target}), ctx)  # type: ignore[arg-type]
    assert ctx.shown[0].startswith("Ep 600: ")

    ctx = FakeCtx(media=FakeMedia())  # nothing playing
    await SummarizeSkill().handle(Intent("summarize", {"target": target}), ctx)  # type: ignore[arg-type]
    assert ctx.said == ["Nothing is playing, so I don't know which episode to summarize."]


async def test_the_host_rehearses_only_the_answer_skill(tmp_path: Path) -> None:
    from assistant.scheduler import SystemClock
    from assistant.skill_host import SkillHost
    from assistant.store import Store
    from skills import load_skills
    from skills.intents import IntentRecognizer

    said: list[str] = []

    async def say(text: str) -> None:
        said.append(text)

    async def ask(question: str) -> str | None:
        return None

    store = Store.open(tmp_path)
    host = SkillHost(
        load_skills(strict=True),
        IntentRecognizer.load(),
        store,
        SystemClock(),
        say=say,
        ask=ask,
        lm=ScriptedLm("Paris is the capital of France. It is big. More."),
    )
    out: list[tuple[str, str]] = []

    async def collect(kind: str, text: str) -> None:
        out.append((kind, text))

    answer = host.recognize("what is the capital of france")
    assert await host.rehearse(answer, collect)
    assert out == [
        ("say", "Paris is the capital of France."),
        ("say", "It is big."),
        ("display", "Paris is the capital of France. It is big."),
    ]
    assert said == []  # nothing reached the speaker ahead of time
    reminder = host.recognize("remind me in ten minutes to call mom")
    assert not await host.rehearse(reminder, collect)  # side effects: never ahead of time
    assert store.jobs() == []
    store.close()
