"""`sottovoce glasses` commands that need no radio: parsing, status, forget."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from assistant import glasses_cli
from assistant.glasses import PairedGlasses


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    glasses_cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["glasses", *argv])
    return int(args.handler(args))


def test_every_subcommand_has_a_handler() -> None:
    parser = argparse.ArgumentParser()
    glasses_cli.add_parsers(parser.add_subparsers())
    for argv in (["scan"], ["pair", "AA:BB:CC:DD:EE:FF"], ["status"], ["forget"], ["simulate"]):
        assert callable(parser.parse_args(["glasses", *argv]).handler)


def test_status_and_forget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    PairedGlasses(tmp_path).add("AA:BB:CC:DD:EE:FF", "Frame")
    assert _run("--home", str(tmp_path), "status", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["paired"] == [{"address": "AA:BB:CC:DD:EE:FF", "name": "Frame"}]
    assert _run("--home", str(tmp_path), "forget", "11:22:33:44:55:66") == 1
    assert _run("--home", str(tmp_path), "forget", "aa:bb:cc:dd:ee:ff") == 0
    assert PairedGlasses(tmp_path).load() == {}
    # No Bluetooth here: the allow-list entry is gone all the same, and the bond's fix is named.
    assert "bluetoothctl remove AA:BB:CC:DD:EE:FF" in capsys.readouterr().err
