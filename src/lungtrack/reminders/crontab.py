"""The crontab line printed by ``lungtrack cron``.

cron runs jobs with ``PATH=/usr/bin:/bin``, ``SHELL=/bin/sh``, ``HOME`` and ``LOGNAME`` and
nothing else: no ``$XDG_*`` variables, no virtualenv, no pyenv shims, ``LANG`` usually unset.
So the line names the **absolute path of the installed executable** and the **absolute path
of the store**, and pins the thresholds file when the current shell found it through an
environment variable cron will not have.  Standard library only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence

from lungtrack.errors import InputError

TIME_EXPECTED = "a time of day HH:MM (24-hour), e.g. 07:00"


def parse_time(text: str, *, field: str = "--time") -> tuple[int, int]:
    """``07:00``, ``7:30``, ``19``, ``0730`` -> (hour, minute)."""
    t = str(text).strip()
    m = re.fullmatch(r"(\d{1,2})(?::?(\d{2}))?", t)
    if not m:
        raise InputError(field, text, TIME_EXPECTED)
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise InputError(field, text, TIME_EXPECTED)
    return hour, minute


def _is_shim(path: str) -> bool:
    """pyenv/asdf shims need the user's shell set-up, which cron does not have."""
    parts = Path(path).parts
    return "shims" in parts


def _executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_executable(argv0: str | None = None, python: str | None = None,
                    which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The command that runs this lungtrack, as absolute paths.

    1. the script this process was started as (``sys.argv[0]``) when it is ``lungtrack``;
    2. the ``lungtrack`` script beside the running interpreter (virtualenv, pipx, system);
    3. ``lungtrack`` on ``PATH`` unless it is a pyenv/asdf shim;
    4. ``<python> -m lungtrack``, which works wherever this interpreter can import lungtrack.

    Symlinks are kept (``~/.local/bin/lungtrack`` from pipx survives upgrades of the venv).
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    python = sys.executable if python is None else python
    if argv0:
        p = Path(argv0)
        if p.name in ("lungtrack", "lungtrack.exe") and _executable_file(p) and not _is_shim(str(p)):
            return [os.path.abspath(p)]
    if python:
        beside = Path(python).parent / "lungtrack"
        if _executable_file(beside):
            return [os.path.abspath(beside)]
    found = which("lungtrack")
    if found and not _is_shim(found):
        return [os.path.abspath(found)]
    return [os.path.abspath(python) if python else "python3", "-m", "lungtrack"]


def _cron_quote(arg: str) -> str:
    """Shell-quote for /bin/sh, then escape ``%``, which crontab turns into a newline."""
    return shlex.quote(arg).replace("%", "\\%")


def remind_command(executable: Sequence[str], store: str, *, with_findings: bool = True,
                   patient: str | None = None, ics: str | None = None) -> list[str]:
    cmd = [*executable, "--db", store, "remind"]
    if patient:
        cmd += ["--patient", patient]
    if with_findings:
        cmd.append("--with-findings")
    if ics:
        cmd += ["--ics", ics]
    return cmd


def crontab_line(command: Sequence[str], hour: int, minute: int, env: Mapping[str, str] | None = None) -> str:
    """``0 7 * * * [VAR=value ]/abs/lungtrack --db /abs/store remind --with-findings``."""
    prefix = "".join(f"{k}={_cron_quote(v)} " for k, v in (env or {}).items())
    return f"{minute} {hour} * * * {prefix}{' '.join(_cron_quote(a) for a in command)}"
