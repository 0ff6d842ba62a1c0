"""A third-party skill, installed with pip from its own package, answers a spoken-style command
in `sottovoce run`: its entry point is found, its sentence file read from the installed package,
its slots shaped, its reply spoken (tests/data/skill_package, docs/skills.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "tests" / "data" / "skill_package"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The skill package, built and installed offline into a folder of its own."""
    source = tmp_path_factory.mktemp("source") / "skill_package"
    shutil.copytree(PACKAGE, source)  # pip builds in the tree: keep tests/ clean
    target = tmp_path_factory.mktemp("site")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(target), str(source)],
        check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # Building needs setuptools >= 70.1 in the environment (the dev extra; scripts/setup.sh).
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (target / "sottovoce_tea" / "tea.yaml").is_file()  # the sentences ship in the wheel
    return target


def sottovoce(*args: str, home: Path, path: Path) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join(p for p in (str(path), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SOTTOVOCE_HOME": str(home), "PYTHONPATH": pythonpath},
        cwd=REPO,
        timeout=300,
        check=False,
    )


def test_a_pip_installed_skill_answers_a_spoken_command(installed: Path, tmp_path: Path) -> None:
    said = "Hey Jarvis, um, how long should I steep my Earl Grey?"
    result = sottovoce("run", "--text", said, "--json", "--output", "null",
                       home=tmp_path, path=installed)  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    (intent,) = [e for e in events if e["event"] == "intent_recognized"]
    assert (intent["name"], intent["slots"], intent["source"]) == (
        "tea.steep", {"tea": "black", "minutes": 4}, "template"
    )  # fmt: skip
    assert [e["text"] for e in events if e["event"] == "reply"] == [
        "Steep black tea for 4 minutes."
    ]
    assert "sentence file" not in result.stderr  # no skill was left out


def test_without_the_package_the_command_is_an_open_question(tmp_path: Path) -> None:
    result = sottovoce("intent", "--no-semantic", "--json", "how long should I steep my earl grey",
                       home=tmp_path, path=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["intent"] == "answer"
