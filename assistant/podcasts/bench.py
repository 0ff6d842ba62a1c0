"""Podcast figures: feed parse time, time to first episode audio, playback CPU.

    python -m assistant.podcasts.bench [--feed FILE] [--audio FILE] [--seconds 20]

Without `--audio` it encodes a stereo tone with PyAV (what a podcast MP3 looks like to the
decoder). Playback goes to a paced null sink, so CPU is measured at real-time speed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from assistant.audio_files import NullSink
from assistant.podcasts.feeds import parse_feed
from assistant.podcasts.player import Player


def encode_tone(
    seconds: float,
    *,
    fmt: str = "mp3",
    rate: int = 44_100,
    freq: float = 440.0,
    channels: int = 1,
) -> bytes:
    """A sine tone encoded as MP3 (libmp3lame) or M4A (AAC in MP4), in memory."""
    codec, container = {"mp3": ("libmp3lame", "mp3"), "m4a": ("aac", "ipod")}[fmt]
    layout = "mono" if channels == 1 else "stereo"
    buf = io.BytesIO()
    out: Any = av.open(buf, "w", format=container)
    stream: Any = out.add_stream(codec, rate=rate, layout=layout)
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
    t = np.arange(int(rate * seconds)) / rate
    pcm = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    step = 1152
    for start in range(0, len(pcm), step):
        part = np.repeat(pcm[start : start + step][None, :], channels, axis=0)
        packed = part.T.reshape(1, -1)  # s16 is interleaved
        frame = av.AudioFrame.from_ndarray(packed, format="s16", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                out.mux(packet)
    for resampled in resampler.resample(None):
        for packet in stream.encode(resampled):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return buf.getvalue()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _playback(path: Path, seconds: float) -> tuple[float, float]:
    sink = NullSink(paced=True)
    player = Player(sink)
    started = time.perf_counter()
    await player.play(path, key=0)
    first = time.perf_counter() - started
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu = (_cpu_s() - cpu0) / (time.perf_counter() - wall0)
    await player.close()
    return first, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feed", type=Path, help="a feed file to parse (timed)")
    parser.add_argument("--audio", type=Path, help="an episode to play (default: a tone)")
    parser.add_argument("--seconds", type=float, default=20.0, help="playback to measure")
    args = parser.parse_args(argv)
    if args.feed:
        data = args.feed.read_bytes()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            feed = parse_feed(data, args.feed.resolve().as_uri())
            times.append(time.perf_counter() - start)
        print(
            f"parse {args.feed.name}: {len(feed.episodes)} episodes, "
            f"best {min(times) * 1000:.0f} ms, median {sorted(times)[2] * 1000:.0f} ms"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = args.audio
        if path is None:
            path = Path(tmp) / "tone.mp3"
            path.write_bytes(encode_tone(args.seconds + 5, channels=2))
        first, cpu = asyncio.run(_playback(path, args.seconds))
    print(
        f"play {path.name}: first audio after {first * 1000:.0f} ms; "
        f"playback CPU {cpu * 100:.1f} % of one core"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
