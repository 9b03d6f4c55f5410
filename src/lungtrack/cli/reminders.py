"""lungtrack remind / schedule / cron / export ics: reminders that work from cron.

``remind`` is built for cron, which mails whatever a job prints: it prints nothing and exits 0
when nothing is due, and a short plain-text message with exit code 3 (ATTENTION) otherwise.
It covers every patient in the store unless ``--patient`` is given.

Light at import (Typer + stdlib + light lungtrack modules); the store, the rules and
``icalendar`` are imported inside the commands.
"""


import codecs
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt
from lungtrack.enums import AppointmentKind
from lungtrack.errors import InputError
from lungtrack.exitcodes import EXIT_CODE_HELP, ExitStatus

export_app = typer.Typer(help="Export data for other programs: ics (calendar), json (everything), csv (one table).",
                         no_args_is_help=True)

AllPatientsOpt = Annotated[bool, typer.Option(
    "--all-patients", help="Every patient in the store, even when LUNGTRACK_PATIENT is set (the default without --patient).")]

RemindPatientOpt = Annotated[
    Optional[str],
    typer.Option("--patient", "-p", envvar="LUNGTRACK_PATIENT", show_envvar=True,
                 help="Only this patient (default: every patient in the store; for --snooze: the default patient)."),
]


# --------------------------------------------------------------------------- helpers


def ensure_encodable_output() -> None:
    """Never crash on a non-ASCII name in cron's bare environment.

    Python 3.11 already switches to UTF-8 when the locale is C/POSIX or unset (PEP 538/540);
    this covers what is left: an ASCII stream (``PYTHONIOENCODING=ascii``) becomes UTF-8, and a
    non-UTF legacy locale (e.g. Latin-1) replaces what it cannot encode instead of failing.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            name = codecs.lookup(getattr(stream, "encoding", None) or "ascii").name
        except LookupError:
            name = "ascii"
        try:
            if name == "ascii":
                reconfigure(encoding="utf-8", errors="replace")
            elif not name.startswith("utf"):
                reconfigure(errors="replace")
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot be reconfigured
            pass


def _export_now() -> datetime:
    """The export time; ``SOURCE_DATE_EPOCH`` (seconds, reproducible-builds convention) pins it."""
    fixed = os.environ.get("SOURCE_DATE_EPOCH")
    if fixed:
        try:
            return datetime.fromtimestamp(int(fixed), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise InputError("SOURCE_DATE_EPOCH", fixed, "a whole number of seconds since 1970-01-01 UTC") from None
    return datetime.now(timezone.utc)


def _evaluate(ctx: typer.Context, patient: str | None) -> list[tuple[Any, Any]]:
    """(patient row, PatientEvaluation) for each patient asked for, in one read transaction."""
    from lungtrack.services import evaluate_patient
    from lungtrack.settings import load_rules_config
    from lungtrack.store import read

    config = load_rules_config()
    today = common.today()
    with common.reading(ctx) as conn:
        patients = read.select_patients(conn, patient, all_patients=not patient)  # remind: all unless named
        return [(p, evaluate_patient(conn, p, today, config)) for p in patients]


def remind_item(with_findings: bool, today, pe) -> list:
    """One patient's reminders (runs in the worker processes of an all-patient remind)."""
    from lungtrack.reminders.remind import reminders_for

    return reminders_for(pe, today, with_findings=with_findings)


def _remind_item_with_calendar(with_findings: bool, today, pe) -> tuple[list, Any]:
    return remind_item(with_findings, today, pe), pe


def _remind_all(ctx: typer.Context, today, *, with_findings: bool, show_all: bool, json_lines: bool, json_doc: bool,
                ics: Optional[Path]) -> int:
    """``remind`` over every patient, streamed: patients are read in batches and each one's lines are
    printed as soon as they are ready (the footer at the end).  Returns how many need attention."""
    from functools import partial

    from lungtrack.reminders.ics import entries_for_patient, patient_tag
    from lungtrack.reminders.remind import footer_lines, header_line, needs_attention, reminder_data, shown
    from lungtrack.services import stream_all_patients
    from lungtrack.settings import load_rules_config
    from lungtrack.store import read

    config = load_rules_config()
    attention = snoozed = patients = 0
    first = due = None
    any_finding = False
    names: list[str] = []
    doc_reminders: list[dict] = []
    entries: list = []
    who: list[tuple[int, str]] = []
    work = partial(_remind_item_with_calendar if ics is not None else remind_item, with_findings, today)
    with common.reading(ctx) as conn:
        total = read.count_patients(conn) if common.progress_wanted() else None
        with common.PatientProgress(total, "Reminders") as progress:
            for p, result in stream_all_patients(conn, today, config, work, jobs=1 if ics is not None else None):
                progress.advance(1)
                patients += 1
                reminders, pe = result if ics is not None else (result, None)
                if pe is not None:
                    ev = pe.evaluation
                    created = p.created_at.isoformat() if p.created_at else None
                    entries.extend(entries_for_patient(ev.patient, ev.due, pe.history.appointments, today,
                                                       tag=patient_tag(p.id, created),
                                                       window_days=ev.config.timing.due_window_days))
                    who.append((p.id, p.name))
                n_attention = needs_attention(reminders)
                n_snoozed = sum(1 for r in reminders if r.snoozed)
                attention += n_attention
                snoozed += n_snoozed
                visible = shown(reminders, include_snoozed=show_all)
                if json_lines:
                    common.print_json_line({"date": today.isoformat(), "patient": p.name, "patient_id": p.id,
                                            "reminders": [reminder_data(r) for r in visible],
                                            "snoozed": n_snoozed, "needs_attention": n_attention})
                    continue
                if json_doc:
                    names.append(p.name)
                    doc_reminders.extend(reminder_data(r) for r in visible)
                    continue
                for r in visible:
                    if first is None:
                        first = r
                        common.out(header_line(common.date_label(today)))
                    if due is None and r.kind != "finding" and not r.snoozed:
                        due = r
                    any_finding = any_finding or r.kind == "finding"
                    common.out(r.line())
    if ics is not None:
        from lungtrack.reminders.ics import calendar_bytes

        common.write_private_file(ics, calendar_bytes(entries, _export_now(), _previous(ics)), "--ics")
        common.log_event(ctx, "export-ics", common.destination(str(ics)), who)
    if json_doc:
        common.print_json({"date": today.isoformat(), "patients": names, "reminders": doc_reminders,
                           "snoozed": snoozed, "needs_attention": attention})
    elif not json_lines:
        if first is not None:
            for line in footer_lines(first, due, any_finding, single_patient=patients == 1):
                common.out(line)
        elif common.stdout_is_tty():
            common.err("Nothing is due." + (f" {snoozed} snoozed item(s): lungtrack remind --all." if snoozed else ""))
    return attention


def _previous(output: Any) -> bytes | None:
    """The calendar file as it is now (the previous export), if there is one to compare with."""
    if output in (None, "-"):
        return None
    try:
        return Path(output).expanduser().read_bytes()
    except OSError:
        return None


def _calendar(results: list[tuple[Any, Any]], today, previous: bytes | None = None) -> bytes:
    from lungtrack.reminders.ics import calendar_bytes, entries_for_patient, patient_tag

    entries = []
    for p, pe in results:
        ev = pe.evaluation
        created = p.created_at.isoformat() if p.created_at else None
        entries.extend(entries_for_patient(ev.patient, ev.due, pe.history.appointments, today,
                                           tag=patient_tag(p.id, created),
                                           window_days=ev.config.timing.due_window_days))
    return calendar_bytes(entries, _export_now(), previous)


def _snooze(ctx: typer.Context, patient: str | None, item: str, length: str | None, *, undo: bool) -> None:
    from sqlmodel import select

    from lungtrack.reminders.remind import parse_snooze_end, resolve_item_key, snooze_until
    from lungtrack.services import evaluate_patient
    from lungtrack.settings import load_rules_config
    from lungtrack.store import models as m
    from lungtrack.store import repo

    config = load_rules_config()
    today = common.today()
    with common.writer(ctx) as w:
        session = w.session
        p = repo.find_patient(session, patient)
        existing = {s.item_key: s for s in session.exec(select(m.Snooze).where(m.Snooze.patient_id == p.id))}
        if undo:
            try:
                key = item if item in existing else resolve_item_key(item, sorted(existing), field="--unsnooze")
            except InputError:
                from lungtrack.enums import Marker

                kinds = ["imaging", *(f"marker:{mk.value}" for mk in Marker)]
                try:  # a scan or marker that simply is not snoozed: say so, change nothing
                    resolve_item_key(item, kinds, field="--unsnooze")
                except InputError:  # not an item at all (or an appointment id that is not snoozed)
                    listed = ", ".join(sorted(existing)) or "none (nothing is snoozed)"
                    raise InputError("--unsnooze", item, f"a snoozed item: {listed}") from None
                common.err(f"{p.name}: {item} is not snoozed; nothing changed.")
                return
            w.unsnooze(existing[key])
            common.err(f"{p.name}: {key} is no longer snoozed.")
            return
        pe = evaluate_patient(session, p, today, config)
        items = {d.key: d for d in pe.evaluation.due}
        key = resolve_item_key(item, list(items))
        requested = parse_snooze_end(length or "", today)
        until, capped = snooze_until(requested, items[key])
        w.snooze(p, key, until)
        label, pname = items[key].label, p.name
    note = (f" (not {requested.isoformat()}: {label} becomes overdue that day, and a snooze never hides an "
            "item that turns overdue; snooze it again then if you mean to)") if capped else ""
    common.err(f"Snoozed {pname}: {label} ({key}) until {until.isoformat()}; it shows again that day{note}. "
               "'lungtrack remind --all' lists snoozed items; '--unsnooze " + key + "' ends the snooze.")


# --------------------------------------------------------------------------- schedule helpers


def _schedule_data(p, pe, config) -> dict[str, Any]:
    from lungtrack.core.timing import effective_schedule

    ev = pe.evaluation
    sched = effective_schedule(pe.history, config)
    today = ev.today

    def origin(column: str) -> str:
        return "patient" if getattr(p, column) is not None else "default"

    return {
        "patient": {"id": p.id, "name": p.name},
        "date": today.isoformat(),
        "imaging": {"due_soon_weeks": sched.imaging_due_soon_weeks, "overdue_weeks": sched.imaging_overdue_weeks,
                    "set_for_patient": origin("imaging_due_soon_weeks") == "patient"
                    or origin("imaging_overdue_weeks") == "patient"},
        "markers": {"due_soon_weeks": sched.marker_due_soon_weeks, "overdue_weeks": sched.marker_overdue_weeks,
                    "set_for_patient": origin("marker_due_soon_weeks") == "patient"
                    or origin("marker_overdue_weeks") == "patient"},
        "next": [
            {"key": d.key, "kind": d.kind, "label": d.label, "state": d.state.value,
             "last_date": d.last_date.isoformat() if d.last_date else None,
             "due_soon_date": d.due_soon_date.isoformat() if d.due_soon_date else None,
             "due_date": d.due_date.isoformat(), "days": d.days,
             "snoozed_until": pe.snoozes[d.key].isoformat()
             if d.key in pe.snoozes and today < pe.snoozes[d.key] else None}
            for d in ev.due
        ],
    }


def _render_schedule(data: dict[str, Any]) -> list[str]:
    def interval(name: str, what: str) -> str:
        s = data[name]
        whose = "set for this patient" if s["set_for_patient"] else "default"
        return (f"{what}: due soon from {s['due_soon_weeks']:g} weeks, overdue after {s['overdue_weeks']:g} "
                f"weeks after the last {'scan' if name == 'imaging' else 'test'} ({whose})")

    lines = [f"{data['patient']['name']}: follow-up schedule as of {data['date']}",
             interval("imaging", "Imaging"), interval("markers", "Markers"), "Next:"]
    if not data["next"]:
        lines.append("- nothing scheduled (no active therapy line and no planned appointment)")
    for n in data["next"]:
        days = n["days"]
        when = "today" if days == 0 else (f"in {days} day{'s' if days != 1 else ''}" if days > 0
                                          else f"{-days} day{'s' if days != -1 else ''} ago")
        if n["kind"] == "appointment":
            text = f"- {n['label']}: {n['due_date']} ({when}), planned [{n['key']}]"
        else:
            last = f"last {n['last_date']}" if n["last_date"] else "none yet on this treatment"
            text = (f"- {n['label']}: due soon from {n['due_soon_date']}, due by {n['due_date']} ({when}); "
                    f"{last}; {n['state']} [{n['key']}]")
        if n["snoozed_until"]:
            text += f" (snoozed until {n['snoozed_until']})"
        lines.append(text)
    return lines


# --------------------------------------------------------------------------- commands


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")

    @app.command("remind", epilog=EXIT_CODE_HELP)
    def remind(
        ctx: typer.Context,
        patient: RemindPatientOpt = None,
        all_patients: AllPatientsOpt = False,
        with_findings: Annotated[bool, typer.Option(
            "--with-findings", help="Also list watch/alert findings not yet acknowledged.")] = False,
        show_all: Annotated[bool, typer.Option(
            "--all", help="Also show snoozed items, marked '(snoozed until DATE)'.")] = False,
        json_out: JsonOpt = False,
        ics: Annotated[Optional[Path], typer.Option(
            "--ics", metavar="FILE", help="Also write the follow-up calendar (iCalendar) to FILE.")] = None,
        snooze: Annotated[Optional[tuple[str, str]], typer.Option(
            "--snooze", metavar="ITEM DURATION",
            help="Quiet one item until a date: ITEM is imaging (ct, scan), marker:CEA (cea), appointment:ID; "
                 "DURATION is 7d, 2w, 1m or a date.")] = None,
        unsnooze: Annotated[Optional[str], typer.Option("--unsnooze", metavar="ITEM", help="End a snooze.")] = None,
    ) -> None:
        """What is due soon, due or overdue: scans, marker tests, appointments (made for cron).

        Prints nothing and exits 0 when nothing is due; otherwise prints a short plain-text
        message and exits 3. Covers every patient unless --patient is given.
        Example crontab line: see 'lungtrack cron'.
        """
        ensure_encodable_output()
        if snooze is not None and snooze[0] is not None:
            if unsnooze is not None:
                raise InputError("--unsnooze", unsnooze, "either --snooze or --unsnooze, not both")
            _snooze(ctx, patient, snooze[0], snooze[1], undo=False)
            raise typer.Exit(ExitStatus.OK)
        if unsnooze is not None:
            _snooze(ctx, patient, unsnooze, None, undo=True)
            raise typer.Exit(ExitStatus.OK)

        from lungtrack.reminders.remind import needs_attention, reminder_data, reminders_for, render_text, shown

        today = common.today()
        if patient is None or all_patients:
            attention = _remind_all(ctx, today, with_findings=with_findings, show_all=show_all,
                                    json_lines=json_out and all_patients, json_doc=json_out and not all_patients,
                                    ics=ics)
            raise typer.Exit(ExitStatus.ATTENTION if attention else ExitStatus.OK)
        results = _evaluate(ctx, patient)
        reminders = [r for _p, pe in results for r in reminders_for(pe, today, with_findings=with_findings)]
        if ics is not None:
            common.write_private_file(ics, _calendar(results, today, _previous(ics)), "--ics")
            common.log_event(ctx, "export-ics", common.destination(str(ics)), [(p.id, p.name) for p, _pe in results])
        attention = needs_attention(reminders)
        if json_out:
            common.print_json({
                "date": today.isoformat(),
                "patients": [p.name for p, _pe in results],
                "reminders": [reminder_data(r) for r in shown(reminders, include_snoozed=show_all)],
                "snoozed": sum(1 for r in reminders if r.snoozed),
                "needs_attention": attention,
            })
        else:
            lines = render_text(reminders, common.date_label(today), include_snoozed=show_all,
                                single_patient=len(results) == 1)
            for line in lines:
                common.out(line)
            if not lines and common.stdout_is_tty():
                snoozed = sum(1 for r in reminders if r.snoozed)
                common.err("Nothing is due." + (f" {snoozed} snoozed item(s): lungtrack remind --all." if snoozed else ""))
        raise typer.Exit(ExitStatus.ATTENTION if attention else ExitStatus.OK)

    @app.command("schedule")
    def schedule(
        ctx: typer.Context,
        patient: PatientOpt = None,
        imaging_every: Annotated[Optional[str], typer.Option(
            "--imaging-every", help="Imaging interval after the last scan: due soon-overdue, e.g. '8-13 weeks'.")] = None,
        imaging_due_soon: Annotated[Optional[str], typer.Option("--imaging-due-soon", help="e.g. 8w")] = None,
        imaging_overdue: Annotated[Optional[str], typer.Option("--imaging-overdue", help="e.g. 13w")] = None,
        markers_every: Annotated[Optional[str], typer.Option(
            "--markers-every", help="Marker-test interval after the last test, e.g. '6-9 weeks'.")] = None,
        markers_due_soon: Annotated[Optional[str], typer.Option("--markers-due-soon", help="e.g. 6w")] = None,
        markers_overdue: Annotated[Optional[str], typer.Option("--markers-overdue", help="e.g. 9w")] = None,
        next_appointment: Annotated[Optional[str], typer.Option(
            "--next-appointment", metavar="DATE", help="Plan an appointment on DATE (today or later).")] = None,
        kind: Annotated[AppointmentKind, typer.Option(
            "--kind", case_sensitive=False, help="What the planned appointment is for.")] = AppointmentKind.VISIT,
        description: Annotated[Optional[str], typer.Option(
            "--description", help="Free text for the appointment, e.g. 'CT chest/abdomen'.")] = None,
        reset: Annotated[bool, typer.Option(
            "--reset", help="Return the imaging and marker intervals to the defaults (thresholds file).")] = False,
        show: Annotated[bool, typer.Option("--show", help="Print the schedule and the next due dates (the default).")] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Set a patient's follow-up intervals or plan the next appointment; show the next due dates.

        Due dates are always computed from the last scan or test that happened: nothing is
        written for the future except the appointments you plan.

        Example: lungtrack schedule --imaging-every "8-13 weeks" --next-appointment 2026-09-15 --kind imaging
        """

        from lungtrack.core.timing import effective_schedule
        from lungtrack.reminders.schedule import Interval, combine
        from lungtrack.services import evaluate_patient
        from lungtrack.settings import load_rules_config
        from lungtrack.store import repo

        ensure_encodable_output()
        config = load_rules_config()
        today = common.today()
        changing = any(v is not None for v in (imaging_every, imaging_due_soon, imaging_overdue, markers_every,
                                               markers_due_soon, markers_overdue, next_appointment)) or reset
        if reset and any(v is not None for v in (imaging_every, imaging_due_soon, imaging_overdue, markers_every,
                                                 markers_due_soon, markers_overdue)):
            raise InputError("--reset", "", "--reset alone, or new intervals, not both")
        when = None
        if next_appointment is not None:
            when = common.parse_date_opt(next_appointment, "--next-appointment", allow_future=True, required=True)
            if when < today:
                raise InputError("--next-appointment", next_appointment, (
                    "today or a later date (to record a past appointment: lungtrack appointment add, then done)"))
        messages: list[str] = []
        with (common.writer(ctx) if changing else common.transaction(ctx, write=False)) as handle:
            w = handle if changing else None
            session = w.session if w is not None else handle[1]
            p = repo.find_patient(session, patient)
            if changing:
                intervals: dict[str, float | None] = {}
                before = effective_schedule(repo.load_history(session, p), config)
                imaging = combine("imaging", imaging_every, imaging_due_soon, imaging_overdue,
                                  Interval(before.imaging_due_soon_weeks, before.imaging_overdue_weeks))
                markers = combine("markers", markers_every, markers_due_soon, markers_overdue,
                                  Interval(before.marker_due_soon_weeks, before.marker_overdue_weeks))
                if reset:
                    intervals.update(imaging_due_soon_weeks=None, imaging_overdue_weeks=None,
                                     marker_due_soon_weeks=None, marker_overdue_weeks=None)
                    messages.append(f"{p.name}: imaging and marker intervals reset to the defaults.")
                for prefix, result, what in (("imaging", imaging, "Imaging"), ("marker", markers, "Markers")):
                    if result is None:
                        continue
                    interval, fields = result
                    if "due_soon" in fields:
                        intervals[f"{prefix}_due_soon_weeks"] = interval.due_soon_weeks
                    if "overdue" in fields:
                        intervals[f"{prefix}_overdue_weeks"] = interval.overdue_weeks
                    messages.append(f"{p.name}: {what.lower()} due soon from {interval.due_soon_weeks:g} weeks, "
                                    f"overdue after {interval.overdue_weeks:g} weeks after the last one.")
                if imaging is not None or markers is not None or reset:
                    w.set_schedule(p, intervals)
                if when is not None:  # the same operation as 'lungtrack appointment add'
                    from lungtrack.records.inputs import AppointmentInput

                    desc = " ".join(description.split()) if description else None
                    res = w.plan_appointment(p, AppointmentInput(date=when, kind=kind.value, description=desc))
                    if res.already:
                        messages.append(f"{p.name}: {_a(kind.value)} appointment on {when.isoformat()} is already "
                                        f"planned (appointment {res.ids[0]}); nothing added.")
                    else:
                        messages.append(f"{p.name}: planned {_a(kind.value)} appointment on {when.isoformat()} "
                                        f"(appointment {res.ids[0]}).")
                session.flush()
            pe = evaluate_patient(session, p, today, config)
            data = _schedule_data(p, pe, config)
        for msg in messages:
            common.err(msg)
        if json_out:
            common.print_json(data)
        elif show or not changing:
            for line in _render_schedule(data):
                common.out(line)

    @app.command("cron")
    def cron(
        ctx: typer.Context,
        time: Annotated[str, typer.Option("--time", help="Time of day to run, HH:MM (24-hour).")] = "07:00",
        with_findings: Annotated[bool, typer.Option(
            "--with-findings/--without-findings",
            help="Include watch/alert findings not yet acknowledged (default: yes).")] = True,
        patient: Annotated[Optional[str], typer.Option(
            "--patient", "-p", help="Only this patient (default: every patient in the store).")] = None,
        ics: Annotated[Optional[Path], typer.Option(
            "--ics", metavar="FILE", help="Also rewrite this calendar file on every run.")] = None,
        json_out: common.JsonOpt = False,
    ) -> None:
        """Print a ready crontab line for 'lungtrack remind' (absolute paths, works in cron's bare environment).

        Add it with: (crontab -l 2>/dev/null; lungtrack cron) | crontab -
        """
        from lungtrack.reminders.crontab import crontab_line, find_executable, parse_time, remind_command
        from lungtrack.settings import thresholds_path
        from lungtrack.store.paths import resolve

        ensure_encodable_output()
        hour, minute = parse_time(time)
        loc = resolve(common.state(ctx).db)
        notes: list[str] = []
        if loc.path is not None:
            store = str(loc.path.absolute())
            if not loc.path.exists():
                notes.append(f"Note: there is no store at {store} yet; the job will fail (exit 1) until there is.")
        else:
            from lungtrack.store.paths import strip_password

            store = strip_password(loc.url)
            if store != loc.url:
                notes.append("Note: the password was left out of the line (crontabs are not secret); "
                             "put it in ~/.pgpass for the cron job.")
        env: dict[str, str] = {}
        if os.environ.get("LUNGTRACK_CONFIG"):
            env["LUNGTRACK_CONFIG"] = str(Path(os.environ["LUNGTRACK_CONFIG"]).expanduser().absolute())
        elif os.environ.get("XDG_CONFIG_HOME") and thresholds_path().exists():
            env["LUNGTRACK_CONFIG"] = str(thresholds_path().absolute())
        ics_path = str(ics.expanduser().absolute()) if ics is not None else None
        cmd = remind_command(find_executable(), store, with_findings=with_findings, patient=patient, ics=ics_path)
        line = crontab_line(cmd, hour, minute, env)
        if json_out:
            common.print_json({"line": line, "minute": minute, "hour": hour, "command": cmd, "environment": env,
                               "notes": [n.removeprefix("Note: ") for n in notes]})
            return
        common.out(line)
        for n in notes:
            common.err(n)
        common.err("Install it: run 'crontab -e' and paste the line above; or append it in one go with "
                   "(crontab -l 2>/dev/null; <the command you just ran>) | crontab -")
        common.err("cron mails the job's output to you only when something is due (exit 3); nothing is mailed "
                   "when nothing is due. Put MAILTO=you@example.org above the line if local mail does not reach "
                   "you. See docs/reminders.md.")

    @export_app.command("ics")
    def export_ics(
        ctx: typer.Context,
        patient: RemindPatientOpt = None,
        all_patients: AllPatientsOpt = False,
        output: Annotated[str, typer.Option("--output", "-o", metavar="FILE",
                                            help="Write to FILE; '-' for standard output.")] = "-",
        json_out: common.ResultJsonOpt = False,
    ) -> None:
        """The follow-up calendar (RFC 5545): an all-day event with an alarm per due or planned follow-up.

        UIDs stay the same from one export to the next, so importing again updates the events.
        """
        today = common.today()
        results = _evaluate(ctx, None if all_patients else patient)
        data = _calendar(results, today, _previous(output))
        from lungtrack.cli.exports import _emit

        events = data.count(b"BEGIN:VEVENT")
        _emit(data, output, "the calendar", ctx, format="ics", events=events, patients=[p.name for p, _pe in results])
        common.log_event(ctx, "export-ics", common.destination(output), [(p.id, p.name) for p, _pe in results])


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
