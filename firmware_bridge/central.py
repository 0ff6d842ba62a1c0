"""The host side of the link, on bleak: scan, connect, handshake, heartbeat, reconnect.

`GlassesLink.start()` returns at once; a supervisor task keeps the link up, reconnecting with
exponential backoff and jitter, saying HELLO again after each connect and then resending every
reliable message that was not acknowledged. The application reads `events` (typed) and calls
`display`, `play`, `tone`, `mic_start`, `mic_stop`, `stop_audio`.

Bleak quirk handled: BlueZ reports `mtu_size` 23 unless the MTU was acquired, so fragments are
sized from the command characteristic's `max_write_without_response_size`, capped at 512.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError

from firmware_bridge import messages as msg
from firmware_bridge.audio_stream import FrameReceiver, frames_of
from firmware_bridge.codecs import AudioCodec, Pcm, available_codecs, choose_codec, make_codec
from firmware_bridge.endpoint import Endpoint
from firmware_bridge.errors import (
    BridgeError,
    ConnectTimeout,
    LinkError,
    NotBondedError,
    NotPairedError,
    PairingRefused,
)
from firmware_bridge.profile import (
    AUDIO_UUID,
    COMMAND_UUID,
    EVENT_UUID,
    HOST_ACCEPTS,
    HOST_ACCEPTS_BEFORE_HELLO,
    PROTOCOL_VERSION,
    SERVICE_UUID,
    Channel,
    Codec,
    Gesture,
    MessageType,
    fragment_size,
)

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSettings:
    connect_timeout_s: float = 5.0
    hello_timeout_s: float = 3.0
    heartbeat_s: float = 1.0
    heartbeat_misses: int = 3  # silent intervals before the link is declared dead
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 5.0
    backoff_jitter: float = 0.25  # +- fraction of each delay, so many hosts do not stampede
    ack_timeout_s: float = 0.4


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundGlasses:
    address: str
    name: str
    rssi: int


# ---- what the link reports -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkUp:
    hello: msg.Hello
    codec: Codec
    connects: int  # 1 for the first connection, then one more per reconnect


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDown:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Tapped:
    gesture: Gesture
    button: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MicAudio:
    pcm: Pcm  # 16 kHz mono int16, gaps already filled with silence


@dataclass(frozen=True, slots=True, kw_only=True)
class Battery:
    percent: int
    charging: bool


LinkEvent = LinkUp | LinkDown | Tapped | MicAudio | Battery


async def scan(
    timeout_s: float = 5.0, *, backend: type[BaseBleakScanner] | None = None
) -> list[FoundGlasses]:
    """Glasses advertising the sottovoce service, strongest first."""
    if backend is None:
        found = await BleakScanner.discover(
            timeout=timeout_s, return_adv=True, service_uuids=[SERVICE_UUID]
        )
    else:
        found = await BleakScanner.discover(
            timeout=timeout_s, return_adv=True, service_uuids=[SERVICE_UUID], backend=backend
        )
    glasses = [
        FoundGlasses(address=dev.address, name=adv.local_name or dev.name or "", rssi=adv.rssi)
        for dev, adv in found.values()
    ]
    return sorted(glasses, key=lambda g: -g.rssi)


async def bond(
    address: str, *, timeout_s: float = 10.0, backend: type[BaseBleakClient] | None = None
) -> None:
    """Pair (SMP, with bonding) with the glasses at `address`; they must be in pairing mode.

    The glasses accept commands only over a link encrypted with this bond, so a host that
    never paired cannot drive them even if it knows their address.
    """
    client = BleakClient(address, timeout=timeout_s, backend=backend)
    try:
        async with asyncio.timeout(timeout_s):
            await client.connect()
    except TimeoutError as err:
        raise ConnectTimeout(f"no answer from {address} within {timeout_s:g} s") from err
    try:
        await client.pair()
    except BleakError as err:
        raise PairingRefused(
            f"{address} refused to pair ({err}). Put the glasses in pairing mode (usually a "
            "long press; see their manual) and run the command again."
        ) from err
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()


async def unbond(
    address: str, *, timeout_s: float = 5.0, backend: type[BaseBleakClient] | None = None
) -> None:
    """Remove this host's bond with `address` (BlueZ forgets the device and its keys)."""
    client = BleakClient(address, timeout=timeout_s, backend=backend)
    async with asyncio.timeout(timeout_s):
        await client.unpair()


def refused_for_want_of_a_bond(err: BaseException) -> bool:
    """An ATT error meaning the glasses do not know this host (no bond, or they forgot it)."""
    # bumble writes INSUFFICIENT_ENCRYPTION, BlueZ "Insufficient Encryption": compare letters.
    text = re.sub(r"[^A-Z]", "", str(err).upper())
    return any(
        reason in text
        for reason in ("INSUFFICIENTENCRYPTION", "INSUFFICIENTAUTHENTICATION", "KEYMISSING")
    )


def backoff_delay(attempt: int, settings: LinkSettings, rng: random.Random) -> float:
    base = min(settings.backoff_max_s, settings.backoff_initial_s * 2.0 ** min(attempt, 30))
    return base * (1 + settings.backoff_jitter * (2 * rng.random() - 1))


class _WriteTransport:
    def __init__(self, client: BleakClient, command: BleakGATTCharacteristic) -> None:
        self._client = client
        self._command = command

    def fragment_size(self, channel: Channel) -> int:
        return fragment_size(self._command.max_write_without_response_size)

    async def write(self, channel: Channel, fragment: bytes) -> None:
        await self._client.write_gatt_char(self._command, fragment, response=False)


@dataclass(slots=True)
class LinkStats:
    connects: int = 0
    drops: int = 0
    heartbeats_missed: int = 0
    last_reconnect_s: float | None = None  # link lost -> link up again
    mic_gaps: int = 0
    fragments_dropped: int = 0  # notifications that came faster than they could be handled


class GlassesLink:
    def __init__(
        self,
        address: str,
        *,
        paired: Container[str],
        settings: LinkSettings | None = None,
        backend: type[BaseBleakClient] | None = None,
        codecs: frozenset[Codec] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address.upper()
        self._paired = paired
        self.settings = settings or LinkSettings()
        self._backend = backend
        self._codecs = codecs if codecs is not None else available_codecs()
        self._rng = rng or random.Random()
        self._clock = clock
        self.session = self._rng.getrandbits(32)
        self.events: asyncio.Queue[LinkEvent] = asyncio.Queue(maxsize=2000)
        self.stats = LinkStats()
        self.hello: msg.Hello | None = None
        self.codec = Codec.PCM16
        self.endpoint = Endpoint(
            reply=Channel.COMMAND,
            accepts=self._accepts,
            clock=clock,
            ack_timeout_s=self.settings.ack_timeout_s,
        )
        self._handshaken = False
        self._peer_hello: asyncio.Future[msg.Hello] | None = None
        self._client: BleakClient | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._last_heard = clock()
        self._lost_at: float | None = None
        self._inbox: asyncio.Queue[tuple[Channel, bytes]] = asyncio.Queue(maxsize=4096)
        self._tasks: list[asyncio.Task[Any]] = []
        self._mic: FrameReceiver | None = None
        self._play_index = 0
        self._speaker: AudioCodec | None = None
        self._closing = False

    def _accepts(self) -> dict[Channel, frozenset[MessageType]]:
        if not self._handshaken:
            return HOST_ACCEPTS_BEFORE_HELLO
        if self._mic is None:
            return {**HOST_ACCEPTS, Channel.AUDIO: frozenset()}
        return HOST_ACCEPTS

    @property
    def is_ready(self) -> bool:
        return self.endpoint.is_ready

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Refuses unpaired glasses; otherwise keeps connecting in the background."""
        if self.address not in self._paired:
            raise NotPairedError(
                f"{self.address} is not paired: run `sottovoce glasses pair {self.address}` first"
            )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._supervise(), name="glasses-supervisor"),
            loop.create_task(self._consume(), name="glasses-inbox"),
        ]

    async def wait_ready(self, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await self.endpoint.wait_ready()
        except TimeoutError as err:
            raise ConnectTimeout(
                f"glasses {self.address} not ready within {timeout_s:g} s: are they on and near?"
            ) from err

    async def close(self) -> None:
        self._closing = True
        self._lost.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def drop(self) -> None:
        """Disconnect now (the supervisor reconnects); for tests and the demo."""
        if self._client is not None:
            await self._client.disconnect()

    # ---- commands -----------------------------------------------------------------------

    async def display(self, text: str, *, timeout_s: float = 10.0) -> None:
        cols = self.hello.display_cols if self.hello else 0
        rows = self.hello.display_rows if self.hello else 0
        pages = msg.paginate(text, cols, rows)
        for number, page in enumerate(pages, start=1):
            await self.endpoint.request(
                msg.DisplayText(page=number, pages=len(pages), text=page), timeout_s=timeout_s
            )

    async def tone(self, *, haptic: bool = False, timeout_s: float = 5.0) -> None:
        await self.endpoint.request(msg.Tone(haptic=haptic), timeout_s=timeout_s)

    async def mic_start(self) -> None:
        self._mic = FrameReceiver(make_codec(self.codec))
        await self.endpoint.request(msg.MicStart(codec=self.codec))

    async def mic_stop(self) -> None:
        self._mic = None
        with contextlib.suppress(BridgeError):
            await self.endpoint.request(msg.MicStop(), timeout_s=2.0)

    async def play(self, pcm: Pcm, *, last: bool = False) -> int:
        """16 kHz audio to the glasses' speaker, unpaced and unreliable; returns frames sent."""
        if self._speaker is None or self._speaker.codec != self.codec:
            self._speaker = make_codec(self.codec)
        encoder = self._speaker
        sent = 0
        frames = list(frames_of(pcm))
        for n, frame in enumerate(frames):
            message = msg.PlayAudio(
                index=self._play_index,
                codec=self.codec,
                data=encoder.encode(frame),
                last=last and n == len(frames) - 1,
            )
            self._play_index = (self._play_index + 1) % 65536
            sent += await self.endpoint.send(message)
        return sent

    async def stop_audio(self) -> None:
        await self.endpoint.request(msg.PlayStop(), timeout_s=2.0)

    # ---- the connection -----------------------------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                await self._connect_and_serve()
                attempt = 0
            except NotBondedError as err:
                _LOGGER.warning("%s", err)
            except (BleakError, BridgeError, TimeoutError) as err:
                _LOGGER.info("glasses %s: %s", self.address, err)
            if self._closing:
                break
            delay = backoff_delay(attempt, self.settings, self._rng)
            attempt += 1
            await asyncio.sleep(delay)

    async def _connect_and_serve(self) -> None:
        self._lost.clear()
        client = BleakClient(
            self.address,
            disconnected_callback=lambda _client: self._lost.set(),
            timeout=self.settings.connect_timeout_s,
            backend=self._backend,
        )
        try:
            try:  # our own bound: some stacks never return for an absent device
                async with asyncio.timeout(self.settings.connect_timeout_s):
                    await client.connect()
            except TimeoutError as err:
                raise ConnectTimeout(f"no answer from {self.address}") from err
            except BleakError as err:
                if refused_for_want_of_a_bond(err):
                    raise self._bond_error() from err
                raise
            self._client = client
            command = client.services.get_characteristic(COMMAND_UUID)
            if command is None:
                raise LinkError(f"{self.address} does not offer the sottovoce glasses service")
            await self._check_bond(client)
            self.endpoint.attach(_WriteTransport(client, command))
            await client.start_notify(EVENT_UUID, self._notified(Channel.EVENT))
            await client.start_notify(AUDIO_UUID, self._notified(Channel.AUDIO))
            await self._handshake()
            await self._serve()
        finally:
            was_up = self.endpoint.is_ready
            self.endpoint.detach()
            self._handshaken = False
            self._client = None
            if was_up and not self._closing:
                self.stats.drops += 1
                self._lost_at = self._clock()
                self._emit(LinkDown(reason="link lost"))
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def _check_bond(self, client: BleakClient) -> None:
        """Read the event characteristic, which the glasses serve over a bonded (encrypted)
        link only: commands are written without response, so a refusal would otherwise look
        like glasses that never answer."""
        try:
            await client.read_gatt_char(EVENT_UUID)
        except BleakError as err:
            if refused_for_want_of_a_bond(err):
                raise self._bond_error() from err
            raise

    def _bond_error(self) -> NotBondedError:
        return NotBondedError(
            f"glasses {self.address} refuse this host: they have no bond with it (reset, or "
            "paired with another host). Put them in pairing mode and run "
            f"`sottovoce glasses pair {self.address}`."
        )

    def _notified(self, channel: Channel) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
        def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
            self._last_heard = self._clock()
            try:
                self._inbox.put_nowait((channel, bytes(data)))
            except asyncio.QueueFull:  # a flooding peer costs fragments, never memory
                self.stats.fragments_dropped += 1

        return on_notify

    async def _handshake(self) -> None:
        self._peer_hello = asyncio.get_running_loop().create_future()
        hello = msg.Hello(version=PROTOCOL_VERSION, session=self.session, codecs=self._codecs)
        timeout = self.settings.hello_timeout_s
        await self.endpoint.request(hello, timeout_s=timeout, handshake=True)
        async with asyncio.timeout(timeout):
            theirs = await self._peer_hello
        if self.hello is not None and self.hello.session != theirs.session:
            self.endpoint.reset_inbound()  # the glasses restarted: their numbering starts over
        self.hello = theirs
        self.codec = choose_codec(self._codecs, theirs.codecs)
        self.stats.connects += 1
        if self._lost_at is not None:
            self.stats.last_reconnect_s = self._clock() - self._lost_at
        self.endpoint.ready()
        _LOGGER.info(
            "glasses %s ready: %s, codec %s, MTU %d",
            self.address,
            theirs.name,
            self.codec.name,
            theirs.mtu,
        )
        self._emit(LinkUp(hello=theirs, codec=self.codec, connects=self.stats.connects))

    async def _serve(self) -> None:
        """Heartbeats until the link drops or goes silent."""
        interval = self.settings.heartbeat_s
        counter = 0
        self._last_heard = self._clock()
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._lost.wait()
            if self._lost.is_set():
                return
            if self._clock() - self._last_heard > interval * self.settings.heartbeat_misses:
                self.stats.heartbeats_missed += 1
                raise LinkError(f"glasses {self.address} went silent")
            counter += 1
            await self.endpoint.send(msg.Heartbeat(counter=counter))

    async def _consume(self) -> None:
        while True:
            channel, data = await self._inbox.get()
            message = await self.endpoint.feed(channel, data)
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: msg.Message) -> None:
        match message:
            case msg.Hello():
                self._handshaken = True
                if self._peer_hello is not None and not self._peer_hello.done():
                    self._peer_hello.set_result(message)
            case msg.InputEvent(gesture=gesture, button=button):
                self._emit(Tapped(gesture=gesture, button=button))
            case msg.Status(battery=battery, charging=charging):
                self._emit(Battery(percent=battery, charging=charging))
            case msg.MicAudio(index=index, data=data) if self._mic is not None:
                pcm = self._mic.receive(index, data)
                self.stats.mic_gaps = self._mic.gaps
                if pcm is not None:
                    self._emit(MicAudio(pcm=pcm))
            case _:
                pass

    def _emit(self, event: LinkEvent) -> None:
        try:
            self.events.put_nowait(event)
        except asyncio.QueueFull:
            _LOGGER.warning("glasses events not read: dropping %s", type(event).__name__)
