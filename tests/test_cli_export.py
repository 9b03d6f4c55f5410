"""export json / csv: the user's data out, complete, private, and parseable."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest


def test_json_export_holds_every_record(demo):
    r = demo("export", "json")
    assert r.code == 0
    data = json.loads(r.stdout)
    assert data["format"] == "lungtrack-export"
    (ann,) = data["patients"]
    assert ann["patient"]["name"] == "Ann"
    assert len(ann["scans"]) == 4 and len(ann["scans"][0]["measurements"]) == 4
    assert [m["value"] for m in ann["marker_results"]] == [12.4, 7.9, 3.1, 3.0, 2.9, 3.8, 5.6]
    assert len(ann["biopsy_findings"]) == 5 and ann["therapy_lines"][0]["drug"] == "gefitinib"
    assert ann["marker_results"][0]["date"] == "2025-09-10"


def test_csv_export_numbers_and_units_in_columns(demo, tmp_path):
    out = tmp_path / "cea.csv"
    r = demo("export", "csv", "markers", "-o", str(out))
    assert r.code == 0 and "Wrote 7 markers row(s)" in r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows[0] == {"patient": "Ann", "date": "2025-09-10", "marker": "CEA", "value": "12.4", "unit": "ng/mL",
                       "uln": "", "lab": "City Hospital lab", "source": "demo"}
    meas = list(csv.DictReader(io.StringIO(demo("export", "csv", "measurements").stdout)))
    assert len(meas) == 16 and {m["is_node"] for m in meas} == {"true", "false"}
    assert float(meas[0]["size_mm"]) == 32.0


@pytest.mark.parametrize("args,field", [(("export", "csv", "labs"), "TABLE"),
                                        (("export", "json", "-o", "/no/such/dir/x.json"), "--output")])
def test_export_errors_are_one_line(demo, args, field):
    r = demo(*args)
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1 and field in r.stderr and r.stdout == ""
