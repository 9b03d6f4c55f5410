"""The data behind `lungtrack check` (and the findings part of summaries and reports), and its text.

Built from a :class:`lungtrack.services.PatientEvaluation`, so that check, remind, summary and
report show the same findings with the same numbers.
"""

from __future__ import annotations

from typing import Any


def finding_data(pe, finding) -> dict[str, Any]:
    from lungtrack.serialize import to_data

    data = to_data(finding)
    ack = pe.acks.get(finding.id)
    data["acknowledged"] = ack is not None
    data["acknowledged_at"] = ack["at"] if ack else None
    data["acknowledgement_note"] = ack["note"] if ack else None
    return data


def line_header(pe) -> dict[str, Any] | None:
    """The current line with time on it and the trial median for that drug."""
    ev = pe.evaluation
    line = ev.current_line
    if line is None:
        return None
    from lungtrack.core.timing import driver_gene, line_number
    from lungtrack.knowledge.drugs import drug_from_text, primary_trial

    days = (ev.today - line.start).days
    out: dict[str, Any] = {"id": line.id, "drug": line.drug, "start": line.start.isoformat(), "days_on_therapy": days,
                           "months_on_therapy": round(days / 30.4375, 1), "trial": None}
    try:
        drug = drug_from_text(line.drug)
        trial = primary_trial(drug, line_number(pe.history, line), driver_gene(pe.history, drug))
    except Exception:
        trial = None
    if trial is not None and trial.median_pfs_months is not None:
        out["trial"] = {"name": trial.trial, "setting": trial.setting, "median_pfs_months": trial.median_pfs_months,
                        "source": trial.source_url}
    return out


def check_data(pe, *, new_only: bool = False, with_history: bool = False) -> dict[str, Any]:
    """``findings``: the current line's and those tied to no line; ``history``: findings of
    earlier lines (listed only ``with_history``; ``history_count`` always)."""
    from lungtrack.serialize import to_data

    ev = pe.evaluation
    shown = [f for f in ev.findings if not (new_only and pe.is_acknowledged(f))]
    findings = [f for f in shown if not f.historical]
    history = [f for f in shown if f.historical]
    due = [to_data(d) | {"snoozed_until": pe.snoozes[d.key].isoformat() if d.key in pe.snoozes else None}
           for d in ev.due if d.state.value != "up-to-date"]
    return {
        "patient": {"id": ev.patient.id, "name": ev.patient.name},
        "date": ev.today.isoformat(),
        "current_line": line_header(pe),
        "findings": [finding_data(pe, f) for f in findings],
        "history": [finding_data(pe, f) for f in history] if with_history else [],
        "history_count": len(history),
        "due": due,
        "needs_attention": len(pe.open_attention),
    }


def render_check_text(data: dict[str, Any]) -> list[str]:
    from lungtrack.knowledge.wording import SEVERITY_WORDS

    lines: list[str] = []
    head = data["patient"]["name"]
    line = data["current_line"]
    if line:
        head += f" — {line['drug']} since {line['start']} ({line['months_on_therapy']:g} months"
        if line["trial"]:
            head += (f"; median PFS in {line['trial']['name']}: {line['trial']['median_pfs_months']:g} months"
                     " — a median, not a prediction")
        head += ")"
    else:
        head += " — no active line of therapy"
    lines.append(head)
    lines.append("")
    for f in data["findings"]:
        lines.extend(_finding_lines(f, SEVERITY_WORDS))
    if not data["findings"]:
        lines.append("No findings.")
    history = data.get("history") or []
    if history:
        lines.append("")
        lines.append("History — findings of earlier therapy lines:")
        for f in history:
            lines.extend(_finding_lines(f, SEVERITY_WORDS))
    elif data.get("history_count"):
        n = data["history_count"]
        lines.append(f"{n} finding{'s' if n != 1 else ''} of earlier therapy lines not shown "
                     "(lungtrack check --all).")
    lines.append("")
    n = data["needs_attention"]
    if n:
        lines.append(f"{n} need{'s' if n == 1 else ''} attention. Acknowledge with: lungtrack ack <id>")
    else:
        lines.append("Nothing needs attention.")
    return lines


def _finding_lines(f: dict[str, Any], words: dict[str, str]) -> list[str]:
    word = words[f["severity"]]
    ack = f"  (acknowledged {f['acknowledged_at'][:10]})" if f["acknowledged"] else ""
    return [
        f"{word:<6} {f['title']}{ack}",
        f"       {f['evidence']}",
        f"       {f['discuss']}  [rule: {f['rule']} · source: {f['source']}]",
        f"       id: {f['id']}",
    ]
