"""lungtrack timeline: everything about a patient in date order."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt


def build_timeline(session, p) -> list[dict]:
    """Every dated record of one patient as timeline events (date order, stable)."""
    from lungtrack.cli.scan import study_dict
    from lungtrack.store import models as m
    from lungtrack.store import repo

    events: list[dict] = []
    for ln in repo.therapy_lines(session, p):
        events.append({"date": ln.start_date.isoformat(), "type": "therapy-start", "id": ln.id,
                       "summary": f"Started {ln.drug}", "data": repo.row_dict(ln)})
        if ln.end_date:
            events.append({"date": ln.end_date.isoformat(), "type": "therapy-stop", "id": ln.id,
                           "summary": f"Stopped {ln.drug} ({ln.stop_reason or 'no reason given'})", "data": repo.row_dict(ln)})
    for st in repo.records(session, m.ImagingStudy, p):
        d = study_dict(session, st)
        parts = [f"{x['label']} {x['size_mm']:g} mm" if x["status"] == "measured" else f"{x['label']} {x['status']}"
                 for x in d["measurements"]]
        parts += [f"NEW {x['label'] or x['site']}" + (" (equivocal)" if x["equivocal"] else "") for x in d["new_lesions"]]
        events.append({"date": d["date"], "type": "scan", "id": st.id,
                       "summary": f"{st.modality}: " + ("; ".join(parts) or "no lesions recorded"), "data": d})
    for r in repo.records(session, m.MarkerResult, p):
        events.append({"date": r.date.isoformat(), "type": "marker", "id": r.id,
                       "summary": f"{r.marker} {r.value:g} {r.unit}", "data": repo.row_dict(r)})
    for b in repo.records(session, m.BiopsyFinding, p):
        vaf = f", VAF {b.vaf:g} %" if b.vaf is not None else ""
        events.append({"date": b.date.isoformat(), "type": "biopsy", "id": b.id,
                       "summary": f"{b.gene} {b.variant} {b.result} ({b.sample}{vaf})", "data": repo.row_dict(b)})
    for a in repo.records(session, m.Appointment, p):
        events.append({"date": a.date.isoformat(), "type": "appointment", "id": a.id,
                       "summary": f"{a.kind} appointment ({a.status})" + (f": {a.description}" if a.description else ""),
                       "data": repo.row_dict(a)})
    for n in repo.records(session, m.Note, p):
        events.append({"date": n.date.isoformat(), "type": "note", "id": n.id, "summary": n.text, "data": repo.row_dict(n)})
    order = {"therapy-stop": 0, "scan": 1, "marker": 2, "biopsy": 3, "therapy-start": 4, "appointment": 5, "note": 6}
    events.sort(key=lambda e: (e["date"], order[e["type"]], e["id"]))
    return events


def register(app: typer.Typer) -> None:
    @app.command("timeline")
    def timeline(
        ctx: typer.Context,
        since: Annotated[Optional[str], typer.Option("--since", help="Only events on or after this date or duration (e.g. 6m).")] = None,
        patient: PatientOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Everything recorded for a patient, in date order."""
        from lungtrack.store import repo

        start = common.parse_since_opt(since) if since else None
        with common.transaction(ctx, write=False) as (_s, session):
            p = repo.find_patient(session, patient)
            events = build_timeline(session, p)
            pname = p.name
        if start is not None:
            events = [e for e in events if e["date"] >= start.isoformat()]
        if json_out:
            common.print_json({"patient": pname, "events": events})
            return
        common.print_table(["date", "type", "id", "what"], [[e["date"], e["type"], e["id"], e["summary"]] for e in events],
                           title=f"Timeline for {pname}")
