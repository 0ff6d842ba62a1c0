"""PNG plots for the report, drawn with matplotlib's object API (no global pyplot state).

Every bar carries its figure (and the counts behind a rate); the confusion matrix is coloured
by the share of each expected intent's rows (so a large class such as `answer` does not wash
out the rest) and annotated with counts; a handful of latencies is drawn as points, not as a
histogram of mostly empty bins.
"""

from __future__ import annotations

import importlib.util
import logging
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from assistant.evaluate.report import Results

_LOGGER = logging.getLogger(__name__)
_PNG: dict[str, Any] = {"Software": None}  # no version stamp: the same figures, the same bytes
_BLUE: Final = "#4878a8"
_RED: Final = "#a86048"
FEW_POINTS: Final = 30  # fewer latencies than this are drawn one by one


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def draw(outdir: Path, results: Results) -> dict[str, str]:
    """Plot what the results hold; plot key -> file name inside `outdir`."""
    made: dict[str, str] = {}

    def save(key: str, fig: Figure) -> None:
        name = f"{key}.png"
        fig.tight_layout()
        fig.savefig(outdir / name, dpi=100, metadata=_PNG)
        made[key] = name

    if results.asr is not None and results.asr.engines:
        save("asr", asr_figure(results.asr.engines))
    if results.wake is not None and results.wake.latencies_ms:
        save(
            "wake",
            latency_figure(
                results.wake.latencies_ms,
                xlabel="ms from end of speech to detection",
                unit="positives",
                title="Wake-word detection latency",
            ),
        )
    if results.intents is not None:
        report = results.intents
        save("confusion", confusion_figure(report.labels, report.confusion))
        if report.latencies_ms:
            save(
                "intent_latency",
                latency_figure(
                    report.latencies_ms,
                    xlabel="ms per utterance",
                    unit="utterances",
                    title="Intent recognition latency",
                ),
            )
    if results.time is not None and results.time.by_kind:
        save("time", time_figure(results.time.by_kind))
    return made


def asr_figure(engines: Sequence[Any]) -> Figure:
    """WER and CPU real-time factor per engine, each bar labelled with its value."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    wer_ax, rtf_ax = fig.subplots(1, 2)
    names = [s.engine for s in engines]
    bars = wer_ax.bar(names, [s.wer * 100 for s in engines], color=_BLUE)
    wer_ax.bar_label(
        bars,
        labels=[f"{s.wer:.1%}\n{s.errors}/{s.reference_words} words" for s in engines],
        fontsize=8,
    )
    wer_ax.set_ylabel("WER %")
    wer_ax.set_title("Word error rate per engine")
    _headroom(wer_ax)
    bars = rtf_ax.bar(names, [s.cpu_rtf for s in engines], color=_RED)
    rtf_ax.bar_label(bars, labels=[f"{s.cpu_rtf:.3f}" for s in engines], fontsize=8)
    rtf_ax.set_ylabel("CPU s per s of audio")
    rtf_ax.set_title("CPU real-time factor")
    _headroom(rtf_ax)
    return fig


def time_figure(by_kind: dict[str, tuple[int, int]]) -> Figure:
    """Accuracy per kind of time expression; each bar says `right/total`."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(6.0, 0.9 * len(by_kind) + 2), 3.2))
    ax = fig.subplots()
    kinds = list(by_kind)
    counts = list(by_kind.values())
    bars = ax.bar(kinds, [ok / n * 100 if n else 0 for ok, n in counts], color=_BLUE)
    ax.bar_label(bars, labels=[f"{ok}/{n}" for ok, n in counts], fontsize=8)
    ax.set_ylabel("accuracy %")
    ax.set_ylim(0, 112)  # room for the labels above 100 %
    ax.set_title("Time expressions by kind (right/total)")
    return fig


def row_shares(confusion: Sequence[Sequence[int]]) -> list[list[float]]:
    """Each row divided by its total (a row with no examples stays all zero)."""
    shares = []
    for row in confusion:
        total = sum(row)
        shares.append([count / total if total else 0.0 for count in row])
    return shares


def confusion_figure(labels: Sequence[str], confusion: Sequence[Sequence[int]]) -> Figure:
    """Rows: expected intent; columns: recognized. Colour: the share of the row; text: count."""
    from matplotlib.figure import Figure

    size = max(5.0, 0.45 * len(labels) + 2)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.subplots()
    shares = row_shares(confusion)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("share of the expected intent's rows")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=90)
    rows = [f"{label} ({sum(row)})" for label, row in zip(labels, confusion, strict=True)]
    ax.set_yticks(ticks, rows)
    ax.set_xlabel("recognized")
    ax.set_ylabel("expected (rows)")
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            if count:
                colour = "white" if shares[i][j] > 0.6 else "black"
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    ax.set_title("Intent confusion matrix (colour: share of each row; numbers: counts)")
    return fig


def latency_figure(values: Sequence[float], *, xlabel: str, unit: str, title: str) -> Figure:
    """A histogram, or for fewer than `FEW_POINTS` values every value as a point; both with
    the median marked and the count in the title."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ordered = sorted(values)
    median = statistics.median(ordered)
    if len(ordered) < FEW_POINTS:
        ax.plot(ordered, [1] * len(ordered), "o", color=_BLUE, alpha=0.7, markersize=8)
        for x in ordered:
            ax.annotate(f"{x:.0f}", (x, 1), textcoords="offset points", xytext=(0, 8), ha="center")
        ax.set_yticks([])
        ax.set_ylim(0.5, 1.6)
        spread = max(ordered) - min(ordered)
        margin = spread * 0.15 or max(1.0, abs(ordered[0]) * 0.1)
        ax.set_xlim(min(ordered) - margin, max(ordered) + margin)
    else:
        ax.hist(ordered, bins=min(40, max(10, len(ordered) // 5)), color=_BLUE)
        ax.set_ylabel(unit)
    ax.axvline(median, color=_RED, linestyle="--", linewidth=1, label=f"median {median:.0f}")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel(xlabel)
    ax.set_title(f"{title} (n = {len(ordered)})")
    return fig


def _headroom(ax: Axes) -> None:
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 1.25 if high > 0 else 1.0)
