"""HTML -> PDF through a well-kept engine: WeasyPrint when installed (``pip install
'lungtrack[pdf]'``), else headless Chromium when one is found on PATH.  The command says which
engine made the PDF.

Both honour the report's ``@page`` rules (size, margins, running header in the margin boxes,
page numbers).  **No connection attempt at all**: WeasyPrint gets a URL fetcher that refuses
everything; Chromium runs with a throw-away profile, with every background service switched off
(component updates, background networking, sync, metrics, default apps, domain reliability,
field trials, safe-browsing updates, DNS prefetch, pings), with no proxy lookup, and with every host
name mapped to "not found" (``--host-rules`` / ``--host-resolver-rules``), so it neither resolves a
name nor opens a connection; the page itself loads nothing anyway (see render_html).
tests/test_pdf_no_network.py proves it under ``strace -f -e trace=connect`` and ``unshare -n``.
When neither engine exists the error says so and suggests ``--format html``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from lungtrack.errors import LungtrackError

#: chromium-headless-shell first: it has no sign-in, sync or component updater at all, so it makes no
#: request of its own (the full browser asks accounts.google.com for the profile's accounts whatever
#: the flags, and probes IPv6 reachability with a UDP connect; see docs/security.md).
CHROMIUM_NAMES = ("chromium-headless-shell", "chrome-headless-shell", "chromium", "chromium-browser", "google-chrome",
                  "google-chrome-stable")
ENGINE_LABELS = {"weasyprint": "WeasyPrint", "chromium": "headless Chromium"}


def engine_label(name: str) -> str:
    """How the command names the engine it used: WeasyPrint, or headless Chromium and its program."""
    if name == "chromium":
        binary = find_chromium()
        return f"headless Chromium ({Path(binary).name})" if binary else "headless Chromium"
    return ENGINE_LABELS.get(name, name)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                  "--no-pdf-header-footer", "--mute-audio", "--disable-extensions",
                  # every background service off
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--metrics-recording-only", "--disable-default-apps", "--disable-domain-reliability",
                  "--disable-client-side-phishing-detection", "--disable-breakpad", "--disable-crash-reporter",
                  "--disable-component-extensions-with-background-pages", "--disable-field-trial-config",
                  "--safebrowsing-disable-auto-update", "--no-service-autorun", "--no-pings", "--dns-prefetch-disable",
                  "--password-store=basic", "--use-mock-keychain",
                  "--component-updater=url-source=file:///nonexistent",
                  "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,OptimizationGuideModelDownloading,"
                  "MediaRouter,DialMediaRouteProvider,Translate,CertificateTransparencyComponentUpdater,"
                  "AutofillServerCommunication,InterestFeedContentSuggestions,AsyncDns,DnsOverHttps",
                  # no proxy lookup (no WPAD), and no host name resolves: nothing can even be attempted
                  "--no-proxy-server", "--host-rules=MAP * ~NOTFOUND", "--host-resolver-rules=MAP * ~NOTFOUND")


class PdfEngineMissing(LungtrackError):
    exit_code = 1


def find_chromium() -> str | None:
    override = os.environ.get("LUNGTRACK_CHROMIUM")
    if override:
        return override if shutil.which(override) or Path(override).is_file() else None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def weasyprint_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except Exception:  # noqa: BLE001 - missing or broken native libraries: fall back
        return False
    return True


def engine_name(prefer: str = "auto") -> str:
    """``weasyprint`` or ``chromium``; raises :class:`PdfEngineMissing` when neither is available."""
    if prefer in ("auto", "weasyprint") and weasyprint_available():
        return "weasyprint"
    if prefer in ("auto", "chromium") and find_chromium():
        return "chromium"
    raise PdfEngineMissing(
        "cannot make a PDF: neither WeasyPrint (pip install 'lungtrack[pdf]') nor headless Chromium "
        "(chromium, chromium-browser or google-chrome on PATH) was found. "
        "Use --format html and print the page from a browser (it is made to print).")


def html_to_pdf(html: str, *, engine: str = "auto", timeout: float = 120.0) -> bytes:
    """Render ``html`` (self-contained) to PDF bytes."""
    return render_pdf(html, engine=engine, timeout=timeout)[0]


def render_pdf(html: str, *, engine: str = "auto", timeout: float = 120.0) -> tuple[bytes, str]:
    """Render ``html`` to PDF bytes; returns them with the engine used (``weasyprint``/``chromium``)."""
    name = engine_name(engine)
    if name == "weasyprint":
        import weasyprint

        # base_url=None and a fetcher that refuses everything: the page must not load anything
        def refuse(url: str, *args, **kwargs):  # noqa: ANN002, ANN003
            raise ValueError(f"lungtrack reports load nothing ({url})")

        return weasyprint.HTML(string=html, url_fetcher=refuse).write_pdf(), name
    return _chromium(html, find_chromium() or "chromium", timeout), name


def chromium_command(binary: str, html_file: Path, pdf_file: Path, profile: Path) -> list[str]:
    return [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf_file}",
            html_file.resolve().as_uri()]


def _chromium(html: str, binary: str, timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="lungtrack-pdf-") as tmp:
        t = Path(tmp)
        src, out, profile = t / "report.html", t / "report.pdf", t / "profile"
        src.write_text(html, encoding="utf-8")
        cmd = chromium_command(binary, src, out, profile)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                                  env={**os.environ, "HOME": str(t)})
        except subprocess.TimeoutExpired:
            raise LungtrackError(f"Chromium did not finish the PDF within {timeout:g} s; "
                                 "use --format html and print from a browser.") from None
        except OSError as exc:
            raise PdfEngineMissing(f"cannot run {binary} ({exc}); use --format html and print from a browser.") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = " ".join((proc.stderr or "").strip().splitlines()[-2:])[:300]
            raise LungtrackError(f"Chromium could not print the report (exit {proc.returncode}: {tail}); "
                                 "use --format html and print from a browser.")
        return out.read_bytes()


def page_count(pdf: bytes) -> int:
    """Pages in a PDF (pypdf when installed; else a count of the page objects)."""
    try:
        import io

        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(pdf)).pages)
    except Exception:  # noqa: BLE001 - pypdf missing: a rough but reliable count for our own PDFs
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
