"""The report's plots: a per-row confusion matrix, counts on every bar, few latencies as points
(issue 13: the matrix was washed out by the `answer` column, bars showed no counts)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from assistant.evaluate import plots


def _texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_the_confusion_matrix_is_coloured_per_row() -> None:
    labels = ["answer", "time.query", "timer.set"]
    confusion = [[900, 50, 50], [1, 9, 0], [0, 0, 0]]
    fig = plots.confusion_figure(labels, confusion)
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown[0], [0.9, 0.05, 0.05])
    np.testing.assert_allclose(shown[1], [0.1, 0.9, 0.0])  # a small class is as dark as a big one
    np.testing.assert_allclose(shown[2], [0.0, 0.0, 0.0])  # no rows: no division by zero
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert {"900", "50", "1", "9"} <= set(_texts(ax))  # the counts stay readable
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "answer (1000)",
        "time.query (10)",
        "timer.set (0)",
    ]


def test_asr_bars_carry_their_figures() -> None:
    engines = [
        SimpleNamespace(engine="whisper", wer=0.123, errors=45, reference_words=366, cpu_rtf=0.05),
        SimpleNamespace(engine="vosk", wer=0.2, errors=73, reference_words=366, cpu_rtf=0.1),
    ]
    wer_ax, rtf_ax = plots.asr_figure(engines).axes
    assert _texts(wer_ax) == ["12.3%\n45/366 words", "20.0%\n73/366 words"]
    assert _texts(rtf_ax) == ["0.050", "0.100"]


def test_time_bars_carry_right_over_total() -> None:
    ax = plots.time_figure({"relative": (9, 10), "absolute": (3, 4), "none": (0, 0)}).axes[0]
    assert _texts(ax) == ["9/10", "3/4", "0/0"]


def test_a_few_latencies_are_points_not_a_histogram() -> None:
    ax = plots.latency_figure([120.0, 180.0], xlabel="ms", unit="positives", title="Wake").axes[0]
    assert not ax.patches  # no histogram bars
    points = ax.lines[0]
    assert list(points.get_xdata()) == [120.0, 180.0]
    assert "n = 2" in ax.get_title() and {"120", "180"} <= set(_texts(ax))


def test_many_latencies_are_a_histogram_with_the_median() -> None:
    values = list(np.random.default_rng(1).gamma(4.0, 10.0, 500))
    ax = plots.latency_figure(values, xlabel="ms", unit="utterances", title="Intents").axes[0]
    assert len(ax.patches) >= 10
    assert "median" in ax.get_legend().get_texts()[0].get_text()


def test_draw_writes_pngs(tmp_path: Path) -> None:
    results = SimpleNamespace(
        asr=SimpleNamespace(
            engines=[
                SimpleNamespace(engine="w", wer=0.1, errors=1, reference_words=10, cpu_rtf=0.1)
            ]
        ),
        wake=SimpleNamespace(latencies_ms=[100.0, 150.0]),
        intents=SimpleNamespace(labels=["a", "b"], confusion=[[3, 1], [0, 2]], latencies_ms=[1.0]),
        time=SimpleNamespace(by_kind={"k": (1, 2)}),
    )
    made = plots.draw(tmp_path, results)  # type: ignore[arg-type]
    assert set(made) == {"asr", "wake", "confusion", "intent_latency", "time"}
    for name in made.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
