"""The audio edge in one import: sources, sinks, devices, WAV files and format conversion.

Contracts live in `assistant.audio`; this module gathers their implementations. Nothing here
imports sounddevice until a microphone, a speaker or the device list is asked for.
"""

from __future__ import annotations

from assistant.audio_convert import (
    Resampler,
    convert_to_16k_mono,
    decode_alaw,
    decode_mulaw,
    decode_pcm,
    float_to_pcm,
    pcm_to_float,
    resample,
    to_mono,
)
from assistant.audio_devices import DeviceInfo, DeviceListing, list_devices
from assistant.audio_files import NullSink, WavFileSink, WavFileSource
from assistant.audio_mic import MicrophoneSource
from assistant.audio_speaker import SpeakerSink
from assistant.wav_io import (
    WavAudio,
    WavInfo,
    WavWriter,
    iter_wav_16k_mono,
    read_wav,
    read_wav_16k_mono,
    wav_info,
)

__all__ = [
    "DeviceInfo",
    "DeviceListing",
    "MicrophoneSource",
    "NullSink",
    "Resampler",
    "SpeakerSink",
    "WavAudio",
    "WavFileSink",
    "WavFileSource",
    "WavInfo",
    "WavWriter",
    "convert_to_16k_mono",
    "decode_alaw",
    "decode_mulaw",
    "decode_pcm",
    "float_to_pcm",
    "iter_wav_16k_mono",
    "list_devices",
    "pcm_to_float",
    "read_wav",
    "read_wav_16k_mono",
    "resample",
    "to_mono",
    "wav_info",
]
