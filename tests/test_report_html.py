"""HTML report structure: self-contained, accessible charts, selectable sections, print CSS."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from lungtrack.report.charts import build_charts
from lungtrack.report.render_html import css_string, render_html
from lungtrack.report.render_text import render_text
from test_report_model import make


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.ids: list[str] = []
        self.svgs: list[dict[str, str]] = []
        self.imgs: list[dict[str, str]] = []
        self.figures = 0
        self.figcaptions = 0
        self.tags: list[str] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        for key in ("src", "href", "xlink:href", "data", "poster", "action", "srcset", "background"):
            if key in a:
                self.urls.append((tag, key, a[key]))
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "svg":
            self.svgs.append(a)
        if tag == "img":
            self.imgs.append(a)
        if tag == "figure":
            self.figures += 1
        if tag == "figcaption":
            self.figcaptions += 1
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def full():
    report, _ = make()
    charts = build_charts(report)
    return report, charts, render_html(report, charts=charts)


def test_self_contained_no_external_loads(full):
    _, _, html = full
    page = parse(html)
    loads = [u for u in page.urls if not u[2].startswith("#")]
    assert loads == [], loads
    assert "<script" not in html.lower() and "@font-face" not in html and "@import" not in html
    assert not re.search(r"url\(", page.style)
    assert not re.search(r"https?://", html), "not even a namespace or a DTD URL is left in the page"
    assert "default-src 'none'" in html  # a CSP as a second lock


def test_every_chart_has_alt_text_and_a_caption_with_numbers(full):
    report, charts, html = full
    page = parse(html)
    assert [c.key for c in charts] == ["tumor", "spider", "marker-CEA", "timeline"]
    assert len(page.svgs) == 4 and page.imgs == []
    assert page.figures == page.figcaptions == 4
    for svg in page.svgs:
        assert svg.get("role") == "img"
        assert re.search(r"\d", svg.get("aria-label", "")), "the alt text states numbers"
        assert float(re.match(r"[\d.]+", svg["width"]).group()) > 0
        assert float(re.match(r"[\d.]+", svg["height"]).group()) > 0
    tumor = charts[0]
    assert "66 mm at baseline" in tumor.caption and "42 mm on 2026-05-15" in tumor.caption
    assert "PD threshold 44.4 mm" in tumor.caption and "nadir 37 mm" in tumor.caption
    assert "2025-12-10 43 mm" in tumor.alt  # every value drawn, in the alt text
    cea = charts[2]
    assert "latest 5.6 on 2026-06-01" in cea.caption and "upper limit of normal (2.5)" in cea.caption
    assert "doubling time" in cea.caption
    spider = charts[1]
    assert "liver S6" in spider.caption and "Growing from its own nadir: liver S6 (9 mm → 15 mm)" in spider.caption
    timeline = charts[3]
    assert "gefitinib from 2025-09-20 ongoing" in timeline.caption and "EGFR T790M detected 2026-07-28" in timeline.caption


def test_chart_ids_do_not_collide_between_charts(full):
    _, charts, _ = full
    seen: dict[str, str] = {}
    for c in charts:
        for ident in re.findall(r'\sid="([^"]+)"', c.svg):
            assert seen.setdefault(ident, c.key) == c.key, f"id {ident} used by {seen[ident]} and {c.key}"


def test_print_css(full):
    _, _, html = full
    css = parse(html).style
    assert re.search(r"@page \{\s*size: auto;", css)  # the printer's paper: A4 or Letter
    assert "@top-left" in css and "@top-right" in css and "counter(pages)" in css
    assert re.search(r"tr, \.finding, figure, \.keep \{ break-inside: avoid", css)
    assert "thead { display: table-header-group; }" in css
    assert "size: A4" in render_html(full[0], paper="a4", charts=full[1])
    assert "size: letter" in render_html(full[0], paper="letter", charts=full[1])


def test_running_header_states_patient_range_and_time(full):
    report, _, html = full
    assert 'content: "Ann · all records, 2025-09-02 to 2026-08-12"' in html
    assert 'content: "generated 2026-08-12 07:30 UTC"' in html


def test_severity_is_a_word_and_a_symbol(full):
    _, _, html = full
    assert "‼ ALERT" in html and "▲ WATCH" in html
    assert re.search(r'class="finding alert"', html)


def test_sections_are_selectable():
    report, _ = make(sections=("summary", "questions"))
    html = render_html(report)
    page = parse(html)
    assert "summary" in page.ids and "questions" in page.ids
    for absent in ("findings", "due", "charts", "response", "markers", "biopsies", "tables", "finding-details"):
        assert absent not in page.ids
    assert page.svgs == []
    txt = render_text(report)
    assert "AT A GLANCE" in txt and "QUESTIONS TO BRING" in txt and "FINDINGS" not in txt


def test_tables_start_on_a_new_page_only_after_page_one():
    report, _ = make(sections=("response", "tables"))
    html = render_html(report)
    assert 'class="page-break" id="response"' not in html  # nothing before it: no blank first page
    report2, _ = make()
    assert '<section class="page-break" id="response">' in render_html(report2, charts=[])


def test_hostile_patient_name_cannot_break_out():
    report, _ = make()
    evil = replace(report, patient={**report.patient, "name": 'Ann "</style><script>alert(1)</script>'})
    html = render_html(evil, charts=[])
    assert "<script>" not in html
    assert html.count("</style>") == 1
    assert css_string('a"b\\c</style>') == '"a\\22 b\\5C c\\3C /style\\3E "'


def test_acknowledged_findings_are_marked():
    report, _ = make()
    fid = report.findings[0]["id"]
    acked, _ = make(acks={fid: {"at": "2026-08-13T10:00:00Z", "note": "seen by Dr Okafor"}})
    html = render_html(acked, charts=[])
    assert "✓ acknowledged 2026-08-13" in html and "seen by Dr Okafor" in html


def test_markdown_and_text_agree_with_html(full):
    report, _, html = full
    md = render_text(report, markdown=True)
    txt = render_text(report)
    flat = lambda text: " ".join(text.split())  # noqa: E731 - both wrap at 80 columns
    for needle in ("-36.4 % from baseline", "A sum of 44.4 mm or more", "Could we discuss re-testing"):
        assert needle in flat(md) and needle in flat(txt)
    assert max(len(line) for line in (md + txt).splitlines()) <= 80
    assert "| Date | Sum (mm) |" in md
    assert "## Questions to bring to the next appointment" in md
