"""lungtrack import fhir / export fhir: FHIR R4 records in (bulk NDJSON or a Bundle) and out (a Bundle).

The mapping is pure (:mod:`lungtrack.fhir.ndjson_import`, :mod:`lungtrack.fhir.export`); this
module reads the files, matches the mapped records against the store by ``external_id``
(``<resourceType>/<id>``: importing a file twice adds nothing), and writes everything in one
transaction.  Bad input is refused before the store is opened, so nothing is written.
"""

from typing import Annotated, List, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt

app = typer.Typer(
    help="Import records: lab CSV downloads, lungtrack's own JSON export, FHIR R4 (bulk NDJSON or a Bundle).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

_KIND_LABEL = {"patient": ("patient", "patients"), "therapy_line": ("therapy line", "therapy lines"),
               "scan": ("scan", "scans"), "marker_result": ("marker result", "marker results")}


def _plural(n: int, kind: str) -> str:
    one, many = _KIND_LABEL[kind]
    return f"{n} {one if n == 1 else many}"


def read_files(paths: List[str]) -> list:
    """Parse every file first (so that bad input is refused before anything is written)."""
    from pathlib import Path

    from lungtrack.errors import InputError
    from lungtrack.fhir.ndjson_import import parse_fhir_text

    items = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise InputError("FILE", raw, "an existing FHIR NDJSON or JSON file",
                             message=f"FILE: {raw}: no such file; nothing was imported.")
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[:exc.start].count(b"\n") + 1
            raise InputError("FILE", raw, "UTF-8 text", message=(
                f"{path.name}: line {line}: not UTF-8 text; expected FHIR NDJSON or a JSON Bundle; "
                "nothing was imported.")) from None
        except OSError as exc:
            raise InputError("FILE", raw, "a readable file",
                             message=f"FILE: {raw}: cannot read it ({exc.strerror}); nothing was imported.") from None
        items.extend(parse_fhir_text(text, path.name))
    return items


def _existing_ids(session, model, ids) -> set:
    from sqlmodel import select

    found: set = set()
    ids = sorted({i for i in ids if i})
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        found |= set(session.exec(select(model.external_id).where(model.external_id.in_(chunk))))  # type: ignore[union-attr]
    return found


def apply_plan(session, plan, patient_name: Optional[str]) -> dict:
    """Write the plan's new records in the open session; return what was added, found, skipped."""
    from collections import Counter

    from sqlmodel import select

    from lungtrack.errors import InputError
    from lungtrack.store import models as m
    from lungtrack.store import repo

    added: Counter = Counter()
    already: Counter = Counter()
    skipped: Counter = Counter(plan.skipped)
    updates: list[str] = []
    records: list[dict] = []
    targets: dict = {}
    chosen = repo.find_patient(session, patient_name) if patient_name is not None else None
    if chosen is not None and len(plan.patients) > 1:
        raise InputError("--patient", patient_name, "files holding one patient", message=(
            f"--patient: the files hold {len(plan.patients)} patients; import them without --patient "
            "(each becomes its own patient); nothing was imported."))

    def end_tracking(p, rec) -> None:
        if rec.ended_on is not None and p.ended_on is None:
            p.ended_on, p.ended_reason = rec.ended_on, rec.ended_reason
            repo.touch(p)
            updates.append(f"{p.name}: tracking ended {rec.ended_on.isoformat()} ({rec.ended_reason})")

    for rec in plan.patients:
        if chosen is not None:
            targets[rec.external_id] = chosen
            if chosen.external_id is None:
                other = session.exec(select(m.Patient).where(m.Patient.external_id == rec.external_id)).first()
                if other is None:
                    chosen.external_id = rec.external_id
            already["patient"] += 1
            end_tracking(chosen, rec)
            continue
        existing = session.exec(select(m.Patient).where(m.Patient.external_id == rec.external_id)).first()
        if existing is not None:
            targets[rec.external_id] = existing
            already["patient"] += 1
            end_tracking(existing, rec)
            continue
        if any(p.name.casefold() == rec.name.casefold() for p in repo.list_patients(session)):
            raise InputError("--patient", "", "a patient name", message=(
                f"--patient: a patient called {rec.name!r} is already in this store but was not imported from "
                f"{rec.external_id}; to add the records to that patient use --patient {rec.name!r}; "
                "nothing was imported."))
        p = repo.add_patient(session, name=rec.name, source=rec.source, external_id=rec.external_id,
                             ended_on=rec.ended_on, ended_reason=rec.ended_reason)
        targets[rec.external_id] = p
        added["patient"] += 1
        records.append({"kind": "patient", "date": None, "detail": rec.name, "external_id": rec.external_id})
        if rec.ended_on:
            updates.append(f"{p.name}: tracking ended {rec.ended_on.isoformat()} ({rec.ended_reason})")

    cache: dict = {}

    def resolve(subject, rtype: str):
        if chosen is not None:
            return chosen
        if subject is None:
            distinct = {id(p): p for p in targets.values()}
            if len(distinct) == 1:
                return next(iter(distinct.values()))
            skipped[(rtype, "no subject patient; name one with --patient")] += 1
            return None
        if subject in targets:
            return targets[subject]
        if subject not in cache:
            cache[subject] = session.exec(select(m.Patient).where(m.Patient.external_id == subject)).first()
        if cache[subject] is None:
            skipped[(rtype, "its patient is neither in the files nor in the store; name one with --patient")] += 1
        return cache[subject]

    # diagnosis: the earliest dated lung-cancer Condition per patient, only where not yet recorded
    best: dict = {}
    for d in plan.diagnoses:
        p = resolve(d.subject, "Condition")
        if p is None:
            continue
        key = id(p)
        if key not in best or (d.date is not None and (best[key][1].date is None or d.date < best[key][1].date)):
            best[key] = (p, d)
    for p, d in best.values():
        changed = []
        if p.diagnosis_date is None and d.date is not None:
            p.diagnosis_date = d.date
            changed.append(f"diagnosis date {d.date.isoformat()}")
        if not p.histology:
            p.histology = d.histology
            changed.append(f"histology {d.histology!r}")
        if changed:
            repo.touch(p)
            updates.append(f"{p.name}: {' and '.join(changed)} from {d.external_id}")
        else:
            already["diagnosis"] += 1

    def add_new(model, items, kind: str, rtype, make_row, record, duplicate=None) -> None:
        """Add each item not imported before (by external id, or ``duplicate``), counting both."""
        found = _existing_ids(session, model, [x.external_id for x in items])
        for x in items:
            p = resolve(x.subject, rtype(x))
            if p is None:
                continue
            if x.external_id in found or (duplicate is not None and duplicate(p, x)):
                already[kind] += 1
                continue
            session.add(make_row(p, x))
            found.add(x.external_id)
            added[kind] += 1
            records.append({"kind": kind, **record(x), "external_id": x.external_id})

    add_new(
        m.TherapyLine, plan.therapy_lines, "therapy_line", lambda t: t.external_id.split("/")[0],
        lambda p, t: m.TherapyLine(patient_id=p.id, drug=t.drug, start_date=t.start, end_date=t.end,
                                   stop_reason=t.stop_reason, note=t.note, source=t.source, external_id=t.external_id),
        lambda t: {"date": t.start, "end_date": t.end, "detail": t.drug + ("" if t.end else " (open)")},
        duplicate=lambda p, t: session.exec(
            select(m.TherapyLine).where(m.TherapyLine.patient_id == p.id).where(m.TherapyLine.drug == t.drug)
            .where(m.TherapyLine.start_date == t.start)).first() is not None,
    )
    add_new(
        m.ImagingStudy, plan.scans, "scan", lambda s: "Procedure",
        lambda p, s: m.ImagingStudy(patient_id=p.id, date=s.date, modality=s.modality.value, source=s.source,
                                    external_id=s.external_id),
        lambda s: {"date": s.date, "detail": f"{s.modality.value}: {s.description}"},
    )
    add_new(
        m.MarkerResult, plan.markers, "marker_result", lambda r: "Observation",
        lambda p, r: m.MarkerResult(patient_id=p.id, date=r.date, marker=r.marker.value, value=r.value, unit=r.unit,
                                    uln=r.uln, lab=r.lab, source=r.source, external_id=r.external_id),
        lambda r: {"date": r.date, "detail": f"{r.marker.value} {r.value:g} {r.unit}"},
    )
    session.flush()
    return {"added": added, "already": already, "skipped": skipped, "updates": updates, "records": records}


def summary_line(files: List[str], result: dict, dry_run: bool) -> str:
    added, already, skipped = result["added"], result["already"], result["skipped"]
    kinds = ("patient", "scan", "therapy_line", "marker_result")
    what = ", ".join(_plural(added.get(k, 0), k) for k in kinds)
    head = f"{'Would import' if dry_run else 'Imported'} from {', '.join(files)}: {what}"
    parts = [head]
    if result["updates"]:
        parts.append("; ".join(result["updates"]))
    have = [_plural(already[k], k) for k in ("scan", "therapy_line", "marker_result") if already.get(k)]
    if have:
        parts.append("already in the store: " + ", ".join(have))
    total = sum(skipped.values())
    if total:
        by_type: dict = {}
        for (rtype, reason), n in sorted(skipped.items()):
            by_type.setdefault(rtype, []).append(f"{n} {reason}")
        parts.append(f"skipped {total} (" + "; ".join(f"{t}: {', '.join(r)}" for t, r in by_type.items()) + ")")
    text = "; ".join(parts) + "."
    if dry_run:
        text += " Dry run: nothing was written."
    return text


def result_json(files: List[str], result: dict, dry_run: bool, resources: int, notes: List[str]) -> dict:
    added, already, skipped = result["added"], result["already"], result["skipped"]
    names = {"patient": "patients", "therapy_line": "therapy_lines", "scan": "scans", "marker_result": "marker_results"}
    return {
        "files": files,
        "dry_run": dry_run,
        "resources": resources,
        "added": {names[k]: added.get(k, 0) for k in names},
        "already_in_store": {names[k]: already.get(k, 0) for k in names},
        "updated": result["updates"],
        "skipped_total": sum(skipped.values()),
        "skipped": [{"resource_type": t, "reason": r, "count": n} for (t, r), n in sorted(skipped.items())],
        "notes": notes,
        "records": result["records"],
    }


class _DryRun(Exception):
    """Raised inside the transaction so that it rolls back."""


@app.command("fhir")
def import_fhir(
    ctx: typer.Context,
    files: Annotated[List[str], typer.Argument(metavar="FILE", help="FHIR R4 bulk NDJSON files (one resource per line) or JSON Bundles.")],
    patient: PatientOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be added; write nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import patients, lung-cancer diagnoses, chest scans, therapy lines and tumour markers from FHIR R4.

    Reads Patient, Condition, Procedure (chest CT/X-ray/PET-CT), MedicationRequest / MedicationStatement
    (drugs of the drug table) and Observation (tumour-marker LOINC codes); everything else is skipped and
    counted. Importing the same file twice adds nothing. Without --patient each FHIR Patient becomes (or
    matches) its own patient; with --patient the records are added to that patient.

    Example: lungtrack import fhir Patient.ndjson Condition.ndjson Procedure.ndjson --dry-run
    """
    import tempfile
    from pathlib import Path

    from lungtrack.fhir.ndjson_import import map_resources
    from lungtrack.store.paths import resolve as resolve_location

    items = read_files(files)
    plan = map_resources(items)
    names = [Path(f).name for f in files]
    holder: dict = {}
    if dry_run:
        location = resolve_location(common.state(ctx).db)
        if location.path is not None and not location.path.exists():
            # no store yet: rehearse against an empty temporary one
            from lungtrack.store.db import open_store

            with tempfile.TemporaryDirectory() as tmp:
                store = open_store(resolve_location(str(Path(tmp) / "dry-run.db")), create=True)
                try:
                    with store.transaction(write=True) as session:
                        holder["result"] = apply_plan(session, plan, patient)
                finally:
                    store.close()
        else:
            try:
                with common.transaction(ctx, write=False) as (_s, session):
                    holder["result"] = apply_plan(session, plan, patient)
                    raise _DryRun()
            except _DryRun:
                pass
    else:
        with common.transaction(ctx, write=True, create=True) as (_s, session):
            holder["result"] = apply_plan(session, plan, patient)
    result = holder["result"]
    for note in plan.notes:
        common.err(f"Note: {note}.")
    if json_out:
        common.print_json(result_json(names, result, dry_run, plan.resources, plan.notes))
    elif dry_run:
        common.print_table(["kind", "date", "what", "external id"],
                           [[r["kind"], r["date"], r["detail"], r["external_id"]] for r in result["records"]])
    common.err(summary_line(names, result, dry_run))


# ------------------------------------------------------------------ CSV and JSON files (issue 9)
# Reading and mapping are pure (lungtrack.importers); the domain layer (lungtrack.records)
# validates and writes the plan in one transaction and journals it as one change.

_RECORD_ORDER = ("patient", "therapy", "scan", "measurement", "lesion", "marker", "biopsy", "appointment", "note")


def _bad_rows(what: str, lines: list[str]):
    """The one multi-line refusal: 'Error: FILE: N bad rows; nothing was imported' + one line per row."""
    from lungtrack.errors import InputError

    n = len(lines)
    exc = InputError("FILE", what, "valid rows", message=(
        f"{what}: {n} bad row{'s' if n != 1 else ''}; nothing was imported (each row: file:line: column: "
        "problem, expected form)"))
    exc.detail_lines = tuple(lines)  # type: ignore[attr-defined]
    return exc


class _Rollback(Exception):
    """Raised inside a dry run's transaction so that nothing is kept."""


def _read_bytes(raw: str) -> tuple[str, bytes]:
    from pathlib import Path

    from lungtrack.errors import InputError

    path = Path(raw).expanduser()
    if not path.is_file():
        raise InputError("FILE", raw, "an existing file", message=f"FILE: {raw}: no such file; nothing was imported.")
    try:
        return path.name, path.read_bytes()
    except OSError as exc:
        raise InputError("FILE", raw, "a readable file",
                         message=f"FILE: {raw}: cannot read it ({exc.strerror}); nothing was imported.") from None


def _mapping(text: str | None):
    """--mapping: a TOML file, or the name of a shipped mapping (us-lab-portal, de-lab-export)."""
    from importlib import resources
    from pathlib import Path

    from lungtrack.errors import InputError
    from lungtrack.importers.mapping import DEFAULT_MAPPING, load_mapping

    if text is None:
        return DEFAULT_MAPPING
    path = Path(text).expanduser()
    if path.is_file():
        try:
            return load_mapping(path.read_text("utf-8"), path.name)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("--mapping", text, "a readable UTF-8 TOML file",
                             message=f"--mapping: {text}: cannot read it ({exc}); nothing was imported.") from None
    shipped = resources.files("lungtrack.importers.mappings").joinpath(f"{text}.toml")
    if "/" not in text and shipped.is_file():
        return load_mapping(shipped.read_text("utf-8"), f"{text}.toml")
    names = sorted(p.name.removesuffix(".toml") for p in resources.files("lungtrack.importers.mappings").iterdir()
                   if p.name.endswith(".toml"))
    raise InputError("--mapping", text, f"a mapping file (MAP.toml) or a shipped mapping: {', '.join(names)}")


def _default_patient_name(ctx: typer.Context, patient: str | None, needed: bool) -> str | None:
    """The patient rows without a patient column go to: --patient, else the store's default patient."""
    if patient is not None or not needed:
        return patient
    from lungtrack.store import repo
    from lungtrack.store.paths import resolve as resolve_location

    location = resolve_location(common.state(ctx).db)
    if location.path is not None and not location.path.exists():
        from lungtrack.errors import NotFoundError

        raise NotFoundError("No patients in this store yet. Add one with: lungtrack patient add NAME")
    with common.transaction(ctx, write=False) as (_s, session):
        return repo.find_patient(session, None).name


def _apply(ctx: typer.Context, plan, dry_run: bool, after=None):
    """Validate and write the plan through the domain layer; a dry run rolls back.  Returns (result, change id)."""
    import tempfile
    from pathlib import Path

    from lungtrack.errors import RecordsRefused
    from lungtrack.store.paths import resolve as resolve_location

    holder: dict = {}
    try:
        if not dry_run:
            with common.writer(ctx, create=True, kind="import") as w:
                holder["result"] = w.apply_import(plan)
                if after is not None:
                    after(w, holder["result"])
            return holder["result"], w.change_id
        location = resolve_location(common.state(ctx).db)
        try:
            if location.path is not None and not location.path.exists():
                # no store yet: rehearse against an empty temporary one
                with tempfile.TemporaryDirectory() as tmp:
                    common.state(ctx).db, saved = str(Path(tmp) / "dry-run.db"), common.state(ctx).db
                    try:
                        with common.writer(ctx, create=True, kind="import") as w:
                            holder["result"] = w.apply_import(plan, dry_run=True)
                            raise _Rollback()
                    finally:
                        common.state(ctx).db = saved
            with common.writer(ctx, kind="import") as w:
                holder["result"] = w.apply_import(plan, dry_run=True)
                raise _Rollback()
        except _Rollback:
            pass
        return holder["result"], None
    except RecordsRefused as exc:
        lines = [p.line() for p in exc.problems]
        raise _bad_rows(plan.source_label.split(":", 2)[-1], lines) from None


def _counts_json(result) -> dict:
    kinds = _RECORD_ORDER
    return {which: {k: result.count(which, k) for k in kinds if result.count(which, k)}
            for which in ("added", "changed", "already_present")}


def _render(files: list[str], result, change_id, dry_run: bool, json_out: bool, extra: dict | None = None) -> None:
    skipped = [{"record": t, "reason": r, "count": n} for t, r, n in result.skipped]
    if json_out:
        data = {"files": files, "kind": result.kind, "dry_run": dry_run, "import_id": change_id,
                "patients": [{"id": i, "name": n, "how": h} for i, n, h in result.patients],
                **_counts_json(result), "skipped": skipped, "notes": list(result.notes)}
        data.update(extra or {})
        common.print_json(data)
    elif dry_run:
        kinds = [k for k in _RECORD_ORDER if any(result.count(w, k) for w in ("added", "changed", "already_present"))
                 or any(s["record"] == k for s in skipped)]
        rows = [[k, result.count("added", k), result.count("changed", k), result.count("already_present", k),
                 sum(s["count"] for s in skipped if s["record"] == k)] for k in kinds]
        common.print_table(["record", "would add", "would change", "already there", "skipped"], rows,
                           title="Dry run: nothing was written")
        for s in skipped:
            common.out(f"skipped {s['count']} {s['record']}: {s['reason']}")
    added = sum(n for k, n in result.added if k != "patient")
    changed = sum(n for _k, n in result.changed)
    already = sum(n for k, n in result.already_present if k != "patient")
    total_skipped = sum(s["count"] for s in skipped)
    verb = "Would add" if dry_run else "Added"
    who = ", ".join(f"{n} ({h})" for _i, n, h in result.patients)
    text = (f"{verb} {added} record(s) from {', '.join(files)}" + (f" for {who}" if who else "")
            + f"; {changed} changed; {already} already in the store; {total_skipped} skipped.")
    if dry_run:
        text += " Dry run: nothing was written."
    elif change_id is not None:
        text += f" Import {change_id}: to take it back, lungtrack import undo {change_id}"
    for note in result.notes:
        common.err(f"Note: {note}.")
    common.err(text)


@app.command("csv")
def import_csv(
    ctx: typer.Context,
    files: Annotated[List[str], typer.Argument(metavar="FILE", help="CSV files: lungtrack's own columns, or a lab's download with --mapping.")],
    mapping: Annotated[Optional[str], typer.Option("--mapping", "-m", metavar="MAP.toml", help="How the files' columns, dates, names and units map to lungtrack's: a TOML file, or a shipped mapping (us-lab-portal, de-lab-export).")] = None,
    patient: PatientOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be added, changed and skipped; write nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import tumour markers, scans with lesion sizes, biopsy findings and appointments from CSV files.

    Columns (docs/formats.md): markers date, marker, value, unit [, uln | reference_range, lab];
    scans date, lesion, size or status [, modality, site, node, new]; biopsies date, sample, gene,
    variant, result [, vaf, assay]; appointments date, kind [, description, status]; or a type column
    in one mixed file. Any bad row refuses the whole import and every bad row is listed. Importing
    the same file again adds nothing. Without --mapping, a lab's own columns get a suggested mapping.

    Example: lungtrack import csv results.csv --mapping us-lab-portal --dry-run
    """
    from lungtrack.importers.csv_plan import build_plan
    from lungtrack.importers.csv_rows import LayoutError, parse_csv

    chosen = _mapping(mapping)
    today = common.today()
    seen: dict = {}
    parsed = []
    for raw in files:
        name, data = _read_bytes(raw)
        try:
            parsed.append(parse_csv(data, name, today=today, mapping=chosen, seen=seen))
        except LayoutError as exc:
            common.out(exc.suggestion.rstrip("\n"))
            raise
    problems = [p.text() for f in parsed for p in f.problems]
    if problems:
        raise _bad_rows(", ".join(f.name for f in parsed), problems)
    for f in parsed:
        if f.ignored_columns:
            common.err(f"Note: {f.name}: columns not used: {', '.join(f.ignored_columns)}.")
    needs_default = any(r.patient is None for f in parsed for r in f.rows)
    plan = build_plan(parsed, _default_patient_name(ctx, patient, needs_default))
    result, change_id = _apply(ctx, plan, dry_run)
    _render([f.name for f in parsed], result, change_id, dry_run, json_out, {"rows": sum(f.lines for f in parsed)})


@app.command("json")
def import_json(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A file written by lungtrack export json.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be added, changed and skipped; write nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import what lungtrack export json wrote: every patient with every record.

    Into an empty store this restores the records as they were (row ids and timestamps aside);
    records already in the store are recognised and not added again.

    Example: lungtrack import json ann.json --dry-run
    """
    import json

    from lungtrack.importers.json_plan import plan_from_export

    name, data = _read_bytes(file)
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        from lungtrack.errors import InputError

        raise InputError("FILE", file, "a file written by lungtrack export json", message=(
            f"{name}: not JSON ({exc}); expected a file written by lungtrack export json; nothing was imported."
        )) from None
    plan, extras, problems = plan_from_export(doc, name)
    if problems:
        raise _bad_rows(name, [f"{name}: {p.where or 'document'}: {p.field}: {p.problem}, expected {p.expected}"
                               for p in problems])

    def restore(w, result) -> None:
        """Per patient: schedule, end of tracking, default flag, acknowledgements, snoozes."""
        for x in extras:
            p = w.patient(x.name)
            created = any(n == p.name and h == "created" for _i, n, h in result.patients)
            if not created:
                continue
            if any(v is not None for _k, v in x.schedule):
                w.set_schedule(p, dict(x.schedule))
            if x.ended_on is not None and p.ended_on is None:
                w.end_tracking(p, x.ended_on, x.ended_reason)
            if x.is_default:
                w.set_default_patient(p)
            for finding_id, note in x.acknowledgements:
                w.acknowledge(p, finding_id, note)
            for key, until in x.snoozes:
                w.snooze(p, key, until)

    result, change_id = _apply(ctx, plan, dry_run, after=restore)
    _render([name], result, change_id, dry_run, json_out)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="import")


def register_export(export_app: typer.Typer) -> None:
    @export_app.command("fhir")
    def export_fhir(
        ctx: typer.Context,
        patient: PatientOpt = None,
        output: Annotated[Optional[str], typer.Option("--output", "-o", help="File to write (default: standard output).")] = None,
    ) -> None:
        """Export a patient's records as a FHIR R4 Bundle (JSON): Patient, Condition, therapy lines,
        tumour markers (mCODE TumorMarkerTest), lesion sizes, variants and RECIST disease status.

        Example: lungtrack export fhir -o ann-fhir.json
        """
        import json
        from datetime import datetime, timezone

        from lungtrack.cli.exports import _emit, patient_export
        from lungtrack.core.recist import BASELINE, assess_history
        from lungtrack.fhir.export import ResponsePoint, build_bundle
        from lungtrack.settings import load_rules_config
        from lungtrack.store import repo

        config = load_rules_config()
        with common.transaction(ctx, write=False) as (_s, session):
            p = repo.find_patient(session, patient)
            data = patient_export(session, p)
            history = repo.load_history(session, p)
        points = [
            ResponsePoint(line_id=r.line.id, drug=r.line.drug, date=tp.date, overall=tp.overall,
                          study_ids=tp.study_ids or (tp.study_id,))
            for r in assess_history(history, config) for tp in r.timepoints
            if not tp.is_baseline and tp.overall != BASELINE
        ]
        bundle = build_bundle(data, points, timestamp=datetime.now(timezone.utc).replace(microsecond=0))
        text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
        _emit(text.encode("utf-8"), output, f"{len(bundle['entry'])} FHIR resources for {data['patient']['name']}")
        common.log_event(ctx, "export-fhir", common.destination(output), [(data["patient"]["id"], data["patient"]["name"])])
