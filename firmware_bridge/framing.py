"""Fragments on the wire and their reassembly.

Every GATT write or notification carries one fragment: an 8-byte header, then a slice of one
message. The header repeats the message's type, flags, sequence number and total length, and
gives the slice's byte offset, so fragments may arrive late, twice, or (after a reconnect with a
different MTU) cut at different places, and the message still reassembles exactly once.

    offset  size  field
    0       1     message type
    1       1     flags (bit 0 reliable, bit 1 resent; other bits must be zero)
    2       2     sequence number, little-endian, per sender and channel, wraps at 65536
    4       2     total message length in bytes
    6       2     byte offset of this fragment's data within the message
"""

from __future__ import annotations

import collections
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from firmware_bridge.errors import FrameError, MessageTooLarge
from firmware_bridge.profile import KNOWN_FLAGS, MessageType

_LOGGER = logging.getLogger(__name__)

HEADER: Final = struct.Struct("<BBHHH")
HEADER_SIZE: Final = HEADER.size
MAX_TOTAL: Final = 0xFFFF
SEQ_MODULO: Final = 1 << 16


@dataclass(frozen=True, slots=True)
class Fragment:
    type: int
    flags: int
    seq: int
    total: int
    offset: int
    data: bytes

    @property
    def is_last(self) -> bool:
        return self.offset + len(self.data) == self.total

    def encode(self) -> bytes:
        return HEADER.pack(self.type, self.flags, self.seq, self.total, self.offset) + self.data


@dataclass(frozen=True, slots=True)
class Frame:
    """A reassembled message: its type, flags, sequence number and payload."""

    type: int
    flags: int
    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A fragment of a message that was already delivered (its ack may have been lost)."""

    fragment: Fragment


@dataclass(frozen=True, slots=True)
class Lost:
    """A partial message dropped for a timeout or to stay within the memory cap."""

    type: int
    seq: int
    received: int
    total: int
    why: str


def decode_fragment(data: bytes) -> Fragment:
    if len(data) < HEADER_SIZE:
        raise FrameError(f"fragment of {len(data)} bytes is shorter than the header")
    type_, flags, seq, total, offset = HEADER.unpack_from(data)
    body = bytes(data[HEADER_SIZE:])
    if flags & ~int(KNOWN_FLAGS) & 0xFF:
        raise FrameError(f"fragment {seq} has unknown flags 0x{flags:02x}")
    if offset + len(body) > total:
        raise FrameError(f"fragment {seq} runs past its message ({offset}+{len(body)} > {total})")
    if not body and total:
        raise FrameError(f"fragment {seq} carries no data")
    return Fragment(type_, flags, seq, total, offset, body)


def fragments(
    type_: MessageType | int, flags: int, seq: int, payload: bytes, size: int
) -> Iterator[bytes]:
    """Cut one message into fragments of at most `size` bytes, header included."""
    room = size - HEADER_SIZE
    if room < 1:
        raise ValueError(f"fragment size {size} leaves no room after the {HEADER_SIZE}-byte header")
    if len(payload) > MAX_TOTAL:
        raise MessageTooLarge(f"a message holds at most {MAX_TOTAL} bytes, not {len(payload)}")
    if not payload:
        yield Fragment(int(type_), flags, seq, 0, 0, b"").encode()
        return
    for offset in range(0, len(payload), room):
        yield Fragment(
            int(type_), flags, seq, len(payload), offset, payload[offset : offset + room]
        ).encode()


@dataclass(slots=True)
class _Partial:
    type: int
    flags: int
    total: int
    started: float
    data: bytearray
    have: bytearray  # one byte per payload byte: 1 once received
    received: int = 0


@dataclass(slots=True)
class Reassembler:
    """Reassembles one channel's fragments, within caps on size, memory and time.

    A hostile peer can at most fill `max_buffered` bytes (twice that in memory, data plus
    coverage map) before the oldest partial messages are dropped and reported `Lost`.
    """

    max_message: int = 16 * 1024
    max_buffered: int = 64 * 1024
    max_partials: int = 16
    timeout_s: float = 5.0
    window: int = 2048  # delivered sequence numbers remembered for duplicate suppression
    _partials: dict[int, _Partial] = field(default_factory=dict)
    _done: collections.OrderedDict[int, None] = field(default_factory=collections.OrderedDict)
    _lost: list[Lost] = field(default_factory=list)

    @property
    def buffered(self) -> int:
        return sum(p.total for p in self._partials.values())

    def reset(self) -> None:
        """Forget everything: the peer restarted and numbers its messages from scratch."""
        self._partials.clear()
        self._done.clear()
        self._lost.clear()

    def accept(self, data: bytes, now: float) -> Frame | Duplicate | None:
        """Take one fragment; returns the message once complete, else None.

        Raises `FrameError` (or its `MessageTooLarge`) for a fragment that cannot belong to any
        message; the state stays consistent, so the caller logs, nacks and goes on.
        """
        frag = decode_fragment(data)
        if frag.seq in self._done and frag.type != MessageType.HELLO:
            return Duplicate(frag)
        if frag.total > self.max_message:
            raise MessageTooLarge(
                f"message {frag.seq} of {frag.total} bytes is over the {self.max_message}-byte cap"
            )
        partial = self._partials.get(frag.seq)
        if partial is not None and (partial.type, partial.total) != (frag.type, frag.total):
            del self._partials[frag.seq]
            raise FrameError(f"fragment {frag.seq} disagrees with the message it continues")
        if partial is None:
            if frag.total == len(frag.data):  # the common single-fragment message
                return self._complete(frag.seq, frag.type, frag.flags, frag.data)
            self._make_room(frag.total)
            partial = _Partial(
                frag.type, frag.flags, frag.total, now, bytearray(frag.total), bytearray(frag.total)
            )
            self._partials[frag.seq] = partial
        end = frag.offset + len(frag.data)
        partial.received += partial.have[frag.offset : end].count(0)
        partial.data[frag.offset : end] = frag.data
        partial.have[frag.offset : end] = b"\x01" * len(frag.data)
        if partial.received < partial.total:
            return None
        del self._partials[frag.seq]
        return self._complete(
            frag.seq, partial.type, partial.flags | frag.flags, bytes(partial.data)
        )

    def expire(self, now: float) -> list[Lost]:
        """Drop partial messages older than the timeout; returns them and earlier evictions."""
        for seq, p in list(self._partials.items()):
            if now - p.started > self.timeout_s:
                del self._partials[seq]
                self._lost.append(Lost(p.type, seq, p.received, p.total, "timeout"))
        lost, self._lost = self._lost, []
        return lost

    def _complete(self, seq: int, type_: int, flags: int, payload: bytes) -> Frame:
        self._done[seq] = None
        while len(self._done) > self.window:
            self._done.popitem(last=False)
        return Frame(type_, flags, seq, payload)

    def _make_room(self, total: int) -> None:
        while self._partials and (
            self.buffered + total > self.max_buffered or len(self._partials) >= self.max_partials
        ):
            seq = next(iter(self._partials))
            p = self._partials.pop(seq)
            _LOGGER.warning("dropping partial message %d to stay within the reassembly cap", seq)
            self._lost.append(Lost(p.type, seq, p.received, p.total, "evicted"))
