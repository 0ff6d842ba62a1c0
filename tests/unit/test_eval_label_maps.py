"""Other projects' intent labels mapped onto ours (assistant/evaluate/label_maps.py), and the
mapped dev sets scored by `eval intents` (skipped when ../shared/corpora is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.evaluate import intents
from assistant.evaluate.label_maps import Mapped, map_row
from skills.intents import IntentRecognizer
from tests.corpora import corpus

OURS = intents.LABEL_SPACE


@pytest.fixture(scope="module")
def recognizer() -> IntentRecognizer:
    return IntentRecognizer.load()  # templates and keyword rules, no semantic fallback


def slurp(text: str, scenario: str, action: str) -> dict[str, object]:
    return {"text": text, "intent": f"{scenario}_{action}", "scenario": scenario, "action": action}


@pytest.mark.parametrize(
    ("row", "label"),
    [
        (slurp("wake me at six", "alarm", "set"), "alarm.set"),
        (slurp("what alarms do i have", "alarm", "query"), "reminder.list"),
        (slurp("clear my friday", "calendar", "remove"), "reminder.cancel"),
        (slurp("it is too loud", "audio", "volume_down"), "volume.down"),
        (slurp("will it snow", "weather", "query"), "answer"),
        (slurp("email bob", "email", "sendemail"), "answer"),
        (slurp("lights off", "iot", "hue_lightoff"), "answer"),
        (slurp("time in la if it is noon here", "datetime", "convert"), "answer"),
        (slurp("play some jazz", "play", "music"), None),  # not scored
        (slurp("what song is this", "music", "query"), None),
        # A truncated SLURP `intent` ("query") is read from scenario and action.
        (
            {"text": "any meetings", "intent": "query", "scenario": "calendar", "action": "query"},
            "reminder.list",
        ),
    ],
)
def test_slurp_labels(row: dict[str, object], label: str | None) -> None:
    mapped = map_row(row, OURS)
    assert mapped is not None and mapped.label == label


def fsc(text: str, name: str, **slots: str) -> dict[str, object]:
    entities = [{"entity": k, "value": v} for k, v in slots.items()]
    return {"text": text, "intent": {"name": name}, "entities": entities}


@pytest.mark.parametrize(
    ("row", "label"),
    [
        (fsc("volume up", "IncreaseDecrease", action="increase", object="volume"), "volume.up"),
        (fsc("quieter", "IncreaseDecrease", action="decrease", object="volume"), "volume.down"),
        (fsc("volume mute", "IncreaseDecrease", action="decrease", object="volume"), "volume.mute"),
        (fsc("heat up", "IncreaseDecrease", action="increase", object="heat"), "answer"),
        (fsc("play", "ActivateDeactivate", action="activate", object="music"), "media.resume"),
        (fsc("pause music", "ActivateDeactivate", action="deactivate", object="music"),
         "media.pause"),
        (fsc("stop", "ActivateDeactivate", action="deactivate", object="music"), "stop"),
        (fsc("stop the music", "ActivateDeactivate", action="deactivate", object="music"),
         "media.stop"),
        (fsc("lamp on", "ActivateDeactivate", action="activate", object="lamp"), "answer"),
        (fsc("bring my socks", "Bring", object="socks"), "answer"),
        # The TSV form carries the slots as JSON text.
        ({"text": "lights off", "intent": "ActivateDeactivate",
          "slots": '{"action": "deactivate", "object": "lights"}'}, "answer"),
    ],
)  # fmt: skip
def test_fluent_speech_commands_labels(row: dict[str, object], label: str) -> None:
    assert map_row(row, OURS) == Mapped(label, map_row(row, OURS).source)  # type: ignore[union-attr]


def test_our_labels_and_unknown_sets_are_left_alone() -> None:
    assert map_row({"text": "what time is it", "intent": "time.query"}, OURS) is None
    assert map_row({"text": "order a latte", "intent": "orderBeverage"}, OURS) is None
    assert (
        map_row({"text": "x", "intent": "x", "scenario": "spaceship", "action": "fly"}, OURS)
        is None
    )


def test_a_mapped_set_reports_what_it_left_out(
    recognizer: IntentRecognizer, tmp_path: Path
) -> None:
    path = tmp_path / "slurp.jsonl"
    rows = [
        slurp("what time is it", "datetime", "query"),
        slurp("how warm is it outside", "weather", "query"),
        slurp("play some jazz", "play", "music"),
        {"text": "order a latte", "intent": "orderBeverage"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    report = intents.evaluate(path, recognizer)
    assert (report.total, report.correct, report.mapped) == (2, 2, 3)
    assert report.not_scored == {"slurp:play_music": 1}
    assert [p.line for p in report.problems] == [4]
    assert "1 of them not scored (slurp:play_music 1)" in "\n".join(intents.render(report))


def test_a_tsv_set_is_read_too(recognizer: IntentRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "phrases.tsv"
    path.write_text(
        "text\tintent\tslots\n"
        'turn it up\tIncreaseDecrease\t{"action": "increase", "object": "volume"}\n'
        "what time is it\ttime.query\t{}\n"
        "\tBring\t{}\n",
        encoding="utf-8",
    )
    report = intents.evaluate(path, recognizer)
    assert (report.total, report.correct, report.mapped) == (2, 2, 1)
    assert [p.line for p in report.problems] == [4]


@pytest.mark.parametrize(
    "name",
    [
        "eval/slurp_devel.jsonl",
        "intents/slurp_devel_all.jsonl",
        "intents/slurp_devel_assistant_focus.jsonl",
        "intents/fluent_speech_commands/test_truth_raw.jsonl",
        "intents/fluent_speech_commands/test_unique_phrases.tsv",
    ],
)
def test_every_dev_intent_set_scores_at_least_95_percent(
    recognizer: IntentRecognizer, name: str
) -> None:
    report = intents.evaluate(corpus(name), recognizer)
    assert report.problems == []
    assert report.accuracy >= 0.95, report.misses[:20]
    if report.out_of_scope:
        assert report.fallback_rate >= 0.97  # at most 3 % of `answer` rows taken by a skill
