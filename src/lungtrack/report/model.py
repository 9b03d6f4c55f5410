"""The report as data: built once, rendered to every format.

Every number a renderer shows is computed here, and the number formats (``fmt_mm``,
``fmt_pct``, ...) live here too, so the terminal, HTML, PDF, Markdown and text versions cannot
disagree with each other, nor with ``lungtrack check --json`` and ``lungtrack response --json``
(the findings come from the same :func:`lungtrack.report.checkview.finding_data`, the responses from
the same evaluation).

Pure apart from what it is given: "today" and the generation time are parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Sequence

from lungtrack.errors import InputError
from lungtrack.knowledge.wording import SEVERITY_SYMBOLS, SEVERITY_WORDS, response_label

#: Every section, in page order: page 1 (summary .. questions), page 2 (charts), page 3 (tables).
SECTIONS: tuple[str, ...] = ("summary", "findings", "due", "questions", "charts",
                             "response", "markers", "biopsies", "tables")
SECTION_TITLES = {
    "summary": "At a glance",
    "findings": "Findings",
    "due": "What is due",
    "questions": "Questions to bring to the next appointment",
    "charts": "Charts",
    "response": "RECIST 1.1 response by therapy line",
    "markers": "Tumour marker values",
    "biopsies": "Biopsy results",
    "tables": "Lesion measurements",
}
TREND_ARROWS = {"rising": "↑", "falling": "↓", "stable": "→", "insufficient": "·"}
DISCLAIMER = ("lungtrack states measurements and what the published rules say about them; it does not diagnose "
              "and does not advise treatment. Every finding is a topic to discuss with the care team.")


# --------------------------------------------------------------------------- number formats


def fmt_num(x: float | None) -> str:
    """A number as people write it: 49.0 -> "49", 52.8 -> "52.8" (at most 4 significant places)."""
    if x is None:
        return "—"
    return f"{round(x, 2):g}"


def fmt_mm(x: float | None) -> str:
    return "—" if x is None else f"{fmt_num(x)} mm"


def fmt_pct(x: float | None) -> str:
    """Signed, one decimal, as ``lungtrack response`` prints it: -37.2 %, +11.4 %."""
    return "—" if x is None else f"{x:+.1f} %"


def fmt_duration(days: float | None) -> str:
    from lungtrack.core.markers import fmt_duration_days

    return "—" if days is None else fmt_duration_days(days)


def fmt_value(x: float | None) -> str:
    from lungtrack.core.markers import fmt_value as _fv

    return "—" if x is None else _fv(x)


# --------------------------------------------------------------------------- sections


def parse_sections(text: str | None) -> tuple[str, ...]:
    """``summary,charts`` -> the sections in page order; ``None``/``all`` -> every section."""
    if text is None or text.strip().lower() in ("", "all"):
        return SECTIONS
    wanted = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in SECTIONS]
    if unknown or not wanted:
        raise InputError("--sections", text, "a comma-separated list of: " + ", ".join(SECTIONS) + " (or all)")
    return tuple(s for s in SECTIONS if s in wanted)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Report:
    """One patient's report, as plain JSON-ready data (dates as ISO strings)."""

    patient: dict[str, Any]
    as_of: str  # "today" of the evaluation
    since: str | None  # --since, ISO date, or None for all records
    range_start: str | None  # since, or the first record's date
    range_text: str  # "records from 2026-02-12 to 2026-08-12" / "all records, 2025-09-02 to 2026-08-12"
    generated_at: str  # UTC, "YYYY-MM-DD HH:MM UTC"
    sections: tuple[str, ...]
    therapy: dict[str, Any] | None  # the current line, time on it, trial median (as in check --json)
    lines: list[dict[str, Any]]  # every line of therapy that overlaps the range
    latest_response: dict[str, Any] | None
    responses: list[dict[str, Any]]  # per line: the response --json data + rows in range + lesion courses
    markers: list[dict[str, Any]]  # latest value, trend arrow, doubling time, per marker (current line)
    marker_series: list[dict[str, Any]]  # every value in range, per marker (tables and charts)
    latest_biopsy: dict[str, Any] | None
    biopsies: list[dict[str, Any]]  # in range, newest first
    findings: list[dict[str, Any]]  # as check --json, in the engine's order (severity, then date)
    due: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    timeline: dict[str, Any]
    disclaimer: str = DISCLAIMER
    counts: dict[str, int] = field(default_factory=dict)
    identifiers: dict[str, Any] | None = None  # --identify: name, born... for the clinic (never stored here)

    def has(self, section: str) -> bool:
        return section in self.sections

    def to_dict(self) -> dict[str, Any]:
        from lungtrack.serialize import to_data

        return to_data(self)


def build_report(pe: Any, *, today: date, generated_at: datetime, since: date | None = None,
                 sections: Sequence[str] = SECTIONS, identifiers: dict[str, Any] | None = None) -> Report:
    """Assemble the report for one evaluated patient (a :class:`lungtrack.services.PatientEvaluation`).

    ``since`` limits the tables, the charts and the findings to records on or after that day;
    the rules still see the whole history (a nadir or a baseline before ``since`` is still the
    reference), and the baseline of each line is always shown because every % change refers to
    it.  Due dates are the current state and are never cut.

    Each finding is marked ``history`` when it is acknowledged or belongs to an earlier line of
    therapy: page 1 leads with the others (what needs attention now), and the history ones are
    listed in their own section.  A test that is due and already booked (a planned appointment
    of the same kind, today or later) is shown as booked, with the booking's date.
    """
    from lungtrack.report.checkview import finding_data, line_header
    from lungtrack.serialize import to_data

    ev = pe.evaluation
    history = ev.history if ev.history is not None else pe.history
    config = ev.config

    def in_range(d: date) -> bool:
        return since is None or d >= since

    first = _first_record_date(history)
    range_start = since or first
    if since is not None:
        range_text = f"records from {since.isoformat()} to {today.isoformat()}"
    elif first is not None:
        range_text = f"all records, {first.isoformat()} to {today.isoformat()}"
    else:
        range_text = f"all records, to {today.isoformat()}"

    p = history.patient
    patient = {"id": p.id, "name": p.name, "diagnosis_date": _iso(p.diagnosis_date), "histology": p.histology,
               "drivers": list(p.drivers), "smoking": p.smoking.value if p.smoking else None}

    therapy = line_header(pe)
    lines = [_line(ln, today) for ln in sorted(history.lines, key=lambda x: (x.start, x.id))
             if since is None or ln.end is None or ln.end >= since]

    responses = [_response(history, r, config, in_range) for r in ev.responses
                 if since is None or r.line.end is None or r.line.end >= since]
    latest = _latest_response(ev, config)

    markers = [_kinetics(k) for k in ev.kinetics]
    series = _marker_series(history, ev.kinetics, in_range)

    biopsies = [_biopsy(b) for b in sorted(history.biopsies, key=lambda b: (b.date, b.id), reverse=True)
                if in_range(b.date)]
    latest_biopsy = _latest_biopsy(history)

    all_findings = [finding_data(pe, f) | {"severity_word": SEVERITY_WORDS[f.severity.value],
                                            "symbol": SEVERITY_SYMBOLS[f.severity.value],
                                            "earlier_line": bool(getattr(f, "historical", False))}
                    for f in ev.findings]
    # timing findings (what is due, time on therapy) are about now, whatever their date
    findings = [f for f in all_findings if f["rule"].startswith("timing.") or since is None
                or f["date"] >= since.isoformat()]
    due = merge_bookings([to_data(d) | {"snoozed_until": pe.snoozes[d.key].isoformat() if d.key in pe.snoozes else None,
                                        "text": _due_text(d)} for d in ev.due], history.appointments)
    for f in findings:
        data = f.get("data") or {}
        f["booked_on"] = data.get("booked_for") if f["rule"] in DUE_RULES and data.get("booked_in_time") else None
        f["history"] = bool(f["acknowledged"] or f["earlier_line"])
    questions = build_questions([f for f in findings if not f["history"] and not f["booked_on"]])
    timeline = _timeline(history, ev, lines, today, range_start, in_range)

    open_findings = [f for f in findings if not f["history"] and not f["booked_on"]
                     and f["severity"] in ("watch", "alert")]
    counts = {"findings": len(findings), "open_findings": len(open_findings), "questions": len(questions),
              "history_findings": sum(1 for f in findings if f["history"]),
              "findings_before_since": len(all_findings) - len(findings),
              "scans": sum(len(r["rows"]) for r in responses), "marker_values": sum(len(s["values"]) for s in series),
              "biopsies": len(biopsies)}
    return Report(
        patient=patient, as_of=today.isoformat(), since=_iso(since), range_start=_iso(range_start),
        range_text=range_text, generated_at=generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        sections=tuple(sections), therapy=therapy, lines=lines, latest_response=latest, responses=responses,
        markers=markers, marker_series=series, latest_biopsy=latest_biopsy, biopsies=biopsies, findings=findings,
        due=due, questions=questions, timeline=timeline, counts=counts, identifiers=identifiers,
    )


# --------------------------------------------------------------------------- pieces


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _first_record_date(history: Any) -> date | None:
    dates = [ln.start for ln in history.lines] + [s.date for s in history.studies] + \
            [m.date for m in history.markers] + [b.date for b in history.biopsies]
    if history.patient.diagnosis_date is not None:
        dates.append(history.patient.diagnosis_date)
    return min(dates) if dates else None


def _line(ln: Any, today: date) -> dict[str, Any]:
    stop = ln.end or today
    days = (stop - ln.start).days
    return {"id": ln.id, "drug": ln.drug, "start": ln.start.isoformat(), "end": _iso(ln.end),
            "stop_reason": ln.stop_reason.value if ln.stop_reason else None, "ongoing": ln.end is None,
            "days": days, "months": round(days / 30.4375, 1)}


def pd_threshold_mm(nadir_mm: float, config: Any) -> float:
    """The smallest sum that meets the RECIST 1.1 size criterion for PD against ``nadir_mm``:
    at least +20 % and at least +5 mm, i.e. the larger of nadir x 1.2 and nadir + 5 mm."""
    from lungtrack.core.decimal_math import D, HUNDRED, to_float

    rc = config.recist
    n = D(nadir_mm)
    by_pct = n * (1 + D(rc.pd_increase_pct) / HUNDRED)
    by_mm = n + D(rc.pd_increase_min_mm)
    return to_float(max(by_pct, by_mm), 2)  # type: ignore[return-value]


def _nadir(timepoints: Sequence[Any]) -> tuple[float | None, str | None]:
    """The smallest evaluable sum so far, baseline included (the reference for the next scan)."""
    best: tuple[float, date] | None = None
    for tp in timepoints:
        if tp.sum_mm is not None and (best is None or tp.sum_mm < best[0]):
            best = (tp.sum_mm, tp.date)
    return (best[0], best[1].isoformat()) if best else (None, None)


def _row(tp: Any) -> dict[str, Any]:
    from lungtrack.serialize import to_data

    d = to_data(tp)
    d["overall_label"] = "baseline" if tp.is_baseline else response_label(tp.overall)
    return d


def _response(history: Any, r: Any, config: Any, in_range) -> dict[str, Any]:
    from lungtrack.core.heterogeneity import lesion_courses
    from lungtrack.serialize import to_data

    data = to_data(r)
    labels = {le.id: le.label for le in history.lesions}
    data["non_target_labels"] = [labels.get(i, str(i)) for i in r.non_targets]
    data["best_overall_label"] = response_label(r.best_overall)
    rows = [_row(tp) for tp in r.timepoints if tp.is_baseline or in_range(tp.date)]
    data["rows"] = rows
    data["omitted_before_since"] = len(r.timepoints) - len(rows)
    nadir, nadir_date = _nadir(r.timepoints)
    data["current_nadir_mm"] = nadir
    data["current_nadir_date"] = nadir_date
    data["pd_threshold_mm"] = pd_threshold_mm(nadir, config) if nadir is not None else None
    shown = {row["date"] for row in rows}
    courses = []
    try:
        all_courses = lesion_courses(history, r, config)
    except Exception:  # noqa: BLE001 - a chart must never hide the rest of the report
        all_courses = ()
    for c in all_courses:
        cd = to_data(c)
        cd["points"] = [pt for pt in cd["points"] if pt["date"] in shown]
        courses.append(cd)
    data["lesions"] = courses
    data["dates"] = [row["date"] for row in rows]
    return data


def _latest_response(ev: Any, config: Any) -> dict[str, Any] | None:
    """The latest assessed time point of the current line (else of the latest line with scans)."""
    candidates = [r for r in ev.responses if r.timepoints]
    if not candidates:
        return None
    current = ev.current_line
    chosen = next((r for r in candidates if current is not None and r.line.id == current.id), None)
    if chosen is None:
        chosen = max(candidates, key=lambda r: (r.timepoints[-1].date, r.line.start))
    tp = chosen.timepoints[-1]
    nadir, nadir_date = _nadir(chosen.timepoints)
    return {
        "line_id": chosen.line.id, "drug": chosen.line.drug, "date": tp.date.isoformat(),
        "is_baseline": tp.is_baseline, "overall": tp.overall,
        "overall_label": "baseline" if tp.is_baseline else response_label(tp.overall),
        "sum_mm": tp.sum_mm, "baseline_sum_mm": tp.baseline_sum_mm, "baseline_date": _iso(chosen.baseline_date),
        "change_from_baseline_pct": tp.change_from_baseline_pct, "compared_nadir_mm": tp.nadir_mm,
        "change_from_nadir_pct": tp.change_from_nadir_pct, "change_from_nadir_mm": tp.change_from_nadir_mm,
        "new_lesions": list(tp.new_lesions), "pd_reasons": list(tp.pd_reasons),
        "best_overall": chosen.best_overall, "best_overall_label": response_label(chosen.best_overall),
        "first_pd_date": _iso(chosen.first_pd_date),
        "current_nadir_mm": nadir, "current_nadir_date": nadir_date,
        "pd_threshold_mm": pd_threshold_mm(nadir, config) if nadir is not None else None,
        "sum_trend": [{"date": t.date.isoformat(), "sum_mm": t.sum_mm, "overall": t.overall} for t in chosen.timepoints],
        "baseline_is_pre_treatment": chosen.baseline_is_pre_treatment,
    }


def _kinetics(k: Any) -> dict[str, Any]:
    uln_kind = "lab" if k.uln_source == "lab" else "default"
    return {
        "marker": k.marker.value, "unit": k.unit,
        "latest": k.latest.value if k.latest else None, "latest_date": _iso(k.latest.date) if k.latest else None,
        "trend": k.trend, "arrow": TREND_ARROWS.get(k.trend, "·"), "consecutive_rises": k.consecutive_rises,
        "consecutive_falls": k.consecutive_falls,
        "nadir": k.nadir.value if k.nadir else None, "nadir_date": _iso(k.nadir.date) if k.nadir else None,
        "pct_above_nadir": round(k.pct_above_nadir, 2) if k.pct_above_nadir is not None else None,
        "uln": k.uln, "uln_kind": uln_kind, "uln_source": k.uln_source, "above_uln": k.above_uln,
        "doubling_time_days": round(k.doubling_time_days, 2) if k.doubling_time_days is not None else None,
        "doubling_time_text": fmt_duration(k.doubling_time_days) if k.doubling_time_days is not None else None,
        "halving_time_days": round(k.halving_time_days, 2) if k.halving_time_days is not None else None,
        "halving_time_text": fmt_duration(k.halving_time_days) if k.halving_time_days is not None else None,
        "fit_points": k.fit_points, "n_values": len(k.points),
    }


def _marker_series(history: Any, kinetics: Sequence[Any], in_range) -> list[dict[str, Any]]:
    """Every value in range per marker (before the line too: the chart shows the fall on treatment)."""
    from lungtrack.enums import Marker
    from lungtrack.knowledge.markers import default_uln

    by_kin = {k.marker: k for k in kinetics}
    out = []
    for marker in Marker:
        rows = sorted((m for m in history.markers if m.marker == marker and in_range(m.date)), key=lambda m: (m.date, m.id))
        if not rows:
            continue
        k = by_kin.get(marker)
        uln = k.uln if k is not None else None
        if uln is None:
            try:
                uln = default_uln(marker, history.patient.smoking).value
            except Exception:  # noqa: BLE001 - no default for this marker
                uln = None
        out.append({
            "marker": marker.value, "unit": rows[-1].unit,
            "values": [{"date": m.date.isoformat(), "value": m.value, "unit": m.unit, "lab_uln": m.uln, "lab": m.lab,
                        "above_uln": (m.value > (m.uln if m.uln is not None else uln)) if (m.uln or uln) is not None else None}
                       for m in rows],
            "uln": uln,
            "doubling_time_days": round(k.doubling_time_days, 2) if k and k.doubling_time_days is not None else None,
            "doubling_time_text": fmt_duration(k.doubling_time_days) if k and k.doubling_time_days is not None else None,
            "halving_time_text": fmt_duration(k.halving_time_days) if k and k.halving_time_days is not None else None,
            "fit_points": k.fit_points if k else 0,
            "nadir": k.nadir.value if k and k.nadir else None, "nadir_date": _iso(k.nadir.date) if k and k.nadir else None,
            "trend": k.trend if k else "insufficient",
        })
    return out


def _biopsy(b: Any) -> dict[str, Any]:
    vaf = f", VAF {fmt_num(b.vaf)} %" if b.vaf is not None else ""
    sample = "plasma ctDNA" if b.sample.value == "plasma" else b.sample.value
    return {"id": b.id, "date": b.date.isoformat(), "sample": b.sample.value, "sample_text": sample, "assay": b.assay,
            "gene": b.gene, "variant": b.variant, "result": b.result.value, "vaf": b.vaf,
            "text": f"{b.gene} {b.variant} {b.result.value.replace('-', ' ')}{vaf}"}


def _latest_biopsy(history: Any) -> dict[str, Any] | None:
    if not history.biopsies:
        return None
    last = max(b.date for b in history.biopsies)
    rows = [_biopsy(b) for b in sorted(history.biopsies, key=lambda b: (b.gene, b.variant, b.id)) if b.date == last]
    samples = sorted({r["sample_text"] for r in rows})
    assays = sorted({r["assay"] for r in rows if r["assay"]})
    return {"date": last.isoformat(), "samples": samples, "assays": assays, "results": rows}


DUE_RULES = ("timing.imaging_due", "timing.marker_due")


def merge_bookings(due: list[dict[str, Any]], appointments: Sequence[Any]) -> list[dict[str, Any]]:
    """A scan or blood test that is booked (``booked_for``, set by the timing rules) is one row:
    ``booked`` when booked on or before its due date, else its own state with the booking said;
    the appointment that books it is not listed a second time."""
    kinds = {"imaging": "imaging", "marker": "markers"}
    used: set[str] = set()
    out = []
    for d in due:
        d = dict(d, booked_on=d.get("booked_for"))
        if d["kind"] in kinds and d.get("booked_for"):
            if d["booked_for"] <= d["due_date"]:
                d.update(state_before=d["state"], state="booked")
            for a in appointments:
                if (getattr(a.kind, "value", a.kind) == kinds[d["kind"]] and a.date.isoformat() == d["booked_for"]
                        and getattr(a.status, "value", a.status) == "planned"):
                    used.add(f"appointment:{a.id}")
                    if a.description:
                        booked = f"booked for {d['booked_for']}"
                        d["text"] = d["text"].replace(booked, f"{booked} ({a.description})", 1)
        out.append(d)
    return [d for d in out if d["key"] not in used]


def _due_text(d: Any) -> str:
    booked_for = getattr(d, "booked_for", None)
    if booked_for is not None:
        from lungtrack.core.timing import booking_text

        last = f"; last {d.last_date.isoformat()}" if d.last_date else ""
        if booked_for <= d.due_date:
            return f"{d.label}: {booking_text(d)} (due by {d.due_date.isoformat()}){last}"
        when = "overdue by" if d.state.value == "overdue" else "due by"
        amount = (f"{-d.days} day{'s' if -d.days != 1 else ''} (due by {d.due_date.isoformat()})"
                  if d.state.value == "overdue" else d.due_date.isoformat())
        return f"{d.label}: {when} {amount}; {booking_text(d)}{last}"
    when = d.due_date.isoformat()
    if d.state.value == "overdue":
        state = f"overdue by {-d.days} day{'s' if -d.days != 1 else ''} (due by {when})"
    elif d.days == 0:
        state = f"due today ({when})"
    elif d.days > 0:
        state = f"due by {when} (in {d.days} day{'s' if d.days != 1 else ''})"
    else:
        state = f"{when}"
    last = f"; last {d.last_date.isoformat()}" if d.last_date else ""
    return f"{d.label}: {state}{last}"


# --------------------------------------------------------------------------- questions

_TOPIC = re.compile(r"(?:topic to discuss(?: with your care team)?|discuss with your care team)\s*:\s*(.+)$",
                    re.IGNORECASE | re.DOTALL)
_PAREN = re.compile(r"\s*\([^()]*\)")
_DUE_RULES = ("timing.imaging_due", "timing.marker_due")


def discuss_topic(discuss: str) -> str | None:
    """The topic of a finding's "discuss" text, without the trailing full stop and asides in brackets."""
    m = None
    for m in _TOPIC.finditer(discuss):
        pass
    if m is None:
        return None
    topic = m.group(1).strip()
    while _PAREN.search(topic):
        topic = _PAREN.sub("", topic)
    topic = topic.strip().rstrip(".").strip()
    # a topic sometimes restates "with your care team"; the question is for the care team anyway
    topic = re.sub(r"\s+with your care team$", "", topic)
    return topic or None


def build_questions(findings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Questions for the appointment, from the open (watch/alert, not acknowledged) findings.

    Each is the finding's own "topic to discuss", asked as a question - never advice.  The
    due-date findings are merged into one question about the schedule.  Entry checks
    ("check this entry") and internal errors are for the person keeping the records, not for
    the visit, so they give no question.
    """
    out: list[dict[str, Any]] = []
    due_topics: list[str] = []
    due_ids: list[str] = []
    for f in findings:
        if f["acknowledged"] or f.get("historical") or f["severity"] not in ("watch", "alert"):
            continue
        if f["rule"].startswith(("entry.", "engine.")):
            continue
        topic = discuss_topic(f["discuss"])
        if f["rule"] in _DUE_RULES and topic:
            due_topics.append(topic)
            due_ids.append(f["id"])
            continue
        question = f"Could we discuss {topic}?" if topic else f"Could we discuss this finding: {f['title']}?"
        out.append({"question": question, "about": f["title"], "finding_ids": [f["id"]], "severity": f["severity"]})
    if due_topics:
        joined = due_topics[0] if len(due_topics) == 1 else ", ".join(due_topics[:-1]) + ", and " + due_topics[-1]
        out.append({"question": f"Could we discuss {joined}?", "about": "Follow-up tests due",
                    "finding_ids": due_ids, "severity": "watch"})
    return out


# --------------------------------------------------------------------------- timeline


def _timeline(history: Any, ev: Any, lines: list[dict[str, Any]], today: date, range_start: date | None,
              in_range: Any) -> dict[str, Any]:
    """Therapy lines as bars with their events: scans and responses, PD, resistance findings."""
    events: list[dict[str, Any]] = []
    for r in ev.responses:
        for tp in r.timepoints:
            if tp.is_baseline or not in_range(tp.date):
                continue
            events.append({"date": tp.date.isoformat(), "line_id": r.line.id, "kind": "pd" if tp.overall == "PD" else "scan",
                           "label": tp.overall, "text": f"{tp.date.isoformat()} {response_label(tp.overall)}"})
    for f in ev.findings:
        if f.rule == "variant.resistance" and in_range(f.date):
            d = f.data or {}
            name = " ".join(x for x in (d.get("gene"), d.get("variant")) if x) or f.subject
            events.append({"date": f.date.isoformat(), "line_id": d.get("line_id"), "kind": "resistance",
                           "label": name, "text": f"{f.date.isoformat()} {name} detected"})
    events.sort(key=lambda e: (e["date"], e["kind"]))
    start = min([date.fromisoformat(ln["start"]) for ln in lines] + ([range_start] if range_start else []), default=None)
    return {"start": _iso(start), "end": today.isoformat(), "lines": lines, "events": events}
