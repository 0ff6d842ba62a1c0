"""Framing: fragments, reassembly under loss, duplication and reordering, caps and fuzz."""

from __future__ import annotations

import contextlib

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install hypothesis)")
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import framing
from firmware_bridge.errors import BridgeError, FrameError, MessageTooLarge
from firmware_bridge.profile import Flags, MessageType, fragment_size

MTUS = st.integers(min_value=23, max_value=517)


def _cut(payload: bytes, mtu: int, seq: int = 7) -> list[bytes]:
    size = fragment_size(mtu - 3)
    return list(framing.fragments(MessageType.DISPLAY_TEXT, Flags.RELIABLE, seq, payload, size))


def test_fragments_respect_the_size_and_carry_the_header() -> None:
    frags = _cut(bytes(range(256)) * 4, mtu=23)
    assert all(len(f) <= 20 for f in frags)
    first = framing.decode_fragment(frags[0])
    assert (first.type, first.flags, first.seq, first.total, first.offset) == (0x10, 1, 7, 1024, 0)


def test_fragment_size_caps_at_512_and_floors_at_20() -> None:
    assert fragment_size(514) == 512
    assert fragment_size(5) == 20
    assert fragment_size(244) == 244


def test_empty_message_is_one_fragment() -> None:
    (frag,) = _cut(b"", mtu=23)
    frame = framing.Reassembler().accept(frag, 0.0)
    assert isinstance(frame, framing.Frame) and frame.payload == b""


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(max_size=3000),
    mtu=MTUS,
    order=st.lists(st.integers(min_value=0, max_value=10_000), max_size=400),
)
def test_any_message_survives_any_mtu_loss_and_duplication_or_is_reported_lost(
    payload: bytes, mtu: int, order: list[int]
) -> None:
    frags = _cut(payload, mtu)
    delivered = [frags[i % len(frags)] for i in order]
    r = framing.Reassembler()
    frames = [out for f in delivered if isinstance(out := r.accept(f, 0.0), framing.Frame)]
    if {i % len(frags) for i in order} == set(range(len(frags))):
        assert len(frames) == 1 and frames[0].payload == payload  # exactly once
    else:
        assert frames == []
        lost = r.expire(r.timeout_s + 1)
        assert [x.seq for x in lost] == ([7] if delivered else [])
    assert r.buffered == 0 or not frames


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(min_size=1, max_size=2000), mtu_a=MTUS, mtu_b=MTUS)
def test_a_resend_cut_at_another_mtu_completes_the_same_message(
    payload: bytes, mtu_a: int, mtu_b: int
) -> None:
    first, second = _cut(payload, mtu_a), _cut(payload, mtu_b)
    r = framing.Reassembler()
    for f in first[: len(first) // 2]:
        assert r.accept(f, 0.0) is None or len(first) == 1
    outs = [r.accept(f, 1.0) for f in second]
    frames = [o for o in outs if isinstance(o, framing.Frame)]
    assert len(frames) <= 1
    if len(first) > 1:
        assert frames and frames[0].payload == payload


def test_duplicates_of_a_delivered_message_are_reported_not_redelivered() -> None:
    r = framing.Reassembler()
    (frag,) = _cut(b"hello", mtu=185)
    assert isinstance(r.accept(frag, 0.0), framing.Frame)
    dup = r.accept(frag, 0.0)
    assert isinstance(dup, framing.Duplicate) and dup.fragment.is_last


def test_oversize_message_is_refused_before_any_memory_is_taken() -> None:
    r = framing.Reassembler(max_message=100)
    frag = framing.Fragment(0x10, 0, 1, 60_000, 0, b"x").encode()
    with pytest.raises(MessageTooLarge):
        r.accept(frag, 0.0)
    assert r.buffered == 0


def test_memory_cap_evicts_the_oldest_partial_and_reports_it() -> None:
    r = framing.Reassembler(max_message=1000, max_buffered=2500)
    for seq in range(4):
        r.accept(framing.Fragment(0x10, 0, seq, 1000, 0, b"x").encode(), float(seq))
    assert r.buffered <= 2500
    lost = r.expire(0.0)
    assert [x.seq for x in lost] == [0, 1] and {x.why for x in lost} == {"evicted"}


def test_partials_time_out() -> None:
    r = framing.Reassembler(timeout_s=2.0)
    r.accept(framing.Fragment(0x10, 0, 3, 10, 0, b"abc").encode(), 0.0)
    assert r.expire(1.0) == []
    assert [x.why for x in r.expire(2.5)] == ["timeout"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x10\x00\x01",  # shorter than the header
        framing.HEADER.pack(0x10, 0x80, 1, 4, 0) + b"abcd",  # unknown flag
        framing.HEADER.pack(0x10, 0, 1, 4, 2) + b"abcd",  # runs past the end
        framing.HEADER.pack(0x10, 0, 1, 4, 0),  # no data for a non-empty message
    ],
)
def test_malformed_fragments_raise_frame_error(raw: bytes) -> None:
    with pytest.raises(FrameError):
        framing.Reassembler().accept(raw, 0.0)


def test_a_fragment_that_contradicts_its_partial_drops_it() -> None:
    r = framing.Reassembler()
    r.accept(framing.Fragment(0x10, 0, 5, 10, 0, b"abc").encode(), 0.0)
    with pytest.raises(FrameError):
        r.accept(framing.Fragment(0x10, 0, 5, 11, 3, b"def").encode(), 0.0)
    assert r.buffered == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=60), st.integers(0, 3))
def test_fuzzed_reassembly_raises_only_protocol_errors_and_stays_within_cap(
    chunks: list[bytes], mode: int
) -> None:
    r = framing.Reassembler(max_message=4096, max_buffered=8192, max_partials=4)
    for chunk in chunks:
        data = chunk
        if mode and len(chunk) >= 8:  # plausible headers reach deeper than random bytes do
            data = bytes([0x10, chunk[1] & 3]) + chunk[2:4] + bytes([chunk[4], mode]) + chunk[6:]
        with contextlib.suppress(BridgeError):
            r.accept(data, 0.0)
        assert r.buffered <= 8192
