"""lungtrack therapy: start and stop lines of therapy; list, show, edit, delete."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt, YesOpt
from lungtrack.enums import StopReason

app = typer.Typer(help="Lines of therapy: start, stop, list, show, edit, delete.", no_args_is_help=True)


def line_dict(line) -> dict:
    from lungtrack.store.repo import row_dict

    return line_dict_from(row_dict(line))


def line_dict_from(data: dict) -> dict:
    from lungtrack.knowledge.drugs import drug_from_text

    data = dict(data)
    try:
        drug = drug_from_text(data["drug"])
        data["target"] = drug.target
        data["generation"] = drug.generation
    except Exception:  # an unknown drug name stored by an older version
        data["target"] = data["generation"] = None
    return data


@app.command("start")
def start(
    ctx: typer.Context,
    drug: Annotated[str, typer.Argument(help="Drug name or brand, e.g. gefitinib, Tagrisso, alectinib.")],
    on: Annotated[str, typer.Option("--date", "--on", help="Start date (ISO, today, '3 days ago').")] = "today",
    note: Annotated[Optional[str], typer.Option(help="Free text, e.g. dose.")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Start a line of therapy.

    Example: lungtrack therapy start gefitinib --on 2025-09-20
    """
    from lungtrack.knowledge.drugs import drug_from_text
    from lungtrack.records.inputs import TherapyInput

    d = drug_from_text(drug, field="drug")
    when = common.parse_date_opt(on, "--date")

    def op(w, _force):
        p = w.patient(patient)
        return w.start_therapy(p, TherapyInput(drug=d.name, start=when, note=note)), p.name

    (res, pname), _change = common.write(ctx, op)
    data = line_dict_from(res.row)
    if json_out:
        common.print_json(data)
    gen = f", generation {d.generation}" if d.generation else ""
    target = f" ({d.target} inhibitor{gen})" if d.target else ""
    common.err(f"Started {d.name}{target} on {common.date_label(when)} for {pname} (line {data['id']}).")


@app.command("stop")
def stop(
    ctx: typer.Context,
    on: Annotated[str, typer.Option("--date", "--on", help="Stop date (ISO, today, '3 days ago').")] = "today",
    reason: Annotated[StopReason, typer.Option("--reason", case_sensitive=False, help="Why it stopped.")] = StopReason.OTHER,
    line_id: Annotated[Optional[int], typer.Option("--line", help="Line id (default: the active line).")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Stop the active line of therapy (progression, toxicity or other)."""
    from datetime import date as _date

    when = common.parse_date_opt(on, "--date")

    def op(w, _force):
        return w.stop_therapy(w.patient(patient), when, reason.value, line_id)

    res, _change = common.write(ctx, op)
    data = line_dict_from(res.row)
    if json_out:
        common.print_json(data)
    days = (when - _date.fromisoformat(data["start_date"])).days
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
    start_on: Annotated[Optional[str], typer.Option("--start-date", "--start", help="New start date (what 'therapy start --date' set; not in the future).")] = None,
    end_on: Annotated[Optional[str], typer.Option("--end-date", "--end", help="New stop date (what 'therapy stop --date' set; not in the future).")] = None,
    reason: Annotated[Optional[StopReason], typer.Option("--reason", case_sensitive=False, help="New reason the line stopped.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="New free-text note about this line.")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Correct a line of therapy; only the options given change.

    A line has two dates, so edit names them: --start-date is the date 'therapy start --date'
    recorded, --end-date the one 'therapy stop --date' recorded (--start and --end also work).
    """
    from lungtrack.errors import InputError
    from lungtrack.knowledge.drugs import drug_from_text

    new_drug = drug_from_text(drug, field="--drug").name if drug else None
    start_d = common.parse_date_opt(start_on, "--start-date")
    end_d = common.parse_date_opt(end_on, "--end-date")
    if not any(v is not None for v in (new_drug, start_d, end_d, reason, note)):
        raise InputError("options", "", "at least one of --drug, --start-date, --end-date, --reason, --note")

    def op(w, _force):
        return w.edit_therapy(w.patient(patient), line_id, drug=new_drug, start=start_d, end=end_d,
                              stop_reason=reason.value if reason else None, note=note)

    res, _change = common.write(ctx, op)
    data = line_dict_from(res.row)
    if json_out:
        common.print_json(data)
    common.err(f"Updated line {line_id}: {data['drug']} {data['start_date']} → {data['end_date'] or 'active'}.")


@app.command("delete")
def delete(ctx: typer.Context, line_ids: Annotated[list[int], typer.Argument(help="Line id(s).")],
           patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete one or more lines of therapy (asks first)."""
    common.delete_flow(ctx, "therapy", line_ids, patient, yes, json_out,
                       lambda ln: f"therapy line {ln.id} ({ln.drug} from {ln.start_date.isoformat()})")
