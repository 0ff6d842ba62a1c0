"""The time, remind, help and stop skills through a SkillHost with fakes: no audio, no sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.events import Notification
from assistant.skill_host import SkillHost
from assistant.store import Store
from skills import load_skills
from skills.intents import IntentRecognizer
from tests.unit.fakes import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")


class Harness:
    def __init__(self, tmp_path: Path, answers: list[str | None] | None = None) -> None:
        self.clock = FakeClock(datetime(2024, 3, 6, 14, 20, tzinfo=BERLIN))
        self.said: list[str] = []
        self.asked: list[str] = []
        self.answers: Iterator[str | None] = iter(answers or [])
        self.events: list[Notification] = []
        self.store = Store.open(tmp_path)
        self.host = SkillHost(
            load_skills(strict=True),
            RECOGNIZER,
            self.store,
            self.clock,
            say=self._say,
            ask=self._ask,
            notify=self._notify,
        )

    async def _say(self, text: str) -> None:
        self.said.append(text)

    async def _ask(self, question: str) -> str | None:
        self.asked.append(question)
        return next(self.answers, None)

    async def _notify(self, event: Notification) -> None:
        self.events.append(event)


RECOGNIZER = IntentRecognizer.load()


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


async def test_time(h: Harness) -> None:
    await h.host.handle_text("what time is it")
    await h.host.handle_text("what time will it be in 8 hours")
    await h.host.handle_text("what's the date")
    assert h.said == [
        "It's 2:20 pm.",
        "In 8 hours it will be 10:20 pm.",
        "Today is Wednesday, March 6.",
    ]


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("how many days until christmas", "Christmas is in 294 days, on Wednesday, December 25."),
        ("how long until halloween", "Halloween is in 239 days, on Thursday, October 31."),
        ("how many weeks until new year's eve", "New Year's Eve is in 42 weeks and 6 days, "
         "on Tuesday, December 31."),
        ("how long is it until friday", "Friday is in 2 days, on Friday, March 8."),
        ("how long until tomorrow", "Tomorrow is tomorrow, March 7."),
        ("what day is easter", "March 31, 2024 is a Sunday."),  # the computus
        ("how long until thanksgiving", "Thanksgiving is in 267 days, on Thursday, November 28."),
        ("what's the date next friday", "March 15, 2024 is a Friday."),
        ("how many days until my birthday", "Sorry, I don't know when your birthday is."),
    ],
)  # fmt: skip
async def test_date_questions(h: Harness, question: str, reply: str) -> None:
    await h.host.handle_text(question)
    assert h.said == [reply]


async def test_wake_me_up_at_a_time_tomorrow(h: Harness) -> None:
    await h.host.handle_text("wake me up at 7 tomorrow")
    (job,) = h.store.jobs()
    assert job.due == datetime(2024, 3, 7, 7, 0, tzinfo=BERLIN), h.said


@pytest.mark.parametrize(
    ("said", "hour"),
    [
        ("set an alarm for 6 tomorrow", 6),
        ("alarm for 7 tomorrow", 7),
        ("set an alarm for 6 pm tomorrow", 18),
        ("remind me at 6 tomorrow to call mom", 18),  # a reminder keeps the evening
    ],
)
async def test_an_alarm_without_am_or_pm_is_for_the_morning(
    h: Harness, said: str, hour: int
) -> None:
    await h.host.handle_text(said)
    (job,) = h.store.jobs()
    assert job.due == datetime(2024, 3, 7, hour, 0, tzinfo=BERLIN), h.said


async def test_reminder_is_stored_then_fires(h: Harness) -> None:
    intent = await h.host.handle_text("hey jarvis remind me in ten minutes to call mom")
    assert intent.name == "reminder.create"
    assert h.said == ["OK, I'll remind you at 2:30 pm: call mom."]
    (job,) = h.store.jobs()
    assert job.text == "call mom" and job.due == datetime(2024, 3, 6, 14, 30, tzinfo=BERLIN)
    h.clock.advance(timedelta(minutes=10))
    await h.host.scheduler.tick()
    assert h.said[-1] == "Reminder: call mom."
    assert [(e.job_kind, e.job_id, e.missed) for e in h.events] == [("reminder", job.id, False)]
    line = h.events[0].to_json()  # what `run --json` prints
    assert (line["event"], line["job_kind"]) == ("notification", "reminder")


async def test_alarms_ring_through_mute(tmp_path: Path) -> None:
    from assistant.volume import OutputVolume

    h = Harness(tmp_path)
    volume = OutputVolume(level=5)
    h.host.volume = volume
    gains: list[float] = []

    async def say(text: str) -> None:
        gains.append(volume.gain)
        h.said.append(text)

    h.host.say = say
    await h.host.handle_text("set an alarm for 2:30 pm")
    volume.mute()
    await h.host.handle_text("what time is it")  # muted: silent
    h.clock.advance(timedelta(minutes=10))
    await h.host.scheduler.tick()
    assert h.said[-1] == "It's 2:30 pm. Time to wake up."
    assert gains[1] == 0.0  # the muted answer
    assert gains[2] == pytest.approx(10 ** (-9 / 20))  # the alarm, at the level set (5)
    assert volume.muted and volume.gain == 0.0  # still muted afterwards


async def test_reminder_without_time_asks_when(tmp_path: Path) -> None:
    h = Harness(tmp_path, answers=["tomorrow at 5 pm"])
    await h.host.handle_text("remind me to water the plants")
    assert h.asked == ["When?"]
    assert h.said == ["OK, I'll remind you tomorrow at 5 pm: water the plants."]


async def test_unparseable_and_past_times_ask_again(tmp_path: Path) -> None:
    h = Harness(tmp_path, answers=["purple", "yesterday at noon", "in an hour"])
    await h.host.handle_text("remind me to stretch")
    assert h.asked == [
        "When?",
        "Sorry, I didn't understand the time. When?",
        "That time has already passed. When should it be?",
    ]
    assert h.said == ["OK, I'll remind you at 3:20 pm: stretch."]


async def test_recurring_alarm_and_list_and_cancel_last(h: Harness) -> None:
    await h.host.handle_text("set an alarm for every weekday at 7")
    await h.host.handle_text("remind me to call mom tomorrow at 5 pm")
    assert h.said[0] == "Alarm set every weekday at 7 am."
    await h.host.handle_text("what reminders do i have")
    assert h.said[-1].startswith("You have 2 things: an alarm every weekday at 7 am")
    await h.host.handle_text("cancel the last one")
    assert h.said[-1] == "Cancelled call mom tomorrow at 5 pm."
    assert [j.kind for j in h.store.jobs()] == ["alarm"]


async def test_cancel_all_confirms(tmp_path: Path) -> None:
    h = Harness(tmp_path, answers=["yes"])
    await h.host.handle_text("remind me to a in 1 hour")
    await h.host.handle_text("remind me to b in 2 hours")
    await h.host.handle_text("delete all my reminders")
    assert h.asked == ["Cancel all 2?"]
    assert h.store.jobs() == []


async def test_timers(h: Harness) -> None:
    await h.host.handle_text("set a pasta timer for twelve minutes")
    await h.host.handle_text("set a timer for 5 minutes")
    assert h.said == ["Pasta timer set for 12 minutes.", "Timer set for 5 minutes."]
    h.clock.advance(timedelta(minutes=2))
    await h.host.handle_text("how much time is left on the pasta timer")
    assert h.said[-1] == "Your pasta timer has 10 minutes left."
    h.clock.advance(timedelta(minutes=3))
    await h.host.scheduler.tick()
    assert h.said[-1] == "Your timer is done."
    await h.host.handle_text("cancel the timer")
    assert h.said[-1] == "Pasta timer cancelled."


async def test_stopping_a_timer_as_it_rings(h: Harness) -> None:
    await h.host.handle_text("set a timer for 1 minute")
    h.clock.advance(timedelta(minutes=1))
    await h.host.scheduler.tick()
    assert h.said[-1] == "Your timer is done."
    await h.host.handle_text("stop the timer")
    assert h.said[-1] == "OK."
    h.clock.advance(timedelta(minutes=5))
    await h.host.handle_text("stop the timer")
    assert h.said[-1] == "You have no timers running."


async def test_snooze(h: Harness) -> None:
    await h.host.handle_text("wake me up at 3 pm")
    h.clock.advance(timedelta(minutes=40))
    await h.host.scheduler.tick()
    await h.host.handle_text("snooze for five minutes")
    assert h.said[-1] == "Snoozed for 5 minutes."
    (job,) = h.store.jobs()
    assert job.due == datetime(2024, 3, 6, 15, 5, tzinfo=BERLIN)


async def test_help_stop_and_answer(h: Harness) -> None:
    await h.host.handle_text("what can you do")
    assert "reminders" in h.said[-1]
    count = len(h.said)
    await h.host.handle_text("stop")
    assert len(h.said) == count
    intent = await h.host.handle_text("what's the weather like")
    assert intent.name == "answer" and h.said[-1] == "Sorry, I can't answer that yet."


async def test_missed_reminder_is_announced_once_after_restart(tmp_path: Path) -> None:
    first = Harness(tmp_path)
    await first.host.handle_text("remind me to call mom in ten minutes")
    first.store.close()

    second = Harness(tmp_path)
    second.clock.advance(timedelta(hours=1))
    await second.host.start()
    await second.host.close()
    assert second.said == ["While I was off, you had a reminder at 2:30 pm: call mom."]
    assert [e.missed for e in second.events] == [True]
    second.store.close()

    third = Harness(tmp_path)
    third.clock.advance(timedelta(hours=2))
    await third.host.start()
    await third.host.close()
    assert third.said == []
