"""Faults never cost a record: bad store files are refused unchanged, damage is detected, backups
are atomic, read-only stores stay readable, and no SQL text reaches the user."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import assert_refused

WRITES = [
    ("patient", "add", "Bob"),
    ("marker", "add", "CEA", "5", "--date", "2026-01-01"),
    ("note", "add", "a note"),
    ("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass 20"),
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(r, code: int) -> str:
    assert r.code == code, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    return lines[0]


def _damage(path: Path) -> None:
    """Overwrite the start of every fourth page after the schema page (b-tree headers)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        for off in range(4096 * 4, size, 4096 * 4):
            fh.seek(off)
            fh.write(b"\xde\xad" * 50)


# ------------------------------------------------------------------ files that are not a store

def test_empty_file_is_refused_and_not_turned_into_a_store(cli, db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"")
    old = time.time() - 3600
    os.utime(db_path, (old, old))
    for args in (("patient", "add", "Ann"), ("timeline",), ("demo", "--quiet")):
        line = _one_error_line(cli(*args), 1)
        assert "empty file (0 bytes)" in line and "not a lungtrack store" in line
    assert db_path.stat().st_size == 0
    assert not Path(f"{db_path}-wal").exists()


def test_sqlite_file_of_another_program_is_refused_before_anything_changes(cli, db_path):
    db_path.parent.mkdir(parents=True)
    con = sqlite3.connect(db_path)
    con.execute("CREATE TABLE contacts (name TEXT)")
    con.execute("INSERT INTO contacts VALUES ('x')")
    con.commit()
    con.close()
    before = _digest(db_path)
    line = _one_error_line(cli("patient", "add", "Ann"), 1)
    assert "not a lungtrack store" in line
    assert _digest(db_path) == before
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    con.close()
    assert not Path(f"{db_path}-wal").exists()


def test_file_that_is_not_sqlite_is_refused(cli, db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_text("my notes\n")
    line = _one_error_line(cli("timeline"), 1)
    assert "not an SQLite database" in line
    assert db_path.read_text() == "my notes\n"


# ------------------------------------------------------------------ damage

@pytest.fixture
def damaged(demo, db_path):
    assert demo("db", "backup").code == 0
    time.sleep(0.01)
    _damage(db_path)
    return db_path


@pytest.mark.parametrize("args", WRITES, ids=[a[0] for a in WRITES])
def test_every_write_to_a_damaged_store_is_refused_naming_the_newest_backup(cli, damaged, args):
    before = _digest(damaged)
    line = _one_error_line(cli(*args), 1)
    assert "the store" in line and "is damaged" in line
    assert "lungtrack db restore" in line and str(damaged.parent / "backups") in line
    assert _digest(damaged) == before


def test_db_check_reports_damage_and_the_newest_backup(cli, damaged):
    r = cli("db", "check")
    assert r.code == 1, r
    assert "Integrity:      damaged" in r.stdout
    assert "is damaged" in r.stderr and "backups" in r.stderr
    data = cli("db", "check", "--json").json()
    assert data["ok"] is False and data["integrity"] == "damaged"
    assert data["newest_backup"].endswith("-manual.db")


def test_db_check_on_a_healthy_store(demo, db_path):
    r = demo("db", "check")
    assert r.code == 0, r
    assert "Integrity:      ok" in r.stdout and r.stderr == ""
    data = demo("db", "check", "--json").json()
    assert data["ok"] is True and data["problems"] == []
    assert data["permissions"] == {"file": "0600", "folder": "0700"}
    from lungtrack.store.db import SCHEMA_HEAD

    assert data["schema_revision"] == SCHEMA_HEAD


def test_db_check_names_loose_permissions(demo, db_path):
    os.chmod(db_path, 0o644)
    r = demo("db", "check", "--json")
    assert r.code == 1
    assert any("readable by others" in p for p in r.json()["problems"])


def test_db_check_never_writes(cli, damaged):
    before = _digest(damaged)
    cli("db", "check")
    assert _digest(damaged) == before


# ------------------------------------------------------------------ restore

def test_restore_asks_first_off_a_terminal(cli, damaged):
    (backup,) = (damaged.parent / "backups").glob("*-manual.db")
    assert_refused(cli("db", "restore", str(backup)), "--yes")


def test_restore_replaces_a_damaged_store_and_keeps_it(cli, damaged):
    (backup,) = (damaged.parent / "backups").glob("*-manual.db")
    damaged_bytes = _digest(damaged)
    r = cli("db", "restore", str(backup), "--yes", "--json")
    assert r.code == 0, r
    kept = list((damaged.parent / "backups").glob("*-before-restore.db"))
    assert len(kept) == 1 and _digest(kept[0]) == damaged_bytes
    assert r.json() == {"restored": str(damaged), "from": str(backup), "previous_store_kept_as": str(kept[0])}
    assert cli("db", "check").code == 0
    assert [p["name"] for p in cli("patient", "list", "--json").json()] == ["Ann"]
    assert cli("patient", "add", "Bob").code == 0  # writable again


@pytest.mark.parametrize("kind", ["damaged", "foreign", "text", "missing"])
def test_restore_refuses_a_bad_backup_and_changes_nothing(demo, db_path, tmp_path, kind):
    src = tmp_path / f"{kind}.db"
    if kind == "damaged":
        assert demo("db", "backup", "-o", str(src)).code == 0
        _damage(src)
    elif kind == "foreign":
        con = sqlite3.connect(src)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    elif kind == "text":
        src.write_text("hello")
    before = _digest(db_path)
    r = demo("db", "restore", str(src), "--yes")
    assert_refused(r, "FILE")
    assert _digest(db_path) == before
    assert not list((db_path.parent / "backups").glob("*-before-restore.db"))


# ------------------------------------------------------------------ backups

def test_backup_to_a_folder_or_a_missing_folder_is_a_usage_error(demo, tmp_path):
    assert_refused(demo("db", "backup", "-o", str(tmp_path)), "--output", "not a folder")
    assert_refused(demo("db", "backup", "-o", str(tmp_path / "nope" / "x.db")), "--output", "does not exist")


@pytest.mark.parametrize("where", ["fsync", "sqlite"])
def test_full_disk_leaves_no_empty_or_partial_backup(demo, tmp_path, monkeypatch, where):
    dest = tmp_path / "out" / "copy.db"
    dest.parent.mkdir()
    if where == "fsync":
        def full(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", full)
    else:
        real = sqlite3.Connection.backup

        class Full(sqlite3.Connection):
            def backup(self, target, **kw):
                real(self, target, pages=1, **kw)  # a page or so, then the disk fills up
                raise sqlite3.OperationalError("database or disk is full")

        from lungtrack.store import db as dbmod

        real_connect = sqlite3.connect

        def connect(*a, **k):
            return real_connect(*a, **k) if "factory" in k else real_connect(*a, factory=Full, **k)

        monkeypatch.setattr(dbmod.sqlite3, "connect", connect)
    line = _one_error_line(demo("db", "backup", "-o", str(dest)), 1)
    assert "cannot write the backup" in line and "no partial file" in line
    assert list(dest.parent.iterdir()) == []


def test_backup_replaces_a_symlink_instead_of_following_it(demo, tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "copy.db"
    link.symlink_to(target)
    assert demo("db", "backup", "-o", str(link)).code == 0
    assert not link.is_symlink() and link.stat().st_mode & 0o777 == 0o600
    assert target.read_text() == "keep me"
    assert link.read_bytes()[:16] == b"SQLite format 3\x00"


@pytest.mark.parametrize("args", [("export", "json", "-o"), ("export", "ics", "-o"), ("report", "--format", "html", "-o")])
def test_every_file_written_replaces_a_symlink(demo, tmp_path, args):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "out.file"
    link.symlink_to(target)
    r = demo(*args, str(link))
    assert r.code == 0, r
    assert not link.is_symlink() and link.stat().st_mode & 0o777 == 0o600
    assert target.read_text() == "keep me"


# ------------------------------------------------------------------ read-only

def test_read_only_store_allows_reads_and_says_read_only_on_writes(demo, db_path, monkeypatch):
    from lungtrack.store import db as dbmod

    monkeypatch.setattr(dbmod, "_writable", lambda path: False)
    before = _digest(db_path)
    assert demo("timeline").code == 0
    assert demo("check").code == 3  # the demo story has alerts on 2026-08-12
    for args in WRITES:
        line = _one_error_line(demo(*args), 1)
        assert "read-only" in line, args
    assert _digest(db_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions; covered by the _writable test above")
def test_read_only_file_and_folder_for_real(demo, db_path):
    os.chmod(db_path, 0o400)
    os.chmod(db_path.parent, 0o500)
    try:
        assert demo("timeline").code == 0
        line = _one_error_line(demo("patient", "add", "Bob"), 1)
        assert "read-only" in line
    finally:
        os.chmod(db_path.parent, 0o700)
        os.chmod(db_path, 0o600)


def test_sqlite_read_only_error_is_mapped_to_words(demo, monkeypatch):
    """Even when SQLite itself refuses the write, the user sees "read-only", never SQL."""
    from sqlalchemy.exc import OperationalError

    from lungtrack.store import read

    def refuse(*a, **k):
        raise OperationalError("INSERT INTO patient (name) VALUES (?)", ("Secret Name",),
                               sqlite3.OperationalError("attempt to write a readonly database"))

    monkeypatch.setattr(read, "find_patient", refuse)  # what every write's patient look-up calls
    line = _one_error_line(demo("marker", "add", "CEA", "5", "--date", "2026-01-01"), 1)
    assert "read-only" in line
    assert "INSERT" not in line and "Secret Name" not in line


def test_no_sql_text_or_parameters_reach_the_user(demo, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from lungtrack.store import repo

    def broken(*a, **k):
        raise IntegrityError("UPDATE patient SET name = ? WHERE id = ?", ("Private Person", 1),
                             sqlite3.IntegrityError("UNIQUE constraint failed: patient.name"))

    monkeypatch.setattr(repo, "find_patient", broken)
    line = _one_error_line(demo("timeline"), 1)
    assert "UPDATE" not in line and "Private Person" not in line and "[SQL" not in line
    assert "the store refused the change" in line


def _can_mount_read_only() -> bool:
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,ro,bind /tmp"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_read_only(), reason="needs root and 'unshare -m' to mount the store's folder read-only")
def test_store_on_a_read_only_file_system(demo, db_path):
    """The real thing: the store's folder mounted read-only in a private mount namespace."""
    import subprocess
    import sys

    folder = db_path.parent
    script = (f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} && "
              f"{sys.executable} -m lungtrack timeline >/dev/null && echo READ-OK && "
              f"{sys.executable} -m lungtrack patient add Bob; echo WRITE-EXIT=$?")
    before = _digest(db_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    res = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert "READ-OK" in res.stdout, res
    assert "WRITE-EXIT=1" in res.stdout, res
    (line,) = res.stderr.strip().splitlines()
    assert "read-only" in line and "Traceback" not in res.stderr
    assert _digest(db_path) == before


def test_store_path_that_is_a_dangling_symlink_is_not_followed(cli, db_path, tmp_path):
    db_path.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere" / "target.db"
    elsewhere.parent.mkdir()
    db_path.symlink_to(elsewhere)
    line = _one_error_line(cli("patient", "add", "Ann"), 1)
    assert "symbolic link" in line
    assert not elsewhere.exists()
