"""lungtrack marker: tumour-marker results (CEA, CYFRA 21-1, NSE, ProGRP, CA-125)."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt, YesOpt

app = typer.Typer(help="Tumour-marker results: add, list, show, edit, delete.", no_args_is_help=True)

ForceOpt = Annotated[bool, typer.Option("--force", help="Save a value even though it looks like a typo or unit slip.")]


def _value_and_unit(marker_text: str, value: str, unit: str | None):
    from lungtrack.errors import InputError
    from lungtrack.knowledge.markers import MARKERS, convert_marker_value, marker_from_text
    from lungtrack.parsing.numbers import parse_number

    marker = marker_from_text(marker_text, field="marker")
    text = value.strip()
    if unit is None:  # "7.4ng/mL" or "7.4 ng/mL" typed as one argument
        i = 0
        while i < len(text) and (text[i].isdigit() or text[i] in ".+-eE"):
            i += 1
        rest = text[i:].strip()
        if 0 < i < len(text) and rest[:1] and (rest[0].isalpha() or rest[0] in "µμ"):
            text, unit = text[:i], rest
    info = MARKERS[marker]
    number = parse_number(text, field="value", minimum=0, maximum=info.plausible_max * 1000)
    canonical, canonical_unit = convert_marker_value(marker, number, unit, field="unit")
    if canonical > info.plausible_max:
        raise InputError("value", value, f"a {info.name} value up to {info.plausible_max:g} {canonical_unit}")
    return marker, canonical, canonical_unit


def _check_plausible(session, patient, marker, value, unit, when, force: bool) -> None:
    from sqlmodel import select

    from lungtrack.core.plausibility import check_marker_entry
    from lungtrack.errors import InputError
    from lungtrack.store import models as m

    if force:
        return
    prev = session.exec(select(m.MarkerResult).where(m.MarkerResult.patient_id == patient.id,
                                                     m.MarkerResult.marker == marker.value,
                                                     m.MarkerResult.date <= when)
                        .order_by(m.MarkerResult.date.desc(), m.MarkerResult.id.desc())).first()  # type: ignore[attr-defined]
    if prev is None:
        return
    problem = check_marker_entry(marker.value, unit, prev.value, prev.date, value, when)
    if problem:
        raise InputError("value", value, "a plausible value", message=f"value: {problem} Nothing was saved. "
                         "If the value is right, add --force.")


def marker_dict(r) -> dict:
    from lungtrack.store.repo import row_dict

    return row_dict(r)


@app.command("add")
def add(
    ctx: typer.Context,
    marker: Annotated[str, typer.Argument(help="CEA, CYFRA 21-1, NSE, ProGRP or CA-125 (any case).")],
    value: Annotated[str, typer.Argument(help="The value, e.g. 7.4 (a unit may follow: '7.4 ng/mL').")],
    unit_arg: Annotated[Optional[str], typer.Argument(metavar="[UNIT]", help="Unit, e.g. ng/mL or µg/L (default: the marker's usual unit).")] = None,
    on: Annotated[str, typer.Option("--date", "--on", help="Date of the blood sample.")] = "today",
    unit: Annotated[Optional[str], typer.Option("--unit", help="Unit (same as the UNIT argument).")] = None,
    uln: Annotated[Optional[str], typer.Option("--uln", help="The lab's upper limit of normal, in the same unit.")] = None,
    lab: Annotated[Optional[str], typer.Option("--lab", help="Laboratory name.")] = None,
    force: ForceOpt = False,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Log a tumour-marker result.

    Example: lungtrack marker add cea 3.1 --date 2025-12-08
    """
    from lungtrack.errors import InputError
    from lungtrack.knowledge.markers import convert_marker_value
    from lungtrack.parsing.numbers import parse_number
    from lungtrack.store import models as m
    from lungtrack.store import repo

    if unit and unit_arg and unit.strip().lower() != unit_arg.strip().lower():
        raise InputError("--unit", unit, f"the same unit as the UNIT argument ({unit_arg})")
    mk, val, cunit = _value_and_unit(marker, value, unit or unit_arg)
    when = common.parse_date_opt(on, "--date")
    uln_val = None
    if uln is not None:
        raw = parse_number(uln, field="--uln", minimum=0)
        if raw <= 0:
            raise InputError("--uln", uln, "a number greater than 0")
        uln_val, _ = convert_marker_value(mk, raw, unit or unit_arg, field="--unit")
    with common.transaction(ctx) as (_s, session):
        p = repo.find_patient(session, patient)
        _check_plausible(session, p, mk, val, cunit, when, force)
        row = m.MarkerResult(patient_id=p.id, date=when, marker=mk.value, value=val, unit=cunit, uln=uln_val, lab=lab)
        session.add(row)
        session.flush()
        data = marker_dict(row)
        pname = p.name
    if json_out:
        common.print_json(data)
    extra = f" (lab's upper limit {uln_val:g} {cunit})" if uln_val is not None else ""
    common.err(f"Logged {mk.value} {val:g} {cunit} on {common.date_label(when)} for {pname}{extra}.")


@app.command("list")
def list_(
    ctx: typer.Context,
    marker: Annotated[Optional[str], typer.Option("--marker", "-m", help="Only this marker.")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List marker results in date order."""
    from lungtrack.knowledge.markers import marker_from_text
    from lungtrack.store import models as m
    from lungtrack.store import repo

    only = marker_from_text(marker, field="--marker").value if marker else None
    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        rows = [marker_dict(r) for r in repo.records(session, m.MarkerResult, p) if only in (None, r.marker)]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(["id", "date", "marker", "value", "unit", "lab ULN", "lab"],
                       [[r["id"], r["date"], r["marker"], r["value"], r["unit"], r["uln"], r["lab"]] for r in rows])


@app.command("show")
def show(ctx: typer.Context, result_id: Annotated[int, typer.Argument(help="Result id.")],
         patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """Show one marker result."""
    data = common.show_flow(ctx, "MarkerResult", result_id, patient, json_out, marker_dict)
    if data is not None:
        common.print_fields([(k.replace("_", " "), data.get(k)) for k in
                             ("id", "date", "marker", "value", "unit", "uln", "lab", "source", "created_at")])


@app.command("edit")
def edit(
    ctx: typer.Context,
    result_id: Annotated[int, typer.Argument(help="Result id.")],
    value: Annotated[Optional[str], typer.Option("--value")] = None,
    unit: Annotated[Optional[str], typer.Option("--unit")] = None,
    on: Annotated[Optional[str], typer.Option("--date")] = None,
    uln: Annotated[Optional[str], typer.Option("--uln")] = None,
    lab: Annotated[Optional[str], typer.Option("--lab")] = None,
    force: ForceOpt = False,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Correct a marker result; only the options given change."""
    from lungtrack.errors import InputError
    from lungtrack.knowledge.markers import convert_marker_value, marker_from_text
    from lungtrack.parsing.numbers import parse_number
    from lungtrack.store import models as m
    from lungtrack.store import repo

    when = common.parse_date_opt(on, "--date")
    if not any(v is not None for v in (value, unit, when, uln, lab)):
        raise InputError("options", "", "at least one of --value, --unit, --date, --uln, --lab")
    with common.transaction(ctx) as (_s, session):
        p = repo.find_patient(session, patient)
        row = repo.get_record(session, m.MarkerResult, result_id, p)
        mk = marker_from_text(row.marker)
        if unit is not None:
            convert_marker_value(mk, 1.0, unit, field="--unit")  # an unknown unit is refused, never ignored
            if value is None and uln is None:
                raise InputError("--unit", unit, "--unit together with --value or --uln (the unit they are in)")
        if value is not None:
            _, row.value, row.unit = _value_and_unit(row.marker, value, unit)
            _check_plausible(session, p, mk, row.value, row.unit, when or row.date, force)
        if uln is not None:
            row.uln, _ = convert_marker_value(mk, parse_number(uln, field="--uln", minimum=0), unit, field="--unit")
        row.date = when or row.date
        row.lab = lab if lab is not None else row.lab
        repo.touch(row)
        session.add(row)
        session.flush()
        data = marker_dict(row)
    if json_out:
        common.print_json(data)
    common.err(f"Updated marker result {result_id}: {data['marker']} {data['value']:g} {data['unit']} on {data['date']}.")


@app.command("delete")
def delete(ctx: typer.Context, result_id: Annotated[int, typer.Argument(help="Result id.")],
           patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete a marker result (asks first)."""
    common.delete_flow(ctx, "MarkerResult", result_id, patient, yes,
                       lambda r: f"{r.marker} {r.value:g} {r.unit} of {r.date.isoformat()} (id {r.id})")
