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
