"""Long commands say what they are doing on stderr; --json stdout stays one clean object."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from assistant.progress import Steps


def test_steps_count_and_time_each_step() -> None:
    now = [100.0]
    out = io.StringIO()
    steps = Steps(3, stream=out, clock=lambda: now[0])
    steps("loading")
    now[0] += 12.4
    steps("wake word evaluation")
    now[0] += 30.0
    steps("writing")
    steps("one more than announced")
    steps.finish()
    assert out.getvalue().splitlines() == [
        "[1/3] loading... (0 s)",
        "[2/3] wake word evaluation... (12 s)",
        "[3/3] writing... (42 s)",
        "[4/4] one more than announced... (42 s)",
        "done in 42 s",
    ]


def test_report_prints_its_steps_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli import main
    from assistant.evaluate import report

    empty = tmp_path / "corpora"
    empty.mkdir()
    out = tmp_path / "out"
    argv = ["report", str(out), "--corpora", str(empty), "--time", str(tmp_path / "none.jsonl")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    total = report.STEPS + 1
    assert [line.split("]")[0] + "]" for line in lines[:total]] == [
        f"[{n}/{total}]" for n in range(1, total + 1)
    ]
    assert "wake word evaluation..." in captured.err and lines[total].startswith("done in")
    assert all(Path(line).parent == out for line in captured.out.splitlines())  # paths only


def test_bench_intents_prints_progress_on_stderr_and_json_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant import bench_intents
    from assistant.cli import main
    from skills.intents import IntentRecognizer

    monkeypatch.setattr(bench_intents, "load_intents", lambda _s: IntentRecognizer.load())
    monkeypatch.setattr(bench_intents, "sentences", lambda: ["what time is it", "stop"])
    assert main(["bench", "intents", "--json", "--repeat", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["utterances"] == 2  # one object, nothing else
    err = captured.err.splitlines()
    assert err[0] == "[1/2] loading the intent recognizer... (0 s)"
    assert err[1].startswith("[2/2] recognizing 2 utterances x 1...")
    assert err[2].startswith("done in")
