"""Small judgements on a transcript: is it a question, is it "stop"?"""

from __future__ import annotations

import re

STOP_WORDS = frozenset({"stop", "cancel", "quiet", "enough", "shut up", "never mind", "nevermind"})
_WORD_RE = re.compile(r"[a-z']+")
_QUESTION_STARTS = frozenset(
    {"what", "what's", "whats", "when", "when's", "where", "where's", "who", "who's", "whom",
     "whose", "why", "how", "how's", "which", "is", "are", "am", "was", "were", "do", "does",
     "did", "can", "could", "will", "would", "should", "shall", "may", "might", "have", "has",
     "tell", "explain", "describe", "give", "define", "summarize"}
)  # fmt: skip


def looks_like_a_question(text: str) -> bool:
    """A question or a request for an answer ("tell me...", "and what about Paris?")."""
    words = _WORD_RE.findall(text.lower())
    while words and words[0] in {"and", "so", "then", "ok", "okay", "also", "but", "now"}:
        words = words[1:]
    return text.rstrip().endswith("?") or (bool(words) and words[0] in _QUESTION_STARTS)


def is_stop_phrase(text: str) -> bool:
    words = " ".join(_WORD_RE.findall(text.lower()))
    if not words or len(words.split()) > 4:
        return False
    return any(w in words for w in STOP_WORDS)
