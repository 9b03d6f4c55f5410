"""lungtrack summary / trend / report on the demo store: output, JSON, files, errors."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

TODAY = "2026-08-12"


def test_summary_json_has_the_same_findings_as_check(demo):
    summary = demo("summary", "--json")
    assert summary.code == 0
    data = summary.json()
    check = demo("check", "--json").json()["patients"][0]
    strip = lambda fs: [{k: v for k, v in f.items() if k not in ("severity_word", "symbol", "earlier_line", "history", "booked_on")} for f in fs]  # noqa: E731
    assert strip(data["findings"]) == check["findings"]
    assert data["therapy"] == check["current_line"]
    assert data["therapy"]["trial"]["median_pfs_months"] == 9.5
    assert data["latest_response"]["overall"] == "PR" and data["latest_response"]["sum_mm"] == 49
    assert data["latest_response"]["pd_threshold_mm"] == 52.8  # nadir 44: 44 x 1.2 = 52.8 > 44 + 5
    assert data["markers"][0]["marker"] == "CEA" and data["markers"][0]["arrow"] == "↑"
    assert data["latest_biopsy"]["date"] == "2026-07-28"
    assert len(data["questions"]) == 5
    assert {d["key"] for d in data["due"]} >= {"imaging", "marker:CEA"}


def test_summary_text(demo):
    r = demo("summary")
    assert r.code == 0
    for needle in ("Ann — summary", "gefitinib since 2025-09-20", "‼ ALERT", "What is due",
                   "Questions to bring to the next appointment", "1. Could we discuss"):
        assert needle in r.stdout, needle
    assert "\x1b[" not in r.stdout  # not a TTY: no colour codes


def test_trend_marker_json_and_table(demo):
    data = demo("trend", "cea", "--json").json()
    assert data["kind"] == "marker" and data["marker"] == "CEA" and data["unit"] == "ng/mL"
    assert [v["value"] for v in data["values"]] == [12.4, 7.9, 3.1, 3.0, 2.9, 3.8, 5.6]
    assert data["uln"] == 2.5 and data["doubling_time_text"] == "8.4 weeks"
    r = demo("trend", "CEA")
    assert r.code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split("\t") == ["date", "value", "unit", ""]
    assert "2026-06-01\t5.6\tng/mL\tabove ULN" in lines
    assert "doubling time 8.4 weeks" in r.stdout


def test_trend_tumor(demo):
    data = demo("trend", "tumor", "--json").json()
    assert [p["sum_mm"] for p in data["points"]] == [78, 51, 44, 49]
    assert data["baseline_sum_mm"] == 78 and data["nadir_mm"] == 44 and data["pd_threshold_mm"] == 52.8
    r = demo("trend", "tumour")
    assert "2026-05-15\t49\t-37.2 %\t+11.4 %\tPR" in r.stdout
    assert "PD threshold for the next scan: 52.8 mm" in r.stdout


def test_trend_chart_on_a_tty(demo, monkeypatch):
    from lungtrack.cli import common

    monkeypatch.setattr(common, "stdout_is_tty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    r = demo("trend", "cea")
    assert r.code == 0
    assert "CEA (ng/mL) — doubling time 8.4 weeks" in r.stdout
    assert "upper limit of normal 2.5" in r.stdout
    assert "\x1b[" not in r.stdout  # NO_COLOR


def test_trend_marker_without_values(demo):
    r = demo("trend", "nse")
    assert r.code == 0 and r.stdout == "" and "no NSE values recorded" in r.stderr


@pytest.mark.parametrize("args, field", [
    (("trend", "psa"), "WHAT"),
    (("report", "--format", "docx"), "--format"),
    (("report", "--since", "6 fortnights"), "--since"),
    (("report", "--since", "2999-01-01"), "--since"),
    (("report", "--sections", "summary,graphs"), "--sections"),
    (("report", "--paper", "a3"), "--paper"),
])
def test_errors_are_one_line_exit_2_and_write_nothing(demo, tmp_path, args, field):
    out = tmp_path / "out.html"
    r = demo(*args, *(("-o", str(out)) if args[0] == "report" else ()))
    assert r.code == 2, r
    assert r.stderr.startswith(f"Error: {field}") and r.stderr.count("\n") == 1
    assert not out.exists()
    assert r.stdout == ""


def test_report_html_file_is_private_and_announced(demo, tmp_path):
    out = tmp_path / "ann.html"
    r = demo("report", "-o", str(out))
    assert r.code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert r.stderr.strip() == f"Wrote {out}: response table, 4 charts, 8 findings, 5 questions for the visit."
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg ") == 4
    assert not list(tmp_path.glob(".ann.html.*"))  # no temporary file left behind


def test_report_default_name_for_html(demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = demo("report", "--sections", "summary")
    assert r.code == 0
    assert (tmp_path / f"ann-{TODAY}.html").is_file()
    assert "0 charts" not in r.stderr and "response table" not in r.stderr


def test_report_md_and_txt_to_stdout(demo):
    md = demo("report", "--format", "md", "--since", "6m")
    assert md.code == 0 and md.stderr == ""
    assert md.stdout.startswith("# Ann — treatment summary for the care team")
    assert "*Date range: records from 2026-02-12 to 2026-08-12" in md.stdout
    assert "| 2026-05-15 | 49 | -37.2 % | +11.4 % | PR |" in md.stdout
    assert "2025-12-10 |" not in md.stdout  # before --since
    txt = demo("report", "--format", "txt", "--sections", "questions", "-o", "-")
    lines = txt.stdout.splitlines()
    assert "QUESTIONS TO BRING TO THE NEXT APPOINTMENT" in lines[4:6]  # after the title and the date range
    assert max(len(line) for line in lines) <= 80
    assert "Could we discuss re-testing and third-generation EGFR TKI options?" in txt.stdout


def test_pdf_without_an_engine_says_so(demo, tmp_path, monkeypatch):
    import lungtrack.report.pdf as pdf

    monkeypatch.setattr(pdf, "weasyprint_available", lambda: False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("LUNGTRACK_CHROMIUM", raising=False)
    out = tmp_path / "a.pdf"
    r = demo("report", "--format", "pdf", "-o", str(out))
    assert r.code == 1
    assert "--format html" in r.stderr and "Chromium" in r.stderr and r.stderr.count("\n") == 1
    assert not out.exists()


@pytest.mark.browser
@pytest.mark.skipif(not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
                    reason="needs headless Chromium")
def test_report_pdf_with_chromium(demo, tmp_path):
    import lungtrack.report.pdf as pdf

    if pdf.weasyprint_available():  # pragma: no cover - this test is about the Chromium path
        pytest.skip("WeasyPrint is installed and would be used")
    out = tmp_path / "ann-2026-08.pdf"
    r = demo("report", "--patient", "Ann", "--since", "6m", "--format", "pdf", "-o", str(out))
    assert r.code == 0, r
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    pages = pdf.page_count(data)
    assert 2 <= pages <= 6
    # --since 6m leaves out the finding dated before 2026-02-12 (the partial response of December)
    assert r.stderr.strip().splitlines() == [
        f"PDF made with headless Chromium ({Path(pdf.find_chromium()).name}).",
        f"Wrote {out} ({pages} pages): response table, 4 charts, 7 findings, 5 questions for the visit."]


def test_a_test_booked_in_time_shows_as_booked_not_due(demo):
    """The demo's CT is due by 2026-08-14; booked for 2026-08-13 it is one BOOKED row, and the
    booking is not listed again as an appointment of its own."""
    assert demo("appointment", "add", "--date", "2026-08-13", "--kind", "imaging",
                "--description", "CT chest").code == 0
    txt = demo("report", "--format", "txt", "--sections", "due,questions").stdout
    flat = " ".join(txt.split())
    assert "BOOKED CT scan: booked for 2026-08-13 (CT chest) (due by 2026-08-14); last 2026-05-15" in flat
    assert flat.count("CT chest") == 1 and "Scan appointment" not in flat
    assert "when the next scan is planned" not in flat  # nothing to ask about a scan already booked
    data = demo("summary", "--json").json()
    ct = next(d for d in data["due"] if d["key"] == "imaging")
    assert ct["state"] == "booked" and ct["booked_on"] == "2026-08-13"


def test_trend_lines_and_lesions(demo, monkeypatch):
    data = demo("trend", "tumor", "--json").json()
    assert [ln["line"]["drug"] for ln in data["lines"]] == ["gefitinib"]
    assert demo("trend", "tumor", "--line", "1", "--json").json()["line"]["id"] == 1
    r = demo("trend", "tumor", "--line", "7")
    assert r.code == 2 and r.stderr.startswith("Error: --line") and "(1)" in r.stderr
    node = demo("trend", "lesion", "4r", "--json").json()
    assert node["label"] == "4R" and node["axis"] == "short axis"
    assert [p["size_mm"] for p in node["points"]] == [16, 9, 8, 8]
    table = demo("trend", "lesion", "liver S6")
    assert table.stdout.splitlines()[0].split("\t") == ["date", "size mm", "status", "line"]
    assert "2026-05-15\t15\tmeasured\tgefitinib" in table.stdout
    r = demo("trend", "lesion", "spleen")
    assert r.code == 2 and "liver S6" in r.stderr  # names the lesions there are
    assert demo("trend", "lesion").code == 2
    assert demo("trend", "cea", "extra").code == 2
    # on a terminal: the legend is printed under the chart, not over the data
    from lungtrack.cli import common

    monkeypatch.setattr(common, "stdout_is_tty", lambda: True)
    out = demo("trend", "tumor", env={"NO_COLOR": "1", "COLUMNS": "80"}).stdout
    lines = out.splitlines()
    axis = max(i for i, line in enumerate(lines) if "└" in line)
    legend = next(i for i, line in enumerate(lines) if line.startswith("Legend:"))
    assert legend > axis and "= baseline 78 mm" in out and "! PD threshold 52.8 mm" in out
    assert not any("Legend" in line or "baseline 78" in line for line in lines[:axis])
