"""BLE link figures on the virtual radio (bleak on bumble): throughput per MTU, reconnect time,
codec CPU. Prints a table (or JSON with --json); it is a benchmark, not a test.

Run: .venv/bin/python scripts/bench_ble.py [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import numpy as np

from firmware_bridge import codecs
from firmware_bridge.central import GlassesLink, LinkSettings, MicAudio
from firmware_bridge.profile import Codec
from firmware_bridge.sim import VirtualRadio

MTUS = (23, 185, 247, 517)
SETTINGS = LinkSettings(connect_timeout_s=2.0, hello_timeout_s=2.0)


def _speechlike(seconds: float) -> codecs.Pcm:
    """Noise shaped like speech: a few formant-ish tones with a syllable-rate envelope."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * codecs.SAMPLE_RATE)) / codecs.SAMPLE_RATE
    voiced = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate((180, 720, 1250, 2600)))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    signal = 6000 * envelope * voiced + 300 * rng.standard_normal(len(t))
    return np.clip(signal, -32768, 32767).astype(np.int16)


async def _connected(radio: VirtualRadio) -> GlassesLink:
    address = radio.glasses_address
    link = GlassesLink(address, paired={address}, backend=radio.backends.client, settings=SETTINGS)
    await link.start()
    await link.wait_ready(5)
    return link


async def throughput(mtu: int) -> dict[str, Any]:
    """Audio payload goodput both ways with PCM16 frames (640 bytes each), framing included."""
    seconds = 1.0 if mtu == 23 else 4.0
    pcm = _speechlike(seconds)
    async with VirtualRadio(mtu=mtu, realtime_mic=False, codecs=frozenset({Codec.PCM16})) as radio:
        link = await _connected(radio)
        # glasses -> host: microphone frames as notifications
        await link.mic_start()
        await asyncio.sleep(0.1)
        while not link.events.empty():
            link.events.get_nowait()
        started = time.perf_counter()
        radio.glasses.say(pcm)
        got = 0
        while got < len(pcm):
            event = await asyncio.wait_for(link.events.get(), 30)
            if isinstance(event, MicAudio):
                got += len(event.pcm)
        up_s = time.perf_counter() - started
        await link.mic_stop()
        # host -> glasses: speaker frames as write commands
        before = len(radio.glasses.received.speaker_pcm())
        started = time.perf_counter()
        await link.play(pcm)
        while len(radio.glasses.received.speaker_pcm()) - before < len(pcm):  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        down_s = time.perf_counter() - started
        await link.close()
    payload = len(pcm) * 2
    return {
        "mtu": mtu,
        "fragment_bytes": min(mtu - 3, 512),
        "notify_kB_s": round(payload / up_s / 1000, 1),
        "write_kB_s": round(payload / down_s / 1000, 1),
        "pcm16_realtime_x": round(min(payload / up_s, payload / down_s) / 32000, 1),
    }


async def reconnects(times: int = 5) -> dict[str, Any]:
    async with VirtualRadio() as radio:
        link = await _connected(radio)
        delays = []
        for _ in range(times):
            connects = link.stats.connects
            await radio.glasses.drop_link()
            async with asyncio.timeout(10):
                while link.stats.connects == connects:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            assert link.stats.last_reconnect_s is not None
            delays.append(link.stats.last_reconnect_s)
        await link.close()
    return {
        "reconnect_median_s": round(statistics.median(delays), 3),
        "reconnect_max_s": round(max(delays), 3),
    }


def codec_cpu(seconds: float = 10.0) -> list[dict[str, Any]]:
    pcm = _speechlike(seconds)
    frames = [pcm[i : i + codecs.FRAME_SAMPLES] for i in range(0, len(pcm), codecs.FRAME_SAMPLES)]
    rows = []
    for codec in codecs.PREFERENCE[::-1]:
        if codec == Codec.OPUS and not codecs.opus_available():
            rows.append({"codec": codec.name, "available": False})
            continue
        c = codecs.make_codec(codec)
        started = time.process_time()
        packets = [c.encode(f) for f in frames]
        encoded = time.process_time()
        decoded = [c.decode(p) for p in packets]
        done = time.process_time()
        out = np.concatenate(decoded)[: len(pcm)]
        lag = 0
        if codec == Codec.OPUS:  # its decoder delays the signal; align before comparing
            lag = int(np.argmax(np.correlate(out[:4000].astype(float), pcm[:2000].astype(float))))
        ref = pcm[: len(out) - lag].astype(float)
        noise = np.mean((out[lag:].astype(float) - ref) ** 2) + 1e-9
        rows.append(
            {
                "codec": codec.name,
                "bytes_per_s": round(sum(map(len, packets)) / seconds),
                "encode_cpu_pct": round(100 * (encoded - started) / seconds, 3),
                "decode_cpu_pct": round(100 * (done - encoded) / seconds, 3),
                "snr_db": round(float(10 * np.log10(np.mean(ref**2) / noise)), 1),
            }
        )
    return rows


async def main_async() -> dict[str, Any]:
    return {
        "throughput": [await throughput(mtu) for mtu in MTUS],
        "reconnect": await reconnects(),
        "codecs": codec_cpu(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(main_async())
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print("MTU  fragment  notify kB/s  write kB/s  PCM16 x real time")
    for row in figures["throughput"]:
        print(
            f"{row['mtu']:>3}  {row['fragment_bytes']:>8}  {row['notify_kB_s']:>11}"
            f"  {row['write_kB_s']:>10}  {row['pcm16_realtime_x']:>17}"
        )
    r = figures["reconnect"]
    median, worst = r["reconnect_median_s"], r["reconnect_max_s"]
    print(f"\nreconnect after a dropped link: median {median} s, max {worst} s")
    print("\ncodec      bytes/s  encode %CPU  decode %CPU  SNR dB   (one core, per s of audio)")
    for row in figures["codecs"]:
        if not row.get("available", True):
            print(f"{row['codec']:<9}  not available (needs PyAV with libopus)")
            continue
        print(
            f"{row['codec']:<9}  {row['bytes_per_s']:>7}  {row['encode_cpu_pct']:>11}"
            f"  {row['decode_cpu_pct']:>11}  {row['snr_db']:>6}"
        )


if __name__ == "__main__":
    main()
