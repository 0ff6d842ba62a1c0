"""The glasses in the voice loop: their microphone as an `AudioSource`, their speaker as an
`AudioSink`, taps as push-to-talk and barge-in, and transcripts, replies and reminders on their
display. While the link is down the microphone yields silence (stream time keeps going, so an open
utterance ends), replies play on the fallback sink, and display texts wait for the reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant import events as ev
from assistant.audio import CHUNK_SAMPLES, AudioChunk, AudioSink
from assistant.audio_convert import resample
from firmware_bridge import central
from firmware_bridge.errors import BridgeError
from firmware_bridge.profile import Gesture
from firmware_bridge.tasks import BackgroundTasks
from models.protocols import SAMPLE_RATE, Pcm

_LOGGER = logging.getLogger(__name__)

PAIRED_FILE = "glasses.json"
PLAY_AHEAD_S = 0.25  # audio sent ahead of playback: the glasses' jitter buffer
LATE_CHUNKS = 3  # chunk periods of no microphone audio that count as lateness, not a gap


class TurnControl(Protocol):
    """What the glasses need from the pipeline (a tap is push-to-talk, a double tap says the
    last reply again, a long press stops)."""

    async def open_turn(self, trigger: str) -> None: ...

    async def barge_in(self, by: str) -> None: ...

    async def repeat_last(self, trigger: str) -> None: ...


# ---- pairing ---------------------------------------------------------------------------------


class PairedGlasses:
    """Paired addresses and names in a small JSON file under the data dir."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / PAIRED_FILE

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            _LOGGER.warning("ignoring unreadable %s: %s", self.path, err)
            return {}
        devices = data.get("devices", {}) if isinstance(data, dict) else {}
        return {str(k).upper(): str(v) for k, v in devices.items()}

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.upper() in self.load()

    def add(self, address: str, name: str) -> None:
        devices = self.load()
        devices[address.upper()] = name
        self._save(devices)

    def remove(self, address: str | None = None) -> list[str]:
        """Forget one address, or all of them; returns what was forgotten."""
        devices = self.load()
        gone = list(devices) if address is None else [a for a in devices if a == address.upper()]
        for a in gone:
            del devices[a]
        self._save(devices)
        return gone

    def _save(self, devices: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"devices": devices}, indent=2), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a crash never leaves half a file


# ---- audio in and out ------------------------------------------------------------------------


class GlassesMicSource:
    """The glasses' microphone as 80 ms chunks of 16 kHz audio with stream positions."""

    def __init__(self, link: central.GlassesLink, *, max_queue_s: float = 10.0) -> None:
        self._link = link
        self._queue: asyncio.Queue[Pcm | None] = asyncio.Queue(
            maxsize=int(max_queue_s * SAMPLE_RATE / 320)
        )
        self._closed = False

    @property
    def name(self) -> str:
        return f"glasses:{self._link.address}"

    def feed(self, pcm: Pcm) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(pcm)
        except asyncio.QueueFull:
            _LOGGER.warning("glasses microphone audio not consumed: dropping 20 ms")

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        buffered: list[Pcm] = []
        have = 0
        position = 0
        silence = np.zeros(CHUNK_SAMPLES, dtype=np.int16)
        waits = 0
        while not self._closed:
            try:
                async with asyncio.timeout(CHUNK_SAMPLES / SAMPLE_RATE):
                    pcm = await self._queue.get()
                waits = 0
            except TimeoutError:
                waits += 1
                if self._link.is_ready and waits <= LATE_CHUNKS:
                    continue  # a late frame, not a dead link
                # Link down, or a microphone that is off or failed to start: time goes on,
                # silently, so an open utterance still ends.
                pcm = silence
            if pcm is None:
                break
            buffered.append(pcm)
            have += len(pcm)
            while have >= CHUNK_SAMPLES:
                joined = np.concatenate(buffered)
                chunk, rest = joined[:CHUNK_SAMPLES], joined[CHUNK_SAMPLES:]
                buffered, have = [rest], len(rest)
                yield AudioChunk(pcm=chunk, start_s=position / SAMPLE_RATE)
                position += CHUNK_SAMPLES

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)


class GlassesSink:
    """Replies to the glasses' speaker, paced a little ahead of real time; to `fallback` while
    the link is down."""

    def __init__(self, link: central.GlassesLink, fallback: AudioSink) -> None:
        self._link = link
        self._fallback = fallback
        self._heard_by = 0.0  # loop time when the glasses will have played what was sent
        self._stopped = asyncio.Event()
        self.sent_s = 0.0

    @property
    def name(self) -> str:
        return f"glasses:{self._link.address}"

    async def play(self, pcm: Pcm, sample_rate: int) -> None:
        if not self._link.is_ready:
            await self._fallback.play(pcm, sample_rate)
            return
        audio = resample(pcm, sample_rate, SAMPLE_RATE) if sample_rate != SAMPLE_RATE else pcm
        loop = asyncio.get_running_loop()
        stopped = self._stopped
        step = SAMPLE_RATE // 5  # 200 ms at a time, so stop() cuts in quickly
        for start in range(0, len(audio), step):
            if stopped.is_set():
                return
            piece = audio[start : start + step]
            await self._wait_until(self._heard_by - PLAY_AHEAD_S, stopped)
            if stopped.is_set() or not self._link.is_ready:
                return
            await self._link.play(piece)
            self._heard_by = max(self._heard_by, loop.time()) + len(piece) / SAMPLE_RATE
            self.sent_s += len(piece) / SAMPLE_RATE

    async def drain(self) -> None:
        await self._wait_until(self._heard_by, self._stopped)
        await self._fallback.drain()

    async def stop(self) -> None:
        self._stopped.set()
        self._stopped = asyncio.Event()
        self._heard_by = 0.0
        await self._fallback.stop()
        if self._link.is_ready:
            with contextlib.suppress(BridgeError):
                await self._link.stop_audio()

    async def close(self) -> None:
        self._stopped.set()
        await self._fallback.close()

    @staticmethod
    async def _wait_until(deadline: float, stopped: asyncio.Event) -> None:
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stopped.wait()


# ---- routing ---------------------------------------------------------------------------------


MIC_MODES = ("always", "tap")


class GlassesBridge:
    """Routes link events into the pipeline and pipeline events (via `observe`) to the display.

    `mic` says when the glasses stream their microphone. "always": from every connect, so the
    wake word works on them. "tap": only from a tap until the turn, and the follow-up window
    after it, are over; the radio, microphone and encoder of the glasses rest in between, which
    is what their battery needs; only taps open turns then (the wake word has nothing to hear).
    """

    def __init__(
        self,
        link: central.GlassesLink,
        control: TurnControl,
        source: GlassesMicSource,
        *,
        mic: str = "always",
    ) -> None:
        if mic not in MIC_MODES:
            raise ValueError(f"mic must be one of {MIC_MODES}, not {mic!r}")
        self._link = link
        self._control = control
        self._source = source
        self._mic_mode = mic
        self._tasks = BackgroundTasks(_LOGGER)
        self._display_lock = asyncio.Lock()  # pages of one text stay together, in order
        self._mic_lock = asyncio.Lock()  # one start or stop in flight, in order
        self._mic_on = False  # what the glasses were last told
        self._in_turn = False
        self._follow_up = False
        self._mic_sync_due = False
        self.battery: central.Battery | None = None
        self.taps = 0

    def start(self) -> None:
        self._tasks.spawn(self.run(), "glasses-bridge")

    @property
    def mic_wanted(self) -> bool:
        return self._mic_mode == "always" or self._in_turn or self._follow_up

    async def run(self) -> None:
        while True:
            event = await self._link.events.get()
            match event:
                case central.LinkUp():
                    self._mic_on = False  # glasses stop their microphone when a link drops
                    self._sync_mic()
                case central.MicAudio(pcm=pcm):
                    self._source.feed(pcm)
                case central.Tapped(gesture=Gesture.LONG):
                    self._tasks.spawn(self._control.barge_in("tap"), "glasses-barge-in")
                case central.Tapped(gesture=Gesture.DOUBLE):
                    self._tasks.spawn(self._control.repeat_last("double_tap"), "glasses-repeat")
                case central.Tapped():
                    self.taps += 1
                    self._in_turn = True  # the microphone starts before the turn opens
                    self._sync_mic()
                    self._tasks.spawn(self._control.open_turn("tap"), "glasses-open-turn")
                case central.Battery():
                    self.battery = event
                case central.LinkDown():
                    _LOGGER.info("glasses link down: replies go to the fallback sink")

    def observe(self, event: ev.Event) -> None:
        match event:
            case ev.Transcript(text=text) if text.strip():
                self._show(f"» {text}")
            case ev.Reply(text=text) | ev.Displayed(text=text):
                self._show(text)
            case ev.Notification(text=text):
                self._show(text, tone=True)
            case ev.TurnStarted():
                self._in_turn, self._follow_up = True, False
                self._sync_mic()
            case ev.TurnEnded():
                self._in_turn = False
                self._sync_mic()
            case ev.FollowUpOpened():
                self._follow_up = True
                self._sync_mic()
            case ev.FollowUpClosed():
                self._follow_up = False
                self._sync_mic()
            case _:
                pass

    def _sync_mic(self) -> None:
        """Start or stop the glasses' microphone to match `mic_wanted`, once the events of
        this moment are in (a turn's end is followed at once by its follow-up window)."""
        if self._mic_mode == "always" and self._mic_on:
            return
        if not self._mic_sync_due:
            self._mic_sync_due = True
            self._tasks.spawn(self._apply_mic(), "glasses-mic")

    async def _apply_mic(self) -> None:
        await asyncio.sleep(0)
        self._mic_sync_due = False
        async with self._mic_lock:
            want = self.mic_wanted
            if want == self._mic_on or not self._link.is_ready:
                return  # nothing to do, or LinkUp syncs again
            try:
                if want:
                    await self._link.mic_start()
                else:
                    await self._link.mic_stop()
            except BridgeError as err:
                _LOGGER.warning(
                    "could not %s the glasses' microphone: %s", "start" if want else "stop", err
                )
                return
            self._mic_on = want
            _LOGGER.debug("glasses microphone %s", "on" if want else "off")

    def _show(self, text: str, *, tone: bool = False) -> None:
        async def show() -> None:
            async with self._display_lock:
                if tone:
                    await self._link.tone()
                await self._link.display(text, timeout_s=300)  # waits out a reconnect

        self._tasks.spawn(show(), "glasses-display")

    async def close(self) -> None:
        await self._tasks.close()


class GlassesSession:
    """One pair of glasses for one assistant run.

    Give `source` and `sink` to the pipeline and pass its events to `observe`, then
    `start(pipeline)`; `close()` after the run.
    """

    def __init__(
        self, link: central.GlassesLink, *, fallback: AudioSink, mic: str = "always"
    ) -> None:
        if mic not in MIC_MODES:
            raise ValueError(f"mic must be one of {MIC_MODES}, not {mic!r}")
        self.link = link
        self.source = GlassesMicSource(link)
        self.sink = GlassesSink(link, fallback)
        self.mic = mic
        self.bridge: GlassesBridge | None = None

    def observe(self, event: ev.Event) -> None:
        if self.bridge is not None:
            self.bridge.observe(event)

    async def start(self, control: TurnControl) -> None:
        """Raises `NotPairedError` for unpaired glasses; otherwise connects in the background."""
        self.bridge = GlassesBridge(self.link, control, self.source, mic=self.mic)
        self.bridge.start()
        await self.link.start()

    async def close(self) -> None:
        await self.source.close()
        if self.bridge is not None:
            await self.bridge.close()
        await self.link.close()
