"""--json on every command that reports a result: one JSON object on stdout, the sentence on stderr."""

from __future__ import annotations

import json

import pytest


def _tree():
    import typer.main

    from lungtrack.cli import app

    out = []

    def walk(group, prefix):
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            if hasattr(cmd, "list_commands"):
                walk(cmd, prefix + [name])
            else:
                out.append((prefix + [name], cmd))

    walk(typer.main.get_command(app), [])
    return out


def test_every_command_has_json_except_the_document_printers():
    missing = [" ".join(p) for p, c in _tree() if not any("--json" in x.opts for x in c.params)]
    assert missing == ["completion show", "man"]  # they print a script / a manual page, not a result


def test_delete_reports_what_was_deleted(demo):
    r = demo("note", "delete", "1", "--yes", "--json")
    assert r.code == 0, r
    data = r.json()
    assert data["deleted"] == "Note" and data["id"] == 1 and data["dependent_records"] == 0
    assert r.stderr.startswith("Deleted note 1")
    r = demo("scan", "delete", "1", "--yes", "--json")
    assert r.json()["dependent_records"] == 4 and r.json()["records"]["measurement"] == 4


def test_ack_reports_the_finding(demo):
    fid = next(f["id"] for f in demo("check", "--json").json()["patients"][0]["findings"] if f["rule"] == "marker.rising")
    r = demo("ack", fid, "--note", "seen", "--json")
    assert r.code == 0 and r.json() == {"finding_id": fid, "title": "CEA rising", "acknowledged": True,
                                        "changed": True, "note": "seen"}
    assert demo("ack", fid, "--json").json()["changed"] is False
    assert demo("ack", fid, "--undo", "--json").json() == {"finding_id": fid, "acknowledged": False, "changed": True}


def test_exports_report_the_file_and_refuse_json_on_stdout(demo, tmp_path):
    for args, fmt in ((("export", "json"), "json"), (("export", "csv", "markers"), "csv"),
                      (("export", "ics"), "ics"), (("export", "fhir"), "fhir")):
        out = tmp_path / f"x.{fmt}"
        r = demo(*args, "-o", str(out), "--json")
        assert r.code == 0, (args, r)
        data = r.json()
        assert data["file"] == str(out) and data["format"] == fmt and data["bytes"] == out.stat().st_size
        r = demo(*args, "--json")
        assert r.code == 2 and r.stderr.startswith("Error: --json") and r.stdout == ""


def test_report_cron_backup_and_paths(demo, tmp_path):
    out = tmp_path / "ann.html"
    data = demo("report", "-o", str(out), "--json").json()
    assert data["file"] == str(out) and data["format"] == "html" and data["charts"] == 4 and data["pages"] is None
    assert demo("report", "-f", "md", "--json").code == 2
    cron = demo("cron", "--time", "06:30", "--json").json()
    assert cron["hour"] == 6 and cron["minute"] == 30 and cron["line"].startswith("30 6 * * *")
    backup = demo("db", "backup", "--json").json()
    assert backup["bytes"] > 0
    assert json.loads(demo("db", "path", "--json").stdout)["exists"] is True
    assert demo("config", "path", "--json").json()["exists"] is False


@pytest.mark.parametrize("args, key", [(("patient", "default", "Ann"), "default_patient"),
                                       (("lesion", "edit", "4R", "--site", "node", "--json"), "label")])
def test_small_write_commands(demo, args, key):
    r = demo(*args, *(() if "--json" in args else ("--json",)))
    assert r.code == 0 and key in r.json()


def _json_values():
    from datetime import date, datetime, timezone

    from hypothesis import strategies as st

    from lungtrack.enums import Marker, Sample

    leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
              | st.text(max_size=8) | st.dates(min_value=date(1900, 1, 1))
              | st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.astimezone(timezone.utc))
              | st.sampled_from(list(Marker) + list(Sample)))
    _ = datetime
    return st.recursive(leaves, lambda kids: st.lists(kids, max_size=4) | st.tuples(kids, kids)
                        | st.dictionaries(st.text(max_size=5), kids, max_size=4), max_leaves=20)


from hypothesis import given, settings  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(_json_values())
def test_json_line_writes_what_to_jsonable_then_dumps_wrote(value):
    """check/remind --all-patients --json write each record with common.json_line (no copy of the
    structure first): the text must be the former json.dumps(to_jsonable(...)) exactly."""
    import json

    from lungtrack.cli.common import json_line, to_jsonable

    assert json_line(value) == json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":")) + "\n"
