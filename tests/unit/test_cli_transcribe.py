"""`sottovoce transcribe`: silence and noise are "No speech heard.", never a hallucinated word
(issue 13, defect 11: Whisper says "you" to three seconds of silence)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant import cli, engines
from assistant.app import bundled_sample
from assistant.speech_gate import has_speech, speech_seconds
from assistant.wav_io import read_wav_16k_mono
from models.protocols import SAMPLE_RATE, Pcm
from models.vad import load_vad
from tests.audio_signals import tone, wav_bytes


class HallucinatingRecognizer:
    """Says "you" to anything, as Whisper tiny.en does to silence."""

    name = "whisper"

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(self, pcm: Pcm) -> str:
        self.calls += 1
        return " you"


@pytest.fixture
def recognizer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HallucinatingRecognizer:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    fake = HallucinatingRecognizer()
    monkeypatch.setattr(engines, "load_recognizer", lambda *a, **k: fake)
    return fake


def _wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    path.write_bytes(wav_bytes(samples, rate))
    return path


def _quiet_signals(seconds: float) -> dict[str, np.ndarray]:
    n = round(SAMPLE_RATE * seconds)
    noise = np.random.default_rng(7).standard_normal(n)
    return {
        "digital silence": np.zeros(n),
        "room noise": noise * 0.001,
        "loud noise": noise * 0.2,
        "mains hum": tone(50, SAMPLE_RATE, seconds, amplitude=0.1),
        "a beep": tone(1000, SAMPLE_RATE, seconds, amplitude=0.3),
    }


@pytest.mark.parametrize("seconds", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("kind", list(_quiet_signals(0.1)))
def test_no_speech_is_said_so_and_never_recognized(
    tmp_path: Path,
    recognizer: HallucinatingRecognizer,
    capsys: pytest.CaptureFixture[str],
    seconds: float,
    kind: str,
) -> None:
    path = _wav(tmp_path / "quiet.wav", _quiet_signals(seconds)[kind])
    assert cli.main(["transcribe", str(path)]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "No speech heard." in out.err
    assert recognizer.calls == 0


def test_no_speech_as_json(
    tmp_path: Path, recognizer: HallucinatingRecognizer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _wav(tmp_path / "quiet.wav", np.zeros(SAMPLE_RATE * 2))
    assert cli.main(["transcribe", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"] == "" and result["speech"] is False and result["audio_s"] == 2.0


def test_speech_is_recognized(
    recognizer: HallucinatingRecognizer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["transcribe", str(bundled_sample()), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["speech"] is True and result["text"] == "you" and recognizer.calls == 1


def test_an_unknown_engine_fails_even_on_silence(
    tmp_path: Path, recognizer: HallucinatingRecognizer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _wav(tmp_path / "quiet.wav", np.zeros(SAMPLE_RATE))
    assert cli.main(["transcribe", str(path), "--engine", "kaldi"]) == 1
    assert "whisper, moonshine, vosk" in capsys.readouterr().err


def test_the_gate_stops_at_the_first_speech() -> None:
    speech = read_wav_16k_mono(bundled_sample())
    vad = load_vad()
    assert speech_seconds(speech, vad, threshold=0.5) > 1.0
    assert speech_seconds(speech, vad, threshold=0.5, stop_at_s=0.1) < 0.2
    assert has_speech(speech, vad, threshold=0.5)
    assert not has_speech(np.zeros(SAMPLE_RATE, dtype=np.int16), vad, threshold=0.5)
    assert not has_speech(speech[:100], vad, threshold=0.5)  # shorter than a frame
