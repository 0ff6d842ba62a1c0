"""Typed messages and their payload layouts (little-endian; text is UTF-8)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from firmware_bridge.errors import MalformedMessage
from firmware_bridge.profile import Codec, Gesture, MessageType, NackReason

_HELLO: Final = struct.Struct("<BIHHBB")  # version, session, codec mask, mtu, cols, rows
_SEQ: Final = struct.Struct("<H")
_NACK: Final = struct.Struct("<HB")
_U32: Final = struct.Struct("<I")
_PAGE: Final = struct.Struct("<BB")
_PLAY: Final = struct.Struct("<HBB")  # frame index, codec, flags (bit 0: last frame)
_TONE: Final = struct.Struct("<BHH")  # kind (0 tone, 1 haptic), frequency Hz, duration ms
_INPUT: Final = struct.Struct("<BB")  # control (0 touchpad, 1 button), gesture
_MIC: Final = struct.Struct("<HB")  # frame index, codec
_STATUS: Final = struct.Struct("<BB")  # battery percent, flags (bit 0: charging)


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    version: int
    session: int  # random per boot: a new value resets the peer's duplicate window
    codecs: frozenset[Codec]
    mtu: int = 0
    display_cols: int = 0
    display_rows: int = 0
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Nack:
    seq: int
    reason: NackReason


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    counter: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DisplayText:
    page: int  # 1-based
    pages: int
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayAudio:
    index: int  # frame counter, wraps at 65536; the receiver finds gaps from it
    codec: Codec
    data: bytes
    last: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayStop:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Tone:
    haptic: bool = False
    frequency_hz: int = 880
    duration_ms: int = 150


@dataclass(frozen=True, slots=True, kw_only=True)
class MicStart:
    codec: Codec


@dataclass(frozen=True, slots=True, kw_only=True)
class MicStop:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class InputEvent:
    gesture: Gesture
    button: bool = False  # False: the touchpad


@dataclass(frozen=True, slots=True, kw_only=True)
class MicAudio:
    index: int
    codec: Codec
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    battery: int
    charging: bool = False


Message = (
    Hello
    | Ack
    | Nack
    | Heartbeat
    | DisplayText
    | PlayAudio
    | PlayStop
    | Tone
    | MicStart
    | MicStop
    | InputEvent
    | MicAudio
    | Status
)


def codec_mask(codecs: frozenset[Codec]) -> int:
    mask = 0
    for codec in codecs:
        mask |= 1 << codec
    return mask


def codecs_from_mask(mask: int) -> frozenset[Codec]:
    return frozenset(c for c in Codec if mask & (1 << c))


def encode(message: Message) -> tuple[MessageType, bytes]:
    match message:
        case Hello():
            head = _HELLO.pack(
                message.version,
                message.session,
                codec_mask(message.codecs),
                message.mtu,
                message.display_cols,
                message.display_rows,
            )
            return MessageType.HELLO, head + message.name.encode()
        case Ack():
            return MessageType.ACK, _SEQ.pack(message.seq)
        case Nack():
            return MessageType.NACK, _NACK.pack(message.seq, message.reason)
        case Heartbeat():
            return MessageType.HEARTBEAT, _U32.pack(message.counter)
        case DisplayText():
            return MessageType.DISPLAY_TEXT, _PAGE.pack(message.page, message.pages) + (
                message.text.encode()
            )
        case PlayAudio():
            head = _PLAY.pack(message.index, message.codec, int(message.last))
            return MessageType.PLAY_AUDIO, head + message.data
        case PlayStop():
            return MessageType.PLAY_STOP, b""
        case Tone():
            return MessageType.TONE, _TONE.pack(
                int(message.haptic), message.frequency_hz, message.duration_ms
            )
        case MicStart():
            return MessageType.MIC_START, bytes([message.codec])
        case MicStop():
            return MessageType.MIC_STOP, b""
        case InputEvent():
            return MessageType.INPUT_EVENT, _INPUT.pack(int(message.button), message.gesture)
        case MicAudio():
            return MessageType.MIC_AUDIO, _MIC.pack(message.index, message.codec) + message.data
        case Status():
            return MessageType.STATUS, _STATUS.pack(message.battery, int(message.charging))


def decode(type_: int, payload: bytes) -> Message:
    """Raises `MalformedMessage` for an unknown type or a payload that does not fit it."""
    try:
        return _decode(MessageType(type_), payload)
    except (struct.error, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise MalformedMessage(f"bad payload for message type 0x{type_:02x}: {err}") from err


def _decode(type_: MessageType, payload: bytes) -> Message:
    match type_:
        case MessageType.HELLO:
            version, session, mask, mtu, cols, rows = _HELLO.unpack_from(payload)
            name = payload[_HELLO.size :].decode()
            return Hello(
                version=version,
                session=session,
                codecs=codecs_from_mask(mask),
                mtu=mtu,
                display_cols=cols,
                display_rows=rows,
                name=name,
            )
        case MessageType.ACK:
            return Ack(seq=_exact(_SEQ, payload)[0])
        case MessageType.NACK:
            seq, reason = _exact(_NACK, payload)
            return Nack(seq=seq, reason=NackReason(reason))
        case MessageType.HEARTBEAT:
            return Heartbeat(counter=_exact(_U32, payload)[0])
        case MessageType.DISPLAY_TEXT:
            page, pages = _PAGE.unpack_from(payload)
            if not 1 <= page <= pages:
                raise ValueError(f"page {page} of {pages}")
            return DisplayText(page=page, pages=pages, text=payload[_PAGE.size :].decode())
        case MessageType.PLAY_AUDIO:
            index, codec, flags = _PLAY.unpack_from(payload)
            return PlayAudio(
                index=index, codec=Codec(codec), data=payload[_PLAY.size :], last=bool(flags & 1)
            )
        case MessageType.PLAY_STOP:
            _empty(payload)
            return PlayStop()
        case MessageType.TONE:
            kind, freq, duration = _exact(_TONE, payload)
            return Tone(haptic=bool(kind), frequency_hz=freq, duration_ms=duration)
        case MessageType.MIC_START:
            if len(payload) != 1:
                raise ValueError("MIC_START carries one codec byte")
            return MicStart(codec=Codec(payload[0]))
        case MessageType.MIC_STOP:
            _empty(payload)
            return MicStop()
        case MessageType.INPUT_EVENT:
            button, gesture = _exact(_INPUT, payload)
            return InputEvent(gesture=Gesture(gesture), button=bool(button))
        case MessageType.MIC_AUDIO:
            index, codec = _MIC.unpack_from(payload)
            return MicAudio(index=index, codec=Codec(codec), data=payload[_MIC.size :])
        case MessageType.STATUS:
            battery, flags = _exact(_STATUS, payload)
            if battery > 100:
                raise ValueError(f"battery {battery} %")
            return Status(battery=battery, charging=bool(flags & 1))


def _exact(layout: struct.Struct, payload: bytes) -> tuple[int, ...]:
    return layout.unpack(payload)  # struct.error unless the size is exact


def _empty(payload: bytes) -> None:
    if payload:
        raise ValueError("this message carries no payload")


def paginate(text: str, cols: int, rows: int) -> list[str]:
    """Split text into display pages of `rows` lines of at most `cols` characters."""
    if cols < 1 or rows < 1:
        return [text]
    lines: list[str] = []
    for word in text.split():
        while len(word) > cols:
            lines.append(word[:cols])
            word = word[cols:]
        if lines and len(lines[-1]) + 1 + len(word) <= cols:
            lines[-1] += " " + word
        else:
            lines.append(word)
    pages = ["\n".join(lines[i : i + rows]) for i in range(0, len(lines), rows)]
    return pages or [""]
