"""Reminders survive SIGKILL: a child creates them and is killed; they come back and fire."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.scheduler import Due, Scheduler
from assistant.store import Store
from tests.unit.fakes import FakeClock

START = datetime(2024, 3, 6, 14, 20, tzinfo=ZoneInfo("Europe/Berlin"))

CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo
    from assistant.skill_host import SkillHost
    from assistant.store import Store
    from skills import load_skills
    from skills.intents import IntentRecognizer

    class Clock:
        def now(self):
            return datetime(2024, 3, 6, 14, 20, tzinfo=ZoneInfo("Europe/Berlin"))
        async def sleep(self, seconds):
            await asyncio.sleep(seconds)

    async def main():
        async def say(text):
            print(text, flush=True)
        async def ask(question):
            return None
        host = SkillHost(load_skills(strict=True), IntentRecognizer.load(),
                         Store.open(Path(sys.argv[1])), Clock(), say=say, ask=ask)
        await host.handle_text("hey jarvis remind me in ten minutes to call mom")
        await host.handle_text("remind me to buy milk tomorrow at 9 am")
        await host.handle_text("set an alarm for every weekday at 7")
        print("READY", flush=True)
        time.sleep(600)

    asyncio.run(main())
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_reminders_survive_sigkill(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=root,
    )
    assert child.stdout is not None
    lines: list[str] = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == "READY":
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert lines[0] == "OK, I'll remind you at 2:30 pm: call mom.", lines

    store = Store.open(tmp_path)
    jobs = store.jobs()
    assert sorted(j.text or j.kind for j in jobs) == ["alarm", "buy milk", "call mom"]
    asyncio.run(_fire_after_restart(store))


async def _fire_after_restart(store: Store) -> None:
    heard: list[Due] = []

    async def announce(due: Due) -> None:
        heard.append(due)

    clock = FakeClock(START + timedelta(minutes=5))
    scheduler = Scheduler(store, clock, announce)
    assert await scheduler.start() == []  # nothing was due yet
    await scheduler.stop()
    clock.advance(timedelta(minutes=5))
    await scheduler.tick()
    assert [d.job.text for d in heard] == ["call mom"]
    clock.advance(timedelta(hours=19))
    await scheduler.tick()
    assert [d.job.text or d.job.kind for d in heard] == ["call mom", "alarm", "buy milk"]
