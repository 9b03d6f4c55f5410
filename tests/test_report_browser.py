"""The printable report in a real browser: headless Chromium prints the HTML report to PDF.

Proves the five things issue 5 asks for: nothing is fetched from the network, the page count
is sensible, every chart is there with a non-zero size, the key numbers in the PDF's text layer
equal those of ``lungtrack response --json`` / ``check --json``, and a long history (5 years of
monthly CEA, 30 scans) still prints cleanly.

Network: Chromium runs with ``--proxy-server`` pointing at a socket server in this test that
records every connection attempt (with ``<-loopback>`` so that even local addresses go through
it).  A positive control - a page with an external image - shows that the recorder catches a
fetch, so the "nothing fetched" assertion can fail.  Chromium itself phones home even with
``--disable-background-networking`` and ``--disable-component-update`` (component updater,
network time, account check); those requests go to the exact service hosts listed in
``CHROMIUM_OWN`` and are not made by the page, so they are set aside by exact host name (never
by a wildcard: fonts.gstatic.com or a CDN would still count as a fetch).  lungtrack's own PDF
engine points Chromium at a dead proxy, so there even those requests cannot leave the machine.
"""

from __future__ import annotations

import io
import re
import shutil
import socket
import subprocess
import threading
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.loopback_server]

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
PDFTOTEXT = shutil.which("pdftotext")
needs_tools = pytest.mark.skipif(CHROMIUM is None or PDFTOTEXT is None,
                                 reason="needs headless Chromium and pdftotext (poppler-utils)")
TODAY = "2026-08-12"
CHROMIUM_OWN = frozenset({
    "update.googleapis.com", "clients2.google.com", "accounts.google.com", "clientservices.googleapis.com",
    "optimizationguide-pa.googleapis.com", "safebrowsingohttpgateway.googleapis.com", "redirector.gvt1.com",
    "edgedl.me.gvt1.com", "android.clients.google.com", "content-autofill.googleapis.com",
})
QUIET_FLAGS = ("--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
               "CertificateTransparencyComponentUpdater,AutofillServerCommunication",
               "--disable-client-side-phishing-detection", "--disable-domain-reliability", "--disable-breakpad",
               "--metrics-recording-only", "--no-default-browser-check", "--disable-default-apps")


def hosts(seen: list[bytes]) -> list[str]:
    """The host of each recorded proxy request (``CONNECT host:443`` or ``GET http://host/...``)."""
    out = []
    for raw in seen:
        first = raw.split(b"\r\n", 1)[0].decode("latin-1")
        m = re.match(r"CONNECT ([^:\s]+)", first) or re.match(r"[A-Z]+ \w+://([^/:\s]+)", first)
        out.append(m.group(1).lower() if m else first or "<unknown>")
    return out


def page_fetches(seen: list[bytes]) -> list[str]:
    return [h for h in hosts(seen) if h not in CHROMIUM_OWN]


class Recorder:
    """A TCP server that records every connection (a stand-in proxy that answers nothing)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(1.0)
            try:
                self.seen.append(conn.recv(2048) or b"<connected>")
            except OSError:
                self.seen.append(b"<connected>")
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def print_pdf(html_file: Path, pdf_file: Path, proxy_port: int, profile: Path) -> None:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{proxy_port}",
           "--proxy-bypass-list=<-loopback>", "--no-pdf-header-footer", *QUIET_FLAGS, f"--print-to-pdf={pdf_file}",
           html_file.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=180, check=False)
    assert pdf_file.is_file() and pdf_file.stat().st_size > 0, "Chromium did not print a PDF"


def pdf_pages_text(pdf_file: Path) -> list[str]:
    out = subprocess.run([PDFTOTEXT, "-layout", str(pdf_file), "-"], capture_output=True, check=True).stdout
    return out.decode("utf-8").split("\f")[:-1] if out.endswith(b"\f") else out.decode("utf-8").split("\f")


def flat(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


class Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.svgs: list[dict[str, str]] = []
        self.imgs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href", "xlink:href", "data", "poster", "action", "srcset"):
            if a.get(key):
                self.urls.append(a[key])
        if tag == "svg":
            self.svgs.append({k: v or "" for k, v in a.items()})
        if tag == "img":
            self.imgs += 1


def _pt(value: str) -> float:
    m = re.match(r"([0-9.]+)", value or "")
    return float(m.group(1)) if m else 0.0


@pytest.fixture
def demo_files(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY)
    assert cli("demo", "--quiet").code == 0
    html = tmp_path / "report.html"
    r = cli("report", "--format", "html", "-o", str(html))
    assert r.code == 0, r
    return html, cli("response", "--json").json(), cli("check", "--json").json()


@needs_tools
def test_positive_control_the_recorder_sees_an_external_fetch(tmp_path):
    page = tmp_path / "fetch.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://example.test/x.png">'
                    '<link rel="stylesheet" href="http://fonts.example.test/a.css"></body></html>')
    rec = Recorder()
    try:
        print_pdf(page, tmp_path / "fetch.pdf", rec.port, tmp_path / "profile")
    finally:
        rec.close()
    assert "example.test" in page_fetches(rec.seen), "the recorder missed a page fetch: the network check would prove nothing"
    assert "fonts.example.test" in page_fetches(rec.seen)


@needs_tools
def test_demo_report_prints_cleanly_and_loads_nothing(demo_files, tmp_path):
    html_file, response, check = demo_files
    html = html_file.read_text(encoding="utf-8")

    # (1) nothing fetched: statically no external reference, and the browser made no connection
    refs = Refs()
    refs.feed(html)
    assert not [u for u in refs.urls if not u.startswith("#")], refs.urls
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html), "CSS must not load anything"
    assert "@font-face" not in html and "<script" not in html.lower()
    assert not re.search(r"(?:src|href)\s*=\s*['\"]?https?://", html, re.IGNORECASE)
    pdf = tmp_path / "report.pdf"
    rec = Recorder()
    try:
        print_pdf(html_file, pdf, rec.port, tmp_path / "profile")
    finally:
        rec.close()
    assert page_fetches(rec.seen) == [], f"the report made Chromium fetch: {rec.seen[:3]}"

    # (2) a sensible page count: page 1 at a glance, charts, tables (+ finding details)
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert 2 <= len(reader.pages) <= 6
    pages = pdf_pages_text(pdf)
    assert len(pages) == len(reader.pages)

    # every printed page states the patient, the date range and when it was generated
    for i, text in enumerate(pages, 1):
        t = flat(text)
        assert "Ann · all records, 2025-09-02 to 2026-08-12" in t, f"page {i} lacks the running header"
        assert re.search(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", t), f"page {i} lacks the generation time"
        assert f"page {i} of {len(pages)}" in t

    # page 1 is the 30-second read: therapy, latest response, findings, due, questions
    p1 = flat(pages[0])
    for needle in ("gefitinib since 2025-09-20", "partial response", "‼ ALERT", "What is due",
                   "Questions to bring to the next appointment", "Could we discuss"):
        assert needle in p1, needle

    # (3) every chart is there with a non-zero size: SVG sizes in the HTML, and the text drawn
    # inside each SVG (kept as text) is in the PDF's text layer, on the charts page
    assert len(refs.svgs) == 4 and refs.imgs == 0
    for svg in refs.svgs:
        assert _pt(svg.get("width")) > 50 and _pt(svg.get("height")) > 50, svg
        assert svg.get("role") == "img" and len(svg.get("aria-label", "")) > 40
    chart_page = next(i for i, t in enumerate(pages) if "Charts" in t and "spider plot" in t)
    ct = flat(pages[chart_page])
    for drawn in ("Tumour burden on gefitinib (RECIST 1.1)", "Each lesion on gefitinib (spider plot)",
                  "CEA, log scale — doubling time 8.4 weeks", "Therapy timeline", "PD threshold 52.8 mm"):
        assert drawn in ct, drawn
    for caption in ("Tumour burden.", "Spider plot.", "CEA trend.", "Therapy timeline."):
        assert caption in ct, caption
    content = reader.pages[chart_page].get_contents().get_data()
    assert len(content) > 20000, "the charts page has almost no drawing operations"

    # (4) key numbers in the text layer equal those of response --json and check --json
    all_text = flat(" ".join(pages))
    line = response["lines"][0]
    last = line["timepoints"][-1]
    base = line["timepoints"][0]
    assert f"Sum of target diameters {last['sum_mm']:g} mm" in all_text
    assert f"{last['change_from_baseline_pct']:+.1f} % from baseline ({base['sum_mm']:g} mm" in all_text
    assert f"{last['change_from_nadir_pct']:+.1f} %" in all_text
    for tp in line["timepoints"]:  # every row of the response table
        assert tp["date"] in all_text and f"{tp['sum_mm']:g}" in all_text
    findings = check["patients"][0]["findings"]
    cea = next(f for f in findings if f["rule"] == "marker.rising")
    assert f"{cea['data']['latest']:g} ng/mL on {cea['data']['values'][-1]['date']}" in all_text
    weeks = round(cea["data"]["doubling_time_days"] / 7, 1)  # days in the JSON, weeks on paper
    assert f"doubling time {weeks:g} weeks" in all_text
    for f in findings:
        assert flat(f["title"]) in all_text, f["title"]
    pd_threshold = max(line["timepoints"][2]["sum_mm"] * 1.2, line["timepoints"][2]["sum_mm"] + 5)  # nadir 44
    assert f"{pd_threshold:g} mm" in all_text


def _long_history():
    """5 years of monthly CEA and 30 scans on one line, 3 lesions, one growing late."""
    from lungtrack.core.history import (
        History, ImagingStudy, Lesion, MarkerResult, Measurement, PatientInfo, TherapyLine,
    )
    from lungtrack.enums import Marker, SmokingStatus

    start = date(2021, 6, 1)
    patient = PatientInfo(id=1, name="Bea", diagnosis_date=date(2021, 5, 10), histology="adenocarcinoma",
                          drivers=("ALK fusion",), smoking=SmokingStatus.NEVER)
    lines = (TherapyLine(id=1, drug="alectinib", start=start),)
    lesions = (Lesion(1, "RUL mass", "lung"), Lesion(2, "liver S4", "liver"), Lesion(3, "7", "lymph node", is_node=True))
    studies = []
    for i in range(30):
        d = start - timedelta(days=5) + timedelta(days=61 * i)
        shrink = max(0.55, 1 - 0.06 * i)
        sizes = (round(40 * shrink, 1), round(22 * shrink + (0.6 * (i - 24) if i > 24 else 0), 1), round(18 * shrink, 1))
        studies.append(ImagingStudy(id=i + 1, date=d, measurements=tuple(Measurement(k + 1, s) for k, s in enumerate(sizes))))
    markers = []
    for i in range(60):
        d = start - timedelta(days=10) + timedelta(days=30 * i)
        v = round(max(2.0, 25 * 0.8 ** i) + (0.4 * (i - 52) if i > 52 else 0), 2)
        markers.append(MarkerResult(id=i + 1, date=d, marker=Marker.CEA, value=v, unit="ng/mL"))
    return History(patient=patient, lines=lines, lesions=lesions, studies=tuple(studies), markers=tuple(markers))


@needs_tools
def test_long_history_still_prints_cleanly(tmp_path):
    from lungtrack.core.engine import evaluate
    from lungtrack.report.model import build_report
    from lungtrack.report.render_html import render_html
    from lungtrack.services import PatientEvaluation

    history = _long_history()
    today = date(2026, 6, 20)
    pe = PatientEvaluation(history=history, evaluation=evaluate(history, today))
    report = build_report(pe, today=today, generated_at=datetime(2026, 6, 20, 9, 0, tzinfo=timezone.utc))
    assert len(report.responses[0]["rows"]) == 30
    assert sum(len(s["values"]) for s in report.marker_series) == 60
    html = render_html(report, paper="a4")
    assert re.search(r"tr, \.finding, figure, \.keep \{ break-inside: avoid", html)
    html_file = tmp_path / "long.html"
    html_file.write_text(html, encoding="utf-8")
    pdf = tmp_path / "long.pdf"
    rec = Recorder()
    try:
        print_pdf(html_file, pdf, rec.port, tmp_path / "profile")
    finally:
        rec.close()
    assert page_fetches(rec.seen) == []
    pages = pdf_pages_text(pdf)
    assert 3 <= len(pages) <= 12, len(pages)
    for i, text in enumerate(pages, 1):
        assert "Bea · all records" in text and f"page {i} of {len(pages)}" in flat(text)

    # no table row is split across pages: each response-table row (date ... sum ... response)
    # and each CEA row (date ... value) is found whole on one line of one page
    lines_by_page = [[" ".join(l.split()) for l in t.splitlines()] for t in pages]

    def row_whole(date_text: str, *cells: str) -> bool:
        return any(l.startswith(date_text) and all(c in l for c in cells) for ls in lines_by_page for l in ls)

    for row in report.responses[0]["rows"]:
        assert row_whole(row["date"], f"{row['sum_mm']:g}", row["overall_label"] if row["is_baseline"] else row["overall"]), row["date"]
    from lungtrack.report.model import fmt_value

    for v in report.marker_series[0]["values"]:
        assert row_whole(v["date"], fmt_value(v["value"]), "ng/mL"), v["date"]
    # the charts page: all three data charts drawn
    chart_text = flat(" ".join(pages))
    for drawn in ("Tumour burden on alectinib (RECIST 1.1)", "spider plot", "CEA, log scale", "Therapy timeline"):
        assert drawn in chart_text, drawn


# --------------------------------------------------------------------------- a 2-line, 10-year history


def pdf_words(pdf_file: Path) -> list[dict]:
    """Every word of the PDF with its page and box (pdftotext -bbox)."""
    out = subprocess.run([PDFTOTEXT, "-bbox", str(pdf_file), "-"], capture_output=True, check=True).stdout.decode("utf-8")
    words, page = [], 0
    for m in re.finditer(r'<page width="([0-9.]+)" height="([0-9.]+)">|<word xMin="([0-9.]+)" yMin="([0-9.]+)" '
                         r'xMax="([0-9.]+)" yMax="([0-9.]+)">([^<]*)</word>', out):
        if m.group(1):
            page += 1
            height = float(m.group(2))
            continue
        x0, y0, x1, y1 = (float(m.group(k)) for k in range(3, 7))
        words.append({"page": page, "x0": x0, "y0": y0, "x1": x1, "y1": y1, "text": m.group(7), "height": height})
    return words


def _overlaps(words: list[dict]) -> list[tuple[str, str]]:
    """Pairs of words whose boxes overlap by more than a sliver (colliding labels)."""
    bad = []
    for i, a in enumerate(words):
        for b in words[i + 1:]:
            w = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
            h = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
            if w > 1.0 and h > 1.5:
                bad.append((a["text"], b["text"]))
    return bad


def _print_ten_years(tmp_path: Path, name: str, **kw) -> tuple[Path, list[str], list[dict]]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from histories import TODAY as TEN_TODAY
    from histories import ten_year_evaluation

    from lungtrack.report.model import build_report
    from lungtrack.report.render_html import render_html

    report = build_report(ten_year_evaluation(), today=TEN_TODAY,
                          generated_at=datetime(2026, 8, 12, 9, 0, tzinfo=timezone.utc), **kw)
    html_file = tmp_path / f"{name}.html"
    html_file.write_text(render_html(report, paper="a4"), encoding="utf-8")
    pdf = tmp_path / f"{name}.pdf"
    rec = Recorder()
    try:
        print_pdf(html_file, pdf, rec.port, tmp_path / f"profile-{name}")
    finally:
        rec.close()
    assert page_fetches(rec.seen) == []
    return pdf, pdf_pages_text(pdf), pdf_words(pdf)


@needs_tools
def test_ten_years_on_two_lines_print_the_whole_history(tmp_path):
    pdf, pages, words = _print_ten_years(tmp_path, "cleo")
    assert 3 <= len(pages) <= 10, len(pages)
    texts = [flat(t) for t in pages]

    # page 1 leads with what needs attention now; the acknowledged T790M of line 1 and the
    # progression of line 1 are not there, but in the History section further on
    p1 = texts[0]
    assert "Progression by RECIST 1.1" in p1 and "CEA rising" in p1
    due_at = p1.index("What is due State")  # the section heading and its table's header
    assert p1.index("Findings") < p1.index("Progression by RECIST 1.1") < due_at
    findings_part = p1[p1.index("Findings"):due_at]
    assert "T790M" not in findings_part and "2021-02-20" not in findings_part
    assert "acknowledged or earlier-line" in findings_part
    history_page = next(t for t in texts if "History: acknowledged findings and findings of earlier lines" in t)
    history = history_page[history_page.index("History: acknowledged"):]
    assert "EGFR T790M detected" in history and "earlier line: gefitinib" in history
    assert "acknowledged 2021-03-01" in history and "Progression by RECIST 1.1 (earlier line: gefitinib)" in history

    # the CT booked for 2026-08-19 (after it fell overdue) is one row that says both, not an OVERDUE
    # row beside a separate row for its own booking
    due = p1[due_at:p1.index("Questions to bring")]
    assert "CT scan: overdue by 23 days (due by 2026-07-20); booked for 2026-08-19 (CT chest/abdomen)" in due
    assert due.count("CT chest/abdomen") == 1 and "DUE SOON" not in due

    # the burden chart: both lines, each with its own baseline, nadir and PD threshold, line change marked
    charts = next(i for i, t in enumerate(texts) if "Tumour burden over every line of therapy" in t)
    ct = texts[charts]
    for needle in ("line 1: gefitinib from 2016-09-01", "line 2: osimertinib from 2021-03-20",
                   "baseline 83 mm", "baseline 61 mm", "nadir 42.7 mm", "nadir 34 mm",
                   "PD threshold 51.24 mm", "PD threshold 40.8 mm", "line change"):
        assert needle in ct, needle
    # the spider plot: every lesion of the current line, the node and the new lesion included
    for needle in ("Each lesion on osimertinib (spider plot)", "RUL mass (-50.0 %)", "4R (node)",
                   "liver S8 (new)", "new: liver S8"):
        assert needle in ct, needle
    # no two words of the charts page collide (labels on labels, labels on axes' numbers)
    chart_words = [w for w in words if w["page"] == charts + 1]
    assert _overlaps(chart_words) == []
    # the charts fill their page: the lowest text is in the bottom quarter
    assert max(w["y1"] for w in chart_words) > 0.75 * chart_words[0]["height"]


@needs_tools
def test_ten_years_since_six_months_limits_findings_and_leaves_no_empty_page(tmp_path):
    pdf, pages, words = _print_ten_years(tmp_path, "cleo-6m", since=date(2026, 2, 12),
                                         identifiers={"full_name": "Cleo Example", "born": "1961-05-30",
                                                      "record_name": "Cleo"})
    texts = [flat(t) for t in pages]
    assert 2 <= len(texts) <= 5
    everything = " ".join(texts)
    assert "2021-02-25" not in everything and "T790M detected" not in everything  # a finding of 2021
    assert "dated before 2026-02-12 are not shown" in texts[0]
    assert "Name Cleo Example" in texts[0] and "Date of birth 1961-05-30" in texts[0]
    for i in range(1, len(pages) + 1):  # every page carries real content, not just the running header
        body = [w for w in words if w["page"] == i and 40 < w["y0"] < w["height"] - 40]
        assert len(body) > 80, (i, len(body))
