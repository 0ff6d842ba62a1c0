"""`sottovoce glasses scan|pair ADDRESS|status|forget [ADDRESS]|simulate`.

Wire in with `glasses_cli.add_parsers(subparsers)`; each handler returns an exit status.
scan, pair and status use the platform's Bluetooth through bleak; simulate needs none: it runs the
whole assistant against virtual glasses on a virtual radio (bumble), in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import config as cfg
from assistant import events as ev
from assistant.audio_convert import loud_span
from assistant.errors import SottovoceError
from assistant.glasses import MIC_MODES, GlassesSession, PairedGlasses
from assistant.paths import data_dir
from assistant.pipeline import Engines
from firmware_bridge import central
from firmware_bridge.errors import BridgeError
from models.protocols import SAMPLE_RATE, Pcm

_LOGGER = logging.getLogger(__name__)

SIMULATED_COMMAND = "What time is it?"
DEFAULT_REPLY_WAV = Path("sottovoce-glasses-reply.wav")


class GlassesError(SottovoceError):
    code = "glasses_error"


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    glasses = subparsers.add_parser("glasses", help="smart glasses and earbuds over Bluetooth LE")
    glasses.add_argument("--home", help="data dir (default: $SOTTOVOCE_HOME or user data dir)")
    sub = glasses.add_subparsers(dest="glasses_command", metavar="WHAT")
    p = sub.add_parser("scan", help="list nearby sottovoce glasses")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to scan (default 5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_scan)
    p = sub.add_parser(
        "pair",
        help="bond with glasses (put them in pairing mode first) so the assistant uses them",
    )
    p.add_argument("address", help="Bluetooth address, from `sottovoce glasses scan`")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to look for them")
    p.set_defaults(handler=cmd_pair)
    p = sub.add_parser("status", help="paired glasses; --check connects to each")
    p.add_argument("--check", action="store_true", help="connect and report battery and codec")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)
    p = sub.add_parser(
        "forget", help="unpair glasses: off the allow-list, bond removed (all without ADDRESS)"
    )
    p.add_argument("address", nargs="?", help="Bluetooth address; without it, every pair")
    p.set_defaults(handler=cmd_forget)
    p = sub.add_parser(
        "simulate",
        help="run the assistant against virtual glasses (no Bluetooth needed)",
        description="A tap on virtual glasses opens a turn; their microphone says the command "
        f"(default: {SIMULATED_COMMAND!r} in the assistant's own voice); the reply plays on their "
        "speaker, written to a WAV file, and its text shows on their display.",
    )
    p.add_argument("--mic", type=Path, metavar="FILE.wav", help="what the glasses' mic hears")
    p.add_argument("--output", type=Path, default=DEFAULT_REPLY_WAV, help="reply audio WAV")
    p.add_argument(
        "--glasses-mic",
        choices=MIC_MODES,
        help="when the glasses stream their microphone (default: [audio] glasses_mic, 'always')",
    )
    p.add_argument("--json", action="store_true", help="print events and a summary as JSON")
    p.set_defaults(handler=cmd_simulate)
    glasses.set_defaults(handler=lambda _a: _help(glasses))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _store(args: argparse.Namespace) -> PairedGlasses:
    return PairedGlasses(data_dir(getattr(args, "home", None)))


def _no_radio(err: Exception) -> GlassesError:
    why = "BlueZ is not reachable over D-Bus" if isinstance(err, OSError) else str(err)
    return GlassesError(
        f"Bluetooth is not available here ({why}). Check that the adapter is on and BlueZ runs "
        "(`bluetoothctl show`); `sottovoce glasses simulate` needs no Bluetooth.",
        code="no_bluetooth",
    )


# ---- scan, pair, status, forget ---------------------------------------------------------------


def cmd_scan(args: argparse.Namespace) -> int:
    found = _run_radio(central.scan(args.timeout))
    paired = _store(args).load()
    if args.json:
        for g in found:  # JSON Lines, like every --json list
            print(json.dumps({**vars_of(g), "paired": g.address.upper() in paired}))
        return 0
    if not found:
        print("No sottovoce glasses found. Are they on, charged and close by?")
    for g in found:
        mark = "  (paired)" if g.address.upper() in paired else ""
        print(f"{g.address}  {g.name or '?':24}  {g.rssi} dBm{mark}")
    return 0


def cmd_pair(args: argparse.Namespace) -> int:
    glasses = _run_radio(pair_glasses(args.address, _store(args), timeout_s=args.timeout))
    print(f"Paired {glasses.name or 'glasses'} at {glasses.address}.")
    print(
        'Use them: `sottovoce run --input glasses` (or `input = "glasses"` under [audio] '
        'in the config); tap them to talk. `glasses_mic = "tap"` saves their battery.'
    )
    return 0


async def pair_glasses(
    address: str,
    store: PairedGlasses,
    *,
    timeout_s: float,
    scanner: Any = None,
    client: Any = None,
) -> central.FoundGlasses:
    """Scan, bond (SMP pairing), then remember: a typo never becomes a pairing, and the
    glasses accept only hosts they bonded with. `scanner`/`client`: bleak backends (tests)."""
    found = await central.scan(timeout_s, backend=scanner)
    match = [g for g in found if g.address.upper() == address.upper()]
    if not match:
        raise GlassesError(
            f"No sottovoce glasses at {address} answered within {timeout_s:g} s. "
            "Run `sottovoce glasses scan` to see what is near.",
            code="glasses_not_found",
        )
    try:
        await central.bond(match[0].address, timeout_s=max(timeout_s, 10.0), backend=client)
    except BridgeError as err:
        raise GlassesError(err.message, code=err.code) from err
    store.add(match[0].address, match[0].name)
    return match[0]


def cmd_status(args: argparse.Namespace) -> int:
    store = _store(args)
    paired = store.load()
    rows: list[dict[str, Any]] = []
    for address, name in paired.items():
        row: dict[str, Any] = {"address": address, "name": name}
        if args.check:
            row.update(_run_radio(check_glasses(address, store)))
        rows.append(row)
    if args.json:
        print(json.dumps({"paired": rows, "file": str(store.path)}))
        return 0
    if not rows:
        print("No glasses paired. `sottovoce glasses scan`, then `sottovoce glasses pair ADDRESS`.")
    for row in rows:
        extra = ""
        if "error" in row:
            extra = f"  unreachable: {row['error']}"
        elif "battery" in row:
            extra = f"  battery {row['battery']} %, codec {row['codec']}, MTU {row['mtu']}"
        print(f"{row['address']}  {row['name']}{extra}")
    return 0


async def check_glasses(
    address: str, paired: PairedGlasses, *, backend: Any = None, timeout_s: float = 8.0
) -> dict[str, Any]:
    link = central.GlassesLink(address, paired=paired, backend=backend)
    try:
        await link.start()
        await link.wait_ready(timeout_s)
        battery = None
        async with asyncio.timeout(2.0):
            while battery is None:
                event = await link.events.get()
                if isinstance(event, central.Battery):
                    battery = event.percent
        hello = link.hello
        return {
            "battery": battery,
            "codec": link.codec.name,
            "mtu": hello.mtu if hello else None,
            "name": hello.name if hello else "",
        }
    except (BridgeError, TimeoutError) as err:
        return {"error": getattr(err, "message", None) or "no battery report"}
    finally:
        await link.close()


def cmd_forget(args: argparse.Namespace) -> int:
    gone = _store(args).remove(args.address)
    if args.address and not gone:
        print(f"{args.address} was not paired.", file=sys.stderr)
        return 1
    print(f"Forgot {', '.join(gone) or 'nothing (no glasses were paired)'}.")
    for address in gone:  # the allow-list entry is gone; the radio's bond is a best effort
        note = asyncio.run(forget_bond(address))
        if note:
            print(note, file=sys.stderr)
    return 0


async def forget_bond(address: str, *, backend: Any = None, timeout_s: float = 5.0) -> str:
    """Remove the Bluetooth bond too; returns "" or a note on why it stays."""
    from bleak.exc import BleakError

    try:
        await central.unbond(address, backend=backend, timeout_s=timeout_s)
    except (BleakError, OSError, TimeoutError) as err:
        reason = (
            "BlueZ is not reachable over D-Bus"
            if isinstance(err, OSError)
            else str(err) or type(err).__name__
        )
        return (
            f"The Bluetooth bond with {address} could not be removed ({reason}): remove it "
            f"with `bluetoothctl remove {address}`. The assistant no longer connects to these "
            "glasses either way."
        )
    return ""


def _run_radio(coro: Any) -> Any:
    from bleak.exc import BleakError

    try:
        return asyncio.run(coro)
    except (BleakError, OSError) as err:
        raise _no_radio(err) from err


def vars_of(found: central.FoundGlasses) -> dict[str, Any]:
    return {"address": found.address, "name": found.name, "rssi": found.rssi}


# ---- simulate ---------------------------------------------------------------------------------


@dataclass(slots=True)
class SimulationResult:
    displayed: list[str] = field(default_factory=list)
    reply_s: float = 0.0
    tap_to_first_audio_s: float | None = None
    speech_end_to_first_audio_s: float | None = None  # from where the command's sound ends
    endpoint_to_first_audio_s: float | None = None  # from the pipeline's end-of-speech event
    turns: int = 0
    trigger: str = "tap"
    glasses_mic: str = "always"
    mic_streamed_s: float = 0.0  # how long the glasses' microphone streamed
    session_s: float = 0.0  # from the link coming up to the end of the simulation
    codec: str = ""
    mtu: int = 0
    output: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"event": "glasses_summary", **{k: getattr(self, k) for k in self.__slots__}}


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        from firmware_bridge.sim import VirtualRadio  # noqa: F401  (bumble is optional)
    except ImportError as err:
        raise GlassesError(
            "simulate needs bumble: pip install 'sottovoce[glasses]'", code="no_bumble"
        ) from err
    from assistant.engines import build_engines
    from assistant.timeline import Timeline

    settings, _path = cfg.load_settings(getattr(args, "config", None))
    timeline = Timeline(as_json=args.json)
    engines = build_engines(settings)
    speech = None
    if args.mic:
        from assistant.audio_io import read_wav_16k_mono

        speech = read_wav_16k_mono(args.mic)
    mic = args.glasses_mic or settings.audio.glasses_mic
    result = asyncio.run(
        simulate(settings, engines, timeline=timeline, speech=speech, output=args.output, mic=mic)
    )
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        _print_summary(result)
    return 0 if result.turns else 1


def _print_summary(result: SimulationResult) -> None:
    out = sys.stderr
    print(f"Glasses display showed: {result.displayed}", file=out)
    print(f"Reply audio on the glasses: {result.reply_s:.2f} s -> {result.output}", file=out)
    print(
        f"Glasses microphone ({result.glasses_mic}): streamed {result.mic_streamed_s:.1f} s "
        f"of the {result.session_s:.1f} s connected",
        file=out,
    )
    if result.tap_to_first_audio_s is not None:
        print(f"Tap -> first reply frame: {result.tap_to_first_audio_s:.2f} s", file=out)
    if result.speech_end_to_first_audio_s is not None:
        print(
            f"End of the spoken command -> first reply frame: "
            f"{result.speech_end_to_first_audio_s:.2f} s",
            file=out,
        )
    if result.endpoint_to_first_audio_s is not None:
        print(
            f"Endpoint (end-of-speech event) -> first reply frame: "
            f"{result.endpoint_to_first_audio_s:.2f} s",
            file=out,
        )


async def simulate(
    settings: cfg.Settings,
    engines: Engines,
    *,
    timeline: Callable[[ev.Event], None],
    speech: Pcm | None,
    output: Path,
    mic: str = "always",
    timeout_s: float = 60.0,
) -> SimulationResult:
    """One tap-to-talk turn against virtual glasses; returns what the glasses saw and heard.
    The assistant is `run`'s, on sentence templates only and with no language model: this
    measures the link and the turn, not the models."""
    from assistant.assembly import Assistant
    from assistant.audio_io import NullSink, WavWriter
    from assistant.engines import speak_16k
    from firmware_bridge.sim import VirtualRadio

    result = SimulationResult(output=str(output), glasses_mic=mic)
    turn_done = asyncio.Event()
    speech_ended: list[float] = []  # pipeline clock: seconds since its origin

    def emit(event: ev.Event) -> None:
        timeline(event)
        if isinstance(event, ev.TurnEnded) and event.turn >= 1:
            turn_done.set()
        if isinstance(event, ev.SpeechEnded):
            speech_ended.append(event.t)

    settings = cfg.replace(cfg.replace(settings, "lm", enabled=False), "intent", semantic=False)
    async with VirtualRadio(realtime_mic=True) as radio:
        address = radio.glasses_address
        link = central.GlassesLink(address, paired={address}, backend=radio.backends.client)
        session = GlassesSession(link, fallback=NullSink(), mic=mic)
        with tempfile.TemporaryDirectory() as home:
            assistant = Assistant(
                settings,
                sink=session.sink,
                emit=emit,
                home=Path(home),
                engines=engines,
                glasses=session,  # taps open turns, a double tap repeats, a long one stops
            )
            async with assistant as running:
                pipeline = running.pipeline
                await link.wait_ready(10.0)
                link_up = asyncio.get_running_loop().time()
                run = asyncio.create_task(
                    pipeline.run(session.source, realtime=True), name="pipeline"
                )
                try:
                    if speech is None:
                        speech = speak_16k(engines.tts, SIMULATED_COMMAND)
                    await asyncio.sleep(0.3)  # the mic is streaming
                    # The wearer speaks right after the tap, not after its acknowledgement.
                    tap = asyncio.create_task(radio.glasses.tap())
                    await asyncio.sleep(0)
                    radio.glasses.say(speech)
                    await tap
                    async with asyncio.timeout(timeout_s):
                        await turn_done.wait()
                    await session.sink.drain()
                    await asyncio.sleep(0.3)  # the last display pages and frames land
                finally:
                    await session.source.close()
                    await run
                result.session_s = round(asyncio.get_running_loop().time() - link_up, 2)
        glasses = radio.glasses
        heard = glasses.received.speaker_pcm()
        writer = WavWriter(output, SAMPLE_RATE)
        writer.write(heard)
        writer.close()
        result.displayed = glasses.received.texts
        result.reply_s = len(heard) / SAMPLE_RATE
        result.turns = pipeline.turns
        result.mic_streamed_s = round(glasses.received.mic_s, 2)
        result.codec = link.codec.name
        result.mtu = link.hello.mtu if link.hello else 0
        if glasses.first_audio_at is not None:
            if glasses.tapped_at is not None:
                result.tap_to_first_audio_s = round(glasses.first_audio_at - glasses.tapped_at, 3)
            if speech_ended:  # the loop's clock and the pipeline's are both time.monotonic
                ended = pipeline.clock_origin + speech_ended[0]
                result.endpoint_to_first_audio_s = round(glasses.first_audio_at - ended, 3)
            if glasses.speech_started_at is not None and speech is not None:
                sound_ends = glasses.speech_started_at + loud_span(speech)[1] / SAMPLE_RATE
                result.speech_end_to_first_audio_s = round(glasses.first_audio_at - sound_ends, 3)
    return result
