"""The language model as the assistant and its skills see it: async, streaming, cancellable.

Generation is blocking onnxruntime work, so it runs on this model's own single worker thread;
tokens cross back to the event loop with `call_soon_threadsafe`. Closing a `stream` early
(`aclose()`, `async with contextlib.aclosing(...)`, or the consuming task being cancelled on
barge-in) sets the cancel flag the worker checks before every forward pass, so generation stops
within one token.
It satisfies `skills.sdk.LanguageModel` structurally.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Final

from models.lm.runtime import Generation, GenerationSettings, LocalLanguageModel, Message

_LOGGER = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT: Final = (
    "You are a helpful voice assistant running on the user's own device. "
    "Answer in one or two short sentences."
)


class AssistantLanguageModel:
    """Build with `AssistantLanguageModel.load(folder)` (blocking: call it off the loop)."""

    def __init__(
        self,
        model: LocalLanguageModel,
        *,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        settings: GenerationSettings = GenerationSettings(),  # noqa: B008 (frozen)
    ) -> None:
        self.model = model
        self.system_prompt = system_prompt
        self.settings = settings
        self.last: Generation | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lm")

    @classmethod
    def load(
        cls,
        folder: Path,
        *,
        threads: int = 0,
        spin: bool = True,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    ) -> AssistantLanguageModel:
        """Load and prefill the system prompt, so the first question is answered quickly."""
        model = LocalLanguageModel.load(folder, threads=threads, spin=spin)
        lm = cls(model, system_prompt=system_prompt)
        lm.model.warm(system_prompt)
        return lm

    @property
    def context_tokens(self) -> int:
        return self.model.context_length

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def messages(self, prompt: str, system: str | None = None) -> list[Message]:
        return [
            {"role": "system", "content": system or self.system_prompt},
            {"role": "user", "content": prompt},
        ]

    async def complete(
        self, prompt: str, *, max_tokens: int = 128, system: str | None = None
    ) -> str:
        pieces = [p async for p in self.stream(prompt, max_tokens=max_tokens, system=system)]
        return "".join(pieces).strip()

    async def stream(
        self,
        prompt: str,
        *,
        max_tokens: int = 128,
        system: str | None = None,
        stop: Sequence[str] = (),
    ) -> AsyncGenerator[str, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        cancelled = threading.Event()
        settings = replace(self.settings, max_tokens=max_tokens, stop=tuple(stop))
        messages = self.messages(prompt, system)

        def put(item: str | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop closed under us
                cancelled.set()

        def work() -> Generation:
            try:
                return self.model.chat(messages, settings, on_token=put, cancel=cancelled.is_set)
            finally:
                put(None)

        future: Future[Generation] = self._executor.submit(work)
        future.add_done_callback(self._record)
        try:
            while (piece := await queue.get()) is not None:
                yield piece
            await asyncio.wrap_future(future)  # re-raise what the worker raised
        finally:
            cancelled.set()

    def _record(self, future: Future[Generation]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            _LOGGER.warning("generation failed: %s", error)
            return
        self.last = future.result()
        _LOGGER.debug("generation: %s", self.last)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
