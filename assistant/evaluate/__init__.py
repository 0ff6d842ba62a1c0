"""Evaluations that print figures: ASR, wake word, intents, spoken commands end to end, time
expressions, and the report that gathers them (`sottovoce eval ...`, `sottovoce report`).

Each evaluation takes any set in the formats of ../shared/corpora/README.md, scores every row
it can, and reports the rows it cannot (`Problem`: file, line, why) instead of stopping.
Scores are deterministic for a given machine and set; timings (real-time factors, latencies)
are measured and vary from run to run.
"""

from assistant.evaluate.data import EvalError, Problem
from assistant.evaluate.wer import WordErrors, normalize_words, word_errors

__all__ = ["EvalError", "Problem", "WordErrors", "normalize_words", "word_errors"]
