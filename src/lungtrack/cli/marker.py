"""lungtrack marker: tumour-marker results (CEA, CYFRA 21-1, NSE, ProGRP, CA-125)."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt, YesOpt

app = typer.Typer(help="Tumour-marker results: add, list, show, edit, delete.", no_args_is_help=True)

ForceOpt = Annotated[bool, typer.Option("--force", help="Save a value even though it looks like a typo or unit slip.")]


def _value_and_unit(marker_text: str, value: str, unit: str | None, field: str = "value"):
    """(marker, number as typed, unit as typed or the marker's usual unit, comparator).

    ``"7.4ng/mL"`` may carry its unit; ``"<0.5"`` / ``">1000"`` is a value outside the assay's
    range, stored with its comparator (:func:`lungtrack.parsing.numbers.parse_marker_value`);
    0 is refused.  The writer converts and checks the value against the store."""
    from lungtrack.knowledge.markers import MARKERS, marker_from_text
    from lungtrack.parsing.numbers import parse_marker_value, parse_number

    marker = marker_from_text(marker_text, field="marker")
    text = value.strip()
    if unit is None:  # "7.4ng/mL" or "7.4 ng/mL" typed as one argument
        i = 0
        while i < len(text) and (text[i].isdigit() or text[i] in "<>.+-eE "):
            i += 1
        rest = text[i:].strip()
        if 0 < i < len(text) and rest[:1] and (rest[0].isalpha() or rest[0] in "µμ"):
            text, unit = text[:i].strip(), rest
    comparator, number = parse_marker_value(text, field=field)
    parse_number(number, field=field, minimum=0, maximum=MARKERS[marker].plausible_max * 1000)
    # the person typed the value: without a unit it is in the marker's usual unit
    return marker, number, unit or MARKERS[marker].canonical_unit, comparator


#: The writer's field names -> this command's options.
_FIELDS = {"uln": "--uln", "date": "--date", "value": "value", "unit": "unit"}


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
    from lungtrack.parsing.numbers import parse_number
    from lungtrack.records.inputs import MarkerInput

    if unit and unit_arg and unit.strip().lower() != unit_arg.strip().lower():
        raise InputError("--unit", unit, f"the same unit as the UNIT argument ({unit_arg})")
    mk, number, typed_unit, comparator = _value_and_unit(marker, value, unit or unit_arg)
    when = common.parse_date_opt(on, "--date")
    uln_val = parse_number(uln, field="--uln") if uln is not None else None  # the writer checks it is > 0
    inp = MarkerInput(marker=mk.value, value=number, unit=typed_unit, date=when, uln=uln_val, lab=lab,
                      comparator=comparator)

    def op(w, force_):
        p = w.patient_row(patient)
        return w.add_marker(p, inp, force=force_), p.name

    (res, pname), _change = common.write(ctx, op, force=force, fields=_FIELDS)
    data = res.row
    if json_out:
        common.print_json(data)
    shown = f"{data['comparator'] or ''}{data['value']:g} {data['unit']}"
    if res.already:
        common.err(f"{mk.value} {shown} on {common.date_label(when)} is already logged for {pname} "
                   f"(id {data['id']}); nothing was added.")
        return
    extra = f" (lab's upper limit {data['uln']:g} {data['unit']})" if data["uln"] is not None else ""
    common.err(f"Logged {mk.value} {shown} on {common.date_label(when)} for {pname}{extra}.")


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
                       [[r["id"], r["date"], r["marker"], f"{r['comparator'] or ''}{r['value']:g}", r["unit"], r["uln"],
                         r["lab"]] for r in rows])


@app.command("show")
def show(ctx: typer.Context, result_id: Annotated[int, typer.Argument(help="Result id.")],
         patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """Show one marker result."""
    data = common.show_flow(ctx, "MarkerResult", result_id, patient, json_out, marker_dict)
    if data is not None:
        common.print_fields([(k.replace("_", " "), data.get(k)) for k in
                             ("id", "date", "marker", "comparator", "value", "unit", "uln", "lab", "source", "created_at")])


@app.command("edit")
def edit(
    ctx: typer.Context,
    result_id: Annotated[int, typer.Argument(help="Result id.")],
    value: Annotated[Optional[str], typer.Option("--value")] = None,
    unit: Annotated[Optional[str], typer.Option("--unit")] = None,
    on: Annotated[Optional[str], typer.Option("--date", "--on", help="New date (not in the future).")] = None,
    uln: Annotated[Optional[str], typer.Option("--uln")] = None,
    lab: Annotated[Optional[str], typer.Option("--lab")] = None,
    force: ForceOpt = False,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Correct a marker result; only the options given change."""
    from lungtrack.errors import InputError
    from lungtrack.parsing.numbers import parse_number

    when = common.parse_date_opt(on, "--date")
    if not any(v is not None for v in (value, unit, when, uln, lab)):
        raise InputError("options", "", "at least one of --value, --unit, --date, --uln, --lab")
    uln_val = parse_number(uln, field="--uln") if uln is not None else None

    def op(w, force_):
        from lungtrack.knowledge.markers import convert_marker_value, marker_from_text

        p = w.patient(patient)
        row = w.find("marker", [result_id], p)[0]
        if unit is not None:
            convert_marker_value(marker_from_text(row.marker), 1.0, unit, field="--unit")  # an unknown unit is refused
            if value is None and uln is None:
                raise InputError("--unit", unit, "--unit together with --value or --uln (the unit they are in)")
        number = comparator = None
        typed_unit = unit
        if value is not None:
            _mk, number, typed_unit, comparator = _value_and_unit(row.marker, value, unit, field="--value")
        return w.edit_marker(p, result_id, value=number, unit=typed_unit, comparator=comparator, date_=when,
                             uln=uln_val, lab=lab, force=force_)

    res, _change = common.write(ctx, op, force=force, fields=_FIELDS)
    data = res.row
    if json_out:
        common.print_json(data)
    common.err(f"Updated marker result {result_id}: {data['marker']} {data['comparator'] or ''}{data['value']:g} "
               f"{data['unit']} on {data['date']}.")


@app.command("delete")
def delete(ctx: typer.Context, result_ids: Annotated[list[int], typer.Argument(help="Result id(s).")],
           patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete one or more marker results (asks first; --yes when not on a terminal)."""
    common.delete_flow(ctx, "marker", result_ids, patient, yes, json_out,
                       lambda r: f"{r.marker} {r.comparator or ''}{r.value:g} {r.unit} of {r.date.isoformat()} (id {r.id})")
