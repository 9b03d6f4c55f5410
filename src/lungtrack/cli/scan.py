"""lungtrack scan / lesion: imaging studies with per-lesion measurements."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt, YesOpt
from lungtrack.enums import Modality, NonTargetStatus

app = typer.Typer(help="Imaging studies (CT, PET-CT, MRI, X-ray) with lesion measurements.", no_args_is_help=True)
lesion_app = typer.Typer(help="Lesion identities that last across scans: list, rename, set site or role, delete.",
                         no_args_is_help=True)

LesionOpt = Annotated[list[str], typer.Option(
    "--lesion", "-l",
    help='A lesion measurement, e.g. "RUL mass: lung, 3.2 cm", "4R: node, 16 mm", "RUL mass 22", '
         '"liver S6: too small", "4R: disappeared", "adrenal: not evaluated". Give the site the first time '
         "a label is used; afterwards the label alone. Nodes are measured on the short axis. Repeatable.")]
NewLesionOpt = Annotated[list[str], typer.Option(
    "--new-lesion", help='A new lesion reported on this scan, e.g. "liver S8: liver, 12 mm". Repeatable.')]
EquivocalOpt = Annotated[list[str], typer.Option(
    "--equivocal-new-lesion", help="A possible new lesion the report calls equivocal (followed, not counted as progression until confirmed).")]


def _measurements(specs: list[str], field: str = "--lesion", *, new: bool = False, equivocal: bool = False):
    """Parse --lesion / --new-lesion values (everything is checked before the store is opened)."""
    from lungtrack.parsing.lesions import check_first_sighting, parse_lesion_spec
    from lungtrack.records.inputs import MeasurementInput

    out = []
    for text in specs:
        spec = parse_lesion_spec(text, field=field)
        if new or equivocal:
            check_first_sighting(spec, text, field=field)
        out.append(MeasurementInput(label=" ".join(spec.label.split()), size_mm=spec.size_mm, status=spec.status.value,
                                    short_axis_mm=spec.short_axis_mm, site=spec.site, is_node=spec.is_node,
                                    new=new, equivocal=equivocal, role=spec.role.value if spec.role else None))
    return out


def _prompt_lesions(ctx: typer.Context, patient: str | None) -> list[str]:
    """On a terminal with no --lesion given: ask for each known lesion, then for new ones.

    Each answer is checked at once and asked again when it is not valid, so a typo costs one
    line, not the whole entry.  Nothing is written until every answer is in.
    """
    from lungtrack.errors import InputError
    from lungtrack.parsing.lesions import parse_lesion_spec
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        known = []
        for les in repo.lesions(session, p):
            last = repo.last_measurement(session, les)
            hint = f"last {last[0].size_mm:g} mm on {last[1].date.isoformat()}" if last else "no size yet"
            known.append((les.label, les.site, hint))
    common.err("Enter each lesion's size (e.g. 22, 2.2 cm, too small, gone, ne); leave empty to skip.")
    specs: list[str] = []

    def ask(question: str, make_spec) -> None:
        while True:
            answer = typer.prompt(question, default="", show_default=False, err=True).strip()
            if not answer:
                return
            spec = make_spec(answer)
            try:
                parse_lesion_spec(spec, field="--lesion")
            except InputError as exc:
                common.err(f"  {exc.message} Try again, or leave empty to skip.")
                continue
            specs.append(spec)
            return

    for label, site, hint in known:
        ask(f"{label} ({site}; {hint})", lambda a, label=label: f"{label}: {a}")
    common.err('Other lesions, one per line, as "LABEL: SITE, SIZE" (e.g. "liver S8: liver, 12 mm"); empty to finish.')
    while True:
        before = len(specs)
        ask("Lesion", lambda a: a)
        if len(specs) == before:
            return specs


def study_dict(session, study) -> dict:
    from lungtrack.store import models as m
    from lungtrack.store import repo

    data = repo.row_dict(study)
    data["measurements"] = []
    for mm in repo.study_measurements(session, study):
        lesion = session.get(m.Lesion, mm.lesion_id)
        data["measurements"].append({
            "id": mm.id, "lesion_id": mm.lesion_id, "label": lesion.label, "site": lesion.site, "is_node": lesion.is_node,
            "size_mm": mm.size_mm, "unit": "mm", "status": mm.status,
        })
    data["new_lesions"] = [
        {"id": nl.id, "lesion_id": nl.lesion_id, "label": nl.label, "site": nl.site, "is_node": nl.is_node, "size_mm": nl.size_mm, "unit": "mm",
         "equivocal": nl.equivocal}
        for nl in repo.study_new_lesions(session, study)
    ]
    return data


def _assessment_sentence(conn, p, study_id: int) -> str:
    """One sentence on what RECIST makes of this scan, for the confirmation line (``conn``: the
    write's Core connection, after the scan was saved)."""
    from lungtrack.core.recist import assess_history
    from lungtrack.knowledge.wording import response_label
    from lungtrack.settings import load_rules_config
    from lungtrack.store import read

    history = read.load_history(conn, p)
    for resp in assess_history(history, load_rules_config()):
        for tp in resp.timepoints:
            if tp.study_id != study_id:
                continue
            if tp.is_baseline:
                nodes = sum(1 for t in resp.targets if t.is_node)
                others = len(resp.targets) - nodes
                parts = [f"{others} target{'s' if others != 1 else ''}"] if others else []
                if nodes:
                    parts.append(f"{nodes} nodal target{'s' if nodes != 1 else ''}")
                if resp.non_targets:
                    parts.append(f"{len(resp.non_targets)} non-target{'s' if len(resp.non_targets) != 1 else ''}")
                kinds = " + ".join(parts) if parts else "no lesions to follow"
                if not resp.targets:
                    kinds = "no measurable target lesion; " + kinds
                sum_txt = f", sum of diameters {tp.sum_mm:g} mm" if tp.sum_mm is not None and resp.targets else ""
                return f"{kinds}{sum_txt} (baseline for {resp.line.drug})"
            if not resp.targets:
                return f"non-target disease only → {response_label(tp.overall)} (RECIST 1.1)"
            if tp.sum_mm is None:
                return f"not all targets measured → {response_label(tp.overall)} (RECIST 1.1)"
            pct = tp.change_from_baseline_pct
            pct_txt = f", {pct:+.0f} % from baseline".replace("-", "−") if pct is not None else ""
            return f"sum {tp.sum_mm:g} mm{pct_txt} → {response_label(tp.overall)} (RECIST 1.1)"
    return "no therapy line covers this date, so no RECIST assessment"


@app.command("add")
def add(
    ctx: typer.Context,
    on: Annotated[str, typer.Option("--date", "--on", help="Date of the scan.")] = "today",
    modality: Annotated[Modality, typer.Option("--modality", case_sensitive=False, help="Imaging modality.")] = Modality.CT,
    slice_mm: Annotated[Optional[str], typer.Option("--slice", help="Slice thickness in mm (sets the measurable size when > 5 mm).")] = None,
    impression: Annotated[Optional[str], typer.Option("--impression", help="The report's impression, as free text.")] = None,
    non_target: Annotated[Optional[NonTargetStatus], typer.Option("--non-target", case_sensitive=False,
                          help="Non-target disease on this scan: present, absent, or progression (unequivocal).")] = None,
    lesion: LesionOpt = [],  # noqa: B006
    new_lesion: NewLesionOpt = [],  # noqa: B006
    equivocal: EquivocalOpt = [],  # noqa: B006
    from_report: Annotated[Optional[str], typer.Option(
        "--from-report", metavar="FILE|-",
        help="Read the lesion sizes from the CT report's text (a file, or - for standard input); shows the "
             "proposed mapping and asks on a terminal; off a terminal needs --yes. See docs/report-text.md.")] = None,
    yes: YesOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Save sizes even though they look like a typo or unit slip.")] = False,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Log an imaging study and its lesion measurements.

    Example: lungtrack scan add --date 2025-09-15 --lesion "RUL mass: lung, 3.2 cm"
    --lesion "liver S6: liver, 18 mm" --lesion "4R: node, 16 mm"
    """
    from lungtrack.parsing.numbers import parse_number

    when = common.parse_date_opt(on, "--date")
    thickness = parse_number(slice_mm, field="--slice", minimum=0.1, maximum=20) if slice_mm is not None else None
    if from_report is not None:
        from lungtrack.cli import scan_report

        scan_report.add_from_report(ctx, from_report, when=when, modality=modality, thickness=thickness,
                                    impression=impression, non_target=non_target, extra=(lesion, new_lesion, equivocal),
                                    force=force, patient=patient, yes=yes, json_out=json_out)
        return
    if not (lesion or new_lesion or equivocal) and common.stdin_is_tty() and not json_out:
        lesion = _prompt_lesions(ctx, patient)
    data, sentence, pname = save_scan(ctx, when=when, modality=modality, thickness=thickness, impression=impression,
                                      non_target=non_target, lesion=lesion, new_lesion=new_lesion, equivocal=equivocal,
                                      force=force, patient=patient)
    report_saved(data, sentence, pname, modality, when, len(new_lesion), json_out)


def save_scan(ctx: typer.Context, *, when, modality: Modality, thickness: float | None, impression: str | None,
              non_target: NonTargetStatus | None, lesion: list[str], new_lesion: list[str], equivocal: list[str],
              force: bool, patient: str | None, report_text: str | None = None) -> tuple[dict, str, str]:
    """Save one scan with its measurements through the write path, in one transaction (what
    ``scan add`` does once its options are parsed; ``scan add --from-report`` calls it with the
    ``--lesion`` values it built, and the report's text, kept in ``imaging_study.report_text``).

    Returns (the scan as a dict, the RECIST sentence, the patient's name)."""
    from lungtrack.records.inputs import ScanInput

    items = (_measurements(lesion) + _measurements(new_lesion, "--new-lesion", new=True)
             + _measurements(equivocal, "--equivocal-new-lesion", equivocal=True))
    inp = ScanInput(date=when, measurements=tuple(items), modality=modality.value, slice_thickness_mm=thickness,
                    impression=impression, non_target_status=non_target.value if non_target else None,
                    report_text=report_text)

    def op(w, force_):
        p = w.patient_row(patient)
        res = w.add_scan(p, inp, force=force_)
        return res, _assessment_sentence(w.conn, p, res.ids[0]), p.name

    (res, sentence, pname), _change = common.write(ctx, op, force=force)
    return res.row, sentence, pname


def report_saved(data: dict, sentence: str, pname: str, modality: Modality, when, n_new: int, json_out: bool) -> None:
    if json_out:
        common.print_json(data)
    n = len(data["measurements"])
    new_txt = f", {n_new} new lesion{'s' if n_new != 1 else ''}" if n_new else ""
    common.err(f"Logged {modality.value} on {common.date_label(when)} for {pname}: "
               f"{n} lesion{'s' if n != 1 else ''}{new_txt}; {sentence}.")


@app.command("list")
def list_(ctx: typer.Context, patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """List imaging studies with their measurements."""
    from lungtrack.store import models as m
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        rows = [study_dict(session, s) for s in repo.records(session, m.ImagingStudy, p)]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(
        ["id", "date", "modality", "lesions", "new lesions", "non-target", "impression"],
        [[r["id"], r["date"], r["modality"],
          "; ".join(f"{x['label']} {_size(x)}" for x in r["measurements"]),
          "; ".join(f"{x['label'] or x['site']}{' (equivocal)' if x['equivocal'] else ''}" for x in r["new_lesions"]),
          r["non_target_status"], r["impression"]] for r in rows])


def _size(x: dict) -> str:
    if x["status"] == "measured":
        return f"{x['size_mm']:g} mm"
    return x["status"]


@app.command("show")
def show(ctx: typer.Context, study_id: Annotated[int, typer.Argument(help="Scan id.")],
         patient: PatientOpt = None, json_out: JsonOpt = False,
         report: Annotated[bool, typer.Option("--report", help="Print the report text kept with the scan "
                                              "(scan add --from-report keeps it).")] = False) -> None:
    """Show one scan with each lesion's measurement."""
    from lungtrack.store import models as m
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        data = study_dict(session, repo.get_record(session, m.ImagingStudy, study_id, p))  # report_text included
    if report and not json_out:
        if data["report_text"] is None:
            common.err(f"Scan {study_id} has no report text (only scan add --from-report keeps it).")
            return
        common.out(data["report_text"].rstrip("\n"))
        return
    if json_out:
        common.print_json(data)
        return
    common.out(f"Scan {data['id']}: {data['modality']} on {data['date']}"
               + (f", slice {data['slice_thickness_mm']:g} mm" if data["slice_thickness_mm"] else ""))
    if data["impression"]:
        common.out(f"Impression: {data['impression']}")
    if data["non_target_status"]:
        common.out(f"Non-target disease: {data['non_target_status']}")
    common.print_table(["lesion", "site", "node", "size", "status"],
                       [[x["label"], x["site"], x["is_node"], f"{x['size_mm']:g} mm" if x["size_mm"] is not None else "",
                         x["status"]] for x in data["measurements"]])
    for x in data["new_lesions"]:
        common.out(f"New lesion: {x['label'] or ''} ({x['site']})"
                   + (f" {x['size_mm']:g} mm" if x["size_mm"] else "") + (" — equivocal" if x["equivocal"] else ""))


@app.command("edit")
def edit(
    ctx: typer.Context,
    study_id: Annotated[int, typer.Argument(help="Scan id.")],
    on: Annotated[Optional[str], typer.Option("--date", "--on", help="New date (not in the future).")] = None,
    modality: Annotated[Optional[Modality], typer.Option("--modality", case_sensitive=False, help="New imaging modality.")] = None,
    slice_mm: Annotated[Optional[str], typer.Option("--slice")] = None,
    impression: Annotated[Optional[str], typer.Option("--impression")] = None,
    non_target: Annotated[Optional[NonTargetStatus], typer.Option("--non-target", case_sensitive=False)] = None,
    lesion: Annotated[list[str], typer.Option("--lesion", "-l", help="Add or replace one lesion's measurement on this scan.")] = [],  # noqa: B006
    remove: Annotated[list[str], typer.Option("--remove-lesion", help="Remove this lesion's measurement from this scan.")] = [],  # noqa: B006
    new_lesion: NewLesionOpt = [],  # noqa: B006
    equivocal: EquivocalOpt = [],  # noqa: B006
    force: Annotated[bool, typer.Option("--force", help="Save sizes and labels even though they look like a slip.")] = False,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Correct a scan; only the options given change.

    --remove-lesion LABEL takes a lesion off this scan: its measurement, or, for a lesion first
    reported new on this scan, the new lesion itself (and the progression it caused).
    """
    from lungtrack.errors import InputError
    from lungtrack.parsing.numbers import parse_number

    when = common.parse_date_opt(on, "--date")
    thickness = parse_number(slice_mm, field="--slice", minimum=0.1, maximum=20) if slice_mm is not None else None
    if not any(v not in (None, []) for v in (when, modality, thickness, impression, non_target, lesion, remove,
                                              new_lesion, equivocal)):
        raise InputError("options", "", "at least one of --date, --modality, --slice, --impression, --non-target, "
                         "--lesion, --remove-lesion, --new-lesion, --equivocal-new-lesion")
    items = (_measurements(lesion) + _measurements(new_lesion, "--new-lesion", new=True)
             + _measurements(equivocal, "--equivocal-new-lesion", equivocal=True))

    def op(w, force_):
        return w.edit_scan(w.patient(patient), study_id, date_=when, modality=modality.value if modality else None,
                           slice_thickness_mm=thickness, impression=impression,
                           non_target_status=non_target.value if non_target else None,
                           measurements=items, remove=remove, force=force_)

    res, _change = common.write(ctx, op, force=force)
    data = res.row
    if json_out:
        common.print_json(data)
    for note in res.notes:
        common.err(note)
    common.err(f"Updated scan {study_id} ({data['modality']} on {data['date']}): {len(data['measurements'])} lesion(s).")


@app.command("delete")
def delete(ctx: typer.Context, study_ids: Annotated[list[int], typer.Argument(help="Scan id(s).")],
           patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete one or more scans and their measurements (asks first)."""
    common.delete_flow(ctx, "scan", study_ids, patient, yes, json_out,
                       lambda s: f"{s.modality} of {s.date.isoformat()} (scan {s.id})")


# ------------------------------------------------------------------ lesions

@lesion_app.command("list")
def lesion_list(ctx: typer.Context, patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """List lesion identities with their measurement history."""
    from sqlmodel import select

    from lungtrack.store import models as m
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        rows = []
        for les in repo.lesions(session, p):
            data = repo.row_dict(les)
            pts = session.exec(select(m.LesionMeasurement, m.ImagingStudy)
                               .join(m.ImagingStudy, m.ImagingStudy.id == m.LesionMeasurement.study_id)
                               .where(m.LesionMeasurement.lesion_id == les.id).order_by(m.ImagingStudy.date)).all()
            data["measurements"] = [{"date": st.date.isoformat(), "size_mm": mm.size_mm, "unit": "mm", "status": mm.status}
                                    for mm, st in pts]
            rows.append(data)
    if json_out:
        common.print_json(rows)
        return
    common.print_table(["id", "label", "site", "node", "role", "sizes (mm)"],
                       [[r["id"], r["label"], r["site"], r["is_node"], r["role"] or "auto",
                         " → ".join(f"{x['size_mm']:g}" if x["size_mm"] is not None else x["status"] for x in r["measurements"])]
                        for r in rows])


@lesion_app.command("edit")
def lesion_edit(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Current label.")],
    new_label: Annotated[Optional[str], typer.Option("--label", help="New label.")] = None,
    site: Annotated[Optional[str], typer.Option("--site", help="New anatomical site, e.g. lung, liver, node, bone.")] = None,
    node: Annotated[Optional[bool], typer.Option("--node/--not-node", help="Whether it is a lymph node.")] = None,
    role: Annotated[Optional[str], typer.Option("--role", help="target, non-target, or auto (let RECIST choose at baseline).")] = None,
    patient: PatientOpt = None,
    json_out: common.ResultJsonOpt = False,
) -> None:
    """Rename a lesion, fix its site, or override its RECIST role."""
    from lungtrack.errors import InputError

    from lungtrack.parsing.lesions import parse_label

    if role is not None and role.lower() not in ("target", "non-target", "auto"):
        raise InputError("--role", role, "target, non-target or auto")
    if new_label is not None:
        new_label = parse_label(new_label, field="--label")
    if site is not None:
        site = parse_label(site, field="--site", what="a site such as lung, liver or lymph node")
    if all(v is None for v in (new_label, site, node, role)):
        raise InputError("options", "", "at least one of --label, --site, --node/--not-node, --role")

    def op(w, _force):
        return w.edit_lesion(w.patient(patient), label, new_label=new_label, site=site, is_node=node, role=role)

    res, _change = common.write(ctx, op)
    row = res.row
    common.report_result(ctx, {"id": row["id"], "label": row["label"], "site": row["site"], "is_node": row["is_node"],
                               "role": row["role"]}, f"Updated lesion {row['label']}.")


@lesion_app.command("delete")
def lesion_delete(ctx: typer.Context, label: Annotated[str, typer.Argument(help="Lesion label.")],
                  patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete a lesion and all its measurements (asks first)."""
    from lungtrack.errors import InputError
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        les = repo.find_lesion(session, p, label)
        if les is None:
            raise InputError("label", label, "one of: " + ", ".join(x.label for x in repo.lesions(session, p)))
        lesion_id = les.id
    common.delete_flow(ctx, "lesion", [lesion_id], patient, yes, json_out,
                       lambda x: f"lesion {x.label} and its measurements")
