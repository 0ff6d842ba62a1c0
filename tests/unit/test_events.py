"""Events as `run --json` prints them: each line names its event type."""

from __future__ import annotations

import dataclasses

from assistant import events as ev


def _event_types() -> list[type[ev.Event]]:
    found: list[type[ev.Event]] = []
    pending = [ev.Event]
    while pending:
        cls = pending.pop()
        found += cls.__subclasses__()
        pending += cls.__subclasses__()
    return found


def test_no_event_field_hides_the_event_name() -> None:
    """A field named `kind` replaces `Event.kind`; one named `event` overwrites the JSON key."""
    for cls in _event_types():
        names = {f.name for f in dataclasses.fields(cls)}
        assert not names & {"kind", "event"}, cls.__name__


def test_a_notification_says_it_is_one_and_what_fell_due() -> None:
    note = ev.Notification(t=1.0, job_kind="alarm", job_id=3, text="", due="2026-12-04T07:00")
    line = note.to_json()
    assert line["event"] == note.kind == "notification"
    assert line["job_kind"] == "alarm"
    assert note.describe() == "alarm #3 due 2026-12-04T07:00: ''"
