"""The semantic fallback: an utterance no template matched, scored against example sentences.

Every intent gets example sentences: random expansions of its hassil templates (wildcard slots
filled with a few plausible values) plus any `examples:` a sentence file lists for it. An
embedder (a sentence-embedding model, injected: skills never import models) turns them into
unit vectors once, at load. At run time the utterance is embedded once and compared with every
example (one matrix product); an intent's score is its best example's cosine similarity.

The examples listed for `answer` (questions, chit-chat, requests no skill serves) are
negatives: when one of them is the closest, the utterance goes to the language model whatever
the score. Otherwise the best intent wins if its score reaches `threshold` and leads the best
other intent by at least `margin`; the defaults were calibrated on sentences written for that
purpose and on part of the SLURP dev set (README, "Semantic fallback").
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
from hassil import Intents
from hassil.expression import (
    Alternative,
    Expression,
    Group,
    ListReference,
    Permutation,
    RuleReference,
    Sentence,
    TextChunk,
)
from hassil.intents import RangeSlotList, SlotList, TextSlotList
from numpy.typing import NDArray

ANSWER: Final = "answer"
THRESHOLD: Final = 0.70
MARGIN: Final = 0.03
SAMPLES_PER_TEMPLATE: Final = 3
_RECENT: Final = 32  # utterances whose vectors are kept

# Values for wildcard slots when templates are expanded into examples. Slots not named here
# get a neutral "something".
SLOT_SAMPLES: Final[Mapping[str, tuple[str, ...]]] = {
    "body": ("call mom at five", "take the bins out tomorrow", "water the plants tonight",
             "pay rent on friday", "buy milk in an hour", "the dentist next tuesday at 3 pm"),
    "body2": ("buy milk", "call the bank", "stretch"),
    "when": ("7 am", "6:30 tomorrow", "noon", "8 every weekday", "ten minutes"),
    "label": ("work", "gym"),
    "duration": ("ten minutes", "20 minutes", "an hour", "90 seconds", "five minutes"),
    "name": ("pasta", "laundry", "tea"),
    "what": ("dentist", "meeting", "gym"),
    "any": ("", "today", "tomorrow", "this week", "for friday"),
    "rest": ("",),
    "place": ("tokyo", "london", "new york"),
    "offset": ("three hours", "two weeks"),
    "date": ("christmas", "march 7", "new year's day"),
    "podcast": ("the daily", "radiolab", "hard fork"),
    "episode": ("space travel", "the election"),
    "target": ("this episode", "the podcast", "it"),
    "level": ("3", "five", "50 percent"),
    "amount": ("30 seconds", "a minute", "ten seconds"),
}  # fmt: skip


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised vectors, one row per text."""

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class Match:
    """The closest intent to an utterance; `accepted` says whether it clears the bar."""

    intent: str  # `answer` when a negative example is closest
    score: float  # cosine similarity of the closest example of `intent`
    runner_up: str
    runner_up_score: float
    example: str  # the closest example
    accepted: bool


class SemanticMatcher:
    """Nearest example sentences, by intent. Build once; `match` is pure."""

    def __init__(
        self,
        embedder: Embedder,
        examples: Mapping[str, Sequence[str]],
        *,
        threshold: float = THRESHOLD,
        margin: float = MARGIN,
    ) -> None:
        texts: list[str] = []
        owners: list[str] = []
        for intent, sentences in sorted(examples.items()):
            for sentence in dict.fromkeys(s.strip() for s in sentences if s.strip()):
                texts.append(sentence)
                owners.append(intent)
        self._embedder = embedder
        self._texts = texts
        self._intents = sorted(set(owners))
        index = {name: i for i, name in enumerate(self._intents)}
        self._owner = np.array([index[o] for o in owners], dtype=np.int64)
        self._rows = [np.flatnonzero(self._owner == i) for i in range(len(self._intents))]
        self._starts = np.array([int(r[0]) for r in self._rows], dtype=np.int64)
        self._matrix = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self.threshold = threshold
        self.margin = margin
        self._recent: dict[str, NDArray[np.float32]] = {}  # text -> vector, oldest first

    @property
    def size(self) -> int:
        return len(self._texts)

    @property
    def examples(self) -> dict[str, list[str]]:
        """The example sentences, by intent."""
        out: dict[str, list[str]] = {}
        for text, owner in zip(self._texts, self._owner, strict=True):
            out.setdefault(self._intents[int(owner)], []).append(text)
        return out

    def scores(self, text: str) -> dict[str, tuple[float, str]]:
        """Each intent's best cosine similarity to `text`, with the example that gave it."""
        if not self._texts:
            return {}
        sims = self._similarities(text)
        out: dict[str, tuple[float, str]] = {}
        for name, rows in zip(self._intents, self._rows, strict=True):
            top = int(rows[int(np.argmax(sims[rows]))])
            out[name] = (float(sims[top]), self._texts[top])
        return out

    def match(self, text: str) -> Match | None:
        """The closest intent, or None when there are no examples."""
        if not self._texts:
            return None
        sims = self._similarities(text)
        # Examples are stored intent by intent: one max per contiguous block.
        best = np.maximum.reduceat(sims, self._starts)
        order = np.argsort(-best, kind="stable")
        first = int(order[0])
        start = int(self._starts[first])
        top = start + int(np.argmax(sims[start : start + len(self._rows[first])]))
        name, score = self._intents[first], float(best[first])
        # The margin is kept against other skills; an `answer` runner-up is measured too.
        second, second_score = ("", -1.0)
        if len(order) > 1:
            second, second_score = self._intents[int(order[1])], float(best[int(order[1])])
        accepted = (
            name != ANSWER and score >= self.threshold and score - second_score >= self.margin
        )
        return Match(name, score, second, second_score, self._texts[top], accepted)

    def _similarities(self, text: str) -> NDArray[np.float32]:
        # The pipeline recognizes the speculative transcript and then, most often, the same
        # final one: the second costs no embedding.
        vector = self._recent.pop(text, None)
        if vector is None:
            vector = self._embedder.embed([text])[0]
        self._recent[text] = vector
        while len(self._recent) > _RECENT:
            self._recent.pop(next(iter(self._recent)))
        sims: NDArray[np.float32] = self._matrix @ vector
        return sims


# --- examples from templates ----------------------------------------------------------------


def sample_examples(
    intents: Intents,
    *,
    per_template: int = SAMPLES_PER_TEMPLATE,
    seed: int = 0,
    slot_samples: Mapping[str, Sequence[str]] = SLOT_SAMPLES,
) -> dict[str, list[str]]:
    """Up to `per_template` distinct random expansions of every template, by intent.

    Deterministic for a given seed, so the embedded matrix can be cached.
    """
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for name, intent in intents.intents.items():
        seen: dict[str, None] = {}
        for data in intent.data:
            rules = {**intents.expansion_rules, **data.expansion_rules}
            lists = {**intents.slot_lists, **data.slot_lists}
            for sentence in data.sentences:
                drawn: set[str] = set()
                for _ in range(per_template * 3):
                    text = _expand(sentence.expression, rng, rules, lists, slot_samples)
                    text = re.sub(r"\s+", " ", text).strip()
                    if text:
                        drawn.add(text)
                    if len(drawn) >= per_template:
                        break
                seen.update(dict.fromkeys(sorted(drawn)))
        out[name] = list(seen)
    return out


def _expand(
    expr: Expression,
    rng: random.Random,
    rules: Mapping[str, Sentence],
    lists: Mapping[str, SlotList],
    slot_samples: Mapping[str, Sequence[str]],
) -> str:
    if isinstance(expr, TextChunk):
        return expr.original_text or expr.text
    if isinstance(expr, Alternative):
        items = expr.items
        # An optional part is left out half the time, whatever its number of choices.
        if expr.is_optional and rng.random() < 0.5:
            return " "
        choices = [i for i in items if not (isinstance(i, TextChunk) and not i.text.strip())]
        return _expand(rng.choice(choices or items), rng, rules, lists, slot_samples)
    if isinstance(expr, Permutation):
        items = list(expr.items)
        rng.shuffle(items)
        return " ".join(_expand(i, rng, rules, lists, slot_samples) for i in items)
    if isinstance(expr, Group):
        return "".join(_expand(i, rng, rules, lists, slot_samples) for i in expr.items)
    if isinstance(expr, RuleReference):
        rule = rules.get(expr.rule_name)
        return _expand(rule.expression, rng, rules, lists, slot_samples) if rule else " "
    if isinstance(expr, ListReference):
        return _list_value(expr, rng, rules, lists, slot_samples)
    return " "


def _list_value(
    ref: ListReference,
    rng: random.Random,
    rules: Mapping[str, Sentence],
    lists: Mapping[str, SlotList],
    slot_samples: Mapping[str, Sequence[str]],
) -> str:
    slot_list = lists.get(ref.list_name)
    if isinstance(slot_list, TextSlotList) and slot_list.values:
        value = rng.choice(slot_list.values)
        return _expand(value.text_in, rng, rules, lists, slot_samples)
    if isinstance(slot_list, RangeSlotList):
        return str(rng.randrange(slot_list.start, slot_list.stop + 1, slot_list.step))
    values = slot_samples.get(ref.slot_name) or slot_samples.get(ref.list_name) or ("something",)
    return f" {rng.choice(values)} "


def merge_examples(*sources: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for source in sources:
        for name, sentences in source.items():
            out.setdefault(name, []).extend(sentences)
    return out
