"""Start-up stays light: --help, --version and completion never import SQLAlchemy, SQLModel, pydantic
(Typer's parameter conversion would pull it in for the root options) or Rich."""

from __future__ import annotations


import pytest

from conftest import probe_modules

HEAVY = ["sqlalchemy", "sqlmodel", "alembic", "matplotlib", "pydantic", "rich"]


def _probe(args, extra_env=None):
    result = probe_modules(args, HEAVY, extra_env)
    result["heavy"] = result["loaded"]
    return result


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["scan", "--help"], ["scan", "add", "--help"],
                                  ["check", "--help"], ["check", "-h"], ["remind", "--help"], ["db", "backup", "--help"], []])
def test_help_and_version_do_not_import_the_database_layer(args):
    result = _probe(args)
    assert result["heavy"] == [], result
    assert result["code"] == 0  # help, version and no arguments (help) all succeed


def test_version_prints_version():
    from lungtrack import __version__

    result = _probe(["--version"])
    assert result["out"].strip() == f"lungtrack {__version__}"


def test_shell_completion_does_not_import_the_database_layer():
    result = _probe([], {"_LUNGTRACK_COMPLETE": "complete_bash", "COMP_WORDS": "lungtrack sc", "COMP_CWORD": "1"})
    assert result["heavy"] == [], result
    assert "scan" in result["out"]


def test_patient_name_completion_reads_the_store_without_sqlalchemy(cli, db_path):
    assert cli("patient", "add", "Ann").code == 0
    assert cli("patient", "add", "Bob").code == 0
    result = _probe([], {"_LUNGTRACK_COMPLETE": "complete_bash", "COMP_WORDS": "lungtrack check --patient A",
                         "COMP_CWORD": "3", "LUNGTRACK_DB": str(db_path)})
    assert result["heavy"] == [], result
    assert result["out"].split() == ["Ann"]
