"""Wake-word scoring with a fake detector, the report pages, and the CLI arguments."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.evaluate import cli, report, wake
from assistant.evaluate.data import EvalError, Problem
from models.protocols import SAMPLE_RATE, Detection, Pcm

MARK = 30_000  # samples of this value are "the wake word"


class MarkDetector:
    """Fires on every chunk that holds a marked sample."""

    name = "hey_fake"

    def __init__(self) -> None:
        self.resets = 0

    def process(self, chunk: Pcm) -> Detection | None:
        return Detection(name=self.name, score=1.0) if (chunk == MARK).any() else None

    def reset(self) -> None:
        self.resets += 1


def _clip(name: str, pcm: Pcm, *, positive: bool, transcript: str = "") -> wake.Clip:
    return wake.Clip(
        file=Path(name),
        wake_words=("hey fake",) if positive else (),
        models=frozenset({"hey_fake"}) if positive else frozenset(),
        transcript=transcript,
        pcm=pcm,
        speech_end_s=len(pcm) / SAMPLE_RATE,
    )


def _seconds(value: int, seconds: float) -> Pcm:
    return np.full(round(seconds * SAMPLE_RATE), value, dtype=np.int16)


def test_wake_scoring_counts_rejects_accepts_and_latency() -> None:
    hit = _clip("hit.wav", np.concatenate([_seconds(0, 0.5), _seconds(MARK, 0.04)]), positive=True)
    miss = _clip("miss.wav", _seconds(0, 1.0), positive=True)
    talk = _clip("talk.wav", np.concatenate([_seconds(0, 2.0), _seconds(MARK, 0.01)]),
                 positive=False)  # fmt: skip
    says_it = _clip("says.wav", _seconds(MARK, 1.0), positive=False, transcript="Hey, fake!")
    detector = MarkDetector()
    score = wake._score(detector, [hit, miss], [talk, says_it])
    assert (score.positives, score.false_rejects) == (2, 1)
    assert score.false_accepts == 1  # talk.wav; says.wav is left out: its transcript has it
    assert [c.file for c in score.clips] == ["hit.wav", "miss.wav", "talk.wav"]
    assert score.negative_s == pytest.approx(2.01)
    assert score.false_accepts_per_hour == pytest.approx(3600 / 2.01, rel=1e-3)
    latency = score.clips[0].latency_ms
    # 80 ms steps: it fires at the end of the step where the mark begins, up to 80 ms either side
    assert latency is not None and -80 < latency <= 80
    assert detector.resets == 3  # each positive, then the negatives as one stream


def test_wake_phrases_map_to_bundled_models_only() -> None:
    assert wake.model_for("hey mycroft") == "hey_mycroft"
    assert wake.model_for("Alexa") == "alexa"
    assert wake.model_for("porcupine") is None
    assert wake._phrases('["alexa", "hey jarvis"]') == ("alexa", "hey jarvis")
    assert wake._phrases("alexa") == ("alexa",)
    with pytest.raises(ValueError):
        wake._phrases('[1, "x"]')


def test_report_pages_agree(tmp_path: Path) -> None:
    page: list[report.Block] = [
        ("h1", "Title"),
        ("p", "Some <text>"),
        ("table", (["a", "b|c"], [["1", "x|y"]])),
        ("img", "plot.png"),
    ]
    markdown = report.to_markdown(page)
    assert (
        "# Title" in markdown
        and "| a | b\\|c |" in markdown
        and "![plot.png](plot.png)" in markdown
    )
    page_html = report.to_html(page)
    assert "<h1>Title</h1>" in page_html and "Some &lt;text&gt;" in page_html
    assert '<img src="plot.png"' in page_html


def test_report_without_results_lists_what_was_not_evaluated(tmp_path: Path) -> None:
    results = report.Results(machine="test", errors={"asr": "no set given"})
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"turns": 9, "wake_event_ms": {"median": 120.5}}))
    written = report.write(tmp_path / "out", results, benches=[bench])
    names = {p.name for p in written}
    assert {"report.md", "report.html", "results.json"} <= names
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| asr | no set given |" in markdown
    assert "| wake_event_ms.median | 120.5 |" in markdown
    assert json.loads((tmp_path / "out" / "results.json").read_text())["benchmarks"]["bench"]


def test_cli_parses_engines_and_models() -> None:
    args = argparse.Namespace(engine=["whisper,moonshine", "vosk"], engine_default="all",
                              model=["vosk=/m/vosk", "whisper = /m/w"])  # fmt: skip
    assert cli.engines_of(args) == ["whisper", "moonshine", "vosk"]
    assert cli.models_of(args) == {"vosk": "/m/vosk", "whisper": "/m/w"}
    args = argparse.Namespace(engine=None, engine_default="all", model=["vosk"])
    assert cli.engines_of(args) == ["all"]
    with pytest.raises(EvalError, match="ENGINE=DIR"):
        cli.models_of(args)


def test_cli_reports_a_missing_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", "intents", str(tmp_path / "nope.jsonl")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_strict_fails_on_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "i.jsonl"
    path.write_text('{"text": "what time is it", "intent": "time.query"}\n{bad\n')
    assert cli.main(["eval", "intents", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 1 and data["problems"][0]["line"] == 2
    assert cli.main(["eval", "intents", str(path), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "problem" in out and ":2: not JSON" in out


def test_problem_describes_its_place() -> None:
    assert Problem(path="a.tsv", line=3, message="bad").describe() == "a.tsv:3: bad"
    assert Problem(path="a.tsv", line=0, message="bad").describe() == "a.tsv: bad"
