"""lungtrack completion show|install and lungtrack man."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shell, needle", [("bash", "complete -o default -F _lungtrack_completion lungtrack"),
                                           ("zsh", "#compdef lungtrack"), ("fish", "complete --command lungtrack")])
def test_completion_show_prints_the_script(cli, shell, needle):
    r = cli("completion", "show", shell)
    assert r.code == 0 and needle in r.stdout and "_LUNGTRACK_COMPLETE" in r.stdout


def test_completion_show_takes_the_shell_from_SHELL_or_refuses(cli):
    assert "#compdef lungtrack" in cli("completion", "show", env={"SHELL": "/usr/bin/zsh"}).stdout
    r = cli("completion", "show", env={"SHELL": "/bin/tcsh"})
    assert r.code == 2 and r.stderr.startswith("Error: SHELL") and "bash, zsh or fish" in r.stderr
    r = cli("completion", "show", "powershell")
    assert r.code == 2 and "powershell" in r.stderr


@pytest.mark.parametrize("shell, rel, rc", [
    ("bash", ".local/share/bash-completion/completions/lungtrack", None),
    ("zsh", ".zfunc/_lungtrack", ".zshrc"),
    ("fish", ".config/fish/completions/lungtrack.fish", None),
])
def test_completion_install_writes_the_right_file(cli, shell, rel, rc):
    home = Path(os.environ["HOME"])
    r = cli("completion", "install", shell)  # not a terminal: refused without --yes
    assert r.code == 2 and "--yes" in r.stderr and not (home / rel).exists()
    r = cli("completion", "install", shell, "--yes", "--json")
    assert r.code == 0, r
    assert r.json()["file"] == str(home / rel) and (home / rel).read_text().strip()
    if rc:
        assert r.json()["rc_file"] == str(home / rc)
        cli("completion", "install", shell, "--yes")  # a second time: the rc line is not added twice
        assert (home / rc).read_text().count("fpath+=~/.zfunc") == 1


def test_completion_answers_from_the_program(tmp_path):
    env = dict(os.environ, _LUNGTRACK_COMPLETE="complete_bash", COMP_WORDS="lungtrack pat", COMP_CWORD="1",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-m", "lungtrack"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.split() == ["patient"]


def test_man_page_covers_every_command_and_is_current(cli):
    import typer.main

    from lungtrack.cli import app
    from lungtrack.cli._man import render_man

    r = cli("man")
    assert r.code == 0 and r.stdout.startswith(".TH LUNGTRACK 1")
    root = typer.main.get_command(app)

    def names(group, prefix):
        for n in group.list_commands(None):
            cmd = group.get_command(None, n)
            yield prefix + [n]
            if hasattr(cmd, "list_commands"):
                yield from names(cmd, prefix + [n])

    for path in names(root, []):
        assert ".SS " + " ".join(path).replace("-", "\\-") + "\n" in r.stdout, path
    assert "\\fB\\-\\-date, \\-\\-on DATE\\fR" in r.stdout  # metavars as in --help
    assert (ROOT / "docs" / "lungtrack.1").read_text(encoding="utf-8") == render_man(), \
        "run: python3 scripts/gen_cli_reference.py"


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man(1)")
def test_man_renders_without_warnings(tmp_path):
    page = ROOT / "docs" / "lungtrack.1"
    out = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
    assert out.returncode == 0 and "lungtrack" in out.stdout
    assert "warning" not in out.stderr.lower(), out.stderr[:500]


def test_progress_shows_only_after_its_delay_and_clears_its_line():
    import io
    import time

    from lungtrack.cli.common import Progress

    quick = io.StringIO()
    with Progress("Reading", delay=5.0, stream=quick):
        pass
    assert quick.getvalue() == ""  # fast work: nothing shown
    slow = io.StringIO()
    with Progress("Reading", delay=0.05, stream=slow) as progress:
        time.sleep(0.3)
        progress.step("Printing the PDF")
        time.sleep(0.3)
    text = slow.getvalue()
    assert "Reading..." in text and "Printing the PDF..." in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end


def test_progress_is_silent_off_a_terminal(capsys):
    import time

    from lungtrack.cli.common import Progress

    with Progress("Reading", delay=0.0):
        time.sleep(0.2)
    assert capsys.readouterr().err == ""
