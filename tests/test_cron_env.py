"""``lungtrack remind`` as cron runs it: the installed console script in a real subprocess with
a bare environment (like ``env -i``: a minimal PATH, no XDG variables, LANG=C or unset, no
TTY, stdin closed or /dev/null).

Stores are built with the real CLI (in-process), then read by the subprocess.  "Today" is
pinned with LUNGTRACK_TODAY=2026-08-12; imaging is due soon 56 days and overdue 91 days after
the last scan (the defaults).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

TODAY = "2026-08-12"


def _script() -> str | None:
    beside = Path(sys.executable).parent / "lungtrack"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("lungtrack")
    return found if found and "shims" not in Path(found).parts else None


SCRIPT = _script()
pytestmark = pytest.mark.skipif(SCRIPT is None, reason="the lungtrack console script is not installed")


def bare_env(home: Path | None, lang: str | None = "C", **extra: str) -> dict[str, str]:
    """What cron gives a job: PATH=/usr/bin:/bin (+ the script's directory), SHELL, HOME,
    LOGNAME; no XDG_*, no LUNGTRACK_DB, no TERM."""
    env = {"PATH": f"{Path(SCRIPT).parent}:/usr/bin:/bin", "SHELL": "/bin/sh", "LOGNAME": "root"}
    if home is not None:
        env["HOME"] = str(home)
    if lang is not None:
        env["LANG"] = lang
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], *, close_stdin: bool = False, timeout: float = 120):
    """Run the installed script; stdin is /dev/null, or closed altogether (``<&-``)."""
    if close_stdin:
        cmd = ["/bin/sh", "-c", " ".join(shlex.quote(a) for a in [SCRIPT, *args]) + " <&-"]
    else:
        cmd = [SCRIPT, *args]
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def assert_plain(text: str) -> None:
    assert "\x1b" not in text, "ANSI escape in output"
    assert not any(0x2500 <= ord(ch) <= 0x257F for ch in text), "box drawing in output"


@pytest.fixture
def make_store(cli, tmp_path, monkeypatch):
    """Build a store with the CLI: ``make_store("name", [(patient, last scan date), ...])``."""
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY)

    def build(name: str, patients: list[tuple[str, str]]) -> Path:
        db = tmp_path / "stores" / name / "lungtrack.db"
        for patient, scan in patients:
            assert cli("--db", str(db), "patient", "add", patient).code == 0
            assert cli("--db", str(db), "therapy", "start", "osimertinib", "--on", "2026-01-06",
                       "--patient", patient).code == 0
            r = cli("--db", str(db), "scan", "add", "--date", scan, "--lesion", "RUL mass: lung, 30 mm",
                    "--patient", patient)
            assert r.code == 0, r
        return db

    return build


@pytest.fixture
def home(tmp_path) -> Path:
    h = tmp_path / "cronhome"
    h.mkdir()
    return h


def test_nothing_due_prints_nothing_and_exits_0(make_store, home):
    db = make_store("quiet", [("Cy", "2026-07-20")])
    code, out, err = run(["--db", str(db), "remind", "--with-findings"], bare_env(home, LUNGTRACK_TODAY=TODAY),
                         close_stdin=True)
    assert (code, out, err) == (0, b"", b"")


def test_due_soon_and_overdue_exit_3_with_plain_text(make_store, home):
    db = make_store("mixed", [("Ann", "2026-05-01"), ("Bob", "2026-06-10"), ("Cy", "2026-07-20")])
    code, out, err = run(["--db", str(db), "remind", "--with-findings"], bare_env(home, LUNGTRACK_TODAY=TODAY))
    assert code == 3, (out, err)
    assert err == b""
    text = out.decode("utf-8")
    assert_plain(text)
    lines = text.splitlines()
    assert lines[0] == "lungtrack reminders for Wed 2026-08-12"
    assert "- Ann: CT scan overdue by 12 days (was due by 2026-07-31); last scan 2026-05-01." in lines
    assert "- Bob: CT scan due soon: by 2026-09-09, in 28 days; last scan 2026-06-10." in lines
    assert "Cy" not in text


def test_snoozed_is_hidden_and_visible_with_all(make_store, home):
    db = make_store("snooze", [("Ann", "2026-05-01")])
    env = bare_env(home, LUNGTRACK_TODAY=TODAY)
    code, out, err = run(["--db", str(db), "remind", "--snooze", "ct", "7d"], env)
    assert code == 0 and out == b"" and b"until 2026-08-19" in err
    assert run(["--db", str(db), "remind"], env) == (0, b"", b"")
    code, out, _ = run(["--db", str(db), "remind", "--all"], env)
    assert code == 0
    assert b"- Ann: CT scan overdue by 12 days" in out and b"(snoozed until 2026-08-19)" in out
    # on the snooze's last day it is back
    code, out, _ = run(["--db", str(db), "remind"], bare_env(home, LUNGTRACK_TODAY="2026-08-19"))
    assert code == 3 and b"overdue by 19 days" in out


def test_missing_store_is_a_clear_error_and_nothing_is_created(tmp_path, home):
    missing = tmp_path / "nowhere" / "lungtrack.db"
    code, out, err = run(["--db", str(missing), "remind"], bare_env(home), close_stdin=True)
    assert code == 1
    assert out == b""
    [line] = err.decode().splitlines()
    assert line.startswith("Error: No lungtrack store at") and str(missing) in line
    assert not missing.exists() and not missing.parent.exists()
    # the default store location (no --db, no XDG in cron) is not created either
    code, out, err = run(["remind"], bare_env(home))
    assert code == 1 and out == b"" and b"No lungtrack store" in err
    assert list(home.iterdir()) == []


def test_store_written_by_another_process_at_that_moment(make_store, home):
    db = make_store("busy", [("Ann", "2026-05-01")])
    writer = subprocess.Popen(
        [sys.executable, "-c", (
            "import sqlite3, sys\n"
            f"con = sqlite3.connect({str(db)!r}, isolation_level=None, timeout=30)\n"
            "con.execute('BEGIN IMMEDIATE')\n"
            "con.execute(\"INSERT INTO note (patient_id, date, text, created_at, updated_at, source) "
            "VALUES (1, '2026-08-12', 'written meanwhile', '2026-08-12 07:00:00', '2026-08-12 07:00:00', 'manual')\")\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "con.execute('COMMIT')\n"
            "print('committed', flush=True)\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        code, out, err = run(["--db", str(db), "remind"], bare_env(home, LUNGTRACK_TODAY=TODAY))
        assert code == 3, err
        assert b"- Ann: CT scan overdue by 12 days" in out
        assert err == b""
    finally:
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "committed"
        writer.wait(timeout=30)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM note").fetchone() == (1,)  # the writer was not disturbed
    con.close()


@pytest.mark.parametrize("lang", [None, "C", "POSIX"])
def test_non_ascii_name_prints_in_a_c_locale(make_store, home, lang):
    name = unicodedata.normalize("NFC", "Zoë Ångström")
    db = make_store(f"utf-{lang}", [(name, "2026-05-01")])
    env = bare_env(home, lang=lang, LUNGTRACK_TODAY=TODAY)
    code, out, err = run(["--db", str(db), "remind"], env, close_stdin=True)
    assert code == 3, err
    assert f"- {name}: CT scan overdue by 12 days".encode("utf-8") in out
    assert err == b""


def test_non_ascii_name_with_ascii_stdio_does_not_crash(make_store, home):
    name = "Zoë Ångström"
    db = make_store("ascii", [(name, "2026-05-01")])
    env = bare_env(home, PYTHONIOENCODING="ascii", LUNGTRACK_TODAY=TODAY)
    code, out, err = run(["--db", str(db), "remind"], env)
    assert code == 3, err
    assert name.encode("utf-8") in out


def test_the_printed_crontab_line_runs_in_the_bare_environment(make_store, home, tmp_path):
    """What cron does with the line: /bin/sh -c '<command>' with cron's variables only."""
    db = make_store("line", [("Ann", "2026-05-01"), ("Cy", "2026-07-20")])
    code, out, err = run(["--db", str(db), "cron", "--time", "07:00"], bare_env(home))
    assert code == 0, err
    line = out.decode().strip()
    minute, hour, dom, mon, dow, command = line.split(" ", 5)
    assert (minute, hour, dom, mon, dow) == ("0", "7", "*", "*", "*")
    assert command.startswith("/") and f"--db {db} remind --with-findings" in command
    # cron itself: PATH=/usr/bin:/bin only (not even the script's directory)
    env = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "HOME": str(home), "LOGNAME": "root",
           "LUNGTRACK_TODAY": TODAY}
    p = subprocess.run(["/bin/sh", "-c", command + " <&-"], env=env, capture_output=True, timeout=120)
    assert p.returncode == 3, p.stderr
    assert b"- Ann: CT scan overdue by 12 days" in p.stdout and b"Cy" not in p.stdout


def test_export_ics_bytes_on_stdout(make_store, home):
    db = make_store("ics", [("Zoë", "2026-05-01")])
    code, out, err = run(["--db", str(db), "export", "ics"], bare_env(home, LUNGTRACK_TODAY=TODAY))
    assert code == 0, err
    assert out.startswith(b"BEGIN:VCALENDAR\r\n") and out.endswith(b"END:VCALENDAR\r\n")
    assert "SUMMARY:Zoë: CT scan due".encode() in out
