"""`models`, `ask`, `summarize`, `bench lm` on a tiny model; `pull` against a local server."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from assistant import lm_cli
from models.lm import DownloadError, store
from tests.unit.lm_tiny import write_tiny_gguf


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOTTOVOCE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_add_list_ask_summarize_bench_remove(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gguf_path = write_tiny_gguf(tmp_path / "Tiny-Model.gguf", context=512)
    assert lm_cli.main(["models", "add", str(gguf_path), "--precision", "fp32"]) == 0
    assert lm_cli.main(["models", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()[-2:]]  # JSON Lines
    assert [(m["name"], m["prepared"]) for m in rows] == [
        ("tiny-model", True),
        (store.DEFAULT_MODEL, False),
    ]
    assert rows[0]["precision"] == "fp32" and not rows[0]["in_catalog"]

    args = ["ask", "the hen", "--model", "tiny-model", "--max-tokens", "4", "--json"]
    assert lm_cli.main(args) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["prompt_tokens"] > 0 and answer["new_tokens"] <= 4

    text = tmp_path / "notes.txt"
    text.write_text("One thing. Two things here. Three. Four things and things.", "utf-8")
    assert lm_cli.main(["summarize", str(text)]) == 0
    assert len(capsys.readouterr().out.strip().split(". ")) <= 3

    args = ["bench", "lm", "--model", "tiny-model", "--tokens", "8", "--repeat", "1", "--json"]
    assert lm_cli.main(args) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["decode_tokens_per_s"] > 0 and figures["peak_rss_mb"] > 0

    assert lm_cli.main(["models", "remove", "tiny-model"]) == 0
    assert store.installed(home / "data" / "models") == []
    assert lm_cli.main(["models", "remove", "tiny-model"]) == 1
    assert "No model 'tiny-model'" in capsys.readouterr().err


def test_add_an_onnx_folder_and_reject_bad_input(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.lm import convert

    folder = tmp_path / "My Model"
    convert(write_tiny_gguf(tmp_path / "t.gguf"), folder, precision="fp32", verify=False)
    assert lm_cli.main(["models", "add", str(folder)]) == 0
    assert (home / "data" / "models" / "my-model" / "model.onnx").is_file()

    (folder / "genai_config.json").unlink()
    assert lm_cli.main(["models", "add", str(folder), "--name", "broken"]) == 1
    assert "missing genai_config.json" in capsys.readouterr().err
    mamba = write_tiny_gguf(tmp_path / "mamba.gguf", arch="mamba")
    assert lm_cli.main(["models", "add", str(mamba)]) == 1
    assert "llama, qwen2" in capsys.readouterr().err
    assert not (home / "data" / "models" / "mamba").exists()


def _tiny_catalog(monkeypatch: pytest.MonkeyPatch, gguf: Path | None) -> store.CatalogEntry:
    """A catalog whose default model is a tiny GGUF at `gguf` (None: not installed anywhere)."""
    payload = b"" if gguf is None else gguf.read_bytes()
    entry = store.CatalogEntry(
        name="tiny",
        description="tiny test model",
        gguf_file="tiny.gguf",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        package=None,
        url="http://127.0.0.1:9/tiny.gguf",
    )
    monkeypatch.setattr(store, "CATALOG", (entry,))
    monkeypatch.setattr(store, "DEFAULT_MODEL", "tiny")
    return entry


def test_ask_prepares_the_bundled_model_on_first_use(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: `ask` before `models prepare` said to pip install a package already there."""
    downloads = home / "data" / "models" / "downloads"
    downloads.mkdir(parents=True)
    _tiny_catalog(monkeypatch, write_tiny_gguf(downloads / "tiny.gguf", context=512))
    assert lm_cli.main(["ask", "the hen", "--max-tokens", "3", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["new_tokens"] <= 3  # stdout holds only the answer
    assert "preparing tiny once" in err and "building graph: done" in err
    assert "Check: " in err and "pip install" not in err
    assert (home / "data" / "models" / "tiny" / "model.onnx").is_file()
    assert lm_cli.main(["ask", "the hen", "--max-tokens", "2"]) == 0
    assert "preparing" not in capsys.readouterr().err  # once


def test_ask_without_the_gguf_says_how_to_get_it(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _tiny_catalog(monkeypatch, None)
    assert lm_cli.main(["ask", "hello"]) == 1
    err = capsys.readouterr().err
    assert "not installed" in err and "sottovoce models pull tiny" in err


@pytest.mark.parametrize(
    ("check", "precision", "expected"),
    [
        (None, "int4", "Check: skipped"),
        ({"max_abs_diff": 16.3, "top1_agreement": 0.78, "tokens": 18}, "int4", "Check: OK."),
        ({"max_abs_diff": 0.4, "top1_agreement": 1.0, "tokens": 18}, "int8", "Check: OK."),
        ({"max_abs_diff": 30.0, "top1_agreement": 0.4, "tokens": 18}, "int4", "Check: POOR."),
        (
            {"max_abs_diff": 2e-4, "top1_agreement": 1.0, "tokens": 18, "tolerance": 1e-3},
            "fp32",
            "Check: OK.",
        ),
    ],
)
def test_the_conversion_check_ends_in_a_verdict(
    check: dict[str, float] | None, precision: str, expected: str
) -> None:
    line = lm_cli.verdict(check, precision)
    assert line.startswith(expected)
    if check and "tolerance" not in check:
        assert f"{check['top1_agreement']:.0%}" in line and "18 test positions" in line
    if expected == "Check: POOR.":
        assert "--precision int8" in line


def test_prepare_prints_a_verdict_not_a_bare_number(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    downloads = home / "data" / "models" / "downloads"
    downloads.mkdir(parents=True)
    _tiny_catalog(monkeypatch, write_tiny_gguf(downloads / "tiny.gguf"))
    assert lm_cli.main(["models", "prepare", "--precision", "int8"]) == 0
    out, err = capsys.readouterr()
    assert "Check: " in out and "top-1" not in out
    assert "quantizing to int8: done (" in err and "0/1" not in err


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one payload, honouring `Range: bytes=N-`; the first response is cut short."""

    payload = b""
    cut_first = True
    ranges: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        start = 0
        header = self.headers.get("Range")
        type(self).ranges.append(header)
        if header:
            start = int(header.removeprefix("bytes=").rstrip("-"))
        body = self.payload[start:]
        if type(self).cut_first:
            type(self).cut_first = False
            body = body[: len(body) // 2]
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    _RangeHandler.payload = write_tiny_gguf(tmp_path / "served.gguf").read_bytes()
    _RangeHandler.cut_first = True
    _RangeHandler.ranges = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/tiny.gguf"
    finally:
        httpd.shutdown()


def test_download_resumes_and_checks_the_sha256(server: str, tmp_path: Path) -> None:
    payload = _RangeHandler.payload
    digest = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "dl" / "tiny.gguf"

    with pytest.raises(DownloadError, match="run the same command again to resume"):
        store.download(server, target, sha256=digest, timeout_s=5)  # the server cuts it short
    partial = target.with_name("tiny.gguf.partial")
    assert 0 < partial.stat().st_size < len(payload)
    store.download(server, target, sha256=digest, timeout_s=5)  # resumes with a Range request
    assert target.read_bytes() == payload and not partial.exists()
    assert _RangeHandler.ranges[-1] == f"bytes={len(payload) // 2}-"

    with pytest.raises(DownloadError, match="sha256"):
        store.download(server, tmp_path / "other.gguf", sha256="0" * 64, timeout_s=5)
    assert not (tmp_path / "other.gguf.partial").exists()


def _served_catalog(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = _RangeHandler.payload
    _RangeHandler.cut_first = False
    entry = store.CatalogEntry(
        name="tiny",
        description="tiny test model",
        gguf_file="tiny.gguf",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        package=None,
        url=server,
    )
    monkeypatch.setattr(store, "CATALOG", (entry,))


def test_pull_then_prepare_a_catalog_entry(
    server: str, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _served_catalog(server, monkeypatch)
    assert lm_cli.main(["models", "pull", "tiny", "--precision", "fp32"]) == 0
    assert (home / "data" / "models" / "tiny" / "model.onnx").is_file()
    assert store.prepare(home / "data" / "models", name="tiny", precision="fp32") is None
    # The GGUF is deleted once converted and checked: the runtime never reads it.
    gguf = home / "data" / "models" / "downloads" / "tiny.gguf"
    assert not gguf.exists() and not list(gguf.parent.iterdir())
    assert f"Deleted {gguf}" in capsys.readouterr().err


def test_pull_keeps_the_gguf_when_asked_or_when_the_conversion_fails(
    server: str, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.lm.errors import ModelFolderError

    _served_catalog(server, monkeypatch)
    gguf = home / "data" / "models" / "downloads" / "tiny.gguf"
    assert lm_cli.main(["models", "pull", "tiny", "--precision", "fp32", "--keep-gguf"]) == 0
    assert gguf.is_file() and "Deleted" not in capsys.readouterr().err

    def broken(*args: object, **kwargs: object) -> None:
        raise ModelFolderError("the conversion broke")

    monkeypatch.setattr(store, "download", lambda *a, **k: pytest.fail("downloaded again"))
    monkeypatch.setattr(store, "convert", broken)
    assert lm_cli.main(["models", "pull", "tiny", "--precision", "int8"]) == 1
    err = capsys.readouterr().err
    assert "the conversion broke" in err and f"The download is kept in {gguf}" in err
    assert gguf.is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "pipeline", "--repeat", "0"],
        ["bench", "glasses", "--repeat", "-2"],
        ["bench", "lm", "--tokens", "many"],
        ["ask", "--max-tokens", "0", "hello"],
    ],
)
def test_counts_below_one_are_refused_with_a_reason(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must be at least 1" in err or "is not a whole number" in err
