"""`--json` is JSON Lines for every command: one object per item for lists, one object on one
line for a single result (issue 13: reminders printed lines, podcasts an indented array)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import cli


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path))
    return tmp_path


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(isinstance(row, dict) for row in rows)
    return rows


def test_doctor_prints_one_check_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["doctor", "--json"])
    rows = _lines(capsys)
    assert len(rows) > 5 and {"area", "status", "detail", "fix"} <= set(rows[0])


def test_config_prints_one_object_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "--json"]) == 0
    (row,) = _lines(capsys)
    assert row["exists"] is False and "settings" in row


def test_devices_prints_one_device_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["devices", "--json"]) == 0
    for row in _lines(capsys):  # none on a machine without sound cards
        assert "name" in row


def test_podcast_lists_are_json_lines(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = home / "feed.xml"
    items = "".join(
        f'<item><title>E{i}</title><guid>g{i}</guid><enclosure url="https://e.com/{i}.mp3" '
        'type="audio/mpeg" length="1"/></item>'
        for i in range(3)
    )
    feed.write_text(f'<rss version="2.0"><channel><title>Show</title>{items}</channel></rss>')
    assert cli.main(["podcasts", "add", str(feed)]) == 0
    capsys.readouterr()
    assert cli.main(["podcasts", "list", "--json"]) == 0
    assert [row["title"] for row in _lines(capsys)] == ["Show"]
    assert cli.main(["podcasts", "episodes", "Show", "--json"]) == 0
    assert sorted(str(row["title"]) for row in _lines(capsys)) == ["E0", "E1", "E2"]


def test_reminders_list_is_json_lines_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reminders", "list", "--json"]) == 0
    assert _lines(capsys) == []  # an empty list prints nothing
