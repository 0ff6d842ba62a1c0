"""Transcript -> `Intent`: hassil over the skills' sentence files, with a keyword fallback.

The sentence files are those every loaded skill names (`Skill.sentences`, built-in or installed)
and the shared ones, merged by `skills.sentences`; the owning skill's `shape_slots` has the last
word on an intent's slots.

Three passes, cheapest and surest first:
1. clean the text the way recognizers write it (case, punctuation, fillers, wake-word leftovers)
   and match it against the sentence templates with hassil; a match whose wildcard cannot hold
   what the intent needs is passed over (`_acceptable`: "end the timer" is no timer named
   "end the"), and templates for commands no skill serves ("play chess with me", "add milk to
   the list", skills/out_of_scope.yaml) match as `answer`;
2. if nothing matched, correct near-miss words against the templates' vocabulary (one edit) and
   match again;
3. if still nothing, score cue words ("alarm" + "delete", "calendar" + "what") for the
   reminder, alarm, volume and podcast families, which people phrase in endless ways; a guard
   keeps weather, stock, currency and trivia questions, and services no skill offers (travel,
   mail, shopping lists, the home's devices, what is on in town), out, so they reach the
   language model.
Anything left is `Intent("answer", {"query": text})`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from hassil import Intents, recognize_all
from hassil.recognize import RecognizeResult

from skills import semantic as semantic_mod
from skills import sentences as sentences_mod
from skills.sdk import Intent, SentenceError, Skill, load_skills, timeexpr
from skills.semantic import Embedder, Match, SemanticMatcher

_LOGGER = logging.getLogger(__name__)

ANSWER: Final = "answer"

_WAKE_WORDS: Final = (
    "jarvis", "alexa", "mycroft", "nabu", "rhasspy", "siri", "google", "olly", "ollie", "computer",
    "assistant", "sottovoce", "cortana", "bixby",
)  # fmt: skip
_WAKE_RE: Final = re.compile(
    rf"^(?:(?:hey|hi|hello|ok|okay|yo|oh)\s+)*(?:{'|'.join(_WAKE_WORDS)})\b\s*"
    r"|^(?:hey|ok|okay)\b\s*"
)
_FILLERS: Final = frozenset(
    {"um", "umm", "uh", "uhh", "uhm", "erm", "er", "hmm", "hm", "ah", "mm", "please", "pls",
     "plz", "kindly"}
)  # fmt: skip
_CONTRACTIONS: Final = {
    "whats": "what's", "dont": "don't", "cant": "can't", "im": "i'm", "didnt": "didn't",
    "doesnt": "doesn't", "isnt": "isn't", "thats": "that's", "whens": "when's",
    "wheres": "where's", "youre": "you're", "todays": "today's", "lets": "let's",
}  # fmt: skip
_LEAD_INS: Final = re.compile(
    r"^(?:(?:can|could|would|will|won't)\s+(?:you|u)\s+(?:please\s+)?(?:go\s+ahead\s+and\s+)?"
    r"|(?:i\s+(?:want|need|would\s+like|'d\s+like)\s+you\s+to)\s+"
    r"|(?:would\s+you\s+mind)\s+|go\s+ahead\s+and\s+|just\s+|quickly\s+|now\s+|so\s+|well\s+)+"
)
# Words recognizers write in two pieces.
_SPLIT_WORDS: Final = re.compile(r"\b(?:up coming|to morrow|un mute|un pause|re schedule)\b")
_TRAILERS: Final = re.compile(r"(?:\s+(?:for\s+me|thanks|thank\s+you|now\s+please|right\s+away))+$")


def clean(text: str) -> str:
    """Recognizer output -> the words templates are written in."""
    s = text.lower().replace("’", "'").replace("‘", "'")
    s = re.sub(r"\b([ap])\.\s?m\.", r"\1m", s)
    s = s.replace("%", " percent ")
    s = re.sub(r"(?<!\d):|:(?!\d)", " ", s)
    s = re.sub(r"[^\w\s':.-]|(?<!\d)\.|\.(?!\d)|(?<![a-z])-|-(?![a-z\d])|(?<!\w)'|'(?!\w)", " ", s)
    s = s.replace("-", " ").replace("_", " ")
    words = [_CONTRACTIONS.get(w, w) for w in s.split() if w not in _FILLERS]
    s = _SPLIT_WORDS.sub(lambda m: m.group(0).replace(" ", ""), " ".join(words))
    for _ in range(3):
        before = s
        s = _WAKE_RE.sub("", s)
        s = _LEAD_INS.sub("", s)
        if s == before:
            break
    s = _TRAILERS.sub("", s)
    return s.strip()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Accuracy of a recognizer on labelled utterances, per intent too."""

    total: int
    correct: int
    per_intent: dict[str, tuple[float, float, int]]  # name -> (precision, recall, support)
    confusions: list[tuple[str, str, str]]  # (text, expected, got)
    latencies_ms: list[float]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def p95_ms(self) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


class IntentRecognizer:
    """Maps one utterance to one `Intent`. Build with `load()`; `recognize()` is pure."""

    def __init__(
        self,
        intents: Intents,
        vocabulary: frozenset[str],
        semantic: SemanticMatcher | None = None,
        *,
        shapers: Mapping[str, Skill] | None = None,
        sentence_errors: Sequence[SentenceError] = (),
    ) -> None:
        self._intents = intents
        self._vocabulary = vocabulary
        self._deletes = _delete_index(_CUE_WORDS)
        self._semantic = semantic
        self._lead_words = _lead_words(
            semantic.examples if semantic is not None else semantic_mod.sample_examples(intents)
        )
        self._single: dict[str, Intents] = {}  # intent name -> hassil over that intent alone
        self._shapers = dict(shapers or {})
        self.sentence_errors = tuple(sentence_errors)

    @classmethod
    def load(
        cls,
        files: Iterable[Path] | None = None,
        *,
        skills: Iterable[Skill] | None = None,
        embedder: Embedder | None = None,
        threshold: float = semantic_mod.THRESHOLD,
        margin: float = semantic_mod.MARGIN,
        strict: bool = False,
    ) -> IntentRecognizer:
        """Merge the shared sentence files and those of `skills` (default: every installed
        skill, `load_skills()`); with `files`, those files alone, and the sentence files of
        `skills` only if given (tests and evaluations).

        A skill whose sentence file is missing or malformed is left out (`sentence_errors`
        names it and the file; `strict=True` raises instead); the others load.

        With an `embedder`, utterances no template, correction or keyword rule understands
        are scored against example sentences (`skills.semantic`): the templates' expansions
        and every file's `examples:` section. Embedding those takes a few seconds the first
        time (the embedder may cache them).
        """
        if files is None:
            language = sentences_mod.gather(
                load_skills() if skills is None else skills, strict=strict
            )
        else:
            language = sentences_mod.gather(
                skills or (), shared=(), paths=list(files), strict=strict
            )
        intents = language.intents
        listed = {
            name: [clean(s) for s in sentences] for name, sentences in language.examples.items()
        }
        matcher = None
        if embedder is not None:
            examples = semantic_mod.merge_examples(semantic_mod.sample_examples(intents), listed)
            matcher = SemanticMatcher(embedder, examples, threshold=threshold, margin=margin)
            matcher.match("warm up")  # onnxruntime's first run is slow
        recognizer = cls(
            intents,
            frozenset(_template_words(language.document)),
            matcher,
            shapers=language.shapers,
            sentence_errors=language.errors,
        )
        # hassil builds its matching structures on the first match (~40 ms here): pay that
        # now, not on the user's first command.
        recognizer.recognize("what time is it")
        for name in intents.intents:  # the one-intent matchers that fill semantic slots
            recognizer._match_intent("warm up", name)
        return recognizer

    @property
    def semantic(self) -> SemanticMatcher | None:
        """The semantic fallback, or None when the recognizer was built without an embedder."""
        return self._semantic

    @property
    def intent_names(self) -> frozenset[str]:
        return frozenset(self._intents.intents)

    def recognize(self, text: str) -> Intent:
        cleaned = clean(text)
        intent = self._recognize(text, cleaned)
        skill = self._shapers.get(intent.name)
        if skill is None:
            return intent
        try:
            slots = skill.shape_slots(intent.name, intent.slots, cleaned)
        except Exception:
            _LOGGER.exception("skill %r: shape_slots failed on %r; slots kept", skill.name, text)
            return intent
        return intent if slots is intent.slots else dataclasses.replace(intent, slots=slots)

    def _recognize(self, text: str, cleaned: str) -> Intent:
        if not cleaned:
            return Intent(ANSWER, {"query": text.strip()}, 0.0, source="fallback")
        result = self._match(cleaned)
        if result is not None:
            return _to_intent(result, cleaned, 1.0)
        if (
            _OUT_OF_SCOPE.search(cleaned)
            or _other_list(cleaned)
            or _NOT_A_REMINDER.search(cleaned)
            or _ELSEWHERE.search(cleaned)
        ):
            return Intent(ANSWER, {"query": cleaned}, 1.0, source="fallback")
        fixed = self._correct(cleaned)
        if fixed != cleaned:
            result = self._match(fixed)
            if result is not None:
                return _to_intent(result, fixed, 0.8, source="corrected")
        name = _keyword_intent(fixed)
        if name is not None:
            slots = _keyword_slots(name, fixed) or self._semantic_slots(name, fixed)
            return Intent(name, slots, 0.5, source="keyword")
        if self._semantic is not None:
            joined = _merge_split(fixed, self._deletes)
            if joined != fixed:
                result = self._match(joined)
                if result is not None:
                    return _to_intent(result, joined, 0.8, source="corrected")
            match = self._semantic.match(joined)
            if match is not None and match.accepted:
                slots = self._semantic_slots(match.intent, joined, match.example)
                return Intent(match.intent, slots, round(match.score, 4), source="semantic")
        return Intent(ANSWER, {"query": cleaned}, 1.0, source="fallback")

    def closest(self, text: str) -> Match | None:
        """What the semantic fallback makes of `text` (the closest intent, its score, whether
        it clears the bar), whichever pass decides; None without the fallback."""
        if self._semantic is None:
            return None
        cleaned = clean(text)
        return self._semantic.match(_merge_split(self._correct(cleaned), self._deletes))

    def _semantic_slots(self, name: str, text: str, example: str = "") -> dict[str, Any]:
        """Slots for an intent the semantic fallback chose: the intent's own templates on the
        utterance repaired the ways recognizers garble a command's start ("to timer for 20
        minutes", "said the alarm for 7", "we mind me to..."), else the time parser's reading.
        Of the repairs that match, the one that leaves least to wildcards wins; the closest
        example's first word is tried as a lead word first."""
        leads = list(self._lead_words.get(name, ()))
        if example.split() and example.split()[0] not in _FUNCTION_WORDS:
            first = example.split()[0]
            leads = [first, *(w for w in leads if w != first)]
        best: tuple[tuple[int, int, int, int], dict[str, Any]] | None = None
        for order, candidate in enumerate(dict.fromkeys(_repairs(text, leads))):
            result = self._match_intent(candidate, name)
            if result is None:
                continue
            slots = dict(_to_intent(result, candidate, 1.0).slots)
            # A slot of only function words ({"name": "me a"} from "set me a timer...") is
            # what a repair left over, not something the user said: dropped, and not counted
            # against the repair.
            hollow = [k for k, v in slots.items() if _hollow(v)]
            for key in hollow:
                del slots[key]
            _w, chunks, wild_len, _p = _score(result)
            wild_len -= sum(len(str(e.text).split()) for e in result.entities_list
                            if e.is_wildcard and _hollow(str(e.text)))  # fmt: skip
            missing = int(_NEEDED.get(name, "") not in slots) if name in _NEEDED else 0
            rank = (missing, wild_len, chunks, order)
            if best is None or rank < best[0]:
                best = (rank, slots)
            if not missing and not hollow:
                break  # the first clean fit, fewest changes first
        guessed = _guess_slots(name, text)
        if best is None:
            return guessed
        slots = best[1]
        need = _NEEDED.get(name)
        if need and need not in slots and need in guessed:
            # The repair found a template but not the time in it: the parser's reading.
            slots = {k: v for k, v in slots.items() if k != "name"} | guessed
        for key in ("when", "duration"):
            if not slots.get(key):
                continue
            span = timeexpr.find(str(slots[key]))
            if span is not None and len(span.text.split()) < len(
                timeexpr.normalize(str(slots[key])).split()
            ):
                slots[key] = span.text  # "out of bed at 7" -> "at 7"
        return slots

    def _match_intent(self, text: str, name: str) -> RecognizeResult | None:
        single = self._single.get(name)
        if single is None:
            if name not in self._intents.intents:
                return None
            single = dataclasses.replace(self._intents, intents={name: self._intents.intents[name]})
            self._single[name] = single
        best: RecognizeResult | None = None
        best_key: tuple[int, int, int, int] | None = None
        for result in recognize_all(text, single):
            if not _acceptable(result):
                continue
            key = _score(result)
            if best_key is None or key < best_key:
                best, best_key = result, key
        return best

    def _match(self, text: str) -> RecognizeResult | None:
        best: RecognizeResult | None = None
        best_key: tuple[int, int, int, int] | None = None
        for result in recognize_all(text, self._intents):
            if not _acceptable(result):
                continue
            key = _score(result)
            if best_key is None or key < best_key:
                best, best_key = result, key
        return best

    def _correct(self, text: str) -> str:
        return " ".join(self._correct_word(w) for w in text.split())

    def _correct_word(self, word: str) -> str:
        if word in self._vocabulary or len(word) < 5 or not word.isalpha():
            return word
        return _nearest(word, self._deletes)

    def evaluate(self, rows: Iterable[Mapping[str, Any]]) -> Evaluation:
        import time

        tp: dict[str, int] = {}
        fp: dict[str, int] = {}
        fn: dict[str, int] = {}
        support: dict[str, int] = {}
        confusions: list[tuple[str, str, str]] = []
        latencies: list[float] = []
        total = correct = 0
        for row in rows:
            expected = str(row["intent"])
            start = time.perf_counter()
            got = self.recognize(str(row["text"])).name
            latencies.append((time.perf_counter() - start) * 1000)
            total += 1
            support[expected] = support.get(expected, 0) + 1
            if got == expected:
                correct += 1
                tp[got] = tp.get(got, 0) + 1
            else:
                fp[got] = fp.get(got, 0) + 1
                fn[expected] = fn.get(expected, 0) + 1
                confusions.append((str(row["text"]), expected, got))
        per_intent = {}
        for name in sorted(set(support) | set(fp)):
            t = tp.get(name, 0)
            precision = t / (t + fp.get(name, 0)) if t + fp.get(name, 0) else 0.0
            recall = t / (t + fn.get(name, 0)) if t + fn.get(name, 0) else 0.0
            per_intent[name] = (precision, recall, support.get(name, 0))
        return Evaluation(total, correct, per_intent, confusions, latencies)


def _score(result: RecognizeResult) -> tuple[int, int, int, int]:
    """Lower is better: fewer wildcards, more literal words, less wildcard text, priority."""
    wildcards = [e for e in result.entities_list if e.is_wildcard]
    wild_len = sum(len(str(e.text).split()) for e in wildcards)
    return (len(wildcards), -result.text_chunks_matched, wild_len,
            _PRIORITY.get(result.intent.name, 5))  # fmt: skip


def _acceptable(result: RecognizeResult) -> bool:
    """False for a template match whose wildcard cannot hold what the intent needs: a timer
    with no length that does not start like a request for one ("end the timer", "how much
    longer on the timer"), a volume level that is no level ("volume mute"), a time zone
    nobody has ("the cooking time")."""
    name = result.intent.name
    meta = result.intent_metadata or {}
    captured = {
        e.name: str(e.text if e.is_wildcard else e.value).strip() for e in result.entities_list
    }
    if name == "timer.start":
        if any(
            timeexpr.parse_duration(captured[k]) for k in ("duration", "name") if captured.get(k)
        ):
            return True
        return _TIMER_REQUEST.match(str(result.original_text or "").strip()) is not None
    if meta.get("level_check") and captured.get("level"):
        return _level(captured["level"]) is not None
    if meta.get("known_place"):
        from skills.clock import zone_for

        place = captured.get("place", "")
        return len(place.split()) <= 3 and zone_for(place) is not None
    if meta.get("time_check") and timeexpr.find(captured.get("body", "")) is None:
        return False
    if meta.get("out_of_scope_check") and _OUT_OF_SCOPE.search(str(result.original_text or "")):
        return False
    if name == "summarize" and len(captured.get("target", "").split()) > 6:
        return False  # "sum up all the things i could do to be happier" is a question
    if name == "podcast.play" and re.search(
        r"\b(games?|with me|with us)\b", captured.get("podcast", "")
    ):
        return False  # "play my football game", "play cards with me"
    if (
        name == "podcast.play"
        and _INSTRUMENT.match(captured.get("podcast", ""))
        and not _has(r"(podcasts?|episodes?|shows?)", str(result.original_text or ""))
    ):
        return False  # "play the piano for us", not "play the guitar podcast"
    if meta.get("podcast_name_check") and not _SHOW_NAME.search(captured.get("podcast", "")):
        return False  # "start the giant bombcast", not "start the car"
    if name == "reminder.cancel" and re.search(
        r"\b(reschedule|postpone|move it|push it|put it off)\b", str(result.original_text or "")
    ):
        return False  # cancel and reschedule: a change, which is reminder.create
    if name == "time.query" and len(captured.get("place", "").split()) > 4:
        return False  # "the time in india when the time in us is twelve pm": a conversion
    said = str(result.original_text or "")
    if (
        name in ("reminder.list", "reminder.create", "reminder.cancel")
        and (_ELSEWHERE.search(said) or _other_list(said))
        and not _has(r"(remind|reminder|remember|forget)", said)
    ):
        return False  # "events happening in milan", "add eggs to my list"; not "remind me to..."
    if meta.get("date_check") and captured.get("date"):
        return _is_date(captured["date"])
    # "what day did world war two end": history, for the language model
    return not (
        meta.get("date_question")
        and captured.get("date")
        and _PAST_EVENT.search(said)
        and not _is_date(captured["date"])
    )


_INSTRUMENT: Final = re.compile(
    r"(?:the |a |my |some |on the )?(?:piano|guitar|violin|cello|drums|flute|trumpet|saxophone|"
    r"ukulele|harp|keyboard|bass|instrument)\b"
)
# A show's name as people say it: "the giant bombcast", "my favourite podcast", not "the car".
_SHOW_NAME: Final = re.compile(
    r"\b(?!(?:broad|fore|news|over|type|out|mis)casts?\b)\w+casts?\b|\b(?:pod|podcast|show)\b"
)
# A question about when something happened ("what day did the war end", "what date was the
# moon landing") rather than what day a date falls on.
_PAST_EVENT: Final = re.compile(
    r"\bdid\b|\b(?:ended|started|began|happened|occurred|died|born|signed|founded|"
    r"invented|discovered|landed|built|released|elected|won|lost|fell)\b"
)


@lru_cache(maxsize=256)
def _is_date(text: str) -> bool:
    """Whether `text` names a day the time skill can find ("the 24th", "next friday",
    "christmas"), not a thing that merely has a date ("my friend's party")."""
    from datetime import UTC, datetime

    from skills.clock import holiday

    now = datetime(2000, 1, 3, tzinfo=UTC)
    if holiday(text, now.date()) is not None:
        return True
    rest, span = timeexpr.split(text)
    if span is None or any(w not in _FUNCTION_WORDS for w in rest.split()):
        return False  # "rainy in this week": a date inside something else
    parsed = timeexpr.parse(text, now)
    return parsed is not None and parsed.when is not None


def _other_list(text: str) -> bool:
    """A list no skill keeps ("add eggs to the list"), not the list of reminders."""
    return _THING_LIST.search(text) is not None and not _has(
        r"(reminders?|alarms?|events?|appointments?|meetings?|timers?|podcasts?|episodes?)", text
    )


# What goes on in the world rather than in the user's calendar: "events happening in milan",
# "concerts near me", "what's on in town tonight".
_ELSEWHERE: Final = re.compile(
    r"\b(near me|nearby|around here|in town|local|in my (?:area|city|location|neighbou?rhood))\b"
    r"|\b(?:events?|concerts?|shows?|exhibits?|exhibitions?|festivals?|fairs?|gigs?|things to do)"
    r" (?:are |is )?(?:happening|going on|taking place|on|scheduled) (?:in|at|near|around) "
    r"(?!(?:the )?(?:morning|afternoon|evening|night|weekend|week|month)\b|this\b|next\b|"
    r"today\b|tomorrow\b|tonight\b|\d|my\b)"
    r"|\b(?:what's|what is|whats) (?:going on|happening) (?:in|at|around) "
    r"(?!my\b|the (?:morning|afternoon|evening)\b|this\b|next\b|today\b|tomorrow\b|tonight\b)"
)

# How a request for a timer starts when it does not say how long ("set a pasta timer").
_TIMER_REQUEST: Final = re.compile(
    r"^(?:set|set up|make|create|add|put|start|begin|run|program|i need|i want|i'd like|"
    r"give me|new|another|timer|countdown|count down)\b"
)

# Ties between templates of equal strength go to the intent that is cheaper to get wrong.
_PRIORITY: Final = {"stop": 0, "timer.cancel": 1, "timer.status": 1, "timer.start": 2,
                    "alarm.set": 3, "reminder.cancel": 3, "reminder.list": 4}  # fmt: skip


def _to_intent(
    result: RecognizeResult, text: str, confidence: float, source: str = "template"
) -> Intent:
    name = result.intent.name
    raw: dict[str, Any] = {}
    for entity in result.entities_list:
        value = entity.value if not entity.is_wildcard else str(entity.text).strip()
        if isinstance(value, str):
            value = value.strip()
        raw[entity.name] = value
    wild = any(e.is_wildcard for e in result.entities_list)
    if name == ANSWER:  # skills/out_of_scope.yaml: a command no skill serves
        return Intent(ANSWER, {"query": text}, confidence, source=source)
    name = _retarget(name, raw)
    slots = _shape_slots(name, raw, text)
    if name == "reminder.create" and _WAKE_UP.match(str(slots.get("text") or "")):
        # "set a reminder to wake up at 6": an alarm
        name, slots = "alarm.set", {k: v for k, v in slots.items() if k != "text"}
    return Intent(name, slots, confidence * (0.95 if wild else 1.0), source=source)


# "to 3", "at level 7", "20 percent": a level; "by 2", "two notches": a step from where it is.
_TO_LEVEL: Final = re.compile(r"^(?:to|at|up to|down to)\b|\b(?:level|percent)\b")
_BY_STEPS: Final = re.compile(r"^by\b|\b(?:notch|notches|steps?|points?|levels|clicks?|bars?)\b")


_WAKE_UP: Final = re.compile(r"^(?:(?:i|we) (?:need|have|want) to |to |me to )?(?:wake|get) up$")


def _retarget(name: str, raw: Mapping[str, Any]) -> str:
    """The intent a template's words say once its slots are read: "turn it down to 3" names
    a level, so it is volume.set, not volume.down."""
    if name in ("volume.up", "volume.down"):
        said = str(raw.get("level") or "").strip()
        if (
            said
            and _TO_LEVEL.search(said)
            and not _BY_STEPS.search(said)
            and _level(said) is not None
        ):
            return "volume.set"
    return name


def _shape_slots(name: str, raw: dict[str, Any], text: str) -> dict[str, Any]:
    """Turn template captures into the slots of the label space."""
    if name == "reminder.create":
        body = " ".join(str(raw[k]) for k in ("body", "body2") if raw.get(k))
        return _reminder_slots(body)
    if name == "alarm.set":
        slots: dict[str, Any] = {}
        if raw.get("snooze"):
            slots["snooze"] = True
            if raw.get("duration"):
                slots["duration"] = str(raw["duration"])
            return slots
        when = str(raw.get("when") or "")
        if "tomorrow" in text and "tomorrow" not in when and when:
            when = f"tomorrow {when}"
        if when:
            slots["when"] = when
            rec = _recurrence_rule(when)
            if rec:
                slots["recurrence"] = rec
        if raw.get("label"):
            slots["name"] = str(raw["label"])
        return slots
    if name == "timer.start":
        slots = {}
        duration, label = str(raw.get("duration") or ""), str(raw.get("name") or "")
        if timeexpr.parse_duration(duration) is None and timeexpr.parse_duration(label):
            duration, label = label, duration
        if duration and timeexpr.parse_duration(duration) is None:
            duration, label = "", " ".join(x for x in (duration, label) if x)
        if duration:
            slots["duration"] = duration
        if label:
            slots["name"] = label
        return slots
    if name == "media.skip":
        amount = str(raw.get("amount") or "")
        dur = timeexpr.parse_duration(amount) if amount else None
        seconds = int(dur.total_seconds) if dur else 30
        back = re.search(r"\b(back|backwards?|rewind)\b", text) is not None
        return {"seconds": -seconds if back else seconds}
    if name in ("volume.set", "volume.up", "volume.down"):
        said = str(raw.get("level") or "")
        level = _level(said)
        if level is None:
            return {}
        if name != "volume.set" and _BY_STEPS.search(said) and isinstance(level, int):
            return {"by": level}  # "turn it up by 2", "down two notches"
        return {"level": level}
    if name.startswith("media."):
        return {k: v for k, v in raw.items() if k not in ("any", "device")}
    if name == "reminder.list":
        slots = {k: v for k, v in raw.items() if k != "any"}
        kind = _list_kind(text)
        if kind:
            slots["kind"] = kind
        return slots
    if name == "reminder.cancel":
        slots = {}
        if re.search(r"\b(all|every|everything|clear|wipe|empty)\b", text):
            slots["all"] = True
        if re.search(r"\blast one\b", text):
            slots["which"] = "last"
        what = str(raw.get("what") or "").strip()
        if what and what not in ("the", "my", "all"):
            slots["text"] = what
        if re.search(r"\balarms?\b", text):
            slots["kind"] = "alarm"
        elif re.search(r"\breminders?\b", text):
            slots["kind"] = "reminder"
        return slots
    if name == "time.query":
        slots = {k: v for k, v in raw.items() if k != "any"}
        date = re.search(r"\b(date|day|today|weekday|month|year)\b", text) is not None
        time = re.search(r"\b(time|hour|clock)\b", text) is not None
        slots["what"] = "both" if date and time else "date" if date else "time"
        return slots
    return {k: v for k, v in raw.items() if k not in ("any", "body2")}


def _list_kind(text: str) -> str | None:
    """`alarm` when a question about the schedule asks only about alarms ("is my alarm set",
    "when do i wake up"), so the reply lists the alarms; None for everything else."""
    alarms = re.search(r"\b(alarms?|wake ?up|waking up|wakeup|get up|getting up)\b", text)
    others = re.search(
        r"\b(reminders?|events?|meetings?|appointments?|calendar|schedule|agenda|plans?)\b", text
    )
    return "alarm" if alarms and not others else None


def _reminder_slots(body: str) -> dict[str, Any]:
    rest, span = timeexpr.split(body)
    slots: dict[str, Any] = {}
    if rest:
        slots["text"] = rest
    if span is not None:
        slots["when"] = span.text
        rec = _recurrence_rule(span.text)
        if rec:
            slots["recurrence"] = rec
    return slots


@lru_cache(maxsize=256)
def _recurrence_rule(expression: str) -> str | None:
    from datetime import UTC, datetime

    parsed = timeexpr.parse(expression, datetime(2000, 1, 3, tzinfo=UTC))
    return parsed.recurrence.to_rule() if parsed and parsed.recurrence else None


def _level(text: str) -> int | None:
    s = timeexpr.normalize(text)
    m = re.search(r"\b(\d{1,3})\b", s)
    if m:
        return min(int(m.group(1)), 100)
    for words, value in ((("max", "maximum", "full", "loudest"), 100),
                         (("min", "minimum", "lowest"), 1), (("half",), 50)):  # fmt: skip
        if any(w in s.split() for w in words):
            return value
    return None


# --- near misses ---------------------------------------------------------------------------------


def _template_words(merged: Mapping[str, Any]) -> set[str]:
    words: set[str] = set()

    def collect(template: str) -> None:
        plain = re.sub(r"\{[^}]*\}|<[^>]*>", " ", template)
        words.update(re.findall(r"[a-z][a-z']+", plain))

    for body in merged["intents"].values():
        for data in body["data"]:
            for sentence in data.get("sentences", []):
                collect(sentence)
    for rule in merged["expansion_rules"].values():
        collect(rule)
    for lst in merged["lists"].values():
        for value in lst.get("values", []) if isinstance(lst, dict) else []:
            collect(value if isinstance(value, str) else str(value.get("in", "")))
    return words


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _delete_index(vocabulary: frozenset[str]) -> dict[str, str]:
    index: dict[str, str] = {}
    for word in sorted(vocabulary, key=len):
        if len(word) < 4:
            continue
        index.setdefault(word, word)
        for d in _deletions(word):
            index.setdefault(d, word)
    return index


def _nearest(word: str, index: Mapping[str, str]) -> str:
    """A cue word one edit away (insert, delete, substitute, swap), else the word itself."""
    candidates = [index[k] for k in (word, *_deletions(word)) if k in index]
    for candidate in candidates:
        if _within_one_edit(word, candidate):
            return candidate
    return word


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) <= 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


# --- keyword fallback ----------------------------------------------------------------------------

_OUT_OF_SCOPE: Final = re.compile(
    r"\b(weather|forecast|rain\w*|snow\w*|sunny|cloudy|temperature|degrees?|humid\w*|wind\w*|"
    r"storm\w*|stocks?|shares?|nasdaq|dow jones|market|price|prices|exchange|"
    r"currency|currencies|dollars?|euros?|yen|pounds?|rupees?|bitcoin|convert|conversion|"
    r"rate|rates|jokes?|funny|recipe|define|definition|meaning|spell|calculate|plus|minus|"
    r"divided|square root|news|sunset|sunrise)\b"
    # Services no skill offers: travel and rides, food orders, mail and social media, shopping
    # and to-do lists, games, the home's devices, what goes on around town.
    r"|\b(taxis?|cabs?|uber|lyft|trains?|flights?|planes?|airlines?|airport|bus|buses|subway|"
    r"tickets?|traffic|commute|hotels?|takeaway|takeout|take out|delivery|deliver\w*|"
    r"restaurants?|order|ordering|e ?mails?|inbox|tweets?|twitter|facebook|instagram|"
    r"whatsapp|linkedin|social media|text messages?|sms|playlists?|chess|poker|"
    r"solitaire|sudoku|crossword|lights?|lamps?|bulbs?|thermostat|heating|heater|"
    r"air conditioning|vacuum\w*|coffee|kettle|plugs?|sockets?|blinds|curtains|near me|"
    r"nearby|around here|in town|local)\b"
    r"|\b(new contact|contacts|address book|phone book)\b"
)
# "remind" that asks for no reminder: "does this remind you of anything", "that reminds me of
# my childhood", "remind your sister about the party" (the assistant reminds only its user).
_NOT_A_REMINDER: Final = re.compile(
    r"\breminds? (?:you|him|her|them|it|your|his|their|[a-z]+'s)\b|\breminds (?:me|us) of\b"
    r"|\breminded (?:me|us|you) of\b"
)
# A shopping or to-do list (no skill keeps one): "add milk to my list", "what's on the list";
# not "list my alarms" nor "show me a list of my reminders".
_THING_LIST: Final = re.compile(
    r"\b(shopping|grocery|groceries|to do|todo|wish|contact|packing|reading|bucket) lists?\b"
    r"|(?<!^)(?<!\bme )(?<!\bus )\blists?\b(?! (?:my|all|the|me|upcoming|out|everything)\b)"
)
_CAL: Final = (
    r"(calendar|schedule[ds]?|meetings?|events?|appointments?|agenda|reminders?|diary|alerts?|"
    r"booked)"
)
_ALARM: Final = r"(alarms?|wake ?up|wakeup|alarm clock)"
_CREATE: Final = (
    r"(add|set|set up|schedule|create|book|make|put|remind|remember|mark|note|arrange|plan|"
    r"organi[sz]e|notify|alert|enter|save|reserve|flag|fix|new)"
)
_DELETE: Final = (
    r"(cancel|delete|remove|clear|erase|wipe|get rid|turn off|switch off|disable|unset|drop|blank)"
)
_QUERY: Final = (
    r"(what|what's|whats|when|which|who|where|do i|did i|have i|am i|is there|are there|any|show|"
    r"list|tell|check|upcoming|next|pending|how many|is my|is the|are my|details|look like|"
    r"coming up|info|information|report|my|let me know|provide|have you|did you|you have set)"
)
_INTENTION: Final = re.compile(
    r"^(?:i (?:want|need|have|would like|'d like|plan|am going|'m going) to|i'll be|i will be|"
    r"i (?:need|want|would like|'d like) (?:a|an|another) |"
    rf"(?:please )?{_CREATE}\b)"
)
# Changing an entry is, in our label space, making it anew: "move my meeting to friday",
# "make the lunch event repeat every week".
_MODIFY: Final = (
    r"(alter|change|update|modify|edit|move|reschedule|postpone|push back|bring forward|shift|"
    r"repeat|extend|rename)"
)
_ASKS: Final = re.compile(
    r"^(?:what|what's|whats|when|which|who|where|how|do|did|does|is|are|have|has|can|could)\b"
)
# "mark friday as my day off", "today is flagged as a holiday": a day noted in the calendar.
_MARK_AS: Final = re.compile(r"\b(?:mark|marked|flag|flagged)\b.* as (?:my|a|an|the)\b")
# "is friday a holiday", "is this week bin collection week": what a day holds, in the calendar.
_DAY_IS: Final = re.compile(
    r"^is (?:today|tomorrow|this week|next week|this weekend|next weekend|"
    r"(?:this |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)) "
    r"(?:(?:a|an|the|my|our) )?(?:\w+ ){0,2}(?:day|week|weekend|holiday|day off)$"
)
# A command that starts by dropping something: "forget the rent reminder", "scratch my meeting".
_FORGET: Final = re.compile(
    r"^(?:(?:oh|and|also|actually) )?(?:forget|scratch|scrap|ignore|never mind|nevermind|"
    r"call off)\b"
)
_ONE_ENTRY: Final = r"(meeting|event|appointment|calendar event|notification|call)"
_MANY_ENTRIES: Final = r"(meetings|events|appointments|notifications|calls)"
# Asking about something on a date ("details about the concert on tuesday") asks the calendar.
_ABOUT: Final = r"(details|information|info|more) (about|on|of|for)"
_PLAN: Final = re.compile(
    r"^(?:i (?:want|need|would like|'d like) to )?"
    r"(?:add|schedule|book|set up|arrange|organi[sz]e)\b"
)
_EVENT_START: Final = re.compile(r"^(?:when|what time) (?:does|will|is|do) .*\b(?:start|begin)s?\b")
# Words worth correcting when the recognizer garbles them ("calender", "remainder", "alarum").
_CUE_WORDS: Final = frozenset(
    {"calendar", "schedule", "meeting", "meetings", "event", "events", "appointment",
     "appointments", "agenda", "reminder", "reminders", "alarm", "alarms", "remind", "podcast",
     "podcasts", "episode", "episodes", "volume", "louder", "quieter", "cancel", "delete",
     "remove", "upcoming", "pending", "tomorrow", "tonight", "timer", "timers", "snooze",
     "minutes", "seconds", "hours", "unmute", "resume", "pause", "previous", "summarize"}
)  # fmt: skip


def _has(pattern: str, text: str) -> bool:
    return re.search(rf"\b{pattern}\b", text) is not None


def _keyword_intent(text: str) -> str | None:
    if _OUT_OF_SCOPE.search(text) or _other_list(text) or _ELSEWHERE.search(text):
        return None
    if _has(r"(subscriptions|subscribed to|i subscribe to)", text) and not _has(_DELETE, text):
        return "podcast.list"  # the only subscriptions the assistant keeps are podcasts
    if _has(r"(podcasts?|episodes?)", text):
        playing = _has(r"(play|playing|listen|put on|start|resume|hear)", text)
        if _has(r"(list|subscriptions?|subscribed|subscribe|following|library)", text) and (
            not playing
        ):
            return "podcast.list"  # "read me the list on my podcasts"
        # "what is a podcast", "recommend a good podcast" are questions, not "play"
        asks = _ASKS.search(text) or _has(r"(recommend|suggest|explain|define)", text)
        if asks and not playing:
            return None
        if not playing and _has(r"(is|are|was|were)", text):
            return None  # "the podcast studio is on the third floor": said, not asked for
        return "podcast.play"
    volume = _volume_keyword(text)
    if volume is not None:
        return volume
    alarm = _has(_ALARM, text)
    cal = _has(_CAL, text)
    intends = _INTENTION.search(text) is not None
    if (alarm or cal) and _has(_MODIFY, text) and not _ASKS.search(text):
        return "reminder.create" if cal else "alarm.set"
    if (alarm or cal) and (_has(_DELETE, text) or _FORGET.match(text)):
        return "reminder.cancel"
    if alarm:
        return "reminder.list" if _has(_QUERY, text) and not intends else "alarm.set"
    if _has(r"(remind|remember|reminder)", text) and not _has(r"(do i|any|what|which)", text):
        return "reminder.create"
    span = timeexpr.find(text)
    if cal:
        if intends or _MARK_AS.search(text):
            return "reminder.create"
        if _has(_CREATE, text) and not _has(_QUERY, text):
            return "reminder.create"  # "dentist on monday, put it in the calendar"
        if _has(_QUERY, text):
            return "reminder.list"
        one_entry = _has(_ONE_ENTRY, text) and not _has(_MANY_ENTRIES, text)
        if one_entry and (span is not None or _has("with", text)):
            return "reminder.create"  # "lunch meeting with ana at noon"
        return None
    if _MARK_AS.search(text):
        return "reminder.create"
    if _PLAN.search(text):
        return "reminder.create"
    if _EVENT_START.search(text) or _DAY_IS.search(text):
        return "reminder.list"
    if span is not None and _has(_ABOUT, text):
        return "reminder.list"
    if span is not None and _has(_DELETE, text) and re.match(rf"^{_DELETE}\b", text):
        return "reminder.cancel"
    timed = span is not None and span.text.strip() not in ("now", "right now")
    if timed and (intends or any(k.startswith("recur") for k in span.kinds)):  # type: ignore[union-attr]
        # "i want to meet sara tomorrow", "add my practice on feb 4 at 2 pm"
        return "reminder.create"
    return None


_ASK_UP: Final = (
    r"((turn|crank|pump|bring|put) (it|the \w+|\w+) up|turn up|increase|raise|boost|louder)"
)
_ASK_DOWN: Final = (
    r"((turn|bring|put|take) (it|the \w+|\w+) down|turn down|decrease|lower|reduce|quieter|softer)"
)
_TOO_LOUD: Final = r"too (loud|noisy)"
_TOO_QUIET: Final = r"too (quiet|soft|low|faint)"


def _volume_keyword(text: str) -> str | None:
    """Volume said in words the templates do not hold, often in two clauses ("it's too
    loud, turn it down"): what the user asks for beats how they describe it."""
    about_volume = _has(r"(volume|speakers?|sound|audio)", text) or _has(
        rf"(turn it (up|down)|{_TOO_LOUD}|{_TOO_QUIET})", text
    )
    if not about_volume:
        return None
    if _has(r"(unmute|un mute)", text):
        return "volume.up"
    if _has(r"(mute|silence|silent)", text):
        return "volume.mute"
    if _has(_ASK_UP, text):
        return "volume.up"
    if _has(_ASK_DOWN, text):
        return "volume.down"
    if _has(_TOO_LOUD, text):
        return "volume.down"
    if _has(_TOO_QUIET, text) or _has(r"(up|higher|max|loud)", text):
        return "volume.up"
    if _has(r"(down|low)", text):
        return "volume.down"
    if _has(r"off", text):
        return "volume.mute"
    return None


def _keyword_slots(name: str, text: str) -> dict[str, Any]:
    if name == "reminder.create":
        return _reminder_slots(text)
    if name == "alarm.set":
        span = timeexpr.find(text)
        return {"when": span.text} if span is not None else {}
    if name == "reminder.list":
        kind = _list_kind(text)
        return {"kind": kind} if kind else {}
    return {}


# Words that carry no content of their own: a slot holding only these ({"text": "to"} from
# "remind me to") was filled from a cut-off command.
_FUNCTION_WORDS: Final = frozenset((
    "a", "an", "the", "to", "for", "of", "in", "on", "at", "with", "about", "and", "or", "but",
    "my", "your", "his", "her", "their", "our", "from", "by", "into", "onto", "than", "that",
    "this", "these", "those", "some", "me",
))  # fmt: skip
# Nor does a spoken command end on one of these: "set a timer for", "play the latest",
# "play the latest episode of" are commands interrupted by a pause.
_DANGLING: Final = _FUNCTION_WORDS | frozenset(
    ["latest", "next", "last", "every", "called", "named"]
)


def looks_complete(text: str, intent: Intent) -> bool:
    """Whether `text` reads as a whole command rather than one interrupted by a pause.

    For the pipeline's early endpoint, which acts on a transcript taken after a fraction of a
    second of silence: false when the text trails off ("...", a dangling function word) or a
    slot holds nothing but function words (`{"text": "to"}` from "remind me to").
    """
    if text.rstrip().endswith(("...", "…", ",", "-")):
        return False
    words = clean(text).split()
    if not words or words[-1] in _DANGLING:
        return False
    return not any(
        isinstance(value, str)
        and value.strip()
        and all(word in _FUNCTION_WORDS for word in clean(value).split())
        for value in intent.slots.values()
    )


# --- semantic fallback: slots ---------------------------------------------------------------

_REPAIR_CHOICES: Final = 2


def _lead_words(examples: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Each intent's first words among its examples ("set", "remind", "wake"), commonest
    first."""
    out: dict[str, tuple[str, ...]] = {}
    for name, sentences in examples.items():
        counts: dict[str, int] = {}
        for sentence in sentences:
            words = sentence.split()
            if words and words[0] not in _FUNCTION_WORDS and words[0].isalpha():
                counts[words[0]] = counts.get(words[0], 0) + 1
        out[name] = tuple(sorted(counts, key=lambda w: (-counts[w], w)))
    return out


def _sounds_like(heard: str, leads: Sequence[str]) -> list[str]:
    """The lead words spelled most like `heard` ("said" -> "set", "we mind" -> "remind")."""
    from difflib import SequenceMatcher

    scored = [(SequenceMatcher(None, heard, lead).ratio(), -i, lead)
              for i, lead in enumerate(leads)]  # fmt: skip
    return [lead for ratio, _i, lead in sorted(scored, reverse=True) if ratio >= 0.5][
        :_REPAIR_CHOICES
    ]


def _repairs(text: str, leads: Sequence[str]) -> Iterable[str]:
    """The utterance, then versions of it with its start repaired, fewest changes first: the
    first word dropped ("to timer for..."), the first word or two replaced by the intent's
    lead words that sound most like them ("said the alarm..." -> "set the alarm...", "we mind
    me..." -> "remind me..."), the first word replaced by the commonest lead words, the
    commonest lead word put before it ("a timer for..." -> "set a timer for...")."""
    words = text.split()
    yield text
    if len(words) > 1:
        yield " ".join(words[1:])
    if words:
        for lead in _sounds_like(words[0], leads):
            if lead != words[0]:
                yield " ".join([lead, *words[1:]])
    if len(words) > 2:
        for lead in _sounds_like(words[0] + words[1], leads):
            yield " ".join([lead, *words[2:]])
    for lead in leads[:_REPAIR_CHOICES]:
        if words and words[0] != lead:
            yield " ".join([lead, *words[1:]])  # "to timer..." from "start a timer..."
    if leads:
        yield f"{leads[0]} {text}"


def _merge_split(text: str, index: Mapping[str, str]) -> str:
    """Join two words the recognizer split out of one cue word ("we mind" -> "remind",
    "re mind" -> "remind", "a larm" -> "alarm")."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and len(words[i] + words[i + 1]) >= 5:
            joined = _nearest(words[i] + words[i + 1], index)
            if joined in _CUE_WORDS and joined not in (words[i], words[i + 1]):
                out.append(joined)
                i += 2
                continue
        out.append(words[i])
        i += 1
    return " ".join(out)


# The slot a command cannot do without, for the slots of a semantic match.
_NEEDED: Final = {"timer.start": "duration", "alarm.set": "when", "reminder.create": "text"}
# Words a repaired command leaves in a slot that carry nothing ("i get a", "do a").
_HOLLOW: Final = frozenset(
    {"i", "we", "you", "can", "could", "get", "got", "do", "let's", "lets", "give", "need",
     "want", "please", "just", "now", "new", "go", "make", "timer", "countdown"}
)  # fmt: skip


def _hollow(value: Any) -> bool:
    return isinstance(value, str) and all(
        w in _FUNCTION_WORDS or w in _HOLLOW for w in value.split()
    )


def _guess_slots(name: str, text: str) -> dict[str, Any]:
    """Slots from the time parser alone, when no template fits even a repaired utterance."""
    span = timeexpr.find(text)
    when = span.text if span is not None else ""
    raw: dict[str, Any] = {}
    if name in ("timer.start", "media.skip"):
        if when and timeexpr.parse_duration(when) is not None:
            raw["duration" if name == "timer.start" else "amount"] = when
    elif name == "alarm.set" and when:
        raw["when"] = when
    elif name == "reminder.create":
        m = re.search(r"\b(?:me|us)\s+(?:to|about|that)\s+(.*)$|\bto\s+(.*)$", text)
        raw["body"] = next((g for g in m.groups() if g), text) if m else text
    elif name in ("volume.set", "volume.up", "volume.down"):
        raw["level"] = text
    elif name not in ("reminder.cancel", "time.query"):
        return {}
    return _shape_slots(name, raw, text)
