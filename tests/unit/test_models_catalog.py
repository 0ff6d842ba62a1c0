"""The catalog of engines and packages: reported without importing or loading any engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models import _packages as pk
from models.catalog import ASR_ENGINES, _Entry, _status, describe_models
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


def test_missing_package_status_carries_the_pip_command() -> None:
    entry = _Entry("asr", "imaginary", pk.Package("no-such-engine", "no_such_mod", "1.0"), "m")
    status = _status(entry)
    assert not status.installed
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
