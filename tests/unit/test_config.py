"""Config: defaults, validation messages that name the field, paths under SOTTOVOCE_HOME."""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import tomllib
from collections.abc import Callable
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


# --- hostile input (issue 13, defect 8; new-user trips) ---------------------------------------

FLOAT_FIELDS = [
    (section.name, f.name)
    for section in dataclasses.fields(cfg.Settings)
    for f in dataclasses.fields(section.default_factory())  # type: ignore[misc]
    if f.type in ("float", float)
]


def test_every_float_setting_is_covered() -> None:
    assert ("vad", "threshold") in FLOAT_FIELDS and ("vad", "max_utterance_s") in FLOAT_FIELDS
    assert len(FLOAT_FIELDS) >= 10


@pytest.mark.parametrize(("section", "name"), FLOAT_FIELDS)
@pytest.mark.parametrize("bad", ["nan", "+nan", "-nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_naming_the_field(
    tmp_path: Path, section: str, name: str, bad: str
) -> None:
    f = tmp_path / "c.toml"
    f.write_text(f"[{section}]\n{name} = {bad}\n")
    with pytest.raises(ConfigError) as info:
        cfg.load_settings(f)
    assert f"{section}.{name}" in info.value.message
    assert "finite" in info.value.message or "out of range" in info.value.message


@pytest.mark.parametrize(("section", "name"), FLOAT_FIELDS)
def test_every_float_setting_has_a_range(section: str, name: str) -> None:
    cls = type(getattr(cfg.Settings(), section))
    meta = {f.name: f.metadata for f in dataclasses.fields(cls)}[name]
    assert meta["lo"] is not None and meta["hi"] is not None
    with pytest.raises(ConfigError, match=rf"{section}\.{name}"):
        cfg.parse_settings({section: {name: meta["hi"] + 1e6}})
    with pytest.raises(ConfigError, match=rf"{section}\.{name}"):
        cfg.parse_settings({section: {name: meta["lo"] - 1e6}})


def test_cli_flags_refuse_nan_too() -> None:
    with pytest.raises(ConfigError, match=r"vad\.threshold"):
        cfg.replace(cfg.Settings(), "vad", threshold=math.nan)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as info:
        _in_thread(lambda: cfg.load_settings(fifo), unblock=lambda: _open_writer(fifo))
    assert str(fifo) in info.value.message and "not a regular file" in info.value.message


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        cfg.load_settings(tmp_path)


def test_a_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    loop = tmp_path / "config.toml"
    loop.symlink_to(tmp_path / "other.toml")
    (tmp_path / "other.toml").symlink_to(loop)
    with pytest.raises(ConfigError) as info:
        cfg.load_settings(loop)
    assert str(loop) in info.value.message and "symbolic links" in info.value.message


def test_config_init_on_a_symlink_loop_does_not_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant import cli

    loop = tmp_path / "config.toml"
    loop.symlink_to(tmp_path / "other.toml")
    (tmp_path / "other.toml").symlink_to(loop)
    assert cli.main(["--config", str(loop), "config", "--init"]) == 1
    err = capsys.readouterr().err
    assert str(loop) in err and "Traceback" not in err
    assert loop.is_symlink()  # left alone


def test_config_init_writes_once_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant import cli

    path = tmp_path / "sub" / "config.toml"
    assert cli.main(["--config", str(path), "config", "--init"]) == 0
    written = path.read_text()
    assert cfg.load_settings(path)[0] == cfg.Settings()
    assert cli.main(["--config", str(path), "config", "--init"]) == 0
    assert "already exists" in capsys.readouterr().err
    assert path.read_text() == written


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_bytes(b"\xef\xbb\xbf" + b'[wake]\nmodel = "alexa"\n')
    assert cfg.load_settings(f)[0].wake.model == "alexa"


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    with pytest.raises(ConfigError, match="too large"):
        cfg.load_settings(f)


@pytest.mark.parametrize("name", ["hey_siri", "computer", "jarvis"])
def test_unknown_wake_word_names_the_field_and_the_choices(tmp_path: Path, name: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(f'[wake]\nmodel = "{name}"\n')
    with pytest.raises(ConfigError) as info:
        cfg.load_settings(f)
    message = info.value.message
    assert "wake.model" in message and repr(name) in message
    assert "hey_jarvis, alexa, hey_mycroft, okay_nabu, hey_rhasspy" in message
    assert ".tflite" in message  # the fix for your own word


@pytest.mark.parametrize("name", ["alexa", "Hey Jarvis", "hey-mycroft", "/models/mine.tflite"])
def test_bundled_names_and_tflite_paths_are_accepted(name: str) -> None:
    assert cfg.parse_settings({"wake": {"model": name}}).wake.model == name


@pytest.mark.parametrize(("value", "expected"), [(3, "3"), (0, "0"), ("3", "3"), ("USB", "USB")])
def test_input_device_takes_an_index(value: object, expected: str) -> None:
    settings = cfg.parse_settings({"audio": {"input_device": value, "output_device": value}})
    assert settings.audio.input_device == expected == settings.audio.output_device


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_input_device_refuses_other_numbers(value: object) -> None:
    with pytest.raises(ConfigError, match=r"audio\.input_device"):
        cfg.parse_settings({"audio": {"input_device": value}})


def _open_writer(fifo: Path) -> None:
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a reader blocked in open() returns


def _in_thread(
    call: Callable[[], object], timeout_s: float = 5.0, unblock: Callable[[], None] | None = None
) -> object:
    """Run `call` in a daemon thread; fail (instead of hanging the suite) if it blocks."""
    outcome: list[object] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(call())
        except BaseException as err:
            failure.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        if unblock is not None:
            unblock()
        pytest.fail(f"blocked for more than {timeout_s} s")
    if failure:
        raise failure[0]
    return outcome[0]
