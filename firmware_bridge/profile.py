"""The GATT profile: UUIDs, message types, channels and which types each side accepts.

docs/ble-profile.md is the prose version of this module; keep the two in step.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Final

PROTOCOL_VERSION: Final = 1

SERVICE_UUID: Final = "736f7474-6f76-6f63-6500-000000000001"
COMMAND_UUID: Final = "736f7474-6f76-6f63-6500-000000000002"  # write / write w/o response
EVENT_UUID: Final = "736f7474-6f76-6f63-6500-000000000003"  # notify
AUDIO_UUID: Final = "736f7474-6f76-6f63-6500-000000000004"  # notify

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID: Final = "0000180a-0000-1000-8000-00805f9b34fb"

ATT_HEADER: Final = 3  # opcode + handle of a notification or write command
MIN_ATT_MTU: Final = 23
MAX_FRAGMENT: Final = 512  # the ATT attribute value limit; bumble drops larger writes silently


class Channel(IntEnum):
    COMMAND = 1  # host -> glasses
    EVENT = 2  # glasses -> host, control
    AUDIO = 3  # glasses -> host, microphone frames


class MessageType(IntEnum):
    HELLO = 0x01
    ACK = 0x02
    NACK = 0x03
    HEARTBEAT = 0x04
    DISPLAY_TEXT = 0x10
    PLAY_AUDIO = 0x11
    PLAY_STOP = 0x12
    TONE = 0x13
    MIC_START = 0x14
    MIC_STOP = 0x15
    INPUT_EVENT = 0x20
    MIC_AUDIO = 0x21
    STATUS = 0x22


class NackReason(IntEnum):
    MALFORMED = 1
    UNSUPPORTED = 2  # unknown type, or not allowed in the current state
    TOO_LARGE = 3
    BUSY = 4


class Gesture(IntEnum):
    SINGLE = 1
    DOUBLE = 2
    LONG = 3


class Codec(IntEnum):
    """Microphone and speaker codecs; the value is the bit index in HELLO's codec mask."""

    PCM16 = 0
    MULAW = 1
    IMA_ADPCM = 2
    OPUS = 3


class Flags(IntFlag):
    RELIABLE = 0x01  # the receiver acknowledges it; the sender resends until acknowledged
    RESENT = 0x02  # a retransmission (informational: duplicates are found by sequence number)


KNOWN_FLAGS: Final = Flags.RELIABLE | Flags.RESENT

RELIABLE_TYPES: Final = frozenset(
    {
        MessageType.HELLO,
        MessageType.DISPLAY_TEXT,
        MessageType.PLAY_STOP,
        MessageType.TONE,
        MessageType.MIC_START,
        MessageType.MIC_STOP,
        MessageType.INPUT_EVENT,
        MessageType.STATUS,
    }
)

_LINK: Final = frozenset({MessageType.HELLO, MessageType.ACK, MessageType.NACK})

# What the host accepts from the glasses, before and after the HELLO exchange.
HOST_ACCEPTS_BEFORE_HELLO: Final = {Channel.EVENT: _LINK, Channel.AUDIO: frozenset[MessageType]()}
HOST_ACCEPTS: Final = {
    Channel.EVENT: _LINK | {MessageType.HEARTBEAT, MessageType.INPUT_EVENT, MessageType.STATUS},
    Channel.AUDIO: frozenset({MessageType.MIC_AUDIO}),
}
# What the glasses accept from the host.
GLASSES_ACCEPTS_BEFORE_HELLO: Final = {Channel.COMMAND: _LINK}
GLASSES_ACCEPTS: Final = {
    Channel.COMMAND: _LINK
    | {
        MessageType.HEARTBEAT,
        MessageType.DISPLAY_TEXT,
        MessageType.PLAY_AUDIO,
        MessageType.PLAY_STOP,
        MessageType.TONE,
        MessageType.MIC_START,
        MessageType.MIC_STOP,
    }
}


def fragment_size(max_write: int) -> int:
    """Bytes per fragment from what the characteristic reports, within ATT's limits."""
    return max(MIN_ATT_MTU - ATT_HEADER, min(max_write, MAX_FRAGMENT))
