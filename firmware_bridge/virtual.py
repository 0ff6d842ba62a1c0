"""Virtual glasses: a bumble peripheral that implements the sottovoce GATT profile.

Its microphone plays a given recording, its display and speaker record what they are sent,
taps are scripted, and faults (a link dropped mid-message) can be injected. Tests, the benchmark
and `sottovoce glasses simulate` talk to it through bleak, over `make_backends`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field

import numpy as np
from bumble import core, gatt, pairing
from bumble.device import Connection, Device
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService

from firmware_bridge import messages as msg
from firmware_bridge.audio_stream import FrameReceiver, frames_of
from firmware_bridge.codecs import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioCodec,
    Pcm,
    available_codecs,
    choose_codec,
    make_codec,
)
from firmware_bridge.endpoint import Endpoint
from firmware_bridge.profile import (
    ATT_HEADER,
    AUDIO_UUID,
    COMMAND_UUID,
    EVENT_UUID,
    GLASSES_ACCEPTS,
    GLASSES_ACCEPTS_BEFORE_HELLO,
    PROTOCOL_VERSION,
    SERVICE_UUID,
    Channel,
    Codec,
    Gesture,
    MessageType,
    fragment_size,
)
from firmware_bridge.tasks import BackgroundTasks

_LOGGER = logging.getLogger(__name__)

MIC_TAIL_S = 1.5  # silence queued after speech, so the host's VAD can endpoint
_PERMISSION = gatt.Characteristic.Permissions


def pairing_config(delegate: pairing.PairingDelegate | None = None) -> pairing.PairingConfig:
    """LE Secure Connections with bonding, "Just Works" (glasses have no keypad or screen to
    compare numbers on); keys are filed under the random static address both sides connect
    with, so a reconnect finds them."""
    return pairing.PairingConfig(
        sc=True,
        mitm=False,
        bonding=True,
        delegate=delegate,
        identity_address_type=pairing.PairingConfig.AddressType.RANDOM,
    )


class _PairingGate(pairing.PairingDelegate):
    """Accepts a pairing request only while the glasses are in pairing mode."""

    def __init__(self, glasses: VirtualGlasses) -> None:
        super().__init__()
        self._glasses = glasses

    async def accept(self) -> bool:
        if not self._glasses.pairing_mode:
            _LOGGER.info("glasses: pairing request refused (not in pairing mode)")
        return self._glasses.pairing_mode


class _NotifyTransport:
    def __init__(self, glasses: VirtualGlasses, connection: Connection) -> None:
        self._glasses = glasses
        self._connection = connection

    def fragment_size(self, channel: Channel) -> int:
        return fragment_size(int(self._connection.att_mtu) - ATT_HEADER)

    async def write(self, channel: Channel, fragment: bytes) -> None:
        char = self._glasses.audio_char if channel == Channel.AUDIO else self._glasses.event_char
        await self._glasses.device.notify_subscriber(self._connection, char, fragment)


@dataclass(slots=True)
class Received:
    """What the glasses were sent, for tests and the demo to look at."""

    pages: list[msg.DisplayText] = field(default_factory=list)
    tones: list[msg.Tone] = field(default_factory=list)
    speaker: list[Pcm] = field(default_factory=list)
    stops: int = 0
    hellos: int = 0
    mic_starts: int = 0
    mic_stops: int = 0
    mic_frames: int = 0  # microphone frames sent: 20 ms each

    @property
    def mic_s(self) -> float:
        """Seconds of audio the microphone streamed."""
        return self.mic_frames * FRAME_SAMPLES / SAMPLE_RATE

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.pages]

    def speaker_pcm(self) -> Pcm:
        return np.concatenate(self.speaker) if self.speaker else np.zeros(0, dtype=np.int16)


class VirtualGlasses:
    def __init__(
        self,
        device: Device,
        *,
        name: str = "Sottovoce Glasses",
        codecs: frozenset[Codec] | None = None,
        mic: Pcm | None = None,
        realtime_mic: bool = True,
        display: tuple[int, int] = (24, 4),
        battery: int = 80,
    ) -> None:
        self.device = device
        self.name = name
        self.codecs = codecs if codecs is not None else available_codecs()
        self._speech: list[Pcm] = [] if mic is None else [mic]
        self.realtime_mic = realtime_mic
        self.display = display
        self.battery = battery
        self.session = random.getrandbits(32)
        self.received = Received()
        self.connection: Connection | None = None
        self.host_session: int | None = None
        self.codec = Codec.PCM16
        self.drop_after_fragments: int | None = None  # fault injection
        self.fragments_in = 0
        self.tapped_at: float | None = None
        self.first_audio_at: float | None = None  # loop time the first reply frame arrived
        self.speech_started_at: float | None = None  # loop time queued speech began to stream
        self._radio_lost = False
        self._hello_done = False
        self.endpoint = Endpoint(reply=Channel.EVENT, accepts=self._accepts)
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4096)
        self._tasks = BackgroundTasks(_LOGGER)
        self._mic_task: asyncio.Task[None] | None = None
        self._speaker: FrameReceiver | None = None
        self.pairing_mode = False  # a long press on real glasses; `enter_pairing_mode()` here
        # Only a bonded host (an encrypted link) may write commands or read the profile; the
        # standard Battery and Device Information services stay open, as on real devices.
        self.command_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            COMMAND_UUID,
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            _PERMISSION.WRITEABLE | _PERMISSION.WRITE_REQUIRES_ENCRYPTION,
            gatt.CharacteristicValue[bytes](write=self._on_write),
        )
        self.event_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            EVENT_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            _PERMISSION.READABLE | _PERMISSION.READ_REQUIRES_ENCRYPTION,
            b"",
        )
        self.audio_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            AUDIO_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            _PERMISSION.READABLE | _PERMISSION.READ_REQUIRES_ENCRYPTION,
            b"",
        )

    def _accepts(self) -> dict[Channel, frozenset[MessageType]]:
        return GLASSES_ACCEPTS if self._hello_done else GLASSES_ACCEPTS_BEFORE_HELLO

    async def start(self) -> None:
        self.device.add_service(
            gatt.Service(SERVICE_UUID, [self.command_char, self.event_char, self.audio_char])
        )
        self.device.add_service(BatteryService(lambda _connection: self.battery))
        self.device.add_service(
            DeviceInformationService(
                manufacturer_name="sottovoce",
                model_number="virtual-glasses",
                firmware_revision="1.0",
            )
        )
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self.device.pairing_config_factory = lambda _connection: pairing_config(_PairingGate(self))
        await self.device.power_on()
        self.device.advertising_data = bytes(
            core.AdvertisingData(
                [
                    (core.AdvertisingData.FLAGS, bytes([0x06])),
                    (core.AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                    (
                        core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                        bytes(core.UUID(SERVICE_UUID)),
                    ),
                ]
            )
        )
        await self.device.start_advertising(
            auto_restart=True, advertising_interval_min=20.0, advertising_interval_max=20.0
        )
        self._tasks.spawn(self._consume(), "glasses-inbox")

    async def close(self) -> None:
        await self._tasks.close()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.disconnect()
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()

    @property
    def address(self) -> str:
        return str(self.device.random_address).split("/")[0]

    # ---- scripted user actions and faults --------------------------------------------------

    async def tap(self, gesture: Gesture = Gesture.SINGLE, *, button: bool = False) -> None:
        """A touch on the glasses; delivered (once) whenever the host is next connected."""
        self.tapped_at = asyncio.get_running_loop().time()
        self.first_audio_at = None
        await self.endpoint.request(msg.InputEvent(gesture=gesture, button=button), timeout_s=30)

    def enter_pairing_mode(self) -> None:
        """Accept the next pairing request (real glasses: a long press while powering on)."""
        self.pairing_mode = True

    async def forget_hosts(self) -> None:
        """Factory reset of the bonds: every host must pair again."""
        assert self.device.keystore is not None
        for address, _keys in await self.device.keystore.get_all():
            await self.device.keystore.delete(address)

    def go_silent(self) -> None:
        """Fault: stop hearing the host (no acks, no heartbeat echoes) but keep the link."""
        self._radio_lost = True

    async def send_raw(self, data: bytes) -> None:
        """Fault: notify arbitrary bytes on the event characteristic."""
        if self.connection is not None:
            await self.device.notify_subscriber(self.connection, self.event_char, data)

    async def drop_link(self) -> None:
        if self.connection is not None:
            await self.connection.disconnect()

    # ---- link ---------------------------------------------------------------------------

    def _on_connection(self, connection: Connection) -> None:
        _LOGGER.debug("glasses: connected to %s", connection.peer_address)
        self.connection = connection
        self._hello_done = False
        self._radio_lost = False
        self.endpoint.attach(_NotifyTransport(self, connection))
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        connection.on(connection.EVENT_PAIRING, self._on_paired)

    def _on_paired(self, keys: object) -> None:
        _LOGGER.info("glasses: bonded with %s", self.connection and self.connection.peer_address)
        self.pairing_mode = False

    def _on_disconnection(self, reason: int) -> None:
        _LOGGER.debug("glasses: disconnected (0x%02x)", reason)
        self.connection = None
        self._hello_done = False
        self.endpoint.detach()
        self._stop_mic()

    def _on_write(self, connection: Connection, value: bytes) -> None:
        self.fragments_in += 1
        if self._radio_lost:  # fault injected: nothing more gets through on this connection
            return
        try:
            self._inbox.put_nowait(bytes(value))
        except asyncio.QueueFull:
            _LOGGER.warning("glasses: command fragments arrive faster than handled; dropped one")
            return
        if self.drop_after_fragments is not None:
            self.drop_after_fragments -= 1
            if self.drop_after_fragments <= 0:
                self.drop_after_fragments = None
                self._radio_lost = True
                self._tasks.spawn(connection.disconnect(), "glasses-fault-drop")

    async def _consume(self) -> None:
        while True:
            data = await self._inbox.get()
            message = await self.endpoint.feed(Channel.COMMAND, data)
            if message is not None:
                self._handle(message)

    def _handle(self, message: msg.Message) -> None:
        match message:
            case msg.Hello():
                self.received.hellos += 1
                if self.host_session not in (None, message.session):
                    self.endpoint.reset_inbound()
                self.host_session = message.session
                self.codec = choose_codec(self.codecs, message.codecs)
                self._speaker = FrameReceiver(make_codec(self.codec))
                self._hello_done = True
                self._tasks.spawn(self._send_hello(), "glasses-hello")
            case msg.Heartbeat():
                self._tasks.spawn(self.endpoint.send(message), "glasses-heartbeat")
            case msg.DisplayText():
                self.received.pages.append(message)
            case msg.Tone():
                self.received.tones.append(message)
            case msg.PlayAudio():
                if self.first_audio_at is None:
                    self.first_audio_at = asyncio.get_running_loop().time()
                if self._speaker is None or message.codec != self._speaker.codec.codec:
                    self._speaker = FrameReceiver(make_codec(message.codec))
                pcm = self._speaker.receive(message.index, message.data)
                if pcm is not None:
                    self.received.speaker.append(pcm)
            case msg.PlayStop():
                self.received.stops += 1
            case msg.MicStart(codec=codec):
                self.received.mic_starts += 1
                self._stop_mic()
                self._mic_task = self._tasks.spawn(self._stream_mic(codec), "glasses-mic")
            case msg.MicStop():
                self.received.mic_stops += 1
                self._stop_mic()
            case _:
                _LOGGER.debug("glasses: ignoring %s", type(message).__name__)

    async def _send_hello(self) -> None:
        mtu = int(self.connection.att_mtu) if self.connection else 23
        cols, rows = self.display
        hello = msg.Hello(
            version=PROTOCOL_VERSION,
            session=self.session,
            codecs=self.codecs,
            mtu=mtu,
            display_cols=cols,
            display_rows=rows,
            name=self.name,
        )
        # Our HELLO first: what waited for the link (taps) is resent only once the host knows us.
        await self.endpoint.request(hello, timeout_s=5, handshake=True)
        self.endpoint.ready()
        await self.endpoint.request(msg.Status(battery=self.battery), timeout_s=5)

    @property
    def mic_on(self) -> bool:
        """Whether the microphone streams (it starts on MIC_START, stops on MIC_STOP or a drop)."""
        return self._mic_task is not None

    def _stop_mic(self) -> None:
        if self._mic_task is not None:
            self._mic_task.cancel()
            self._mic_task = None

    def say(self, pcm: Pcm) -> None:
        """Queue speech into the microphone (it streams silence otherwise). Speech queued while
        the microphone is off starts when it comes on, as if the wearer waited for it."""
        self._speech.append(pcm)

    async def _stream_mic(self, codec: Codec) -> None:
        """20 ms frames until MIC_STOP: queued speech, then a silent tail, then silence.

        Paced like a real microphone; with `realtime_mic` off, speech and its tail go as fast
        as the link takes them and only the silence after is paced.
        """
        encoder: AudioCodec = make_codec(codec)
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        tail = np.zeros(int(MIC_TAIL_S * SAMPLE_RATE), dtype=np.int16)
        loop = asyncio.get_running_loop()
        due = loop.time()
        index = 0
        pending: list[Pcm] = []
        while True:
            starts = False
            if not pending and self._speech:
                speech = np.concatenate(self._speech)
                self._speech.clear()
                pending = list(frames_of(np.concatenate([speech, tail])))
                starts = True
            fast = bool(pending) and not self.realtime_mic
            frame = pending.pop(0) if pending else silence
            if starts:  # the speech's first sample is "heard" at the start of this frame
                self.speech_started_at = max(due, loop.time())
            due += FRAME_SAMPLES / SAMPLE_RATE
            if fast:
                due = loop.time()
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(max(0.0, due - loop.time()))
            await self.endpoint.send(
                msg.MicAudio(index=index, codec=codec, data=encoder.encode(frame)), Channel.AUDIO
            )
            self.received.mic_frames += 1
            index = (index + 1) % 65536
