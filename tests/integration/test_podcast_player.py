"""The player and the media controller on MP3 and M4A files the tests encode with PyAV."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.podcasts.feeds import parse_feed
from assistant.podcasts.library import Library
from assistant.podcasts.media import MediaSettings, PodcastMedia
from assistant.podcasts.player import Decoder, Player
from skills.sdk import MediaError
from tests.podcast_support import encode_tone, rss
from tests.unit.fakes import SpeakerSink


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tones")
    files = {}
    for name, fmt, seconds in (("a.mp3", "mp3", 6.0), ("b.m4a", "m4a", 3.0), ("c.mp3", "mp3", 2.0)):
        files[name] = folder / name
        files[name].write_bytes(encode_tone(seconds, fmt=fmt))
    return files


@pytest.mark.parametrize(("name", "seconds"), [("a.mp3", 6.0), ("b.m4a", 3.0)])
def test_decoder_reads_and_seeks(tones: dict[str, Path], name: str, seconds: float) -> None:
    decoder = Decoder(tones[name])
    assert decoder.sample_rate == 44_100
    assert decoder.duration_s == pytest.approx(seconds, abs=0.1)
    total = 0
    while len(chunk := decoder.read(0.25)):
        assert chunk.dtype == np.int16
        total += len(chunk)
    assert total / 44_100 == pytest.approx(seconds, abs=0.1)
    decoder.seek(seconds - 1.0)
    rest = 0
    while len(chunk := decoder.read(0.25)):
        rest += len(chunk)
    assert rest / 44_100 == pytest.approx(1.0, abs=0.06)
    decoder.close()


def test_not_audio_is_a_clear_playback_error(tmp_path: Path) -> None:
    from assistant.podcasts.errors import PlaybackError

    junk = tmp_path / "x.mp3"
    junk.write_bytes(b"<html>not audio</html>" * 10)
    with pytest.raises(PlaybackError, match=r"x\.mp3"):
        Decoder(junk)


async def test_pause_resume_seek_stop_and_duck(tones: dict[str, Path]) -> None:
    sink = SpeakerSink()
    sink.gate = asyncio.Event()
    saved: list[tuple[int, float, bool]] = []
    player = Player(sink, on_position=lambda k, p, f: saved.append((k, p, f)), chunk_s=0.25)
    await player.play(tones["a.mp3"], key=7, start_s=1.0)
    await asyncio.sleep(0.05)
    assert player.state == "playing" and len(sink.played) == 2
    loud = int(np.abs(sink.played[0]).max())
    assert await player.pause()
    assert player.state == "paused" and saved[-1] == (7, pytest.approx(1.25), False)
    player.duck(True)
    assert await player.resume()
    await asyncio.sleep(0.02)
    assert int(np.abs(sink.played[-1]).max()) < loud * 0.3
    player.duck(False)
    assert await player.skip(-10) == 0.0
    assert await player.seek(4.0) == 4.0
    assert player.state == "playing"
    sink.gate.set()
    await player.wait()
    assert player.state == "stopped"
    assert saved[-1] == (7, pytest.approx(6.0, abs=0.1), True)
    await player.close()


@pytest.fixture
def library(tmp_path: Path, tones: dict[str, Path]) -> Iterator[Library]:
    lib = Library.open(tmp_path / "data")
    items = [
        {"title": "Old", "guid": "1", "date": "Mon, 01 Jan 2024 10:00:00 GMT", "url": "http://x/1.mp3"},
        {"title": "Middle about DeepSeek", "guid": "2", "date": "Tue, 02 Jan 2024 10:00:00 GMT",
         "url": "http://x/2.m4a", "type": "audio/mp4"},
        {"title": "New", "guid": "3", "date": "Wed, 03 Jan 2024 10:00:00 GMT", "url": "http://x/3.mp3"},
    ]  # fmt: skip
    lib.save_feed("http://x/feed", parse_feed(rss("Tones", items), "http://x/feed"))
    files = {"Old": tones["c.mp3"], "Middle about DeepSeek": tones["b.m4a"], "New": tones["a.mp3"]}
    for ep in lib.episodes():
        target = lib.episodes_dir / f"{ep.feed_id}" / files[ep.title].name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[ep.title].read_bytes())
        lib.set_file(ep.id, f"{ep.feed_id}/{target.name}", target.stat().st_size)
    yield lib
    lib.close()


async def test_position_survives_a_restart(library: Library, tmp_path: Path) -> None:
    newest = library.episodes()[0]
    sink = SpeakerSink()
    sink.gate = asyncio.Event()
    media = PodcastMedia(library, sink, MediaSettings(save_every_s=0.5))
    started = time.perf_counter()
    info = await media.play(newest.id)
    latency = time.perf_counter() - started
    assert info.title == "New" and latency < 0.5, f"first audio after {latency * 1000:.0f} ms"
    await asyncio.sleep(0.02)  # the sink holds the second chunk, as a speaker would
    assert await media.skip(2.5) == pytest.approx(2.75)
    await asyncio.sleep(0.02)
    assert await media.pause()
    paused_at = media.player.position_s
    assert paused_at == pytest.approx(3.0)
    playing = media.now_playing()
    assert playing is not None and playing.paused and playing.episode.title == "New"
    await media.close()
    library.close()

    # A new process: the position was committed and playback resumes there.
    sink2 = SpeakerSink()
    media2 = PodcastMedia.open(tmp_path / "data", sink2)
    again = media2.library
    assert again.episode(newest.id).position_s == pytest.approx(paused_at)  # type: ignore[union-attr]
    resumed = await media2.resume()
    assert resumed is not None and resumed.id == newest.id
    assert media2.player.position_s >= paused_at
    await media2.player.wait()
    assert sink2.seconds == pytest.approx(6.0 - paused_at, abs=0.1)
    assert again.episode(newest.id).finished  # type: ignore[union-attr]
    await media2.close()


async def test_next_previous_and_notes(library: Library) -> None:
    sink = SpeakerSink()
    media = PodcastMedia(library, sink)
    newest, middle, oldest = library.episodes()
    await media.play(middle.id)
    assert media.show_notes() is not None
    assert media.show_notes().episode.title == "Middle about DeepSeek"  # type: ignore[union-attr]
    assert (await media.next()).id == newest.id  # type: ignore[union-attr]
    assert await media.next() is None
    assert (await media.previous()).id == middle.id  # type: ignore[union-attr]
    assert (await media.previous()).id == oldest.id  # type: ignore[union-attr]
    assert await media.stop()
    assert media.now_playing() is None
    assert not await media.pause()
    await media.close()


async def test_missing_download_is_a_media_error(library: Library) -> None:
    ep = library.episodes()[0]
    library.set_file(ep.id, None, None)
    media = PodcastMedia(library, SpeakerSink())
    with pytest.raises(MediaError, match=r"server|not audio|reach"):
        await media.play(ep.id)
    await media.close()
