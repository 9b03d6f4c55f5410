"""lungtrack import fhir / export fhir: FHIR R4 records in (bulk NDJSON or a Bundle) and out (a Bundle).

The mapping is pure (:mod:`lungtrack.fhir.mapping`, :mod:`lungtrack.fhir.export`); this module
reads the files and hands the :class:`~lungtrack.records.inputs.ImportPlan` to the one write
path (``Writer.apply_import``), which validates every record against the store, refuses the whole
import listing every problem, and writes it as one journalled change.  Bad input is refused
before the store is opened, so nothing is written.
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

#: Record kinds of an ImportResult, in the order the summary names them.
KINDS = ("patient", "therapy", "scan", "measurement", "lesion", "marker", "biopsy", "appointment", "note")
_NAMES = {"patient": ("patient", "patients"), "therapy": ("therapy line", "therapy lines"),
          "scan": ("scan", "scans"), "measurement": ("measurement", "measurements"), "lesion": ("lesion", "lesions"),
          "marker": ("marker result", "marker results"), "biopsy": ("biopsy finding", "biopsy findings"),
          "appointment": ("appointment", "appointments"), "note": ("note", "notes")}


def read_texts(paths: List[str]) -> list:
    """[(file name, text)] of every file, read first (bad input is refused before anything is written)."""
    from pathlib import Path

    from lungtrack.errors import InputError

    texts = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise InputError("FILE", raw, "an existing FHIR NDJSON or JSON file",
                             message=f"FILE: {raw}: no such file; nothing was imported.")
        try:
            data = path.read_bytes()
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise InputError("FILE", raw, "UTF-8 text", message=(
                f"{path.name}:{line}: line {line} is not UTF-8 text; expected FHIR NDJSON or a JSON Bundle; "
                "nothing was imported.")) from None
        except OSError as exc:
            raise InputError("FILE", raw, "a readable file",
                             message=f"FILE: {raw}: cannot read it ({exc.strerror}); nothing was imported.") from None
        texts.append((path.name, text))
    return texts


def _counts(pairs) -> dict:
    return {k: n for k, n in pairs}


def summary_line(files: List[str], result, dry_run: bool) -> str:
    added, already, changed = _counts(result.added), _counts(result.already_present), _counts(result.changed)

    def phrase(counts: dict) -> str:
        return ", ".join(f"{counts[k]} {_NAMES[k][counts[k] != 1]}" for k in KINDS if counts.get(k)) or "nothing"

    parts = [f"{'Would import' if dry_run else 'Imported'} from {', '.join(files)}: {phrase(added)}"]
    if changed:
        parts.append("changed " + phrase(changed))
    if already:
        parts.append("already present " + phrase(already))
    total = sum(n for _t, _r, n in result.skipped)
    if total:
        by_type: dict = {}
        for rtype, reason, n in result.skipped:
            by_type.setdefault(rtype, []).append(f"{n} {reason}")
        parts.append(f"skipped {total} (" + "; ".join(f"{t}: {', '.join(r)}" for t, r in by_type.items()) + ")")
    text = "; ".join(parts) + "."
    if result.notes:
        text += " " + "; ".join(result.notes) + "."
    if dry_run:
        text += " Dry run: nothing was written."
    elif result.change_id is not None:
        text += f" Undo with: lungtrack import undo {result.change_id}"
    return text


def result_json(files: List[str], result, dry_run: bool) -> dict:
    def full(pairs) -> dict:
        counts = _counts(pairs)
        return {k: counts.get(k, 0) for k in sorted(set(KINDS) | set(counts))}

    return {
        "files": files,
        "dry_run": dry_run,
        "change_id": result.change_id,
        "patients": [{"id": pid, "name": name, "how": how} for pid, name, how in result.patients],
        "added": full(result.added),
        "already_present": full(result.already_present),
        "changed": full(result.changed),
        "skipped_total": sum(n for _t, _r, n in result.skipped),
        "skipped": [{"resource_type": t, "reason": r, "count": n} for t, r, n in result.skipped],
        "notes": list(result.notes),
    }


def run_import(ctx: typer.Context, plan, patient: Optional[str], dry_run: bool, extras=()):
    """Apply ``plan`` through the one write path; a dry run against a missing store rehearses on
    an empty temporary one (so that nothing is created)."""
    import tempfile
    from pathlib import Path

    from lungtrack.store.paths import resolve as resolve_location

    def apply(w):
        target = w.patient(patient) if patient is not None else None
        result = w.apply_import(plan, dry_run=dry_run, patient=target)
        if not dry_run:
            apply_extras(w, result, extras)
        return result

    location = resolve_location(common.state(ctx).db)
    if dry_run and location.path is not None and not location.path.exists():
        from lungtrack.records.writer import writer
        from lungtrack.store.db import open_store

        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(resolve_location(str(Path(tmp) / "dry-run.db")), create=True)
            try:
                with writer(store, kind="import", today=common.today()) as w:
                    return apply(w)
            finally:
                store.close()
    with common.writer(ctx, create=not dry_run, kind="import") as w:
        result = apply(w)
    if not dry_run:
        from dataclasses import replace

        result = replace(result, change_id=w.change_id)
    return result


def apply_extras(w, result, extras) -> None:
    """Patient facts outside the plan (follow-up schedule, end of tracking), through the writer
    in the same transaction and journal change; only where the stored patient has none."""
    from lungtrack.store import models as m

    for (pid, _name, _how), extra in zip(result.patients, extras):
        if not extra or pid is None:
            continue
        p = w.session.get(m.Patient, pid)
        schedule = {k: v for k, v in (extra.get("schedule") or {}).items() if getattr(p, k, None) is None}
        if schedule:
            w.set_schedule(p, schedule)
        ended = extra.get("tracking_ended")
        if ended and p.ended_on is None:
            w.end_tracking(p, ended[0], ended[1])


@app.command("fhir")
def import_fhir(
    ctx: typer.Context,
    files: Annotated[List[str], typer.Argument(metavar="FILE", help="FHIR R4 bulk NDJSON files (one resource per line) or JSON Bundles.")],
    patient: PatientOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be added, changed and skipped; write nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import patients, diagnoses, stage, tumour sizes, disease status, variants, therapy lines,
    tumour markers, appointments and notes from FHIR R4 (mCODE, genomics-reporting).

    Reads bulk NDJSON or Bundles (collection, batch, transaction, searchset). Every record goes
    through the same checks as the commands that add it; one bad record refuses the whole import.
    What lungtrack does not keep is skipped and counted by type and reason. Importing the same
    file again adds nothing; `lungtrack import undo ID` takes an import back. Without --patient
    each FHIR Patient is matched by identifier (or server base URL + id) or created; with
    --patient the records are added to that patient.

    Example: lungtrack import fhir Patient.ndjson Observation.ndjson MedicationRequest.ndjson --dry-run
    """
    from pathlib import Path

    from lungtrack.fhir.guard import check_depth, guarded
    from lungtrack.fhir.mapping import map_files

    texts = read_texts(files)
    for name, text in texts:
        check_depth(text, name)  # the hardening guard: JSON nested deeper than any FHIR resource
    names = [Path(f).name for f in files]
    # the mapping is type-safe itself (file:line and the field); the guard is the last resort
    plan, extras, resources = guarded(lambda: map_files(texts, "import:fhir:" + ",".join(names), patient_name=patient),
                           names[0], 1, "the FHIR files")
    result = run_import(ctx, plan, patient, dry_run, extras)
    if json_out:
        common.print_json({**result_json(names, result, dry_run), "resources": resources})
    elif dry_run:
        rows = [[k, _counts(result.added).get(k, 0), _counts(result.changed).get(k, 0),
                 _counts(result.already_present).get(k, 0)] for k in KINDS]
        common.print_table(["record", "add", "change", "already present"], [r for r in rows if any(r[1:])])
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


def patient_identifiers(session, p) -> list:
    """The patient's (system, value) identifiers in other systems (migration 0005), oldest first."""
    from sqlmodel import select

    from lungtrack.store import models as m

    model = getattr(m, "PatientIdentifier", None)
    if model is None:
        return []
    rows = session.exec(select(model).where(model.patient_id == p.id).order_by(model.id))
    return [(r.system, r.value) for r in rows]


def register_export(export_app: typer.Typer) -> None:
    @export_app.command("fhir")
    def export_fhir(
        ctx: typer.Context,
        patient: PatientOpt = None,
        output: Annotated[Optional[str], typer.Option("--output", "-o", help="File to write (default: standard output).")] = None,
        json_out: common.ResultJsonOpt = False,
    ) -> None:
        """Export a patient's records as a FHIR R4 Bundle (JSON) conforming to mCODE STU4: CancerPatient,
        PrimaryCancerCondition, therapy lines (RxNorm), tumour markers, TumorSize per lesion, genomic
        variants, RECIST disease status, appointments and notes.

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
            identifiers = patient_identifiers(session, p)
        points = [
            ResponsePoint(line_id=r.line.id, drug=r.line.drug, date=tp.date, overall=tp.overall,
                          study_ids=tp.study_ids or (tp.study_id,))
            for r in assess_history(history, config) for tp in r.timepoints
            if not tp.is_baseline and tp.overall != BASELINE
        ]
        bundle = build_bundle(data, points, timestamp=datetime.now(timezone.utc).replace(microsecond=0),
                              identifiers=identifiers)
        text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
        _emit(text.encode("utf-8"), output, f"{len(bundle['entry'])} FHIR resources for {data['patient']['name']}", ctx,
              format="fhir", resources=len(bundle["entry"]), patients=[data["patient"]["name"]])
        common.log_event(ctx, "export-fhir", common.destination(output), [(data["patient"]["id"], data["patient"]["name"])])
