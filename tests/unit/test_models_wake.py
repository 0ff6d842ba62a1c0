"""Wake-word logic without a model: buffering, threshold, refractory period, name parsing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.catalog import WAKE_WORD_MODELS
from models.errors import ModelFileError, UnknownEngineError
from models.protocols import SAMPLE_RATE, Pcm
from models.wake import FRAME_SAMPLES, OpenWakeWordDetector, resolve_wake_word


class ScriptedScorer:
    """Returns the next scripted score per frame (0 once the script runs out)."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)
        self.frames: list[Pcm] = []
        self.resets = 0

    def score(self, frame: Pcm) -> float:
        self.frames.append(frame.copy())
        return self.scores[len(self.frames) - 1] if len(self.frames) <= len(self.scores) else 0.0

    def reset(self) -> None:
        self.resets += 1
        self.frames.clear()


def detector(
    scores: list[float], *, threshold: float = 0.5, refractory_s: float = 0.0
) -> tuple[OpenWakeWordDetector, ScriptedScorer]:
    scorer = ScriptedScorer(scores)
    return (
        OpenWakeWordDetector(
            name="hey_test", scorer=scorer, threshold=threshold, refractory_s=refractory_s
        ),
        scorer,
    )


def frames(n: int) -> Pcm:
    return np.zeros(n * FRAME_SAMPLES, dtype=np.int16)


def firing_frames(det: OpenWakeWordDetector, n: int) -> list[int]:
    """Feed n frames one at a time; return the indices of the frames that fired."""
    return [i for i in range(n) if det.process(frames(1)) is not None]


def test_any_chunk_size_is_scored_in_whole_frames_in_order() -> None:
    det, scorer = detector([])
    audio = np.arange(5 * FRAME_SAMPLES + 100, dtype=np.int16)
    for start in range(0, len(audio), 999):
        det.process(audio[start : start + 999])
    assert len(scorer.frames) == 5
    assert all(len(frame) == FRAME_SAMPLES for frame in scorer.frames)
    np.testing.assert_array_equal(np.concatenate(scorer.frames), audio[: 5 * FRAME_SAMPLES])


def test_fires_when_the_score_reaches_the_threshold() -> None:
    det, _ = detector([0.1, 0.49, 0.5, 0.2])
    assert firing_frames(det, 4) == [2]


def test_detection_carries_name_and_score() -> None:
    det, _ = detector([0.1, 0.93])
    detection = det.process(frames(2))
    assert detection is not None
    assert detection.name == "hey_test"
    assert detection.score == pytest.approx(0.93)


def test_refractory_period_counts_samples_of_audio() -> None:
    # 0.24 s = 3 frames: after a detection the next 2 frames are suppressed.
    det, _ = detector([0.9] * 10, refractory_s=3 * FRAME_SAMPLES / SAMPLE_RATE)
    assert firing_frames(det, 10) == [0, 3, 6, 9]


def test_one_chunk_reports_one_detection_and_keeps_scoring() -> None:
    det, scorer = detector([0.9, 0.9, 0.9, 0.1], refractory_s=1.0)
    assert det.process(frames(4)) is not None
    assert len(scorer.frames) == 4


def test_high_score_inside_the_refractory_period_is_ignored() -> None:
    det, _ = detector([0.9, 0.1, 0.1, 0.95, 0.1], refractory_s=0.5)
    assert firing_frames(det, 5) == [0]


def test_reset_clears_pending_audio_and_refractory_period() -> None:
    det, scorer = detector([0.9, 0.9], refractory_s=10.0)
    assert det.process(frames(1)) is not None
    det.process(np.zeros(FRAME_SAMPLES - 1, dtype=np.int16))
    det.reset()
    assert scorer.resets == 1
    scorer.scores = [0.9]
    det.process(np.zeros(FRAME_SAMPLES - 1, dtype=np.int16))
    assert scorer.frames == []  # the pre-reset remainder was dropped
    assert det.process(np.zeros(1, dtype=np.int16)) is not None


def test_rejects_audio_that_is_not_int16() -> None:
    det, _ = detector([])
    with pytest.raises(TypeError, match="int16"):
        det.process(np.zeros(FRAME_SAMPLES, dtype=np.float32))


@pytest.mark.parametrize(("threshold", "refractory_s"), [(0.0, 1.0), (1.5, 1.0), (0.5, -1.0)])
def test_rejects_bad_settings(threshold: float, refractory_s: float) -> None:
    with pytest.raises(ValueError):
        detector([], threshold=threshold, refractory_s=refractory_s)


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("hey_jarvis", "hey_jarvis"),
        ("hey jarvis", "hey_jarvis"),
        ("  Hey-Jarvis ", "hey_jarvis"),
        ("ALEXA", "alexa"),
        ("okay nabu", "okay_nabu"),
    ],
)
def test_bundled_names_are_forgiving(written: str, name: str) -> None:
    assert resolve_wake_word(written) == (name, None)


def test_unknown_name_lists_the_bundled_models() -> None:
    with pytest.raises(UnknownEngineError) as caught:
        resolve_wake_word("hey siri")
    assert caught.value.code == "unknown_engine"
    for name in WAKE_WORD_MODELS:
        assert name in caught.value.message
    assert ".tflite" in caught.value.message


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        resolve_wake_word(str(tmp_path / "hey_computer.tflite"))


def test_file_that_is_not_tflite_is_refused_before_the_c_library_sees_it(tmp_path: Path) -> None:
    bogus = tmp_path / "hey_computer.tflite"
    bogus.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="not a TensorFlow Lite model"):
        resolve_wake_word(str(bogus))


def test_user_model_file_is_named_after_its_stem(tmp_path: Path) -> None:
    model = tmp_path / "hey_computer.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(32))
    assert resolve_wake_word(str(model)) == ("hey_computer", model)


def doubting(scores: list[float]) -> OpenWakeWordDetector:
    return OpenWakeWordDetector(
        name="hey_test",
        scorer=ScriptedScorer(scores),
        threshold=0.5,
        refractory_s=0.0,
        doubt_threshold=0.1,
    )


def test_a_peak_below_the_threshold_is_reported_as_doubtful_once_it_falls() -> None:
    det = doubting([0.05, 0.2, 0.35, 0.3, 0.1, 0.0])
    found = [(i, d) for i in range(6) if (d := det.process(frames(1))) is not None]
    assert [(i, d.doubtful, d.score) for i, d in found] == [(3, True, 0.35)]


def test_a_rising_score_that_crosses_the_threshold_is_no_doubt() -> None:
    det = doubting([0.2, 0.4, 0.7, 0.3, 0.0])
    found = [d for _ in range(5) if (d := det.process(frames(1))) is not None]
    assert [(d.doubtful, d.score) for d in found] == [(False, 0.7)]


def test_doubtful_detections_come_at_most_once_a_second() -> None:
    scores = [0.3, 0.2, 0.3, 0.2, 0.3, 0.2] + [0.0] * 8 + [0.3, 0.2]
    det = doubting(scores)
    fired = [i for i in range(len(scores)) if det.process(frames(1)) is not None]
    assert fired == [1, 15]


def test_no_doubtful_detections_unless_asked() -> None:
    det, _ = detector([0.05, 0.3, 0.1])
    assert firing_frames(det, 3) == []


def test_the_doubt_threshold_must_be_below_the_threshold() -> None:
    with pytest.raises(ValueError, match="doubtful"):
        OpenWakeWordDetector(
            name="x", scorer=ScriptedScorer([]), threshold=0.5, refractory_s=0, doubt_threshold=0.6
        )
