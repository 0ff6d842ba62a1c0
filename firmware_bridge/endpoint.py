"""One side of the protocol over any transport: sequence numbers, acks, resends, duplicates.

The host (central) and the virtual glasses both run an `Endpoint`; only their transports and
the message types they accept differ. Reliable messages are resent until acknowledged, across
reconnects, with the same sequence number, and the receiver delivers each exactly once.
Audio is never reliable: a lost frame stays lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from firmware_bridge import framing
from firmware_bridge import messages as msg
from firmware_bridge.errors import (
    BridgeError,
    DeliveryError,
    FrameError,
    MalformedMessage,
    MessageTooLarge,
    NackError,
)
from firmware_bridge.profile import RELIABLE_TYPES, Channel, Flags, MessageType, NackReason

_LOGGER = logging.getLogger(__name__)


class Transport(Protocol):
    """Where fragments go: GATT writes (host) or notifications (glasses)."""

    def fragment_size(self, channel: Channel) -> int: ...

    async def write(self, channel: Channel, fragment: bytes) -> None: ...


@dataclass(slots=True)
class _Pending:
    type: MessageType
    payload: bytes
    done: asyncio.Future[None]


@dataclass(slots=True)
class Counters:
    sent: int = 0
    resent: int = 0
    received: int = 0
    duplicates: int = 0
    nacks_sent: int = 0
    lost: int = 0


@dataclass(slots=True)
class Endpoint:
    """`reply` is the channel this side sends reliable messages, acks and nacks on.

    `accepts(channel)` says which message types are allowed from the peer right now; anything
    else is nacked as unsupported and never reaches the caller.
    """

    reply: Channel
    accepts: Callable[[], Mapping[Channel, frozenset[MessageType]]]
    clock: Callable[[], float] = time.monotonic
    ack_timeout_s: float = 0.4
    max_message: int = 16 * 1024
    counters: Counters = field(default_factory=Counters)
    _transport: Transport | None = None
    _up: asyncio.Event = field(default_factory=asyncio.Event)
    _seq: dict[Channel, int] = field(default_factory=dict)
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _inbound: dict[Channel, framing.Reassembler] = field(default_factory=dict)

    # ---- link state -----------------------------------------------------------------------

    def attach(self, transport: Transport) -> None:
        """A transport is up: raw sends work (the handshake), reliable sends still wait."""
        self._transport = transport

    def ready(self) -> None:
        """Handshake done: reliable messages flow, and everything unacknowledged is resent."""
        self._up.set()

    def detach(self) -> None:
        self._transport = None
        self._up.clear()

    async def wait_ready(self) -> None:
        await self._up.wait()

    @property
    def is_ready(self) -> bool:
        return self._up.is_set()

    @property
    def unacknowledged(self) -> int:
        return len(self._pending)

    def reset_inbound(self) -> None:
        """The peer restarted (a new HELLO session): its sequence numbers start over."""
        for reassembler in self._inbound.values():
            reassembler.reset()

    # ---- sending --------------------------------------------------------------------------

    async def send(self, message: msg.Message, channel: Channel | None = None) -> bool:
        """Fire and forget (audio, heartbeats): False when there is no link to send on."""
        type_, payload = msg.encode(message)
        return await self._transmit(channel or self.reply, type_, 0, self._next(channel), payload)

    async def request(
        self, message: msg.Message, *, timeout_s: float = 10.0, handshake: bool = False
    ) -> None:
        """Send reliably: returns once acknowledged, resending after each `ack_timeout_s`.

        Waits for the link through disconnects (resending after the reconnect); raises
        `NackError` if refused, `DeliveryError` if still unacknowledged after `timeout_s`.
        """
        type_, payload = msg.encode(message)
        if type_ not in RELIABLE_TYPES:
            raise ValueError(f"{type_.name} is not a reliable message type")
        seq = self._next(self.reply)
        pending = _Pending(type_, payload, asyncio.get_running_loop().create_future())
        self._pending[seq] = pending
        attempt = 0
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    if not handshake:
                        await self._up.wait()
                    flags = Flags.RELIABLE | (Flags.RESENT if attempt else 0)
                    if await self._transmit(self.reply, type_, flags, seq, payload):
                        self.counters.resent += attempt > 0
                        attempt += 1
                    try:
                        await asyncio.wait_for(asyncio.shield(pending.done), self.ack_timeout_s)
                        return
                    except TimeoutError:
                        continue
        except TimeoutError as err:
            raise DeliveryError(
                f"{type_.name} {seq} was not acknowledged within {timeout_s:g} s"
            ) from err
        finally:
            self._pending.pop(seq, None)

    def _next(self, channel: Channel | None) -> int:
        channel = channel or self.reply
        seq = self._seq.get(channel, 0)
        self._seq[channel] = (seq + 1) % framing.SEQ_MODULO
        return seq

    async def _transmit(
        self, channel: Channel, type_: MessageType, flags: int, seq: int, payload: bytes
    ) -> bool:
        transport = self._transport
        if transport is None:
            return False
        size = transport.fragment_size(channel)
        try:
            for fragment in framing.fragments(type_, flags, seq, payload, size):
                await transport.write(channel, fragment)
        except BridgeError:
            raise
        except Exception as err:  # the link went down under us; the caller may retry
            _LOGGER.info("sending %s %d failed: %s", type_.name, seq, err)
            return False
        self.counters.sent += 1
        return True

    # ---- receiving ------------------------------------------------------------------------

    async def feed(self, channel: Channel, data: bytes) -> msg.Message | None:
        """One fragment from the peer; returns a new message once complete and allowed.

        Never raises for bad input: malformed or unexpected data is logged and nacked.
        """
        reassembler = self._inbound.get(channel)
        if reassembler is None:
            reassembler = framing.Reassembler(max_message=self.max_message)
            self._inbound[channel] = reassembler
        try:
            result = reassembler.accept(data, self.clock())
        except MessageTooLarge as err:
            _LOGGER.warning("refused on %s: %s", channel.name, err.message)
            await self._nack(_seq_of(data), NackReason.TOO_LARGE)
            return None
        except FrameError as err:
            _LOGGER.warning("malformed fragment on %s: %s", channel.name, err.message)
            await self._nack(_seq_of(data), NackReason.MALFORMED)
            return None
        for lost in reassembler.expire(self.clock()):
            self.counters.lost += 1
            _LOGGER.info(
                "message %d lost (%s, %d/%d bytes)", lost.seq, lost.why, lost.received, lost.total
            )
        match result:
            case None:
                return None
            case framing.Duplicate(fragment=frag):
                if frag.is_last:
                    self.counters.duplicates += 1
                    if frag.flags & Flags.RELIABLE:
                        await self.send(msg.Ack(seq=frag.seq))
                return None
            case framing.Frame():
                return await self._on_frame(channel, result)

    async def _on_frame(self, channel: Channel, frame: framing.Frame) -> msg.Message | None:
        allowed = self.accepts().get(channel, frozenset())
        if frame.type not in allowed:
            if not frame.flags & Flags.RELIABLE:  # e.g. audio in flight after MIC_STOP
                _LOGGER.debug("dropped 0x%02x on %s: not allowed now", frame.type, channel.name)
                return None
            _LOGGER.warning("type 0x%02x not allowed on %s now", frame.type, channel.name)
            await self._nack(frame.seq, NackReason.UNSUPPORTED)
            return None
        try:
            message = msg.decode(frame.type, frame.payload)
        except MalformedMessage as err:
            _LOGGER.warning("malformed message on %s: %s", channel.name, err.message)
            await self._nack(frame.seq, NackReason.MALFORMED)
            return None
        self.counters.received += 1
        match message:
            case msg.Ack(seq=seq):
                self._settle(seq, None)
                return None
            case msg.Nack(seq=seq, reason=reason):
                self._settle(
                    seq, NackError(f"peer refused message {seq}: {reason.name}", reason=reason)
                )
                return None
        if frame.flags & Flags.RELIABLE:
            await self.send(msg.Ack(seq=frame.seq))
        return message

    def _settle(self, seq: int, error: BridgeError | None) -> None:
        pending = self._pending.get(seq)
        if pending is None or pending.done.done():
            return
        if error is None:
            pending.done.set_result(None)
        else:
            pending.done.set_exception(error)

    async def _nack(self, seq: int, reason: NackReason) -> None:
        self.counters.nacks_sent += 1
        await self.send(msg.Nack(seq=seq, reason=reason))


def _seq_of(data: bytes) -> int:
    """The sequence number of a fragment too broken to parse, if its header has one."""
    return int.from_bytes(data[2:4], "little") if len(data) >= 4 else 0
