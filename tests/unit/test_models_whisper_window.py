"""The short-window Whisper path falls back when its output loops or stops early."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from models.asr import (
    WhisperRecognizer,
    _looks_degenerate,
    _looks_truncated,
    _ShortDecode,
    spoken_words,
    voiced_speech,
)
from models.protocols import SAMPLE_RATE, Pcm

Floats = npt.NDArray[np.float32]


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


# --- truncation ----------------------------------------------------------------------------


def speech_like(pattern: list[tuple[float, bool]], noise: float = 1e-4) -> Floats:
    """Syllable-rate bursts of a buzzy tone (voiced) and quiet noise (silence), in turn."""
    rng = np.random.default_rng(7)
    parts = []
    for seconds, voiced in pattern:
        n = round(seconds * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        part = rng.normal(0.0, noise, n)
        if voiced:
            envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)  # ~4 syllables a second
            part += 0.3 * envelope * np.sign(np.sin(2 * np.pi * 140 * t))
        parts.append(part)
    return np.concatenate(parts).astype(np.float32)


def never_asked() -> float:
    raise AssertionError("the alignment was asked although the words settle it")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("What time is it?", 4),
        ("Set a timer for 20 minutes.", 6),
        ("1,0001 90210 01803", 9),  # 1 + 2 + 3 + 3
        ("10001.", 3),
        ("My phone number is 555-0192834", 10),
        ("It's 7:30.", 3),
        ("", 0),
    ],
)
def test_spoken_words_count_digits_as_they_are_said(text: str, words: int) -> None:
    assert spoken_words(text) == words


def test_voiced_speech_measures_the_loud_part_and_where_it_ends() -> None:
    audio = speech_like([(0.5, False), (2.0, True), (0.4, False), (1.0, True), (0.8, False)])
    voiced = voiced_speech(audio)
    assert 2.6 <= voiced.seconds <= 3.0
    assert voiced.end_s == pytest.approx(3.9, abs=0.05)
    assert voiced_speech(np.zeros(SAMPLE_RATE, dtype=np.float32)).seconds == 0.0
    assert voiced_speech(np.zeros(10, dtype=np.float32)).seconds == 0.0


def test_a_transcript_that_ends_early_is_truncated() -> None:
    """The case seen on an AMD EPYC: "10001." for 8 s of digits said one by one."""
    digits = speech_like([(0.5, False), (7.5, True), (0.3, False)])
    assert _looks_truncated("10001.", digits, lambda: 2.9)
    assert not _looks_truncated("1,0001 90210 01803", digits, lambda: 7.8)
    assert not _looks_truncated(
        "one zero zero zero one nine oh two one oh zero one eight zero three", digits, never_asked
    )


def test_far_fewer_words_than_the_speech_need_no_alignment() -> None:
    long_speech = speech_like([(0.3, False), (6.0, True), (0.3, False)])
    assert _looks_truncated("", long_speech, never_asked)
    assert _looks_truncated("Okay.", long_speech, never_asked)


def test_short_or_quiet_clips_are_never_called_truncated() -> None:
    assert not _looks_truncated("Stop.", speech_like([(0.4, False), (0.5, True)]), never_asked)
    assert not _looks_truncated("", np.zeros(3 * SAMPLE_RATE, dtype=np.float32), never_asked)


class _ScriptedWhisper(WhisperRecognizer):
    """The window logic with the model's decodes scripted: what each decode returns, and
    where the alignment puts the end of the short one's text."""

    def __init__(self, short: str, text_end_s: float, standard: str) -> None:
        super().__init__(model=None, language="en")
        self.short, self.end, self.standard = short, text_end_s, standard
        self.calls: list[str] = []

    def _transcribe_short(self, samples: Floats, prefix: str = "") -> _ShortDecode:
        self.calls.append("short")
        return _ShortDecode(text=self.short, tokens=[1], encoded=None, frames=len(samples) // 160)

    def _text_end_s(self, short: _ShortDecode) -> float:
        self.calls.append("align")
        return self.end

    def _transcribe_standard(self, samples: Floats, prefix: str = "") -> str:
        self.calls.append("standard")
        return self.standard


def pcm(audio: Floats) -> Pcm:
    return np.round(audio * 32767).astype(np.int16)


def test_a_truncated_short_decode_is_decoded_again_the_standard_way() -> None:
    digits = pcm(speech_like([(0.5, False), (7.5, True), (0.3, False)]))
    whisper = _ScriptedWhisper("10001.", 2.9, "1,0001 90210 01803")
    assert whisper.transcribe(digits) == "1,0001 90210 01803"
    assert whisper.calls == ["short", "align", "standard"]


def test_a_whole_short_decode_is_kept() -> None:
    command = pcm(speech_like([(0.3, False), (1.6, True), (0.5, False)]))
    whisper = _ScriptedWhisper("Set a timer for 20 minutes.", 1.8, "unused")
    assert whisper.transcribe(command) == "Set a timer for 20 minutes."
    assert whisper.calls == ["short"]  # six words in 1.6 s: no alignment needed
    slow = pcm(speech_like([(0.3, False), (3.5, True), (0.5, False)]))
    whisper = _ScriptedWhisper("Set a timer for 20 minutes.", 3.7, "unused")
    assert whisper.transcribe(slow) == "Set a timer for 20 minutes."
    assert whisper.calls == ["short", "align"]  # slow speech: aligned, ends with the speech


def test_long_audio_skips_the_short_window() -> None:
    whisper = _ScriptedWhisper("unused", 0.0, "a long talk")
    assert whisper.transcribe(pcm(speech_like([(12.0, True)]))) == "a long talk"
    assert whisper.calls == ["standard"]
