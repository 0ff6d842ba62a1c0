"""`eval e2e` on clips that scripts/make_e2e_set.py speaks with espeak-ng and flite: the rows go
through the turn pipeline exactly as `sottovoce run --input FILE.wav` takes them."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from assistant.evaluate import e2e

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def make_set_module() -> ModuleType:
    path = REPO / "scripts" / "make_e2e_set.py"
    spec = importlib.util.spec_from_file_location("make_e2e_set", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def voices(mk: ModuleType) -> list[Any]:
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed (apt-get install sox): the set cannot be built")
    have = [tts for tts in ("espeak-ng", "flite") if shutil.which(tts)]
    if not have:
        pytest.skip("neither espeak-ng nor flite is installed (apt-get install espeak-ng flite)")
    wanted = {"espeak-ng": "en-us s150", "flite": "slt"}
    return [v for v in mk.VOICES if v.tts in have and v.name == wanted[v.tts]]


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three commands after a pause, one straight on, and two clips without the wake word."""
    mk = make_set_module()
    chosen = voices(mk)
    rows = [
        ("time.query", "what time is it", "pause"),
        ("timer.start", "set a timer for five minutes", "pause"),
        ("volume.up", "turn the volume up", "pause"),
        ("time.query", "what's the date today", "straight"),
        ("", "the bus was late again this morning", "none"),
        ("", "could you pass me the salt", "none"),
    ]
    folder = tmp_path_factory.mktemp("spoken")
    (folder / "wav").mkdir()
    table = ["file\ttext\tintent\twake_word\tstyle\ttts"]
    with_wake = "hey jarvis"
    work = tmp_path_factory.mktemp("work")
    speaker = mk.Speaker(work)
    for i, (intent, text, style) in enumerate(rows):
        voice = chosen[i % len(chosen)]
        wake = with_wake if style != "none" else ""
        said = f"{with_wake} {text}" if style == "straight" else text
        clip = mk.Clip(f"c{i}.wav", text, intent, wake, style, voice, said)
        mk.build(clip, speaker, folder / "wav" / clip.file)
        table.append(f"wav/{clip.file}\t{text}\t{intent}\t{wake}\t{style}\t{voice.tts}")
    (folder / "labels.tsv").write_text("\n".join(table) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def report(spoken: Path) -> e2e.E2eReport:
    return e2e.evaluate(spoken, ["whisper"])


def test_e2e_runs_every_clip_through_the_pipeline(report: e2e.E2eReport) -> None:
    assert report.problems == [] and report.rows == 6
    assert (report.wake_rows, report.rows_without_wake) == (4, 2)
    assert report.false_triggers == 0
    run = report.engines[0]
    assert run.intents_scored == 4 and run.unlabelled == 2
    for row in run.rows:
        if row.wake == e2e.WAKE_DETECTED:
            assert row.wake_at_s is not None and 0.4 < row.wake_at_s < 2.5
            assert row.got_intent not in (e2e.NO_TURN,)
    # Commands after a pause are the easy half: the wake model hears both voices' "hey
    # jarvis" on its own, and the command starts after the turn opened. Which words a
    # synthetic voice comes out as varies with the CPU's kernels, so this is over the set.
    paused = [r for r in run.rows if r.groups.get("style") == "pause"]
    assert sum(r.wake == e2e.WAKE_DETECTED for r in paused) == len(paused)
    assert sum(r.intent == e2e.INTENT_CORRECT for r in paused) >= len(paused) - 1, paused
    by_style = {(g.column, g.value): g for g in run.groups}
    assert by_style[("style", "pause")].intents_scored == 3
    assert sum(g.intents_scored for g in run.groups if g.column == "style") == 4


def test_e2e_hears_a_clip_as_sottovoce_run_does(
    report: e2e.E2eReport, spoken: Path, tmp_path: Path
) -> None:
    """The same wake detection, transcript and intent as `sottovoce run --input` on the file."""
    row = next(r for r in report.engines[0].rows if r.wake == e2e.WAKE_DETECTED)
    (tmp_path / "config.toml").write_text("[lm]\nenabled = false\n", encoding="utf-8")
    wav = spoken / "wav" / row.file
    command = ["run", "--input", str(wav), "--output", "null", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "SOTTOVOCE_HOME": str(tmp_path)},
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    wake = next(e for e in events if e["event"] == "wake_detected")
    transcripts = [e["text"] for e in events if e["event"] == "transcript"]
    intent = next(e for e in events if e["event"] == "intent_recognized")
    assert round(wake["audio_s"], 2) == row.wake_at_s
    assert transcripts[0] == row.transcript
    assert intent["name"] == row.got_intent
