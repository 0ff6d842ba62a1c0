"""WER normalisation and alignment (assistant.evaluate.wer)."""

from __future__ import annotations

import pytest

from assistant.evaluate.wer import normalize_words, word_errors


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("go forward ten meters", "Go forward 10 meters."),
        ("one two three", "1, 2, 3."),
        ("one zero zero zero one nine oh two one oh zero one eight zero three",
         "1,0001 90210 01803"),
        ("nineteen eighty four", "1984"),
        ("one hundred and five", "105"),
        ("a hundred", "100"),
        ("two thousand and twenty", "2020"),
        ("twenty first of may", "21st of May"),
        ("three point five percent", "3.5%"),
        ("rock and roll", "Rock & Roll!"),
        ("well i don't know", "Well, uh, I don't know..."),
        ("fellow americans", "fellow-Americans"),
        ("twenty five", "25"),
    ],
)  # fmt: skip
def test_spoken_and_written_forms_normalise_alike(spoken: str, written: str) -> None:
    assert normalize_words(spoken) == normalize_words(written)


def test_numbers_are_spelled_digit_by_digit() -> None:
    assert normalize_words("ten") == ["1", "0"]
    assert normalize_words("route 66") == ["route", "6", "6"]


def test_oh_is_zero_only_next_to_numbers() -> None:
    assert normalize_words("oh no") == ["oh", "no"]
    assert normalize_words("nine oh two") == ["9", "0", "2"]


def test_ordinals_keep_a_marker() -> None:
    assert normalize_words("the fifth") == ["the", "5", "th"]
    assert normalize_words("the 5th") == ["the", "5", "th"]
    assert normalize_words("five") != normalize_words("fifth")


def test_counts_substitutions_deletions_insertions() -> None:
    errors = word_errors("ask not what your country", "as not what my country can")
    assert (errors.substitutions, errors.deletions, errors.insertions) == (2, 0, 1)
    assert errors.reference_words == 5
    assert errors.wer == pytest.approx(3 / 5)
    assert errors.edits == ("ask->as", "your->my", "+can")


def test_deletions_and_a_perfect_match() -> None:
    assert word_errors("we must find a home", "we find home").deletions == 2
    assert word_errors("Hello, World!", "hello world").errors == 0


def test_wrong_number_costs_one_error_per_wrong_digit() -> None:
    assert word_errors("ten", "eleven").errors == 1  # 1 0 vs 1 1
    assert word_errors("ten", "10").errors == 0


def test_empty_reference() -> None:
    assert word_errors("", "").wer == 0.0
    assert word_errors("", "noise").wer == 1.0
    assert word_errors("something", "").deletions == 1
