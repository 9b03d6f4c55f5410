"""lungtrack completion show|install, and lungtrack man: what a mature command line ships with.

Light at import (Typer and the standard library): completion runs this program on every TAB.
The completion scripts are Typer's (the same machinery as ``--show-completion``); where they go:

========  ==========================================================  ===========================
shell     file written                                                 also
========  ==========================================================  ===========================
bash      ``$XDG_DATA_HOME/bash-completion/completions/lungtrack``      loaded by bash-completion
zsh       ``~/.zfunc/_lungtrack``                                       a line in ``~/.zshrc``
fish      ``$XDG_CONFIG_HOME/fish/completions/lungtrack.fish``          nothing (fish loads it)
========  ==========================================================  ===========================
"""


import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, YesOpt
from lungtrack.errors import InputError

SHELLS = ("bash", "zsh", "fish")
PROG = "lungtrack"
COMPLETE_VAR = "_LUNGTRACK_COMPLETE"
ZSH_LINE = "fpath+=~/.zfunc; autoload -Uz compinit; compinit"

completion_app = typer.Typer(help="Shell completion for bash, zsh and fish: show the script or install it.",
                             no_args_is_help=True)

ShellArg = Annotated[Optional[str], typer.Argument(
    metavar="SHELL", help="bash, zsh or fish (default: the shell named by $SHELL).")]


def _shell(name: str | None) -> str:
    if name is None:
        name = Path(os.environ.get("SHELL", "")).name or None
        if name not in SHELLS:
            raise InputError("SHELL", name or "", "bash, zsh or fish (it could not be told from $SHELL; name it)")
    name = name.strip().lower()
    if name not in SHELLS:
        raise InputError("SHELL", name, "bash, zsh or fish")
    return name


def completion_script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell) + "\n"


def install_paths(shell: str) -> tuple[Path, Path | None]:
    """(the completion file, the rc file that must load it or None)."""
    home = Path.home()
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    if shell == "bash":
        return data / "bash-completion" / "completions" / PROG, None
    if shell == "zsh":
        return home / ".zfunc" / f"_{PROG}", home / ".zshrc"
    return config / "fish" / "completions" / f"{PROG}.fish", None


def register(app: typer.Typer) -> None:
    app.add_typer(completion_app, name="completion")

    @completion_app.command("show")
    def show(shell: ShellArg = None) -> None:
        """Print the completion script for a shell, to inspect it or to load it yourself.

        Example: eval "$(lungtrack completion show bash)" (for this shell session only).
        """
        common.out(completion_script(_shell(shell)).rstrip("\n"))

    @completion_app.command("install")
    def install(shell: ShellArg = None, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
        """Install completion for a shell in your home directory (asks first on a terminal).

        bash: a file that bash-completion loads when you first press TAB after lungtrack.
        zsh: ~/.zfunc/_lungtrack, and the line that loads ~/.zfunc in ~/.zshrc (added once).
        fish: ~/.config/fish/completions/lungtrack.fish. Open a new shell afterwards.
        """
        name = _shell(shell)
        target, rc = install_paths(name)
        rc_needs_line = rc is not None and (not rc.exists() or ZSH_LINE not in rc.read_text(encoding="utf-8"))
        what = f"{target}" + (f" and add a line to {rc}" if rc_needs_line else "")
        if not yes:
            if not common.stdin_is_tty():
                raise InputError("--yes", "", "--yes", message=(
                    f"Refusing to write {what} without confirmation: not on a terminal. Pass --yes to confirm."))
            if not typer.confirm(f"Install {name} completion: write {what}?", default=True, err=True):
                common.err("Nothing was written.")
                raise typer.Exit(0)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(completion_script(name), encoding="utf-8")
        if rc is not None and rc_needs_line:
            with rc.open("a", encoding="utf-8") as fh:
                fh.write(f"\n# lungtrack completion\n{ZSH_LINE}\n")
        if json_out:
            common.print_json({"shell": name, "file": str(target), "rc_file": str(rc) if rc_needs_line else None})
        note = " bash-completion loads it; without bash-completion, add 'source " + str(target) + "' to ~/.bashrc." \
            if name == "bash" else ""
        common.err(f"Installed {name} completion in {target}" + (f" (and a line in {rc})" if rc_needs_line else "")
                   + f". Open a new shell to use it.{note}")

    @app.command("man")
    def man() -> None:
        """Print the manual page (roff), generated from the commands' own help.

        Read it with: lungtrack man | man -l -   (a copy is installed as lungtrack(1) with the package).
        """
        from lungtrack.cli._man import render_man

        common.out(render_man())
