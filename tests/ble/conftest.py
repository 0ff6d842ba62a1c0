"""BLE tests run bleak's real client over bumble's virtual controllers; skip without them."""

from __future__ import annotations

import pytest

pytest.importorskip("bleak", reason="bleak is not installed (pip install -e '.[glasses]')")
pytest.importorskip("bumble", reason="bumble is not installed (pip install -e '.[dev]')")
