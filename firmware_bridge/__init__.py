"""The BLE link to smart glasses and earbuds (a leaf package: it imports nothing of the assistant).

Public API: `GlassesLink`, `scan`, `LinkSettings` and the link events (`central`); the profile
(`profile`, documented in docs/ble-profile.md); `messages`, `framing`, `endpoint` and `codecs` for
other implementations of the protocol; errors under `BridgeError`. Tests, the benchmark and
`sottovoce glasses simulate` add `sim.VirtualRadio` (virtual glasses over a bleak backend on
bumble), which needs the optional `bumble` package.
"""

from firmware_bridge.central import (
    Battery,
    FoundGlasses,
    GlassesLink,
    LinkDown,
    LinkEvent,
    LinkSettings,
    LinkUp,
    MicAudio,
    Tapped,
    bond,
    scan,
    unbond,
)
from firmware_bridge.errors import (
    BridgeError,
    ConnectTimeout,
    DeliveryError,
    LinkError,
    NackError,
    NotPairedError,
    PairingRefused,
)
from firmware_bridge.profile import SERVICE_UUID, Codec, Gesture

__all__ = [
    "SERVICE_UUID",
    "Battery",
    "BridgeError",
    "Codec",
    "ConnectTimeout",
    "DeliveryError",
    "FoundGlasses",
    "Gesture",
    "GlassesLink",
    "LinkDown",
    "LinkError",
    "LinkEvent",
    "LinkSettings",
    "LinkUp",
    "MicAudio",
    "NackError",
    "NotPairedError",
    "PairingRefused",
    "Tapped",
    "bond",
    "scan",
    "unbond",
]
