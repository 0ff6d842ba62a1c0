"""PNG plots for the report, drawn with matplotlib's object API (no global pyplot state)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.evaluate.report import Results

_LOGGER = logging.getLogger(__name__)
_PNG: dict[str, Any] = {"Software": None}  # no version stamp: the same figures, the same bytes


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def draw(outdir: Path, results: Results) -> dict[str, str]:
    """Plot what the results hold; plot key -> file name inside `outdir`."""
    from matplotlib.figure import Figure

    made: dict[str, str] = {}

    def save(key: str, fig: Figure) -> None:
        name = f"{key}.png"
        fig.tight_layout()
        fig.savefig(outdir / name, dpi=100, metadata=_PNG)
        made[key] = name

    if results.asr is not None and results.asr.engines:
        fig = Figure(figsize=(7, 3))
        wer_ax, rtf_ax = fig.subplots(1, 2)
        names = [s.engine for s in results.asr.engines]
        wer_ax.bar(names, [s.wer * 100 for s in results.asr.engines], color="#4878a8")
        wer_ax.set_ylabel("WER %")
        wer_ax.set_title("Word error rate per engine")
        rtf_ax.bar(names, [s.cpu_rtf for s in results.asr.engines], color="#a86048")
        rtf_ax.set_ylabel("CPU s per s of audio")
        rtf_ax.set_title("CPU real-time factor")
        save("asr", fig)
    if results.wake is not None and results.wake.latencies_ms:
        fig = Figure(figsize=(5, 3))
        ax = fig.subplots()
        ax.hist(results.wake.latencies_ms, bins=20, color="#4878a8")
        ax.set_xlabel("ms from end of speech to detection")
        ax.set_ylabel("positives")
        ax.set_title("Wake-word detection latency")
        save("wake", fig)
    if results.intents is not None:
        report = results.intents
        size = max(5.0, 0.45 * len(report.labels) + 2)
        fig = Figure(figsize=(size, size))
        ax = fig.subplots()
        ax.imshow(report.confusion, cmap="Blues")
        ticks = range(len(report.labels))
        ax.set_xticks(ticks, report.labels, rotation=90)
        ax.set_yticks(ticks, report.labels)
        ax.set_xlabel("recognized")
        ax.set_ylabel("expected")
        for i, row in enumerate(report.confusion):
            for j, count in enumerate(row):
                if count:
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
        ax.set_title("Intent confusion matrix")
        save("confusion", fig)
        fig = Figure(figsize=(5, 3))
        ax = fig.subplots()
        ax.hist(report.latencies_ms, bins=40, color="#4878a8")
        ax.set_xlabel("ms per utterance")
        ax.set_ylabel("utterances")
        ax.set_title("Intent recognition latency")
        save("intent_latency", fig)
    if results.time is not None and results.time.by_kind:
        fig = Figure(figsize=(6, 3))
        ax = fig.subplots()
        kinds = list(results.time.by_kind)
        ax.bar(kinds, [ok / n * 100 if n else 0 for ok, n in results.time.by_kind.values()])
        ax.set_ylabel("accuracy %")
        ax.set_title("Time expressions by kind")
        save("time", fig)
    return made
