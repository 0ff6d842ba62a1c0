"""Transcript -> `Intent`: hassil over the skills' sentence files, with a keyword fallback.

Three passes, cheapest and surest first:
1. clean the text the way recognizers write it (case, punctuation, fillers, wake-word leftovers)
   and match it against the sentence templates with hassil;
2. if nothing matched, correct near-miss words against the templates' vocabulary (one edit) and
   match again;
3. if still nothing, score cue words ("alarm" + "delete", "calendar" + "what") for the
   reminder, alarm, volume and podcast families, which people phrase in endless ways; a guard
   keeps weather, stock, currency and trivia questions out, so they reach the language model.
Anything left is `Intent("answer", {"query": text})`.
"""

from __future__ import annotations

import dataclasses
import importlib
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
from skills import timeexpr
from skills.sdk import Intent
from skills.semantic import Embedder, Match, SemanticMatcher

_LOGGER = logging.getLogger(__name__)
# PyYAML ships no type stubs and the environment has none; hassil depends on it anyway.
_yaml: Any = importlib.import_module("yaml")

SENTENCE_DIR: Final = Path(__file__).resolve().parent
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
    s = " ".join(words)
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
    ) -> None:
        self._intents = intents
        self._vocabulary = vocabulary
        self._deletes = _delete_index(_CUE_WORDS)
        self._semantic = semantic
        self._lead_words = _lead_words(
            semantic.examples if semantic is not None else semantic_mod.sample_examples(intents)
        )
        self._single: dict[str, Intents] = {}  # intent name -> hassil over that intent alone

    @classmethod
    def load(
        cls,
        files: Iterable[Path] | None = None,
        *,
        embedder: Embedder | None = None,
        threshold: float = semantic_mod.THRESHOLD,
        margin: float = semantic_mod.MARGIN,
    ) -> IntentRecognizer:
        """Read sentence files (default: every YAML beside the built-in skills).

        With an `embedder`, utterances no template, correction or keyword rule understands
        are scored against example sentences (`skills.semantic`): the templates' expansions
        and every file's `examples:` section. Embedding those takes a few seconds the first
        time (the embedder may cache them).
        """
        paths = sorted(SENTENCE_DIR.glob("*.yaml")) if files is None else list(files)
        merged: dict[str, Any] = {"language": "en", "intents": {}, "lists": {},
                                  "expansion_rules": {}}  # fmt: skip
        listed: dict[str, list[str]] = {}
        for path in paths:
            data = _yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for name, body in (data.get("intents") or {}).items():
                merged["intents"].setdefault(name, {"data": []})["data"].extend(body["data"])
            merged["lists"].update(data.get("lists") or {})
            merged["expansion_rules"].update(data.get("expansion_rules") or {})
            for name, sentences in (data.get("examples") or {}).items():
                listed.setdefault(str(name), []).extend(clean(str(s)) for s in sentences or ())
        intents = Intents.from_dict(merged)
        matcher = None
        if embedder is not None:
            examples = semantic_mod.merge_examples(semantic_mod.sample_examples(intents), listed)
            matcher = SemanticMatcher(embedder, examples, threshold=threshold, margin=margin)
            matcher.match("warm up")  # onnxruntime's first run is slow
        recognizer = cls(intents, frozenset(_template_words(merged)), matcher)
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
        if not cleaned:
            return Intent(ANSWER, {"query": text.strip()}, 0.0, source="fallback")
        result = self._match(cleaned)
        if result is not None:
            return _to_intent(result, cleaned, 1.0)
        if _OUT_OF_SCOPE.search(cleaned):
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
            key = _score(result)
            if best_key is None or key < best_key:
                best, best_key = result, key
        return best

    def _match(self, text: str) -> RecognizeResult | None:
        best: RecognizeResult | None = None
        best_key: tuple[int, int, int, int] | None = None
        for result in recognize_all(text, self._intents):
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
    slots = _shape_slots(name, raw, text)
    return Intent(name, slots, confidence * (0.95 if wild else 1.0), source=source)


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
        level = _level(str(raw.get("level") or ""))
        return {"level": level} if level is not None else {}
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
    r"coming up|info|information|report|my)"
)
_INTENTION: Final = re.compile(
    r"^(?:i (?:want|need|have|would like|'d like|plan|am going|'m going) to|i'll be|i will be|"
    rf"(?:please )?{_CREATE}\b)"
)
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
    if _OUT_OF_SCOPE.search(text):
        return None
    if _has(r"(podcasts?|episodes?)", text):
        return "podcast.play"
    if _has(r"(volume|speakers?)", text):
        if _has(r"(up|increase|raise|louder|higher|max|loud)", text):
            return "volume.up"
        if _has(r"(down|decrease|lower|reduce|quieter|softer|low)", text):
            return "volume.down"
        if _has(r"(mute|off|silence)", text):
            return "volume.mute"
    alarm = _has(_ALARM, text)
    cal = _has(_CAL, text)
    intends = _INTENTION.search(text) is not None
    if (alarm or cal) and _has(_DELETE, text):
        return "reminder.cancel"
    if alarm:
        return "reminder.list" if _has(_QUERY, text) and not intends else "alarm.set"
    if _has(r"(remind|remember|reminder)", text) and not _has(r"(do i|any|what|which)", text):
        return "reminder.create"
    if cal:
        if intends:
            return "reminder.create"
        return "reminder.list" if _has(_QUERY, text) else None
    if _PLAN.search(text):
        return "reminder.create"
    if _EVENT_START.search(text):
        return "reminder.list"
    span = timeexpr.find(text)
    if span is not None and _has(_DELETE, text) and re.match(rf"^{_DELETE}\b", text):
        return "reminder.cancel"
    if span is not None and (intends or any(k.startswith("recur") for k in span.kinds)):
        # "i want to meet sara tomorrow", "add my practice on feb 4 at 2 pm"
        return "reminder.create"
    return None


def _keyword_slots(name: str, text: str) -> dict[str, Any]:
    if name == "reminder.create":
        return _reminder_slots(text)
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
     "want", "please", "just", "now", "new", "go", "make"}
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
