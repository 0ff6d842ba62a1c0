"""`sottovoce doctor`: what works, what does not, and the fix for each problem."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant import config as cfg
from assistant import paths
from assistant.errors import ConfigError
from models import catalog

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_BYTES = 500 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    area: str
    status: str
    detail: str
    fix: str = ""


def run_checks(config_file: Path | None) -> list[Check]:
    checks = [_python(), _config(config_file)]
    checks += _wake(config_file)
    checks += _audio()
    checks += _models()
    checks += [_language_model(), _embeddings(), _volume(), _database(), _bluetooth(), _disk()]
    return checks


def _volume() -> Check:
    from assistant.volume import OutputVolume

    volume = OutputVolume.load(paths.data_dir())
    if volume.muted or volume.level == 0:
        state = "muted" if volume.muted else "at 0"
        return Check(
            "volume",
            WARN,
            f"replies and episodes are silent: the volume is {state} (level {volume.level})",
            'Say "unmute" or "volume 5", or delete ' + str(volume.path) + ".",
        )
    return Check("volume", OK, f"level {volume.level} of 10")


def _database() -> Check:
    """The reminders and podcasts database, read-only: damage is said here, before `run`."""
    from assistant.store import Store, StoreError

    try:
        found = Store.inspect(paths.data_dir())
    except StoreError as err:
        return Check("database", FAIL, err.problem, err.fix)
    if not found.exists:
        return Check("database", OK, f"{found.path} (not created yet)")
    detail = f"{found.path}: {found.pending} pending reminder(s), alarm(s) and timer(s)"
    if found.failed:
        ids = ", ".join(f"#{f.id}" for f in found.failed)
        return Check(
            "database",
            WARN,
            f"{detail}; {len(found.failed)} failed and skipped ({ids})",
            "`sottovoce reminders list` says why; `sottovoce reminders cancel ID` removes one.",
        )
    return Check("database", OK, detail)


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", OK, f"Python {version} at {sys.executable}")


def _config(config_file: Path | None) -> Check:
    try:
        _settings, path = cfg.load_settings(config_file)
    except ConfigError as err:
        return Check(
            "config",
            FAIL,
            err.message,
            "Fix the field named above, or run "
            "`sottovoce config --init` after moving the broken file away.",
        )
    state = "valid" if path.exists() else "not created yet: defaults in use"
    return Check("config", OK, f"{path} ({state})")


def _wake(config_file: Path | None) -> list[Check]:
    """The wake word the config names can be loaded: a bundled name, or a .tflite that is there
    (the config check already refused anything else)."""
    from models.errors import ModelError
    from models.wake import resolve_wake_word

    try:
        model = cfg.load_settings(config_file)[0].wake.model
    except ConfigError:
        return []  # reported by the config check
    try:
        name, path = resolve_wake_word(model)
    except ModelError as err:
        return [
            Check(
                "wake",
                FAIL,
                f"wake.model = {model!r}: {err.message}",
                "Give the path of an openWakeWord .tflite model, or one of the bundled words: "
                + ", ".join(catalog.wake_word_models()),
            )
        ]
    return [Check("wake", OK, f"{name}" + (f" ({path})" if path else " (bundled)"))]


def _audio() -> list[Check]:
    from assistant import audio_io

    listing = audio_io.list_devices()
    if not listing.portaudio:
        return [
            Check(
                "audio",
                FAIL,
                listing.problem or "PortAudio is missing",
                "sudo apt-get install libportaudio2, or use --input FILE.wav and --output FILE.wav",
            )
        ]
    inputs = [d for d in listing.devices if d.max_input_channels > 0]
    outputs = [d for d in listing.devices if d.max_output_channels > 0]
    checks = []
    if inputs:
        checks.append(
            Check("microphone", OK, f"{len(inputs)} input device(s), e.g. {inputs[0].name!r}")
        )
    else:
        checks.append(
            Check(
                "microphone",
                WARN,
                "no input device",
                "Plug in a microphone (or pair the glasses), or run with "
                "--input FILE.wav. `sottovoce run` without --input runs a bundled sample.",
            )
        )
    if outputs:
        checks.append(
            Check("speaker", OK, f"{len(outputs)} output device(s), e.g. {outputs[0].name!r}")
        )
    else:
        checks.append(
            Check(
                "speaker",
                WARN,
                "no output device",
                "Connect a speaker, or run with --output FILE.wav.",
            )
        )
    return checks


def _models() -> list[Check]:
    checks = []
    for status in catalog.describe_models():
        area = f"model:{status.role}"
        if status.installed:
            where = f" at {status.path}" if status.path else ""
            checks.append(Check(area, OK, f"{status.name} ({status.package}){where}"))
        else:
            level = FAIL if status.required else WARN  # the other engines are choices
            checks.append(
                Check(area, level, f"{status.name}: {status.package} not installed", status.fix)
            )
    return checks


def _embeddings() -> Check:
    """The sentence-embedding model of the semantic intent fallback (optional: without it,
    commands no template understands go to the language model)."""
    from models import embeddings
    from models.errors import ModelError

    try:
        embedder = embeddings.load()
    except ModelError as err:
        return Check(
            "model:embeddings",
            WARN,
            err.message,
            "Until then paraphrased and misheard commands go to the language model "
            "(`[intent] semantic = false` silences this).",
        )
    return Check("model:embeddings", OK, f"all-MiniLM-L6-v2 int8 ({embedder.model_id})")


def _language_model() -> Check:
    from models.errors import ModelError
    from models.lm import resolve

    try:
        folder = resolve(paths.data_dir() / "models")
    except ModelError as err:
        return Check(
            "model:lm",
            WARN,
            err.message,
            "Run `sottovoce models prepare` (about 10 s); until then open questions "
            "get a short apology.",
        )
    return Check("model:lm", OK, f"{folder.name} at {folder}")


def _bluetooth() -> Check:
    adapters = sorted(p.name for p in Path("/sys/class/bluetooth").glob("hci*"))
    if adapters:
        return Check("bluetooth", OK, f"adapter(s): {', '.join(adapters)}")
    return Check(
        "bluetooth",
        WARN,
        "no Bluetooth adapter",
        "Only needed for glasses or earbuds: plug in a Bluetooth LE adapter and "
        "install BlueZ (sudo apt-get install bluez).",
    )


def _disk() -> Check:
    data = paths.data_dir()
    probe = data
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    writable = os.access(probe, os.W_OK)
    detail = f"{data}: {free / 1e9:.1f} GB free"
    if not writable:
        return Check(
            "disk",
            FAIL,
            f"{detail}, not writable",
            f"Make {probe} writable, or set SOTTOVOCE_HOME to a writable folder.",
        )
    if free < MIN_FREE_BYTES:
        return Check("disk", WARN, detail, "Free some space: models and episodes need ~1 GB.")
    return Check("disk", OK, detail)


def main(config_file: Path | None, *, as_json: bool) -> int:
    checks = run_checks(config_file)
    if as_json:
        for c in checks:  # JSON Lines: one check per line
            print(json.dumps(asdict(c), ensure_ascii=False))
    else:
        for c in checks:
            print(f"{c.status.upper():4}  {c.area:14} {c.detail}")
            if c.fix:
                print(f"{'':20}fix: {c.fix}")
        problems = sum(c.status == FAIL for c in checks)
        print(f"\n{problems} problem(s)" if problems else "\nAll required parts work.")
    return 1 if any(c.status == FAIL for c in checks) else 0
