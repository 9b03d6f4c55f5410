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
    help="Import records from other systems (FHIR R4 bulk NDJSON or a JSON Bundle).",
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
