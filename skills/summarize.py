"""The `summarize` skill: at most three sentences about an episode or a text.

"Summarize this episode" works from the playing (or last played) episode's transcript or show
notes; "summarize the latest Interconnects episode" finds the podcast by name first.
`summarize_text` is also what `sottovoce summarize FILE` runs.

Two methods. `extractive` ranks the text's own sentences (content-word frequency, a bonus for
the opening) and keeps the best three in their order: it cannot invent anything. `model` asks the
language model, splitting long texts into chunks that fit its context, summarizing each, then
summarizing the summaries. Compared on real show notes (see the report of issue 5), SmolLM2-135M
invents names and facts, so `extractive` is the default; a larger model added by the user can be
chosen with `method="model"`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Final, Literal

from skills.answer import speakable, split_sentences
from skills.podcast import match_podcast, search_episodes
from skills.sdk import (
    BaseSkill,
    EpisodeInfo,
    Intent,
    LanguageModel,
    MediaController,
    SkillContext,
    sentence_files,
)

_LOGGER = logging.getLogger(__name__)

Method = Literal["extractive", "model"]
METHODS: Final = ("extractive", "model")
MAX_SENTENCES: Final = 3
SUMMARY_TOKENS: Final = 120
# Small models lose the thread in long inputs, and prefill time grows with the chunk.
CHUNK_TOKENS: Final = 1024
MAX_ROUNDS: Final = 3
SYSTEM: Final = "You write short, faithful summaries. Use only facts from the text."
PROMPT: Final = "Summarize this text in at most three sentences.\n\nText:\n{text}"

_THIS: Final = frozenset(
    {"", "it", "this", "that", "episode", "this episode", "that episode", "the episode",
     "this one", "current episode", "the current episode", "this podcast", "the podcast",
     "what's playing", "what is playing"}
)  # fmt: skip
_LATEST: Final = re.compile(r"\b(?:latest|last|newest|new|most recent|recent|episode|of|the)\b")
_WORD: Final = re.compile(r"[a-z0-9']+")
# Small models echo the prompt's labels ("Text: ...", "Summary: ...").
_LABEL: Final = re.compile(r"^\s*(?:text|summary|in summary)\s*[:,]\s*", re.IGNORECASE)
_STOPWORD_TEXT: Final = """
    a an the and or but if of to in on at by for with from as is are was were be been being it
    its this that these those he she they we you i me my our your their his her them us not no
    so than then there here what which who whom how when where why all any some more most other
    such only own same too very can will just do does did have has had about into over after
    before again also up down out off let's let we're it's that's
"""
_STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())


class SummarizeSkill(BaseSkill):
    name = "summarize"
    intents = frozenset({"summarize"})
    sentences = sentence_files(__package__, "summarize.yaml")

    def __init__(self, *, method: Method = "extractive") -> None:
        self.method = method

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        text = str(intent.slots.get("text") or "")
        title = ""
        if not text:
            found = _find_episode_text(str(intent.slots.get("target") or ""), ctx.media)
            if isinstance(found, str):
                await ctx.say(found)
                return
            title, text = found
        summary = await summarize_text(text, ctx.lm, method=self.method)
        if not summary:
            await ctx.say("There's nothing to summarize.")
            return
        for sentence in split_sentences(summary):
            await ctx.say(sentence)
        await ctx.display(f"{title}: {summary}" if title else summary)


def _find_episode_text(target: str, media: MediaController | None) -> tuple[str, str] | str:
    """(title, text) of the episode `target` names, or a sentence saying why there is none."""
    if media is None:
        return "I can summarize an episode once podcasts are set up."
    target = " ".join(_WORD.findall(target.lower()))
    episode: EpisodeInfo | None = None
    if target not in _THIS:
        name = " ".join(_LATEST.sub(" ", target).split())
        podcast = match_podcast(name, media.podcasts()) if name else None
        if podcast is not None:
            newest = media.episodes(podcast.id, limit=1)
            episode = newest[0] if newest else None
        else:
            episode = search_episodes(target, media.episodes())
        if episode is None:
            return f"I couldn't find an episode matching {target}."
    notes = media.show_notes(None if episode is None else episode.id)
    if notes is None:
        return "Nothing is playing, so I don't know which episode to summarize."
    text = notes.transcript or notes.description
    if not text.strip():
        return f"{notes.episode.title} has no show notes to summarize."
    return notes.episode.title, text


async def summarize_text(
    text: str, lm: LanguageModel | None = None, *, method: Method = "extractive"
) -> str:
    """At most three sentences. `model` falls back to `extractive` when there is no model."""
    text = " ".join(text.split())
    if not text:
        return ""
    if method == "model" and lm is not None:
        try:
            return await model_summary(text, lm)
        except Exception:  # the model is a plug-in; the extractive summary still works
            _LOGGER.exception("model summary failed; falling back to the extractive one")
    return extractive_summary(text)


def extractive_summary(text: str, max_sentences: int = MAX_SENTENCES) -> str:
    """The text's most central sentences, in their original order."""
    sentences = split_sentences(text)
    if len(sentences) <= max_sentences:
        return " ".join(sentences)
    tokens = [[w for w in _WORD.findall(s.lower()) if w not in _STOPWORDS] for s in sentences]
    frequency = Counter(w for words in tokens for w in set(words))
    scores = []
    for index, words in enumerate(tokens):
        if not words:
            scores.append(0.0)
            continue
        centrality = sum(frequency[w] for w in words) / (len(words) ** 0.5)
        opening = 1.5 if index == 0 else 1.0  # show notes lead with what matters
        scores.append(centrality * opening)
    best = sorted(range(len(sentences)), key=lambda i: -scores[i])[:max_sentences]
    return " ".join(sentences[i] for i in sorted(best))


async def model_summary(text: str, lm: LanguageModel) -> str:
    """Map-reduce over chunks that fit the context, then cut to three sentences."""
    overhead = lm.count_tokens(SYSTEM + PROMPT) + 32
    budget = max(64, min(CHUNK_TOKENS, lm.context_tokens - SUMMARY_TOKENS - overhead))
    chunks = _chunks(text, lm, budget)
    joined = ""
    for _ in range(MAX_ROUNDS):
        parts = [await _summarize_chunk(chunk, lm) for chunk in chunks]
        joined = " ".join(p for p in parts if p)
        if len(chunks) == 1 or not joined:
            break
        chunks = _chunks(joined, lm, budget)
    return " ".join(split_sentences(joined)[:MAX_SENTENCES])


async def _summarize_chunk(chunk: str, lm: LanguageModel) -> str:
    reply = await lm.complete(PROMPT.format(text=chunk), max_tokens=SUMMARY_TOKENS, system=SYSTEM)
    return _LABEL.sub("", speakable(reply))


def _chunks(text: str, lm: LanguageModel, budget: int) -> list[str]:
    """Whole sentences packed into pieces of at most `budget` tokens (a longer sentence is cut)."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in split_sentences(text):
        n = lm.count_tokens(sentence) + 1
        if n > budget:  # one enormous "sentence": cut it by characters, ~4 per token
            sentence, n = sentence[: budget * 4], budget
        if current and used + n > budget:
            chunks.append(" ".join(current))
            current, used = [], 0
        current.append(sentence)
        used += n
    if current:
        chunks.append(" ".join(current))
    return chunks
