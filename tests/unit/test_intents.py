"""Sentence fixtures per skill (utterance -> intent + slots) and the dev-set floor."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from skills.intents import IntentRecognizer, clean, looks_complete

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return IntentRecognizer.load()


FIXTURES: list[tuple[str, str, dict[str, Any]]] = [
    # time
    ("what time is it", "time.query", {"what": "time"}),
    ("Hey Jarvis, what's the time?", "time.query", {}),
    ("um could you tell me the date please", "time.query", {"what": "date"}),
    ("what time will it be in 8 hours", "time.query", {"offset": "8 hours"}),
    ("what time is it in tokyo", "time.query", {"place": "tokyo"}),
    ("what day of the week is march 7", "time.query", {"date": "march 7"}),
    # reminders
    (
        "hey jarvis remind me in ten minutes to call mom",
        "reminder.create",
        {"text": "call mom", "when": "in 10 minutes"},
    ),
    (
        "Remind me to call mom in 10 min.",
        "reminder.create",
        {"text": "call mom", "when": "in 10 min"},
    ),
    (
        "remind me to take out the trash tomorrow at 5 pm",
        "reminder.create",
        {"text": "take out the trash", "when": "tomorrow at 5 pm"},
    ),
    (
        "remind me to stretch every weekday at 8",
        "reminder.create",
        {"text": "stretch", "recurrence": "weekly;at=08:00;days=0,1,2,3,4"},
    ),
    ("remind me to water the plants", "reminder.create", {"text": "water the plants"}),
    ("set a reminder for next friday", "reminder.create", {"when": "next friday"}),
    ("what reminders do i have", "reminder.list", {}),
    ("do I have any alarms set?", "reminder.list", {}),
    ("what's on my calendar tomorrow", "reminder.list", {}),
    ("cancel the last one", "reminder.cancel", {"which": "last"}),
    ("delete all my reminders", "reminder.cancel", {"all": True}),
    ("cancel the reminder about the dentist", "reminder.cancel", {"text": "the dentist"}),
    # alarms
    ("wake me up at 6 am", "alarm.set", {"when": "6 am"}),
    ("set an alarm for seven thirty tomorrow", "alarm.set", {}),
    (
        "set an alarm for every weekday at 7",
        "alarm.set",
        {"recurrence": "weekly;at=07:00;days=0,1,2,3,4"},
    ),
    ("snooze for five minutes", "alarm.set", {"snooze": True, "duration": "five minutes"}),
    # timers
    ("set a timer for 10 minutes", "timer.start", {"duration": "10 minutes"}),
    (
        "set a pasta timer for twelve minutes",
        "timer.start",
        {"name": "pasta", "duration": "twelve minutes"},
    ),
    ("start a five minute timer", "timer.start", {"duration": "five minute"}),
    ("how much time is left on the timer", "timer.status", {}),
    ("cancel the timer", "timer.cancel", {}),
    ("stop the egg timer", "timer.cancel", {"name": "egg"}),
    # media, volume, podcasts
    ("pause the music", "media.pause", {}),
    ("resume", "media.resume", {}),
    ("next track", "media.next", {}),
    ("go back thirty seconds", "media.skip", {"seconds": -30}),
    ("skip ahead 2 minutes", "media.skip", {"seconds": 120}),
    ("what's playing", "media.whats_playing", {}),
    ("turn the volume up", "volume.up", {}),
    ("make it quieter", "volume.down", {}),
    ("set the volume to 40 percent", "volume.set", {"level": 40}),
    ("mute", "volume.mute", {}),
    ("play the latest episode of the daily", "podcast.play", {"podcast": "the daily"}),
    ("what podcasts do i have", "podcast.list", {}),
    ("summarize this episode", "summarize", {}),
    # help and stop
    ("what can you do", "help", {}),
    ("stop", "stop", {}),
    ("Never mind.", "stop", {}),
    # out of scope -> answer
    ("what's the weather like tomorrow", "answer", {}),
    ("how much is one dollar in yen", "answer", {}),
    ("who wrote pride and prejudice", "answer", {}),
    ("tell me a joke", "answer", {}),
]


@pytest.mark.parametrize(("text", "name", "slots"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_sentence_fixtures(
    recognizer: IntentRecognizer, text: str, name: str, slots: dict[str, Any]
) -> None:
    intent = recognizer.recognize(text)
    assert intent.name == name, intent
    for key, value in slots.items():
        assert intent.slots.get(key) == value, intent


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Hey Jarvis, um, what's the TIME?", "what's the time"),
        ("jarvis can you please set a timer", "set a timer"),
        ("OK Google could you tell me the date", "tell me the date"),
        ("whats the date", "what's the date"),
        ("wake me at 6:30 a.m.", "wake me at 6:30 am"),
    ],
)
def test_clean(raw: str, cleaned: str) -> None:
    assert clean(raw) == cleaned


def test_near_misses_are_corrected(recognizer: IntentRecognizer) -> None:
    assert recognizer.recognize("set an alarn for 7 am").name == "alarm.set"
    assert recognizer.recognize("what remainders do i have").name == "reminder.list"
    assert recognizer.recognize("cancel the timmer").name == "timer.cancel"


def test_label_space_is_covered(recognizer: IntentRecognizer) -> None:
    labels = {
        "time.query", "reminder.create", "reminder.list", "reminder.cancel", "alarm.set",
        "timer.start", "timer.status", "timer.cancel", "podcast.play", "podcast.list",
        "media.pause", "media.resume", "media.next", "media.previous", "media.skip",
        "media.stop", "media.whats_playing", "volume.up", "volume.down", "volume.set",
        "volume.mute", "summarize", "stop", "help",
    }  # fmt: skip
    assert labels == recognizer.intent_names


def test_dev_set_floor(recognizer: IntentRecognizer) -> None:
    path = CORPORA / "eval" / "slurp_devel.jsonl"
    if not path.is_file():
        pytest.skip(f"dev corpus not found at {path}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    report = recognizer.evaluate(rows)
    assert report.accuracy >= 0.90, report.per_intent
    answers = [r for r in rows if r["intent"] == "answer"]
    kept = sum(recognizer.recognize(r["text"]).name == "answer" for r in answers)
    assert kept / len(answers) >= 0.95


def test_latency_is_small(recognizer: IntentRecognizer) -> None:
    # A coarse guard (the benchmark is `python -m assistant.cli_skills intent --eval FILE`).
    texts = [f[0] for f in FIXTURES] * 5
    start = time.perf_counter()
    for text in texts:
        recognizer.recognize(text)
    assert (time.perf_counter() - start) / len(texts) < 0.02


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("What time is it?", True),
        ("Set a timer for ten minutes.", True),
        ("Play the latest Interconnects episode.", True),
        ("Play the next episode.", True),
        ("Remind me to call mom at 5 pm.", True),
        ("set a timer for", False),
        ("Remind me to", False),
        ("play the latest", False),
        ("play the latest episode of", False),
        ("Set a timer for...", False),
    ],
)
def test_looks_complete_spots_commands_cut_off_by_a_pause(
    recognizer: IntentRecognizer, text: str, complete: bool
) -> None:
    intent = recognizer.recognize(text)
    assert intent.name != "answer"
    assert looks_complete(text, intent) is complete
