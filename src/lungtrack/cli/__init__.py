"""The ``lungtrack`` command line.

This root module imports only Typer, the standard library and the command modules, which
themselves import nothing heavy at module level: ``lungtrack --help``, ``--version`` and shell
completion never import SQLAlchemy or SQLModel (a test checks ``sys.modules``).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from lungtrack import __version__
from lungtrack.cli import _root, common
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
    common.state(ctx).db = db


def _register() -> None:
    from lungtrack.cli import (  # noqa: PLC0415 - light modules; see their docstrings
        biopsy, checks, dbcmd, demo, exports, importers, journal, marker, notes, patient, reminders, reports, scan,
        scan_report, shellcmd, therapy, timeline,
    )

    app.add_typer(patient.app, name="patient")
    app.add_typer(therapy.app, name="therapy")
    app.add_typer(scan.app, name="scan")
    scan_report.register(scan.app)
    app.add_typer(scan.lesion_app, name="lesion")
    app.add_typer(marker.app, name="marker")
    app.add_typer(biopsy.app, name="biopsy")
    app.add_typer(notes.appointment_app, name="appointment")
    app.add_typer(notes.note_app, name="note")
    importers.register(app)
    journal.register(app)
    timeline.register(app)
    checks.register(app)
    demo.register(app)
    app.add_typer(dbcmd.app, name="db")
    reminders.register(app)
    exports.register(reminders.export_app)
    importers.register_export(reminders.export_app)
    reports.register(app)
    shellcmd.register(app)


_register()


def _completion_classes() -> None:
    """Register Typer's bash/zsh/fish completion classes (Typer does it only with its own
    --install-completion options, which 'lungtrack completion' replaces)."""
    from typer.completion import completion_init

    completion_init()


_completion_classes()


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lungtrack")
