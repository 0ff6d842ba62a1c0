"""Text around the token ids: the chat template, and streaming detokenization with stop strings."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.lm.errors import ModelFolderError

_LOGGER = logging.getLogger(__name__)

_FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


class ChatTemplate:
    """A Jinja chat template as Hugging Face tokenizers ship them, rendered in a sandbox."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        try:
            self._template = env.from_string(source)
        except TemplateError as err:
            raise ModelFolderError(f"The model's chat template does not parse: {err}") from err
        self.source = source
        self._tokens = {"bos_token": bos_token, "eos_token": eos_token}

    def render(self, messages: Sequence[Mapping[str, str]], *, add_generation_prompt: bool) -> str:
        from jinja2 import TemplateError

        try:
            return str(
                self._template.render(
                    messages=[dict(m) for m in messages],
                    add_generation_prompt=add_generation_prompt,
                    **self._tokens,
                )
            )
        except TemplateError as err:
            raise ModelFolderError(f"The model's chat template failed: {err}") from err


def read_tokenizer_config(folder: Path) -> dict[str, Any]:
    """tokenizer_config.json, or {} when the folder has none (it is optional)."""
    path = folder / "tokenizer_config.json"
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ModelFolderError(f"{path} is not valid JSON: {err}") from err
    return config if isinstance(config, dict) else {}


def load_chat_template(folder: Path) -> ChatTemplate:
    """From tokenizer_config.json, else chat_template.jinja; a plain fallback if neither has one."""
    config = read_tokenizer_config(folder)
    source = config.get("chat_template")
    if isinstance(source, list):  # named templates: take the default one
        named = {t.get("name"): t.get("template") for t in source if isinstance(t, dict)}
        source = named.get("default") or next(iter(named.values()), None)
    if not source and (folder / "chat_template.jinja").is_file():
        source = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if not source:
        _LOGGER.warning("%s has no chat template; using a plain 'role: text' layout", folder)
        source = _FALLBACK_TEMPLATE

    def token(key: str) -> str:
        value = config.get(key) or ""
        return str(value.get("content", "")) if isinstance(value, dict) else str(value)

    return ChatTemplate(str(source), bos_token=token("bos_token"), eos_token=token("eos_token"))


class StopFilter:
    """Turns generated ids into text pieces, holding back what may be the start of a stop string.

    `push` returns the piece that is safe to show and whether a stop string was completed;
    `text` is everything shown so far (without the stop string).
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._stops = [s for s in stops if s]
        self._ids: list[int] = []
        self.text = ""

    def push(self, token: int) -> tuple[str, bool]:
        self._ids.append(token)
        full = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        if full.endswith("\ufffd"):  # a multi-byte character is still incomplete
            return "", False
        cut = min((i for i in (full.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            return self._emit(full[:cut]), True
        return self._emit(full[: len(full) - self._held(full)]), False

    def flush(self) -> str:
        full = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        return self._emit(full.rstrip("\ufffd"))

    def _emit(self, upto: str) -> str:
        piece = upto[len(self.text) :]
        self.text = upto
        return piece

    def _held(self, full: str) -> int:
        """Length of the longest tail of `full` that begins some stop string."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(full)), best, -1):
                if full.endswith(stop[:n]):
                    best = n
                    break
        return best
