"""The dev corpora beside the repository (`../shared/corpora`): one path, and one way to skip a
test when they are absent, since they are not part of the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

CORPORA: Final = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def corpus(*parts: str | Path) -> Path:
    """`CORPORA/parts` (or a path already inside it), or skip the calling test when it is not
    there."""
    path = CORPORA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"dev corpus not found: {path} (expected ../shared/corpora beside the repo)")
    return path
