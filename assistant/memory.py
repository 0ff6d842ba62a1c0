"""Process-wide memory settings, applied once at start-up before any thread exists.

glibc's malloc gives every thread that allocates its own heap arena (up to eight per core) and
rarely returns their free pages. The assistant runs many threads (model loaders, one worker per
engine, onnxruntime's pools), so its resident size crept with every turn. Measured with
`run --input` on this machine (2 cores): peak 770 MB on a 10 s WAV and 880 MB on a 30-minute
one with glibc's default; 700 and 707 MB with two arenas, at the same speed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from typing import Any, Final

_LOGGER = logging.getLogger(__name__)

M_ARENA_MAX: Final = -8  # from glibc's malloc.h
ARENAS: Final = 2


def limit_malloc_arenas(arenas: int = ARENAS, *, libc: Any | None = None) -> bool:
    """Cap glibc's malloc arenas; False where there is nothing to cap (another C library, or
    another platform) or where the user chose with MALLOC_ARENA_MAX."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        library = libc if libc is not None else ctypes.CDLL(None)
        mallopt = library.mallopt
    except (OSError, AttributeError):
        return False
    done = bool(mallopt(M_ARENA_MAX, arenas))
    if not done:
        _LOGGER.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return done
