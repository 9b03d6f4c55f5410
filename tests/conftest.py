"""Every test runs against its own temporary store and config: nothing touches the user's data.

Pattern from simonw/llm: an autouse fixture points the app at a temporary directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (a shared 2-core CI machine is slow at times), and in CI
# the same examples every run, so that a green run here is a green run there.  Locally the
# examples stay random, to keep finding new counter-examples.
settings.register_profile("lungtrack", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("lungtrack"), derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "lungtrack")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("LUNGTRACK_DB", str(tmp_path / "store" / "lungtrack.db"))
    for var in ("LUNGTRACK_PATIENT", "LUNGTRACK_TODAY", "NO_COLOR", "FORCE_COLOR", "LUNGTRACK_DEBUG",
                "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


class SocketBlocked(RuntimeError):
    """A test tried to open a network socket: lungtrack makes no network calls (docs/security.md)."""


@pytest.fixture(autouse=True)
def no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """No socket but AF_UNIX can be created in any test, so a command that tries to reach the network
    fails its test.  PostgreSQL tests, and tests that run their own loopback server to watch a
    browser (marked ``loopback_server``), may open sockets."""
    if request.node.get_closest_marker("postgres") or request.node.get_closest_marker("loopback_server"):
        yield
        return
    import socket

    real = socket.socket

    class GuardedSocket(real):  # type: ignore[misc, valid-type]
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            fam = socket.AF_INET if family == -1 else family
            if fileno is None and fam != socket.AF_UNIX:
                raise SocketBlocked(f"a test opened a network socket (family {fam!r}); lungtrack makes no network calls")
            super().__init__(family, type, proto, fileno)

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    yield


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return Path(os.environ["LUNGTRACK_DB"])


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database on the server named by LUNGTRACK_TEST_PG_URL, dropped
    after the test (skipped when no server is configured).  Tests using it are marked ``postgres``."""
    admin_url = os.environ.get("LUNGTRACK_TEST_PG_URL")
    if not admin_url:
        pytest.skip("LUNGTRACK_TEST_PG_URL is not set (PostgreSQL not available)")
    import uuid

    from sqlalchemy import create_engine, text

    name = f"lt_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    yield url
    create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_COMMANDS: dict[int, object] = {}


@pytest.fixture(scope="session", autouse=True)
def _build_click_command_once():
    """Typer's CliRunner rebuilds the whole Click command tree on every invoke (~0.15 s); the
    tree never changes during a run, so build it once."""
    import typer.testing

    original = typer.testing._get_command

    def cached(app):
        key = id(app)
        if key not in _COMMANDS:
            _COMMANDS[key] = original(app)
        return _COMMANDS[key]

    typer.testing._get_command = cached
    yield
    typer.testing._get_command = original


@pytest.fixture
def cli():
    """Run lungtrack in-process; returns a function giving (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from lungtrack.cli import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict | None = None):
        result = runner.invoke(app, list(args), input=input, env=env)
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def demo(cli, monkeypatch):
    """The built-in demo patient (Ann) in the test's store, with today pinned to the story's 2026-08-12."""
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    assert cli("demo", "--quiet").code == 0
    return cli


class Result:
    def __init__(self, code: int, stdout: str, stderr: str):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __iter__(self):
        return iter((self.code, self.stdout, self.stderr))

    def json(self):
        import json

        return json.loads(self.stdout)

    def __repr__(self) -> str:  # helps assertion messages
        return f"Result(code={self.code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def assert_refused(r, *words: str) -> None:
    """Bad input: exit 2, exactly one line on stderr naming the field and value, nothing on stdout."""
    assert r.code == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r
    assert lines[0].startswith("Error: "), r
    for w in words:
        assert w in lines[0], (w, r)
    assert r.stdout == ""


PROBE = r"""
import sys, json, io, contextlib
args, prefixes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["lungtrack"] + args
from lungtrack.cli import main
out = io.StringIO()
code = 0
try:
    with contextlib.redirect_stdout(out):
        main()
except SystemExit as e:
    code = e.code or 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in prefixes or m.startswith(tuple(prefixes)))
print(json.dumps({"code": code, "loaded": loaded, "out": out.getvalue()}))
"""


def probe_modules(args: list[str], prefixes: list[str], extra_env: dict[str, str] | None = None) -> dict:
    """Run ``lungtrack ARGS`` in a fresh interpreter: its exit code, its stdout, and the loaded
    modules whose top-level package is in ``prefixes`` (or whose name starts with one)."""
    import json
    import subprocess
    import sys

    env = dict(os.environ)
    env.update(extra_env or {})
    res = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(prefixes)], capture_output=True,
                         text=True, env=env, timeout=60)
    assert res.stdout.strip(), res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])
