"""`sottovoce bench intents`: what understanding one transcript costs, per pass.

The recognizer `run` uses (templates, corrections, keyword rules and, unless `[intent] semantic
= false`, the semantic fallback) is loaded as `run` loads it, then every sentence of the own
test sets in eval/ (misheard commands and open questions, which exercise the fallback most) is
recognized `repeat` times. Reported: the load time, and the median, p95 and worst time per
utterance, over all of them and by the pass that decided; the machine and its load average
(other processes on a small machine move these figures).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Final

from assistant.config import Settings
from assistant.engines import load_intents
from assistant.progress import Progress, Steps, quiet

SETS: Final = ("intents_misheard.jsonl", "intents_open.jsonl")
EVAL_DIR: Final = Path(__file__).resolve().parents[1] / "eval"
FALLBACK_TEXTS: Final = (
    "to timer for 20 minutes",
    "said the alarm for 7",
    "we mind me to feed the cat",
    "what is the capital of france",
    "tell me a joke",
    "what time is it",
)


def sentences() -> list[str]:
    """The texts of the own test sets (a few built-in ones when eval/ is not there)."""
    out: list[str] = []
    for name in SETS:
        path = EVAL_DIR / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    out.append(str(json.loads(line)["text"]))
    return out or list(FALLBACK_TEXTS)


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1min": round(load[0], 2)}


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max_ms": round(ordered[-1], 3),
    }


STEPS: Final = 2


def run(settings: Settings, *, repeat: int = 3, on_step: Progress = quiet) -> dict[str, Any]:
    """`on_step` hears each of the `STEPS` steps' names as it starts."""
    on_step("loading the intent recognizer")
    start = time.perf_counter()
    recognizer = load_intents(settings)
    load_s = time.perf_counter() - start
    texts = sentences()
    on_step(f"recognizing {len(texts)} utterances x {repeat}")
    for text in texts[:20]:
        recognizer.recognize(text)  # warm caches, as the first turns of a session would
    every: list[float] = []
    every_cpu: list[float] = []
    by_source: dict[str, list[float]] = defaultdict(list)
    by_source_cpu: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for text in texts:
            c0, t0 = time.thread_time(), time.perf_counter()
            intent = recognizer.recognize(text)
            ms = (time.perf_counter() - t0) * 1000
            cpu = (time.thread_time() - c0) * 1000
            every.append(ms)
            every_cpu.append(cpu)
            by_source[intent.source].append(ms)
            by_source_cpu[intent.source].append(cpu)
    semantic = recognizer.semantic
    return {
        "machine": machine(),
        "semantic": semantic is not None,
        "examples": semantic.size if semantic is not None else 0,
        "load_s": round(load_s, 3),
        "utterances": len(texts),
        "repeat": repeat,
        "all": _stats(every),
        "by_source": {k: _stats(v) for k, v in sorted(by_source.items())},
        # CPU time of the recognizing thread (onnxruntime runs on it, one thread): the cost,
        # whatever else the machine is doing; wall time above is what a user waits.
        "cpu_all": _stats(every_cpu),
        "cpu_by_source": {k: _stats(v) for k, v in sorted(by_source_cpu.items())},
    }


def render(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, load average {m['load_average_1min']}",
        f"recognizer loaded in {report['load_s']:.2f} s; semantic fallback "
        + (f"on, {report['examples']} example sentences" if report["semantic"] else "off"),
        f"{report['utterances']} utterances x {report['repeat']}; wall time (CPU time of the "
        "recognizing thread), ms",
        f"{'decided by':<12}{'n':>6}{'median':>16}{'p95':>16}{'max':>16}",
    ]
    rows = [("all", report["all"], report["cpu_all"])]
    rows += [(k, v, report["cpu_by_source"][k]) for k, v in report["by_source"].items()]
    for name, w, c in rows:
        cells = "".join(
            f"{f'{w[key]:.2f} ({c[key]:.2f})':>16}" for key in ("median_ms", "p95_ms", "max_ms")
        )
        lines.append(f"{name:<12}{w['n']:>6}{cells}")
    return lines


def main(settings: Settings, *, as_json: bool = False, repeat: int = 3) -> int:
    steps = Steps(STEPS)
    report = run(settings, repeat=repeat, on_step=steps)
    steps.finish()
    print(json.dumps(report) if as_json else "\n".join(render(report)))
    return 0
