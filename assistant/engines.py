"""Build the engines named in the settings (the only place that knows both config and models)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from assistant import paths
from assistant.audio_convert import resample
from assistant.config import Settings
from assistant.pipeline import Engines
from models import asr, embeddings, tts, vad, wake
from models.embeddings import SentenceEmbedder
from models.errors import ModelError
from models.protocols import SAMPLE_RATE, Pcm, Recognizer, Synthesizer
from skills.intents import IntentRecognizer
from skills.sdk import Skill

_LOGGER = logging.getLogger(__name__)


def load_recognizer(
    settings: Settings, engine: str | None = None, *, warm: bool = False
) -> Recognizer:
    cfg = settings.asr
    recognizer = asr.load_recognizer(
        engine or cfg.engine,
        model_path=cfg.model or None,
        language=cfg.language,
        threads=cfg.threads,
    )
    if warm:  # the first inference pays for lazy set-up; do it before the user speaks
        recognizer.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.int16))
    return recognizer


def load_synthesizer(settings: Settings, *, warm: bool = False) -> Synthesizer:
    synth = tts.load_synthesizer(settings.tts.voice or None, length_scale=settings.tts.length_scale)
    if warm:
        for _ in synth.synthesize("Ready."):
            pass
    return synth


def speak_16k(synth: Synthesizer, text: str) -> Pcm:
    """`text` in the voice, as 16 kHz audio: what a microphone would hear (tests, benchmarks
    and the glasses demo speak to the assistant this way)."""
    parts = list(synth.synthesize(text))
    pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    return resample(pcm, synth.sample_rate, SAMPLE_RATE)


def load_embedder(*, warn: bool = True) -> SentenceEmbedder | None:
    """The sentence-embedding model of the semantic intent fallback, or None (with a warning
    that says how to install it) when its packages are missing."""
    try:
        return embeddings.load(cache_dir=paths.cache_dir() / "embeddings")
    except ModelError as err:
        if warn:
            _LOGGER.warning("%s", err.message)
            print(
                f"{err.message} Until then, commands no sentence template understands go to "
                "the language model.",
                file=sys.stderr,
            )
        return None


def load_intents(
    settings: Settings, *, semantic: bool | None = None, skills: Iterable[Skill] | None = None
) -> IntentRecognizer:
    """The intent recognizer `run` uses: the sentence files of `skills` (default: every
    installed skill), and the semantic fallback unless `[intent] semantic = false` (or
    `semantic=False` here)."""
    cfg = settings.intent
    use = cfg.semantic if semantic is None else semantic
    embedder = load_embedder() if use else None
    return IntentRecognizer.load(
        skills=skills, embedder=embedder, threshold=cfg.threshold, margin=cfg.margin
    )


def doubt_threshold(settings: Settings, threshold: float | None = None) -> float | None:
    """Where doubtful wake-word detections start, below `threshold` (default: the config's);
    None when the check is off or would not sit below it."""
    doubt, top = settings.wake.doubt_threshold, threshold or settings.wake.threshold
    return doubt if 0 < doubt < top else None


def build_engines(settings: Settings) -> Engines:
    """Load all four engines, the slow ones side by side."""
    start = time.perf_counter()
    with ThreadPoolExecutor(3, thread_name_prefix="load") as pool:
        asr_f = pool.submit(load_recognizer, settings, warm=True)
        tts_f = pool.submit(load_synthesizer, settings, warm=True)
        wake_f = pool.submit(
            wake.load_wake_word,
            settings.wake.model,
            threshold=settings.wake.threshold,
            refractory_s=settings.wake.refractory_s,
            front_end=settings.wake.front_end,
            phrase=settings.wake.phrase,
            doubt_threshold=doubt_threshold(settings),
        )
        engines = Engines(
            wake=wake_f.result(), vad=vad.load_vad(), asr=asr_f.result(), tts=tts_f.result()
        )
    _LOGGER.info("engines loaded in %.2f s", time.perf_counter() - start)
    return engines
