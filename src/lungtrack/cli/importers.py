"""lungtrack import fhir / export fhir: FHIR R4 records in (bulk NDJSON or a Bundle) and out (a Bundle).

The mapping is pure (:mod:`lungtrack.fhir.ndjson_import`, :mod:`lungtrack.fhir.export`); this
module reads the files, turns the mapped records into a :class:`lungtrack.records.inputs.ImportPlan`
and hands it to the writer (``apply_import``), which checks every record against the store and
writes everything in one transaction (importing a file twice adds nothing).
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
    from lungtrack.fhir.guard import parse_guarded
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
        items.extend(parse_guarded(text, path.name, parse_fhir_text))
    return items


#: ImportResult's record kinds -> the names of this command's JSON and summary.
_RESULT_KINDS = {"patient": "patient", "therapy": "therapy_line", "scan": "scan", "marker": "marker_result"}


def _counts(result, which: str) -> dict:
    return {name: result.count(which, kind) for kind, name in _RESULT_KINDS.items()}


def plan_records(plan) -> list[dict]:
    """Every record of the plan, for the --dry-run table."""
    rows = []
    for b in plan.batches:
        if b.patient_input is not None:
            rows.append({"kind": "patient", "date": None, "detail": b.patient_input.name,
                         "external_id": b.patient_input.source.external_id})
        rows += [{"kind": "therapy_line", "date": t.start, "end_date": t.end,
                  "detail": t.drug + ("" if t.end else " (open)"), "external_id": t.source.external_id}
                 for t in b.therapies]
        rows += [{"kind": "scan", "date": s.date, "detail": s.modality, "external_id": s.source.external_id}
                 for s in b.scans]
        rows += [{"kind": "marker_result", "date": r.date, "detail": f"{r.marker} {r.value:g} {r.unit}",
                  "external_id": r.source.external_id} for r in b.markers]
    return rows


def summary_line(files: List[str], result, dry_run: bool) -> str:
    added, already = _counts(result, "added"), _counts(result, "already_present")
    what = ", ".join(_plural(added[k], k) for k in ("patient", "scan", "therapy_line", "marker_result"))
    head = f"{'Would import' if dry_run else 'Imported'} from {', '.join(files)}: {what}"
    parts = [head]
    if result.notes:
        parts.append("; ".join(result.notes))
    changed = [_plural(n, k) for k, n in _counts(result, "changed").items() if n]
    if changed:
        parts.append("changed: " + ", ".join(changed))
    have = [_plural(already[k], k) for k in ("scan", "therapy_line", "marker_result") if already.get(k)]
    if have:
        parts.append("already in the store: " + ", ".join(have))
    total = sum(n for _t, _r, n in result.skipped)
    if total:
        by_type: dict = {}
        for rtype, reason, n in result.skipped:
            by_type.setdefault(rtype, []).append(f"{n} {reason}")
        parts.append(f"skipped {total} (" + "; ".join(f"{t}: {', '.join(r)}" for t, r in by_type.items()) + ")")
    text = "; ".join(parts) + "."
    if dry_run:
        text += " Dry run: nothing was written."
    elif result.change_id is not None:
        text += f" To take it back: lungtrack import undo {result.change_id}"
    return text


def result_json(files: List[str], result, dry_run: bool, resources: int, notes: List[str], records: list) -> dict:
    names = {"patient": "patients", "therapy_line": "therapy_lines", "scan": "scans", "marker_result": "marker_results"}
    added, already, changed = _counts(result, "added"), _counts(result, "already_present"), _counts(result, "changed")
    return {
        "files": files,
        "dry_run": dry_run,
        "change_id": result.change_id,
        "resources": resources,
        "added": {names[k]: added.get(k, 0) for k in names},
        "already_in_store": {names[k]: already.get(k, 0) for k in names},
        "changed": {names[k]: changed.get(k, 0) for k in names},
        "updated": list(result.notes),
        "skipped_total": sum(n for _t, _r, n in result.skipped),
        "skipped": [{"resource_type": t, "reason": r, "count": n} for t, r, n in result.skipped],
        "notes": notes,
        "records": records,
    }


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
    matches) its own patient; with --patient the records are added to that patient. Every record is
    checked as if typed at the command line: one invalid record refuses the whole import (each problem is
    listed) and nothing is written. 'lungtrack import undo ID' takes a whole import back.

    Example: lungtrack import fhir Patient.ndjson Condition.ndjson Procedure.ndjson --dry-run
    """
    import dataclasses
    from pathlib import Path

    from lungtrack.fhir.guard import map_guarded
    from lungtrack.fhir.ndjson_import import as_import_plan, map_resources
    from lungtrack.records.writer import writer
    from lungtrack.store.paths import resolve as resolve_location

    items = read_files(files)
    mapped = map_guarded(items, map_resources)
    names = [Path(f).name for f in files]
    plan = as_import_plan(mapped, ", ".join(names))
    location = resolve_location(common.state(ctx).db)
    if dry_run and location.path is not None and not location.path.exists():
        # no store yet: rehearse against an empty temporary one
        import tempfile

        from lungtrack.store.db import open_store

        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(resolve_location(str(Path(tmp) / "dry-run.db")), create=True)
            try:
                with writer(store, today=common.today()) as w:
                    result = w.apply_import(plan, dry_run=True)
            finally:
                store.close()
    else:
        with common.writer(ctx, create=not dry_run, kind="import") as w:
            chosen = w.patient(patient) if patient is not None else None
            result = w.apply_import(plan, dry_run=dry_run, patient=chosen)
        result = dataclasses.replace(result, change_id=w.change_id)
    for note in mapped.notes:
        common.err(f"Note: {note}.")
    records = plan_records(plan)
    if json_out:
        common.print_json(result_json(names, result, dry_run, mapped.resources, mapped.notes, records))
    elif dry_run:
        common.print_table(["kind", "date", "what", "external id"],
                           [[r["kind"], r["date"], r["detail"], r["external_id"]] for r in records])
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


def _unknown_patients(ctx: typer.Context, names: set) -> set:
    """The names (rows' patient column, --patient) that name no patient of the store: CSV rows are
    never attached to a patient lungtrack would have to guess or create."""
    if not names:
        return set()
    from lungtrack.store import repo
    from lungtrack.store.paths import resolve as resolve_location

    location = resolve_location(common.state(ctx).db)
    if location.path is not None and not location.path.exists():
        return set(names)
    with common.transaction(ctx, write=False) as (_s, session):
        known = {" ".join(p.name.split()).casefold() for p in repo.list_patients(session)}
    return {n for n in names if " ".join(n.split()).casefold() not in known}


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
    mapping: Annotated[Optional[str], typer.Option("--mapping", "-m", metavar="MAPPING", help="How the files' columns, dates, names and units map to lungtrack's: a TOML file, or a shipped mapping (us-lab-portal, de-lab-export).")] = None,
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
    from lungtrack.errors import InputError
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
    named = {r.patient for f in parsed for r in f.rows if r.patient is not None}
    if patient is not None:
        named.add(patient)
    unknown = _unknown_patients(ctx, named)
    if unknown:
        lines = [f"{r.origin}: patient: {r.patient!r} is not in this store, expected a patient of the store "
                 f"(add one with: lungtrack patient add NAME)" for f in parsed for r in f.rows if r.patient in unknown]
        if patient in unknown:
            raise InputError("--patient", patient, "a patient of the store (add one with: lungtrack patient add NAME)")
        raise _bad_rows(", ".join(f.name for f in parsed), lines)
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
        """Per patient: schedule, end of tracking, default flag, acknowledgements, snoozes.  Only
        for patients this import created; the default patient of a store that had one stays."""
        from lungtrack.store import repo

        created = {n for _i, n, h in result.patients if h == "created"}
        had_default = any(p.is_default for p in repo.list_patients(w.session) if p.name not in created)
        for x in extras:
            p = w.patient(x.name)
            created = any(n == p.name and h == "created" for _i, n, h in result.patients)
            if not created:
                continue
            if any(v is not None for _k, v in x.schedule):
                w.set_schedule(p, dict(x.schedule))
            if x.ended_on is not None and p.ended_on is None:
                w.end_tracking(p, x.ended_on, x.ended_reason)
            if x.is_default and not had_default:
                w.set_default_patient(p)
            for finding_id, note in x.acknowledgements:
                w.acknowledge(p, finding_id, note)
            for key, until in x.snoozes:
                w.snooze(p, key, until)

    result, change_id = _apply(ctx, plan, dry_run, after=restore)
    _render([name], result, change_id, dry_run, json_out)


@app.command("undo")
def import_undo(
    ctx: typer.Context,
    change_id: Annotated[int, typer.Argument(metavar="ID", help="The import's change id (shown after the import and by 'lungtrack log').")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed when not on a terminal).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Take one import back whole: every record it added is removed and every record it changed
    gets its old values (refused when a later command changed those records)."""
    from lungtrack.cli.journal import undo_flow

    undo_flow(ctx, change_id, yes, json_out, kind="import")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="import")


def register_export(export_app: typer.Typer) -> None:
    @export_app.command("fhir")
    def export_fhir(
        ctx: typer.Context,
        patient: PatientOpt = None,
        output: Annotated[Optional[str], typer.Option("--output", "-o", help="File to write (default: standard output).")] = None,
        json_out: common.ResultJsonOpt = False,
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
        _emit(text.encode("utf-8"), output, f"{len(bundle['entry'])} FHIR resources for {data['patient']['name']}", ctx,
              format="fhir", resources=len(bundle["entry"]), patients=[data["patient"]["name"]])
        common.log_event(ctx, "export-fhir", common.destination(output), [(data["patient"]["id"], data["patient"]["name"])])
