"""``lungtrack biopsy``: add/list/show/edit/delete through the real CLI (in-process).

"Today" is fixed to Sat 2026-08-01 so date boundaries are exact: 2026-08-01 is accepted as a
result date and 2026-08-02 (tomorrow) is refused.  Expected HGVS names come from
clinical.md §3.7 (EGFR T790M = p.Thr790Met / c.2369C>T), not from the implementation.
"""

from __future__ import annotations

import pytest

from conftest import assert_refused

TODAY = "2026-08-01"


@pytest.fixture(autouse=True)
def ann(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY)
    r = cli("patient", "add", "Ann")
    assert r.code == 0, r


def rows(cli) -> list[dict]:
    r = cli("biopsy", "list", "--json")
    assert r.code == 0, r
    return r.json()


def add(cli, *extra: str, date: str = "2026-07-28", sample: str = "plasma", variant: str = "T790M",
        result: str = "detected"):
    return cli("biopsy", "add", "--date", date, "--sample", sample, "--variant", variant, "--result", result, *extra)




# ------------------------------------------------------------------ add

def test_add_full_finding_stores_normalised_names_and_echoes_one_sentence(cli):
    r = add(cli, "--gene", "EGFR", "--variant", "p.Thr790Met", "--vaf", "0.8", "--assay", "cobas EGFR v2")
    assert r.code == 0, r
    assert "Logged EGFR T790M (p.Thr790Met) detected in plasma ctDNA on Tue 2026-07-28 for Ann, VAF 0.8 %." in r.stderr
    [row] = rows(cli)
    assert row["gene"] == "EGFR"
    assert row["variant"] == "T790M"
    assert row["hgvs_p"] == "p.Thr790Met"
    assert row["hgvs_c"] == "c.2369C>T"
    assert row["date"] == "2026-07-28"
    assert row["sample"] == "plasma"
    assert row["result"] == "detected"
    assert row["vaf"] == 0.8 and isinstance(row["vaf"], float)
    assert row["vaf_unit"] == "%"
    assert row["assay"] == "cobas EGFR v2"
    assert row["display"] == "EGFR T790M"
    assert row["allele_context"] is None


@pytest.mark.parametrize("extra", [
    ("--variant", "T790M"),                        # gene inferred from a known variant
    ("--variant", "EGFR T790M"),                   # gene and variant in one
    ("--variant", "t790m"),                        # case does not matter
    ("--gene", "egfr", "--variant", "T790M"),      # gene given separately
    ("--gene", "EGFR", "--variant", "EGFR T790M"),  # given twice, consistently
])
def test_add_variant_spellings_store_the_same_finding(cli, extra):
    r = cli("biopsy", "add", "--date", "2026-07-28", "--sample", "plasma", "--result", "detected", *extra)
    assert r.code == 0, r
    [row] = rows(cli)
    assert (row["gene"], row["variant"], row["hgvs_p"]) == ("EGFR", "T790M", "p.Thr790Met")


def test_add_json_prints_the_stored_row(cli):
    r = add(cli, "--json", "--vaf", "1.5%")
    assert r.code == 0, r
    data = r.json()
    assert data["id"] == rows(cli)[0]["id"]
    assert data["vaf"] == 1.5


def test_add_not_detected_has_no_vaf_in_the_echo(cli):
    r = add(cli, sample="tissue", variant="C797S", result="not-detected")
    assert r.code == 0, r
    assert "Logged EGFR C797S (p.Cys797Ser) not detected in tissue on Tue 2026-07-28 for Ann." in r.stderr
    assert "VAF" not in r.stderr
    assert rows(cli)[0]["vaf"] is None


@pytest.mark.parametrize("vaf, stored", [("0.8%", 0.8), ("0.8 %", 0.8), ("100", 100.0), ("0.01", 0.01)])
def test_vaf_accepted_forms_and_upper_boundary(cli, vaf, stored):
    r = add(cli, "--vaf", vaf)
    assert r.code == 0, r
    assert rows(cli)[0]["vaf"] == stored


@pytest.mark.parametrize("vaf", ["150", "100.01", "-1", "0", "0%", "nan", "inf", "abc", "0,8", "", "%"])
def test_bad_vaf_is_refused_and_nothing_written(cli, vaf):
    r = add(cli, "--vaf", vaf)
    assert_refused(r, "--vaf", "percent")
    assert rows(cli) == []


@pytest.mark.parametrize("result", ["not-detected", "indeterminate"])
def test_vaf_only_allowed_when_detected(cli, result):
    r = add(cli, "--vaf", "0.8", result=result)
    assert_refused(r, "--vaf", result)
    assert rows(cli) == []


def test_allele_context_only_when_detected(cli):
    r = add(cli, "--allele-context", "cis", variant="C797S", result="not-detected")
    assert_refused(r, "--allele-context")
    assert rows(cli) == []
    r = add(cli, "--allele-context", "cis", variant="C797S")
    assert r.code == 0, r
    assert rows(cli)[0]["allele_context"] == "cis"


@pytest.mark.parametrize("args, option, value", [
    (["--sample", "blood", "--result", "detected"], "--sample", "blood"),
    (["--sample", "plasma", "--result", "positive"], "--result", "positive"),
    (["--sample", "plasma", "--result", "detected", "--allele-context", "both"], "--allele-context", "both"),
])
def test_unknown_choice_is_refused_and_nothing_written(cli, args, option, value):
    r = cli("biopsy", "add", "--date", "2026-07-28", "--variant", "T790M", *args)
    assert_refused(r, option, value)
    assert rows(cli) == []


@pytest.mark.parametrize("date, words", [
    ("2026-08-02", ["--date", "2026-08-02", "future"]),   # tomorrow: a result cannot be in the future
    ("03/04/2026", ["--date", "03/04/2026", "ambiguous"]),
    ("2026-02-30", ["--date", "2026-02-30"]),
    ("tuesday", ["--date", "tuesday", "last tuesday"]),  # last or next? (bare weekday)
])
def test_bad_dates_are_refused_and_nothing_written(cli, date, words):
    r = add(cli, date=date)
    assert_refused(r, *words)
    assert rows(cli) == []


def test_today_is_accepted_as_result_date(cli):
    r = add(cli, date="today")
    assert r.code == 0, r
    assert rows(cli)[0]["date"] == TODAY


def test_gene_variant_mismatch_is_refused(cli):
    r = add(cli, "--gene", "ALK", variant="T790M")
    assert_refused(r, "ALK", "T790M")
    assert rows(cli) == []


def test_missing_required_option_is_a_usage_error(cli):
    r = cli("biopsy", "add", "--date", "2026-07-28", "--sample", "plasma", "--variant", "T790M")
    assert_refused(r, "--result")
    assert rows(cli) == []


def test_same_finding_twice_needs_force(cli):
    assert add(cli).code == 0
    r = add(cli)
    assert_refused(r, "--force", "already logged")
    assert len(rows(cli)) == 1
    r = add(cli, "--force")
    assert r.code == 0, r
    assert len(rows(cli)) == 2
    # Another date or sample is a different finding, not a duplicate.
    assert add(cli, date="2026-07-29").code == 0
    assert add(cli, sample="tissue").code == 0
    assert len(rows(cli)) == 4


def test_unknown_patient_is_refused(cli):
    r = add(cli, "--patient", "Bob")
    assert_refused(r, "--patient", "Bob")
    assert rows(cli) == []


# ------------------------------------------------------------------ list / show

def test_list_filters_by_gene_and_prints_a_table(cli):
    assert add(cli, date="2026-07-01").code == 0
    assert add(cli, variant="G1202R", date="2026-07-02").code == 0
    egfr = cli("biopsy", "list", "--gene", "egfr", "--json").json()
    assert [(r["gene"], r["variant"]) for r in egfr] == [("EGFR", "T790M")]
    alk = cli("biopsy", "list", "--gene", "ALK", "--json").json()
    assert [(r["gene"], r["variant"]) for r in alk] == [("ALK", "G1202R")]
    assert cli("biopsy", "list", "--gene", "KRAS", "--json").json() == []
    r = cli("biopsy", "list")
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split("\t")[:5] == ["id", "date", "sample", "gene", "variant"]
    assert len(lines) == 3  # header + 2 findings, oldest first
    assert "T790M" in lines[1] and "G1202R" in lines[2]


def test_list_gene_that_is_not_a_symbol_is_refused(cli):
    assert_refused(cli("biopsy", "list", "--gene", "EGFR T790M", "--json"), "--gene", "EGFR T790M")


def test_list_is_per_patient(cli):
    assert cli("patient", "add", "Bob").code == 0
    assert add(cli, "--patient", "Bob").code == 0
    assert rows(cli) == []  # Ann is the default patient
    assert len(cli("biopsy", "list", "--patient", "Bob", "--json").json()) == 1


def test_show_json_and_text(cli):
    assert add(cli, "--vaf", "0.8", "--assay", "Guardant360").code == 0
    fid = rows(cli)[0]["id"]
    data = cli("biopsy", "show", str(fid), "--json").json()
    assert data["id"] == fid
    assert data["hgvs_c"] == "c.2369C>T"
    assert data["sample_label"] == "plasma ctDNA"
    r = cli("biopsy", "show", str(fid))
    assert r.code == 0, r
    assert "EGFR T790M" in r.stdout and "0.8 %" in r.stdout and "Guardant360" in r.stdout


def test_show_unknown_id_is_not_found(cli):
    r = cli("biopsy", "show", "99")
    assert r.code == 2, r  # a wrong id is bad input (docs/usage.md), not a broken store
    assert len(r.stderr.strip().splitlines()) == 1 and "99" in r.stderr


# ------------------------------------------------------------------ edit

def test_edit_changes_only_given_options(cli):
    assert add(cli, "--vaf", "0.8", "--assay", "cobas EGFR v2").code == 0
    before = rows(cli)[0]
    r = cli("biopsy", "edit", str(before["id"]), "--vaf", "1.2", "--json")
    assert r.code == 0, r
    after = rows(cli)[0]
    assert after["vaf"] == 1.2
    for key in ("date", "sample", "gene", "variant", "hgvs_p", "hgvs_c", "result", "assay", "created_at"):
        assert after[key] == before[key], key
    assert r.json()["vaf"] == 1.2


def test_edit_variant_is_renormalised(cli):
    assert add(cli).code == 0
    fid = rows(cli)[0]["id"]
    r = cli("biopsy", "edit", str(fid), "--variant", "p.Cys797Ser")
    assert r.code == 0, r
    row = rows(cli)[0]
    assert (row["gene"], row["variant"], row["hgvs_p"]) == ("EGFR", "C797S", "p.Cys797Ser")


def test_edit_gene_mismatch_is_refused_and_unchanged(cli):
    assert add(cli).code == 0
    before = rows(cli)
    r = cli("biopsy", "edit", str(before[0]["id"]), "--gene", "ALK")
    assert_refused(r, "ALK")
    assert rows(cli) == before


def test_edit_result_to_not_detected_needs_vaf_cleared(cli):
    assert add(cli, "--vaf", "0.8").code == 0
    before = rows(cli)
    fid = str(before[0]["id"])
    assert_refused(cli("biopsy", "edit", fid, "--result", "not-detected"), "--vaf", "not-detected")
    assert rows(cli) == before
    r = cli("biopsy", "edit", fid, "--result", "not-detected", "--vaf", "none")
    assert r.code == 0, r
    row = rows(cli)[0]
    assert (row["result"], row["vaf"]) == ("not-detected", None)


@pytest.mark.parametrize("args, words", [
    (["--date", "2026-08-02"], ["--date", "future"]),
    (["--vaf", "150"], ["--vaf", "150"]),
    (["--sample", "blood"], ["--sample", "blood"]),
    ([], ["at least one"]),
])
def test_edit_bad_input_changes_nothing(cli, args, words):
    assert add(cli, "--vaf", "0.8").code == 0
    before = rows(cli)
    r = cli("biopsy", "edit", str(before[0]["id"]), *args)
    assert_refused(r, *words)
    assert rows(cli) == before


# ------------------------------------------------------------------ delete

def test_delete_without_yes_and_without_tty_refuses(cli):
    assert add(cli).code == 0
    fid = str(rows(cli)[0]["id"])
    r = cli("biopsy", "delete", fid)
    assert_refused(r, "--yes")
    assert len(rows(cli)) == 1


def test_delete_with_yes_deletes_only_that_finding(cli):
    assert add(cli, date="2026-07-01").code == 0
    assert add(cli, date="2026-07-02").code == 0
    first, second = rows(cli)
    r = cli("biopsy", "delete", str(first["id"]), "--yes")
    assert r.code == 0, r
    assert "Deleted biopsy finding" in r.stderr
    assert [row["id"] for row in rows(cli)] == [second["id"]]
    assert cli("biopsy", "delete", str(first["id"]), "--yes").code == 2  # already gone
