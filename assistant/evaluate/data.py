"""Reading evaluation sets: TSV tables and JSONL files, row by row, with line numbers.

A bad row never stops an evaluation: it becomes a `Problem` (file, line, what is wrong) and
the rest of the set is still scored. Only a set that cannot be read at all raises `EvalError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AudioError, SottovoceError
from assistant.wav_io import read_wav_16k_mono
from models.protocols import Pcm


class EvalError(SottovoceError):
    """An evaluation set that cannot be read at all (missing, empty, wrong format)."""

    code = "eval_error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One row that was not scored, and why."""

    path: str
    line: int  # 1-based; 0 when the problem concerns the whole file
    message: str

    def describe(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Row:
    """One table row by column name, and the line it came from."""

    line: int
    fields: dict[str, str]

    def get(self, column: str) -> str:
        return self.fields.get(column, "").strip()


def read_table(
    path: Path, *, required: Sequence[str], default_header: Sequence[str] | None = None
) -> tuple[list[Row], list[Problem]]:
    """A TSV file with a header line (or, if its first line is data, `default_header`).

    Rows with fewer cells than `required` columns, or with a required cell empty, become
    problems. Blank lines and lines starting with `#` are skipped.
    """
    lines = _read_lines(path)
    if not lines:
        raise EvalError(f"{path} is empty: expected a tab-separated table.")
    first = [cell.strip() for cell in lines[0].split("\t")]
    if all(column in first for column in required):
        header, start = first, 1
    elif default_header is not None:
        header, start = list(default_header), 0
    else:
        raise EvalError(
            f"{path}: the first line must name the columns (tab-separated), at least "
            + ", ".join(required)
            + f"; it reads {lines[0][:80]!r}."
        )
    rows: list[Row] = []
    problems: list[Problem] = []
    for number, text in enumerate(lines[start:], start=start + 1):
        if not text.strip() or text.startswith("#"):
            continue
        cells = text.split("\t")
        fields = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header)}
        missing = [name for name in required if not fields.get(name, "").strip()]
        if missing:
            problems.append(
                Problem(path=str(path), line=number, message=f"empty {', '.join(missing)}")
            )
            continue
        rows.append(Row(number, fields))
    return rows, problems


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    """(line number, object) for every non-blank line; a line that is not a JSON object
    comes back as a `Problem` in its place."""
    for number, text in enumerate(_read_lines(path), start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            yield number, Problem(path=str(path), line=number, message=f"not JSON: {err.msg}")
            continue
        if not isinstance(value, dict):
            yield number, Problem(path=str(path), line=number, message="not a JSON object")
            continue
        yield number, value


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise EvalError(f"{path} does not exist.", code="eval_missing") from err
    except IsADirectoryError as err:
        raise EvalError(f"{path} is a folder; give the file inside it.") from err
    except (OSError, UnicodeDecodeError) as err:
        raise EvalError(f"{path} cannot be read as UTF-8 text: {err}") from err
    return text.splitlines()


def find_file(path: Path, names: Sequence[str]) -> Path:
    """`path` itself if it is a file, else the first of `names` inside the folder."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise EvalError(f"{path} does not exist.", code="eval_missing")
    for name in names:
        if (path / name).is_file():
            return path / name
    raise EvalError(f"{path} holds none of {', '.join(names)}.", code="eval_missing")


def audio_rows(
    path: Path,
    names: Sequence[str],
    *,
    required: Sequence[str],
    default_header: Sequence[str] | None = None,
) -> tuple[Path, list[tuple[Row, Path]], list[Problem]]:
    """The table in `path` (a file, or the first of `names` in a folder), each usable row with
    the audio file it names (`file` column, relative to the table), and the problems."""
    table = find_file(path, names)
    rows, problems = read_table(table, required=required, default_header=default_header)
    found: list[tuple[Row, Path]] = []
    for row in rows:
        wav = (table.parent / row.get("file")).resolve()
        if wav.is_file():
            found.append((row, wav))
        else:
            problems.append(
                Problem(path=str(table), line=row.line, message=f"audio file {wav} not found")
            )
    return table, found, problems


def read_audio(table: Path, line: int, wav: Path) -> Pcm | Problem:
    """A WAV file as the assistant hears it, or the problem that stops it being read."""
    try:
        return read_wav_16k_mono(wav)
    except AudioError as err:
        return Problem(path=str(table), line=line, message=err.message)


def in_order(problems: list[Problem]) -> list[Problem]:
    """Problems by file and line, the order a reader fixes them in."""
    return sorted(problems, key=lambda p: (p.path, p.line))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rounded(value: float, digits: int = 4) -> float:
    return round(value, digits)
