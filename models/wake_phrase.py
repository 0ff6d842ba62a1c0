"""The wake phrase in a transcript: how it is spoken, and removing it from what follows.

A command said in one breath after the wake word ("hey jarvis start a timer") begins before
the detector fires: openWakeWord needs the whole phrase and then a step or two to be sure, so
a turn that starts recording at the detection loses the command's first word ("to timer for
20 minutes"). The pipeline therefore records from before the phrase, and this module takes
the phrase back out of the transcript, in every way a recognizer writes it: "Hey Jarvis,",
"Jarvis.", "a jarvis", "hey, Jarvis", "Hey Travis", "OK Naboo", "hey my craft".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Final

# Words that open a wake phrase without naming the assistant.
GREETINGS: Final = frozenset({"hey", "hi", "hello", "ok", "okay", "yo", "oh", "a", "hay", "hej"})
# How close a transcript word must sound to the assistant's name to count as it. Measured on
# Whisper's renderings of the bundled phrases ("Travis" 0.67, "Microsoft" 0.75, "Naboo" 0.89)
# against command words that follow them ("service" 0.46 against "jarvis", "now" 0.29 against
# "nabu").
MATCH_THRESHOLD: Final = 0.6
JOIN_PENALTY: Final = 0.1
# A doubtful detection is confirmed only by a closer match ("Travis" is not enough there).
VERIFY_THRESHOLD: Final = 0.75
# The phrase can only sit near the start: the recording opens at most ~1.6 s before the
# detection. Words beyond this many after its expected length are the command.
_EXTRA_WORDS: Final = 4
_WORD_RE: Final = re.compile(r"[A-Za-z0-9']+")
_VERSION_RE: Final = re.compile(r"(?:[_\-. ]v?\d+(?:\.\d+)*)+$", re.IGNORECASE)


def spoken_phrase(model: str) -> str:
    """How a wake model's phrase is spoken, from its name or file name.

    "hey_jarvis" -> "hey jarvis"; "/models/ok_computer_v0.2.tflite" -> "ok computer".
    """
    stem = Path(model.strip()).name
    if stem.lower().endswith(".tflite"):
        stem = stem[: -len(".tflite")]
    stem = _VERSION_RE.sub("", stem)
    return " ".join(re.split(r"[_\-\s.]+", stem.lower())).strip()


def wake_prefix(phrase: str) -> str:
    """The phrase as a recognizer writes it at the start of a transcript: "Hey Jarvis,"."""
    return " ".join(w.capitalize() for w in phrase.split()) + ","


@dataclass(frozen=True, slots=True)
class _Word:
    text: str  # lower case, letters and digits only
    start: int
    end: int


def strip_wake_phrase(text: str, phrase: str) -> str:
    """`text` without the wake phrase and anything said before it.

    Returns `text` unchanged when the phrase is not found near its start.
    """
    words = _words(text)
    phrase_words = phrase.lower().split()
    if not words or not phrase_words:
        return text
    found = _find_name(words, phrase_words, len(phrase_words) + _EXTRA_WORDS, MATCH_THRESHOLD)
    cut: int | None = None
    if found is not None:
        start, end = found
        cut = words[end].end
        said_before = any(w.text not in GREETINGS for w in words[:start])
        if said_before and not _WORD_RE.search(text[cut:]):
            return text  # the name closes the command ("what time is it, Jarvis?")
    else:
        # The name was lost but the greeting is there ("Hey, start a timer").
        lead = 0
        while lead < len(words) and lead < len(phrase_words) and words[lead].text in GREETINGS:
            lead += 1
        if lead == 0 or lead == len(words):
            return text
        cut = words[lead - 1].end
    rest = text[cut:].lstrip(" ,.;:!?-–—…\t\n")
    if rest and _starts_with_name(rest, phrase_words):
        # Forced as a prefix, the phrase can come out twice when the audio holds only it
        # ("Hey Jarvis, hey Jarvis"): the recognizer wrote the prefix, then what it heard.
        return strip_wake_phrase(rest, phrase)
    return rest[:1].upper() + rest[1:] if rest else ""


def _starts_with_name(text: str, phrase_words: list[str]) -> bool:
    words = _words(text)
    found = _find_name(words, phrase_words, len(phrase_words) + _EXTRA_WORDS, MATCH_THRESHOLD)
    return found is not None and all(w.text in GREETINGS for w in words[: found[0]])


def says_wake_phrase(text: str, phrase: str) -> bool:
    """Whether `text` (a transcript of the audio around a doubtful detection) holds the
    assistant's name, sounding close enough to be sure."""
    words = _words(text)
    phrase_words = phrase.lower().split()
    if not words or not phrase_words:
        return False
    return _find_name(words, phrase_words, len(words), VERIFY_THRESHOLD) is not None


def _words(text: str) -> list[_Word]:
    return [
        _Word(m.group().lower().replace("'", ""), m.start(), m.end())
        for m in _WORD_RE.finditer(text)
    ]


def _find_name(
    words: list[_Word], phrase_words: list[str], window: int, threshold: float
) -> tuple[int, int] | None:
    """(first, last) index of the words that say the assistant's name, the earliest among
    the first `window` words."""
    name_words = [w for w in phrase_words if w not in GREETINGS] or phrase_words
    name = "".join(name_words)
    for i in range(min(window, len(words))):
        # The name may come out as one word or split in two or three ("my craft", "nah boo").
        best, best_end = 0.0, i
        for j in range(i, min(i + len(name_words) + 2, len(words))):
            score = similarity("".join(w.text for w in words[i : j + 1]), name)
            if j > i:  # joined words must be closer: "jars of" is not "jarvis"
                score -= JOIN_PENALTY
            if score > best:
                best, best_end = score, j
        if best >= threshold:
            return i, best_end
    return None


def similarity(heard: str, name: str) -> float:
    """How alike two words are, in spelling or in sound (0-1)."""
    return max(_alike(heard, name), _alike(_sound(heard), _sound(name)))


def _alike(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    # A much shorter word is another word, however alike the letters ("jars" is not "jarvis").
    if min(len(a), len(b)) / max(len(a), len(b)) < 0.7:
        return 0.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


_SOUNDS: Final = (
    ("ph", "f"), ("ck", "k"), ("qu", "kw"), ("x", "ks"), ("c", "k"), ("q", "k"),
    ("z", "s"), ("y", "i"), ("v", "f"), ("w", "u"), ("j", "g"), ("d", "t"), ("b", "p"),
)  # fmt: skip


def _sound(word: str) -> str:
    """A rough spelling of how a word sounds: voiced and unvoiced pairs merged, h only at the
    start, doubled letters once."""
    s = word.lower()
    s = s[:1] + s[1:].replace("h", "")
    for old, new in _SOUNDS:
        s = s.replace(old, new)
    return re.sub(r"(.)\1+", r"\1", s)
