"""Database passwords never show: not in `db path`, errors, the cron line or debug tracebacks."""

from __future__ import annotations

import pytest

from lungtrack.store.paths import mask_password, redact, strip_password

SECRET = "s3cr3t-Pw"
URLS = [
    f"postgresql+psycopg://lt:{SECRET}@/lungtrack?host=/nonexistent-lungtrack-dir",
    f"postgresql+psycopg://lt@/lungtrack?host=/nonexistent-lungtrack-dir&password={SECRET}",
    f"postgresql://lt@/lungtrack?PASSWORD={SECRET}&host=/nonexistent-lungtrack-dir",
]


@pytest.mark.parametrize("url", URLS)
def test_mask_and_strip(url):
    assert SECRET not in mask_password(url) and "***" in mask_password(url)
    assert SECRET not in strip_password(url) and "***" not in strip_password(url)
    assert "host=/nonexistent-lungtrack-dir" in strip_password(url)


@pytest.mark.parametrize("url", URLS)
def test_db_path_masks_the_password(cli, url):
    r = cli("--db", url, "db", "path")
    assert r.code == 0, r
    assert SECRET not in r.stdout and "***" in r.stdout


@pytest.mark.parametrize("url", URLS)
def test_connection_error_masks_the_password(cli, url):
    r = cli("--db", url, "timeline")
    assert r.code == 1, r
    assert SECRET not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "internal error" not in r.stderr


@pytest.mark.parametrize("url", URLS)
def test_cron_line_leaves_the_password_out(cli, url):
    r = cli("--db", url, "cron")
    assert r.code == 0, r
    assert SECRET not in r.stdout + r.stderr
    assert "password was left out" in r.stderr


def test_pgpassword_is_masked_in_messages(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", SECRET)
    assert SECRET not in redact(f"could not connect: password {SECRET} rejected")
    assert redact("password=abc user=x") == "password=*** user=x"


def test_debug_traceback_masks_passwords(cli, monkeypatch):
    from lungtrack.cli import dbcmd

    def boom(*a, **k):
        raise RuntimeError(f"cannot reach postgresql://lt:{SECRET}@db.example/x and password={SECRET}")

    monkeypatch.setattr("lungtrack.store.paths.resolve", boom)
    assert dbcmd is not None
    r = cli("db", "path", env={"LUNGTRACK_DEBUG": "1"})
    assert r.code == 1
    assert "Traceback" in r.stderr and "RuntimeError" in r.stderr
    assert SECRET not in r.stderr
    r = cli("db", "path")
    assert r.code == 1 and SECRET not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("url", ["foo://bar", "postgresql://u:s3cr3t-Pw@[::1", "postgresql://u:s3cr3t-Pw@h:notaport/db", "://"])
def test_malformed_database_url_is_a_usage_error_without_the_password(cli, url):
    r = cli("--db", url, "timeline")
    assert r.code == 2, r
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("Error: --db:") and SECRET not in line and "internal error" not in line
