"""The crontab line from ``lungtrack cron`` under a real cron daemon (Debian's ``cron``).

The store holds three patients: one overdue, one due soon, one up to date (dates relative to
the real today - a cron job cannot be given LUNGTRACK_TODAY without changing the line).  The
line's schedule is changed from ``0 7 * * *`` to ``* * * * *`` and its output and exit code
are appended to a log; the test waits for the next minute's run and reads the log.

The job goes in ``/etc/cron.d`` (with the user field ``root``) rather than in root's own
crontab, so that an existing crontab is never touched; the command part is byte for byte the
printed line.  Needs root and ``/usr/sbin/cron``; skipped otherwise.  Takes up to ~2 minutes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.cron

CRON = shutil.which("cron") or ("/usr/sbin/cron" if Path("/usr/sbin/cron").exists() else None)
CRON_D = Path("/etc/cron.d")
WAIT_SECONDS = 150


def _script() -> str | None:
    beside = Path(sys.executable).parent / "lungtrack"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def _cron_running() -> bool:
    """A live (not zombie) cron process, found through Debian's pid file."""
    for pidfile in (Path("/run/crond.pid"), Path("/var/run/crond.pid")):
        try:
            pid = int(pidfile.read_text().strip())
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, IndexError):
            continue
        comm = Path(f"/proc/{pid}/comm").read_text().strip() if Path(f"/proc/{pid}/comm").exists() else ""
        if state != "Z" and comm == "cron":
            return True
    return False


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to install a system crontab")
@pytest.mark.skipif(CRON is None, reason="Debian's cron is not installed (apt-get install cron)")
@pytest.mark.skipif(_script() is None, reason="the lungtrack console script is not installed")
def test_cron_daemon_runs_the_printed_line(tmp_path):
    script = _script()
    workdir = tmp_path / "cronjob"
    workdir.mkdir()
    os.chmod(tmp_path, 0o755)
    db = workdir / "lungtrack.db"
    log = workdir / "out.log"
    today = date.today()

    def cli(*args: str) -> str:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir)}
        p = subprocess.run([script, "--db", str(db), *args], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, (args, p.stderr)
        return p.stdout

    for name, days_ago in (("Ann Overdue", 100), ("Bob Soon", 70), ("Cy Current", 10)):
        cli("patient", "add", name)
        cli("therapy", "start", "osimertinib", "--on", (today - timedelta(days=200)).isoformat(), "--patient", name)
        cli("scan", "add", "--date", (today - timedelta(days=days_ago)).isoformat(),
            "--lesion", "RUL mass: lung, 30 mm", "--patient", name)
    line = cli("cron", "--time", "07:00").strip()
    fields = line.split(" ", 5)
    assert fields[:5] == ["0", "7", "*", "*", "*"], line
    command = fields[5]

    job = CRON_D / f"lungtrack-test-{os.getpid()}"  # no dot: cron ignores cron.d names with dots
    job.write_text(f"* * * * * root {command} >> {log} 2>&1; echo \"exit=$?\" >> {log}\n")
    os.chmod(job, 0o644)
    started: subprocess.Popen | None = None
    try:
        if not _cron_running():
            started = subprocess.Popen([CRON, "-f"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if log.exists() and "exit=" in log.read_text(errors="replace"):
                break
            if started is not None and started.poll() is not None:
                pytest.fail(f"cron exited early with code {started.returncode}")
            time.sleep(2)
        else:
            pytest.fail(f"cron did not run the job within {WAIT_SECONDS} s")
    finally:
        job.unlink(missing_ok=True)
        if started is not None:
            os.killpg(started.pid, signal.SIGTERM)
            try:
                started.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                os.killpg(started.pid, signal.SIGKILL)
                started.wait(timeout=10)

    text = log.read_text(encoding="utf-8")
    run = text.split("exit=", 1)[0]  # the first run (a second one may have started meanwhile)
    code = text.split("exit=", 1)[1].splitlines()[0]
    assert code == "3", text
    assert run.startswith("lungtrack reminders for ")
    assert f"- Ann Overdue: CT scan overdue by 9 days (was due by {(today - timedelta(days=9)).isoformat()})" in run
    assert f"- Bob Soon: CT scan due soon: by {(today + timedelta(days=21)).isoformat()}, in 21 days" in run
    assert "Cy Current" not in run
    assert "\x1b" not in run and "Error" not in run
