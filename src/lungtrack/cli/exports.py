"""lungtrack export json / csv: the user's own data, out of lungtrack, in open formats.

Users of every similar tool ask for raw data export (see docs/usage.md); a confirmation prompt
is not a backup.  Files are written atomically with mode 0600.
"""

from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import PatientOpt

CSV_TABLES = ("markers", "measurements", "biopsies", "therapy")

OutputOpt = Annotated[Optional[str], typer.Option("--output", "-o", help="File to write (default: standard output).")]
ResultJsonOpt = common.ResultJsonOpt


def patient_export(session, p) -> dict:
    """Every record of one patient as JSON-ready data."""
    from sqlmodel import select

    from lungtrack.cli.scan import study_dict
    from lungtrack.store import models as m
    from lungtrack.store import repo

    patient = repo.row_dict(p)
    patient["identifiers"] = [{"system": i.system, "value": i.value} for i in session.exec(
        select(m.PatientIdentifier).where(m.PatientIdentifier.patient_id == p.id).order_by(m.PatientIdentifier.id))]
    return {
        "patient": patient,
        "therapy_lines": [repo.row_dict(x) for x in repo.therapy_lines(session, p)],
        "lesions": [repo.row_dict(x) for x in repo.lesions(session, p)],
        "scans": [study_dict(session, s) for s in repo.records(session, m.ImagingStudy, p)],
        "marker_results": [repo.row_dict(x) for x in repo.records(session, m.MarkerResult, p)],
        "biopsy_findings": [repo.row_dict(x) for x in repo.records(session, m.BiopsyFinding, p)],
        "appointments": [repo.row_dict(x) for x in repo.records(session, m.Appointment, p)],
        "notes": [repo.row_dict(x) for x in repo.records(session, m.Note, p)],
        "acknowledgements": [repo.row_dict(x) for x in repo.acknowledgements(session, p).values()],
        "snoozes": [repo.row_dict(x) for x in repo.snoozes(session, p).values()],
    }


def csv_rows(session, p, table: str) -> tuple[list[str], list[list]]:
    from lungtrack.cli.scan import study_dict
    from lungtrack.store import models as m
    from lungtrack.store import repo

    if table == "markers":
        cols = ["patient", "date", "marker", "value", "unit", "uln", "lab", "source"]
        rows = [[p.name, r.date.isoformat(), r.marker, r.value, r.unit, r.uln, r.lab, r.source]
                for r in repo.records(session, m.MarkerResult, p)]
    elif table == "measurements":
        cols = ["patient", "date", "modality", "lesion", "site", "is_node", "size_mm", "status"]
        rows = []
        for s in repo.records(session, m.ImagingStudy, p):
            d = study_dict(session, s)
            rows += [[p.name, d["date"], d["modality"], x["label"], x["site"], x["is_node"], x["size_mm"], x["status"]]
                     for x in d["measurements"]]
    elif table == "biopsies":
        cols = ["patient", "date", "sample", "assay", "gene", "variant", "hgvs_p", "hgvs_c", "result", "vaf_percent"]
        rows = [[p.name, b.date.isoformat(), b.sample, b.assay, b.gene, b.variant, b.hgvs_p, b.hgvs_c, b.result, b.vaf]
                for b in repo.records(session, m.BiopsyFinding, p)]
    else:
        cols = ["patient", "drug", "start_date", "end_date", "stop_reason"]
        rows = [[p.name, ln.drug, ln.start_date.isoformat(), ln.end_date.isoformat() if ln.end_date else None,
                 ln.stop_reason] for ln in repo.therapy_lines(session, p)]
    return cols, rows


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _emit(data: bytes, output: str | None, what: str, ctx: typer.Context | None = None, **result) -> None:
    """The export on stdout, or into a private file; with ``--json`` (a file only) the result as JSON."""
    import sys

    to_stdout = output in (None, "-")
    if ctx is not None and common.state(ctx).json_result and to_stdout:
        from lungtrack.errors import InputError

        raise InputError("--json", "", "-o FILE as well (without it the export itself goes to standard output)")
    if to_stdout:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = common.write_private_file(output, data, "--output")
    if ctx is not None:
        common.report_result(ctx, {"file": str(path.absolute()), "bytes": len(data), **result}, f"Wrote {what} to {path}.")
    else:
        common.err(f"Wrote {what} to {path}.")


def register(export_app: typer.Typer) -> None:
    @export_app.command("json")
    def export_json(
        ctx: typer.Context,
        patient: PatientOpt = None,
        all_patients: Annotated[bool, typer.Option("--all-patients", help="Every patient in the store.")] = False,
        output: OutputOpt = None,
        json_out: ResultJsonOpt = False,
    ) -> None:
        """Export every record of a patient (or all patients) as one JSON document."""
        import json
        from datetime import datetime, timezone

        from lungtrack import __version__
        from lungtrack.importers.json_plan import EXPORT_FORMAT, FORMAT_VERSION
        from lungtrack.store import repo

        with common.transaction(ctx, write=False) as (_s, session):
            chosen = repo.select_patients(session, patient, all_patients)
            who = [(p.id, p.name) for p in chosen]
            data = {
                "format": EXPORT_FORMAT,
                "format_version": FORMAT_VERSION,
                "lungtrack_version": __version__,
                "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "patients": [patient_export(session, p) for p in chosen],
            }
        text = json.dumps(common.to_jsonable(data), indent=2, ensure_ascii=False) + "\n"
        _emit(text.encode("utf-8"), output, f"{len(data['patients'])} patient(s) as JSON", ctx,
              format="json", patients=[n for _i, n in who])
        common.log_event(ctx, "export-json", common.destination(output), who)

    @export_app.command("csv")
    def export_csv(
        ctx: typer.Context,
        table: Annotated[str, typer.Argument(help="markers, measurements, biopsies or therapy.")],
        patient: PatientOpt = None,
        all_patients: Annotated[bool, typer.Option("--all-patients", help="Every patient in the store.")] = False,
        output: OutputOpt = None,
        json_out: ResultJsonOpt = False,
    ) -> None:
        """Export one kind of record as CSV (header row; numbers as numbers; units in their own column)."""
        import csv
        import io

        from lungtrack.errors import InputError
        from lungtrack.store import repo

        name = table.strip().lower()
        if name not in CSV_TABLES:
            raise InputError("TABLE", table, "one of " + ", ".join(CSV_TABLES))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        count = 0
        with common.transaction(ctx, write=False) as (_s, session):
            chosen = repo.select_patients(session, patient, all_patients)
            who = [(p.id, p.name) for p in chosen]
            for i, p in enumerate(chosen):
                cols, rows = csv_rows(session, p, name)
                if i == 0:
                    writer.writerow(cols)
                writer.writerows([[_cell(v) for v in r] for r in rows])
                count += len(rows)
        _emit(buf.getvalue().encode("utf-8"), output, f"{count} {name} row(s) as CSV", ctx,
              format="csv", table=name, rows=count, patients=[n for _i, n in who])
        common.log_event(ctx, "export-csv", f"{name} to {common.destination(output)}", who)
