"""Message payloads: every type round-trips; bad payloads raise MalformedMessage only."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install hypothesis)")
import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import messages as m
from firmware_bridge.errors import MalformedMessage
from firmware_bridge.profile import Codec, Gesture, MessageType, NackReason

SAMPLES: list[m.Message] = [
    m.Hello(
        version=1,
        session=0xDEADBEEF,
        codecs=frozenset({Codec.PCM16, Codec.IMA_ADPCM}),
        mtu=247,
        display_cols=24,
        display_rows=4,
        name="Virtual Glasses ✓",
    ),
    m.Ack(seq=65535),
    m.Nack(seq=3, reason=NackReason.TOO_LARGE),
    m.Heartbeat(counter=9),
    m.DisplayText(page=2, pages=3, text="It's 10:41."),
    m.PlayAudio(index=7, codec=Codec.MULAW, data=b"\x01\x02", last=True),
    m.PlayStop(),
    m.Tone(haptic=True, frequency_hz=0, duration_ms=40),
    m.MicStart(codec=Codec.IMA_ADPCM),
    m.MicStop(),
    m.InputEvent(gesture=Gesture.LONG, button=True),
    m.MicAudio(index=65535, codec=Codec.PCM16, data=b"\x00\x00"),
    m.Status(battery=87, charging=True),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda s: type(s).__name__)
def test_round_trip(message: m.Message) -> None:
    type_, payload = m.encode(message)
    assert m.decode(type_, payload) == message


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([int(t) for t in MessageType] + [0, 0x99]), st.binary(max_size=40))
def test_any_payload_decodes_or_raises_malformed(type_: int, payload: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        m.decode(type_, payload)


def test_paginate_fills_lines_and_pages() -> None:
    pages = m.paginate("the quick brown fox jumps over the lazy dog", cols=10, rows=2)
    assert pages == ["the quick\nbrown fox", "jumps over\nthe lazy", "dog"]
    assert m.paginate("", 10, 2) == [""]
    assert all(len(line) <= 4 for line in m.paginate("abcdefghij", 4, 9)[0].split("\n"))
