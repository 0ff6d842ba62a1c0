"""SIGTERM (as systemd or `docker stop` sends it) stops `run` and `podcasts play` cleanly: exit 0
within 2 s, the podcast position saved, the database closed whole. Real subprocesses, real
signals, real models."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import av
import numpy as np
import pytest

from assistant import cli
from assistant.app import bundled_sample
from assistant.audio_io import WavWriter, read_wav_16k_mono, wav_info
from assistant.podcasts.library import Library
from assistant.store import DB_NAME
from tests.podcast_support import FeedServer, Route, feed_server, rss

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="needs POSIX signals"),
]

REPO = Path(__file__).resolve().parents[2]
EXIT_WITHIN_S = 2.0


def start(*args: str, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SOTTOVOCE_HOME": str(home)},
        cwd=REPO,
    )


def terminate(proc: subprocess.Popen[str]) -> tuple[float, str, str]:
    """SIGTERM; how long the process took to exit, and its stdout and stderr."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - sent
    out, err = proc.communicate()
    return took, out, err


def database_ok(data: Path) -> None:
    """Whole (`integrity_check`), and closed: the last connection's close checkpoints the
    write-ahead log into the file and deletes it."""
    path = data / DB_NAME
    assert not (data / f"{DB_NAME}-wal").exists()  # first: a reader leaves an empty one
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def read_until(stream: IO[str], event: str, proc: subprocess.Popen[str]) -> list[str]:
    """JSON event lines up to and including the first of kind `event`."""
    lines = []
    for line in stream:
        lines.append(line)
        if json.loads(line)["event"] == event:
            return lines
    pytest.fail(f"the assistant ended (exit {proc.wait()}) before {event!r}: {lines}")


@pytest.fixture
def sample_then_silence(tmp_path: Path) -> Path:
    """'Hey Jarvis, what time is it?' and two minutes of silence: a run that lasts."""
    path = tmp_path / "long.wav"
    writer = WavWriter(path, 16_000)
    writer.write(read_wav_16k_mono(bundled_sample()))
    writer.write(np.zeros(120 * 16_000, dtype=np.int16))
    writer.close()
    return path


def test_run_stops_on_sigterm_during_a_turn(tmp_path: Path, sample_then_silence: Path) -> None:
    proc = start(
        "run", "--input", str(sample_then_silence), "--output", "null", "--paced", "--json",
        home=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        read_until(proc.stdout, "reply", proc)  # the reply is being spoken now
    finally:
        took, out, err = terminate(proc)
    assert proc.returncode == 0, err
    assert took < EXIT_WITHIN_S, f"exit took {took:.2f} s"
    assert "Stopped (SIGTERM)." in err and "Traceback" not in err
    assert '"end of input"' not in out  # stopped by the signal, not at the end of the file
    database_ok(tmp_path / "data")


def test_run_stops_on_sigterm_while_the_models_load(
    tmp_path: Path, sample_then_silence: Path
) -> None:
    proc = start("run", "--input", str(sample_then_silence), "--output", "null", home=tmp_path)
    try:
        assert proc.stderr is not None
        # Said by the language model's loader while the other engines still load.
        for line in proc.stderr:
            if "No language model is prepared" in line:
                break
        else:
            pytest.fail(f"no word from the loaders (exit {proc.wait()})")
    finally:
        took, _out, err = terminate(proc)
    assert proc.returncode == 0, err
    assert took < EXIT_WITHIN_S, f"exit took {took:.2f} s"
    database_ok(tmp_path / "data")


def long_mp3(minutes: int) -> bytes:
    """`minutes` of a 16 kHz tone as MP3, made in moments: six seconds encoded once and repeated.
    Without a Xing or ID3 header the frames simply follow each other, and the duration is
    counted from the file's size."""
    rate = 16_000
    buf = io.BytesIO()
    out: Any = av.open(buf, "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"})
    stream: Any = out.add_stream("libmp3lame", rate=rate, layout="mono")
    stream.bit_rate = 32_000
    t = np.arange(6 * rate) / rate
    frame = av.AudioFrame.from_ndarray(
        (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)[None, :],
        format="s16",
        layout="mono",
    )
    frame.sample_rate = rate
    frame.pts = 0
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate)
    for resampled in [*resampler.resample(frame), *resampler.resample(None), None]:
        for packet in stream.encode(resampled):
            out.mux(packet)
    out.close()
    return buf.getvalue() * (minutes * 10)


@pytest.fixture
def downloaded(tmp_path: Path) -> Iterator[Path]:
    """A data dir subscribed to a podcast whose one episode (30 minutes) is downloaded."""
    home = tmp_path / "data"
    mp3 = long_mp3(30)
    server: FeedServer
    with feed_server() as server:
        url = server.add("/long.mp3", Route(body=mp3, content_type="audio/mpeg"))
        item = {"title": "Long", "guid": "long", "date": "Mon, 01 Jan 2024 10:00:00 GMT",
                "url": url, "length": str(len(mp3)), "duration": "30:00"}  # fmt: skip
        server.add("/feed.xml", Route(body=rss("Tones", [item])))
        for command in (["add", server.url("/feed.xml")], ["download", "tones"]):
            assert cli.main(["podcasts", "--home", str(home), *command]) == 0
    yield home


def test_podcasts_play_saves_the_position_on_sigterm(tmp_path: Path, downloaded: Path) -> None:
    wav = tmp_path / "out.wav"
    proc = start(
        "podcasts", "--home", str(downloaded), "play", "tones", "--out", str(wav), home=tmp_path
    )
    try:
        deadline = time.monotonic() + 60
        # A WAV file takes the episode as fast as it decodes (30 minutes in some seconds):
        # signal once two seconds of it are written.
        while not wav.exists() or wav.stat().st_size < 44 + 2 * 16_000 * 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no audio after 60 s"
            time.sleep(0.02)
    finally:
        took, out, err = terminate(proc)
    assert proc.returncode == 0, err
    assert took < EXIT_WITHIN_S, f"exit took {took:.2f} s"
    assert "Long: stopped at" in out and "Traceback" not in err
    database_ok(downloaded)
    library = Library.open(downloaded)
    try:
        (episode,) = library.episodes(None)
    finally:
        library.close()
    assert not episode.finished
    heard_s = wav_info(wav).duration_s
    assert 2.0 <= episode.position_s < 25 * 60  # resumes where it stopped, not at the start
    assert episode.position_s == pytest.approx(heard_s, abs=0.5)
