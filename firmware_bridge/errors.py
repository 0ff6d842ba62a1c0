"""Errors of the BLE bridge: one root, a subclass per concern, each with a stable `code`."""

from __future__ import annotations


class BridgeError(Exception):
    """Root of every error `firmware_bridge` raises on purpose.

    `code` is machine-readable and stable; the message says what happened and what to do.
    """

    code = "bridge_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class FrameError(BridgeError):
    """A fragment that cannot be parsed or contradicts what was already received."""

    code = "malformed_frame"


class MessageTooLarge(FrameError):
    code = "message_too_large"


class MalformedMessage(BridgeError):
    """A complete message whose payload does not decode as its type says."""

    code = "malformed_message"


class CodecError(BridgeError):
    code = "codec_error"


class DeliveryError(BridgeError):
    """A reliable message was not acknowledged before its deadline."""

    code = "not_delivered"


class NackError(DeliveryError):
    """The peer refused a message (its reason is in `reason`)."""

    code = "nacked"

    def __init__(self, message: str, *, reason: int) -> None:
        super().__init__(message)
        self.reason = reason


class LinkError(BridgeError):
    """The BLE link could not be set up or was lost."""

    code = "link_error"


class NotPairedError(LinkError):
    code = "not_paired"


class ConnectTimeout(LinkError):
    code = "connect_timeout"


class PairingRefused(LinkError):
    code = "pairing_refused"


class NotBondedError(LinkError):
    """The glasses refuse this host: no bond on their side (never paired, or reset)."""

    code = "not_bonded"
