"""CSV import, pure part: mapping files, column detection, row checks, unit conversion, plans."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from lungtrack.enums import Marker
from lungtrack.errors import InputError
from lungtrack.importers.csv_plan import build_plan
from lungtrack.importers.csv_rows import LayoutError, MarkerRow, parse_csv
from lungtrack.importers.mapping import load_mapping
from lungtrack.knowledge.markers import MARKERS

DATA = Path(__file__).parent / "data"
TODAY = date(2026, 8, 12)


def shipped(name: str):
    text = resources.files("lungtrack.importers.mappings").joinpath(f"{name}.toml").read_text("utf-8")
    return load_mapping(text, f"{name}.toml")


def parse(text: str | bytes, mapping=None, name: str = "t.csv", today: date = TODAY):
    data = text.encode("utf-8") if isinstance(text, str) else text
    if mapping is None:
        return parse_csv(data, name, today=today)
    return parse_csv(data, name, today=today, mapping=mapping)


def lines(*rows: str) -> str:
    return "".join(r + "\n" for r in rows)


def only_problem(result) -> str:
    assert not result.rows or result.problems, result
    assert len(result.problems) == 1, result.problems
    return result.problems[0].text()


# ----------------------------------------------------------------------------- foreign exports

def test_us_portal_export_through_its_mapping():
    r = parse((DATA / "us-lab-portal.csv").read_bytes(), shipped("us-lab-portal"), "us.csv")
    assert r.problems == []
    got = [(x.date.isoformat(), x.marker, x.value, x.unit, x.uln, x.comparator) for x in r.rows]
    assert got == [
        ("2026-01-14", "CEA", 3.4, "ng/mL", 5.0, None),
        ("2026-01-14", "CYFRA 21-1", 2.1, "ng/mL", 3.3, None),
        ("2026-04-15", "CEA", 4.8, "ng/mL", 5.0, None),
        ("2026-04-15", "ProGRP", 52.0, "pg/mL", 65.0, None),  # 0.052 ng/mL, ULN 0.065 ng/mL
        ("2026-07-13", "CEA", 0.5, "ng/mL", 5.0, "<"),  # "<0.5": below the assay's range
    ]
    assert r.skipped == {("marker", "not a tumour marker lungtrack tracks"): 2}  # haemoglobin, glucose
    assert r.rows[0].lab == "Quest Diagnostics" and r.rows[3].lab == "LabCorp"
    assert r.rows[0].origin == "us.csv:2"


def test_european_export_semicolons_decimal_commas_cp1252():
    r = parse((DATA / "de-lab-export.csv").read_bytes(), shipped("de-lab-export"), "de.csv")
    assert r.problems == []
    got = [(x.date.isoformat(), x.marker, x.value, x.unit, x.uln, x.comparator) for x in r.rows]
    assert got == [
        ("2026-01-14", "CEA", 3.4, "ng/mL", 5.0, None),  # 3,4 µg/l (Windows-1252 micro sign)
        ("2026-01-14", "CYFRA 21-1", 2.1, "ng/mL", 3.3, None),
        ("2026-04-15", "CEA", 4.8, "ng/mL", 5.0, None),
        ("2026-04-15", "ProGRP", 52.0, "pg/mL", 65.0, None),
        ("2026-07-13", "CA-125", 1000.0, "U/mL", 35.0, ">"),
    ]
    assert r.skipped == {("marker", "not a tumour marker lungtrack tracks"): 1}


@pytest.mark.parametrize("name, fixture", [("us-lab-portal", "us-lab-portal.csv"), ("de-lab-export", "de-lab-export.csv")])
def test_without_a_mapping_a_suggestion_is_made_that_reads_the_file(name, fixture):
    data = (DATA / fixture).read_bytes()
    with pytest.raises(LayoutError) as err:
        parse(data)
    assert "not lungtrack's CSV columns" in err.value.message and "--mapping" in err.value.message
    suggested = load_mapping(err.value.suggestion, "suggested.toml")  # valid TOML that lungtrack accepts
    r = parse(data, suggested)
    assert r.problems == []
    assert {x.marker for x in r.rows} >= {"CYFRA 21-1", "ProGRP"}
    assert all(isinstance(x, MarkerRow) for x in r.rows)


def test_suggested_date_format_says_when_day_and_month_cannot_be_told_apart():
    text = "Collection Date,Test Name,Result,Units\n03/04/2026,CEA,3.1,ng/mL\n"
    with pytest.raises(LayoutError) as err:
        parse(text)
    assert 'date_format = "MM/DD/YYYY"' in err.value.suggestion
    assert "CHECK THIS" in err.value.suggestion


# ----------------------------------------------------------------------------- our own layout

OWN = "date,marker,value,unit,uln,lab\n"


def test_own_layout_markers_and_export_csv_columns_read_back():
    r = parse(OWN + "2026-03-04,CEA,3.1,ng/mL,5,City lab\n")
    assert [(x.marker, x.value, x.uln, x.lab) for x in r.rows] == [("CEA", 3.1, 5.0, "City lab")]
    exported = "patient,date,marker,value,unit,uln,lab,source\nAnn,2026-03-04,CYFRA 21-1,2.2,ng/mL,,,manual\n"
    r = parse(exported)
    assert r.problems == [] and r.rows[0].patient == "Ann" and r.ignored_columns == []


def test_every_bad_row_is_listed_with_file_line_column_and_expected_form():
    text = OWN + lines(
        "2026-01-05,CEA,3.1,ng/mL,,",      # line 2: good
        "2026-02-05,CEA,3,1,ng/mL,,",      # line 3: the comma shifts the columns: unit '1'
        "2026-03-05,CEA,abc,ng/mL,,",      # line 4
        "2026-13-05,CEA,3.0,ng/mL,,",      # line 5
        "2026-04-05,CEA,3.0,,,",           # line 6: no unit
        "2026-04-06,Ferritin,30,ng/mL,,",  # line 7: not a marker (own layout: error)
        "2026-04-07,CEA,2.0,ng/mL,0,",     # line 8: ULN 0
    )
    r = parse(text, name="labs.csv")
    assert [x.origin for x in r.rows] == ["labs.csv:2"]
    got = [p.text() for p in r.problems]
    assert [line.split(": ")[0] for line in got] == [f"labs.csv:{n}" for n in (3, 4, 5, 6, 7, 8)]
    assert got[0].startswith("labs.csv:3: unit: '1' is not a unit for CEA, expected one of ng/mL")
    assert got[1] == "labs.csv:4: value: 'abc' is not a number, expected a CEA value above 0, e.g. 3.1, <0.5 or >1000"
    assert got[2] == "labs.csv:5: date: '2026-13-05' is not a real date, expected a date as YYYY-MM-DD"
    assert got[3].startswith("labs.csv:6: unit: no unit for CEA 3.0, expected a unit (ng/mL")
    assert got[4].startswith("labs.csv:7: marker: 'Ferritin' is not a tumour marker lungtrack knows")
    assert got[5].startswith("labs.csv:8: uln: upper limit 0 is not above 0")


def test_column_names_in_problems_are_the_files_own_headers():
    text = "Collection Date,Test Name,Result,Units\n02/30/2026,CEA,3.1,ng/mL\n"
    msg = only_problem(parse(text, shipped("us-lab-portal")))
    assert msg == "t.csv:2: Collection Date: '02/30/2026' is not a real date, expected a date as MM/DD/YYYY"


def test_a_unit_named_by_the_mapping_for_values_without_unit():
    mapping = load_mapping('kind = "markers"\n[columns]\ndate = "Date"\nmarker = "Test"\nvalue = "Value"\n'
                           '[default_units]\nCEA = "ug/L"\n', "m.toml")
    r = parse("Date,Test,Value\n2026-03-04,CEA,4.2\n", mapping)
    assert [(x.value, x.unit) for x in r.rows] == [(4.2, "ng/mL")]
    r = parse("Date,Test,Value\n2026-03-04,NSE,4.2\n", mapping)  # the mapping names a unit for CEA only
    assert "unit: no unit for NSE 4.2" in only_problem(r)


@pytest.mark.parametrize("cell, value, comparator", [
    ("<0.5", 0.5, "<"), ("< 0.5", 0.5, "<"), ("<=0.5", 0.5, "<"), ("≤0.5", 0.5, "<"),
    (">1000", 1000.0, ">"), (">= 1000", 1000.0, ">"), ("0.5", 0.5, None),
])
def test_censored_values_keep_their_comparator(cell, value, comparator):
    r = parse(OWN + f"2026-03-04,CEA,{cell},ng/mL,,\n")
    assert [(x.value, x.comparator) for x in r.rows] == [(value, comparator)]


def test_zero_only_as_a_detection_limit():
    assert "value: '0' is not above 0" in only_problem(parse(OWN + "2026-03-04,CEA,0,ng/mL,,\n"))
    assert [(x.value, x.comparator) for x in parse(OWN + "2026-03-04,CEA,<0,ng/mL,,\n").rows] == [(0.0, "<")]


@pytest.mark.parametrize("marker, cell, unit, expected", [
    ("CEA", "2500", "pg/mL", 2.5), ("CEA", "250", "ng/dL", 2.5), ("CEA", "0.0025", "mg/L", 2.5),
    ("CEA", "2.5", "µg/L", 2.5), ("CEA", "2.5", "mcg/L", 2.5), ("ProGRP", "0.065", "ng/mL", 65.0),
    ("ProGRP", "6.5", "ng/dL", 65.0), ("CA-125", "35000", "U/L", 35.0), ("CA 125", "35", "kU/L", 35.0),
])
def test_units_are_converted_exactly(marker, cell, unit, expected):
    r = parse(OWN + f"2026-03-04,{marker},{cell},{unit},,\n")
    assert [x.value for x in r.rows] == [expected]


def test_plausible_maximum_boundary_in_the_canonical_unit():
    top = MARKERS[Marker.CEA].plausible_max  # 100000 ng/mL
    at = parse(OWN + f"2026-03-04,CEA,{top * 1000:.0f},pg/mL,,\n")
    assert [x.value for x in at.rows] == [top]
    above = parse(OWN + f"2026-03-04,CEA,{top * 1000 + 1:.0f},pg/mL,,\n")
    assert "above the plausible maximum" in only_problem(above)


def test_unit_refused_for_the_wrong_marker():
    assert "'U/mL' is not a unit for CEA" in only_problem(parse(OWN + "2026-03-04,CEA,3,U/mL,,\n"))


@pytest.mark.parametrize("cell, uln", [
    ("<5.0", 5.0), ("< 5.0", 5.0), ("0.0-5.0", 5.0), ("0 - 5", 5.0), ("0.0–5.0 ng/mL", 5.0), ("<=3.3", 3.3),
    ("", None), (">10", None),
])
def test_reference_ranges_give_the_uln(cell, uln):
    r = parse(f"date,marker,value,unit,reference_range\n2026-03-04,CEA,3,ng/mL,{cell}\n")
    assert [x.uln for x in r.rows] == [uln]


def test_reference_range_that_cannot_be_read_is_a_bad_row():
    msg = only_problem(parse("date,marker,value,unit,reference_range\n2026-03-04,CEA,3,ng/mL,normal\n"))
    assert msg == "t.csv:2: reference_range: 'normal' is not a reference range, expected a range such as \"<5.0\" or \"0.0-5.0\""


def test_uln_is_converted_with_the_value():
    r = parse("date,marker,value,unit,reference_range\n2026-03-04,ProGRP,0.05,ng/mL,0-0.065\n")
    assert [(x.value, x.uln) for x in r.rows] == [(50.0, 65.0)]


def test_decimal_separators():
    assert "has a decimal comma" in only_problem(parse(OWN + '2026-03-04,CEA,"3,1",ng/mL,,\n'))
    assert "may be a thousands separator" in only_problem(parse(OWN + '2026-03-04,CEA,"1,250",pg/mL,,\n'))
    comma = load_mapping('decimal = ","\nkind = "markers"\n[columns]\ndate = "d"\nmarker = "m"\nvalue = "v"\nunit = "u"\n', "m")
    assert [x.value for x in parse('d;m;v;u\n2026-03-04;CEA;3,1;ng/mL\n', comma).rows] == [3.1]
    assert "has a dot" in only_problem(parse('d;m;v;u\n2026-03-04;CEA;1.250,5;ng/mL\n', comma))


def test_dates_today_allowed_tomorrow_refused_1900_boundary():
    assert len(parse(OWN + "2026-08-12,CEA,3,ng/mL,,\n").rows) == 1
    assert "is in the future (today is 2026-08-12)" in only_problem(parse(OWN + "2026-08-13,CEA,3,ng/mL,,\n"))
    assert len(parse(OWN + "1900-01-01,CEA,3,ng/mL,,\n").rows) == 1
    assert "before 1900" in only_problem(parse(OWN + "1899-12-31,CEA,3,ng/mL,,\n"))


def test_appointments_may_be_in_the_future_up_to_ten_years():
    head = "date,kind,description,status\n"
    r = parse(head + "2026-09-01,CT,chest CT,booked\n2036-08-12,visit,,\n")
    assert [(x.kind, x.status) for x in r.rows] == [("imaging", "planned"), ("visit", "planned")]
    assert "more than 10 years ahead" in only_problem(parse(head + "2036-08-29,visit,,\n"))


def test_same_row_twice_counts_once_a_different_value_is_a_bad_row():
    r = parse(OWN + "2026-03-04,CEA,3.1,ng/mL,,\n2026-03-04,CEA,3.1,ng/mL,,\n")
    assert len(r.rows) == 1 and r.skipped == {("marker", "the same row twice in the files"): 1}
    msg = only_problem(parse(OWN + "2026-03-04,CEA,3.1,ng/mL,,\n2026-03-04,cea,3.4,ng/mL,,\n"))
    assert msg.startswith("t.csv:3: date: a second CEA on 2026-03-04 that differs from t.csv:2")
    with_id = parse("id,date,marker,value,unit\nA1,2026-03-04,CEA,3.1,ng/mL\nA2,2026-03-04,CEA,3.4,ng/mL\n")
    assert [x.key for x in with_id.rows] == ["csv:id|A1", "csv:id|A2"]


# ----------------------------------------------------------------------------- encodings

def test_utf8_with_bom_and_cp1252_only_when_the_mapping_says_so():
    assert len(parse(b"\xef\xbb\xbf" + (OWN + "2026-03-04,CEA,3,\xb5g/L,,\n").encode("utf-8")).rows) == 1
    latin = (OWN + "2026-03-04,CEA,3,\xb5g/L,,Labor M\xfcnchen\n").encode("cp1252")
    with pytest.raises(InputError) as err:
        parse(latin)
    assert err.value.message.startswith("t.csv:2: byte 0xb5 is not UTF-8")
    mapping = load_mapping('encoding = "cp1252"\n[columns]\ndate = "date"\nmarker = "marker"\nvalue = "value"\n'
                           'unit = "unit"\nlab = "lab"\n', "m")
    assert [x.lab for x in parse(latin, mapping).rows] == ["Labor München"]
    with pytest.raises(InputError, match="UTF-16"):
        parse((OWN + "2026-03-04,CEA,3,ng/mL,,\n").encode("utf-16"))


# ----------------------------------------------------------------------------- scans, biopsies, mixed files

SCAN = "date,modality,lesion,site,node,size,status,new\n"


def test_scan_rows_sizes_axes_nodes_and_statuses():
    r = parse(SCAN + lines(
        "2026-03-04,CT,RUL mass,lung,,32x21 mm,,",
        "2026-03-04,CT,4R,lymph node,,1.8 x 1.2 cm,,",
        "2026-03-04,CT,liver S6,,,0,,",
        "2026-03-04,CT,RLL nodule,,,,too small,",
        "2026-03-04,CT,adrenal,adrenal,no,12,,yes",
    ))
    assert r.problems == []
    got = [(x.label, x.site, x.is_node, x.size_mm, x.status, x.new) for x in r.rows]
    assert got == [
        ("RUL mass", "lung", False, 32.0, "measured", False),  # long axis
        ("4R", "lymph node", True, 12.0, "measured", False),  # short axis of a node
        ("liver S6", None, None, 0.0, "disappeared", False),
        ("RLL nodule", None, None, None, "too-small", False),
        ("adrenal", "adrenal", False, 12.0, "measured", True),
    ]
    plan = build_plan([r], "Ann")
    (batch,) = plan.batches
    assert len(batch.scans) == 1 and len(batch.scans[0].measurements) == 5
    assert batch.scans[0].source.external_id == "csv:scan|2026-03-04|CT"


@pytest.mark.parametrize("row, problem", [
    ("2026-03-04,CT,X,,,32x21,,", "two axes but the lesion is not said to be a node"),
    ("2026-03-04,CT,X,lung,,0.9,,", "is 0.9 mm"),
    ("2026-03-04,CT,X,lung,,30.1 cm,,", "is 301 mm"),
    ("2026-03-04,CT,X,lung,,12,too small,", "given with status too-small"),
    ("2026-03-04,CT,X,lung,,,,", "empty (and no status)"),
    ("2026-03-04,MRT,X,lung,,12,,", "modality: 'MRT' is not known"),
    ("2026-03-04,CT,X,,,12,,yes", "empty for a new lesion"),
])
def test_bad_scan_rows(row, problem):
    assert problem in only_problem(parse(SCAN + row + "\n"))


def test_size_boundaries_one_and_three_hundred_mm():
    r = parse(SCAN + "2026-03-04,CT,A,lung,,1.0,,\n2026-03-05,CT,A,lung,,300 mm,,\n")
    assert [x.size_mm for x in r.rows] == [1.0, 300.0]


def test_biopsy_rows_are_normalised_like_the_cli():
    head = "date,sample,gene,variant,result,vaf,assay\n"
    r = parse(head + "2026-07-28,plasma,EGFR,p.Thr790Met,detected,0.8%,cobas\n"
                     "2026-07-28,ctDNA,,C797S,negative,,\n")
    assert r.problems == []
    assert [(x.sample, x.gene, x.variant, x.hgvs_p, x.result, x.vaf) for x in r.rows] == [
        ("plasma", "EGFR", "T790M", "p.Thr790Met", "detected", 0.8),
        ("plasma", "EGFR", "C797S", "p.Cys797Ser", "not-detected", None),
    ]
    assert "no VAF unless the variant was detected" in only_problem(
        parse(head + "2026-07-28,plasma,EGFR,T790M,not detected,0.8,\n"))
    assert "vaf: '100.1' is above 100" in only_problem(parse(head + "2026-07-28,plasma,EGFR,T790M,detected,100.1,\n"))
    assert only_problem(parse(head + "2026-07-28,plasma,ALK,T790M,detected,,\n")).startswith("t.csv:2: variant:")


def test_mixed_file_with_a_type_column():
    text = ("type,date,marker,value,unit,lesion,site,size,kind\n"
            "marker,2026-03-04,CEA,3.1,ng/mL,,,,\n"
            "scan,2026-03-04,,,,RUL mass,lung,32,\n"
            "appointment,2026-09-01,,,,,,,visit\n"
            "lab,2026-03-04,,,,,,,\n")
    r = parse(text)
    assert [type(x).__name__ for x in r.rows] == ["MarkerRow", "MeasurementRow", "AppointmentRow"]
    assert only_problem(r) == "t.csv:5: type: 'lab' is not a record type, expected marker, scan, biopsy or appointment"


# ----------------------------------------------------------------------------- mapping files

@pytest.mark.parametrize("text, field", [
    ('colums = {}\n', "colums"),
    ('kind = "labs"\n[columns]\ndate = "d"\n', "kind"),
    ('date_format = "MM/DD/YY"\n[columns]\ndate = "d"\n', "date_format"),
    ('decimal = ";"\n[columns]\ndate = "d"\n', "decimal"),
    ('encoding = "latin-9"\n[columns]\ndate = "d"\n', "encoding"),
    ('[columns]\ndate = "d"\nvalu = "Result"\n', "columns.valu"),
    ('[columns]\nmarker = "d"\n', "columns.date"),
    ('[columns]\ndate = "d"\n[markers]\n"Ferritin" = "ferritin"\n', "markers.Ferritin"),
    ('[columns]\ndate = "d"\n[default_units]\nCEA = "U/mL"\n', "default_units.CEA"),
    ('[columns\n', "m.toml"),
])
def test_mapping_file_problems_name_the_key(text, field):
    with pytest.raises(InputError) as err:
        load_mapping(text, "m.toml")
    assert err.value.message.startswith("m.toml") and field in err.value.message


def test_shipped_mappings_are_in_the_docs_verbatim():
    docs = (Path(__file__).parent.parent / "docs" / "formats.md").read_text("utf-8")
    for name in ("us-lab-portal", "de-lab-export"):
        text = resources.files("lungtrack.importers.mappings").joinpath(f"{name}.toml").read_text("utf-8")
        assert text.strip() in docs, name


def test_skip_lines_defaults_and_a_time_after_the_date():
    mapping = load_mapping(
        'kind = "markers"\nskip_lines = 2\ndate_format = "DD/MM/YYYY"\n'
        '[columns]\ndate = "When"\nmarker = "Test"\nvalue = "Result"\n'
        '[defaults]\nunit = "ng/mL"\nlab = "Portal lab"\n', "m.toml")
    text = ("Results for ANN DOE\nExported 12/08/2026\n"
            "When,Test,Result,Lab\n13/07/2026 08:15,CEA,3.2,\n14/07/2026,CEA,3.3,Other lab\n")
    r = parse(text, mapping)
    assert r.problems == []
    assert [(x.date.isoformat(), x.value, x.unit, x.lab, x.origin) for x in r.rows] == [
        ("2026-07-13", 3.2, "ng/mL", "Portal lab", "t.csv:4"),  # line numbers count the skipped lines
        ("2026-07-14", 3.3, "ng/mL", "Portal lab", "t.csv:5"),  # the mapping names no lab column
    ]
    assert r.ignored_columns == ["Lab"]
