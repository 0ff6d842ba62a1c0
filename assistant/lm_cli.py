"""`sottovoce models ...`, `ask`, `summarize` and `bench lm`: the language model from the shell.

Wire in with `lm_cli.add_parsers(subparsers)` and, under the existing `bench` command,
`lm_cli.add_bench_parser(bench_subparsers)`. Handlers return an exit status; errors are
`models.errors.ModelError`s, which the main CLI prints as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from assistant import paths
from assistant.cli_args import positive_int
from models.errors import ModelError

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

# A quantized model that agrees with the full-precision one on fewer next tokens than this is
# flagged: SmolLM2-135M's Q4_1 GGUF converts to 78 % at int4 and 100 % at int8.
OK_AGREEMENT: Final = 0.7


def models_dir() -> Path:
    return paths.data_dir() / "models"


def add_parsers(subparsers: Subparsers) -> None:
    models = subparsers.add_parser("models", help="language models: list, prepare, add, remove")
    sub = models.add_subparsers(dest="models_command", required=True)

    p = sub.add_parser("list", help="prepared models and the catalog")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_models_list)

    p = sub.add_parser("prepare", help="convert the default model (from pip) into the data dir")
    p.add_argument("name", nargs="?", help="catalog name (default: the default model)")
    _precision(p)
    p.add_argument("--force", action="store_true", help="convert again even if prepared")
    p.set_defaults(handler=cmd_models_prepare)

    p = sub.add_parser("add", help="add a GGUF file (converted) or an ONNX model folder")
    p.add_argument("path", type=Path)
    p.add_argument("--name", help="name in `models list` (default: from the file name)")
    _precision(p)
    p.set_defaults(handler=cmd_models_add)

    p = sub.add_parser("remove", help="delete a prepared model")
    p.add_argument("name")
    p.set_defaults(handler=cmd_models_remove)

    p = sub.add_parser("pull", help="download a catalog model (needs internet), then prepare it")
    p.add_argument("name")
    p.add_argument("--url", help="download from here instead of the catalog URL")
    p.add_argument(
        "--keep-gguf",
        action="store_true",
        help="keep the downloaded GGUF after converting it (by default it is deleted)",
    )
    _precision(p)
    p.set_defaults(handler=cmd_models_pull)

    p = subparsers.add_parser("ask", help="ask the language model; the answer streams out")
    p.add_argument("text")
    _model(p)
    p.add_argument("--max-tokens", type=positive_int, default=128)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--system", help="system prompt (default: the assistant's)")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(handler=cmd_ask)

    p = subparsers.add_parser("summarize", help="summarize a text file in three sentences")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--method",
        choices=("extractive", "model", "both"),
        default="extractive",
        help="extractive (default), model, or both to compare",
    )
    _model(p)
    p.set_defaults(handler=cmd_summarize)


def add_bench_parser(bench_subparsers: Subparsers) -> None:
    p = bench_subparsers.add_parser("lm", help="load time, prefill/decode speed, TTFT, memory")
    _model(p)
    p.add_argument("--tokens", type=positive_int, default=128, help="tokens to decode per run")
    p.add_argument("--repeat", type=positive_int, default=3, help="runs of each measurement")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = per core)")
    p.add_argument(
        "--no-spin",
        dest="spin",
        action="store_false",
        help="onnxruntime threads sleep between operators (the [lm] spin = false figure)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_bench_lm)


def _precision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--precision",
        choices=("int4", "int8", "fp32"),
        default="int4",
        help="int4 (default: small, fast), int8 (closest to the GGUF), fp32 (exact, slow)",
    )


def _model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="prepared model name or folder (default: the default model)")


class _Progress:
    """Steps of a conversion on stderr: a bar redrawn in place on a terminal, one line per
    finished step (with its time) in a log. A one-shot step ("quantizing") shows as running
    and then done, never as "0/1"."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._step = ""
        self._started = time.perf_counter()

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if step != self._step:
            self._step, self._started = step, now
        finished = done >= total
        elapsed = f" ({now - self._started:.1f} s)" if finished else ""
        if finished:
            line = f"  {step}: done{elapsed}"
        elif total <= 1:
            line = f"  {step}..."
        else:
            filled = 24 * done // total
            line = f"  {step} [{'#' * filled}{'.' * (24 - filled)}] {done}/{total}"
        if self._tty:
            print(f"\r\033[K{line}", end="\n" if finished else "", file=sys.stderr, flush=True)
        elif finished:  # a log gets one line per step, not a smear of carriage returns
            print(line, file=sys.stderr, flush=True)


def verdict(check: dict[str, Any] | None, precision: str) -> str:
    """One line that says whether the converted model can be trusted, and why."""
    if not check:
        return "Check: skipped (no comparison with the reference was made)."
    diff = float(check.get("max_abs_diff", float("nan")))
    agree = float(check.get("top1_agreement", float("nan")))
    tokens = int(check.get("tokens", 0))
    tolerance = check.get("tolerance")
    if tolerance is not None:
        return (
            f"Check: OK. The {precision} model matches the reference forward pass (logits within "
            f"{diff:.1e} of it, tolerance {float(tolerance):.0e})."
        )
    same = (
        f"picks the same next token as the full-precision reference on {agree:.0%} of "
        f"{tokens} test positions"
    )
    if agree >= OK_AGREEMENT:
        spread = (
            f"its logits differ by up to {diff:.1f}, as expected of {precision} weights"
            if precision == "int4"
            else f"logits differ by up to {diff:.2g}"
        )
        better = " (--precision int8 is closer, for ~55 MB more)" if precision == "int4" else ""
        return f"Check: OK. The {precision} model {same}; {spread}{better}."
    return (
        f"Check: POOR. The {precision} model {same} (under {OK_AGREEMENT:.0%}); answers may "
        "be worse than the original's. Try `--precision int8` or `--precision fp32`."
    )


def cmd_models_list(args: argparse.Namespace) -> int:
    from models.lm import store

    root = models_dir()
    have = store.installed(root)
    catalog = [
        {
            "name": e.name,
            "description": e.description,
            "prepared": any(m.name == e.name for m in have),
            "gguf_installed": e.packaged_gguf() is not None,
            "sha256": e.sha256,
        }
        for e in store.CATALOG
    ]
    if args.json:  # JSON Lines: one model per line, prepared ones first, then the catalog's
        for m in have:
            entry = next((c for c in catalog if c["name"] == m.name), None)
            row = {
                "name": m.name,
                "prepared": True,
                "folder": str(m.folder),
                "source": m.source,
                "precision": m.precision,
                "size_bytes": m.size_bytes,
                "in_catalog": entry is not None,
            }
            print(json.dumps(row | ({"description": entry["description"]} if entry else {})))
        for c in catalog:
            if not c["prepared"]:
                print(json.dumps({**c, "folder": str(root / str(c["name"])), "in_catalog": True}))
        return 0
    print(f"Prepared models in {root}:")
    for m in have:
        print(f"  {m.name:28} {m.precision:5} {m.size_bytes / 1e6:7.1f} MB  from {m.source}")
    if not have:
        print("  (none: run `sottovoce models prepare`)")
    print("Catalog:")
    for c in catalog:
        state = "prepared" if c["prepared"] else ("GGUF installed" if c["gguf_installed"] else "")
        print(f"  {c['name']:28} {c['description']}  {state}")
    return 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from models.lm import store

    name = args.name or store.DEFAULT_MODEL
    report = store.prepare(
        models_dir(), name=name, precision=args.precision, force=args.force, progress=_Progress()
    )
    if report is None:
        print(f"{name} is already prepared in {models_dir() / name}.")
        return 0
    _print_report(report.to_json())
    return 0


def cmd_models_add(args: argparse.Namespace) -> int:
    from models.lm import store

    folder = store.add(
        models_dir(), args.path, name=args.name, precision=args.precision, progress=_Progress()
    )
    print(f"Added {folder.name} ({folder}).")
    return 0


def cmd_models_remove(args: argparse.Namespace) -> int:
    from models.lm import store

    folder = store.remove(models_dir(), args.name)
    print(f"Removed {args.name} ({folder}).")
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from models.lm import store

    def on_bytes(have: int, total: int) -> None:
        print(f"\rdownloading: {have / 1e6:.1f} / {total / 1e6:.1f} MB", end="", file=sys.stderr)

    path = store.pull(models_dir(), args.name, url=args.url, on_bytes=on_bytes)
    print(f"\nDownloaded {path}.", file=sys.stderr)
    try:
        report = store.prepare(
            models_dir(),
            name=args.name,
            precision=args.precision,
            progress=_Progress(),
            keep_download=args.keep_gguf,
        )
    except ModelError:
        if path.is_file():
            print(f"The download is kept in {path} for the next try.", file=sys.stderr)
        raise
    if report is not None:
        _print_report(report.to_json())
    if not path.is_file():
        print(f"Deleted {path}: the converted model does not need it.", file=sys.stderr)
    return 0


def _print_report(report: dict[str, Any], *, file: TextIO | None = None) -> None:
    print(
        f"Converted {report['source']} -> {report['folder']} ({report['precision']}, "
        f"{report['seconds']} s).",
        file=file or sys.stdout,
    )
    print(verdict(report.get("check"), str(report["precision"])), file=file or sys.stdout)


def _load(name: str | None, *, threads: int = 0) -> Any:
    from models.lm import AssistantLanguageModel, resolve, store

    if name is None and not store.installed(models_dir()):
        _prepare_default()
    return AssistantLanguageModel.load(resolve(models_dir(), name), threads=threads)


def _prepare_default() -> None:
    """First use with nothing prepared: convert the bundled model now (what `sottovoce models
    prepare` does), with progress on stderr so that stdout keeps only the answer."""
    from models.lm import store

    name = store.DEFAULT_MODEL
    print(
        f"No language model is prepared yet: preparing {name} once (10-40 s; "
        "`sottovoce models prepare` does the same).",
        file=sys.stderr,
    )
    report = store.prepare(models_dir(), name=name, progress=_Progress())
    if report is not None:
        _print_report(report.to_json(), file=sys.stderr)


def cmd_ask(args: argparse.Namespace) -> int:
    from models.lm import GenerationSettings

    lm = _load(args.model)
    lm.settings = GenerationSettings(temperature=args.temperature, top_p=args.top_p, seed=args.seed)

    async def run() -> str:
        pieces = []
        async for piece in lm.stream(args.text, max_tokens=args.max_tokens, system=args.system):
            pieces.append(piece)
            if not args.json:
                print(piece, end="", flush=True)
        return "".join(pieces)

    try:
        text = asyncio.run(run())
    finally:
        lm.close()
    g = lm.last
    if args.json:
        print(json.dumps({"text": text.strip(), **_generation_json(g)}))
    else:
        print()
    return 0


def _generation_json(g: Any) -> dict[str, Any]:
    if g is None:
        return {}
    return {
        "finish": g.finish,
        "prompt_tokens": g.prompt_tokens,
        "cached_tokens": g.cached_tokens,
        "new_tokens": g.new_tokens,
        "first_token_ms": round(1000 * g.first_token_s, 1),
        "decode_tokens_per_s": round(g.decode_tokens_per_s, 1),
    }


def cmd_summarize(args: argparse.Namespace) -> int:
    from skills.summarize import Method, summarize_text

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ModelError(f"Cannot read {args.file}: {err}") from err
    both: tuple[Method, ...] = ("extractive", "model")
    methods = both if args.method == "both" else tuple(m for m in both if m == args.method)
    lm = _load(args.model) if "model" in methods else None
    try:
        for method in methods:
            started = time.perf_counter()
            summary = asyncio.run(summarize_text(text, lm, method=method))
            if len(methods) > 1:
                print(f"[{method}, {time.perf_counter() - started:.1f} s]")
            print(summary)
    finally:
        if lm is not None:
            lm.close()
    return 0


def cmd_bench_lm(args: argparse.Namespace) -> int:
    from models.lm import bench, resolve

    result = bench.run(
        resolve(models_dir(), args.model),
        tokens=args.tokens,
        repeat=args.repeat,
        threads=args.threads,
        spin=args.spin,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:34} {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry until the main CLI wires these in: python -m assistant.lm_cli."""
    parser = argparse.ArgumentParser(prog="sottovoce")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parsers(sub)
    bench = sub.add_parser("bench").add_subparsers(dest="bench_command", required=True)
    add_bench_parser(bench)
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except ModelError as err:
        print(f"sottovoce: {err.message}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    raise SystemExit(main())
