"""Feed parsing: podcastparser's conformance cases for the fields sottovoce keeps, real feeds."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from assistant.podcasts.errors import NotAFeedError
from assistant.podcasts.feeds import Enclosure, html_to_text, parse_duration, parse_feed
from tests.corpora import CORPORA, corpus

CONFORMANCE = CORPORA / "podcast_feeds" / "parser_conformance_podcastparser"
REAL = CORPORA / "podcast_feeds" / "real"

# Where sottovoce deliberately differs from podcastparser, and why.
DEVIATIONS: dict[str, str] = {
    "atom_published_updated": "an Atom <summary> is kept as the description",
    "atom_updated": "an Atom <summary> is kept as the description",
    "atom_content_encoded": "an Atom <summary> is kept as the description",
    "itunes_type_serial": "episodes are always newest first: 'the latest episode' is asked for",
    "no_title_multi_enclosure": "an item with a guid and audio is kept, even without a title",
}


def _cases() -> list[Any]:
    if not CONFORMANCE.is_dir():
        return []
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=DEVIATIONS[name]))
        if name in DEVIATIONS
        else name
        for name in sorted(p.stem for p in CONFORMANCE.glob("*.rss"))
    ]


def _episode_fields(expected: dict[str, Any]) -> dict[str, Any]:
    kept = ("title", "guid", "link", "published", "total_time", "description", "enclosures")
    fields = {key: expected.get(key) for key in kept}
    fields["type"] = expected.get("type")
    fields["transcript_url"] = expected.get("transcript_url")
    fields["chapters_url"] = expected.get("chapters_json_url")
    return fields


@pytest.mark.parametrize("name", _cases())
def test_podcastparser_conformance(name: str) -> None:
    expected = json.loads((CONFORMANCE / f"{name}.json").read_text(encoding="utf-8"))
    params_file = CONFORMANCE / f"{name}.param.json"
    params = json.loads(params_file.read_text()) if params_file.exists() else {}
    feed = parse_feed(
        (CONFORMANCE / f"{name}.rss").read_bytes(),
        f"file://tests/data/{name}.rss",
        max_episodes=params.get("max_episodes"),
    )
    assert feed.title == expected["title"]
    assert feed.new_url == expected.get("new_url")
    if "cover_url" in expected:
        assert feed.image_url == expected["cover_url"]
    got = [
        {
            "title": ep.title,
            "guid": ep.guid,
            "link": ep.link,
            "published": ep.published,
            "total_time": ep.duration_s,
            "description": ep.description,
            "enclosures": [
                {"url": e.url, "mime_type": e.mime_type, "file_size": e.size} for e in ep.enclosures
            ],
            "type": ep.episode_type,
            "transcript_url": ep.transcript_url,
            "chapters_url": ep.chapters_url,
        }
        for ep in feed.episodes
    ]
    want = [_episode_fields(e) for e in expected["episodes"]]
    assert got == want


def test_conformance_suite_present() -> None:
    if not _cases():
        pytest.skip(f"conformance corpus missing at {CONFORMANCE}")
    assert len(_cases()) >= 60


def _real(name: str) -> bytes:
    return corpus(REAL / name).read_bytes()


def test_giant_bombcast_730_episodes_under_a_second() -> None:
    data = _real("giantbomb_bombcast.rss")
    expected = json.loads((REAL / "giantbomb_bombcast.rss-parser-expected.json").read_text())
    start = time.perf_counter()
    feed = parse_feed(data, "https://www.giantbomb.com/feeds/podcast/")
    elapsed = time.perf_counter() - start
    items = expected["feed"]["items"]
    assert len(feed.episodes) == len(items) == 730
    assert elapsed <= 1.0, f"parse took {elapsed:.2f} s"
    by_guid = {ep.guid: ep for ep in feed.episodes}
    for item in items:
        ep = by_guid[item["guid"]]
        assert ep.title == item["title"].strip()
        audio = ep.audio
        assert audio is not None and audio.url == item["enclosure"]["url"]
        assert audio.size == int(item["enclosure"]["length"])
    newest = feed.episodes[0]
    assert newest.title == "Giant Bombcast 603: Call of Tuesday"
    assert "Ghost Recon Breakpoint" in newest.description


def test_narro_feed() -> None:
    data = _real("narro.rss")
    expected = json.loads((REAL / "narro.rss-parser-expected.json").read_text())
    feed = parse_feed(data, "https://www.narro.co/feed")
    assert feed.title == expected["feed"]["title"]
    assert [ep.title for ep in feed.episodes] == [i["title"] for i in expected["feed"]["items"]]


PODCASTING_20 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Interconnects</title>
  <link>https://www.interconnects.ai/podcast</link>
  <itunes:image href="https://substackcdn.com/cover.jpg"/>
  <item>
    <title><![CDATA[DeepSeek V3 and the cost of frontier models]]></title>
    <description><![CDATA[<p>Why <b>DeepSeek</b> matters &amp; what it cost.</p>
      <p>Second.</p>]]></description>
    <link>https://www.interconnects.ai/p/deepseek-v3</link>
    <guid isPermaLink="false">substack:post:153</guid>
    <pubDate>Thu, 09 Jan 2025 14:03:15 GMT</pubDate>
    <enclosure url="https://api.substack.com/feed/podcast/153.mp3" length="23456789"
               type="audio/mpeg"/>
    <itunes:duration>1:02:03</itunes:duration>
    <itunes:episodeType>full</itunes:episodeType>
    <podcast:transcript url="https://example.com/153.vtt" type="text/vtt"/>
    <podcast:chapters url="https://example.com/153.json" type="application/json+chapters"/>
  </item>
  <item>
    <title>Video only</title>
    <guid isPermaLink="false">substack:post:152</guid>
    <pubDate>Wed, 08 Jan 2025 14:03:15 GMT</pubDate>
    <enclosure url="https://example.com/152.mp4" type="video/quicktime"/>
  </item>
</channel>
</rss>"""


def test_substack_and_podcasting_20() -> None:
    feed = parse_feed(PODCASTING_20, "https://api.substack.com/feed/podcast/48206.rss")
    assert feed.title == "Interconnects"
    assert feed.image_url == "https://substackcdn.com/cover.jpg"
    first, video = feed.episodes
    assert first.guid == "substack:post:153"
    assert first.duration_s == 3723
    assert first.published == 1736431395
    assert first.description == "Why DeepSeek matters & what it cost.\nSecond."
    assert first.transcript_url == "https://example.com/153.vtt"
    assert first.transcript_type == "text/vtt"
    assert first.chapters_url == "https://example.com/153.json"
    assert first.episode_type == "full"
    assert video.audio is None


def test_malformed_feed_keeps_readable_episodes() -> None:
    broken = (
        b"<rss><channel><title>Broken & co</title>"
        b"<item><title>One</title><enclosure url='http://e.org/1.mp3' type='audio/mpeg'/></item>"
        b"<item><title>Two <b>bold</title><enclosure url='http://e.org/2.mp3'/></item>"
        b"<item><title>Three</title><enclosure url='http://e.org/3.mp3'/>"
    )
    feed = parse_feed(broken, "http://e.org/feed")
    assert feed.warnings
    assert [ep.audio.url for ep in feed.episodes if ep.audio] == [
        "http://e.org/1.mp3",
        "http://e.org/2.mp3",
        "http://e.org/3.mp3",
    ]


def test_atom_podcast_with_enclosure_links() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Cast</title>
  <entry>
    <title>Pilot</title>
    <id>tag:example.org,2024:1</id>
    <updated>2024-01-02T03:04:05Z</updated>
    <link rel="enclosure" href="media/pilot.m4a" type="audio/x-m4a" length="1234"/>
    <summary type="html">&lt;p&gt;First &amp;amp; best&lt;/p&gt;</summary>
  </entry>
</feed>"""
    feed = parse_feed(atom, "https://example.org/feeds/atom.xml")
    (ep,) = feed.episodes
    assert ep.audio == Enclosure(
        url="https://example.org/feeds/media/pilot.m4a", mime_type="audio/x-m4a", size=1234
    )
    assert ep.guid == "tag:example.org,2024:1" and ep.published == 1704164645
    assert ep.description == "First & best"


@pytest.mark.parametrize(
    "data",
    [b"<html><body><h1>Welcome</h1></body></html>", b'{"json": true}', b"", b"\x00\x01binary"],
)
def test_not_a_feed(data: bytes) -> None:
    with pytest.raises(NotAFeedError, match="not a podcast feed"):
        parse_feed(data, "http://e.org/page")


def test_helpers() -> None:
    assert parse_duration("62:03") == 3723
    assert parse_duration("3723.6") == 3723
    assert parse_duration("soon") == 0
    assert html_to_text("<p>a&nbsp;b</p><script>x()</script><ul><li>c</li></ul>") == "a\xa0b\nc"
    assert Enclosure(url="http://e.org/x.MP3").is_audio
    assert Enclosure(url="http://e.org/x.m4a?dl=1", mime_type="video/mp4").is_audio
    assert not Enclosure(url="http://e.org/x.mp4", mime_type="video/quicktime").is_audio
    assert not Enclosure(url="http://e.org/page.html").is_audio
