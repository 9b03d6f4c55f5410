"""The root command group: one-line errors, exit codes, and no tracebacks for users.

Every command runs through :meth:`RootGroup.main`, which turns every error a user can cause
into exactly one line on stderr and an exit code from :class:`lungtrack.exitcodes.ExitStatus`.
Standard library + Typer/Click only.
"""

from __future__ import annotations

import os
import sys

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


class RootGroup(TyperGroup):
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        from lungtrack.cli._help import polish

        polish(self)

    def list_commands(self, ctx):  # type: ignore[override]
        names = super().list_commands(ctx)
        rank = {n: i for i, n in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        code: int
        ARGS[:] = list(sys.argv[1:] if args is None else args)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else ExitStatus.OK
            if code == ExitStatus.INTERRUPTED:  # Typer turns Ctrl-C into Exit(130)
                _say("Interrupted; nothing was saved.")
        except LungtrackError as exc:
            _say(f"Error: {exc.message}")
            code = exc.exit_code
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
                raise
            else:  # a bug: still one line
                _say(f"Error: internal error ({exc.__class__.__name__}: {exc}); nothing was saved. "
                     "Set LUNGTRACK_DEBUG=1 for a traceback.")
                code = ExitStatus.ERROR
        if standalone_mode:
            sys.exit(int(code))
        return int(code)


def _click_kind(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in ("NoArgsIsHelpError", "UsageError", "ClickException", "Abort"):
            return cls.__name__
        if cls.__name__ == "Exit":
            return "Exit"
    return None


def _say(message: str) -> None:
    """One line on stderr; on a terminal it is wrapped to the terminal's width (still one message)."""
    message = " ".join(message.split())
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
