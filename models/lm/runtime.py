"""Text generation on an ONNX decoder folder with plain onnxruntime and `tokenizers`.

Contract of `LocalLanguageModel.generate`: the prompt is rendered (chat template) and tokenized;
if it leaves fewer than `max_tokens` free positions in the context, the truncation rule drops
the oldest tokens after the system prompt (see `fit_to_context`); the longest cached prefix of
the prompt (a system prompt seen before) is reused, so only the rest is prefilled, in chunks;
then tokens are decoded one at a time until an end token, a stop sequence, the token budget,
the time budget or `cancel()` — checked before every forward pass, so a barge-in stops
generation within one token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from models.lm.decoder import KvCache, OnnxDecoder
from models.lm.errors import ModelFolderError, PromptTooLongError
from models.lm.gguf_file import F32
from models.lm.sampling import Sampler
from models.lm.text import ChatTemplate, StopFilter, load_chat_template, read_tokenizer_config

_LOGGER = logging.getLogger(__name__)

Message = Mapping[str, str]
Finish = Literal["eos", "stop", "length", "time", "cancelled"]
PREFILL_CHUNK: Final = 128
_CACHED_PREFIXES: Final = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationSettings:
    max_tokens: int = 128
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    time_budget_s: float | None = None
    ignore_eos: bool = False  # benchmarks: always decode max_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class Generation:
    text: str
    finish: Finish
    prompt_tokens: int
    cached_tokens: int
    dropped_tokens: int
    new_tokens: int
    first_token_s: float
    prefill_s: float
    decode_s: float

    @property
    def decode_tokens_per_s(self) -> float:
        return (self.new_tokens - 1) / self.decode_s if self.decode_s > 0 else 0.0


@dataclass(slots=True)
class _Prefix:
    ids: tuple[int, ...]
    cache: KvCache
    logits: F32 = field(repr=False)


class LocalLanguageModel:
    """A decoder folder ready to generate. Build with `LocalLanguageModel.load(folder)`.

    Not thread-safe: one generation at a time (the async adapter runs it on one worker).
    """

    def __init__(
        self, folder: Path, decoder: OnnxDecoder, tokenizer: Any, template: ChatTemplate
    ) -> None:
        self.folder = folder
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.template = template
        self.context_length = decoder.spec.context_length
        # Prepend the BOS id to prompts that do not start with it (Llama 2 and TinyLlama
        # templates leave it to the tokenizer; ChatML ones already start with it).
        self.add_bos = False
        self._prefixes: OrderedDict[tuple[int, ...], _Prefix] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path, *, threads: int = 0, spin: bool = True) -> LocalLanguageModel:
        """See `OnnxDecoder.load` for `threads` and `spin`."""
        from tokenizers import Tokenizer

        decoder = OnnxDecoder.load(folder, threads=threads, spin=spin)
        try:
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as err:  # tokenizers raises plain Exception
            raise ModelFolderError(f"{folder / 'tokenizer.json'} is unreadable: {err}") from err
        model = cls(folder, decoder, tokenizer, load_chat_template(folder))
        model.add_bos = bool(read_tokenizer_config(folder).get("add_bos_token", False))
        return model

    @property
    def name(self) -> str:
        return self.folder.name

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def prompt_ids(self, text: str) -> list[int]:
        ids = self.encode(text)
        bos = self.decoder.spec.bos_id
        if self.add_bos and bos is not None and ids[:1] != [bos]:
            ids.insert(0, bos)
        return ids

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        return self.template.render(messages, add_generation_prompt=add_generation_prompt)

    def chat(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings = GenerationSettings(),
        *,
        on_token: Callable[[str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Generation:
        """Generate the assistant's next turn after `messages`."""
        ids = self.prompt_ids(self.render(messages))
        keep = 0
        if messages and messages[0].get("role") == "system":
            system = self.render(messages[:1], add_generation_prompt=False)
            system_ids = self.prompt_ids(system)
            if ids[: len(system_ids)] == system_ids:
                keep = len(system_ids)
        return self.generate(ids, settings, keep=keep, on_token=on_token, cancel=cancel)

    def clear_cache(self) -> None:
        """Forget cached prompt prefixes (benchmarks measure the cold path with it)."""
        with self._lock:
            self._prefixes.clear()

    def warm(self, system_prompt: str) -> None:
        """Prefill a system prompt now, so the first turn that uses it starts from its cache."""
        system = [{"role": "system", "content": system_prompt}]
        ids = self.prompt_ids(self.render(system, add_generation_prompt=False))
        with self._lock:
            self._prefill(ids, keep=len(ids), cancel=None, capacity=len(ids))

    def generate(
        self,
        ids: Sequence[int],
        settings: GenerationSettings = GenerationSettings(),
        *,
        keep: int = 0,
        on_token: Callable[[str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Generation:
        """Continue token ids; `keep` leading ids (the system prompt) survive truncation and
        are cached for the next call."""
        with self._lock:
            return self._generate(list(ids), settings, keep, on_token, cancel or (lambda: False))

    def _generate(
        self,
        ids: list[int],
        settings: GenerationSettings,
        keep: int,
        on_token: Callable[[str], None] | None,
        cancel: Callable[[], bool],
    ) -> Generation:
        started = time.perf_counter()
        deadline = None if settings.time_budget_s is None else started + settings.time_budget_s
        max_new = max(1, min(settings.max_tokens, self.context_length - 1))
        ids, dropped = fit_to_context(ids, keep, self.context_length - max_new)
        prefill = self._prefill(ids, keep=keep, cancel=cancel, capacity=len(ids) + max_new)
        prefill_s = time.perf_counter() - started
        if prefill is None:
            return Generation(
                text="", finish="cancelled", prompt_tokens=len(ids), cached_tokens=0,
                dropped_tokens=dropped, new_tokens=0, first_token_s=0.0, prefill_s=prefill_s,
                decode_s=0.0,
            )  # fmt: skip
        logits, cache, cached = prefill
        sampler = Sampler(settings.temperature, settings.top_p, settings.seed)
        stops = StopFilter(self.tokenizer, settings.stop)
        eos = set() if settings.ignore_eos else set(self.decoder.spec.eos_ids)
        finish: Finish = "length"
        first_token_s = 0.0
        new = 0
        decode_started = time.perf_counter()
        while True:
            token = sampler(logits)
            if new == 0:
                first_token_s = time.perf_counter() - started
                decode_started = time.perf_counter()
            new += 1
            if token in eos:
                finish = "eos"
                break
            piece, stopped = stops.push(token)
            if piece and on_token is not None:
                on_token(piece)
            if stopped:
                finish = "stop"
                break
            if new >= max_new or len(ids) + new >= self.context_length:
                break
            if deadline is not None and time.perf_counter() >= deadline:
                finish = "time"
                break
            if cancel():
                finish = "cancelled"
                break
            logits, cache = self.decoder.run([token], cache)
        tail = stops.flush() if finish in ("eos", "length", "time") else ""
        if tail and on_token is not None:
            on_token(tail)
        _LOGGER.debug("generation finished (%s) after %d tokens", finish, new)
        return Generation(
            text=stops.text,
            finish=finish,
            prompt_tokens=len(ids),
            cached_tokens=cached,
            dropped_tokens=dropped,
            new_tokens=new,
            first_token_s=first_token_s,
            prefill_s=prefill_s,
            decode_s=time.perf_counter() - decode_started,
        )

    def _prefill(
        self, ids: list[int], *, keep: int, cancel: Callable[[], bool] | None, capacity: int
    ) -> tuple[F32, KvCache, int] | None:
        """Last logits and a cache of `capacity` positions after `ids`; None if cancelled.
        Caches (a copy of) the first `keep` ids' keys and values."""
        start, logits = 0, np.zeros(0, dtype=np.float32)
        hit = self._longest_prefix(ids)
        if hit is None:
            cache = self.decoder.empty_cache(capacity)
        else:
            start, logits = len(hit.ids), hit.logits
            cache = self.decoder.resume(hit.cache, capacity)
        cached = start
        # Stop at `keep` on the way, to store the system prompt's cache.
        bounds = sorted({b for b in (keep, len(ids)) if b > start})
        for bound in bounds:
            while start < bound:
                if cancel is not None and cancel():
                    return None
                end = min(bound, start + PREFILL_CHUNK)
                logits, cache = self.decoder.run(ids[start:end], cache)
                start = end
            if bound == keep:
                self._remember(_Prefix(tuple(ids[:keep]), self.decoder.snapshot(cache), logits))
        return logits, cache, cached

    def _longest_prefix(self, ids: list[int]) -> _Prefix | None:
        best: _Prefix | None = None
        for prefix in self._prefixes.values():
            n = len(prefix.ids)
            if (
                n <= len(ids)
                and tuple(ids[:n]) == prefix.ids
                and (best is None or n > len(best.ids))
            ):
                best = prefix
        if best is not None:
            self._prefixes.move_to_end(best.ids)
        return best

    def _remember(self, prefix: _Prefix) -> None:
        self._prefixes[prefix.ids] = prefix
        self._prefixes.move_to_end(prefix.ids)
        while len(self._prefixes) > _CACHED_PREFIXES:
            self._prefixes.popitem(last=False)


def fit_to_context(ids: list[int], keep: int, room: int) -> tuple[list[int], int]:
    """The truncation rule: keep the first `keep` ids (the system prompt) and as many of the
    latest ids as fit in `room`, dropping the oldest ones in between. Returns (ids, dropped)."""
    if len(ids) <= room:
        return ids, 0
    if keep >= room:
        raise PromptTooLongError(
            f"The system prompt alone takes {keep} tokens of the {room} left for the prompt; "
            "shorten it or ask for fewer tokens."
        )
    tail = room - keep
    dropped = len(ids) - room
    _LOGGER.warning(
        "prompt of %d tokens truncated: dropped %d after the system prompt", len(ids), dropped
    )
    return ids[:keep] + ids[len(ids) - tail :], dropped
