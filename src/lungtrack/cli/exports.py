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


def _progress(conn, all_patients: bool, output: str | None, label: str):
    """A progress bar on stderr for an export of every patient into a file (on a terminal, after a
    second; never when the export itself goes to standard output)."""
    from lungtrack.store import read

    show = all_patients and output not in (None, "-")
    return common.PatientProgress(read.count_patients(conn) if show and common.progress_wanted() else None, label,
                                  show=show)


def patient_batches(conn, patient: str | None, all_patients: bool) -> list:
    """The patients to export, in batches of rows (name order; one batch for one patient).

    The first batch is read now, so that a patient name that matches nothing is refused before
    anything is written."""
    from itertools import chain

    from lungtrack.store import read

    if not all_patients:
        return [[read.find_patient(conn, patient)]]
    batches = read.iter_patient_batches(conn)
    first = next(batches, None)
    return chain([first], batches) if first is not None else []  # type: ignore[return-value]


def patient_export(conn, p) -> dict:
    """Every record of one patient as JSON-ready data (``export json`` format v2)."""
    from lungtrack.store import read

    return read.patient_records(conn, [p])[0]


def csv_rows(data: dict, table: str) -> tuple[list[str], list[list]]:
    """One kind of record of one patient's export data (:func:`patient_export`) as CSV rows."""
    name = data["patient"]["name"]
    if table == "markers":
        cols = ["patient", "date", "marker", "value", "unit", "uln", "lab", "source"]
        rows = [[name, r["date"], r["marker"], r["value"], r["unit"], r["uln"], r["lab"], r["source"]]
                for r in data["marker_results"]]
    elif table == "measurements":
        cols = ["patient", "date", "modality", "lesion", "site", "is_node", "size_mm", "status"]
        rows = [[name, d["date"], d["modality"], x["label"], x["site"], x["is_node"], x["size_mm"], x["status"]]
                for d in data["scans"] for x in d["measurements"]]
    elif table == "biopsies":
        cols = ["patient", "date", "sample", "assay", "gene", "variant", "hgvs_p", "hgvs_c", "result", "vaf_percent"]
        rows = [[name, b["date"], b["sample"], b["assay"], b["gene"], b["variant"], b["hgvs_p"], b["hgvs_c"],
                 b["result"], b["vaf"]] for b in data["biopsy_findings"]]
    else:
        cols = ["patient", "drug", "start_date", "end_date", "stop_reason"]
        rows = [[name, ln["drug"], ln["start_date"], ln["end_date"], ln["stop_reason"]]
                for ln in data["therapy_lines"]]
    return cols, rows


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _emit(data, output: str | None, what, ctx: typer.Context | None = None, **result) -> None:
    """The export on stdout, or into a private file; with ``--json`` (a file only) the result as JSON.

    ``data`` is bytes, or an iterable of bytes written as each part is ready (an export of every
    patient streams, batch by batch); ``what`` and the ``result`` values may be functions, called
    once everything is written (counts known only then)."""
    import sys

    to_stdout = output in (None, "-")
    if ctx is not None and common.state(ctx).json_result and to_stdout:
        from lungtrack.errors import InputError

        raise InputError("--json", "", "-o FILE as well (without it the export itself goes to standard output)")
    chunks = [data] if isinstance(data, (bytes, bytearray)) else data
    if to_stdout:
        sys.stdout.flush()
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    path = common.write_private_file(output, chunks, "--output")
    what = what() if callable(what) else what
    result = {k: v() if callable(v) else v for k, v in result.items()}
    if ctx is not None:
        common.report_result(ctx, {"file": str(path.absolute()), "bytes": path.stat().st_size, **result},
                             f"Wrote {what} to {path}.")
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
        """Export every record of a patient (or all patients) as one JSON document.

        Patients are read in batches and written as they are read: memory stays flat whatever
        the size of the store."""
        import json
        from datetime import datetime, timezone

        from lungtrack import __version__
        from lungtrack.importers.json_plan import EXPORT_FORMAT, FORMAT_VERSION
        from lungtrack.store import read

        who: list[tuple[int, str]] = []
        head = json.dumps({"format": EXPORT_FORMAT, "format_version": FORMAT_VERSION, "lungtrack_version": __version__,
                           "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
                          indent=2, ensure_ascii=False)

        def document(conn, batches, progress):
            # the text json.dumps(..., indent=2) gives for the whole document, one patient at a time
            yield (head[:-2] + ',\n  "patients": [').encode("utf-8")
            for batch in batches:
                progress.advance(len(batch))
                for data in read.patient_records(conn, batch):
                    text = json.dumps(common.to_jsonable(data), indent=2, ensure_ascii=False)
                    yield (("\n" if not who else ",\n") + "\n".join("    " + ln for ln in text.split("\n"))).encode("utf-8")
                    who.append((data["patient"]["id"], data["patient"]["name"]))
            yield ("\n  ]\n}\n" if who else "]\n}\n").encode("utf-8")

        with common.reading(ctx) as conn, _progress(conn, all_patients, output, "Exporting") as progress:
            _emit(document(conn, patient_batches(conn, patient, all_patients), progress), output,
                  lambda: f"{len(who)} patient(s) as JSON", ctx,
                  format="json", patients=lambda: [n for _i, n in who])
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

        name = table.strip().lower()
        if name not in CSV_TABLES:
            raise InputError("TABLE", table, "one of " + ", ".join(CSV_TABLES))
        from lungtrack.store import read

        who: list[tuple[int, str]] = []
        count = 0

        def document(conn, batches, progress):
            nonlocal count
            for batch in batches:
                progress.advance(len(batch))
                for data in read.patient_records(conn, batch):
                    cols, rows = csv_rows(data, name)
                    buf = io.StringIO()
                    writer = csv.writer(buf, lineterminator="\n")
                    if not who:
                        writer.writerow(cols)
                    writer.writerows([[_cell(v) for v in r] for r in rows])
                    count += len(rows)
                    who.append((data["patient"]["id"], data["patient"]["name"]))
                    yield buf.getvalue().encode("utf-8")

        with common.reading(ctx) as conn, _progress(conn, all_patients, output, "Exporting") as progress:
            _emit(document(conn, patient_batches(conn, patient, all_patients), progress), output,
                  lambda: f"{count} {name} row(s) as CSV", ctx,
                  format="csv", table=name, rows=lambda: count, patients=lambda: [n for _i, n in who])
        common.log_event(ctx, "export-csv", f"{name} to {common.destination(output)}", who)
