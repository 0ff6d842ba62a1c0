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


def test_a_refusal_for_want_of_a_bond_is_recognised_in_either_stacks_words() -> None:
    from firmware_bridge.central import refused_for_want_of_a_bond

    assert refused_for_want_of_a_bond(Exception("ATT_Error(error=INSUFFICIENT_ENCRYPTION)"))
    assert refused_for_want_of_a_bond(Exception("[org.bluez.Error.Failed] Insufficient Encryption"))
    assert refused_for_want_of_a_bond(Exception("HCI_Error(hci/PIN_OR_KEY_MISSING_ERROR [0x6])"))
    assert not refused_for_want_of_a_bond(Exception("no connection within 5 s"))
