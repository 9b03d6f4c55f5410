"""Shared pieces of the command modules.  Light at import: Typer, the standard library and
the light ``lungtrack`` modules only; Rich and the store are imported when a command runs."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Optional, Sequence

import typer

from lungtrack.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from lungtrack.store.db import Store


@dataclass
class AppState:
    db: str | None = None
    json_result: bool = False  # --json on a command that reports a result (delete, export, ack...)


def complete_patient(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of patient names: a plain read-only sqlite3 query, never SQLAlchemy
    (completion runs the program on every TAB).  Server stores are not queried."""
    import sqlite3

    from lungtrack.store.paths import resolve

    try:
        root = ctx.find_root()
        location = resolve(root.params.get("db") if root.params else None)
        if location.path is None or not location.path.exists():
            return []
        con = sqlite3.connect(f"file:{location.path}?mode=ro", uri=True, timeout=1)
        try:
            names = [row[0] for row in con.execute("SELECT name FROM patient ORDER BY name")]
        finally:
            con.close()
    except (sqlite3.Error, OSError):
        return []
    return [n for n in names if n.casefold().startswith(incomplete.casefold())]


PatientOpt = Annotated[
    Optional[str],
    typer.Option("--patient", "-p", envvar="LUNGTRACK_PATIENT", show_envvar=True, autocompletion=complete_patient,
                 help="Patient name (default: the store's default patient)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (stable: numbers as numbers, ISO dates, units as fields).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (needed when not on a terminal).")]


def _json_result(ctx: typer.Context, value: bool) -> bool:
    if value:
        state(ctx).json_result = True
    return value


#: ``--json`` for a command that does something and reports it (delete, export, backup, ack...):
#: the result as one JSON object on stdout; the sentence for the person stays on stderr.
ResultJsonOpt = Annotated[bool, typer.Option("--json", callback=_json_result,
                                             help="Print the result as JSON on stdout (stable: ISO dates, ids as numbers).")]


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def today() -> date:
    """Today's date; ``LUNGTRACK_TODAY`` (ISO date) overrides it for demos and tests."""
    fixed = os.environ.get("LUNGTRACK_TODAY")
    if fixed:
        try:
            return date.fromisoformat(fixed)
        except ValueError:
            raise InputError("LUNGTRACK_TODAY", fixed, "an ISO date YYYY-MM-DD") from None
    return date.today()


def open_store(ctx: typer.Context, *, create: bool = False, demo: bool = False) -> Store:
    """Open the store named by --db / LUNGTRACK_DB / the default location."""
    os.umask(0o077)  # everything lungtrack writes (store, backups, reports) is private
    from lungtrack.store.db import open_store as _open
    from lungtrack.store.paths import resolve

    store = _open(resolve(state(ctx).db, demo=demo), create=create)
    if store.backup_made is not None:
        err(f"Upgraded the store's schema; a backup copy was saved first: {store.backup_made}")
    return store


@contextmanager
def transaction(ctx: typer.Context, *, write: bool = True, create: bool = False) -> Iterator[tuple[Store, Any]]:
    """Open the store and run the block as one transaction."""
    store = open_store(ctx, create=create)
    try:
        with store.transaction(write=write) as session:
            yield store, session
    finally:
        store.close()


@contextmanager
def reading(ctx: typer.Context) -> Iterator[Any]:
    """Open the store for one read-only transaction on a Core connection (``lungtrack.store.read``
    queries it): the read-only commands never build the ORM classes."""
    store = open_store(ctx)
    try:
        with store.read() as conn:
            yield conn
    finally:
        store.close()


def command_line(ctx: typer.Context) -> str:
    """This command's line for the journal, every value masked (see records.journal.mask_command)."""
    from lungtrack.cli._root import ARGS
    from lungtrack.records.journal import mask_command

    args = list(ARGS)
    positions: set[int] = set()
    start = 0
    for word in ctx.command_path.split()[1:]:  # the group and command names stay readable
        if word in args[start:]:
            start = args.index(word, start)
            positions.add(start)
            start += 1
    return mask_command(args, keep=positions)


@contextmanager
def writer(ctx: typer.Context, *, create: bool = False, kind: str = "edit") -> Iterator[Any]:
    """Open the store and a :class:`lungtrack.records.writer.Writer`: one transaction, one journal change."""
    from lungtrack.records.writer import writer as _writer

    store = open_store(ctx, create=create)
    try:
        with _writer(store, command=command_line(ctx), kind=kind, today=today()) as w:
            yield w
    finally:
        store.close()


def write(ctx: typer.Context, op: Callable[[Any, bool], Any], *, force: bool = False, create: bool = False,
          kind: str = "edit", fields: dict[str, str] | None = None) -> tuple[Any, int | None]:
    """Run ``op(writer, force)`` in one write transaction.  When the entry looks like a slip
    ("did you mean ...?"), ask on a terminal and run it again with ``force`` if the person
    confirms; off a terminal the error stands (``--force`` overrides).  Returns (result, change id).

    ``fields`` names the command's options for the writer's fields (``{"uln": "--uln"}``): the
    reason stays the writer's own, so the CLI and an importer refusing a record say the same."""
    from lungtrack.errors import RecordsRefused

    try:
        return _write(ctx, op, force=force, create=create, kind=kind)
    except RecordsRefused as exc:
        problem = exc.problems[0]
        option = (fields or {}).get(problem.field)
        if len(exc.problems) == 1 and option and problem.message.startswith(f"{problem.field}:"):
            raise InputError(option, "", "", message=option + problem.message[len(problem.field):]) from None
        raise


def _write(ctx: typer.Context, op: Callable[[Any, bool], Any], *, force: bool, create: bool,
           kind: str) -> tuple[Any, int | None]:
    from lungtrack.records.writer import NeedsConfirmation

    fixes: dict[str, str] = {}
    for _attempt in range(20):
        try:
            with writer(ctx, create=create, kind=kind) as w:
                w.label_fixes.update(fixes)
                result = op(w, force)
            return result, w.change_id
        except NeedsConfirmation as exc:
            if force or not stdin_is_tty():
                raise
            if exc.suggestion is None:
                err(exc.message.replace(" Nothing was saved.", "").split(" If the ")[0])
            if not typer.confirm(exc.question, default=exc.suggestion is not None, err=True):
                err("Nothing was saved.")
                raise typer.Exit(0) from None
            if exc.suggestion is not None:
                fixes[str(exc.value)] = exc.suggestion
            else:
                force = True
    raise InputError("--force", "", "fewer questions")  # pragma: no cover - a loop guard


# ------------------------------------------------------------------ output

def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, AttributeError):
        return False


def read_stdin_text(field: str) -> str:
    """All of standard input as text: UTF-8 (a byte-order mark is dropped), no NUL characters;
    anything else is an ``InputError`` naming ``field``."""
    stream = sys.stdin
    if stream is None:
        return ""
    raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    if isinstance(raw, str):  # a text-only stream (tests): undecodable input arrives as surrogates
        raw = raw.encode("utf-8", "surrogateescape")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(field, "-", "UTF-8 text", message=(
            f"{field}: standard input is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "expected UTF-8 text. Nothing was saved.")) from None
    if "\x00" in text:
        raise InputError(field, "-", "text without NUL characters", message=(
            f"{field}: standard input holds a NUL character; expected text without NUL characters. "
            "Nothing was saved."))
    return text


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (ValueError, AttributeError):
        return False


def use_colour() -> bool:
    """Colour only on a terminal, never with NO_COLOR (any value) or TERM=dumb."""
    return stdout_is_tty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def term_width() -> int:
    """The terminal's width (``COLUMNS`` wins, as everywhere); 80 when it cannot be known."""
    import shutil

    return max(20, shutil.get_terminal_size(fallback=(80, 24)).columns)


def err(message: str) -> None:
    """A message for the person (stderr); wrapped to the terminal's width when stderr is one."""
    if message and stderr_is_tty():
        from lungtrack.report.layout import wrap_block

        message = "\n".join(wrap_block(message, term_width()))
    print(message, file=sys.stderr)


def out(text: str = "") -> None:
    """A line for stdout; on a terminal it is wrapped to the terminal's width, continuation lines
    indented under the text after a ``label:`` (``patient show``, ``response``...)."""
    if stdout_is_tty():
        from lungtrack.report.layout import wrap_block

        for line in wrap_block(text, term_width()):
            print(line)
        return
    print(text)


def console(stderr: bool = False):
    """A Rich console: colour only on a TTY, never with NO_COLOR (Rich honours it)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def _json_leaf(value: Any) -> Any:
    """What :func:`to_jsonable` makes of a value ``json`` cannot write itself (dates, enums)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_line(data: Any, *, finite: bool = False) -> str:
    """``data`` as one compact JSON Lines record: the text ``json.dumps(to_jsonable(data))``
    gives, without first copying the whole structure (``json`` calls :func:`_json_leaf` only for
    the values it cannot write: a clinic's ``check --all-patients`` writes one per patient).

    ``finite``: every float in ``data`` is finite (data made by ``serialize.to_data``); the
    same text is then written by orjson where it can (:mod:`lungtrack.jsonwrite`)."""
    if finite:
        global _FAST_ENCODE
        if _FAST_ENCODE is None:
            from lungtrack.jsonwrite import encoder

            _FAST_ENCODE = encoder(_json_leaf)
        return _FAST_ENCODE(data) + "\n"
    return _LINE_ENCODER.encode(data) + "\n"


#: The encoder of :func:`json_line` (what ``json.dumps`` would build anew for every record).
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_leaf)
#: The encoder of ``json_line(data, finite=True)``, made on first use (it imports orjson).
_FAST_ENCODE: Any = None


def print_json_line(data: Any) -> None:
    """One JSON Lines record (compact, one line), flushed so a reader sees it at once."""
    sys.stdout.write(json_line(data))
    sys.stdout.flush()


class PatientProgress:
    """A progress bar on stderr for long all-patient runs: shown only when stderr is a terminal
    and the run has lasted over a second; silent under cron and when stderr is piped.

    Use as a context manager; call :meth:`advance` with the number of patients done."""

    def __init__(self, total: int | None, label: str, *, delay: float = 1.0, show: bool = True) -> None:
        import time

        self.total, self.label, self.delay = total, label, delay
        self.enabled = show and progress_wanted()
        self._clock = time.monotonic
        self._start = self._clock()
        self._done = 0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> PatientProgress:
        return self

    def advance(self, n: int) -> None:
        self._done += n
        if not self.enabled:
            return
        if self._bar is None:
            if self._clock() - self._start < self.delay:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            # stdout on the same terminal: Rich prints our lines above the bar; stdout in a file: untouched
            self._bar = RichProgress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                     console=Console(stderr=True, force_terminal=True), transient=True,
                                     redirect_stdout=stdout_is_tty(), redirect_stderr=False)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, completed=self._done)
            return
        self._bar.update(self._task, completed=self._done)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def progress_wanted() -> bool:
    """Progress bars only for a person at a terminal: stderr is a terminal (so never under cron),
    ``TERM`` is not ``dumb``, and stdout is not a pipe (``lungtrack check --all-patients | less``
    must not have a bar drawn over it; a file or the terminal itself is fine)."""
    import stat

    try:
        if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
            return False
        return not stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (ValueError, AttributeError, OSError):
        return False


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None,
                right: Sequence[int] = ()) -> None:
    """A table that fits the terminal; plain tab-separated lines with a header otherwise.

    On a terminal (see :func:`lungtrack.report.layout.fit_table`): columns empty in every row are
    left out, multi-word columns wrap at word boundaries, and when that is not enough the table
    stacks (leading columns as a table, the rest as ``name: value`` lines); no value is ever cut.
    """
    if stdout_is_tty():
        from lungtrack.report.layout import fit_table

        lines = fit_table(columns, [[fmt(v) for v in r] for r in rows], term_width(), right=right)
        if title:
            print(title)
        bold = use_colour()
        header_rows = next((i for i, line in enumerate(lines) if line.startswith("─")), 0)
        for i, line in enumerate(lines):
            print(f"\x1b[1m{line}\x1b[0m" if bold and i < header_rows else line)
    else:
        print("\t".join(columns))
        for r in rows:
            print("\t".join(fmt(v).replace("\t", " ").replace("\n", " ") for v in r))


class Progress:
    """Progress for slow work, on stderr, only on a terminal, and only once it has taken more than
    ``delay`` seconds (a fast run shows nothing); the line is cleared when the work ends.

    ``with Progress("Reading the records") as progress: ...; progress.step("Drawing the charts")``
    """

    FRAMES = "|/-\\"

    def __init__(self, first: str, delay: float = 1.0, stream: Any = None) -> None:
        import threading

        self.stream = stream or sys.stderr
        self.enabled = stream is not None or stderr_is_tty()
        self.text = first
        self.delay = delay
        self.shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Progress":
        import time

        self.started = time.monotonic()
        if self.enabled:
            self._thread.start()
        return self

    def step(self, text: str) -> None:
        self.text = text

    def _run(self) -> None:
        import time

        frame = 0
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            elapsed = time.monotonic() - self.started
            self.stream.write(f"\r\x1b[K{self.FRAMES[frame % 4]} {self.text}... {elapsed:.0f} s")
            self.stream.flush()
            self.shown = True
            frame += 1
            self._stop.wait(0.2)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join(timeout=1)
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def confirm_or_refuse(question: str, yes: bool, verb: str = "delete") -> None:
    """Ask on a TTY; without a TTY, refuse unless ``--yes`` was given."""
    if yes:
        return
    if not stdin_is_tty():
        raise InputError("--yes", "", "--yes", message=(
            f"Refusing to {verb} without confirmation: not on a terminal. Pass --yes to confirm."))
    if not typer.confirm(question, default=False, err=True):
        err("Nothing was deleted." if verb == "delete" else "Nothing was changed.")
        raise typer.Exit(0)


def parse_date_opt(text: str | None, field: str, *, allow_future: bool = False, required: bool = False) -> date | None:
    from lungtrack.parsing.dates import parse_date

    if text is None:
        if required:
            raise InputError(field, "", "a date such as 2026-03-04, today, yesterday or '3 weeks ago'")
        return None
    from lungtrack.settings import date_order

    return parse_date(text, today=today(), field=field, allow_future=allow_future, order=date_order())


def parse_since_opt(text: str | None, field: str = "--since") -> date | None:
    """A look-back start (``6m`` or a date), read with the ``locale_order`` setting."""
    if text is None:
        return None
    from lungtrack.parsing.dates import parse_since
    from lungtrack.settings import date_order

    return parse_since(text, today=today(), field=field, order=date_order())


def date_label(d: date) -> str:
    from lungtrack.parsing.dates import format_date

    return format_date(d)


def report_result(ctx: typer.Context, data: dict, message: str | None = None) -> None:
    """What a command did: ``data`` as JSON on stdout when ``--json`` was given, ``message`` on stderr."""
    if state(ctx).json_result:
        print_json(data)
    if message:
        err(message)


def delete_flow(ctx: typer.Context, kind: str, record_ids: Sequence[int], patient: str | None, yes: bool,
                json_out: bool, describe: Callable[[Any], str]) -> None:
    """Show what will be deleted, ask (or require --yes), then delete every record in one
    transaction (an unknown id deletes nothing).  ``lungtrack undo`` brings them back."""
    from lungtrack.records.writer import KINDS
    from lungtrack.store import models as m
    from lungtrack.store import repo

    if not record_ids:
        raise InputError("ID", "", "at least one record id")
    with transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        labels = []
        for rid in dict.fromkeys(record_ids):
            labels.append(describe(repo.get_record(session, getattr(m, KINDS[kind]), rid, p)))
    what = labels[0] if len(labels) == 1 else f"{len(labels)} records: " + "; ".join(labels)
    confirm_or_refuse(f"Delete {what}?", yes)
    with writer(ctx, kind="delete") as w:
        res = w.delete(kind, record_ids, w.patient(patient))
    counts = res.extra["counts"]
    extra = sum(counts.values()) - len(res.ids)
    if json_out:
        state(ctx).json_result = True
    report_result(ctx, {"deleted": KINDS[kind], "id": res.ids[0], "ids": list(res.ids), "description": what,
                        "records": counts, "dependent_records": extra, "change_id": w.change_id},
                  f"Deleted {what}" + (f" and {extra} dependent record(s)" if extra else "")
                  + f". To bring {'it' if len(labels) == 1 else 'them'} back: lungtrack undo")


def show_flow(ctx: typer.Context, model_name: str, record_id: int, patient: str | None, json_out: bool,
              to_dict: Callable[[Any], dict]) -> dict | None:
    """Load one record of the patient as a dict; print it as JSON and return None when ``--json``."""
    from lungtrack.store import models as m
    from lungtrack.store import repo

    with transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        data = to_dict(repo.get_record(session, getattr(m, model_name), record_id, p))
    if json_out:
        print_json(data)
        return None
    return data


def print_fields(pairs: Sequence[tuple[str, Any]], width: int = 16) -> None:
    """``label: value`` lines for the fields that have a value (wrapped under the value on a terminal)."""
    for label, value in pairs:
        if value is not None and value != "":
            out(f"{label + ':':<{width}}{fmt(value)}")


_SEVERITY_STYLES = {"ALERT": "1;31", "WATCH": "1;33", "INFO": "36", "DUE": "1", "OVERDUE": "1;31"}


def print_report_lines(lines: Sequence[str]) -> None:
    """Plain lines; on a terminal wrapped to its width with a hanging indent (with or without
    NO_COLOR), and with colour the leading severity word is coloured too (the word stays)."""
    if not stdout_is_tty():
        # one write for the whole block: with PYTHONUNBUFFERED (or a pipe flushed per line) each
        # print was a system call of its own, and check --all-patients prints 20-40 lines a patient
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        return
    from lungtrack.report.layout import wrap_block

    colour = use_colour()
    width = term_width()
    for line in lines:
        word = line.split(" ", 1)[0]
        wrapped = wrap_block(line, width)
        if colour and word in _SEVERITY_STYLES and wrapped and wrapped[0].startswith(word):
            wrapped[0] = f"\x1b[{_SEVERITY_STYLES[word]}m{word}\x1b[0m" + wrapped[0][len(word):]
        for w in wrapped:
            print(w)


def write_private_file(path: Any, data: Any, field: str = "--output") -> Any:
    """Write ``data`` (bytes, or an iterable of bytes written as they come) to ``path``
    atomically with mode 0600 (every file lungtrack writes holds health data).

    A failed write leaves no partial file; a bad path is an ``InputError`` naming ``field``.
    """
    import tempfile
    from pathlib import Path

    from lungtrack.errors import StoreError

    path = Path(path).expanduser()
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # e.g. a name longer than the file system allows (ENAMETOOLONG)
        raise InputError(field, str(path), f"a file path the system accepts ({exc.strerror})") from None
    if is_dir:
        raise InputError(field, str(path), "a file path, not a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(field, str(path), f"a file in an existing directory ({directory} does not exist)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise StoreError(f"{field}: cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in ([data] if isinstance(data, (bytes, bytearray)) else data):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)  # replaces a symlink at ``path`` instead of following it
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise StoreError(f"{field}: cannot write {path}: {exc.strerror}") from None
        raise
    return path


def log_event(ctx: typer.Context, action: str, detail: str, patients: Sequence[tuple[int | None, str]] = ()) -> None:
    """Record in the store's event log that data left it (export, report, backup) or was destroyed.

    ``lungtrack db log`` shows the entries.  Written in its own short transaction after the
    export succeeded, so a failed export leaves no entry.
    """
    from lungtrack.errors import StoreError

    try:
        with writer(ctx, kind="event") as w:
            w.log_event(action, detail, patients)
    except StoreError as exc:
        if "read-only" not in exc.message:
            raise
        err("Note: the store is read-only, so this was not recorded in its event log ('lungtrack db log').")


def destination(output: str | None) -> str:
    """Where an export went, for the event log."""
    if output in (None, "-"):
        return "standard output"
    from pathlib import Path

    return str(Path(output).expanduser().absolute())
