"""Skill "podcast": play episodes of the user's subscriptions and control playback.

"Play the latest episode of Interconnects", "play Interconnects", "play the episode about
DeepSeek", then "pause", "skip ahead thirty seconds", "resume", "what's playing". Names are matched
fuzzily (speech recognizers split and misspell show names); an episode is found by the words of
its title and description. Playback starts without a spoken reply, so the episode is heard as
soon as possible; the title goes to the glasses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from typing import Final

from skills.sdk import (
    BaseSkill,
    EpisodeInfo,
    Intent,
    MediaController,
    MediaError,
    PodcastInfo,
    SkillContext,
    sentence_files,
)

_LOGGER = logging.getLogger(__name__)

_MAX_LISTED: Final = 3
_NAME_THRESHOLD: Final = 0.72
_STOPWORDS: Final = frozenset(
    {"the", "a", "an", "of", "about", "on", "and", "with", "my", "podcast", "podcasts", "show",
     "episode", "episodes", "one", "to", "in", "is", "it", "that", "this", "from", "for"}
)  # fmt: skip
_WORD: Final = re.compile(r"[a-z0-9]+")
_NUMBER_WORDS: Final = {
    str(n): word
    for n, word in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen", "twenty")
    )
}  # fmt: skip
# "play {podcast}" is the broadest template and can swallow "the X episode about Y".
_NAME_AND_TOPIC: Final = re.compile(
    r"^(?:the\s+)?(?P<name>.+?)\s+(?:episode|one|show)\s+"
    r"(?:about|on|with|called|named|titled|discussing)\s+(?P<topic>.+)$"
)
NOT_SET_UP: Final = "Podcasts aren't set up on this assistant."
NOTHING_PLAYING: Final = "Nothing is playing."


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _key(text: str) -> str:
    spelled = (_NUMBER_WORDS.get(w, w) for w in words(text))  # "hard 4" is "hard four"
    return "".join(w for w in spelled if w not in _STOPWORDS)


# Spellings of one sound, longest first: a recognizer hears names, it does not read them.
_SOUNDS: Final = (
    ("tch", "c"), ("sch", "s"), ("ght", "t"), ("ph", "f"), ("gh", ""), ("ch", "c"),
    ("sh", "s"), ("th", "t"), ("ck", "c"), ("k", "c"), ("q", "c"), ("x", "cs"), ("z", "s"),
    ("d", "t"), ("b", "p"), ("v", "f"), ("j", "c"), ("g", "c"), ("m", "n"),
)  # fmt: skip
_MIN_SOUNDS: Final = 3  # shorter consonant skeletons match too much


def sound_key(key: str) -> str:
    """The consonant skeleton of a name: "stratechery" and "straight accury" both give
    "strtcr", "dwarkesh" and "dorkish" both "trcs". Vowels, w, y and h are dropped, as are
    repeats; letters that sound alike collapse."""
    for spelling, sound in _SOUNDS:
        key = key.replace(spelling, sound)
    out: list[str] = []
    for ch in key:
        if ch in "aeiouwyh" or (out and out[-1] == ch):
            continue
        out.append(ch)
    return "".join(out)


def match_podcast(name: str, podcasts: Sequence[PodcastInfo]) -> PodcastInfo | None:
    """The subscription `name` most likely means ("inter connects" finds "Interconnects",
    "straight accury" finds "Stratechery"): the best of spelling and sound similarity."""
    wanted = _key(name)
    if not wanted:
        return None
    wanted_sound = sound_key(wanted)
    best: tuple[float, PodcastInfo] | None = None
    for podcast in podcasts:
        title = _key(podcast.title)
        if not title:
            continue
        score = SequenceMatcher(None, wanted, title).ratio()
        if wanted in title or title in wanted:
            shorter, longer = sorted((len(wanted), len(title)))
            score = max(score, 0.75 + 0.25 * shorter / longer)
        title_sound = sound_key(title)
        if min(len(wanted_sound), len(title_sound)) >= _MIN_SOUNDS:
            score = max(score, SequenceMatcher(None, wanted_sound, title_sound).ratio() - 0.05)
        if best is None or score > best[0]:
            best = (score, podcast)
    return best[1] if best and best[0] >= _NAME_THRESHOLD else None


def search_episodes(query: str, episodes: Iterable[EpisodeInfo]) -> EpisodeInfo | None:
    """The episode whose title (counted double) and description best cover the query's words.

    Ties go to the newest; a word matches a longer one it starts ("deepseek" in "DeepSeek's"),
    and the query's words run together match too ("deep seek" finds "DeepSeek").
    """
    terms = [w for w in words(query) if w not in _STOPWORDS]
    if not terms:
        return None
    joined = "".join(terms)
    best: tuple[float, EpisodeInfo] | None = None
    for ep in episodes:
        title = words(ep.title)
        body = words(ep.description)
        score = 0.0
        for term in terms:
            if any(w.startswith(term) for w in title):
                score += 2
            elif any(w.startswith(term) for w in body):
                score += 1
        if len(terms) > 1 and joined in "".join(title):
            score += 2 * len(terms)
        if score > 0 and (best is None or score > best[0]):
            best = (score, ep)
    if best is None or best[0] < len(terms):  # at least half the words, or one in the title
        return None
    return best[1]


def say_duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    if secs and not hours:
        parts.append(f"{secs} second{'s' if secs != 1 else ''}")
    return " ".join(parts) or "0 seconds"


class PodcastSkill(BaseSkill):
    name = "podcast"
    intents = frozenset(
        {"podcast.play", "podcast.list", "media.pause", "media.resume", "media.next",
         "media.previous", "media.skip", "media.stop", "media.whats_playing"}
    )  # fmt: skip
    sentences = sentence_files(__package__, "podcast.yaml", "media.yaml")

    async def handle(self, intent: Intent, ctx: SkillContext) -> None:
        media = ctx.media
        if media is None:
            await ctx.say(NOT_SET_UP)
            return
        try:
            await self._handle(intent, ctx, media)
        except MediaError as err:
            _LOGGER.warning("%s failed: %s", intent.name, err.message)
            await ctx.say(err.message)

    async def _handle(self, intent: Intent, ctx: SkillContext, media: MediaController) -> None:
        match intent.name:
            case "podcast.play":
                await self._play(intent, ctx, media)
            case "podcast.list":
                await self._list(intent, ctx, media)
            case "media.pause":
                if not await media.pause():
                    await ctx.say(NOTHING_PLAYING)
            case "media.resume":
                episode = await media.resume()
                if episode is None:
                    await ctx.say("There's nothing to resume.")
                else:
                    await ctx.display(f"▶ {episode.podcast}: {episode.title}")
            case "media.stop":
                if not await media.stop():
                    await ctx.say(NOTHING_PLAYING)
            case "media.skip":
                seconds = float(intent.slots.get("seconds") or 30)
                position = await media.skip(seconds)
                if position is None:
                    await ctx.say(NOTHING_PLAYING)
            case "media.next" | "media.previous":
                step = media.next if intent.name == "media.next" else media.previous
                await self._started(ctx, await step(), "There's no other episode.")
            case "media.whats_playing":
                await self._whats_playing(ctx, media)
            case _:
                _LOGGER.warning("podcast skill got unexpected intent %s", intent.name)

    async def _play(self, intent: Intent, ctx: SkillContext, media: MediaController) -> None:
        which = str(intent.slots.get("which") or "")
        name = str(intent.slots.get("podcast") or "").strip()
        query = str(intent.slots.get("episode") or "").strip()
        from_start = bool(intent.slots.get("from_start"))
        split = _NAME_AND_TOPIC.match(name) if name and not query else None
        if split is not None:
            name, query = split["name"], split["topic"]
        podcasts = media.podcasts()
        if not podcasts:
            await ctx.say("You have no podcasts yet. Subscribe with: sottovoce podcasts add.")
            return
        podcast = match_podcast(name, podcasts) if name else None
        if which in ("next", "previous"):
            current = media.now_playing()
            same_show = (
                current is not None
                and podcast is not None
                and (current.episode.podcast == podcast.title)
            )
            if not name or same_show:
                step = media.next if which == "next" else media.previous
                await self._started(ctx, await step(), f"There's no {which} episode.")
                return
        if name and podcast is None and not query:
            query = name  # "play the DeepSeek one": not a show's name, maybe an episode's
        if podcast is None and not query:
            if len(podcasts) == 1:
                podcast = podcasts[0]
            elif which not in ("latest", "first"):
                playing = media.now_playing()
                if playing is not None and from_start:
                    await self._start(ctx, media, playing.episode, from_start=True)
                    return
                resumed = await media.resume()
                if resumed is None:
                    titles = ", ".join(p.title for p in podcasts[:_MAX_LISTED])
                    await ctx.say(f"Which podcast? You have {titles}.")
                else:
                    await ctx.display(f"▶ {resumed.podcast}: {resumed.title}")
                return
        episodes = media.episodes(podcast.id if podcast else None)
        if not episodes:
            await ctx.say(f"{podcast.title if podcast else 'Your podcasts'} has no episodes yet.")
            return
        if query:
            episode = search_episodes(query, episodes)
            if episode is None:
                where = f" of {podcast.title}" if podcast else ""
                await ctx.say(f"I couldn't find an episode{where} about {query}.")
                return
        elif which == "first":
            episode = episodes[-1]
        else:
            episode = episodes[0]
        await self._start(ctx, media, episode, from_start=from_start)

    async def _start(
        self, ctx: SkillContext, media: MediaController, episode: EpisodeInfo, *, from_start: bool
    ) -> None:
        if not episode.downloaded:
            await ctx.say(f"Downloading {episode.title} first.")
        started = await media.play(episode.id, from_start=from_start)
        await ctx.display(f"▶ {started.podcast}: {started.title}")

    async def _started(self, ctx: SkillContext, episode: EpisodeInfo | None, none: str) -> None:
        if episode is None:
            await ctx.say(none)
        else:
            await ctx.display(f"▶ {episode.podcast}: {episode.title}")

    async def _list(self, intent: Intent, ctx: SkillContext, media: MediaController) -> None:
        podcasts = media.podcasts()
        name = str(intent.slots.get("podcast") or "").strip()
        if not podcasts:
            await ctx.say("You have no podcasts yet.")
            return
        podcast = match_podcast(name, podcasts) if name else None
        if name and podcast is None:
            await ctx.say(f"You have no podcast called {name}.")
            return
        if podcast is None:
            titles = [p.title for p in podcasts]
            count = len(titles)
            listed = ", ".join(titles[:-1]) + f" and {titles[-1]}" if count > 1 else titles[0]
            await ctx.say(f"You have {count} podcast{'s' if count != 1 else ''}: {listed}.")
            await ctx.display("\n".join(titles))
            return
        latest = media.episodes(podcast.id, limit=_MAX_LISTED)
        if not latest:
            await ctx.say(f"{podcast.title} has no episodes yet.")
            return
        listed = ". ".join(ep.title for ep in latest)
        await ctx.say(f"The latest from {podcast.title}: {listed}.")
        await ctx.display("\n".join(ep.title for ep in latest))

    async def _whats_playing(self, ctx: SkillContext, media: MediaController) -> None:
        playing = media.now_playing()
        if playing is None:
            await ctx.say(NOTHING_PLAYING)
            return
        ep = playing.episode
        state = "paused at" if playing.paused else "at"
        where = say_duration(playing.position_s)
        total = f" of {say_duration(ep.duration_s)}" if ep.duration_s else ""
        await ctx.say(f"{ep.title}, from {ep.podcast}, {state} {where}{total}.")
