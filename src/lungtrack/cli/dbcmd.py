"""lungtrack db: where the store is, its schema version, backups."""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt

app = typer.Typer(help="The store: its path, schema version and backups.", no_args_is_help=True)


@app.command("path")
def path(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the store's path (or its URL with the password masked)."""
    from lungtrack.store.paths import resolve

    where = resolve(common.state(ctx).db)
    if json_out:
        common.print_json({"location": where.display, "path": str(where.path) if where.path else None,
                           "exists": where.path.exists() if where.path else None})
        return
    common.out(where.display)


@app.command("info")
def info(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Print the store's location, schema version and record counts."""
    from sqlalchemy import func, select

    from lungtrack import __version__
    from lungtrack.settings import thresholds_path
    from lungtrack.store import db as dbmod
    from lungtrack.store.tables import metadata

    with common.transaction(ctx, write=False) as (store, session):
        conn = session.connection()
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in metadata.sorted_tables}
        data = {
            "location": store.location.display,
            "backend": "sqlite" if store.location.is_sqlite else store.engine.dialect.name,
            "schema_revision": store.schema_revision(),
            "schema_head": dbmod.SCHEMA_HEAD,
            "lungtrack_version": __version__,
            "thresholds_file": str(thresholds_path()),
            "counts": counts,
        }
    if json_out:
        common.print_json(data)
        return
    common.out(f"Store:           {data['location']} ({data['backend']})")
    common.out(f"Schema version:  {data['schema_revision']} (this lungtrack {__version__} knows up to {data['schema_head']})")
    common.out(f"Thresholds file: {data['thresholds_file']}")
    common.out("Records:         " + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "alembic_version"))


@app.command("backup")
def backup(
    ctx: typer.Context,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Where to write the copy (default: backups/ beside the store).")] = None,
    json_out: common.ResultJsonOpt = False,
) -> None:
    """Write a consistent backup copy of the store (mode 0600)."""
    from pathlib import Path

    from lungtrack.store.db import backup as do_backup

    store = common.open_store(ctx)
    try:
        dest = do_backup(store, reason="manual", dest=Path(output).expanduser() if output else None, field="--output")
    finally:
        store.close()
    common.log_event(ctx, "backup", str(dest))
    if json_out:
        common.print_json({"backup": str(Path(dest).absolute()), "bytes": Path(dest).stat().st_size})
    else:
        common.out(str(dest))
    common.err(f"Backup written to {dest}.")


@app.command("check")
def check(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Check the store without changing it: SQLite integrity, schema version, file permissions.

    Exit 0 when all is well, 1 when something is wrong (each problem is named, with the newest
    backup when the store is damaged).
    """
    from lungtrack.store.db import check_store
    from lungtrack.store.paths import resolve

    report = check_store(resolve(common.state(ctx).db))
    if json_out:
        common.print_json(report)
    else:
        common.out(f"Store:          {report['location']}")
        if report["permissions"]:
            perms = report["permissions"]
            common.out(f"Permissions:    file {perms['file']}, folder {perms['folder']}"
                       + (" (read-only)" if report["read_only"] else ""))
        if report["integrity"] is not None:
            common.out(f"Integrity:      {report['integrity']}")
        common.out(f"Schema version: {report['schema_revision']} (this lungtrack knows up to {report['schema_head']})")
        if report["newest_backup"]:
            common.out(f"Newest backup:  {report['newest_backup']}")
        common.out("Result:         " + ("OK" if report["ok"] else f"{len(report['problems'])} problem(s)"))
    for problem in report["problems"]:
        common.err(f"Problem: {problem}")
    if not report["ok"]:
        raise typer.Exit(1)


@app.command("restore")
def restore(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A backup file made by 'lungtrack db backup' (.db).")],
    yes: common.YesOpt = False,
    json_out: common.ResultJsonOpt = False,
) -> None:
    """Replace the store with a backup copy, after checking the backup's integrity.

    The current store is kept as a backup first (backups/NAME-TIME-before-restore.db), so a
    restore can itself be undone.  Asks first on a terminal; needs --yes otherwise.
    """
    from pathlib import Path

    from lungtrack.store.db import restore_store
    from lungtrack.store.paths import resolve

    location = resolve(common.state(ctx).db)
    if location.path is None:
        from lungtrack.errors import StoreError

        raise StoreError("db restore works on SQLite stores; restore a PostgreSQL store with its own tools.")
    source = Path(file).expanduser()
    if not source.is_file():
        from lungtrack.errors import InputError

        raise InputError("FILE", file, "an existing backup file (.db)")
    common.confirm_or_refuse(f"Replace the store {location.display} with {source}? "
                             "(The current store is kept as a backup.)", yes, verb="restore")
    saved = restore_store(location, source)
    if saved is not None:
        common.err(f"Kept the replaced store as {saved}.")
    common.log_event(ctx, "restore", f"from {source.absolute()}" + (f"; previous store kept as {saved}" if saved else ""))
    common.report_result(ctx, {"restored": location.display, "from": str(source.absolute()),
                               "previous_store_kept_as": str(saved) if saved else None},
                         f"Restored {location.display} from {source}.")


@app.command("log")
def log(
    ctx: typer.Context,
    patient: Annotated[Optional[str], typer.Option("--patient", "-p", help="Only entries about this patient.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """What left the store and what was destroyed: exports, reports, backups, patient deletions."""
    from sqlmodel import select

    from lungtrack.store import models as m
    from lungtrack.store.repo import row_dict

    with common.transaction(ctx, write=False) as (_s, session):
        rows = [row_dict(r) for r in session.exec(select(m.EventLog).order_by(m.EventLog.at, m.EventLog.id))]
    if patient:
        rows = [r for r in rows if (r["patient_name"] or "").casefold() == patient.strip().casefold()]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(["when (UTC)", "action", "patient", "detail"],
                       [[r["at"], r["action"], r["patient_name"], r["detail"]] for r in rows])
