"""Where user files live: platform dirs, or everything under SOTTOVOCE_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "sottovoce"


def _home() -> Path | None:
    value = os.environ.get("SOTTOVOCE_HOME")
    return Path(value).expanduser() if value else None


def config_path() -> Path:
    home = _home()
    base = home if home else Path(platformdirs.user_config_dir(APP))
    return base / "config.toml"


def data_dir(override: str | None = None) -> Path:
    """`override` (a command's --home), else $SOTTOVOCE_HOME/data, else the platform's."""
    if override:
        return Path(override).expanduser()
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP))
