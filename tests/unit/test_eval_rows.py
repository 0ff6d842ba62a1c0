"""Reading evaluation sets: bad rows are reported with their line and the rest is kept."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.evaluate import asr, e2e, intents, timeexpr
from assistant.evaluate.data import EvalError, Problem, percentile, read_jsonl, read_table


def _wav(path: Path, seconds: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.zeros(int(16000 * seconds), dtype="<i2").tobytes())
    return path


def _lines(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_table_with_header_reports_rows_missing_a_required_cell(tmp_path: Path) -> None:
    table = _lines(tmp_path / "t.tsv", "file\ttext", "a.wav\thello", "b.wav", "\tno file", "")
    rows, problems = read_table(table, required=("file", "text"))
    assert [r.line for r in rows] == [2]
    assert [(p.line, p.message) for p in problems] == [(3, "empty text"), (4, "empty file")]


def test_headerless_table_takes_the_default_header(tmp_path: Path) -> None:
    table = _lines(tmp_path / "t.tsv", "wav/a.wav\thello there", "# comment", "wav/b.wav\tbye")
    rows, problems = read_table(table, required=("file", "text"), default_header=("file", "text"))
    assert [(r.line, r.get("text")) for r in rows] == [(1, "hello there"), (3, "bye")]
    assert problems == []


def test_table_without_a_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="name the columns"):
        read_table(_lines(tmp_path / "t.tsv", "a\tb"), required=("file",))


def test_missing_and_empty_files_raise(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="does not exist"):
        read_table(tmp_path / "nope.tsv", required=("file",))
    with pytest.raises(EvalError, match="empty"):
        read_table(_lines(tmp_path / "e.tsv", ""), required=("file",))


def test_jsonl_reports_broken_lines_in_place(tmp_path: Path) -> None:
    path = _lines(tmp_path / "x.jsonl", '{"a": 1}', "{oops", "", "[1, 2]", '{"b": 2}')
    got = list(read_jsonl(path))
    assert [line for line, _ in got] == [1, 2, 4, 5]
    assert isinstance(got[1][1], Problem) and got[1][1].message.startswith("not JSON")
    assert isinstance(got[2][1], Problem) and got[2][1].message == "not a JSON object"
    assert got[3][1] == {"b": 2}


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 95) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_intent_rows_unknown_labels_and_missing_text(tmp_path: Path) -> None:
    path = _lines(
        tmp_path / "i.jsonl",
        json.dumps({"text": "what time is it", "intent": "time.query"}),
        json.dumps({"text": "order a latte", "intent": "orderBeverage"}),
        json.dumps({"intent": "time.query"}),
        "not json",
        json.dumps({"text": "set an alarm for six", "intent": ""}),
        json.dumps({"text": "is it raining", "intent": "answer"}),
    )
    rows, problems = intents.load_rows(path, intents.LABEL_SPACE)
    assert [line for line, _t, _i in rows] == [1, 6]
    assert [(p.line, p.message) for p in problems] == [
        (2, "unknown intent label 'orderBeverage'"),
        (3, "no text"),
        (4, "not JSON: Expecting value"),
        (5, "no intent label"),
    ]


def test_intent_evaluation_scores_the_good_rows(tmp_path: Path) -> None:
    path = _lines(
        tmp_path / "i.jsonl",
        json.dumps({"text": "what time is it", "intent": "time.query"}),
        json.dumps({"text": "order a latte", "intent": "orderBeverage"}),
        json.dumps({"text": "what's the weather in paris", "intent": "answer"}),
        json.dumps({"text": "turn the volume up", "intent": "volume.down"}),
    )
    report = intents.evaluate(path)
    assert (report.total, report.correct) == (3, 2)
    assert report.out_of_scope == 1 and report.fallback_rate == 1.0
    assert [(m.line, m.expected, m.got) for m in report.misses] == [(4, "volume.down", "volume.up")]
    matrix = dict(zip(report.labels, report.confusion, strict=True))
    assert matrix["volume.down"][report.labels.index("volume.up")] == 1
    assert sum(map(sum, report.confusion)) == 3
    assert [p.line for p in report.problems] == [2]


def test_intent_evaluation_with_nothing_usable_raises(tmp_path: Path) -> None:
    path = _lines(tmp_path / "i.jsonl", json.dumps({"text": "x", "intent": "nope"}))
    with pytest.raises(EvalError, match="no row could be scored"):
        intents.evaluate(path)


def test_asr_set_reports_missing_audio_and_keeps_the_rest(tmp_path: Path) -> None:
    _wav(tmp_path / "wav" / "a.wav")
    _lines(tmp_path / "transcripts.tsv", "wav/a.wav\thello", "wav/missing.wav\tbye", "wav/a.wav")
    table, items, problems = asr.load_set(tmp_path)
    assert table.name == "transcripts.tsv"
    assert [(i.line, i.text) for i in items] == [(1, "hello")]
    assert [p.line for p in problems] == [2, 3]
    assert "not found" in problems[0].message


def test_asr_engine_list_expands_all_and_skips_vosk_without_a_model() -> None:
    names, skipped = asr.engine_names(["all"], {}, "en")
    assert names == ["whisper", "moonshine"]
    assert [s.name for s in skipped] == ["vosk"]
    names, skipped = asr.engine_names(["all", "whisper"], {"vosk": "/models/vosk"}, "en")
    assert names == ["whisper", "moonshine", "vosk"] and skipped == []


def test_commands_set_reports_unreadable_audio(tmp_path: Path) -> None:
    _wav(tmp_path / "wav" / "ok.wav")
    (tmp_path / "wav" / "bad.wav").write_bytes(b"not a wav")
    _lines(
        tmp_path / "labels.tsv",
        "file\ttext\tintent\twake_word",
        "wav/ok.wav\twhat time is it\ttime.query\t",
        "wav/bad.wav\thello\thelp\t",
        "wav/gone.wav\thello\thelp\t",
    )
    _table, commands, problems = e2e.load_commands(tmp_path)
    assert [c.line for c in commands] == [2]
    assert [p.line for p in problems] == [3, 4]


def test_time_case_format() -> None:
    case = timeexpr.parse_case(
        1, {"text": "in 2 hours", "reference_time": "2014-09-01T10:30", "expected_time": "2014"}
    )
    assert case.kind == "year" and case.now.tzinfo is not None
    case = timeexpr.parse_case(
        2, {"text": "ten minutes", "reference_time": "2018-03-07T12:43:00+01:00",
            "expected_duration": {"hours": 1, "minutes": 10, "years": 1}},
    )  # fmt: skip
    assert case.kind == "duration" and case.expected_duration == (12.0, 4200.0)
    assert (
        timeexpr.parse_case(
            3, {"text": "at 5", "reference_time": "2018-03-07T12:43", "expected_time": "17:00"}
        ).kind
        == "clock"
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"reference_time": "2018-03-07", "expected_time": "2018"}, "no text"),
        ({"text": "x", "reference_time": "yesterday", "expected_time": "2018"}, "ISO 8601"),
        ({"text": "x", "reference_time": "2018-03-07"}, "exactly one"),
        ({"text": "x", "reference_time": "2018-03-07", "expected_time": "2018-3"}, "prefix"),
        ({"text": "x", "reference_time": "2018-03-07", "expected_time": "2018-13"}, "read as"),
        ({"text": "x", "reference_time": "2018-03-07", "expected_duration": {"fortnights": 1}},
         "unknown units"),
        ({"text": "x", "reference_time": "2018-03-07", "tz": "Mars/Olympus",
          "expected_time": "2018"}, "time zone"),
    ],
)  # fmt: skip
def test_time_case_errors(row: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        timeexpr.parse_case(1, row)


def test_time_evaluation_checks_to_the_given_precision(tmp_path: Path) -> None:
    now = "2018-03-07T12:43:00+00:00"
    path = _lines(
        tmp_path / "t.jsonl",
        json.dumps({"text": "in 10 minutes", "reference_time": now,
                    "expected_time": "2018-03-07T12:53"}),
        json.dumps({"text": "tomorrow", "reference_time": now, "expected_time": "2018-03-08"}),
        json.dumps({"text": "tomorrow", "reference_time": now, "expected_time": "2018-03-09"}),
        json.dumps({"text": "an hour and a half", "reference_time": now,
                    "expected_duration": {"minutes": 90}}),
        json.dumps({"text": "broken", "reference_time": now}),
    )  # fmt: skip
    report = timeexpr.evaluate(path)
    assert (report.correct, report.total) == (3, 4)
    assert [(f.line, f.expected, f.got) for f in report.failures] == [
        (3, "2018-03-09", "2018-03-08")
    ]
    assert [p.line for p in report.problems] == [5]
    assert report.by_kind["duration"] == (1, 1)


def test_converting_the_time_corpora(tmp_path: Path) -> None:
    (tmp_path / "dateparser_relative_en.jsonl").write_text(
        "\n".join(
            json.dumps(row)
            for row in (
                {"text": "2 min", "relation": "ago", "delta": {"minutes": 2},
                 "reference_time": "2014-09-01T10:30:00Z"},
                {"text": "1 month ago", "relation": "ago", "delta": {"months": 1},
                 "reference_time": "2014-03-31T10:30:00Z"},
                {"text": "in 3 hours", "relation": "in_future", "delta": {"hours": 3},
                 "reference_time": "2014-09-01T22:30:00Z"},
                {"text": "till date", "relation": "ago", "delta": {"days": 0},
                 "reference_time": "2014-09-01T10:30:00Z"},
            )
        ),
        encoding="utf-8",
    )  # fmt: skip
    (tmp_path / "ctparse_time_corpus.jsonl").write_text(
        "\n".join(
            json.dumps({"text": text, "expected": expected, "reference_time": "2018-03-07T12:43",
                        "lang_guess": lang})
            for text, expected, lang in (
                ("today", "Time[]{2018-03-07 X:X (X/X)}", "en_or_neutral"),
                ("at 5pm", "Time[]{X-X-X 17:00 (X/X)}", "en_or_neutral"),
                ("3 nights", "Duration[]{3 nights}", "en_or_neutral"),
                ("heute", "Time[]{2018-03-07 X:X (X/X)}", "de"),
                ("1-2pm", "Interval[]{X-X-X 13:00 (X/X) - X-X-X 14:00 (X/X)}", "en_or_neutral"),
            )
        ),
        encoding="utf-8",
    )  # fmt: skip
    cases, left_out = timeexpr.convert_corpora(tmp_path)
    answers = [(c["text"], c.get("expected_time") or c.get("expected_duration")) for c in cases]
    assert answers == [
        ("2 min", {"minutes": 2}),
        ("1 month ago", "2014-02-28"),
        ("in 3 hours", "2014-09-02T01:30"),
        ("today", "2018-03-07"),
        ("at 5pm", "17:00"),
        ("3 nights", {"days": 3}),
    ]
    assert left_out["ctparse: not English"] == 1
    assert left_out["ctparse: Interval[] form"] == 1
    assert sum(left_out.values()) == 3
    for line, case in enumerate(cases, start=1):
        timeexpr.parse_case(line, case)  # every converted case reads back
