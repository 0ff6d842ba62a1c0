"""Other projects' intent labels onto ours, so `eval intents` can score their sets as they are.

A row whose `intent` is already one of our labels is used as it is. A row from a set labelled
in another label space is recognised by its shape and mapped here; the mapping is written down
once, in this file, never by editing the set. Two label spaces are known:

SLURP (`{"text", "intent", "scenario", "action", ...}`, JSONL or TSV; the `slurp_devel_*`
files in ../shared/corpora/intents). The label is `scenario_action` (a few SLURP rows carry
a truncated `intent` such as "query"; scenario and action are always whole). What our
assistant does with each request decides the label:

- alarm, calendar, datetime, podcasts, volume: the skill that does it (`_SLURP` below; alarm
  queries are `reminder.list`, which lists alarms too).
- Everything our assistant has no skill for (weather, questions, jokes, news, e-mail, lists,
  social media, cooking, transport, shopping, smart-home devices, games, likes and dislikes of
  songs, time-zone conversions): `answer`, the language model replies. A skill firing on one
  of them is a miss.
- Not scored: `play_music`, `play_radio`, `play_audiobook`, `music_settings`, `music_query`,
  `audio_volume_other`. We have no music, radio or audiobook source, and these labels mix
  requests our label space splits ("play some jazz": `podcast.play` looks the name up among
  the user's podcasts; "pause the audiobook": `media.pause`; "what song is this":
  `media.whats_playing`, but "the lyrics of this song": `answer`; "shuffle": nothing), so no
  one label of ours is right for all the rows of one of theirs.
- Any other scenario or action is an unknown label, reported like any other.

Fluent Speech Commands (voice2json rows `{"text", "intent": {"name"}, "entities"}` or the TSV
`text, intent, slots`): a smart-home set whose labels merge actions ours keep apart, so the
object and, for music, the verb decide:

- `IncreaseDecrease` of volume: `volume.up` / `volume.down` (`volume.mute` when it says mute);
  of heat: `answer` (no thermostat skill).
- `ActivateDeactivate` of music: activate is `media.resume` (our player plays or resumes);
  deactivate is `media.pause` when it says pause, `stop` when the whole command is "stop",
  else `media.stop`. Of lights or a lamp: `answer`.
- `ChangeLanguage`, `Bring`: `answer`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

ANSWER: Final = "answer"


@dataclass(frozen=True, slots=True)
class Mapped:
    """A foreign row's label in our label space (`None`: not scored) and where it came from."""

    label: str | None
    source: str  # "slurp:calendar_set", "fsc:IncreaseDecrease/volume"


_SLURP: Final[dict[str, str | None]] = {
    "alarm_query": "reminder.list",
    "alarm_remove": "reminder.cancel",
    "alarm_set": "alarm.set",
    "audio_volume_down": "volume.down",
    "audio_volume_mute": "volume.mute",
    "audio_volume_up": "volume.up",
    "audio_volume_other": None,
    "calendar_query": "reminder.list",
    "calendar_remove": "reminder.cancel",
    "calendar_set": "reminder.create",
    "datetime_query": "time.query",
    "datetime_convert": ANSWER,
    "play_podcasts": "podcast.play",
    "play_music": None,
    "play_radio": None,
    "play_audiobook": None,
    "music_settings": None,
    "music_query": None,
    "music_likeness": ANSWER,
    "music_dislikeness": ANSWER,
    "play_game": ANSWER,
}
# Scenarios whose every action our assistant leaves to the language model.
_SLURP_ANSWER_SCENARIOS: Final = frozenset(
    {"weather", "qa", "general", "news", "email", "social", "lists", "cooking", "transport",
     "recommendation", "takeaway", "iot"}
)  # fmt: skip


def map_row(row: Mapping[str, Any], known: frozenset[str]) -> Mapped | None:
    """The row's label in our space if it comes from a known foreign set, else None."""
    intent = row.get("intent")
    if isinstance(intent, str) and intent in known:
        return None
    scenario, action = row.get("scenario"), row.get("action")
    if isinstance(scenario, str) and isinstance(action, str) and scenario and action:
        return _slurp(scenario.strip(), action.strip())
    name = intent.get("name") if isinstance(intent, Mapping) else intent
    if isinstance(name, str) and name in _FSC_LABELS:
        return _fsc(name, _fsc_slots(row), str(row.get("text", "")))
    return None


def _slurp(scenario: str, action: str) -> Mapped | None:
    key = f"{scenario}_{action}"
    source = f"slurp:{key}"
    if key in _SLURP:
        return Mapped(_SLURP[key], source)
    if scenario in _SLURP_ANSWER_SCENARIOS:
        return Mapped(ANSWER, source)
    return None


_FSC_LABELS: Final = frozenset(
    {"ActivateDeactivate", "IncreaseDecrease", "ChangeLanguage", "Bring"}
)


def _fsc_slots(row: Mapping[str, Any]) -> dict[str, str]:
    entities = row.get("entities")
    if isinstance(entities, list):
        return {
            str(e.get("entity")): str(e.get("value"))
            for e in entities
            if isinstance(e, Mapping) and e.get("entity")
        }
    slots = row.get("slots")
    if isinstance(slots, str) and slots.strip():
        try:
            slots = json.loads(slots)
        except json.JSONDecodeError:
            return {}
    return {str(k): str(v) for k, v in slots.items()} if isinstance(slots, Mapping) else {}


def _fsc(name: str, slots: Mapping[str, str], text: str) -> Mapped:
    obj, action = slots.get("object", ""), slots.get("action", "")
    words = re.findall(r"[a-z']+", text.lower())
    source = f"fsc:{name}/{obj}" if obj else f"fsc:{name}"
    if name == "IncreaseDecrease" and obj == "volume":
        if "mute" in words:
            return Mapped("volume.mute", source)
        return Mapped("volume.up" if action == "increase" else "volume.down", source)
    if name == "ActivateDeactivate" and obj == "music":
        if action == "activate":
            return Mapped("media.resume", source)
        if "pause" in words:
            return Mapped("media.pause", source)
        return Mapped("stop" if words == ["stop"] else "media.stop", source)
    return Mapped(ANSWER, source)
