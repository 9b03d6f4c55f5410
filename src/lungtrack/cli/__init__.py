"""The ``lungtrack`` command line.

This root module imports only Typer and the standard library.  The root is a lazy group: a
command module is imported, and its part of the Click tree built, only when one of its commands
(or its help, or completion below it) is asked for; ``lungtrack --help`` and completion of
command names read the static table ``_root.COMMANDS`` (a test checks it against the modules).
Command modules import nothing heavy at module level: ``lungtrack --help``, ``--version`` and
shell completion never import SQLAlchemy or SQLModel (a test checks ``sys.modules``).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from lungtrack import __version__
from lungtrack.cli import _root
from lungtrack.exitcodes import EXIT_CODE_HELP

app = typer.Typer(
    name="lungtrack",
    cls=_root.RootGroup,
    help=(
        "Track CT results, tumour markers and biopsy findings during targeted therapy for lung "
        "cancer, and flag the signs of progression with their evidence and sources. "
        "lungtrack never diagnoses and never advises treatment: it states the facts and what the "
        "literature says they can mean, as topics to discuss with your care team.\n\n" + EXIT_CODE_HELP
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    add_completion=False,  # 'lungtrack completion show|install' instead of --install-completion
)


def _version(value: bool) -> None:
    if value:
        print(f"lungtrack {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option(
        "--db", envvar="LUNGTRACK_DB", show_envvar=True,
        help="The store: a file path or a database URL such as postgresql+psycopg://user@host/lungtrack. "
             "Default: lungtrack.db in the user data directory ($XDG_DATA_HOME/lungtrack when set).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    from lungtrack.cli import common  # not needed by --help, --version or completion

    common.state(ctx).db = db


def _unit(unit: str) -> typer.Typer:
    """The Typer app holding one unit's top-level commands (see ``_root.COMMANDS``); its module is
    imported only here, when one of its commands (or its help or completion) is asked for."""
    part = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    if unit == "patient":
        from lungtrack.cli import patient

        part.add_typer(patient.app, name="patient")
    elif unit == "therapy":
        from lungtrack.cli import therapy

        part.add_typer(therapy.app, name="therapy")
    elif unit == "scan":
        from lungtrack.cli import scan, scan_report

        scan_report.register(scan.app)
        part.add_typer(scan.app, name="scan")
        part.add_typer(scan.lesion_app, name="lesion")
    elif unit == "marker":
        from lungtrack.cli import marker

        part.add_typer(marker.app, name="marker")
    elif unit == "biopsy":
        from lungtrack.cli import biopsy

        part.add_typer(biopsy.app, name="biopsy")
    elif unit == "notes":
        from lungtrack.cli import notes

        part.add_typer(notes.appointment_app, name="appointment")
        part.add_typer(notes.note_app, name="note")
    elif unit == "import":
        from lungtrack.cli import importers

        importers.register(part)
    elif unit == "journal":
        from lungtrack.cli import journal

        journal.register(part)
    elif unit == "timeline":
        from lungtrack.cli import timeline

        timeline.register(part)
    elif unit == "checks":
        from lungtrack.cli import checks

        checks.register(part)
    elif unit == "demo":
        from lungtrack.cli import demo

        demo.register(part)
    elif unit == "db":
        from lungtrack.cli import dbcmd

        part.add_typer(dbcmd.app, name="db")
    elif unit == "reminders":
        from lungtrack.cli import exports, importers, reminders

        reminders.register(part)
        exports.register(reminders.export_app)
        importers.register_export(reminders.export_app)
    elif unit == "reports":
        from lungtrack.cli import reports

        reports.register(part)
    elif unit == "shell":
        from lungtrack.cli import shellcmd

        shellcmd.register(part)
    else:  # pragma: no cover - a name in _root.COMMANDS without its unit here
        raise KeyError(unit)
    return part


def _load_unit(unit: str) -> typer.core.TyperGroup:
    return typer.main.get_group(_unit(unit))


_root.RootGroup.load_unit = staticmethod(_load_unit)


def _completion_classes() -> None:
    """Register Typer's bash/zsh/fish completion classes (Typer does it only with its own
    --install-completion options, which 'lungtrack completion' replaces)."""
    from typer.completion import completion_init

    completion_init()


_completion_classes()


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lungtrack")
