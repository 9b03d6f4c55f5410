"""The report as data: numbers, date range, sections, questions (no store, no browser)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from lungtrack.core.config import RulesConfig
from lungtrack.core.engine import evaluate
from lungtrack.core.history import (
    BiopsyFinding, History, ImagingStudy, Lesion, MarkerResult, Measurement, PatientInfo, TherapyLine,
)
from lungtrack.enums import BiopsyResult, Marker, Sample, SmokingStatus
from lungtrack.errors import InputError
from lungtrack.report.model import (
    SECTIONS, build_questions, build_report, discuss_topic, fmt_mm, fmt_pct, parse_sections, pd_threshold_mm,
)
from lungtrack.services import PatientEvaluation

TODAY = date(2026, 8, 12)
GEN = datetime(2026, 8, 12, 7, 30, tzinfo=timezone.utc)


def history() -> History:
    """Ann's story in small: baseline 66 mm, PR, then one lesion grows; CEA falls then rises."""
    lesions = (Lesion(1, "RUL mass", "lung"), Lesion(2, "liver S6", "liver"), Lesion(3, "4R", "lymph node", is_node=True))

    def scan(i: int, d: date, a: float, b: float, c: float) -> ImagingStudy:
        return ImagingStudy(id=i, date=d, measurements=(Measurement(1, a), Measurement(2, b), Measurement(3, c)))

    studies = (scan(1, date(2025, 9, 15), 32, 18, 16), scan(2, date(2025, 12, 10), 22, 12, 9),
               scan(3, date(2026, 2, 18), 20, 9, 8), scan(4, date(2026, 5, 15), 19, 15, 8))
    cea = [(date(2025, 9, 10), 12.4), (date(2025, 12, 8), 3.1), (date(2026, 4, 6), 2.9), (date(2026, 5, 4), 3.8),
           (date(2026, 6, 1), 5.6)]
    markers = tuple(MarkerResult(i, d, Marker.CEA, v, "ng/mL") for i, (d, v) in enumerate(cea, 1))
    biopsies = (
        BiopsyFinding(1, date(2026, 1, 15), Sample.PLASMA, "EGFR", "T790M", BiopsyResult.NOT_DETECTED),
        BiopsyFinding(2, date(2026, 7, 28), Sample.PLASMA, "EGFR", "T790M", BiopsyResult.DETECTED, vaf=0.8),
    )
    return History(
        patient=PatientInfo(1, "Ann", diagnosis_date=date(2025, 9, 2), histology="adenocarcinoma",
                            drivers=("EGFR exon 19 deletion",), smoking=SmokingStatus.NEVER),
        lines=(TherapyLine(1, "gefitinib", date(2025, 9, 20)),), lesions=lesions, studies=studies,
        markers=markers, biopsies=biopsies)


def make(h: History | None = None, *, since: date | None = None, acks: dict | None = None, sections=SECTIONS):
    h = h or history()
    pe = PatientEvaluation(history=h, evaluation=evaluate(h, TODAY), acks=acks or {})
    return build_report(pe, today=TODAY, generated_at=GEN, since=since, sections=sections), pe


# ------------------------------------------------------------------ PD threshold: both criteria


@pytest.mark.parametrize("nadir, expected", [
    (20.0, 25.0),  # +5 mm (25) beats +20 % (24): the absolute criterion decides
    (25.0, 30.0),  # both give 30: the two criteria meet exactly at 25 mm
    (30.0, 36.0),  # +20 % (36) beats +5 mm (35)
    (44.0, 52.8),  # the demo: 44 x 1.2 = 52.8 > 49
    (0.0, 5.0),    # after a complete response only the +5 mm rule can be met
])
def test_pd_threshold_is_the_larger_of_both_criteria(nadir, expected):
    assert pd_threshold_mm(nadir, RulesConfig()) == pytest.approx(expected)


def test_pd_threshold_follows_the_configured_thresholds():
    from lungtrack.core.config import RecistConfig

    cfg = replace(RulesConfig(), recist=RecistConfig(pd_increase_pct=10.0, pd_increase_min_mm=2.0))
    assert pd_threshold_mm(44.0, cfg) == pytest.approx(48.4)
    assert pd_threshold_mm(10.0, cfg) == pytest.approx(12.0)


# ------------------------------------------------------------------ numbers


def test_latest_response_is_the_evaluations_last_timepoint():
    report, pe = make()
    tp = pe.evaluation.responses[0].timepoints[-1]
    lr = report.latest_response
    assert lr["date"] == "2026-05-15" == tp.date.isoformat()
    # 32+18+16 = 66 at baseline; 19+15+8 = 42 now; nadir 20+9+8 = 37 (2026-02-18)
    assert lr["baseline_sum_mm"] == 66 and lr["sum_mm"] == 42
    assert lr["change_from_baseline_pct"] == pytest.approx((42 - 66) / 66 * 100, abs=1e-3)
    assert lr["current_nadir_mm"] == 37 and lr["current_nadir_date"] == "2026-02-18"
    assert lr["pd_threshold_mm"] == pytest.approx(44.4)  # 37 x 1.2 = 44.4 > 42
    assert [p["sum_mm"] for p in lr["sum_trend"]] == [66, 43, 37, 42]
    assert lr["overall"] == tp.overall


def test_formats_match_the_response_command():
    assert fmt_pct(-37.1795) == "-37.2 %"
    assert fmt_pct(11.3636) == "+11.4 %"
    assert fmt_pct(None) == "—"
    assert fmt_mm(49.0) == "49 mm" and fmt_mm(52.8) == "52.8 mm"


def test_markers_have_arrow_and_doubling_time():
    report, pe = make()
    cea = report.markers[0]
    k = pe.evaluation.kinetics[0]
    assert cea["marker"] == "CEA" and cea["latest"] == 5.6 and cea["latest_date"] == "2026-06-01"
    assert cea["trend"] == "rising" and cea["arrow"] == "↑"
    assert cea["doubling_time_days"] == pytest.approx(k.doubling_time_days, abs=0.01)
    assert cea["doubling_time_text"].endswith("weeks")
    # the series for the chart keeps the value before the line began (the fall on treatment)
    assert report.marker_series[0]["values"][0] == {**report.marker_series[0]["values"][0], "date": "2025-09-10", "value": 12.4}


def test_findings_are_those_of_check_with_ack_marks():
    fid = None
    report, pe = make()
    assert [f["id"] for f in report.findings] == [f.id for f in pe.evaluation.findings]
    fid = report.findings[0]["id"]
    acked, _ = make(acks={fid: {"at": "2026-08-13T10:00:00Z", "note": "discussed"}})
    f0 = acked.findings[0]
    assert f0["acknowledged"] is True and f0["acknowledgement_note"] == "discussed"
    assert all(fid not in q["finding_ids"] for q in acked.questions)  # discussed: no question any more
    assert acked.counts["open_findings"] == report.counts["open_findings"] - 1


def test_latest_biopsy_groups_the_last_date():
    report, _ = make()
    assert report.latest_biopsy["date"] == "2026-07-28"
    assert [r["text"] for r in report.latest_biopsy["results"]] == ["EGFR T790M detected, VAF 0.8 %"]


# ------------------------------------------------------------------ date range


def test_since_cuts_tables_but_keeps_the_baseline_and_the_findings():
    full, _ = make()
    cut, _ = make(since=date(2026, 2, 12))
    rows = cut.responses[0]["rows"]
    assert [r["date"] for r in rows] == ["2025-09-15", "2026-02-18", "2026-05-15"]  # baseline kept
    assert rows[0]["is_baseline"] and cut.responses[0]["omitted_before_since"] == 1
    assert [v["date"] for v in cut.marker_series[0]["values"]] == ["2026-04-06", "2026-05-04", "2026-06-01"]
    assert [b["date"] for b in cut.biopsies] == ["2026-07-28"]
    # findings dated before --since are left out (and counted); the due findings are the current state
    kept = [f for f in full.findings if f["date"] >= "2026-02-12" or f["rule"].startswith("timing.")]
    assert cut.findings == kept and len(kept) < len(full.findings)
    assert cut.counts["findings_before_since"] == len(full.findings) - len(kept)
    assert cut.latest_response["pd_threshold_mm"] == full.latest_response["pd_threshold_mm"]
    assert cut.range_text == "records from 2026-02-12 to 2026-08-12"
    assert full.range_text == "all records, 2025-09-02 to 2026-08-12"
    assert all(e["date"] >= "2026-02-12" for e in cut.timeline["events"])


def test_since_on_the_day_of_a_scan_includes_it():
    cut, _ = make(since=date(2026, 5, 15))
    assert [r["date"] for r in cut.responses[0]["rows"]] == ["2025-09-15", "2026-05-15"]
    cut2, _ = make(since=date(2026, 5, 16))
    assert [r["date"] for r in cut2.responses[0]["rows"]] == ["2025-09-15"]


# ------------------------------------------------------------------ sections


def test_parse_sections():
    assert parse_sections(None) == SECTIONS
    assert parse_sections("all") == SECTIONS
    assert parse_sections("tables, summary") == ("summary", "tables")  # page order, not typing order
    with pytest.raises(InputError, match="--sections"):
        parse_sections("summary,graphs")
    with pytest.raises(InputError):
        parse_sections(",")


# ------------------------------------------------------------------ questions


def _f(rule, severity="watch", discuss="Topic to discuss: x.", ack=False, title="T", fid=None):
    return {"rule": rule, "severity": severity, "discuss": discuss, "acknowledged": ack, "title": title,
            "id": fid or f"{rule}:s:2026-01-01"}


def test_discuss_topic_takes_the_topic_without_asides():
    assert discuss_topic("Blah (50 %). Topic to discuss: re-testing and options (in AURA3, x: 1 vs 2).") == \
        "re-testing and options"
    assert discuss_topic("Topic to discuss with your care team: why it grows.") == "why it grows"
    assert discuss_topic("Discuss with your care team: what this means.") == "what this means"
    assert discuss_topic("If it took place, mark it as done. Otherwise, topic to discuss: rescheduling it with "
                         "your care team.") == "rescheduling it"
    assert discuss_topic("No topic here.") is None


def test_questions_only_for_open_watch_and_alert_findings():
    qs = build_questions([
        _f("variant.resistance", "alert", "Meaning. Topic to discuss: re-testing."),
        _f("recist.response", "info"),
        _f("marker.rising", ack=True),
        _f("entry.check", discuss="Check the entry; topic to discuss: nothing."),
        _f("engine.rule_error"),
        _f("lesion.mixed_response", discuss="No marker in this text", title="One lesion growing"),
    ])
    assert [q["question"] for q in qs] == ["Could we discuss re-testing?",
                                           "Could we discuss this finding: One lesion growing?"]
    assert all(q["question"].endswith("?") for q in qs)


def test_due_findings_become_one_question():
    qs = build_questions([_f("timing.imaging_due", discuss="Topic to discuss: when the next scan is planned."),
                          _f("timing.marker_due", discuss="Topic to discuss: whether and when the next CEA test is planned.",
                             fid="timing.marker_due:cea:2026-01-01")])
    assert len(qs) == 1
    assert qs[0]["question"] == ("Could we discuss when the next scan is planned, and whether and when the next "
                                 "CEA test is planned?")
    assert len(qs[0]["finding_ids"]) == 2


def test_questions_are_never_advice():
    report, _ = make()
    assert report.questions
    for q in report.questions:
        assert q["question"].startswith("Could we discuss ")
        lowered = q["question"].lower()
        assert not any(w in lowered for w in ("you should", "you must", "start ", "stop taking", "switch to"))


def test_to_dict_is_json_ready():
    import json

    report, _ = make()
    data = report.to_dict()
    json.dumps(data)  # no dates or enums left
    assert data["generated_at"] == "2026-08-12 07:30 UTC"
    assert data["sections"] == list(SECTIONS)
