"""`sottovoce ... | head -1`: a reader that goes away ends the command quietly (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _closed_reader(
    args: list[str], home: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its stdout a pipe whose reader closed before anything was written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from assistant.cli import main; sys.exit(main())",
                *args,
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            input=stdin,
            text=True,
            cwd=ROOT,
            env={**os.environ, "SOTTOVOCE_HOME": str(home)},
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["config"], ""),
        (["config", "--json"], ""),
        (["intent", "-"], "what time is it\n" * 200),
    ],
)
def test_a_closed_pipe_ends_quietly(tmp_path: Path, args: list[str], stdin: str) -> None:
    result = _closed_reader(args, tmp_path, stdin)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert result.stderr == ""
    assert result.returncode == 141


def test_podcast_episodes_into_head(tmp_path: Path) -> None:
    """The case from the issue, with a real `head -1`."""
    feed = tmp_path / "feed.xml"
    items = "".join(
        f"<item><title>Episode {i} {'with a long title ' * 10}</title><guid>e{i}</guid>"
        f'<enclosure url="https://example.com/{i}.mp3" type="audio/mpeg" length="1"/></item>'
        for i in range(600)  # well over a pipe's 64 KB buffer
    )
    feed.write_text(
        textwrap.dedent(f"""<?xml version="1.0"?>
        <rss version="2.0"><channel><title>Show</title>{items}</channel></rss>""")
    )
    env = {**os.environ, "SOTTOVOCE_HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "assistant.cli"]
    subprocess.run([*cli, "podcasts", "add", str(feed)], cwd=ROOT, env=env, check=True)
    for extra in ([], ["--json"]):
        result = subprocess.run(
            [
                "bash",
                "-c",
                'set -o pipefail; "$@" | head -1',
                "-",
                *cli,
                "podcasts",
                "episodes",
                "Show",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.stdout.count("\n") == 1
        assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
