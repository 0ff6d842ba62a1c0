"""The short-window Whisper path falls back when its output loops."""

from __future__ import annotations

import pytest

from models.asr import _looks_degenerate


@pytest.mark.parametrize(
    ("text", "seconds", "looping"),
    [
        ("Yes, yes, yes, yes, yes,", 1.0, True),
        ("No. No. No.", 1.0, True),
        ("Police set it fire. Police set it fire. Police set", 1.8, True),
        ("And so my fellow Americans, ask not what your country can do for you", 6.0, False),
        ("one two three one two three", 3.0, False),
        ("1,0001 90210 01803", 8.3, False),
        ("What time is it?", 1.2, False),
        ("What time is it?", 0.7, False),  # a quick, tightly cut command
        ("the the the the the the the the the the", 1.0, True),
        ("What's it like outside? What's it like outside? What", 3.0, True),
        ("Play our Raman music. Play our Raman music. Play", 3.0, True),
        ("one two three one two three", 1.0, False),
        ("It is what it is", 1.0, False),
    ],
)
def test_looping_output_is_caught(text: str, seconds: float, looping: bool) -> None:
    assert _looks_degenerate(text, seconds) is looping
