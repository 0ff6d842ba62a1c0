"""Sound cards through sounddevice (PortAudio): import it lazily, list devices, pick one.

sounddevice loads the PortAudio C library at import and raises a bare OSError when it is missing;
everything here turns that, and every other device problem, into an `AudioError` that says what
to do instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from assistant.errors import AudioError

log = logging.getLogger(__name__)

Direction = Literal["input", "output"]

_FILE_FLAG = {"input": "--input FILE.wav", "output": "--output FILE.wav"}
_WHAT = {"input": "microphone", "output": "speaker"}


def import_sounddevice() -> Any:
    """The sounddevice module, or an AudioError naming the package to install."""
    try:
        import sounddevice
    except OSError as err:  # sounddevice raises it when libportaudio is not on the system
        raise AudioError(
            f"Sound devices need the PortAudio library, which is missing ({err}). Install the "
            "Debian package libportaudio2 (`sudo apt-get install libportaudio2`), or use "
            "--input FILE.wav.",
            code="portaudio_missing",
        ) from err
    except ImportError as err:
        raise AudioError(
            "The Python package sounddevice is not installed. Install it with "
            "`pip install sounddevice`, or use --input FILE.wav.",
            code="sounddevice_missing",
        ) from err
    return sounddevice


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_rate: float
    is_default_input: bool
    is_default_output: bool

    @property
    def is_default(self) -> bool:
        return self.is_default_input or self.is_default_output

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "max_input_channels": self.max_input_channels,
            "max_output_channels": self.max_output_channels,
            "default_rate": self.default_rate,
            "is_default_input": self.is_default_input,
            "is_default_output": self.is_default_output,
        }

    def describe(self) -> str:
        marks = ("<" if self.is_default_input else " ") + (">" if self.is_default_output else " ")
        return (
            f"{marks} {self.index:3d} {self.name}  ({self.max_input_channels} in, "
            f"{self.max_output_channels} out, {self.default_rate:g} Hz)"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceListing:
    devices: tuple[DeviceInfo, ...]
    problem: str | None = None  # why there are no devices, and what to do
    portaudio: bool = True  # False when PortAudio (or sounddevice) itself is missing


def list_devices() -> DeviceListing:
    """Every audio device, for `sottovoce devices`. Never raises for a missing PortAudio.

    In `describe()`, `<` marks the default input and `>` the default output.
    """
    try:
        sd = import_sounddevice()
    except AudioError as err:
        return DeviceListing(devices=(), problem=err.message, portaudio=False)
    devices = tuple(_query_devices(sd))
    if devices:
        return DeviceListing(devices=devices)
    return DeviceListing(
        devices=(),
        problem="PortAudio sees no audio device: no sound card, and no sound server (PulseAudio, "
        "PipeWire) reachable. Connect one, or use --input FILE.wav and --output FILE.wav.",
    )


def resolve_device(sd: Any, spec: str | int | None, direction: Direction) -> DeviceInfo:
    """A device by index, by (part of) its name, or the system default when `spec` is None."""
    devices = [d for d in _query_devices(sd) if _channels(d, direction) > 0]
    what, flag = _WHAT[direction], _FILE_FLAG[direction]
    if not devices:
        raise AudioError(
            f"No {what} found: PortAudio sees no {direction} device. Connect one, or use {flag}.",
            code=f"no_{direction}_device",
        )
    if spec is None:
        default = next((d for d in devices if _is_default(d, direction)), devices[0])
        log.debug("default %s device: %d %s", direction, default.index, default.name)
        return default
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        found = [d for d in devices if d.index == index]
    else:
        wanted = spec.strip().casefold()
        found = [d for d in devices if d.name.casefold() == wanted]
        found = found or [d for d in devices if wanted in d.name.casefold()]
    if len(found) == 1:
        return found[0]
    choices = "; ".join(f"{d.index}: {d.name}" for d in (found or devices))
    problem = "matches several" if found else "matches no"
    raise AudioError(
        f"Audio device {spec!r} {problem} {direction} device ({choices}). Give its index or a "
        f"longer part of its name (see `sottovoce devices`), or use {flag}.",
        code="audio_device_not_found",
    )


def _query_devices(sd: Any) -> list[DeviceInfo]:
    default_in, default_out = _defaults(sd)
    return [
        DeviceInfo(
            index=int(d["index"]),
            name=str(d["name"]),
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_rate=float(d["default_samplerate"]),
            is_default_input=d["index"] == default_in,
            is_default_output=d["index"] == default_out,
        )
        for d in sd.query_devices()
    ]


def device_error(device: DeviceInfo, direction: Direction, err: Exception) -> AudioError:
    return AudioError(
        f"Cannot open the {_WHAT[direction]} {device.index}: {device.name!r} ({err}). Pick another "
        f"with its index or name (see `sottovoce devices`), or use {_FILE_FLAG[direction]}.",
        code="audio_device_error",
    )


def pick_settings(
    sd: Any, device: DeviceInfo, direction: Direction, rates: list[int]
) -> tuple[int, int]:
    """The first of `rates` the device takes, mono if it can, else stereo: (rate, channels)."""
    check = sd.check_input_settings if direction == "input" else sd.check_output_settings
    for rate in rates:
        for channels in sorted({1, min(2, _channels(device, direction))}):
            try:
                check(device=device.index, channels=channels, dtype="float32", samplerate=rate)
            except Exception as err:  # sounddevice raises PortAudioError or ValueError
                log.debug(
                    "%s %s rejects %d Hz x %d: %s", direction, device.name, rate, channels, err
                )
                continue
            return rate, channels
    rates_said = " nor ".join(f"{r} Hz" for r in rates)
    raise device_error(device, direction, ValueError(f"it takes neither {rates_said}"))


def _channels(device: DeviceInfo, direction: Direction) -> int:
    return device.max_input_channels if direction == "input" else device.max_output_channels


def _is_default(device: DeviceInfo, direction: Direction) -> bool:
    return device.is_default_input if direction == "input" else device.is_default_output


def _defaults(sd: Any) -> tuple[int, int]:
    default_in, default_out = sd.default.device
    return int(default_in), int(default_out)
