"""`sottovoce podcasts ...` end to end against a feed server on 127.0.0.1, and by voice."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import podcasts_cli
from assistant.podcasts.library import Library
from assistant.podcasts.media import PodcastMedia
from skills.intents import IntentRecognizer
from skills.podcast import PodcastSkill
from tests.podcast_support import FeedServer, Route, encode_tone, feed_server, rss
from tests.unit.fakes import FakeSkillContext, SpeakerSink

MP3 = encode_tone(3.0)


def _cli(home: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sottovoce")
    podcasts_cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["podcasts", "--home", str(home), "--timeout", "2", *argv])
    code: int = args.handler(args)
    return code


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        items = [
            {"title": f"Episode {n}", "guid": f"g{n}", "date": f"Mon, 0{n} Jan 2024 10:00:00 GMT",
             "url": s.add(f"/{n}.mp3", Route(body=MP3, content_type="audio/mpeg")),
             "length": str(len(MP3)), "duration": "0:03"}
            for n in (1, 2)
        ]  # fmt: skip
        s.add("/feed.xml", Route(body=rss("Interconnects", items), etag='"1"'))
        yield s


def test_cli_round_trip(
    server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "data"
    assert _cli(home, "add", server.url("/feed.xml")) == 0
    assert "Subscribed to Interconnects (#1): 2 episodes." in capsys.readouterr().out
    assert _cli(home, "list") == 0
    assert "#1  Interconnects  (2 episodes)" in capsys.readouterr().out
    assert _cli(home, "refresh") == 0
    assert "Interconnects: not modified" in capsys.readouterr().out
    assert _cli(home, "download", "inter") == 0
    captured = capsys.readouterr()
    assert "Downloaded Episode 2" in captured.out and "[####" in captured.err
    assert _cli(home, "episodes", "Interconnects", "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # JSON Lines
    assert [r["title"] for r in rows] == ["Episode 2", "Episode 1"]
    assert rows[0]["downloaded"] and not rows[1]["downloaded"]
    assert rows[0]["type"] == "audio/mpeg" and rows[0]["size"] == len(MP3)
    assert rows[0]["duration_s"] == 3 and rows[0]["position_s"] == 0.0
    out_wav = tmp_path / "out.wav"
    assert _cli(home, "play", "inter", "--out", str(out_wav)) == 0
    assert "Episode 2: finished." in capsys.readouterr().out
    assert out_wav.stat().st_size > 3 * 44_100
    assert _cli(home, "remove", "interconnects") == 0
    assert "Removed Interconnects and 1 downloaded episode(s)." in capsys.readouterr().out
    assert not list((home / "episodes").rglob("*.mp3"))


def test_cli_errors_are_one_line(
    server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "data"
    assert _cli(home, "add", server.url("/missing.xml")) == 1
    assert capsys.readouterr().err.startswith("error: http://127.0.0.1")
    assert _cli(home, "episodes", "nothing") == 1
    assert "No subscription matches 'nothing'" in capsys.readouterr().err
    assert _cli(home, "add", str(tmp_path / "nope.xml")) == 1
    assert "neither an http(s) URL nor an existing file" in capsys.readouterr().err


async def test_play_the_latest_episode_by_voice(server: FeedServer, tmp_path: Path) -> None:
    """From the recognized text to the first episode audio, with the episode downloaded."""
    home = tmp_path / "data"
    assert await asyncio.to_thread(_cli, home, "add", server.url("/feed.xml")) == 0
    assert await asyncio.to_thread(_cli, home, "download", "inter") == 0
    library = Library.open(home)
    sink = SpeakerSink()
    sink.gate = asyncio.Event()
    media = PodcastMedia(library, sink)
    recognizer = IntentRecognizer.load()
    ctx = FakeSkillContext(media=media)
    started = time.perf_counter()
    intent = recognizer.recognize("hey jarvis play the latest episode of interconnects")
    await PodcastSkill().handle(intent, ctx)
    assert sink.first_at is not None
    latency = sink.first_at - started
    assert ctx.said == [] and ctx.shown == ["▶ Interconnects: Episode 2"]
    assert latency < 0.5, f"{latency * 1000:.0f} ms to first audio"
    # Not downloaded yet: the skill says so, downloads, then plays.
    ctx = FakeSkillContext(media=media)
    await PodcastSkill().handle(
        recognizer.recognize("play the first episode of interconnects"), ctx
    )
    assert ctx.said == ["Downloading Episode 1 first."]
    assert ctx.shown == ["▶ Interconnects: Episode 1"]
    assert library.episodes()[1].file is not None
    await media.close()
    library.close()
