"""The reliability engine over an in-memory lossy wire: acks, resends, exactly-once, nacks."""

from __future__ import annotations

import asyncio
import random

import pytest

from firmware_bridge import framing
from firmware_bridge import messages as m
from firmware_bridge.endpoint import Endpoint
from firmware_bridge.errors import DeliveryError, NackError
from firmware_bridge.profile import (
    GLASSES_ACCEPTS,
    HOST_ACCEPTS,
    Channel,
    Gesture,
    MessageType,
)


class Wire:
    """Carries fragments to the other endpoint, losing and duplicating some on purpose."""

    def __init__(self, size: int, *, loss: float = 0.0, dup: float = 0.0, seed: int = 1) -> None:
        self.size = size
        self.loss = loss
        self.dup = dup
        self.rng = random.Random(seed)
        self.peer: Endpoint | None = None
        self.delivered: list[m.Message] = []

    def fragment_size(self, channel: Channel) -> int:
        return self.size

    async def write(self, channel: Channel, fragment: bytes) -> None:
        assert self.peer is not None and len(fragment) <= self.size
        if self.rng.random() < self.loss:
            return
        for _ in range(2 if self.rng.random() < self.dup else 1):
            message = await self.peer.feed(channel, fragment)
            if message is not None:
                self.delivered.append(message)


def _pair(size: int = 20, **lossy: float) -> tuple[Endpoint, Endpoint, Wire, Wire]:
    host = Endpoint(reply=Channel.COMMAND, accepts=lambda: HOST_ACCEPTS, ack_timeout_s=0.01)
    glasses = Endpoint(reply=Channel.EVENT, accepts=lambda: GLASSES_ACCEPTS, ack_timeout_s=0.01)
    to_glasses, to_host = Wire(size, **lossy), Wire(size, **lossy, seed=2)
    to_glasses.peer, to_host.peer = glasses, host
    host.attach(to_glasses)
    glasses.attach(to_host)
    host.ready()
    glasses.ready()
    return host, glasses, to_glasses, to_host


@pytest.mark.parametrize("size", [20, 182, 512])
async def test_reliable_messages_arrive_exactly_once_over_a_lossy_duplicating_wire(
    size: int,
) -> None:
    host, _glasses, to_glasses, _ = _pair(size, loss=0.2, dup=0.2)
    texts = [f"page {n} " + "x" * (n * 37) for n in range(12)]
    for text in texts:
        await host.request(m.DisplayText(page=1, pages=1, text=text), timeout_s=5)
    assert [d.text for d in to_glasses.delivered if isinstance(d, m.DisplayText)] == texts
    assert host.unacknowledged == 0 and host.counters.resent > 0


async def test_a_reliable_message_waits_for_the_link_and_is_resent_after_reconnect() -> None:
    host, _glasses, to_glasses, _ = _pair()
    host.detach()
    sending = asyncio.create_task(host.request(m.Tone(), timeout_s=2))
    await asyncio.sleep(0.05)
    assert to_glasses.delivered == [] and host.unacknowledged == 1
    host.attach(to_glasses)
    host.ready()
    await sending
    assert to_glasses.delivered == [m.Tone()]


async def test_unacknowledged_past_the_deadline_raises_delivery_error() -> None:
    host, *_ = _pair(loss=1.0)
    with pytest.raises(DeliveryError):
        await host.request(m.Tone(), timeout_s=0.05)
    assert host.unacknowledged == 0


async def test_type_not_allowed_is_nacked_and_the_sender_told() -> None:
    host, glasses, _, _ = _pair()
    with pytest.raises(NackError) as caught:
        await glasses.request(m.DisplayText(page=1, pages=1, text="wrong way"), timeout_s=1)
    assert caught.value.reason == 2  # UNSUPPORTED
    assert host.counters.nacks_sent == 1


async def test_malformed_input_is_nacked_never_raised() -> None:
    host, glasses, _, to_host = _pair()
    bad = framing.Fragment(MessageType.DISPLAY_TEXT, 1, 9, 3, 0, b"\x05\x01a").encode()  # page 5/1
    assert await glasses.feed(Channel.COMMAND, bad) is None
    assert await glasses.feed(Channel.COMMAND, b"\x00") is None
    huge = framing.Fragment(MessageType.DISPLAY_TEXT, 1, 10, 60_000, 0, b"a").encode()
    assert await glasses.feed(Channel.COMMAND, huge) is None
    nacks = [d for d in to_host.delivered if isinstance(d, m.Nack)]
    assert glasses.counters.nacks_sent == 3 and nacks == []  # nacks are consumed by the host
    assert host.counters.received == 3


async def test_unreliable_audio_is_never_resent() -> None:
    _host, glasses, _, to_host = _pair(loss=0.5)
    for index in range(40):
        await glasses.send(m.MicAudio(index=index, codec=0, data=b"\x00" * 40), Channel.AUDIO)  # type: ignore[arg-type]
    got = [d.index for d in to_host.delivered if isinstance(d, m.MicAudio)]
    assert got == sorted(set(got)) and 0 < len(got) < 40
    assert glasses.counters.resent == 0


async def test_a_new_session_resets_duplicate_suppression() -> None:
    host, glasses, to_glasses, to_host = _pair()
    await glasses.request(m.InputEvent(gesture=Gesture.SINGLE), timeout_s=1)
    restarted = Endpoint(reply=Channel.EVENT, accepts=lambda: GLASSES_ACCEPTS, ack_timeout_s=0.01)
    to_glasses.peer = restarted
    restarted.attach(to_host)
    restarted.ready()
    host.reset_inbound()  # what the link does on a HELLO with a new session
    await restarted.request(m.InputEvent(gesture=Gesture.LONG), timeout_s=1)
    assert [d.gesture for d in to_host.delivered if isinstance(d, m.InputEvent)] == [
        Gesture.SINGLE,
        Gesture.LONG,
    ]


async def test_unreliable_messages_not_allowed_now_are_dropped_without_a_nack() -> None:
    host = Endpoint(reply=Channel.COMMAND, accepts=lambda: {Channel.AUDIO: frozenset()})
    wire = Wire(100)
    host.attach(wire)
    _, payload = m.encode(m.MicAudio(index=0, codec=0, data=b"\x00\x00"))  # type: ignore[arg-type]
    frag = framing.Fragment(MessageType.MIC_AUDIO, 0, 0, len(payload), 0, payload).encode()
    assert await host.feed(Channel.AUDIO, frag) is None
    assert host.counters.nacks_sent == 0
