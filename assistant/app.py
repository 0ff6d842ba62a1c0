"""Running the assistant: pick source and sink, load engines, run the pipeline, report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from assistant import audio_io
from assistant import events as ev
from assistant.assembly import Assistant, sound_device
from assistant.audio import AudioSink, AudioSource
from assistant.config import Settings
from assistant.errors import AudioError
from assistant.glasses import GlassesSession, PairedGlasses
from assistant.paths import data_dir
from assistant.shutdown import exit_now, until_signalled
from assistant.store import Store, StoreError
from assistant.timeline import Timeline

_LOGGER = logging.getLogger(__name__)

FALLBACK_REPLY_WAV = Path("sottovoce-reply.wav")


def bundled_sample() -> Path:
    """A spoken "Hey Jarvis. What time is it?" that ships with the package."""
    return Path(str(resources.files("assistant") / "data" / "hey_jarvis_what_time.wav"))


@dataclass(frozen=True, slots=True)
class RunPlan:
    source: AudioSource | None  # None for a text turn
    sink: AudioSink
    realtime: bool
    notes: tuple[str, ...]  # what was chosen instead of what was asked, for the user
    glasses: GlassesSession | None = None


def plan_run(settings: Settings, *, text: str | None) -> RunPlan:
    cfg = settings.audio
    notes: list[str] = []
    source: AudioSource | None = None
    realtime = False
    fell_back = False
    if text is None and cfg.input == "glasses":
        glasses = _glasses_session(settings)
        return RunPlan(
            source=glasses.source, sink=glasses.sink, realtime=True, notes=(), glasses=glasses
        )
    if text is None:
        if cfg.input == "mic":
            try:
                source = audio_io.MicrophoneSource(sound_device(cfg.input_device))
                realtime = True
            except AudioError as err:
                sample = bundled_sample()
                notes.append(
                    f"{err.message}\n"
                    f'Running the bundled sample {sample.name} ("hey jarvis, what time is it") '
                    "through the full pipeline instead. Use --input FILE.wav for your own."
                )
                source = audio_io.WavFileSource(sample, paced=cfg.paced)
                fell_back = True
        else:
            path = Path(cfg.input)
            if not path.is_file():  # say so now, not after the models have loaded
                raise AudioError(f"{path}: no such file. Give a WAV file, 'mic' or 'glasses'.")
            source = audio_io.WavFileSource(path, paced=cfg.paced)
            realtime = cfg.paced
    sink: AudioSink
    if cfg.output == "null":
        sink = audio_io.NullSink()
    elif cfg.output == "speaker" and not fell_back:
        try:
            sink = audio_io.SpeakerSink(sound_device(cfg.output_device))
        except AudioError as err:
            notes.append(f"{err.message}\nWriting the reply to {FALLBACK_REPLY_WAV}.")
            sink = audio_io.WavFileSink(FALLBACK_REPLY_WAV)
    elif cfg.output == "speaker":
        notes.append(f"Writing the spoken reply to {FALLBACK_REPLY_WAV}.")
        sink = audio_io.WavFileSink(FALLBACK_REPLY_WAV)
    else:
        sink = audio_io.WavFileSink(Path(cfg.output))
    return RunPlan(source=source, sink=sink, realtime=realtime, notes=tuple(notes))


def _glasses_session(settings: Settings) -> GlassesSession:
    """The first paired glasses: their microphone in, their speaker out (the host's speaker
    while the link is down)."""
    from firmware_bridge.central import GlassesLink

    paired = PairedGlasses(data_dir())
    addresses = sorted(paired.load())
    if not addresses:
        raise AudioError(
            "No paired glasses. Find them with `sottovoce glasses scan`, then "
            "`sottovoce glasses pair ADDRESS`; or try `sottovoce glasses simulate`."
        )
    fallback: AudioSink
    try:
        fallback = audio_io.SpeakerSink(sound_device(settings.audio.output_device))
    except AudioError:
        fallback = audio_io.NullSink()
    return GlassesSession(
        GlassesLink(addresses[0], paired=paired), fallback=fallback, mic=settings.audio.glasses_mic
    )


async def run_assistant(
    settings: Settings,
    *,
    text: str | None,
    timeline: Timeline,
    started: float,
    store: Store | None = None,
) -> int:
    plan = plan_run(settings, text=text)
    for note in plan.notes:
        print(note, file=sys.stderr)
    assistant = Assistant(
        settings, sink=plan.sink, emit=timeline, store=store, glasses=plan.glasses
    )
    async with assistant as running:
        volume = running.volume
        if volume is not None and (volume.muted or volume.level == 0):
            print('The assistant is muted: say "unmute" or "volume 5" to hear it.', file=sys.stderr)
        pipeline = running.pipeline
        if plan.source is None:
            assert text is not None
            if sys.stdin.isatty():
                pipeline.typed_answers = _typed_answer
            await pipeline.run_text(text)
        else:
            await pipeline.run(
                plan.source, realtime=plan.realtime, startup_s=time.perf_counter() - started
            )
    _summarize(timeline, settings, plan)
    return 0


async def _typed_answer(question: str) -> str | None:
    """A follow-up question during `run --text`, answered at the terminal."""
    try:
        return await asyncio.to_thread(input, f"{question} > ")
    except EOFError:
        return None


def _summarize(timeline: Timeline, settings: Settings, plan: RunPlan) -> None:
    """A closing line for people (stderr, so --json output stays clean)."""
    if timeline.of(ev.Reply):
        where = settings.audio.output
        if isinstance(plan.sink, audio_io.WavFileSink):
            print(f"Spoken reply written to {plan.sink.path}", file=sys.stderr)
        elif where == "speaker":
            print("Reply played on the speaker.", file=sys.stderr)
        return
    if timeline.of(ev.NoSpeech):
        print("No speech heard.", file=sys.stderr)
    elif not timeline.of(ev.WakeDetected) and plan.source is not None:
        print(
            f"No speech heard: the wake word '{settings.wake.model}' did not fire in "
            f"{plan.source.name}. Say it first, or use --text.",
            file=sys.stderr,
        )


def run(settings: Settings, *, text: str | None, as_json: bool, started: float) -> int:
    timeline = Timeline(as_json=as_json)
    try:  # first: a damaged or locked database is said at once, before the models load
        store = Store.open(data_dir())
    except StoreError as err:
        print(f"sottovoce: {err.message}", file=sys.stderr)
        return 1
    main = run_assistant(settings, text=text, timeline=timeline, started=started, store=store)
    signalled: signal.Signals | None = None
    try:
        with contextlib.suppress(KeyboardInterrupt):
            result = asyncio.run(until_signalled(main, name="assistant"))
            if not isinstance(result, signal.Signals):
                return result
            signalled = result
    finally:
        store.close()
    if signalled is None:
        print("Stopped.", file=sys.stderr)
        return 0
    # The reply is cut, the database closed: what is left is threads finishing what nobody will
    # hear and the interpreter freeing the models (0.5-1.5 s here), past a service's patience.
    print(f"Stopped ({signalled.name}).", file=sys.stderr)
    exit_now(0)


async def say(settings: Settings, text: str, output: str) -> int:
    """Speak `text` to the speaker or a WAV file (the speaker falls back to a file)."""
    from assistant.engines import load_synthesizer

    sink: AudioSink
    if output == "speaker":
        try:
            sink = audio_io.SpeakerSink(sound_device(settings.audio.output_device))
        except AudioError as err:
            fallback = Path("sottovoce-say.wav")
            print(f"No speaker: {err.message}\nWriting to {fallback} instead.", file=sys.stderr)
            sink = audio_io.WavFileSink(fallback)
    else:
        sink = audio_io.WavFileSink(Path(output))
    synth = await asyncio.to_thread(load_synthesizer, settings)
    try:
        for pcm in synth.synthesize(text):
            await sink.play(pcm, synth.sample_rate)
        await sink.drain()
    finally:
        await sink.close()
    if isinstance(sink, audio_io.WavFileSink):
        print(f"Wrote {sink.path}", file=sys.stderr)
    return 0
