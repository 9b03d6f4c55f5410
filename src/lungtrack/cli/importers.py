"""lungtrack import fhir / export fhir: FHIR R4 records in (bulk NDJSON or a Bundle) and out (a Bundle).

The mapping is pure (:mod:`lungtrack.fhir.mapping`, :mod:`lungtrack.fhir.export`); this module
reads the files and hands the :class:`~lungtrack.records.inputs.ImportPlan` to the one write
path (``Writer.apply_import``), which validates every record against the store, refuses the whole
import listing every problem, and writes it as one journalled change.  Bad input is refused
before the store is opened, so nothing is written.
"""

from typing import Annotated, Any, List, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt
from lungtrack.gcsettings import freeze_survivors, no_collection

app = typer.Typer(
    help="Import records: lab CSV downloads, lungtrack's own JSON export, FHIR R4 (bulk NDJSON or a Bundle).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

#: Record kinds of an ImportResult, in the order the summary names them.
KINDS = ("patient", "therapy", "scan", "measurement", "lesion", "marker", "biopsy", "appointment", "note")
_NAMES = {"patient": ("patient", "patients"), "therapy": ("therapy line", "therapy lines"),
          "scan": ("scan", "scans"), "measurement": ("measurement", "measurements"), "lesion": ("lesion", "lesions"),
          "marker": ("marker result", "marker results"), "biopsy": ("biopsy finding", "biopsy findings"),
          "appointment": ("appointment", "appointments"), "note": ("note", "notes")}


#: The cyclic garbage collector's first threshold while an import runs (Python's default: 700).
#: See :func:`collector_for_import`.
GC_YOUNG_THRESHOLD = 50_000


def collector_for_import() -> Any:
    """The garbage collector set for an import's many long-lived, acyclic objects (the parsed
    files, the plan, the rows): the start-up's objects are frozen and the young generation is
    collected after 50,000 new objects instead of 700.  Parsing 19 MB of FHIR builds about 2
    million containers, every one of which the default settings walked several times for
    nothing: a quarter of the CPU of ``import fhir`` (docs/performance.md, "FHIR import, fifth
    round").  Cyclic garbage is still collected; the settings are put back at the end.  The
    pure parsing and mapping run inside :func:`lungtrack.gcsettings.no_collection`, and what
    survives them is frozen (:func:`lungtrack.gcsettings.freeze_survivors`)."""
    from lungtrack.gcsettings import frozen_start

    return frozen_start(GC_YOUNG_THRESHOLD)


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
        target = w.patient_row(patient) if patient is not None else None
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
    for (pid, _name, _how), extra in zip(result.patients, extras):
        if not extra or pid is None:
            continue
        p = w.patient_values(pid)
        schedule = {k: v for k, v in (extra.get("schedule") or {}).items() if getattr(p, k, None) is None}
        if schedule:
            w.set_schedule(p, schedule)
        ended = extra.get("tracking_ended")
        if ended and p.ended_on is None:
            w.end_tracking(p, ended[0], ended[1])


def _load_write_path() -> None:
    """Import the modules an import's write needs (SQLAlchemy, the writer, the SQLite dialect):
    run while worker processes map the files (no output, nothing opened)."""
    import sqlalchemy.dialects.sqlite  # noqa: F401

    import lungtrack.records.importing  # noqa: F401
    import lungtrack.records.writer  # noqa: F401
    import lungtrack.store.db  # noqa: F401
    import lungtrack.store.tables  # noqa: F401


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

    with collector_for_import():
        texts = read_texts(files)
        names = [Path(f).name for f in files]
        label = "import:fhir:" + ",".join(names)
        mapped = None
        if patient is None:
            from lungtrack.importpool import map_apart

            with no_collection():  # the workers inherit it; the parts they send back are acyclic
                # each file guarded, parsed and mapped on its own (in a pool while a core is to
                # spare, this process loading the write path meanwhile); None (map them together,
                # as below) for a small import, files that refer to each other, or any problem
                mapped = map_apart(texts, label, _load_write_path)
        if mapped is None:
            for name, text in texts:
                check_depth(text, name)  # the hardening guard: JSON nested deeper than any FHIR resource
            # the mapping is type-safe itself (file:line and the field); the guard is the last resort
            with no_collection():  # pure code building acyclic data: nothing for the collector to find
                mapped = guarded(lambda: map_files(texts, label, patient_name=patient), names[0], 1, "the FHIR files")
        plan, extras, resources = mapped
        freeze_survivors()  # the files' resources and the plan: never walked again by the collector
        result = run_import(ctx, plan, patient, dry_run, extras)
        if json_out:
            common.print_json({**result_json(names, result, dry_run), "resources": resources})
        elif dry_run:
            rows = [[k, _counts(result.added).get(k, 0), _counts(result.changed).get(k, 0),
                     _counts(result.already_present).get(k, 0)] for k in KINDS]
            common.print_table(["record", "add", "change", "already present"], [r for r in rows if any(r[1:])])
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
    from lungtrack.store import read
    from lungtrack.store.paths import resolve as resolve_location

    location = resolve_location(common.state(ctx).db)
    if location.path is not None and not location.path.exists():
        return set(names)
    with common.reading(ctx) as conn:  # one indexed look-up per name, never every patient of the store
        return {n for n in names if read.patient_by_name(conn, " ".join(n.split())) is None}


def _default_patient_name(ctx: typer.Context, patient: str | None, needed: bool) -> str | None:
    """The patient rows without a patient column go to: --patient, else the store's default patient."""
    if patient is not None or not needed:
        return patient
    from lungtrack.store import read
    from lungtrack.store.paths import resolve as resolve_location

    location = resolve_location(common.state(ctx).db)
    if location.path is not None and not location.path.exists():
        from lungtrack.errors import NotFoundError

        raise NotFoundError("No patients in this store yet. Add one with: lungtrack patient add NAME")
    with common.reading(ctx) as conn:
        return read.find_patient(conn, None).name


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
    who = ", ".join(f"{n} ({h})" for _i, n, h in result.patients[:5])
    if len(result.patients) > 5:  # a clinic's import: the count, not every name (--json lists them all)
        from collections import Counter

        hows = Counter(h for _i, _n, h in result.patients)
        who = (f"{len(result.patients)} patients ("
               + ", ".join(f"{k} {v}" for v, k in sorted((v, k) for k, v in hows.items())) + f"): {who}, ...")
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

    with collector_for_import():
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

    from lungtrack import jsonparse
    from lungtrack.importers.json_plan import plan_from_export

    with collector_for_import():
        name, data = _read_bytes(file)
        with no_collection():  # parsing and planning: pure code building acyclic data
            try:
                doc = jsonparse.loads(data.decode("utf-8-sig"))  # json.loads, faster
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                from lungtrack.errors import InputError

                raise InputError("FILE", file, "a file written by lungtrack export json", message=(
                    f"{name}: not JSON ({exc}); expected a file written by lungtrack export json; nothing was "
                    "imported.")) from None
            plan, extras, problems = plan_from_export(doc, name)
        freeze_survivors()
        if problems:
            raise _bad_rows(name, [f"{name}: {p.where or 'document'}: {p.field}: {p.problem}, expected {p.expected}"
                                   for p in problems])

        def restore(w, result) -> None:
            """Per patient: schedule, end of tracking, default flag, acknowledgements, snoozes.  Only
            for patients this import created; the default patient of a store that had one stays."""

            from sqlalchemy import select, true

            from lungtrack.store import read

            created = {n for _i, n, h in result.patients if h == "created"}
            pt = read._tables().patient
            defaults = w._rows(select(pt).where(pt.c.is_default == true()))  # indexed
            had_default = any(p.name not in created for p in defaults)
            stored = {n: (i, h) for i, n, h in result.patients}
            for x in extras:
                known = stored.get(x.name)  # the name as stored (the usual case): no look-up by name
                if known is not None and known[1] != "created":
                    continue
                p = w.patient_values(known[0]) if known is not None else w.patient_row(x.name)
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
            data = patient_export(session.connection(), p)
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
