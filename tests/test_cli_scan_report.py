"""lungtrack scan read-report and scan add --from-report, through the CLI."""

from __future__ import annotations

import pytest

from tests.conftest import assert_refused

BASELINE = """CT CHEST, ABDOMEN AND PELVIS WITH CONTRAST

CLINICAL HISTORY: 58-year-old woman with EGFR-mutant lung adenocarcinoma, before osimertinib.

TECHNIQUE: Axial images at 1.25 mm after 90 mL Omnipaque 350. DLP 612 mGy-cm.

FINDINGS:
Lungs: A 3.2 x 2.1 cm spiculated mass in the right upper lobe (series 3, image 45). An 8 mm solid nodule
in the left lower lobe (series 3, image 112).
Lymph nodes: Right paratracheal (4R) lymph node measures 16 mm in short axis (series 2, image 30).
Subcarinal lymph node 18 x 12 mm.
Liver: Hypodense lesion in hepatic segment VI measuring 2.0 cm, suspicious for metastasis.
Bones: No lytic lesion. Degenerative changes at T11-T12.
Vessels: The ascending aorta measures 3.4 cm.

IMPRESSION:
1. 3.2 cm spiculated right upper lobe mass, consistent with the known primary.
2. Mediastinal lymphadenopathy (4R 16 mm short axis).
3. 2.0 cm hepatic segment VI lesion, suspicious for metastasis.
"""

FOLLOW_UP = """CT CHEST, ABDOMEN AND PELVIS WITH CONTRAST

COMPARISON: CT of 01/03/2026.

FINDINGS:
Lungs: The spiculated right upper lobe mass now measures 2.4 x 1.6 cm (series 3, image 44), previously
3.2 x 2.1 cm. The left lower lobe nodule measures 6 mm, previously 8 mm.
Lymph nodes: Right paratracheal (4R) lymph node 9 mm in short axis, previously 16 mm. Subcarinal lymph
node 14 x 8 mm, previously 18 x 12 mm.
Liver: The hepatic segment VI lesion measures 1.4 cm, previously 2.0 cm. No new hepatic lesions.

IMPRESSION:
Partial response: decrease of the right upper lobe mass (2.4 cm from 3.2 cm), the nodes and the liver lesion.
"""

PROGRESSION = """FINDINGS:
The right upper lobe mass measures 4.1 x 3.0 cm, previously 3.2 x 2.1 cm. The left lower lobe nodule
measures 9 mm, previously 8 mm. Right paratracheal (4R) lymph node 17 mm in short axis, previously 16 mm.
Subcarinal lymph node 20 x 13 mm, previously 18 x 12 mm. The hepatic segment VI lesion measures 2.6 cm,
previously 2.0 cm. New 11 mm lesion in the left adrenal gland.
"""


@pytest.fixture
def write(tmp_path):
    def _write(name: str, text: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return str(path)
    return _write


@pytest.fixture
def ann(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-06-01")
    assert cli("patient", "add", "Ann").code == 0
    assert cli("therapy", "start", "osimertinib", "--date", "2026-03-02").code == 0
    return cli


# ------------------------------------------------------------------ read-report

def test_read_report_json_has_exactly_the_documented_fields(cli, write):
    r = cli("scan", "read-report", write("base.txt", BASELINE), "--json")
    assert r.code == 0, r
    rows = r.json()
    assert [set(row) for row in rows] == [{"location", "site", "is_node", "long_axis_mm", "short_axis_mm", "prior_mm",
                                           "new", "unsure", "span"}] * 5
    assert [(x["site"], x["long_axis_mm"], x["short_axis_mm"]) for x in rows] == [
        ("lung", 32.0, 21.0), ("lung", 8.0, None), ("lymph node", None, 16.0), ("lymph node", 18.0, 12.0),
        ("liver", 20.0, None)]
    span = rows[0]["span"]
    assert set(span) == {"start", "end", "text"} and BASELINE[span["start"]:span["end"]] == span["text"] == "3.2 x 2.1 cm"


def test_read_report_table_fits_80_columns_and_quotes_the_text(cli, write):
    r = cli("scan", "read-report", write("follow.txt", FOLLOW_UP))
    assert r.code == 0, r
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "previously 3.2 x 2.1 cm" in r.stdout and "RUL mass" in r.stdout
    assert "Nothing was saved" in r.stderr


def test_read_report_from_standard_input(cli):
    r = cli("scan", "read-report", "-", "--json", input="New 9 mm nodule in the left lower lobe.\n")
    assert r.code == 0, r
    assert [(x["long_axis_mm"], x["new"], x["location"]) for x in r.json()] == [(9.0, True, "LLL nodule")]


def test_read_report_refuses_invalid_utf8_in_one_line(cli, write):
    assert_refused(cli("scan", "read-report", write("bad.txt", b"RUL mass 3 cm \xff\xfe")), "FILE", "UTF-8")


def test_read_report_refuses_a_missing_file(cli, tmp_path):
    assert_refused(cli("scan", "read-report", str(tmp_path / "nope.txt")), "FILE", "nope.txt")


def test_read_report_saves_nothing(cli, write, db_path):
    assert cli("scan", "read-report", write("base.txt", BASELINE)).code == 0
    assert not db_path.exists()


def test_read_report_with_patient_proposes_lesions(ann, write):
    assert ann("scan", "add", "--date", "2026-03-01", "--lesion", "RUL mass: lung, 32 mm",
               "--lesion", "4R: node, 16 mm").code == 0
    r = ann("scan", "read-report", write("f.txt", FOLLOW_UP), "--patient", "Ann", "--json")
    assert r.code == 0, r
    rows = r.json()
    assert rows[0]["match"]["lesion"] == "RUL mass" and "equals the last stored size" in rows[0]["match"]["reason"]
    assert rows[2]["match"]["lesion"] == "4R" and "same station 4R" in rows[2]["match"]["reason"]
    table = ann("scan", "read-report", write("f.txt", FOLLOW_UP), "--patient", "Ann")
    assert "→ RUL mass" in table.stdout and max(len(x) for x in table.stdout.splitlines()) <= 80


# ------------------------------------------------------------------ scan add --from-report

def _response(cli) -> list:
    r = cli("response", "--json")
    assert r.code == 0, r
    return [(tp["date"], tp["sum_mm"], tp["overall"]) for line in r.json()["lines"] for tp in line["timepoints"]]


@pytest.mark.parametrize("follow_text, follow_sizes, new_lesion", [
    (FOLLOW_UP, ("24", "6", "9", "8", "14"), None),
    (PROGRESSION, ("41", "9", "17", "13", "26"), "L adrenal: adrenal, 11 mm"),
], ids=["partial-response", "progression"])
def test_from_report_gives_the_same_recist_result_as_typing_by_hand(ann, write, monkeypatch, follow_text,
                                                                     follow_sizes, new_lesion):
    base, follow = write("base.txt", BASELINE), write("follow.txt", follow_text)
    r = ann("scan", "add", "--from-report", base, "--date", "2026-03-01", "--yes")
    assert r.code == 0, r
    r = ann("scan", "add", "--from-report", follow, "--date", "2026-05-01", "--yes")
    assert r.code == 0, r
    from_report = _response(ann)

    assert ann("patient", "add", "Bob").code == 0
    assert ann("therapy", "start", "osimertinib", "--date", "2026-03-02", "--patient", "Bob").code == 0
    assert ann("scan", "add", "--patient", "Bob", "--date", "2026-03-01", "--lesion", "RUL mass: lung, 32 mm",
               "--lesion", "LLL nodule: lung, 8 mm", "--lesion", "4R: node, 16 mm", "--lesion", "7: node, 12 mm",
               "--lesion", "liver S6: liver, 20 mm").code == 0
    labels = ("RUL mass", "LLL nodule", "4R", "7", "liver S6")
    extra = ["--new-lesion", new_lesion] if new_lesion else []
    r = ann("scan", "add", "--patient", "Bob", "--date", "2026-05-01",
            *[x for label, size in zip(labels, follow_sizes) for x in ("--lesion", f"{label}: {size}")], *extra)
    assert r.code == 0, r
    monkeypatch.setenv("LUNGTRACK_PATIENT", "Bob")
    by_hand = _response(ann)
    assert from_report == by_hand
    assert [tp[2] for tp in from_report] == ["BASELINE", "PR" if follow_text is FOLLOW_UP else "PD"]


def test_from_report_off_a_terminal_needs_yes(ann, write, db_path):
    r = ann("scan", "add", "--from-report", write("base.txt", BASELINE), "--date", "2026-03-01")
    assert_refused(r, "--yes")
    assert ann("scan", "list", "--json").json() == []


def test_from_report_refuses_what_needs_a_decision_and_lists_it(ann, write):
    assert ann("scan", "add", "--from-report", write("base.txt", BASELINE), "--date", "2026-03-01", "--yes").code == 0
    text = ("The right upper lobe mass measures 2.4 x 1.6 cm, previously 3.2 x 2.1 cm. A 7 mm nodule in the right "
            "middle lobe. Hepatic lesion 2,1 cm.")
    r = ann("scan", "add", "--from-report", write("f.txt", text), "--date", "2026-05-01", "--yes")
    assert r.code == 2 and r.stdout == ""
    error = [line for line in r.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1, r
    for words in ("--from-report", "matches no known lesion", "unsure", "nothing was saved"):
        assert words in error[0], (words, r)
    assert "Note: not measured in this report, so not on this scan: LLL nodule" in r.stderr
    assert len(ann("scan", "list", "--json").json()) == 1


def test_from_report_leaves_out_a_lesion_it_gives_no_size_for_and_says_so(ann, write):
    assert ann("scan", "add", "--date", "2026-03-01", "--lesion", "RUL mass: lung, 32 mm",
               "--lesion", "RML nodule: lung, 4 mm").code == 0
    text = "The RUL mass measures 2.4 x 1.6 cm, previously 3.2 x 2.1 cm. Stable tiny right middle lobe nodule."
    r = ann("scan", "add", "--from-report", write("f.txt", text), "--date", "2026-05-01", "--yes")
    assert r.code == 0, r
    assert "not on this scan: RML nodule" in r.stderr
    scan = ann("scan", "show", "2", "--json").json()
    assert [(x["label"], x["size_mm"]) for x in scan["measurements"]] == [("RUL mass", 24.0)]


def test_from_report_points_out_a_prior_size_that_disagrees(ann, write):
    assert ann("scan", "add", "--date", "2026-03-01", "--lesion", "RUL mass: lung, 30 mm").code == 0
    r = ann("scan", "add", "--from-report", write("f.txt", "The RUL mass measures 26 mm, previously 32 mm."),
            "--date", "2026-05-01", "--yes")
    assert r.code == 0, r
    assert "the report gives 32 mm as its prior size, but the last size stored is 30 mm" in r.stderr
    sizes = ann("lesion", "list", "--json").json()[0]["measurements"]
    assert [x["size_mm"] for x in sizes] == [30.0, 26.0]


def test_from_report_keeps_the_report_text_and_scan_show_prints_it(ann, write):
    assert ann("scan", "add", "--from-report", write("base.txt", BASELINE), "--date", "2026-03-01", "--yes").code == 0
    r = ann("scan", "show", "1", "--report")
    assert r.code == 0, r
    assert r.stdout.strip() == BASELINE.strip()
    assert ann("scan", "add", "--date", "2026-04-01", "--lesion", "RUL mass 30").code == 0
    r = ann("scan", "show", "2", "--report")
    assert r.code == 0 and r.stdout == "" and "no report text" in r.stderr


def test_from_report_and_lesion_together_are_refused(ann, write):
    r = ann("scan", "add", "--from-report", write("b.txt", BASELINE), "--lesion", "RUL mass: lung, 3 cm", "--yes")
    assert_refused(r, "--from-report", "not both")


def test_from_report_with_no_sizes_is_refused(ann, write):
    assert_refused(ann("scan", "add", "--from-report", write("b.txt", "No nodules. Aorta 3.1 cm."), "--yes"),
                   "--from-report", "no lesion sizes")


def test_from_report_on_a_terminal_asks_and_saves_only_when_confirmed(ann, write, monkeypatch):
    from lungtrack.cli import common

    assert ann("scan", "add", "--date", "2026-03-01", "--lesion", "RUL mass: lung, 32 mm",
               "--lesion", "4R: node, 16 mm").code == 0
    monkeypatch.setattr(common, "stdin_is_tty", lambda: True)
    text = ("The RUL mass measures 24 mm, previously 32 mm. A 7 mm nodule in the right middle lobe.")
    path = write("f.txt", text)
    # #2 matches nothing: answer "new"; 4R is not mentioned: "too small"; non-target: absent; then decline.
    r = ann("scan", "add", "--from-report", path, "--date", "2026-05-01", input="new\ntoo small\nabsent\nn\n")
    assert r.code == 0, r
    assert "Nothing was saved" in r.stderr and len(ann("scan", "list", "--json").json()) == 1
    r = ann("scan", "add", "--from-report", path, "--date", "2026-05-01", input="new\ntoo small\nabsent\ny\n")
    assert r.code == 0, r
    assert '--new-lesion "RML nodule: lung, 7 mm"' in r.stderr and '--lesion "4R: too small"' in r.stderr
    scan = ann("scan", "show", "2", "--json").json()
    assert {(x["label"], x["size_mm"], x["status"]) for x in scan["measurements"]} == {
        ("RUL mass", 24.0, "measured"), ("4R", None, "too-small")}
    assert [x["label"] for x in scan["new_lesions"]] == ["RML nodule"]
    assert scan["non_target_status"] == "absent"
