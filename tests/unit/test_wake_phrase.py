"""The wake phrase taken out of a transcript, however the recognizer wrote it."""

from __future__ import annotations

import pytest

from models.catalog import WAKE_WORD_MODELS
from models.wake_phrase import similarity, spoken_phrase, strip_wake_phrase, wake_prefix


@pytest.mark.parametrize(
    ("heard", "phrase", "command"),
    [
        (
            "Hey Jarvis, start a timer for 20 minutes.",
            "hey jarvis",
            "Start a timer for 20 minutes.",
        ),
        ("Jarvis. What time is it?", "hey jarvis", "What time is it?"),
        ("a jarvis set an alarm for 7", "hey jarvis", "Set an alarm for 7"),
        ("hey, Jarvis what time is it", "hey jarvis", "What time is it"),
        ("Hey Travis, stop.", "hey jarvis", "Stop."),
        ("Hey Davis pause the podcast", "hey jarvis", "Pause the podcast"),
        ("OK, Naboo, pause.", "okay nabu", "Pause."),
        ("Okay, Naboo what time is it", "okay nabu", "What time is it"),
        ("OK Nah boo, what time is it", "okay nabu", "What time is it"),
        ("Hey my craft, play the news", "hey mycroft", "Play the news"),
        ("Hey Microsoft, play the news", "hey mycroft", "Play the news"),
        ("Hey Raspy. Louder.", "hey rhasspy", "Louder."),
        ("Alexia, volume up", "alexa", "Volume up"),
        ("Ok computer, what's the date", "ok computer", "What's the date"),
        # Speech before the phrase went into the recording too.
        ("so then hey jarvis what time is it", "hey jarvis", "What time is it"),
        # The name was lost, the greeting kept.
        ("Hey, start a timer.", "hey jarvis", "Start a timer."),
        # Only the phrase: no command.
        ("Hey Jarvis.", "hey jarvis", ""),
        # The phrase forced as a prefix and heard again in the audio, alone or before a command.
        ("Hey Jarvis, hey Jarvis", "hey jarvis", ""),
        ("Hey Jarvis, hey Jarvis, what time is it?", "hey jarvis", "What time is it?"),
        ("Hey Mycroft, hey, my craft. Louder.", "hey mycroft", "Louder."),
    ],
)
def test_the_phrase_is_taken_out(heard: str, phrase: str, command: str) -> None:
    assert strip_wake_phrase(heard, phrase) == command


@pytest.mark.parametrize(
    ("heard", "phrase"),
    [
        ("Start a timer for 20 minutes.", "hey jarvis"),
        ("What is the service charge?", "hey jarvis"),
        ("Play jars of clay", "hey jarvis"),  # "jars" is not "jarvis"
        ("Now what time is it", "okay nabu"),
        ("What time is it, Jarvis?", "hey jarvis"),  # the name after the command stays
        ("", "hey jarvis"),
        ("What time is it", ""),
    ],
)
def test_commands_without_the_phrase_are_kept(heard: str, phrase: str) -> None:
    assert strip_wake_phrase(heard, phrase) == heard


@pytest.mark.parametrize(
    ("model", "phrase"),
    [
        ("hey_jarvis", "hey jarvis"),
        ("okay_nabu", "okay nabu"),
        ("/home/me/models/ok_computer_v0.2.tflite", "ok computer"),
        ("hey-marvin.tflite", "hey marvin"),
        ("Hey_Jarvis_v0.1", "hey jarvis"),
    ],
)
def test_the_spoken_phrase_comes_from_the_model_name(model: str, phrase: str) -> None:
    assert spoken_phrase(model) == phrase


def test_every_bundled_model_forced_as_it_is_written_comes_back_out() -> None:
    for model in WAKE_WORD_MODELS:
        phrase = spoken_phrase(model)
        heard = f"{wake_prefix(phrase)} what time is it?"
        assert strip_wake_phrase(heard, phrase) == "What time is it?", model


def test_similarity_in_sound_and_spelling() -> None:
    assert similarity("jarvis", "jarvis") == 1.0
    assert similarity("travis", "jarvis") >= 0.6
    assert similarity("service", "jarvis") < 0.6
    assert similarity("", "jarvis") == 0.0
