"""The podcast skill: utterances through the real intent recognizer into a fake media controller."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skills.intents import IntentRecognizer
from skills.podcast import (
    PodcastSkill,
    match_podcast,
    say_duration,
    search_episodes,
    sound_key,
)
from skills.sdk import (
    EpisodeInfo,
    MediaError,
    PodcastInfo,
)
from tests.unit.fakes import FakeMedia, FakeSkillContext

PODCASTS = [
    PodcastInfo(id=1, title="Interconnects", episodes=3),
    PodcastInfo(id=2, title="The Daily", episodes=1),
    PodcastInfo(id=3, title="Giant Bombcast", episodes=1),
]
EPISODES = [
    EpisodeInfo(id=13, podcast="Interconnects", title="OpenAI's o3", downloaded=True,
                description="Reasoning models and their costs."),
    EpisodeInfo(id=12, podcast="Interconnects", title="DeepSeek V3 and the cost of training",
                downloaded=True, description="A Chinese lab's frontier model."),
    EpisodeInfo(id=11, podcast="Interconnects", title="Tülu 3", downloaded=False,
                description="Open post-training recipes, with DeepSeek mentioned once."),
    EpisodeInfo(id=21, podcast="The Daily", title="An election", downloaded=True),
    EpisodeInfo(id=31, podcast="Giant Bombcast", title="Call of Tuesday", downloaded=True),
]  # fmt: skip
BY_PODCAST = {1: EPISODES[:3], 2: EPISODES[3:4], 3: EPISODES[4:]}


TODAY = datetime(2025, 1, 10, tzinfo=UTC)


def _media() -> FakeMedia:
    return FakeMedia(shows=list(PODCASTS), by_podcast=BY_PODCAST)


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return IntentRecognizer.load()


async def _run(
    recognizer: IntentRecognizer, text: str, media: FakeMedia | None
) -> FakeSkillContext:
    intent = recognizer.recognize(text)
    skill = PodcastSkill()
    assert intent.name in skill.intents, intent
    ctx = FakeSkillContext(media=media, today=TODAY)
    await skill.handle(intent, ctx)
    return ctx


@pytest.mark.parametrize(
    ("text", "episode_id", "from_start"),
    [
        ("hey jarvis play the latest Interconnects episode", 13, False),
        ("play the latest episode of interconnects", 13, False),
        ("play Interconnects", 13, False),
        ("play inter connects", 13, False),
        ("play the episode about DeepSeek", 12, False),
        ("play the interconnects episode about deep seek", 12, False),
        ("play the first episode of interconnects", 11, False),
        ("play the daily from the beginning", 21, True),
        ("play the latest episode of the daly", 21, False),
        ("play giant bomb cast", 31, False),
        ("play the latest episode", 13, False),
        ("play the next episode of the daily", 21, False),
    ],
)
async def test_play(
    recognizer: IntentRecognizer, text: str, episode_id: int, from_start: bool
) -> None:
    media = _media()
    ctx = await _run(recognizer, text, media)
    assert media.calls == [("play", (episode_id, from_start))], ctx.said
    assert ctx.shown and ctx.shown[-1].startswith("▶")


async def test_not_downloaded_says_so_first(recognizer: IntentRecognizer) -> None:
    media = _media()
    ctx = await _run(recognizer, "play the episode about post-training recipes", media)
    assert ctx.said == ["Downloading Tülu 3 first."]
    assert media.calls == [("play", (11, False))]


async def test_unknown_names_and_episodes(recognizer: IntentRecognizer) -> None:
    ctx = await _run(recognizer, "play the episode about knitting", _media())
    assert ctx.said == ["I couldn't find an episode about knitting."]
    ctx = await _run(recognizer, "play some music", _media())
    assert ctx.said == ["I couldn't find an episode about some music."]
    ctx = await _run(recognizer, "play interconnects", FakeMedia(by_podcast=BY_PODCAST))
    assert "no podcasts" in ctx.said[0]


async def test_controls(recognizer: IntentRecognizer) -> None:
    media = _media()
    await _run(recognizer, "play interconnects", media)
    await _run(recognizer, "pause", media)
    await _run(recognizer, "skip ahead thirty seconds", media)
    await _run(recognizer, "go back 10 seconds", media)
    ctx = await _run(recognizer, "what's playing", media)
    assert ctx.said == ["OpenAI's o3, from Interconnects, paused at 12 minutes 34 seconds."]
    await _run(recognizer, "resume", media)
    ctx = await _run(recognizer, "next episode", media)
    assert ctx.said == ["There's no next episode."]
    ctx = await _run(recognizer, "previous episode", media)
    assert ctx.shown == ["▶ Interconnects: DeepSeek V3 and the cost of training"]
    await _run(recognizer, "stop the podcast", media)
    ctx = await _run(recognizer, "pause", media)
    assert ctx.said == ["Nothing is playing."]
    names = [c[0] for c in media.calls]
    assert names == ["play", "pause", "skip", "skip", "resume", "next", "previous", "stop",
                     "pause"]  # fmt: skip
    assert media.calls[2] == ("skip", 30) and media.calls[3] == ("skip", -10)


async def test_list(recognizer: IntentRecognizer) -> None:
    ctx = await _run(recognizer, "what podcasts do i have", _media())
    assert ctx.said == ["You have 3 podcasts: Interconnects, The Daily and Giant Bombcast."]
    ctx = await _run(recognizer, "list episodes of interconnects", _media())
    assert ctx.said[0].startswith("The latest from Interconnects: OpenAI's o3. DeepSeek V3")


async def test_without_media_or_with_errors(recognizer: IntentRecognizer) -> None:
    ctx = await _run(recognizer, "pause", None)
    assert ctx.said == ["Podcasts aren't set up on this assistant."]

    class Failing(FakeMedia):
        async def play(self, episode_id: int, *, from_start: bool = False) -> EpisodeInfo:
            raise MediaError("The download failed: the server was not found.")

    ctx = await _run(
        recognizer, "play interconnects", Failing(shows=list(PODCASTS), by_podcast=BY_PODCAST)
    )
    assert ctx.said == ["The download failed: the server was not found."]


def test_matching_helpers() -> None:
    assert match_podcast("inter connects", PODCASTS) == PODCASTS[0]
    assert match_podcast("the daly", PODCASTS) == PODCASTS[1]
    assert match_podcast("knitting weekly", PODCASTS) is None


# What Whisper tiny.en wrote for Piper saying "play the latest episode of <title>".
MISHEARD = [
    ("dinner connects", "Interconnects"),
    ("light in space", "Latent Space"),
    ("straight accury", "Stratechery"),
    ("dorkish podcast", "Dwarkesh Podcast"),
    ("lux freeman podcast", "Lex Fridman Podcast"),
    ("dark knight diaries", "Darknet Diaries"),
    ("the verger cast", "The Vergecast"),
    ("hard 4", "Hard Fork"),
    ("no prior", "No Priors"),
]
LIBRARY = [PodcastInfo(id=i, title=t) for i, t in enumerate(
    ["Interconnects", "Hard Fork", "Acquired", "Dwarkesh Podcast", "Latent Space", "Decoder",
     "The Vergecast", "Darknet Diaries", "Lex Fridman Podcast", "Stratechery", "Pivot",
     "Cortex", "No Priors", "Planet Money", "Huberman Lab", "Syntax"]
)]  # fmt: skip


@pytest.mark.parametrize(("heard", "title"), MISHEARD)
def test_names_are_matched_by_how_they_sound(heard: str, title: str) -> None:
    found = match_podcast(heard, LIBRARY)
    assert found is not None and found.title == title


@pytest.mark.parametrize(
    "other", ["knitting weekly", "this american life", "the joe rogan experience", "serial",
              "freakonomics", "science friday", "the moth", "bbc news", "cooking show"]
)  # fmt: skip
def test_shows_not_subscribed_to_match_nothing(other: str) -> None:
    assert match_podcast(other, LIBRARY) is None


def test_sound_keys() -> None:
    assert sound_key("stratechery") == sound_key("straightaccury") == "strtcr"
    assert sound_key("dwarkesh") == sound_key("dorkish")
    assert sound_key("") == ""
    assert search_episodes("deepseek", EPISODES) == EPISODES[1]
    assert search_episodes("the", EPISODES) is None
    assert say_duration(3725) == "1 hour 2 minutes"
    assert say_duration(61) == "1 minute 1 second"
