"""`run --input mic` with no microphone is an error with the fix; the quick start (`run` with no
--input) still falls back to the bundled sample (issue 13, what a new user trips over)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from assistant import app, audio_io, cli
from assistant import config as cfg
from assistant.errors import AudioError


class NoMicrophone:
    devices: ClassVar[list[object]] = []

    def __init__(self, device: str | int | None = None, **_: object) -> None:
        type(self).devices.append(device)
        raise AudioError(
            "No microphone found: PortAudio sees no input device. Connect one, or use "
            "--input FILE.wav.",
            code="no_input_device",
        )


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    monkeypatch.setattr(audio_io, "MicrophoneSource", NoMicrophone)
    NoMicrophone.devices = []
    calls: list[dict[str, Any]] = []

    def fake_run(settings: cfg.Settings, **kwargs: Any) -> int:
        calls.append({"settings": settings, **kwargs})
        return 0

    monkeypatch.setattr(app, "run", fake_run)
    return calls


def test_input_mic_without_a_microphone_is_an_error(
    runs: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--input", "mic"]) == 1
    err = capsys.readouterr().err
    assert "No microphone found" in err and "--input FILE.wav" in err
    assert "without --input" in err or "no --input" in err  # where the sample went
    assert runs == []  # no models loaded, no sample played


def test_the_quick_start_still_runs(runs: list[dict[str, Any]]) -> None:
    assert cli.main(["run"]) == 0
    assert len(runs) == 1 and NoMicrophone.devices == []  # the sample fallback is app's


def test_text_needs_no_microphone(runs: list[dict[str, Any]]) -> None:
    assert cli.main(["run", "--input", "mic", "--text", "what time is it"]) == 0
    assert len(runs) == 1


def test_the_quick_start_plan_is_the_bundled_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_io, "MicrophoneSource", NoMicrophone)
    plan = app.plan_run(cfg.replace(cfg.Settings(), "audio", output="null"), text=None)
    assert isinstance(plan.source, audio_io.WavFileSource)
    assert plan.source.path == app.bundled_sample()


def test_a_device_index_from_the_config_reaches_the_microphone(
    runs: list[dict[str, Any]], tmp_path: Path
) -> None:
    (tmp_path / "config.toml").write_text("[audio]\ninput_device = 3\n")
    assert cli.main(["run", "--input", "mic"]) == 1
    assert NoMicrophone.devices == [3]
