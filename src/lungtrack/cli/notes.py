"""lungtrack appointment and lungtrack note: planned visits/scans/blood tests, and free-text notes.

Appointments may lie in the future (they are planned); notes and "done" dates may not.
Every value is checked before the store is opened: bad input writes nothing.
"""


from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt, YesOpt
from lungtrack.enums import AppointmentKind, AppointmentStatus

appointment_app = typer.Typer(
    help="Appointments (imaging, marker blood tests, visits, biopsies): add, list, show, edit, done, cancel, delete.",
    no_args_is_help=True)
note_app = typer.Typer(help="Free-text notes (symptoms, side effects, questions for the team): add, list, show, edit, delete.",
                       no_args_is_help=True)

#: ``appointment list`` shows planned appointments plus everything from this many days back.
RECENT_DAYS = 90
#: Longest appointment description (the column's size).
MAX_DESCRIPTION_CHARS = 500
#: Longest note text accepted: far more than any note, but stops a binary file piped in by mistake.
MAX_NOTE_CHARS = 20000
#: Characters of a note shown in the ``note list`` table.
NOTE_PREVIEW_CHARS = 60


# ================================================================== appointments

def _description(text: str | None) -> str | None:
    from lungtrack.errors import InputError

    if text is None:
        return None
    cleaned = " ".join(text.split())
    if len(cleaned) > MAX_DESCRIPTION_CHARS:
        raise InputError("--description", cleaned[:40] + "...", f"a description of at most {MAX_DESCRIPTION_CHARS} characters")
    return cleaned


def appointment_dict(row) -> dict:
    """Row dict plus ``days_from_today`` (negative: past) and ``past_due`` (planned but already past)."""
    from lungtrack.store.repo import row_dict

    return appointment_dict_from(row_dict(row))


def appointment_dict_from(data: dict) -> dict:
    from datetime import date

    data = dict(data)
    days = (date.fromisoformat(data["date"]) - common.today()).days
    data["days_from_today"] = days
    data["past_due"] = data["status"] == AppointmentStatus.PLANNED.value and days < 0
    return data


def _appointment_label(data: dict) -> str:
    from datetime import date

    desc = f" ({data['description']})" if data.get("description") else ""
    return f"{data['kind']} appointment{desc} on {common.date_label(date.fromisoformat(data['date']))}"


@appointment_app.command("add")
def appointment_add(
    ctx: typer.Context,
    kind: Annotated[AppointmentKind, typer.Option("--kind", case_sensitive=False, help="What it is for.")],
    date: Annotated[str, typer.Option("--date", "--on", help="Date (YYYY-MM-DD, 'in 2 weeks', 'next monday'); future dates are fine.")] = "today",
    description: Annotated[Optional[str], typer.Option("--description", help="Free text, e.g. 'CT chest/abdomen'.")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Plan an appointment (the one place appointments are planned; 'lungtrack schedule
    --next-appointment DATE' is a shortcut to this command).

    Example: lungtrack appointment add --date 2026-09-15 --kind imaging --description "CT chest"
    """
    when = common.parse_date_opt(date, "--date", allow_future=True, required=True)
    desc = _description(description) or None
    res, pname = plan_appointment(ctx, patient, when, kind.value, desc)
    data = appointment_dict_from(res.row)
    if json_out:
        common.print_json(data)
    if res.already:
        common.err(f"{_appointment_label(data).capitalize()} is already planned for {pname} (id {data['id']}); "
                   "nothing was added.")
        return
    common.err(f"Planned {_appointment_label(data)} for {pname} (id {data['id']}).")


def plan_appointment(ctx: typer.Context, patient: str | None, when, kind: str, description: str | None):
    """Plan one appointment through the writer; returns (Written, patient name)."""
    from lungtrack.records.inputs import AppointmentInput

    def op(w, _force):
        p = w.patient_row(patient)
        return w.plan_appointment(p, AppointmentInput(date=when, kind=kind, description=description)), p.name

    return common.write(ctx, op)[0]


@appointment_app.command("list")
def appointment_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help=f"All appointments (default: planned ones and the last {RECENT_DAYS} days).")] = False,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List appointments, oldest first: planned ones and those of the last 90 days (--all for every one)."""
    from datetime import timedelta

    from lungtrack.store import models as m
    from lungtrack.store import repo

    cutoff = common.today() - timedelta(days=RECENT_DAYS)
    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        rows = [appointment_dict(a) for a in repo.records(session, m.Appointment, p)
                if all_ or a.status == AppointmentStatus.PLANNED.value or a.date >= cutoff]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(
        ["id", "date", "kind", "status", "in days", "description"],
        [[r["id"], r["date"], r["kind"], r["status"] + (" (past: mark done or cancel)" if r["past_due"] else ""),
          r["days_from_today"], r["description"]] for r in rows])


@appointment_app.command("show")
def appointment_show(ctx: typer.Context, appointment_id: Annotated[int, typer.Argument(help="Appointment id.")],
                     patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """Show one appointment."""
    data = common.show_flow(ctx, "Appointment", appointment_id, patient, json_out, appointment_dict)
    if data is not None:
        common.print_fields([(k.replace("_", " "), data.get(k)) for k in
                             ("id", "date", "kind", "status", "description", "days_from_today", "source")], width=18)


@appointment_app.command("edit")
def appointment_edit(
    ctx: typer.Context,
    appointment_id: Annotated[int, typer.Argument(help="Appointment id.")],
    date: Annotated[Optional[str], typer.Option("--date", "--on", help="New date (future dates are fine while planned).")] = None,
    kind: Annotated[Optional[AppointmentKind], typer.Option("--kind", case_sensitive=False)] = None,
    description: Annotated[Optional[str], typer.Option("--description", help="New description ('' clears it).")] = None,
    status: Annotated[Optional[AppointmentStatus], typer.Option("--status", case_sensitive=False, help="Mark it planned, done or cancelled.")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change an appointment; only the options given change."""
    from lungtrack.errors import InputError

    when = common.parse_date_opt(date, "--date", allow_future=True)
    desc = _description(description)
    if all(v is None for v in (when, kind, desc, status)):
        raise InputError("options", "", "at least one of --date, --kind, --description, --status")

    def op(w, _force):
        return w.edit_appointment(w.patient(patient), appointment_id, date_=when, kind=kind.value if kind else None,
                                  description=desc, status=status.value if status else None)

    data = appointment_dict_from(common.write(ctx, op)[0].row)
    if json_out:
        common.print_json(data)
    common.err(f"Updated appointment {appointment_id}: {_appointment_label(data)}, {data['status']}.")


def _set_status(ctx: typer.Context, appointment_id: int, patient: str | None, status: AppointmentStatus,
                on: str | None) -> dict:
    when = common.parse_date_opt(on, "--date")

    def op(w, _force):
        return w.edit_appointment(w.patient(patient), appointment_id, date_=when, status=status.value)

    return appointment_dict_from(common.write(ctx, op)[0].row)


@appointment_app.command("done")
def appointment_done(
    ctx: typer.Context,
    appointment_id: Annotated[int, typer.Argument(help="Appointment id.")],
    on: Annotated[Optional[str], typer.Option("--date", "--on", help="Date it took place, if not the planned date (not in the future).")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Mark an appointment as done (it took place)."""
    data = _set_status(ctx, appointment_id, patient, AppointmentStatus.DONE, on)
    if json_out:
        common.print_json(data)
    common.err(f"Marked done: {_appointment_label(data)}.")


@appointment_app.command("cancel")
def appointment_cancel(
    ctx: typer.Context,
    appointment_id: Annotated[int, typer.Argument(help="Appointment id.")],
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Mark an appointment as cancelled (kept in the history; use delete to remove it)."""
    data = _set_status(ctx, appointment_id, patient, AppointmentStatus.CANCELLED, None)
    if json_out:
        common.print_json(data)
    common.err(f"Cancelled: {_appointment_label(data)}.")


@appointment_app.command("delete")
def appointment_delete(ctx: typer.Context, appointment_ids: Annotated[list[int], typer.Argument(help="Appointment id(s).")],
                       patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete one or more appointments (asks first; --yes when not on a terminal)."""
    common.delete_flow(ctx, "appointment", appointment_ids, patient, yes, json_out,
                       lambda a: f"appointment {a.id} ({a.kind} on {a.date.isoformat()}, {a.status})")


# ================================================================== notes

def _note_text(text: str, field: str) -> str:
    """The note's text; ``-`` reads it from stdin.  Empty (or only whitespace) is refused."""
    from lungtrack.errors import InputError

    if text == "-":
        text = common.read_stdin_text(field)
    cleaned = text.strip()
    if not cleaned:
        raise InputError(field, text, "some text (or - to read it from stdin)",
                         message=f"{field}: the note is empty; expected some text (or - to read it from stdin).")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise InputError(field, cleaned[:40] + "...", f"a note of at most {MAX_NOTE_CHARS} characters")
    return cleaned


def note_dict(row) -> dict:
    from lungtrack.store.repo import row_dict

    return row_dict(row)


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= NOTE_PREVIEW_CHARS else flat[:NOTE_PREVIEW_CHARS - 1] + "…"


@note_app.command("add")
def note_add(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The note. Use - to read it from stdin, which keeps health details out of your shell history.")],
    date: Annotated[str, typer.Option("--date", "--on", help="Date the note is about (not in the future).")] = "today",
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a note.  'lungtrack note add -' reads the text from stdin, so health details stay out of
    your shell history.

    Example: echo "grade 1 rash since Monday" | lungtrack note add - --date yesterday
    """
    from lungtrack.records.inputs import NoteInput

    when = common.parse_date_opt(date, "--date", required=True)
    body = _note_text(text, "text")

    def op(w, _force):
        p = w.patient_row(patient)
        return w.add_note(p, NoteInput(date=when, text=body)), p.name

    (res, pname), _change = common.write(ctx, op)
    data = res.row
    if json_out:
        common.print_json(data)
    common.err(f"Added note {data['id']} for {pname} on {common.date_label(when)} ({len(body)} characters).")


@note_app.command("list")
def note_list(ctx: typer.Context, patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """List notes, oldest first (the table shows the start of each; --json has the full text)."""
    from lungtrack.store import models as m
    from lungtrack.store import repo

    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        rows = [note_dict(n) for n in repo.records(session, m.Note, p)]
    if json_out:
        common.print_json(rows)
        return
    common.print_table(["id", "date", "text"], [[r["id"], r["date"], _preview(r["text"])] for r in rows])


@note_app.command("show")
def note_show(ctx: typer.Context, note_id: Annotated[int, typer.Argument(help="Note id.")],
              patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
    """Show one note in full."""
    data = common.show_flow(ctx, "Note", note_id, patient, json_out, note_dict)
    if data is None:
        return
    common.out(f"Note {data['id']}, {data['date']}:")
    common.out(data["text"])


@note_app.command("edit")
def note_edit(
    ctx: typer.Context,
    note_id: Annotated[int, typer.Argument(help="Note id.")],
    text: Annotated[Optional[str], typer.Option("--text", help="New text (replaces the old; - reads it from stdin).")] = None,
    date: Annotated[Optional[str], typer.Option("--date", "--on", help="New date (not in the future).")] = None,
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a note's text or date; only the options given change."""
    from lungtrack.errors import InputError

    when = common.parse_date_opt(date, "--date")
    body = _note_text(text, "--text") if text is not None else None
    if when is None and body is None:
        raise InputError("options", "", "at least one of --text, --date")

    def op(w, _force):
        return w.edit_note(w.patient(patient), note_id, text=body, date_=when)

    data = common.write(ctx, op)[0].row
    if json_out:
        common.print_json(data)
    common.err(f"Updated note {note_id} ({data['date']}).")


@note_app.command("delete")
def note_delete(ctx: typer.Context, note_ids: Annotated[list[int], typer.Argument(help="Note id(s).")],
                patient: PatientOpt = None, yes: YesOpt = False, json_out: common.ResultJsonOpt = False) -> None:
    """Delete one or more notes (asks first; --yes when not on a terminal)."""
    common.delete_flow(ctx, "note", note_ids, patient, yes, json_out, lambda n: f"note {n.id} of {n.date.isoformat()}")
