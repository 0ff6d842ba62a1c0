"""`sottovoce doctor`: every area is checked and each problem carries its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import doctor


def test_every_area_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    checks = doctor.run_checks(None)
    areas = {c.area.split(":")[0] for c in checks}
    assert {"python", "config", "model", "bluetooth", "disk"} <= areas
    assert any(c.area == "model:lm" for c in checks)
    for check in checks:
        assert check.status in (doctor.OK, doctor.WARN, doctor.FAIL)
        if check.status != doctor.OK:
            assert check.fix, check


def test_broken_config_fails_with_a_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text("[vad]\nsilence_s = -1\n")
    config = next(c for c in doctor.run_checks(None) if c.area == "config")
    assert config.status == doctor.FAIL
    assert "vad.silence_s" in config.detail
    assert doctor.main(None, as_json=True) == 1


def test_a_muted_assistant_is_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.volume import OutputVolume

    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    volume = next(c for c in doctor.run_checks(None) if c.area == "volume")
    assert volume.status == doctor.OK and "level 8" in volume.detail
    OutputVolume.load(tmp_path / "data").mute()
    volume = next(c for c in doctor.run_checks(None) if c.area == "volume")
    assert volume.status == doctor.WARN and "unmute" in volume.fix


def test_an_unknown_wake_word_fails_with_the_names_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text('[wake]\nmodel = "hey_siri"\n')
    config = next(c for c in doctor.run_checks(None) if c.area == "config")
    assert config.status == doctor.FAIL
    assert "wake.model = 'hey_siri'" in config.detail and "hey_jarvis" in config.detail
    assert doctor.main(None, as_json=True) == 1


@pytest.mark.parametrize(("content", "problem"), [(None, "does not exist"), (b"x" * 16, "not a")])
def test_a_missing_or_bad_wake_word_file_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None, problem: str
) -> None:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    model = tmp_path / "mine.tflite"
    if content is not None:
        model.write_bytes(content)
    (tmp_path / "config.toml").write_text(f'[wake]\nmodel = "{model}"\n')
    wake = next(c for c in doctor.run_checks(None) if c.area == "wake")
    assert wake.status == doctor.FAIL and problem in wake.detail and "wake.model" in wake.detail
    assert "hey_jarvis" in wake.fix


def test_a_bundled_wake_word_is_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    wake = next(c for c in doctor.run_checks(None) if c.area == "wake")
    assert wake.status == doctor.OK and "hey_jarvis" in wake.detail
