"""The 80-column rule: every command's terminal output fits the terminal, and no value is cut.

Each read and report command runs on the demo patient as if on a terminal (stdout reported as a
TTY, ``COLUMNS`` set) at 60, 80 and 120 columns; the test fails on any line longer than the
width and on any value cut short with "…".  The check and summary screens also run in a real
pseudo-terminal (the ``pty`` module), with and without NO_COLOR.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

from lungtrack.report.layout import fit_table, wrap, wrap_block

READ_COMMANDS = [
    ["patient", "list"], ["patient", "show"], ["therapy", "list"], ["therapy", "show", "1"],
    ["scan", "list"], ["scan", "show", "4"], ["lesion", "list"], ["marker", "list"], ["marker", "show", "1"],
    ["biopsy", "list"], ["biopsy", "show", "2"], ["appointment", "list"], ["appointment", "show", "1"],
    ["note", "list"], ["note", "show", "1"], ["timeline"], ["check"], ["response"], ["remind"],
    ["remind", "--with-findings"], ["schedule"], ["cron"], ["summary"], ["trend", "tumor"], ["trend", "cea"],
    ["report", "--format", "txt"], ["report", "--format", "md"], ["report", "--format", "txt", "--since", "6m"],
    ["db", "info"], ["db", "log"], ["db", "path"], ["config", "show"], ["config", "path"],
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ELLIPSIS_IN_VALUE = re.compile(r"\w…")  # "2024-1…", "dete…": a value cut by a table


def _one_long_word(line: str, width: int) -> bool:
    """A file path or URL longer than the width cannot wrap: allowed alone after a short label."""
    words = line.split()
    return bool(words) and len(words[-1]) > width - 20 and len(line) - len(words[-1]) <= 20


def _problems(text: str, width: int) -> list[str]:
    out = []
    for line in ANSI.sub("", text).splitlines():
        if len(line) > width and not _one_long_word(line, width):
            out.append(f"{len(line)} > {width}: {line!r}")
        if ELLIPSIS_IN_VALUE.search(line) or (line.rstrip().endswith("...") and not line.rstrip().endswith("]...")):
            out.append(f"cut value: {line!r}")
    return out


@pytest.fixture
def terminal(demo, monkeypatch):
    """Run commands as if stdout were a terminal of a given width."""
    import lungtrack.cli.common as common

    monkeypatch.setattr(common, "stdout_is_tty", lambda: True)

    def run(args, width, no_color=False):
        env = {"COLUMNS": str(width), "LINES": "40"}
        if no_color:
            env["NO_COLOR"] = "1"
        return demo(*args, env=env)

    return run


@pytest.mark.parametrize("width", [60, 80, 120])
def test_every_read_command_fits_the_terminal(terminal, width):
    failures = {}
    for args in READ_COMMANDS:
        r = terminal(args, width)
        assert r.code in (0, 3), (args, r)
        assert r.stdout.strip() or args[0] in ("db", "remind", "schedule"), (args, r)
        problems = _problems(r.stdout, width)
        if problems:
            failures[" ".join(args)] = problems[:2]
    assert not failures, failures


def test_help_of_every_command_fits_80_columns(cli):
    import typer.main

    from lungtrack.cli import app

    paths = [[]]

    def walk(group, prefix):
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            paths.append(prefix + [name])
            if hasattr(cmd, "list_commands"):
                walk(cmd, prefix + [name])

    walk(typer.main.get_command(app), [])
    bad = {}
    for path in paths:
        r = cli(*path, "--help", env={"COLUMNS": "80"})
        assert r.code == 0, (path, r)
        if _problems(r.stdout, 80):
            bad[" ".join(path)] = _problems(r.stdout, 80)[:2]
    assert not bad, bad


def test_tables_keep_every_value_whole():
    rows = [["2024-11-20", "PR (partial response)", "not-detected", "cobas EGFR Mutation Test v2"]] * 3
    head = ["date", "overall", "result", "assay"]
    for width in (30, 40, 60, 80):
        lines = fit_table(head, rows, width)
        assert all(len(line) <= width for line in lines), (width, lines)
        text = " ".join(" ".join(lines).split())
        for value in ("2024-11-20", "not-detected"):  # one-word values are never broken
            assert value in text, (width, lines)
    # wide enough: one line per row, in columns
    assert len(fit_table(head, rows, 120)) == 2 + 3
    # too narrow for columns: the leading columns stay a table, the rest follow as "name: value"
    narrow = fit_table(head, rows, 30)
    assert any(line.strip().startswith("result: not-detected") for line in narrow), narrow


def test_tables_leave_out_columns_empty_in_every_row():
    lines = fit_table(["date", "non-target", "overall"], [["2025-09-15", "", "baseline"]], 80)
    assert "non-target" not in lines[0] and "overall" in lines[0]


def test_number_and_unit_stay_together():
    text = "liver S6 grew 9 → 15 mm (+66.7 %, +6 mm from its own nadir) while the rest shrank by +19.0 %"
    for width in range(20, 90):
        for line in wrap(text, width):
            assert not line.endswith(("+19.0", "+66.7", " 9", " 15", "→")), (width, line)
            assert not line.lstrip().startswith(("%", "mm", "→")), (width, line)


def test_continuation_lines_hang_under_their_label():
    lines = wrap_block("Records:        1 therapy lines, 4 scans, 4 lesions, 7 marker results, 5 biopsy findings", 60)
    assert len(lines) == 2 and lines[1].startswith(" " * 16) and not lines[1][16].isspace()


def _pty_run(args, width, no_color):
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        env = dict(os.environ, COLUMNS=str(width), TERM="xterm-256color")
        env.pop("NO_COLOR", None)
        if no_color:
            env["NO_COLOR"] = "1"
        os.execvpe(sys.executable, [sys.executable, "-m", "lungtrack", *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize("no_color", [False, True])
def test_check_and_summary_in_a_real_terminal(demo, no_color, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    for args in (["check"], ["summary"]):
        code, text = _pty_run(args, 80, no_color)
        assert code in (0, 3), text
        assert "WATCH" in text
        assert not _problems(text, 80), _problems(text, 80)
        has_colour = "\x1b[" in text
        assert has_colour is (not no_color), (args, no_color)
        # the long findings are wrapped (before, NO_COLOR turned wrapping off)
        assert len(ANSI.sub("", text).splitlines()) > 10


def test_messages_and_errors_fit_a_narrow_terminal(demo, monkeypatch):
    """stderr too: a confirmation and a one-line error are wrapped on a 60-column terminal."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    for args in (["marker", "add", "cea", "3.1", "--date", "02/03/2026"],  # the long "ambiguous" error
                 ["marker", "add", "cea", "3.1", "--date", "last friday", "--lab", "City Hospital laboratory"]):
        code, text = _pty_run(args, 60, True)
        assert code in (0, 2), text
        assert text.strip() and not _problems(text, 60), _problems(text, 60)
