"""Two assistants on one data directory (issue 13, defect 7): each due job is announced once.

Two real processes share one database; both start at the same moment (jobs missed while off)
or are running when a batch of jobs falls due. Before jobs were claimed in a transaction, both
announced every job (5 of 5 trials)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.store import Store
from skills.sdk import JobSpec

CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from assistant.scheduler import Scheduler
    from assistant.store import Store

    class Clock:
        def now(self):
            return datetime.now(UTC)
        async def sleep(self, seconds):
            await asyncio.sleep(seconds)

    async def main():
        go, run_for = Path(sys.argv[2]), float(sys.argv[3])
        async def announce(due):
            print("ANNOUNCED", due.job.id, flush=True)
        scheduler = Scheduler(Store.open(Path(sys.argv[1])), Clock(), announce, poll_s=0.05)
        print("READY", flush=True)
        while not go.exists():
            time.sleep(0.0005)
        await scheduler.start()
        await asyncio.sleep(run_for)
        await scheduler.stop()

    asyncio.run(main())
    """
)

JOBS = 20


def _two_assistants(data: Path, run_for: float) -> Counter[int]:
    """Start two assistants on `data` at once; how often each job was announced."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    go = data.parent / "go"
    go.unlink(missing_ok=True)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data), str(go), str(run_for)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
    go.touch()
    announced: Counter[int] = Counter()
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        announced.update(int(line.split()[1]) for line in out.splitlines() if line)
    return announced


def _add_jobs(data: Path, due: datetime) -> list[int]:
    store = Store.open(data)
    now = datetime.now(UTC)
    ids = [store.add_job(JobSpec(kind="timer", due=due), now).id for _ in range(JOBS)]
    store.close()
    return ids


@pytest.mark.parametrize("trial", range(3))
def test_jobs_missed_while_off_are_announced_once(tmp_path: Path, trial: int) -> None:
    data = tmp_path / "data"
    ids = _add_jobs(data, datetime.now(UTC) - timedelta(hours=1))
    announced = _two_assistants(data, run_for=0.2)
    assert announced == Counter(ids)  # every job, each once, by one or the other


def test_jobs_falling_due_while_both_run_are_announced_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = _add_jobs(data, datetime.now(UTC) + timedelta(seconds=2))
    started = time.monotonic()
    announced = _two_assistants(data, run_for=3.0)
    assert time.monotonic() - started < 30
    assert announced == Counter(ids)
