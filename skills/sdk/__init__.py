"""The skill SDK: what a skill is, what it may ask of the assistant, and how skills are found.

A skill never imports `assistant` or `models`: everything it needs (speech, the glasses, the clock,
storage, the scheduler, the language model) reaches it through the `SkillContext` it is handed.
Third-party skills are pip packages that register a `Skill` class or factory under the entry-point
group `sottovoce.skills`; the built-in skills register the same way in `pyproject.toml`.

A skill brings its own language: YAML sentence files inside its package, named by `sentences`
(`sentence_files(__package__, "weather.yaml")`), which the recognizer merges with every other
loaded skill's. `skills.sdk.timeexpr` reads and says times, dates and durations for any skill.
docs/skills.md shows how to write, test and publish one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.metadata import entry_points
from typing import Any, Final, Literal, Protocol, runtime_checkable

_LOGGER = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "sottovoce.skills"

JobKind = Literal["reminder", "alarm", "timer"]


@dataclass(frozen=True, slots=True)
class Intent:
    """What the user wants: a label from the label space, its slots, and how sure we are.

    For `answer` (nothing matched) the slot `query` holds the cleaned-up utterance.
    `source` says which pass of the recognizer decided: `template` (a sentence template),
    `corrected` (a template, after near-miss words were corrected), `keyword` (cue words),
    `semantic` (the closest example sentences; `confidence` is then their cosine similarity)
    or `fallback` (nothing did: `answer`).
    """

    name: str
    slots: Mapping[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    source: str = "template"

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.name,
            "slots": dict(self.slots),
            "confidence": self.confidence,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class AudioClip:
    """Mono 16-bit little-endian PCM, at any sample rate."""

    pcm: bytes
    sample_rate: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """Something to announce later: a reminder, an alarm or a timer.

    `due` is aware; `recurrence` is a `timeexpr.Recurrence` rule string (see there) or None.
    """

    kind: JobKind
    due: datetime
    text: str = ""
    label: str = ""
    recurrence: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Job(JobSpec):
    """A stored job. `id` is stable across restarts; `created` tells timers' full length."""

    id: int
    created: datetime
    state: Literal["pending", "fired", "cancelled"] = "pending"


class Storage(Protocol):
    """Per-skill key/value store; values are JSON-serialisable and committed on return."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> list[str]: ...


class Jobs(Protocol):
    """The scheduler as a skill sees it. Every write is committed before it returns."""

    def add(self, spec: JobSpec) -> Job: ...

    def pending(self, kind: JobKind | None = None) -> list[Job]: ...

    def cancel(self, job_id: int) -> Job | None: ...

    def reschedule(self, job_id: int, due: datetime) -> Job | None:
        """Move a job (pending or already fired) to a new time and make it pending again."""
        ...

    def last_fired(self) -> Job | None: ...


class LanguageModel(Protocol):
    """The small on-device LM. `prompt` is the user's turn; the model applies its chat template
    with `system` (or its own default system prompt) before it."""

    async def complete(
        self, prompt: str, *, max_tokens: int = 128, system: str | None = None
    ) -> str: ...

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 128,
        system: str | None = None,
        stop: Sequence[str] = (),
    ) -> AsyncGenerator[str, None]:
        """The reply in pieces as it is generated. Closing it early (`aclose()`, best with
        `contextlib.aclosing`; a bare `break` closes it only when garbage-collected) or
        cancelling the consuming task on barge-in stops generation within one token."""
        ...

    @property
    def context_tokens(self) -> int:
        """How many tokens a prompt and its reply may take together."""
        ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeInfo:
    """A podcast episode as skills see it. `description` is plain text (the show notes)."""

    id: int
    podcast: str
    title: str
    description: str = ""
    published: datetime | None = None
    duration_s: float | None = None
    downloaded: bool = False
    position_s: float = 0.0
    finished: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PodcastInfo:
    id: int
    title: str
    description: str = ""
    episodes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NowPlaying:
    episode: EpisodeInfo
    position_s: float
    paused: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowNotes:
    """What "summarize this episode" works from: the description and, when known, the transcript."""

    episode: EpisodeInfo
    description: str
    transcript: str | None = None


class MediaError(Exception):
    """A media request failed; `message` is fit to say to the user."""

    code = "media"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class MediaController(Protocol):
    """Podcasts and the episode player. Raises `MediaError` with a sentence for the user."""

    def podcasts(self) -> list[PodcastInfo]: ...

    def episodes(
        self, podcast_id: int | None = None, *, limit: int | None = None
    ) -> list[EpisodeInfo]:
        """Newest first; only episodes that have audio."""
        ...

    async def play(self, episode_id: int, *, from_start: bool = False) -> EpisodeInfo:
        """Play (downloading first if needed) from the saved position; returns once audio plays."""
        ...

    async def pause(self) -> bool: ...

    async def resume(self) -> EpisodeInfo | None:
        """Resume the paused episode, else the last one played, where it stopped."""
        ...

    async def stop(self) -> bool: ...

    async def skip(self, seconds: float) -> float | None:
        """Move by `seconds` (negative: back); the new position, or None when nothing is loaded."""
        ...

    async def next(self) -> EpisodeInfo | None: ...

    async def previous(self) -> EpisodeInfo | None: ...

    def now_playing(self) -> NowPlaying | None: ...

    def show_notes(self, episode_id: int | None = None) -> ShowNotes | None:
        """Notes of `episode_id`, else of the playing (or last played) episode."""
        ...


@runtime_checkable
class VolumeControl(Protocol):
    """The assistant's output volume: replies and media alike, 0 (silent) to 10 (full)."""

    @property
    def level(self) -> int: ...

    @property
    def muted(self) -> bool: ...

    def set(self, level: int) -> int:
        """Set (and unmute); returns the level kept, clamped to 0-10."""
        ...

    def mute(self, on: bool = True) -> None: ...

    def audible(self) -> AbstractContextManager[None]:
        """For the duration of the `with` block, output is heard even when muted (alarms ring
        through "mute"); a control without such a mode returns `contextlib.nullcontext()`."""
        ...


class SkillContext(Protocol):
    """Everything a skill may do while it handles one intent."""

    async def say(self, text: str) -> None: ...

    async def display(self, text: str) -> None:
        """Show text on the glasses (a no-op without them)."""
        ...

    async def play(self, audio: AudioClip) -> None: ...

    async def ask(self, question: str) -> str | None:
        """Say `question`, open the follow-up window, return the answer text or None on timeout."""
        ...

    @property
    def media(self) -> MediaController | None:
        """Podcasts and the player; None where the host has none (`bench`, some tests)."""
        ...

    @property
    def volume(self) -> VolumeControl | None:
        """The output volume; None where the host has none."""
        ...

    @property
    def storage(self) -> Storage: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def lm(self) -> LanguageModel | None: ...

    def now(self) -> datetime:
        """The current time, aware, in the user's local zone (an injected clock in tests)."""
        ...

    def schedule(self, spec: JobSpec) -> Job:
        """Shorthand for `jobs.add(spec)`."""
        ...


@dataclass(frozen=True, slots=True)
class SentenceFile:
    """A YAML sentence file inside a package, read with `importlib.resources` (so it works from
    a wheel, a zip or a source tree). Build them with `sentence_files`."""

    package: str
    name: str  # the resource's path inside the package: "weather.yaml", "sentences/en.yaml"

    def read(self) -> str:
        """The file's text. Raises `ModuleNotFoundError` (no such package), `FileNotFoundError`
        or `OSError`, `UnicodeDecodeError`."""
        return resources.files(self.package).joinpath(self.name).read_text(encoding="utf-8")

    def __str__(self) -> str:
        return f"{self.package.replace('.', '/')}/{self.name}"


def sentence_files(package: str | None, *names: str) -> tuple[SentenceFile, ...]:
    """`sentences = sentence_files(__package__, "weather.yaml")` in a skill class: the named
    files of the skill's own package."""
    if not package:
        raise ValueError("sentence_files() needs the package name: pass __package__")
    return tuple(SentenceFile(package, name) for name in names)


@runtime_checkable
class Skill(Protocol):
    """What the host asks of a skill. `name`, `intents` and `handle` are a skill's own; the
    other members have defaults in `BaseSkill`, which skills subclass."""

    @property
    def name(self) -> str: ...

    @property
    def intents(self) -> frozenset[str]: ...

    @property
    def sentences(self) -> Sequence[SentenceFile]:
        """The skill's sentence files: templates for its intents, their lists and rules, and
        `examples:` for the semantic fallback. Empty for a skill that is never spoken to."""
        ...

    def shape_slots(self, intent: str, slots: Mapping[str, Any], text: str) -> Mapping[str, Any]:
        """The slots `handle` gets for one of the skill's intents, from those the recognizer
        read (`text` is the utterance as templates see it: lower case, no wake word)."""
        ...

    async def handle(self, intent: Intent, ctx: SkillContext) -> None: ...


class BaseSkill:
    """Defaults for a `Skill`'s optional members. A subclass sets `name` and `intents`, and
    `sentences` when it has templates, and writes `handle`."""

    name: str
    intents: frozenset[str]
    sentences: Sequence[SentenceFile] = ()

    def shape_slots(self, intent: str, slots: Mapping[str, Any], text: str) -> Mapping[str, Any]:
        """As read: list values (`in:`/`out:`), ranges and fixed `slots:` already shape them."""
        return slots


_SKILL_MEMBERS: Final = ("name", "intents", "sentences", "shape_slots", "handle")


class SkillLoadError(Exception):
    """An installed entry point did not yield a usable skill."""

    code = "skill_load"


class SentenceError(SkillLoadError):
    """A sentence file is missing or malformed. For a skill's file the recognizer leaves that
    skill's language out (its intents are not recognized) and loads the others'."""

    code = "skill_sentences"

    def __init__(self, skill: str | None, file: SentenceFile | object, problem: str) -> None:
        where = f"skill {skill!r}: sentence file {file}" if skill else f"sentence file {file}"
        super().__init__(f"{where}: {problem}")
        self.skill = skill
        self.file = str(file)
        self.problem = problem


def load_skills(*, strict: bool = False) -> list[Skill]:
    """Instantiate every skill registered under `sottovoce.skills`.

    A broken third-party skill is logged and skipped, so one bad package cannot silence the
    assistant; `strict=True` (tests) raises instead.
    """
    skills: list[Skill] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            factory: Callable[[], object] = ep.load()
            skill = factory()
            if not isinstance(skill, Skill):
                missing = ", ".join(m for m in _SKILL_MEMBERS if not hasattr(skill, m))
                raise SkillLoadError(
                    f"entry point {ep.name!r} ({ep.value}) gave {type(skill).__name__}, "
                    f"which lacks {missing} (subclass skills.sdk.BaseSkill for the defaults)"
                )
        except Exception as err:
            if strict:
                raise SkillLoadError(f"cannot load skill {ep.name!r} ({ep.value}): {err}") from err
            _LOGGER.warning("Skipping skill %r (%s): %s", ep.name, ep.value, err)
            continue
        skills.append(skill)
    return skills
