"""`podcasts play` with no speaker names this command's own option, `--out` (issue 13: the
message said `--output`, which `podcasts play` does not have)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from assistant import audio_speaker, podcasts_cli
from assistant.errors import AudioError


class NoDevices:
    default = SimpleNamespace(device=(-1, -1))

    def query_devices(self) -> list[object]:
        return []


def _play_args(**overrides: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    podcasts_cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["podcasts", "play", "Show"])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_no_speaker_suggests_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_speaker, "import_sounddevice", NoDevices)
    with pytest.raises(AudioError) as caught:
        podcasts_cli._sink(_play_args())
    message = caught.value.message
    assert "--out FILE.wav" in message and "--output" not in message
    assert "No speaker found" in message
    assert "--out" in {a for action in _play_actions() for a in action.option_strings}


def test_no_portaudio_suggests_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> object:
        raise AudioError("Sound devices need PortAudio ..., or use --input FILE.wav.")

    monkeypatch.setattr(audio_speaker, "import_sounddevice", missing)
    with pytest.raises(AudioError) as caught:
        podcasts_cli._sink(_play_args())
    assert "--out FILE.wav" in caught.value.message and "--input" not in caught.value.message


def _play_actions() -> list[argparse.Action]:
    parser = argparse.ArgumentParser()
    podcasts_cli.add_parsers(parser.add_subparsers())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    podcasts = sub.choices["podcasts"]
    commands = next(a for a in podcasts._actions if isinstance(a, argparse._SubParsersAction))
    return list(commands.choices["play"]._actions)
