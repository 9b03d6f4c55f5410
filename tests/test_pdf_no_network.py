"""The PDF path makes no connection attempt at all (docs/security.md).

Two independent proofs, each skipped with its reason when the tool is missing:

* ``strace -f -e trace=connect`` records every connect() of the whole command - Python and every
  Chromium process - and the test asserts that each one is to an AF_UNIX socket (D-Bus and
  Chromium's own processes).  A positive control shows the recorder catches a TCP connect.
* ``unshare -n`` runs the command in a network namespace without network: it still makes the PDF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lungtrack.report import pdf

pytestmark = pytest.mark.browser

SRC = str(Path(__file__).resolve().parents[1] / "src")
STRACE = shutil.which("strace")
UNSHARE = shutil.which("unshare")
HAVE_ENGINE = pdf.weasyprint_available() or pdf.find_chromium() is not None
needs_engine = pytest.mark.skipif(not HAVE_ENGINE, reason="needs WeasyPrint or headless Chromium to make a PDF")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "LUNGTRACK_TODAY": "2026-08-12"}


def _strace_works() -> bool:
    if STRACE is None:
        return False
    return subprocess.run([STRACE, "-f", "-qq", "-e", "trace=connect", "-o", os.devnull, "true"],
                          capture_output=True, timeout=30).returncode == 0


def _unshare_works() -> bool:
    if UNSHARE is None:
        return False
    return subprocess.run([UNSHARE, "-n", "true"], capture_output=True, timeout=30).returncode == 0


def network_connects(trace: str) -> list[str]:
    """Every recorded connect() that is not to an AF_UNIX socket."""
    return [line for line in trace.splitlines() if "connect(" in line and "AF_UNIX" not in line
            and "resumed>" not in line]


def _traced(tmp_path: Path, argv: list[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = tmp_path / "connect.trace"
    res = subprocess.run([STRACE, "-f", "-qq", "-e", "trace=connect", "-o", str(log), *argv],
                         capture_output=True, text=True, env=_env(), timeout=300)
    return res, network_connects(log.read_text() if log.exists() else "")


@pytest.mark.skipif(not _strace_works(), reason="needs strace (apt-get install strace) allowed to trace here")
def test_the_recorder_catches_a_network_connect(tmp_path):
    """Positive control: without it, an empty trace could mean the recorder is blind."""
    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\nexcept OSError:\n    pass\n"
    _res, connects = _traced(tmp_path, [sys.executable, "-c", code])
    assert len(connects) == 1 and "AF_INET" in connects[0] and "htons(9)" in connects[0]


@needs_engine
@pytest.mark.skipif(not _strace_works(), reason="needs strace (apt-get install strace) allowed to trace here")
def test_pdf_report_makes_no_connect_at_all(demo, tmp_path):
    out = tmp_path / "report.pdf"
    res, connects = _traced(tmp_path, [sys.executable, "-m", "lungtrack", "report", "--format", "pdf",
                                       "-o", str(out)])
    assert res.returncode == 0, res.stderr
    assert out.read_bytes().startswith(b"%PDF")
    assert "PDF made with" in res.stderr
    assert connects == [], connects


@needs_engine
@pytest.mark.skipif(not _unshare_works(), reason="needs 'unshare -n' (root or user namespaces)")
def test_pdf_report_is_made_without_any_network(demo, tmp_path):
    out = tmp_path / "report.pdf"
    res = subprocess.run([UNSHARE, "-n", sys.executable, "-m", "lungtrack", "report", "--format", "pdf",
                          "-o", str(out)], capture_output=True, text=True, env=_env(), timeout=300)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes().startswith(b"%PDF")


def test_chromium_runs_with_every_background_service_off_and_no_host_resolving():
    cmd = pdf.chromium_command("chromium", Path("/tmp/r.html"), Path("/tmp/r.pdf"), Path("/tmp/p"))
    for flag in ("--disable-component-update", "--disable-background-networking", "--disable-sync",
                 "--metrics-recording-only", "--disable-default-apps", "--disable-domain-reliability",
                 "--no-proxy-server", "--host-rules=MAP * ~NOTFOUND", "--host-resolver-rules=MAP * ~NOTFOUND"):
        assert flag in cmd, flag
    assert not any(a.startswith("--proxy-server") for a in cmd)  # a proxy would itself be a connect


def test_weasyprint_is_preferred_when_installed(monkeypatch):
    monkeypatch.setattr(pdf, "weasyprint_available", lambda: True)
    assert pdf.engine_name() == "weasyprint"
    monkeypatch.setattr(pdf, "weasyprint_available", lambda: False)
    monkeypatch.setattr(pdf, "find_chromium", lambda: "/usr/bin/chromium")
    assert pdf.engine_name() == "chromium"
