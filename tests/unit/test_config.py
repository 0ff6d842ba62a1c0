"""Config: defaults, validation messages that name the field, paths under SOTTOVOCE_HOME."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assistant import config as cfg
from assistant.errors import ConfigError
from assistant.paths import config_path, data_dir


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    settings, path = cfg.load_settings(tmp_path / "none.toml")
    assert settings == cfg.Settings()
    assert path == tmp_path / "none.toml"


def test_reads_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[wake]\nmodel = "alexa"\nthreshold = 0.7\n[asr]\nengine = "moonshine"\n')
    settings, _ = cfg.load_settings(f)
    assert settings.wake.model == "alexa"
    assert settings.wake.threshold == 0.7
    assert settings.asr.engine == "moonshine"
    assert settings.vad == cfg.VadSettings()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[asr]\nengine = "kaldi"\n', "asr.engine"),
        ("[asr]\nthreads = 1.5\n", "whole number"),
        ("[wake]\nthreshold = 3\n", "out of range"),
        ('[wake]\nthreshold = "high"\n', "must be a number"),
        ("[wake]\nsensitivity = 1\n", "Allowed: model, threshold, refractory_s"),
        ("[speech]\nx = 1\n", "unknown section [speech]"),
        ('[dialog]\nbarge_in = "yes"\n', "true or false"),
        ("wake = 3\n", "must be a table"),
        ("[wake\n", "not valid TOML"),
    ],
)
def test_invalid_files_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        cfg.load_settings(f)
    assert needle in info.value.message
    assert f.read_text() == text  # never rewritten


def test_choices_are_listed() -> None:
    with pytest.raises(ConfigError, match="whisper, moonshine, vosk"):
        cfg.parse_settings({"asr": {"engine": "kaldi"}})
    with pytest.raises(ConfigError, match="always, tap"):
        cfg.parse_settings({"audio": {"glasses_mic": "sometimes"}})
    assert cfg.parse_settings({"audio": {"glasses_mic": "tap"}}).audio.glasses_mic == "tap"


def test_toml_round_trip_documents_every_field() -> None:
    text = cfg.to_toml(cfg.Settings())
    assert cfg.parse_settings(tomllib.loads(text)) == cfg.Settings()
    fields = sum(1 for line in text.splitlines() if "=" in line and not line.startswith("#"))
    comments = sum(1 for line in text.splitlines() if line.startswith("# "))
    assert fields == comments


def test_replace_validates() -> None:
    settings = cfg.replace(cfg.Settings(), "audio", input="x.wav", paced=True)
    assert settings.audio.input == "x.wav" and settings.audio.paced
    with pytest.raises(ConfigError):
        cfg.replace(cfg.Settings(), "asr", engine="nope")


def test_home_overrides_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    assert config_path() == tmp_path / "config.toml"
    assert data_dir() == tmp_path / "data"
