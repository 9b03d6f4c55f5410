"""Variant findings: resistance in context, newly detected, rising VAF, plasma-negative note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from lungtrack.core.config import RulesConfig, VariantConfig
from lungtrack.core.history import BiopsyFinding, History, PatientInfo, TherapyLine
from lungtrack.core.variants import context_line, variant_findings
from lungtrack.enums import AlleleContext, BiopsyResult, Sample, Severity, StopReason
from lungtrack.knowledge.drugs import DRUGS
from lungtrack.knowledge.resistance import RESISTANCE, find_resistance
from lungtrack.knowledge.sources import SOURCES

DET, ND = BiopsyResult.DETECTED, BiopsyResult.NOT_DETECTED
PLASMA, TISSUE = Sample.PLASMA, Sample.TISSUE
GEF = TherapyLine(1, "gefitinib", date(2025, 9, 20))


def bx(i, d, gene, variant, result=DET, sample=PLASMA, vaf=None, allele=None) -> BiopsyFinding:
    return BiopsyFinding(i, d, sample, gene, variant, result, vaf=vaf, allele_context=allele)


def hist(biopsies, lines=(GEF,)) -> History:
    return History(PatientInfo(7, "Ann"), lines=tuple(lines), biopsies=tuple(biopsies))


def rules(findings) -> list[str]:
    return sorted(f.rule for f in findings)


# --------------------------------------------------------------------------- knowledge table


def test_every_row_is_sourced_and_worded_as_a_topic() -> None:
    for row in RESISTANCE:
        assert row.sources and all(k in SOURCES for k in row.sources), row.key
        assert row.topic.startswith("Topic to discuss:"), row.key
        assert row.meaning


def test_lookup_depends_on_context() -> None:
    gef, osi, alec = DRUGS["gefitinib"], DRUGS["osimertinib"], DRUGS["alectinib"]
    assert find_resistance("EGFR", "T790M", gef).key == "egfr-t790m-g12"
    assert find_resistance("EGFR", "T790M", DRUGS["afatinib"]).key == "egfr-t790m-g12"
    assert find_resistance("EGFR", "T790M", osi) is None  # on osimertinib T790M is its target
    assert find_resistance("EGFR", "C797S", gef) is None
    assert find_resistance("EGFR", "C797S", osi, t790m=True).key == "egfr-c797s-with-t790m"
    assert find_resistance("EGFR", "C797S", osi, t790m=False).key == "egfr-c797s-without-t790m"
    assert find_resistance("EGFR", "C797S", osi, t790m=None).key == "egfr-c797s"
    assert find_resistance("HER2", "amplification", osi).key == "erbb2-amplification-egfr"
    assert find_resistance("ALK", "G1202R", alec).key == "alk-g1202r"
    assert find_resistance("ALK", "G1202R", DRUGS["lorlatinib"]) is None
    assert find_resistance("ALK", "fusion", alec) is None  # a driver is not a resistance mutation
    assert find_resistance("ALK", "L1196M", DRUGS["crizotinib"]).key == "alk-l1196m"
    assert find_resistance("ALK", "L1196M", alec).key == "alk-mutation"  # generic ALK row on 2nd gen
    assert find_resistance("ROS1", "G2032R", DRUGS["crizotinib"]).key == "ros1-g2032r"  # crizotinib also ROS1
    assert find_resistance("", "small-cell transformation", DRUGS["platinum-pemetrexed"]).key == \
        "small-cell-transformation"
    assert find_resistance("MET", "amplification", DRUGS["platinum-pemetrexed"]) is None


# --------------------------------------------------------------------------- variant.resistance


def test_story_two_t790m_on_gefitinib() -> None:
    h = hist([
        bx(1, date(2026, 1, 15), "EGFR", "T790M", ND),
        bx(2, date(2026, 7, 28), "EGFR", "T790M", DET, vaf=0.8),
    ])
    [f] = variant_findings(h)
    assert f.rule == "variant.resistance" and f.severity == Severity.ALERT
    assert f.subject == "EGFR-T790M" and f.date == date(2026, 7, 28)
    assert f.id == "variant.resistance:egfr-t790m:2026-07-28"
    assert f.evidence.startswith("EGFR T790M detected (plasma ctDNA, 2026-07-28, VAF 0.8 %); not detected on 2026-01-15.")
    assert "50–60 %" in f.discuss and "Topic to discuss: re-testing and third-generation EGFR TKI options" in f.discuss
    assert "10.1 vs 4.4" in f.discuss  # AURA3, confirmed
    assert "Yu 2013" in f.source and "AURA3" in f.source


def test_first_ever_test_after_progression_is_still_resistance() -> None:
    [f] = variant_findings(hist([bx(1, date(2026, 7, 28), "EGFR", "T790M", DET)]))
    assert f.rule == "variant.resistance"
    assert "no earlier test for it recorded" in f.evidence


def test_diagnostic_biopsy_before_any_line_is_not_resistance() -> None:
    h = hist([bx(1, date(2025, 9, 2), "EGFR", "T790M", DET, sample=TISSUE)])
    assert variant_findings(h) == []


def test_biopsy_on_the_start_day_of_a_new_line_reads_in_the_previous_context() -> None:
    osi = TherapyLine(2, "osimertinib", date(2026, 8, 1))
    h = hist([bx(1, date(2026, 8, 1), "EGFR", "T790M", DET)], lines=(GEF, osi))
    assert context_line(h, date(2026, 8, 1)) == GEF
    assert rules(variant_findings(h)) == ["variant.resistance"]
    # One day later the context is osimertinib: T790M is not a resistance mechanism there, but
    # its detection on a 3rd-generation TKI is still a finding (issue 8).
    h2 = hist([bx(1, date(2026, 8, 2), "EGFR", "T790M", DET)], lines=(GEF, osi))
    assert rules(variant_findings(h2)) == ["variant.t790m_third_generation"]


def test_persisting_detection_is_not_repeated() -> None:
    h = hist([
        bx(1, date(2026, 7, 28), "EGFR", "T790M", DET, vaf=0.8),
        bx(2, date(2026, 8, 25), "EGFR", "T790M", DET, vaf=0.8),
    ])
    assert rules(variant_findings(h)) == ["variant.resistance"]  # only the first; VAF unchanged


def test_redetection_after_a_negative_is_a_new_event() -> None:
    h = hist([
        bx(1, date(2026, 5, 1), "EGFR", "T790M", DET),
        bx(2, date(2026, 6, 1), "EGFR", "T790M", ND),
        bx(3, date(2026, 7, 1), "EGFR", "T790M", DET),
    ])
    assert [f.date for f in variant_findings(h)] == [date(2026, 5, 1), date(2026, 7, 1)]


def test_c797s_with_t790m_unknown_phase() -> None:
    osi = TherapyLine(2, "osimertinib", date(2026, 8, 1))
    d = date(2027, 3, 1)
    h = hist([bx(1, d, "EGFR", "T790M", DET, vaf=2.0), bx(2, d, "EGFR", "C797S", DET, vaf=1.0)], lines=(GEF, osi))
    by_rule = {f.rule: f for f in variant_findings(h)}
    assert sorted(by_rule) == ["variant.resistance", "variant.t790m_third_generation"]
    f = by_rule["variant.resistance"]
    assert f.subject == "EGFR-C797S"
    assert "Cis/trans with T790M: unknown (most plasma assays cannot tell)." in f.evidence
    assert "cis" in f.discuss and "no approved EGFR TKI" in f.discuss
    assert f.data["entry_key"] == "egfr-c797s-with-t790m"


@pytest.mark.parametrize("allele, text", [(AlleleContext.CIS, "cis (as reported)"),
                                          (AlleleContext.TRANS, "trans (as reported)")])
def test_c797s_allele_context_as_given(allele, text) -> None:
    osi = TherapyLine(2, "osimertinib", date(2026, 8, 1))
    d = date(2027, 3, 1)
    h = hist([bx(1, d, "EGFR", "T790M", DET), bx(2, d, "EGFR", "C797S", DET, allele=allele)], lines=(GEF, osi))
    [f] = [x for x in variant_findings(h) if x.subject == "EGFR-C797S"]
    assert text in f.evidence
    if allele == AlleleContext.TRANS:
        assert "unconfirmed" in f.discuss


def test_c797s_without_t790m_after_first_line_osimertinib() -> None:
    osi = TherapyLine(1, "osimertinib", date(2025, 9, 20))
    d = date(2027, 3, 1)
    h = hist([bx(1, d, "EGFR", "T790M", ND), bx(2, d, "EGFR", "C797S", DET)], lines=(osi,))
    [f] = variant_findings(h)
    assert f.data["entry_key"] == "egfr-c797s-without-t790m"
    assert "1st/2nd-generation" in f.discuss and "preclinical" in f.discuss
    assert "Ercan 2015" in f.source


def test_bypass_and_transformation_on_osimertinib() -> None:
    osi = TherapyLine(1, "osimertinib", date(2025, 9, 20))
    d = date(2027, 1, 10)
    h = hist([
        bx(1, d, "MET", "amplification"),
        bx(2, d, "HER2", "amplification", sample=TISSUE),
        bx(3, d, "", "small-cell transformation", sample=TISSUE),
    ], lines=(osi,))
    found = {f.subject: f for f in variant_findings(h)}
    assert set(found) == {"MET-amplification", "ERBB2-amplification", "small-cell transformation"}
    assert all(f.rule == "variant.resistance" and f.severity == Severity.ALERT for f in found.values())
    assert "Leonetti 2019" in found["MET-amplification"].source
    assert found["ERBB2-amplification"].evidence.startswith("HER2 (ERBB2) amplification detected (tissue")


def test_alk_and_ros1_contexts() -> None:
    alec = TherapyLine(1, "alectinib", date(2025, 1, 1))
    d = date(2026, 6, 1)
    [f] = variant_findings(hist([bx(1, d, "ALK", "G1202R", vaf=1.2)], lines=(alec,)))
    assert f.rule == "variant.resistance" and "lorlatinib" in f.discuss and "Gainor 2016" in f.source
    criz = TherapyLine(1, "crizotinib", date(2025, 1, 1))
    [g] = variant_findings(hist([bx(1, d, "ROS1", "G2032R")], lines=(criz,)))
    assert g.rule == "variant.resistance" and "Lin 2021" in g.source


# --------------------------------------------------------------------------- variant.new


def test_new_alteration_without_table_meaning() -> None:
    h = hist([
        bx(1, date(2026, 1, 15), "EGFR", "exon 19 deletion", DET, vaf=0.5),
        bx(2, date(2026, 7, 28), "EGFR", "exon 20 insertion", DET, vaf=0.4),
    ])
    [f] = variant_findings(h)
    assert f.rule == "variant.new" and f.severity == Severity.WATCH and f.subject == "EGFR-exon 20 insertion"
    assert "not reported on the previous EGFR test (2026-01-15)" in f.evidence


def test_driver_reappearing_in_plasma_is_new() -> None:
    h = hist([
        bx(1, date(2026, 1, 15), "EGFR", "exon 19 deletion", ND),
        bx(2, date(2026, 7, 28), "EGFR", "exon 19 deletion", DET, vaf=0.4),
    ])
    [f] = variant_findings(h)
    assert f.rule == "variant.new" and "not detected on 2026-01-15" in f.evidence


def test_first_test_of_a_gene_without_meaning_raises_nothing() -> None:
    assert variant_findings(hist([bx(1, date(2026, 7, 28), "EGFR", "exon 19 deletion", DET)])) == []


def test_resistance_and_new_are_not_both_raised() -> None:
    h = hist([bx(1, date(2026, 1, 15), "EGFR", "T790M", ND), bx(2, date(2026, 7, 28), "EGFR", "T790M", DET)])
    assert rules(variant_findings(h)) == ["variant.resistance"]


# --------------------------------------------------------------------------- variant.vaf_rising


def vaf_history(v1: float, v2: float, s2=PLASMA) -> History:
    return hist([
        bx(1, date(2026, 1, 15), "EGFR", "exon 19 deletion", DET, vaf=v1),
        bx(2, date(2026, 3, 15), "EGFR", "exon 19 deletion", DET, vaf=v2, sample=s2),
    ])


def test_vaf_rising_default_any_rise() -> None:
    [f] = variant_findings(vaf_history(0.3, 1.9))
    assert f.rule == "variant.vaf_rising" and f.severity == Severity.WATCH and f.date == date(2026, 3, 15)
    assert "0.3 % (2026-01-15) → 1.9 % (2026-03-15), +1.6 percentage points" in f.evidence
    assert variant_findings(vaf_history(0.3, 0.3)) == []  # equal: not a rise (> 0 points needed)
    assert variant_findings(vaf_history(1.9, 0.3)) == []


def test_vaf_rise_threshold_is_strict() -> None:
    config = RulesConfig(variants=VariantConfig(vaf_rise_min_points=0.5))
    assert variant_findings(vaf_history(0.8, 1.3), config) == []  # exactly +0.5: not more than 0.5
    assert rules(variant_findings(vaf_history(0.8, 1.4), config)) == ["variant.vaf_rising"]


def test_vaf_not_compared_across_sample_types() -> None:
    assert variant_findings(vaf_history(0.3, 40.0, s2=TISSUE)) == []


def test_vaf_rising_needs_consecutive_detections() -> None:
    h = hist([
        bx(1, date(2026, 1, 15), "EGFR", "exon 19 deletion", DET, vaf=0.3),
        bx(2, date(2026, 2, 15), "EGFR", "exon 19 deletion", ND),
        bx(3, date(2026, 3, 15), "EGFR", "exon 19 deletion", DET, vaf=1.0),
    ])
    assert rules(variant_findings(h)) == ["variant.new"]  # re-detected, not "rising"


# --------------------------------------------------------------------------- plasma negative


def test_plasma_negative_after_progression_on_first_generation() -> None:
    stopped = TherapyLine(1, "gefitinib", date(2025, 9, 20), end=date(2026, 7, 20), stop_reason=StopReason.PROGRESSION)
    h = hist([bx(1, date(2026, 7, 28), "EGFR", "T790M", ND)], lines=(stopped,))
    [f] = variant_findings(h)
    assert f.rule == "variant.plasma_negative" and f.severity == Severity.INFO
    assert "tissue re-testing" in f.discuss and "design note" in f.discuss


@dataclass
class FakeResponse:
    line: TherapyLine
    first_pd_date: date | None


def test_plasma_negative_uses_recist_progression() -> None:
    h = hist([bx(1, date(2026, 7, 28), "EGFR", "T790M", ND)])
    assert variant_findings(h) == []  # no progression known: a negative test is expected
    assert rules(variant_findings(h, responses=[FakeResponse(GEF, date(2026, 7, 1))])) == ["variant.plasma_negative"]
    assert variant_findings(h, responses=[FakeResponse(GEF, date(2026, 8, 1))]) == []  # PD after the test


def test_plasma_negative_not_for_tissue_or_osimertinib() -> None:
    responses = [FakeResponse(GEF, date(2026, 7, 1))]
    tissue = hist([bx(1, date(2026, 7, 28), "EGFR", "T790M", ND, sample=TISSUE)])
    assert variant_findings(tissue, responses=responses) == []
    osi = TherapyLine(1, "osimertinib", date(2025, 9, 20))
    h = hist([bx(1, date(2026, 7, 28), "EGFR", "T790M", ND)], lines=(osi,))
    assert variant_findings(h, responses=[FakeResponse(osi, date(2026, 7, 1))]) == []


# --------------------------------------------------------------------------- T790M on a 3rd-generation TKI


def test_t790m_on_osimertinib_with_no_earlier_test_yields_a_watch_finding() -> None:
    osi = TherapyLine(1, "osimertinib", date(2025, 9, 20))
    [f] = variant_findings(hist([bx(1, date(2026, 9, 1), "EGFR", "T790M", DET, vaf=1.2)], lines=(osi,)))
    assert f.id == "variant.t790m_third_generation:egfr-t790m:2026-09-01"
    assert f.severity == Severity.WATCH
    assert f.title == "EGFR T790M detected on osimertinib (3rd-generation EGFR TKI)"
    assert f.evidence == ("EGFR T790M detected (plasma ctDNA, 2026-09-01, VAF 1.2 %); no earlier test for it "
                          "recorded. Therapy at the time: osimertinib, started 2025-09-20, a 3rd-generation EGFR TKI.")
    # facts + topic, never advice; not called a resistance mechanism
    assert "not a known resistance mechanism" in f.discuss and "persisting T790M" in f.discuss
    assert "Topic to discuss:" in f.discuss
    assert "AURA3" in f.source and "Mu 2020" in f.source
    assert f.data["entry_key"] == "egfr-t790m-g3"


def test_t790m_persisting_from_gefitinib_into_osimertinib_is_reported_once_per_context() -> None:
    osi = TherapyLine(2, "osimertinib", date(2026, 8, 10))
    h = hist([
        bx(1, date(2026, 7, 28), "EGFR", "T790M", DET),  # on gefitinib: resistance (alert)
        bx(2, date(2026, 11, 2), "EGFR", "T790M", DET),  # on osimertinib: persisting
        bx(3, date(2027, 2, 1), "EGFR", "T790M", DET),  # again on osimertinib: not repeated
    ], lines=(GEF, osi))
    fs = variant_findings(h)
    assert [(f.rule, f.date) for f in fs] == [("variant.resistance", date(2026, 7, 28)),
                                              ("variant.t790m_third_generation", date(2026, 11, 2))]
    assert "also detected on 2026-07-28" in fs[1].evidence


def test_t790m_on_other_contexts_is_unchanged() -> None:
    # Not detected on osimertinib: nothing; on gefitinib: the resistance row; before any line: nothing.
    osi = TherapyLine(1, "osimertinib", date(2025, 9, 20))
    assert variant_findings(hist([bx(1, date(2026, 9, 1), "EGFR", "T790M", ND)], lines=(osi,))) == []
    assert rules(variant_findings(hist([bx(1, date(2026, 9, 1), "EGFR", "T790M", DET)]))) == ["variant.resistance"]
    assert variant_findings(hist([bx(1, date(2025, 9, 1), "EGFR", "T790M", DET)], lines=(osi,))) == []


def test_cli_check_shows_t790m_on_osimertinib(cli, monkeypatch) -> None:
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-09-10")
    assert cli("patient", "add", "Ann").code == 0
    assert cli("therapy", "start", "osimertinib", "--on", "2025-09-20").code == 0
    r = cli("biopsy", "add", "--date", "2026-09-01", "--sample", "plasma", "--variant", "EGFR T790M",
            "--result", "detected")
    assert r.code == 0, r
    r = cli("check", "--json")
    ids = [f["id"] for p in r.json()["patients"] for f in p["findings"]]
    assert "variant.t790m_third_generation:egfr-t790m:2026-09-01" in ids
