"""lungtrack therapy: start and stop lines of therapy; list, show, edit, delete."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt, YesOpt
from lungtrack.enums import StopReason

app = typer.Typer(help="Lines of therapy: start, stop, list, show, edit, delete.", no_args_is_help=True)


def line_dict(line) -> dict:
    from lungtrack.knowledge.drugs import drug_from_text
    from lungtrack.store.repo import row_dict

    data = row_dict(line)
    try:
        drug = drug_from_text(line.drug)
        data["target"] = drug.target
        data["generation"] = drug.generation
    except Exception:  # an unknown drug name stored by an older version
        data["target"] = data["generation"] = None
    return data


@app.command("start")
def start(
    ctx: typer.Context,
    drug: Annotated[str, typer.Argument(help="Drug name or brand, e.g. gefitinib, Tagrisso, alectinib.")],
    on: Annotated[str, typer.Option("--on", "--date", help="Start date (ISO, today, '3 days ago').")] = "today",
    note: Annotated[Optional[str], typer.Option(help="Free text, e.g. dose.")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Start a line of therapy.

    Example: lungtrack therapy start gefitinib --on 2025-09-20
    """
    from lungtrack.errors import InputError
    from lungtrack.knowledge.drugs import drug_from_text
    from lungtrack.store import models as m
    from lungtrack.store import repo

    d = drug_from_text(drug, field="drug")
    when = common.parse_date_opt(on, "--on")
    with common.transaction(ctx) as (_s, session):
        p = repo.find_patient(session, patient)
        active = repo.current_line(session, p)
        if active is not None:
            raise InputError("drug", drug, "no other active line", message=(
                f"drug: {active.drug} (line {active.id}, since {active.start_date.isoformat()}) is still active for "
                f"{p.name}; stop it first with: lungtrack therapy stop --on DATE --reason progression|toxicity|other"))
        later = [ln for ln in repo.therapy_lines(session, p) if ln.end_date and ln.end_date > when]
        if later:
            raise InputError("--on", on, f"a date on or after {later[-1].end_date.isoformat()} (when the previous line ended)")
        line = m.TherapyLine(patient_id=p.id, drug=d.name, start_date=when, note=note)
        session.add(line)
        session.flush()
        data = line_dict(line)
        pname = p.name
    if json_out:
        common.print_json(data)
    gen = f", generation {d.generation}" if d.generation else ""
    target = f" ({d.target} inhibitor{gen})" if d.target else ""
    common.err(f"Started {d.name}{target} on {common.date_label(when)} for {pname} (line {data['id']}).")


@app.command("stop")
def stop(
    ctx: typer.Context,
    on: Annotated[str, typer.Option("--on", "--date", help="Stop date.")] = "today",
    reason: Annotated[StopReason, typer.Option("--reason", case_sensitive=False, help="Why it stopped.")] = StopReason.OTHER,
    line_id: Annotated[Optional[int], typer.Option("--line", help="Line id (default: the active line).")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stop the active line of therapy (progression, toxicity or other)."""
    from lungtrack.errors import InputError
    from lungtrack.store import models as m
    from lungtrack.store import repo

    when = common.parse_date_opt(on, "--on")
    with common.transaction(ctx) as (_s, session):
        p = repo.find_patient(session, patient)
        line = repo.get_record(session, m.TherapyLine, line_id, p) if line_id else repo.current_line(session, p)
        if line is None:
            raise InputError("--line", "", "an active line", message=f"--line: {p.name} has no active line of therapy to stop.")
        if when < line.start_date:
            raise InputError("--on", on, f"a date on or after the line's start ({line.start_date.isoformat()})")
        line.end_date, line.stop_reason = when, reason.value
        repo.touch(line)
        session.add(line)
        session.flush()
        data = line_dict(line)
        days = (when - line.start_date).days
    if json_out:
        common.print_json(data)
    common.err(f"Stopped {data['drug']} on {common.date_label(when)} ({reason.value}) after {days} days.")


@app.command("list")
def list_(ctx: typer.Context, patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """List lines of therapy."""
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        rows = [line_dict(ln) for ln in repo.therapy_lines(session, p)]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(["id", "drug", "target", "gen", "start", "end", "stop reason"],
                       [[r["id"], r["drug"], r["target"], r["generation"], r["start_date"], r["end_date"] or "active",
                         r["stop_reason"]] for r in rows])


@app.command("show")
def show(ctx: typer.Context, line_id: Annotated[int, typer.Argument(help="Line id.")],
         patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """Show one line of therapy."""
    data = common.show_flow(ctx, "TherapyLine", line_id, patient, json_out, line_dict)
    if data is not None:
        common.print_fields([(k.replace("_", " "), data.get(k)) for k in
                             ("id", "drug", "target", "generation", "start_date", "end_date", "stop_reason", "note", "source")])


@app.command("edit")
def edit(
    ctx: typer.Context,
    line_id: Annotated[int, typer.Argument(help="Line id.")],
    drug: Annotated[Optional[str], typer.Option("--drug", help="New drug name (generic or brand).")] = None,
    start_on: Annotated[Optional[str], typer.Option("--start", help="New start date (not in the future).")] = None,
    end_on: Annotated[Optional[str], typer.Option("--end", help="New stop date (not in the future).")] = None,
    reason: Annotated[Optional[StopReason], typer.Option("--reason", case_sensitive=False, help="New reason the line stopped.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="New free-text note about this line.")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Correct a line of therapy; only the options given change."""
    from lungtrack.errors import InputError
    from lungtrack.knowledge.drugs import drug_from_text
    from lungtrack.store import models as m
    from lungtrack.store import repo

    new_drug = drug_from_text(drug, field="--drug").name if drug else None
    start_d = common.parse_date_opt(start_on, "--start")
    end_d = common.parse_date_opt(end_on, "--end")
    if not any(v is not None for v in (new_drug, start_d, end_d, reason, note)):
        raise InputError("options", "", "at least one of --drug, --start, --end, --reason, --note")
    with common.transaction(ctx) as (_s, session):
        p = repo.find_patient(session, patient)
        line = repo.get_record(session, m.TherapyLine, line_id, p)
        line.drug = new_drug or line.drug
        line.start_date = start_d or line.start_date
        line.end_date = end_d or line.end_date
        line.stop_reason = reason.value if reason else line.stop_reason
        line.note = note if note is not None else line.note
        if line.end_date and line.end_date < line.start_date:
            raise InputError("--end", line.end_date.isoformat(), f"a date on or after the start ({line.start_date.isoformat()})")
        repo.touch(line)
        session.add(line)
        session.flush()
        data = line_dict(line)
    if json_out:
        common.print_json(data)
    common.err(f"Updated line {line_id}: {data['drug']} {data['start_date']} → {data['end_date'] or 'active'}.")


@app.command("delete")
def delete(ctx: typer.Context, line_id: Annotated[int, typer.Argument(help="Line id.")],
           patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete a line of therapy (asks first)."""
    common.delete_flow(ctx, "TherapyLine", line_id, patient, yes,
                       lambda ln: f"therapy line {ln.id} ({ln.drug} from {ln.start_date.isoformat()})")
