"""The `answer` skill: every utterance no other skill matched goes to the language model.

The reply is short (two sentences by default) and spoken sentence by sentence while the rest is
still being generated; once enough sentences are out the stream is closed, which stops the
model within one token. Barge-in cancels this skill's task, which closes the stream the same way.
"""

from __future__ import annotations

import logging
import re
from contextlib import aclosing
from typing import Final

from skills.sdk import BaseSkill, Intent, SkillContext, sentence_files

_LOGGER = logging.getLogger(__name__)

# Spoken; the fix (`sottovoce models prepare`) goes to the log, not to the listener.
NO_MODEL: Final = "Sorry, I can't answer that yet."
NO_QUERY: Final = "Sorry, I didn't catch the question."
NO_REPLY: Final = "Sorry, I have no answer to that."
FAILED: Final = "Sorry, something went wrong while I was thinking about that."

_ABBREVIATIONS: Final = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "no", "jr", "sr", "prof", "inc"}
)
# A sentence ends at . ! or ? (with closing quotes or brackets) followed by white space.
_END: Final = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_MARKUP: Final = re.compile(r"[*_#`]+")


def sentence_end(text: str) -> int | None:
    """Index just past the first complete sentence in `text`, or None if there is none yet."""
    for match in _END.finditer(text):
        words = text[: match.start()].split()
        last = words[-1].lower().rstrip(".") if words else ""
        if match.group().startswith(".") and (last in _ABBREVIATIONS or len(last) == 1):
            continue
        return match.end()
    return None


def split_sentences(text: str) -> list[str]:
    sentences = []
    rest = text.strip() + " "
    while (cut := sentence_end(rest)) is not None:
        sentence, rest = rest[:cut].strip(), rest[cut:]
        if sentence:
            sentences.append(sentence)
    if rest.strip():
        sentences.append(rest.strip())
    return sentences


def speakable(text: str) -> str:
    """Model output without markdown, on one line."""
    return " ".join(_MARKUP.sub("", text).split())


class AnswerSkill(BaseSkill):
    name = "answer"
    intents = frozenset({"answer"})
    sentences = sentence_files(__package__, "out_of_scope.yaml")

    def __init__(self, *, max_sentences: int = 2, max_tokens: int = 96) -> None:
        self.max_sentences = max_sentences
        self.max_tokens = max_tokens

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        query = str(intent.slots.get("query", "")).strip()
        if not query:
            await ctx.say(NO_QUERY)
            return
        lm = ctx.lm
        if lm is None:
            _LOGGER.warning("no language model loaded; run `sottovoce models prepare`")
            await ctx.say(NO_MODEL)
            return
        spoken: list[str] = []
        buffer = ""
        try:
            async with aclosing(lm.stream(query, max_tokens=self.max_tokens)) as pieces:
                async for piece in pieces:
                    buffer += piece
                    while len(spoken) < self.max_sentences and (cut := sentence_end(buffer)):
                        sentence, buffer = speakable(buffer[:cut]), buffer[cut:]
                        if sentence:
                            spoken.append(sentence)
                            await ctx.say(sentence)
                    if len(spoken) >= self.max_sentences:
                        break
        except Exception:  # the model is a plug-in: whatever it raises, the user hears why
            _LOGGER.exception("the language model failed on %r", query)
            await ctx.say(FAILED)
            return
        rest = speakable(buffer)
        if rest and len(spoken) < self.max_sentences:
            spoken.append(rest)
            await ctx.say(rest)
        if not spoken:
            await ctx.say(NO_REPLY)
            return
        await ctx.display(" ".join(spoken))
