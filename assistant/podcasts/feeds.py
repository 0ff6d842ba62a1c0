"""Podcast feeds -> `Feed`: RSS 2.0, Atom, iTunes, Podcasting 2.0, Substack; parsed by feedparser.

feedparser is always handed bytes, never a URL, so parsing never touches the network. HTML in
descriptions is reduced to plain text here (the assistant speaks and summarizes it, never renders
it), which is why feedparser's sanitizer is switched off: it is the slowest part of a big feed.
A malformed feed keeps every episode feedparser could read; only a document with no channel and no
episodes is refused as "not a feed".
"""

from __future__ import annotations

import calendar
import logging
import posixpath
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import feedparser

from assistant.podcasts.errors import NotAFeedError

_LOGGER = logging.getLogger(__name__)

UNKNOWN_TYPE: Final = "application/octet-stream"
_AUDIO_EXTENSIONS: Final = frozenset(
    {".mp3", ".m4a", ".m4b", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wav", ".mp4"}
)
_EPISODE_TYPES: Final = frozenset({"full", "trailer", "bonus"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Enclosure:
    url: str
    mime_type: str = UNKNOWN_TYPE
    size: int = -1  # bytes; -1 when the feed does not say

    @property
    def is_audio(self) -> bool:
        """Audio by its type, or (type missing or generic) by its file extension."""
        if self.mime_type.startswith("audio/"):
            return True
        if self.mime_type not in (UNKNOWN_TYPE, "", "binary/octet-stream", "video/mp4"):
            return False
        ext = posixpath.splitext(urlsplit(self.url).path)[1].lower()
        return ext in _AUDIO_EXTENSIONS


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEpisode:
    guid: str
    title: str
    description: str = ""  # plain text
    published: int = 0  # Unix time; 0 when unknown
    link: str = ""
    duration_s: int = 0  # from itunes:duration; 0 when unknown
    enclosures: tuple[Enclosure, ...] = ()
    episode_type: str | None = None  # full, trailer or bonus
    transcript_url: str | None = None
    transcript_type: str | None = None
    chapters_url: str | None = None

    @property
    def audio(self) -> Enclosure | None:
        return next((e for e in self.enclosures if e.is_audio), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Feed:
    title: str
    link: str = ""
    description: str = ""
    image_url: str | None = None
    new_url: str | None = None  # itunes:new-feed-url or <redirect><newLocation>
    episodes: tuple[FeedEpisode, ...] = ()
    warnings: tuple[str, ...] = field(default=())  # what was wrong with a malformed feed


def parse_feed(data: bytes, url: str, *, max_episodes: int | None = None) -> Feed:
    """Parse a feed document fetched from (or read at) `url`; relative links resolve against it.

    Episodes come newest first. Raises `NotAFeedError` for a document that holds no feed.
    """
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    channel: Mapping[str, Any] = parsed.get("feed", {})
    entries: list[Mapping[str, Any]] = list(parsed.get("entries", []))
    warnings: list[str] = []
    if parsed.get("bozo"):
        warnings.append(f"malformed feed: {parsed.get('bozo_exception')}")
    if not entries and not parsed.get("version") and not _looks_like_feed(data):
        reason = warnings[0] if warnings else "no channel and no episodes"
        raise NotAFeedError(f"{url} is not a podcast feed ({reason}).")
    atom = str(parsed.get("version") or "").startswith("atom")
    episodes = [ep for ep in (_episode(e, url, atom=atom) for e in entries) if ep is not None]
    episodes.sort(key=lambda ep: ep.published, reverse=True)
    if max_episodes is not None:
        episodes = episodes[:max_episodes]
    image = channel.get("image") or {}
    image_url = _clean_url(
        image.get("href") or image.get("url") or channel.get("logo") or channel.get("icon"), url
    )
    new_url = _clean_url(channel.get("itunes_new-feed-url") or channel.get("newlocation"), url)
    return Feed(
        title=_text(channel.get("title")) or _url_stem(url),
        link=_clean_url(channel.get("link"), url) or "",
        description=html_to_text(channel.get("subtitle") or channel.get("summary") or ""),
        image_url=image_url,
        new_url=new_url,
        episodes=tuple(episodes),
        warnings=tuple(warnings),
    )


def _looks_like_feed(data: bytes) -> bool:
    head = data[:4096].lower()
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<channel"))


def _episode(entry: Mapping[str, Any], base: str, *, atom: bool) -> FeedEpisode | None:
    enclosures = _enclosures(entry, base)
    guid = str(entry.get("id") or "").strip()
    # RSS: a <guid> is a permalink unless it says otherwise. Atom ids never are.
    permalink = bool(entry.get("guidislink"))
    raw_link = str(entry.get("link") or "").strip()
    link = "" if atom and raw_link == guid else (_clean_url(raw_link, base) or "")
    if guid and permalink and not atom:
        guid = urljoin(base, guid)
    guid = guid or link or (enclosures[0].url if enclosures else "")
    if not guid:
        return None
    title = _text(entry.get("title"))
    if not title and enclosures:
        title = _url_stem(enclosures[0].url)
    transcript = entry.get("podcast_transcript")
    chapters = entry.get("podcast_chapters")
    kind = str(entry.get("itunes_episodetype") or "").strip().lower()
    return FeedEpisode(
        guid=guid,
        title=title or guid,
        description=_description(entry),
        published=_published(entry),
        link=link,
        duration_s=parse_duration(entry.get("itunes_duration")),
        enclosures=tuple(enclosures),
        episode_type=kind if kind in _EPISODE_TYPES else None,
        transcript_url=_clean_url(_attr(transcript, "url"), base),
        transcript_type=_attr(transcript, "type"),
        chapters_url=_clean_url(_attr(chapters, "url"), base),
    )


def _enclosures(entry: Mapping[str, Any], base: str) -> list[Enclosure]:
    found: list[Enclosure] = []
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure":
            found.extend(_enclosure(link.get("href"), link.get("type"), link.get("length"), base))
    for media in entry.get("media_content", []):
        found.extend(_enclosure(media.get("url"), media.get("type"), media.get("filesize"), base))
    return found


def _enclosure(href: Any, mime: Any, length: Any, base: str) -> list[Enclosure]:
    url = _clean_url(href, base)
    if not url:
        return []
    try:
        size = int(str(length).strip()) if length not in (None, "") else -1
    except ValueError:
        size = -1
    mime_type = str(mime or "").strip().lower() or UNKNOWN_TYPE
    return [Enclosure(url=url, mime_type=mime_type, size=size if size > 0 else -1)]


def _attr(element: Any, name: str) -> str | None:
    if isinstance(element, Mapping):
        value = element.get(name)
        return str(value).strip() or None if value is not None else None
    return None


def _description(entry: Mapping[str, Any]) -> str:
    """The plain description; where it is itself HTML, the full show notes serve better."""
    summary = str(entry.get("summary") or "")
    contents = entry.get("content") or []
    notes = max((str(c.get("value") or "") for c in contents), key=len, default="")
    if notes.strip() and (not summary.strip() or _MARKUP.search(summary)):
        return html_to_text(notes)
    return html_to_text(summary)


def _published(entry: Mapping[str, Any]) -> int:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            return max(0, calendar.timegm(value))
    return 0


def parse_duration(value: Any) -> int:
    """itunes:duration ("1:02:03", "62:03", "3723", "3723.5") -> whole seconds; 0 if unreadable."""
    text = str(value or "").strip()
    if not text:
        return 0
    parts = text.split(":")
    if len(parts) > 3:
        return 0
    total = 0.0
    try:
        for part in parts:
            total = total * 60 + float(part or 0)
    except ValueError:
        return 0
    return max(0, int(total))


def _clean_url(value: Any, base: str) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    return urljoin(base, text) if base else text


def _url_stem(url: str) -> str:
    name = posixpath.basename(urlsplit(url).path.rstrip("/"))
    return posixpath.splitext(name)[0] or url


def _text(value: Any) -> str:
    return html_to_text(str(value or ""))


# --- HTML -> text ---------------------------------------------------------------------------------

_MARKUP: Final = re.compile(r"<[a-zA-Z/!]")
_BLOCK_TAGS: Final = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote",
     "section", "article", "hr", "pre", "table"}
)  # fmt: skip
_SPACES: Final = re.compile(r"[ \t\r\f\v]+")
_BLANKS: Final = re.compile(r"\s*\n\s*")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, paragraphs kept as lines."""
    if "<" not in markup and "&" not in markup:
        return _tidy(markup)
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return _tidy("".join(collector.parts))


def _tidy(text: str) -> str:
    return _BLANKS.sub("\n", _SPACES.sub(" ", text)).strip()


def audio_episodes(episodes: Iterable[FeedEpisode]) -> list[FeedEpisode]:
    return [ep for ep in episodes if ep.audio is not None]
