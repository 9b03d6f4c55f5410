"""lungtrack patient: add, list, show, edit, set the default, end tracking, delete."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, YesOpt
from lungtrack.enums import SmokingStatus

app = typer.Typer(help="Add, list, show, edit and delete patients. A store can hold several patients.",
                  no_args_is_help=True)

SmokingOpt = Annotated[Optional[SmokingStatus], typer.Option(
    "--smoking", case_sensitive=False, help="Smoking status (sets the default upper limit of normal for CEA).")]


def _smoking(smoking: SmokingStatus | None, never: bool, former: bool, current: bool) -> SmokingStatus | None:
    from lungtrack.errors import InputError

    flags = [s for s, on in ((SmokingStatus.NEVER, never), (SmokingStatus.FORMER, former),
                             (SmokingStatus.CURRENT, current)) if on]
    if smoking is not None:
        flags.append(smoking)
    if len(set(flags)) > 1:
        raise InputError("--smoking", "/".join(str(f) for f in flags), "only one smoking status")
    return flags[0] if flags else None


def _drivers(texts: list[str]) -> list[str]:
    from lungtrack.parsing.variants import parse_driver

    return [parse_driver(t, field="--driver").display for t in texts]


def patient_dict(p) -> dict:
    from lungtrack.store.repo import row_dict

    return row_dict(p)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Display name, e.g. Ann.")],
    diagnosed: Annotated[Optional[str], typer.Option("--diagnosed", help="Diagnosis date (ISO, e.g. 2025-09-02).")] = None,
    born: Annotated[Optional[str], typer.Option("--born", help="Birth date (no clinical date may lie before it).")] = None,
    histology: Annotated[Optional[str], typer.Option(help="Histology, e.g. adenocarcinoma.")] = None,
    subtype: Annotated[list[str], typer.Option("--subtype", help="Subtype composition, e.g. 'solid 50%, papillary 30%, acinar 20%'. Repeatable.")] = [],  # noqa: B006
    driver: Annotated[list[str], typer.Option("--driver", help="Driver alteration at diagnosis, e.g. 'EGFR exon 19 deletion'. Repeatable.")] = [],  # noqa: B006
    smoking: SmokingOpt = None,
    never_smoker: Annotated[bool, typer.Option("--never-smoker", help="Same as --smoking never.")] = False,
    former_smoker: Annotated[bool, typer.Option("--former-smoker", help="Same as --smoking former.")] = False,
    current_smoker: Annotated[bool, typer.Option("--current-smoker", help="Same as --smoking current.")] = False,
    make_default: Annotated[bool, typer.Option("--default", help="Make this the default patient.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add a patient. The first patient in a store becomes the default one.

    Example: lungtrack patient add Ann --diagnosed 2025-09-02 --histology adenocarcinoma
    --driver "EGFR exon 19 deletion" --never-smoker
    """
    from lungtrack.errors import InputError
    from lungtrack.parsing.subtypes import parse_subtypes
    from lungtrack.records.inputs import PatientInput

    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InputError("name", name, "a display name of 1 to 200 characters")
    diag = common.parse_date_opt(diagnosed, "--diagnosed")
    birth = common.parse_date_opt(born, "--born")
    status = _smoking(smoking, never_smoker, former_smoker, current_smoker) or SmokingStatus.UNKNOWN
    subtypes = parse_subtypes(subtype) if subtype else None
    drivers = _drivers(driver)
    inp = PatientInput(name=name, diagnosis_date=diag, histology=histology,
                       subtypes=tuple(subtypes.items()) if subtypes else None, drivers=tuple(drivers),
                       smoking=status.value, birth_date=birth)
    res, _change = common.write(ctx, lambda w, _f: w.add_patient(inp, make_default=make_default), create=True)
    data = res.row
    if json_out:
        common.print_json(data)
    bits = [b for b in (histology, ", ".join(drivers) if drivers else None,
                        f"{status.value} smoker" if status != SmokingStatus.UNKNOWN else None) if b]
    common.err(f"Added patient {name}" + (f" ({'; '.join(bits)})" if bits else "")
               + (", the default patient." if data["is_default"] else "."))


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the patients in the store."""
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        rows = [patient_dict(p) for p in repo.list_patients(session)]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(
        ["id", "name", "default", "diagnosed", "histology", "drivers", "smoking", "ended"],
        [[r["id"], r["name"], "*" if r["is_default"] else "", r["diagnosis_date"], r["histology"],
          ", ".join(r["drivers"] or []), r["smoking"], r["ended_on"]] for r in rows])


@app.command("show")
def show(ctx: typer.Context, name: Annotated[Optional[str], typer.Argument(help="Patient name (default patient if omitted).")] = None,
         json_out: JsonOpt = False) -> None:
    """Show one patient with counts of their records."""
    from lungtrack.store import models as m
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, name, field="NAME")
        data = patient_dict(p)
        data["counts"] = {
            "therapy_lines": len(repo.therapy_lines(session, p)),
            "scans": len(repo.records(session, m.ImagingStudy, p)),
            "lesions": len(repo.lesions(session, p)),
            "marker_results": len(repo.records(session, m.MarkerResult, p)),
            "biopsy_findings": len(repo.records(session, m.BiopsyFinding, p)),
            "appointments": len(repo.records(session, m.Appointment, p)),
            "notes": len(repo.records(session, m.Note, p)),
        }
    if json_out:
        common.print_json(data)
        return
    subtypes = ", ".join(f"{k} {v:g} %" for k, v in (data["subtypes"] or {}).items())
    lines = [
        ("Name", data["name"] + (" (default)" if data["is_default"] else "")),
        ("Diagnosed", data["diagnosis_date"]), ("Histology", data["histology"]), ("Subtypes", subtypes),
        ("Drivers", ", ".join(data["drivers"] or [])), ("Smoking", data["smoking"]),
        ("Tracking ended", (data["ended_on"] or "") + (f" ({data['ended_reason']})" if data["ended_reason"] else "")),
        ("Records", ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in data["counts"].items())),
    ]
    for label, value in lines:
        if value:
            common.out(f"{label + ':':<16}{value}")


@app.command("edit")
def edit(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(help="Patient to edit (default patient if omitted).")] = None,
    new_name: Annotated[Optional[str], typer.Option("--name", help="New display name.")] = None,
    diagnosed: Annotated[Optional[str], typer.Option("--diagnosed")] = None,
    born: Annotated[Optional[str], typer.Option("--born", help="Birth date.")] = None,
    histology: Annotated[Optional[str], typer.Option()] = None,
    subtype: Annotated[list[str], typer.Option("--subtype", help="Replaces the subtype composition.")] = [],  # noqa: B006
    driver: Annotated[list[str], typer.Option("--driver", help="Replaces the driver list.")] = [],  # noqa: B006
    smoking: SmokingOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a patient's details; only the options given change."""
    from lungtrack.parsing.subtypes import parse_subtypes

    diag = common.parse_date_opt(diagnosed, "--diagnosed")
    birth = common.parse_date_opt(born, "--born")
    subtypes = parse_subtypes(subtype) if subtype else None
    drivers = _drivers(driver) if driver else None

    def op(w, _force):
        return w.edit_patient(w.patient(name, field="NAME"), name=new_name, diagnosis_date=diag, histology=histology,
                              subtypes=subtypes, drivers=drivers, smoking=smoking.value if smoking else None,
                              birth_date=birth)

    res, _change = common.write(ctx, op)
    data = res.row
    if json_out:
        common.print_json(data)
    common.err(f"Updated {data['name']}: " + "; ".join(res.extra["changes"]) + ".")


@app.command("default")
def default(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Patient to use when --patient is not given.")],
            json_out: common.ResultJsonOpt = False) -> None:
    """Set the default patient."""
    res, _change = common.write(ctx, lambda w, _f: w.set_default_patient(w.patient_row(name, field="NAME")))
    pname = res.row["name"]
    common.report_result(ctx, {"default_patient": pname}, f"{pname} is now the default patient.")


@app.command("end")
def end(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(help="Patient (default patient if omitted).")] = None,
    on: Annotated[str, typer.Option("--date", "--on", help="Date tracking ended.")] = "today",
    reason: Annotated[Optional[str], typer.Option(help="Why, e.g. 'deceased' or 'moved care'.")] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Resume tracking.")] = False,
    json_out: common.ResultJsonOpt = False,
) -> None:
    """Mark a patient's tracking as ended: no more reminders or timing findings for them."""
    when = common.parse_date_opt(on, "--date")
    res, _change = common.write(ctx, lambda w, _f: w.end_tracking(w.patient_row(name, field="NAME"),
                                                                   None if undo else when, reason))
    pname = res.row["name"]
    common.report_result(ctx, {"patient": pname, "ended_on": None if undo else when.isoformat(),
                               "reason": None if undo else reason},
                         f"Tracking for {pname} resumed." if undo else
                         f"Tracking for {pname} ended on {common.date_label(when)}; no more reminders for {pname}.")


@app.command("delete")
def delete(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Patient to delete, with all their records.")],
           yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete a patient and ALL their records (asks first; --yes when not on a terminal).

    A backup copy of the store is saved first, and 'lungtrack undo' brings the patient back."""
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        pname = repo.find_patient(session, name, field="NAME").name
    common.confirm_or_refuse(f"Delete {pname} and all their records? (A backup copy is saved first.)", yes)
    from lungtrack.store.db import backup

    with common.writer(ctx, kind="delete") as w:
        saved = backup(w.store, reason="before-delete-patient")  # the severest command keeps a way back
        p = w.patient(name, field="NAME")
        pid, pname = p.id, p.name
        res = w.delete("patient", [pid])
        counts = res.extra["counts"]
        total = sum(counts.values()) - 1
        w.log_event("delete-patient", f"{total} record(s) deleted; backup {saved}", [(pid, pname)])
    common.report_result(ctx, {"deleted": "Patient", "id": pid, "name": pname, "records": counts, "dependent_records": total,
                               "backup": str(saved), "change_id": w.change_id},
                         f"Deleted patient {pname} and {total} record(s) ('lungtrack undo' brings them back); "
                         f"a backup copy was saved first: {saved}")
