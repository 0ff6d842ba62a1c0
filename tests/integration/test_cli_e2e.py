"""`sottovoce run` end to end on real models: WAV in, events out, spoken reply in a WAV."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.app import bundled_sample
from assistant.audio_io import read_wav_16k_mono

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def sottovoce(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOTTOVOCE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def whisper():  # type: ignore[no-untyped-def]
    from models.asr import load_recognizer

    return load_recognizer("whisper")


def test_run_sample_to_wav(tmp_path: Path, whisper) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "reply.wav"
    before = dt.datetime.now()
    result = sottovoce(
        "run", "--input", str(bundled_sample()), "--output", str(out), "--json", home=tmp_path
    )
    after = dt.datetime.now()
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    for expected in (
        "ready",
        "wake_detected",
        "speech_started",
        "speech_ended",
        "transcript",
        "intent_recognized",
        "reply",
        "audio_out_started",
        "audio_out_finished",
        "turn_ended",
        "stopped",
    ):
        assert expected in kinds, (expected, kinds)
    transcript = next(e for e in events if e["event"] == "transcript")
    assert "time" in transcript["text"].lower()
    assert "jarvis" not in transcript["text"].lower()  # the command, not the wake word
    intent = next(e for e in events if e["event"] == "intent_recognized")
    assert intent["name"] == "time.query"
    # The reply audio says the time: transcribe it back and find the hour.
    heard = whisper.transcribe(read_wav_16k_mono(out)).lower()
    hours = {str(t.hour % 12 or 12) for t in (before, after)}
    words = {
        "1": "one",
        "2": "two",
        "3": "three",
        "4": "four",
        "5": "five",
        "6": "six",
        "7": "seven",
        "8": "eight",
        "9": "nine",
        "10": "ten",
        "11": "eleven",
        "12": "twelve",
    }
    # Whisper writes "9 57", "9:57" or "957" for the same spoken words.
    numbers = re.findall(r"\d+", heard.replace(":", " "))
    found = {n[:-2] if len(n) >= 3 else n for n in numbers}
    found |= {h for h, w in words.items() if w in heard}
    # Homophones tiny.en writes for a spoken hour ("It's 4:36" came back "it's for 36").
    sounds_like = {"1": ("won",), "2": ("to", "too"), "4": ("for", "fore"), "8": ("ate",)}
    spoken = set(re.findall(r"[a-z]+", heard))
    found |= {h for h, alike in sounds_like.items() if spoken & set(alike)}
    # Or the minutes, when the hour came back as another word ("It's 8:27" as "it's a 27").
    minutes = {str(t.minute) for t in (before, after) if t.minute >= 10}
    assert hours & found or minutes & set(numbers), heard


def test_run_text_turn(tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    result = sottovoce(
        "run", "--text", "what's the date today", "--output", str(out), home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Today is" in result.stdout
    assert len(read_wav_16k_mono(out)) > 16_000


def test_silence_says_no_speech_and_exits_zero(tmp_path: Path) -> None:
    from assistant.wav_io import WavWriter

    silence = tmp_path / "silence.wav"
    writer = WavWriter(silence, 16_000)
    writer.write(np.zeros(32_000, dtype=np.int16))
    writer.close()
    result = sottovoce("run", "--input", str(silence), "--output", "null", home=tmp_path)
    assert result.returncode == 0
    assert "no speech heard" in result.stderr.lower()


def test_not_a_wav_names_the_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("this is not audio")
    result = sottovoce("run", "--input", str(bogus), "--output", "null", home=tmp_path)
    assert result.returncode == 1
    assert "notes.wav" in result.stderr


def test_unknown_engine_lists_choices(tmp_path: Path) -> None:
    result = sottovoce("transcribe", str(bundled_sample()), "--engine", "nope", home=tmp_path)
    assert result.returncode == 1
    assert "whisper" in result.stderr and "moonshine" in result.stderr


def test_invalid_config_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[asr]\nengine = "kaldi"\n')
    result = sottovoce("config", home=tmp_path)
    assert result.returncode == 1
    assert "asr.engine" in result.stderr and "whisper" in result.stderr


def test_transcribe_sample(tmp_path: Path) -> None:
    result = sottovoce("transcribe", str(bundled_sample()), "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    text = json.loads(result.stdout)["text"].lower()
    assert "jarvis" in text and "time" in text


def test_glasses_input_without_paired_glasses_says_how_to_pair(tmp_path: Path) -> None:
    result = sottovoce("run", "--input", "glasses", home=tmp_path)
    assert result.returncode == 1
    assert "glasses pair" in result.stderr and "simulate" in result.stderr


def test_missing_input_file_is_named_before_models_load(tmp_path: Path) -> None:
    result = sottovoce("run", "--input", str(tmp_path / "nope.wav"), home=tmp_path)
    assert result.returncode == 1
    assert "nope.wav: no such file" in result.stderr
