"""The engine registry: reported without importing or loading any engine, and the one list that
config, doctor and the loaders read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from assistant import config as cfg
from assistant import doctor
from assistant.errors import ConfigError
from models import _packages as pk
from models import catalog
from models.catalog import ASR_ENGINES, Engine, Part, _status, describe_models
from models.errors import MissingPackageError

REPO = Path(__file__).resolve().parents[2]


def test_require_turns_import_error_into_pip_command() -> None:
    missing = pk.Package("no-such-engine", "no_such_engine_module", "9.9")
    with pytest.raises(MissingPackageError, match=r"pip install 'no-such-engine==9\.9'"):
        pk.require(missing, "Testing")


def test_describe_models_covers_every_role_and_engine() -> None:
    statuses = describe_models()
    assert {s.role for s in statuses} == {"wake word", "vad", "asr", "tts"}
    assert {s.name for s in statuses if s.role == "asr"} >= set(ASR_ENGINES)
    for status in statuses:
        assert (status.fix == "") == status.installed, status


_IMAGINARY: Final = Engine(
    role="asr",
    name="imaginary",
    parts=(Part("imaginary", pk.Package("no-such-engine", "no_such_mod", "1.0"), "m"),),
)


def test_missing_package_status_carries_the_pip_command() -> None:
    status = _status(_IMAGINARY, _IMAGINARY.parts[0])
    assert not status.installed and not status.required
    assert status.path is None
    assert status.fix == "pip install 'no-such-engine==1.0'"


def test_importing_models_and_describing_them_loads_no_engine() -> None:
    engines = [p.module for p in vars(pk).values() if isinstance(p, pk.Package)]
    engines += ["onnxruntime", "ctranslate2"]
    code = (
        "import sys, models; models.describe_models(); "
        f"print([m for m in {engines!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.stdout.strip() == "[]"


def test_every_role_has_one_default_engine_and_config_starts_on_it() -> None:
    for role in ("wake word", "vad", "asr", "tts"):
        assert [e.default for e in catalog.engines(role)].count(True) == 1, role
    settings = cfg.Settings()
    assert settings.asr.engine == catalog.default_engine("asr").name
    assert settings.wake.model == catalog.wake_word_models()[0]


def test_config_doctor_and_catalog_agree_on_the_engines() -> None:
    for name in ASR_ENGINES:
        assert cfg.parse_settings({"asr": {"engine": name}}).asr.engine == name
    with pytest.raises(ConfigError, match=", ".join(ASR_ENGINES)):
        cfg.parse_settings({"asr": {"engine": "kaldi"}})
    for name in catalog.wake_word_models():
        assert cfg.parse_settings({"wake": {"model": name}}).wake.model == name
    rows = [(f"model:{e.role}", p.label) for e in catalog.ENGINES for p in e.parts]
    checks = doctor._models()
    assert len(checks) == len(rows)
    assert [
        (c.area, c.detail[: len(label)]) for c, (_, label) in zip(checks, rows, strict=True)
    ] == rows


def test_one_registry_entry_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new engine in the registry is a config choice, a catalog row and a doctor check (a
    choice, so a warning while it is not installed), with nothing else to edit."""
    monkeypatch.setattr(catalog, "ENGINES", (*catalog.ENGINES, _IMAGINARY))
    assert cfg.parse_settings({"asr": {"engine": "imaginary"}}).asr.engine == "imaginary"
    assert describe_models()[-1].engine == "imaginary"
    (check,) = [c for c in doctor._models() if c.detail.startswith("imaginary")]
    assert (check.area, check.status) == ("model:asr", doctor.WARN)
    assert check.fix == "pip install 'no-such-engine==1.0'"
