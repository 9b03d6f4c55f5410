"""lungtrack undo / log: the journal of every write command.

Every command that changes the store is one journal change: when, the OS user, the command
line with its values masked, and each row it inserted, updated or deleted (old and new values).
``lungtrack log`` lists the changes; ``lungtrack undo`` reverts the last one (deletions and
imports included) after showing what it will revert; ``lungtrack import undo ID`` reverts one
import.  After an undo the records are exactly as they were before the undone command.
"""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, YesOpt


def _describe(info) -> str:
    """``3 added, 1 changed, 2 deleted``: what a change did, by row count."""
    parts = []
    for op, word in (("insert", "added"), ("update", "changed"), ("delete", "deleted")):
        n = sum(info.counts.get(op, {}).values())
        if n:
            parts.append(f"{n} row{'s' if n != 1 else ''} {word}")
    return ", ".join(parts) or "no rows"


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _info_dict(info) -> dict:
    return {"id": info.id, "at": info.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "os_user": info.os_user,
            "kind": info.kind, "command": info.command, "summary": info.summary,
            "undone_at": info.undone_at.strftime("%Y-%m-%dT%H:%M:%SZ") if info.undone_at else None,
            "rows": info.counts}


def undo_flow(ctx: typer.Context, change_id: Optional[int], yes: bool, json_out: bool, kind: Optional[str] = None) -> None:
    from lungtrack.errors import InputError
    from lungtrack.records import journal

    with common.transaction(ctx, write=False) as (_s, session):
        change = (journal.get_change(session, change_id, kind) if change_id is not None
                  else journal.last_undoable(session))
        info = journal.change_info(session, change)
    what = (f"change {info.id} of {info.at:%Y-%m-%d %H:%M} UTC ({info.kind}: {info.summary or info.command}; "
            f"{_describe(info)})")
    if not yes:
        if not common.stdin_is_tty():
            raise InputError("--yes", "", "--yes", message=(
                f"Refusing to undo without confirmation: not on a terminal. It would revert {what}. "
                "Pass --yes to confirm."))
        common.err(f"This reverts {what}.")
        if not typer.confirm("Revert it?", default=False, err=True):
            common.err("Nothing was changed.")
            raise typer.Exit(0)
    with common.writer(ctx, kind="undo") as w:
        done = w.undo(journal.get_change(w.session, info.id))
    if json_out:
        common.print_json({"undone": info.id, "change_id": w.change_id, "rows_removed": done["removed"],
                           "rows_restored": done["restored"], "rows_reverted": done["reverted"]})
    common.err(f"Reverted {what}: {done['removed']} row(s) removed, {done['restored']} restored, "
               f"{done['reverted']} given their old values.")


def register(app: typer.Typer) -> None:
    @app.command("undo")
    def undo(
        ctx: typer.Context,
        change_id: Annotated[Optional[int], typer.Argument(metavar="[ID]", help="A change id from 'lungtrack log' (default: the last change not yet undone).")] = None,
        yes: YesOpt = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Revert the last write command (or change ID), deletions and imports included.

        Shows what it will revert and asks on a terminal (--yes when not on one). The records are
        then exactly as they were before that command. Refused when a later command changed the
        same records: undo that one first.
        """
        undo_flow(ctx, change_id, yes, json_out)

    @app.command("log")
    def log(
        ctx: typer.Context,
        limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show this many changes, newest first.")] = 20,
        json_out: JsonOpt = False,
    ) -> None:
        """Show the journal: every write command, newest first (when, who, the command with its values
        masked, and how many rows it added, changed or deleted)."""
        from lungtrack.records import journal

        with common.transaction(ctx, write=False) as (_s, session):
            infos = journal.list_changes(session, limit)
        if json_out:
            common.print_json([_info_dict(i) for i in infos])
            return
        common.print_table(["id", "at (UTC)", "user", "kind", "what", "rows", "undone"],
                           [[i.id, f"{i.at:%Y-%m-%d %H:%M}", i.os_user, i.kind, _short(i.summary or i.command or ""),
                             _describe(i), f"{i.undone_at:%Y-%m-%d %H:%M}" if i.undone_at else ""] for i in infos])
