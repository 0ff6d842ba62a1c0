"""The paired-glasses file: add, look up, forget, survive a damaged file."""

from __future__ import annotations

from pathlib import Path

from assistant.glasses import PairedGlasses


def test_pair_look_up_and_forget(tmp_path: Path) -> None:
    store = PairedGlasses(tmp_path)
    assert store.load() == {} and "AA:BB:CC:DD:EE:FF" not in store
    store.add("aa:bb:cc:dd:ee:ff", "Frame")
    store.add("11:22:33:44:55:66", "G1")
    assert "AA:BB:CC:DD:EE:FF" in store and "aa:bb:cc:dd:ee:ff" in store
    assert PairedGlasses(tmp_path).load() == {
        "AA:BB:CC:DD:EE:FF": "Frame",
        "11:22:33:44:55:66": "G1",
    }
    assert store.remove("AA:BB:CC:DD:EE:FF") == ["AA:BB:CC:DD:EE:FF"]
    assert store.remove("00:00:00:00:00:00") == []
    assert store.remove() == ["11:22:33:44:55:66"] and store.load() == {}


def test_a_damaged_file_means_nothing_paired(tmp_path: Path) -> None:
    (tmp_path / "glasses.json").write_text("{not json", encoding="utf-8")
    assert PairedGlasses(tmp_path).load() == {}
    (tmp_path / "glasses.json").write_text("[1, 2]", encoding="utf-8")
    assert "X" not in PairedGlasses(tmp_path)
