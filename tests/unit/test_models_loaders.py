"""Loader errors that must say what to do, all raised before any model is loaded."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from models.asr import load_recognizer
from models.catalog import ASR_ENGINES, DEFAULT_ASR_ENGINE
from models.errors import (
    MissingPackageError,
    ModelFileError,
    UnknownEngineError,
    UnsupportedLanguageError,
)
from models.tts import load_synthesizer
from models.vad import SileroVad


def test_unknown_asr_engine_lists_the_choices() -> None:
    with pytest.raises(UnknownEngineError) as caught:
        load_recognizer("kaldi")
    assert caught.value.choices == ["whisper", "moonshine", "vosk"]
    assert "whisper, moonshine, vosk" in caught.value.message


def test_default_asr_engine_is_a_choice() -> None:
    assert DEFAULT_ASR_ENGINE in ASR_ENGINES


@pytest.mark.parametrize(
    ("engine", "module", "command"),
    [
        ("moonshine", "moonshine_voice", "pip install 'moonshine-voice==0.1.0'"),
        ("whisper", "faster_whisper", "pip install 'faster-whisper==1.2.1'"),
    ],
)
def test_missing_engine_package_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, engine: str, module: str, command: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingPackageError) as caught:
        load_recognizer(engine)
    assert command in caught.value.message


@pytest.mark.parametrize("engine", ASR_ENGINES)
def test_model_path_that_does_not_exist(engine: str, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        load_recognizer(engine, model_path=str(tmp_path / "nowhere"))


def test_whisper_refuses_a_folder_without_model_bin(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"model\.bin"):
        load_recognizer("whisper", model_path=str(tmp_path))


def test_moonshine_names_the_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"tokenizer\.bin"):
        load_recognizer("moonshine", model_path=str(tmp_path))


@pytest.mark.parametrize("engine", ["whisper", "moonshine"])
def test_bundled_english_models_refuse_other_languages(engine: str) -> None:
    with pytest.raises(UnsupportedLanguageError, match="'de'"):
        load_recognizer(engine, language="de")


def test_vosk_without_a_model_folder_explains_where_to_get_one() -> None:
    with pytest.raises(ModelFileError) as caught:
        load_recognizer("vosk", language="en")
    message = caught.value.message
    assert "alphacephei.com/vosk/models" in message
    assert "model path" in message


def test_missing_voice_file_is_named(tmp_path: Path) -> None:
    voice = tmp_path / "en_US-someone-medium.onnx"
    with pytest.raises(ModelFileError, match=re.escape(str(voice))):
        load_synthesizer(str(voice))


def test_missing_voice_config_is_named(tmp_path: Path) -> None:
    voice = tmp_path / "en_US-someone-medium.onnx"
    voice.write_bytes(b"onnx")
    with pytest.raises(ModelFileError, match=re.escape(f"{voice}.json")):
        load_synthesizer(str(voice))
    explicit = tmp_path / "elsewhere.json"
    with pytest.raises(ModelFileError, match=re.escape(str(explicit))):
        load_synthesizer(str(voice), config_path=str(explicit))


class RecordingSilero:
    def __init__(self) -> None:
        self.samples: list[float] = []

    def process_samples(self, samples: list[float]) -> float:
        self.samples = samples
        return 0.25

    def reset(self) -> None:
        pass


def test_vad_scales_int16_to_unit_floats() -> None:
    silero = RecordingSilero()
    vad = SileroVad(silero)
    frame = np.zeros(vad.frame_samples, dtype=np.int16)
    frame[:3] = (16384, -32768, 32767)
    assert vad.probability(frame) == 0.25
    assert silero.samples[:4] == [0.5, -1.0, pytest.approx(1.0, abs=1e-4), 0.0]
    assert len(silero.samples) == 512


def test_vad_refuses_frames_of_the_wrong_size() -> None:
    vad = SileroVad(RecordingSilero())
    with pytest.raises(ValueError, match="512"):
        vad.probability(np.zeros(480, dtype=np.int16))
