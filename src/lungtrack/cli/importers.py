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
        if repo.patient_by_name(session, rec.name) is not None:
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

    from lungtrack.fhir.guard import map_guarded
    from lungtrack.fhir.ndjson_import import map_resources
    from lungtrack.store.paths import resolve as resolve_location

    items = read_files(files)
    plan = map_guarded(items, map_resources)
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
