"""The root command group: one-line errors, exit codes, and no tracebacks for users.

Every command runs through :meth:`RootGroup.main`, which turns every error a user can cause
into exactly one line on stderr and an exit code from :class:`lungtrack.exitcodes.ExitStatus`.
Standard library + Typer/Click only.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
from typing import Any

from typer.core import TyperGroup

from lungtrack.errors import LungtrackError
from lungtrack.exitcodes import ExitStatus


#: The order commands are listed in ``lungtrack --help``: record keeping first, then the rules,
#: reminders and reports, then housekeeping.  Commands not named here follow in their own order.
COMMAND_ORDER = ["patient", "therapy", "scan", "lesion", "marker", "biopsy", "appointment", "note", "import", "undo", "log", "timeline",
                 "check", "response", "ack", "remind", "schedule", "cron", "export", "summary", "trend", "report",
                 "demo", "db", "config", "completion", "man"]


#: The arguments of the running command (for the journal's masked command line).
ARGS: list[str] = []


#: Every top-level command: its unit (the module(s) that define it, loaded together by
#: ``lungtrack.cli._unit``) and its one-line summary as ``lungtrack --help`` lists it - so the root
#: help and completion of command names import no command module.  ``tests/test_help.py`` checks
#: that the names and summaries match the loaded commands exactly.
COMMANDS: dict[str, tuple[str, str]] = {
    "patient": ("patient", "Add, list, show, edit and delete patients."),
    "therapy": ("therapy", "Lines of therapy: start, stop, list, show, edit, delete."),
    "scan": ("scan", "Imaging studies (CT, PET-CT, MRI, X-ray) with lesion measurements."),
    "lesion": ("scan", "Lesion identities that last across scans: list, rename, set site or role, delete."),
    "marker": ("marker", "Tumour-marker results: add, list, show, edit, delete."),
    "biopsy": ("biopsy", "Biopsy findings (tissue or plasma ctDNA): add, list, show, edit, delete."),
    "appointment": ("notes", "Appointments (imaging, marker blood tests, visits, biopsies): add, list, show, edit, "
                             "done, cancel, delete."),
    "note": ("notes", "Free-text notes (symptoms, side effects, questions for the team): add, list, show, edit, "
                      "delete."),
    "import": ("import", "Import records: lab CSV downloads, lungtrack's own JSON export, FHIR R4 (bulk NDJSON or a "
                         "Bundle)."),
    "undo": ("journal", "Revert the last write command (or change ID), deletions and imports included."),
    "log": ("journal", "Show the journal: every write command, newest first (when, who, the command with its values "
                       "masked, and how many rows it added, changed or deleted)."),
    "timeline": ("timeline", "Everything recorded for a patient, in date order."),
    "check": ("checks", "Run the rules and explain every finding with its evidence and source."),
    "response": ("checks", "RECIST 1.1 response per therapy line: sums, % changes, and the response at each scan."),
    "ack": ("checks", "Acknowledge a finding: it stays visible, marked acknowledged, and stops counting as needing "
                      "attention."),
    "remind": ("reminders", "What is due soon, due or overdue: scans, marker tests, appointments (made for cron)."),
    "schedule": ("reminders", "Set a patient's follow-up intervals or plan the next appointment; show the next due "
                              "dates."),
    "cron": ("reminders", "Print a ready crontab line for 'lungtrack remind' (absolute paths, works in cron's bare "
                          "environment)."),
    "export": ("reminders", "Export data for other programs: ics (calendar), json (everything), csv (one table)."),
    "summary": ("reports", "A one-screen summary: therapy and time on it, latest RECIST response, markers, biopsy, "
                           "open findings, what is due, and questions for the next appointment."),
    "trend": ("reports", "Draw one series in the terminal: the tumour's sum of diameters over every line (each with "
                         "its baseline, nadir and PD threshold), one lesion's size, or a marker with its upper limit "
                         "of normal and doubling time."),
    "report": ("reports", "The printable report for the appointment: page 1 at a glance (therapy, latest response, "
                          "findings with evidence, what is due, questions), then charts, then the full tables."),
    "demo": ("demo", "Load a realistic demo patient and print her status."),
    "db": ("db", "The store: its path, schema version and backups."),
    "config": ("checks", "Rule thresholds: where the file is, and the values in force."),
    "completion": ("shell", "Shell completion for bash, zsh and fish: show the script or install it."),
    "man": ("shell", "Print the manual page (roff), generated from the commands' own help."),
}


class RootGroup(TyperGroup):
    """The root: commands are loaded unit by unit on first use (see ``COMMANDS``), and each loaded
    command gets the root's guards (argument checks, plain text conversion, help polish)."""

    #: unit name -> Click group holding that unit's commands (set by ``lungtrack.cli``)
    load_unit: Any = None

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        from lungtrack.cli._help import polish

        polish(self)
        self._loaded_units: set[str] = set()

    def _load(self, unit: str) -> None:
        if unit in self._loaded_units:
            return
        self._loaded_units.add(unit)
        from lungtrack.cli._help import polish

        part = type(self).load_unit(unit)
        polish(part)
        _plain_text_params(part, self.context_settings.get("help_option_names", ["--help"]))
        _guard_tree(part)
        for name, cmd in part.commands.items():
            self.commands.setdefault(name, cmd)

    def load_all(self) -> None:
        """Load every command (for tools that walk the whole tree)."""
        for unit, _summary in COMMANDS.values():
            self._load(unit)

    def get_command(self, ctx, cmd_name):  # type: ignore[override]
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self._load(COMMANDS[cmd_name][0])
        return self.commands.get(cmd_name)

    def list_commands(self, ctx):  # type: ignore[override]
        names = list(dict.fromkeys([*COMMANDS, *self.commands]))
        rank = {n: i for i, n in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))

    def _summary(self, name: str) -> tuple[bool, str]:
        """(hidden, one-line summary) of a command, from the table while it is not loaded."""
        cmd = self.commands.get(name)
        if cmd is None:
            return False, COMMANDS[name][1]
        return cmd.hidden, cmd.get_short_help_str()

    def format_commands(self, ctx, formatter):  # type: ignore[override]
        rows = []
        for name in self.list_commands(ctx):
            hidden, summary = self._summary(name)
            if not hidden:
                rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def shell_complete(self, ctx, incomplete):  # type: ignore[override]
        from typer.core import CompletionItem

        results = []
        for name in self.list_commands(ctx):
            hidden, summary = self._summary(name)
            if name.startswith(incomplete) and not hidden:
                results.append(CompletionItem(name, help=summary))
        results.extend(super(TyperGroup, self).shell_complete(ctx, incomplete))
        return results

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        code: int
        ARGS[:] = list(sys.argv[1:] if args is None else args)
        _plain_text_params(self, self.context_settings.get("help_option_names", ["--help"]))
        _guard_tree(self)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else ExitStatus.OK
            if code == ExitStatus.INTERRUPTED:  # Typer turns Ctrl-C into Exit(130)
                _say("Interrupted; nothing was saved.")
        except LungtrackError as exc:
            _say(f"Error: {exc.message}")
            for line in getattr(exc, "detail_lines", ()):  # e.g. every bad row of a refused import
                print(line, file=sys.stderr)
            code = exc.exit_code
        except UnicodeDecodeError as exc:  # stdin or a file that is not UTF-8 (the readers name the field first)
            _say(f"Error: the input is not valid UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                 "expected UTF-8 text. Nothing was saved.")
            code = ExitStatus.USAGE
        except UnicodeEncodeError:  # text with undecodable bytes (surrogate escapes) that slipped past the guard
            _say("Error: the input holds bytes that are not valid UTF-8; expected UTF-8 text. Nothing was saved.")
            code = ExitStatus.USAGE
        except KeyboardInterrupt:
            _say("Interrupted; nothing was saved.")
            code = ExitStatus.INTERRUPTED
        except Exception as exc:
            # Click's exceptions are matched by name: Typer may vendor its own copy of Click.
            kind = _click_kind(exc)
            if kind == "NoArgsIsHelpError":
                print(exc.ctx.get_help())  # type: ignore[attr-defined]
                code = ExitStatus.OK
            elif kind == "Exit":
                code = getattr(exc, "exit_code", 0)
            elif kind == "UsageError":
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                _say(f"Error: {exc.format_message()}{hint}")  # type: ignore[attr-defined]
                code = ExitStatus.USAGE
            elif kind == "ClickException":
                _say(f"Error: {exc.format_message()}")  # type: ignore[attr-defined]
                code = getattr(exc, "exit_code", ExitStatus.ERROR)
            elif kind == "Abort":
                _say("Interrupted; nothing was saved.")
                code = ExitStatus.INTERRUPTED
            elif isinstance(exc, BrokenPipeError):  # pragma: no cover - e.g. `lungtrack timeline | head`
                code = ExitStatus.OK
            elif os.environ.get("LUNGTRACK_DEBUG"):
                import traceback

                from lungtrack.store.paths import redact

                print(redact(traceback.format_exc()), file=sys.stderr, end="")  # passwords masked here too
                code = ExitStatus.ERROR
            elif (mapped := _database_error(exc)) is not None:
                # SQL text and parameters never reach the user: only what the failure means
                _say(f"Error: {mapped}")
                code = ExitStatus.ERROR
            elif isinstance(exc, OverflowError):
                _say("Error: a number is too large; expected a number within the store's range "
                     f"(up to {INT64_MAX}). Nothing was saved.")
                code = ExitStatus.USAGE
            elif isinstance(exc, OSError) and exc.filename is not None:
                # a path the person gave that the system cannot use (name too long, no permission, ...)
                from lungtrack.errors import shown_value

                _say(f"Error: {shown_value(str(exc.filename))}: {exc.strerror or exc.__class__.__name__}; "
                     "expected a usable file path. Nothing was saved.")
                code = ExitStatus.USAGE
            else:  # a bug: still one line
                _say(f"Error: internal error ({exc.__class__.__name__}: {exc}); nothing was saved. "
                     "Set LUNGTRACK_DEBUG=1 for a traceback.")
                code = ExitStatus.ERROR
        if standalone_mode:
            sys.exit(int(code))
        return int(code)


def _plain_text_params(command, help_names: list[str], _seen: set[int] | None = None) -> None:
    """Give every option and argument a conversion that does not import pydantic.

    Typer 0.2x converts each parameter value through a pydantic ``TypeAdapter``, and builds it
    the first time the parameter is processed - even for ``--db`` on ``lungtrack check --help``,
    which then imports pydantic (about 80 ms) for a help screen or a one-patient check.  Text,
    flags, numbers, choices, paths and lists of them get :mod:`lungtrack.cli._params`'s
    conversions (same values, same messages); other types keep Typer's.  Guarded: with a Typer
    that works differently nothing is changed.
    """
    try:
        from lungtrack.cli._params import runtime_param
    except ImportError:  # pragma: no cover - another Typer
        return
    seen = _seen if _seen is not None else set()
    if id(command) in seen:
        return
    seen.add(id(command))
    params = list(getattr(command, "params", ()))
    get_help = getattr(command, "get_help_option", None)
    if get_help is not None:  # made on first use, and cached by the command: make it now
        from types import SimpleNamespace

        help_option = get_help(SimpleNamespace(help_option_names=help_names))
        if help_option is not None:
            params.append(help_option)
    for param in params:
        desc = getattr(param, "type_descriptor", None)
        if desc is None or getattr(param, "_runtime_param", 1) is not None:
            continue
        try:
            fast = runtime_param(desc)
        except TypeError:  # pragma: no cover - another Typer
            return
        if fast is not None:
            param._runtime_param = fast
    for sub in getattr(command, "commands", {}).values():
        _plain_text_params(sub, help_names, seen)


def _click_kind(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in ("NoArgsIsHelpError", "UsageError", "ClickException", "Abort"):
            return cls.__name__
        if cls.__name__ == "Exit":
            return "Exit"
    return None


#: The largest id (and whole number) SQLite and PostgreSQL can store (64-bit signed integer).
INT64_MAX = 2**63 - 1
#: An error line never echoes more than this many characters of any single value.
MAX_TOKEN = 240
MAX_LINE = 1200


def _say(message: str) -> None:
    """One line on stderr (passwords masked, long values cut); on a terminal it is wrapped to the
    terminal's width (still one message)."""
    from lungtrack.store.paths import redact

    message = one_line(redact(message))
    try:
        tty = sys.stderr.isatty()
    except (ValueError, AttributeError):
        tty = False
    if tty:
        import shutil
        import textwrap

        width = max(20, shutil.get_terminal_size(fallback=(80, 24)).columns)
        message = "\n".join(textwrap.wrap(message, width, subsequent_indent="  ", break_long_words=False,
                                           break_on_hyphens=False)) or message
    print(message, file=sys.stderr)


def one_line(message: str) -> str:
    """One readable line: whitespace collapsed, long values cut with "…", the whole line bounded."""
    message = " ".join(message.split())
    message = re.sub(r"\S{%d,}" % (MAX_TOKEN + 1), lambda m: m.group(0)[:MAX_TOKEN - 20] + "…" + m.group(0)[-12:], message)
    if len(message) > MAX_LINE:
        message = message[:MAX_LINE - 1] + "…"
    return message


def _database_error(exc: BaseException) -> str | None:
    """What a database driver error means, in words, without its SQL text or parameters."""
    import sqlite3

    mod = type(exc).__module__ or ""
    if not (mod.startswith(("sqlalchemy", "psycopg", "alembic")) or isinstance(exc, sqlite3.Error)):
        return None
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).split("\n", 1)[0].lower()
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the store is read-only: it can be read, but nothing can be saved to it. Nothing was saved."
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return ("the store is damaged (SQLite reports a malformed database); nothing was saved. "
                "Run 'lungtrack db check' and restore the newest backup with 'lungtrack db restore FILE'.")
    if "locked" in text or "busy" in text:
        return "the store is busy (another lungtrack is writing to it); nothing was saved. Try again."
    if "disk is full" in text or "no space" in text or "disk i/o" in text:
        return "the store cannot be written (the disk is full or failing); nothing was saved."
    if "unable to open" in text or "connection" in text or "could not connect" in text:
        return "the store cannot be opened (check --db / LUNGTRACK_DB and that its folder exists); nothing was saved."
    name = type(orig).__name__
    return f"the store refused the change ({name}); nothing was saved."


# ------------------------------------------------------------------ argument guard

def _guard_tree(group: Any) -> None:
    """Wrap every command callback once so that every decoded argument is checked before it is used:
    undecodable bytes (surrogate escapes from the OS), NUL characters, whole numbers beyond the
    store's 64-bit range and non-finite numbers are usage errors naming the option."""
    if getattr(group, "_lungtrack_guarded", False):
        return
    seen: set[int] = set()

    def walk(cmd: Any) -> None:
        if id(cmd) in seen:
            return
        seen.add(id(cmd))
        if cmd.callback is not None and not getattr(cmd.callback, "_lungtrack_guard", False):
            cmd.callback = _guarded(cmd.callback, cmd)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(group)
    group._lungtrack_guarded = True


def _guarded(callback: Any, cmd: Any) -> Any:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            check_value(_field_name(cmd, name), value)
        return callback(*args, **kwargs)

    run._lungtrack_guard = True  # type: ignore[attr-defined]
    return run


def _field_name(cmd: Any, name: str) -> str:
    for param in cmd.params:
        if param.name == name:
            opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(getattr(param, "opts", []))
            if getattr(param, "param_type_name", "") == "argument" or not opts:
                return name.upper()
            return opts[0]
    return name


def check_value(field: str, value: Any) -> None:
    """Refuse a decoded argument that cannot be stored (see :func:`_guard_tree`)."""
    from lungtrack.errors import InputError

    if isinstance(value, str):
        bad = next((c for c in value if "\ud800" <= c <= "\udfff"), None)
        if bad is not None:
            try:
                raw = value.encode("utf-8", "surrogateescape")  # the bytes the OS handed over
            except UnicodeEncodeError:
                raw = value.encode("utf-8", "surrogatepass")
            shown = raw.decode("utf-8", "backslashreplace")
            shown = shown if len(shown) <= 60 else shown[:48] + "…" + shown[-8:]
            raise InputError(field, shown, "UTF-8 text", message=(
                f"{field}: '{shown}' is not valid; expected UTF-8 text (the value holds bytes that are not UTF-8)."))
        if "\x00" in value:
            raise InputError(field, value.replace("\x00", "\\0"), "text without NUL characters")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise InputError(field, value, f"a whole number up to {INT64_MAX}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(field, value, "a finite number")
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_value(field, item)
    elif isinstance(value, os.PathLike):
        check_value(field, os.fspath(value))
