"""Word error rate with one documented text normalisation, applied to reference and hypothesis.

Normalisation, in order (`normalize_words`):
1. Unicode NFKC, lower case, typographic apostrophes to "'".
2. Digits: commas between digits are dropped ("1,000" -> "1000"), a point between digits is
   the word "point", "%" is "percent", "&" is "and", "5th"/"1st" are "5 th"/"1 th".
3. Punctuation is removed; hyphens and slashes split words; apostrophes inside words stay
   ("don't"), others go.
4. Hesitations (uh, um, umm, uhm, hmm, mm, er, erm, ah) are dropped.
5. Numbers spoken as words become digits ("twenty five" -> 25, "one hundred and five" -> 105,
   "first" -> "1 th"; "oh" next to another number is 0), and then **every number is spelled
   digit by digit**: "10" and "ten" both become "1 0", "1,0001" becomes "1 0 0 0 1", and
   "nineteen eighty four" and "1984" both "1 9 8 4". Digit strings (phone numbers, codes) and
   quantities thus compare equal however the recognizer chose to write them; each digit counts
   as one word, so a wrong number costs one error per wrong digit.
Contractions, spelling variants (colour/color) and abbreviations are not expanded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

_UNITS: Final = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS: Final = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS: Final = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_ORDINALS: Final = {
    "first": ("unit", 1), "second": ("unit", 2), "third": ("unit", 3), "fourth": ("unit", 4),
    "fifth": ("unit", 5), "sixth": ("unit", 6), "seventh": ("unit", 7), "eighth": ("unit", 8),
    "ninth": ("unit", 9), "tenth": ("teen", 10), "eleventh": ("teen", 11),
    "twelfth": ("teen", 12), "thirteenth": ("teen", 13), "fourteenth": ("teen", 14),
    "fifteenth": ("teen", 15), "sixteenth": ("teen", 16), "seventeenth": ("teen", 17),
    "eighteenth": ("teen", 18), "nineteenth": ("teen", 19), "twentieth": ("tens", 20),
    "thirtieth": ("tens", 30), "fortieth": ("tens", 40), "fiftieth": ("tens", 50),
    "sixtieth": ("tens", 60), "seventieth": ("tens", 70), "eightieth": ("tens", 80),
    "ninetieth": ("tens", 90), "hundredth": ("hundred", 100), "thousandth": ("big", 1000),
}  # fmt: skip
_BIG: Final = {"thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_HESITATIONS: Final = frozenset({"uh", "um", "umm", "uhm", "hmm", "mm", "er", "erm", "ah"})
_ORDINAL_MARK: Final = "th"


def normalize_words(text: str) -> list[str]:
    """The words WER is computed on (see the module docstring for the rules)."""
    s = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    s = re.sub(r"(?<=\d),(?=\d)", "", s)
    s = re.sub(r"(?<=\d)\.(?=\d)", " point ", s)
    s = s.replace("%", " percent ").replace("&", " and ")
    s = re.sub(r"(\d)(?:st|nd|rd|th)\b", rf"\1 {_ORDINAL_MARK}", s)
    s = re.sub(r"(\d)([^\W\d_])", r"\1 \2", s)
    s = re.sub(r"([^\W\d_])(\d)", r"\1 \2", s)
    s = re.sub(r"[^\w\s']|_", " ", s)
    words = [w.strip("'") for w in s.split()]
    words = [w for w in words if w and w not in _HESITATIONS]
    return _spell_digits(_numbers_to_digits(words))


def _kind(word: str) -> tuple[str, int] | None:
    if word in _UNITS:
        return "unit", _UNITS[word]
    if word in _TEENS:
        return "teen", _TEENS[word]
    if word in _TENS:
        return "tens", _TENS[word]
    if word == "hundred":
        return "hundred", 100
    if word in _BIG:
        return "big", _BIG[word]
    return None


def _is_number(words: list[str], i: int) -> bool:
    return 0 <= i < len(words) and (
        _kind(words[i]) is not None or words[i] in _ORDINALS or words[i].isdigit()
    )


def _numbers_to_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if (
            word == "a"
            and i + 1 < len(words)
            and (words[i + 1] == "hundred" or words[i + 1] in _BIG)
        ):
            word = words[i] = "one"  # "a hundred" is one hundred
        if word == "oh" and (_is_number(words, i - 1) or _is_number(words, i + 1)):
            out.append("0")
            i += 1
            continue
        value, used, ordinal = _read_number(words, i)
        if used == 0:
            out.append(word)
            i += 1
            continue
        out.append(str(value))
        if ordinal:
            out.append(_ORDINAL_MARK)
        i += used
    return out


def _read_number(words: list[str], start: int) -> tuple[int, int, bool]:
    """Read one spelled number at words[start]: (value, words used, is it an ordinal)."""
    total = current = 0
    last = ""  # kind of the previous number word
    i = start
    while i < len(words):
        word = words[i]
        ordinal = word in _ORDINALS
        kind_value = _ORDINALS[word] if ordinal else _kind(word)
        if kind_value is None:
            if word == "and" and last in ("hundred", "big") and _spelled(words, i + 1):
                i += 1
                continue
            break
        kind, value = kind_value
        after_round = last in ("", "hundred", "big")  # "twenty" may follow these, "two" too
        if (kind == "unit" and (after_round or last == "tens")) or (
            kind in ("teen", "tens") and after_round
        ):
            current += value
        elif kind == "hundred" and last in ("unit", "teen", "tens") and current % 100:
            current = current * 100
        elif kind == "big" and last in ("unit", "teen", "tens", "hundred"):
            total += current * value
            current = 0
        else:
            break
        last = kind
        i += 1
        if ordinal:
            return total + current, i - start, True
    return total + current, i - start, False


def _spelled(words: list[str], i: int) -> bool:
    return 0 <= i < len(words) and (_kind(words[i]) is not None or words[i] in _ORDINALS)


def _spell_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if word.isdigit():
            out.extend(word)
        else:
            out.append(word)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class WordErrors:
    """Edit counts of one hypothesis against one reference, after normalisation."""

    reference_words: int
    substitutions: int
    deletions: int
    insertions: int
    edits: tuple[str, ...]  # "ref->hyp", "-ref" (deleted), "+hyp" (inserted), in order

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.reference_words:
            return self.errors / self.reference_words
        return 0.0 if not self.insertions else 1.0


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Levenshtein alignment of the normalised words (ties prefer substitutions)."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    rows, cols = len(ref) + 1, len(hyp) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            same = ref[i - 1] == hyp[j - 1]
            cost[i][j] = min(
                cost[i - 1][j - 1] + (0 if same else 1), cost[i - 1][j] + 1, cost[i][j - 1] + 1
            )
    edits: list[str] = []
    subs = dels = ins = 0
    i, j = len(ref), len(hyp)
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            if ref[i - 1] != hyp[j - 1]:
                subs += 1
                edits.append(f"{ref[i - 1]}->{hyp[j - 1]}")
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            dels += 1
            edits.append(f"-{ref[i - 1]}")
            i -= 1
        else:
            ins += 1
            edits.append(f"+{hyp[j - 1]}")
            j -= 1
    return WordErrors(
        reference_words=len(ref),
        substitutions=subs,
        deletions=dels,
        insertions=ins,
        edits=tuple(reversed(edits)),
    )
