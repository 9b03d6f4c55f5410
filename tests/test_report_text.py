"""Reading lesion measurements out of CT report text (lungtrack.parsing.report_text)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.parsing.report_text import (
    KnownLesion,
    ReadMeasurement,
    match_lesions,
    read_report,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def _dev_dir() -> Path | None:
    for candidate in (REPO_ROOT.parent / "shared" / "external" / "radiology-dev",
                      Path("/work/shared/external/radiology-dev")):
        if (candidate / "cases.json").is_file():
            return candidate
    return None


def one(text: str) -> ReadMeasurement:
    found = read_report(text)
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------ size forms

@pytest.mark.parametrize("text, long, short", [
    ("A 2.3 x 1.8 cm spiculated mass in the right upper lobe.", 23.0, 18.0),
    ("Right hilar node 18 x 12 mm.", 18.0, 12.0),
    ("Mass in the LLL measuring 1.8x2.5 cm.", 25.0, 18.0),
    ("RUL nodule 16mm.", 16.0, None),
    ("A 7-millimeter nodule in the right middle lobe.", 7.0, None),
    ("A 2.4-cm lobulated cortical cyst in the left kidney.", 24.0, None),
    ("Pleural nodularity measuring up to 15 mm.", 15.0, None),
    ("Mass in the RLL measuring 4.1 x 3.2 x 2.9 cm.", 41.0, None),
    ("Nodule in the lingula, 0.6 centimeters.", 6.0, None),
    ("RUL mass 2.3 cm by 1.8 cm.", 23.0, 18.0),
    ("Left lower lobe nodule measuring .8 cm.", 8.0, None),
])
def test_size_forms(text, long, short):
    rm = one(text)
    assert rm.long_axis_mm == long
    assert rm.short_axis_mm == short
    assert rm.span.text in text and text[rm.span.start:rm.span.end] == rm.span.text


def test_cm_to_mm_has_no_float_noise():
    assert one("Target lesion RUL 2.38 cm.").long_axis_mm == 23.8
    assert one("Nodule in the LUL, 1.15 cm.").long_axis_mm == 11.5


def test_range_gives_the_largest_value():
    rm = one("3 to 6 mm nodules in both lungs.")
    assert rm.long_axis_mm == 6.0 and rm.site == "lung" and not rm.unsure
    assert one("Scattered 3-4 mm nodules in the right lower lobe.").long_axis_mm == 4.0


def test_group_largest():
    rm = one("Multiple bilateral sub-centimeter nodules, the largest 7 mm.")
    assert (rm.long_axis_mm, rm.site, rm.is_node) == (7.0, "lung", False)


# ------------------------------------------------------------------ nodes, short axis, stations

def test_short_axis_only():
    rm = one("Subcarinal lymph node measures 12 mm in short axis.")
    assert (rm.long_axis_mm, rm.short_axis_mm, rm.is_node, rm.site, rm.station) == (None, 12.0, True, "lymph node", "7")


def test_short_axis_before_the_value():
    rm = one("Right hilar lymph node with a short-axis diameter of 11 mm.")
    assert (rm.long_axis_mm, rm.short_axis_mm) == (None, 11.0)


def test_station_and_two_dimensions():
    rm = one("Right paratracheal (4R) node 16 x 11 mm.")
    assert (rm.long_axis_mm, rm.short_axis_mm, rm.station, rm.is_node) == (16.0, 11.0, "4R", True)


def test_long_and_short_axis_given_separately_are_one_measurement():
    rm = one("Right upper lobe mass, long axis 32 mm, short axis 21 mm.")
    assert (rm.long_axis_mm, rm.short_axis_mm) == (32.0, 21.0)


def test_short_axis_carries_to_a_second_side():
    found = read_report("Bilateral axillary lymph nodes with a short-axis diameter of 15 mm on the right and "
                        "12 mm on the left.")
    assert [(f.short_axis_mm, f.side) for f in found] == [(15.0, "right"), (12.0, "left")]
    assert all(f.long_axis_mm is None and f.is_node for f in found)


def test_intrapulmonary_lymph_node_is_lung():
    rm = one("Perifissural nodule in the right lower lobe, 6 mm, likely an intrapulmonary lymph node.")
    assert rm.site == "lung" and not rm.is_node


def test_list_items_inherit_the_header():
    text = "Multiple notable abdominal lymph nodes, including:\nLiver hilum: 11 mm (3-86)\nPrecaval: 16 mm (8-104)\n"
    found = read_report(text)
    assert [(f.long_axis_mm, f.is_node) for f in found] == [(11.0, True), (16.0, True)]


# ------------------------------------------------------------------ sites

@pytest.mark.parametrize("text, site", [
    ("Hepatic segment 7 lesion 1.4 cm.", "liver"),
    ("Left adrenal nodule measuring 2.1 x 1.7 cm.", "adrenal"),
    ("Sclerotic lesion in the T11 vertebral body measuring 1.5 cm.", "bone"),
    ("There is a 1.2 cm enhancing lesion in the right frontal lobe.", "brain"),
    ("Nodular pleural thickening along the left lateral pleura, 14 mm.", "pleura"),
    ("A 2.3 x 1.8 cm spiculated mass in the right upper lobe.", "lung"),
    ("Pleural-based nodule in the RLL measures 9 mm.", "lung"),
    ("A 2.4-cm lobulated cortical cyst in the left kidney.", "other"),
])
def test_sites(text, site):
    assert one(text).site == site


# ------------------------------------------------------------------ numbers that are not sizes

@pytest.mark.parametrize("text", [
    "Sum of diameters 54 mm.",
    "Sum of longest diameter of target lesions = 6.2 cm = 62 mm.",
    "The aorta measures 3.2 cm.",
    "Ascending aorta 4.1 cm. The main pulmonary artery measures 31 mm.",
    "Lytic lesion in the L1 vertebral body.",
    "Left renal stone 4 mm.",
    "Mildly distended gallbladder containing a few small gallstones (up to 4 mm).",
    "Mildly prominent CBD (up to 8 mm).",
    "Gallbladder wall thickness 4 mm.",
    "A 1.4-cm saccular aneurysm of the left renal artery.",
    "Spleen measures 13 cm in craniocaudal dimension.",
    "Cranio-caudal spleen measurement remains 11 cm.",
    "Pericardial effusion measuring 8 mm.",
    "Endotracheal tube tip 4 cm above the carina.",
    "A 3 cm hiatal hernia.",
    "Nodule (series 5, image 226) on the CT of 03/12/2022; 68-year-old; 100 mL Omnipaque; 204 HU.",
    "Nodule seen at (4:77), Im 89, Se 302, segment 6, T11, C6, 6th-7th ribs.",
    "Slice thickness 1.25 mm.",
    "Axial images reconstructed at 5 mm intervals.",
    "Values reported for 16-32-cm PMMA phantom.",
    "DLP 612 mGy-cm; CTDIvol 9.2 mGy.",
    "Area 2.3 cm2 and volume 4 cm³.",
    "No mediastinal or hilar lymphadenopathy by CT size criteria (short axis ≥ 10 mm).",
    "For a solid nodule of 6-8 mm, follow-up CT at 6-12 months is recommended per Fleischner guidelines.",
    "Several nodules less than 5 mm.",
    "The mass abuts the pleura over a length of 3 cm.",
    "The previously seen 6 mm nodule in the lingula has resolved.",
    "Aorta: ascending 3.8 cm, descending 2.5 cm.",
])


def test_numbers_that_are_not_lesion_sizes(text):
    assert read_report(text) == []


def test_a_distance_is_not_a_size_but_the_mass_is():
    rm = one("The RUL mass is located 2 cm from the hilum and measures 3.1 cm.")
    assert rm.long_axis_mm == 31.0


def test_a_solid_component_is_not_a_second_lesion():
    assert one("Ground-glass opacity in the RUL measuring 12 mm, with a 4 mm solid component.").long_axis_mm == 12.0


def test_no_spaces_around_the_x():
    rm = one("2.3cmx1.8cm mass in the LUL.")
    assert (rm.long_axis_mm, rm.short_axis_mm, rm.location) == (23.0, 18.0, "LUL mass")


def test_a_line_label_belongs_to_its_first_sentence_only():
    found = read_report("Lesion 1 (RUL): 25 mm (baseline 32 mm). Lesion 2 (liver S6): 14 mm (baseline 20 mm).")
    assert [(f.site, f.location) for f in found] == [("lung", "RUL lesion"), ("liver", "liver S6 lesion")]


def test_technique_and_history_sections_are_skipped():
    text = ("HISTORY: Known 2.5 cm RUL mass on the outside CT.\n\nTECHNIQUE: Contiguous 5 mm axial images.\n\n"
            "FINDINGS:\nLungs: 6 mm RUL nodule.\n")
    assert [f.long_axis_mm for f in read_report(text)] == [6.0]


def test_a_markdown_report_keeps_findings_under_organ_headings():
    text = "## Technique\n\nImages at 5 mm.\n\n## Findings\n\n### Liver\n\n- Dominant lesion in segment VII measures 2.8 x 2.3 cm.\n"
    rm = one(text)
    assert (rm.site, rm.long_axis_mm, rm.short_axis_mm) == ("liver", 28.0, 23.0)


# ------------------------------------------------------------------ prior sizes and "new"

@pytest.mark.parametrize("text, long, prior", [
    ("A 2.3 x 1.8 cm spiculated mass in the right upper lobe (series 3, image 45), previously 2.0 x 1.5 cm.", 23.0, 20.0),
    ("RUL nodule now 15 mm, compared to 12 mm on the prior study.", 15.0, 12.0),
    ("The right lower lobe nodule has increased from 8 to 11 mm.", 11.0, 8.0),
    ("The LLL mass has decreased from 3.5x4.6 cm to 3.3x3.8 cm (Im 58 Se 210).", 38.0, 46.0),
    ("Target lesion#1 now 2.38 cm from 2.65 cm.", 23.8, 26.5),
    ("Nodule in the LUL (4:77) measures 13 mm, was 10 mm.", 13.0, 10.0),
    ("Left adrenal nodule 21 mm (18 mm on the prior study).", 21.0, 18.0),
    ("Subcarinal node measures 8 x 6 mm (previously 8 x 6 mm).", 8.0, 8.0),
    ("Left adrenal nodule measuring 2.1 x 1.7 cm, previously 1.5 x 1.2 cm.", 21.0, 15.0),
    ("The 12 mm nodule previously seen in the RLL now measures 15 mm.", 15.0, 12.0),
    ("The 1.2 cm RUL nodule has grown to 1.6 cm.", 16.0, 12.0),
    ("RLL nodule 6 mm -> 8 mm.", 8.0, 6.0),
    ("RUL nodule 8 mm (prev. 6 mm).", 8.0, 6.0),
    ("Lesion 1 (RUL): 25 mm (baseline 32 mm).", 25.0, 32.0),
    ("The left adrenal mass has increased, 3.4 cm compared with 2.5 cm.", 34.0, 25.0),
    ("Interval increase in size of the left lower lobe nodule to 1.4 cm from 1.0 cm.", 14.0, 10.0),
])
def test_prior_sizes(text, long, prior):
    rm = one(text)
    assert (rm.long_axis_mm, rm.prior_mm) == (long, prior)


def test_unchanged_without_a_number_has_no_prior():
    rm = one("No change in the 5-mm nodule.")
    assert (rm.long_axis_mm, rm.prior_mm) == (5.0, None)
    rm = one("The previously described 5 mm ground-glass nodule in the left lower lobe is unchanged.")
    assert (rm.long_axis_mm, rm.prior_mm) == (5.0, None)


def test_new():
    assert one("New 9 mm nodule in the left lower lobe.").new is True
    assert one("A 4 mm nodule in the RML, new since the prior study.").new is True
    assert one("No new nodules. Stable 4 mm RML nodule.").new is False


def test_hedged_new_is_unsure_not_new():
    rm = one("New or enlarging 8 mm nodule in the RUL.")
    assert rm.new is False and rm.unsure is True and "hedges" in rm.why_unsure


def test_two_lesions_in_one_sentence():
    found = read_report("A 4 mm nodule in the lingula and a 6 mm nodule in the LUL are unchanged.")
    assert [(f.long_axis_mm, f.location) for f in found] == [(4.0, "lingula nodule"), (6.0, "LUL nodule")]


def test_target_lesion_list_on_one_line():
    found = read_report("Target lesions: 1. RUL mass 32 mm 2. LLL nodule 15 mm")
    assert [(f.long_axis_mm, f.location) for f in found] == [(32.0, "RUL mass"), (15.0, "LLL nodule")]


# ------------------------------------------------------------------ restatements

def test_impression_restating_a_lesion_is_the_same_lesion():
    text = ("FINDINGS:\nRUL mass measures 3.5 cm (previously 2.8 cm). Subcarinal node 9 mm.\n\n"
            "IMPRESSION:\n1. Increase in size of the RUL mass, now 3.5 cm (previously 2.8 cm).\n")
    found = read_report(text)
    assert [(f.long_axis_mm, f.prior_mm) for f in found] == [(35.0, 28.0), (9.0, None)]
    assert found[0].section == "findings"


def test_impression_with_a_lesion_of_its_own_is_kept():
    text = "FINDINGS:\nRUL mass 35 mm.\n\nIMPRESSION:\nRUL mass 35 mm. New 6 mm left adrenal nodule.\n"
    assert [f.long_axis_mm for f in read_report(text)] == [35.0, 6.0]


def test_two_lesions_of_the_same_size_in_the_findings_stay_two():
    found = read_report("Subpleural lesion, 9 mm (9-101).\nStable nodules: 5 mm (8-173), 7 mm (11-86), and 9 mm (11-189).")
    assert [f.long_axis_mm for f in found] == [9.0, 5.0, 7.0, 9.0]


# ------------------------------------------------------------------ unsure, never invented

def test_decimal_comma_is_unsure_and_has_no_value():
    rm = one("Left hepatic lobe cyst 2,3 cm.")
    assert rm.unsure and rm.long_axis_mm is None and rm.short_axis_mm is None and rm.span.text == "2,3 cm"


def test_size_with_nothing_named_is_unsure():
    rm = one("Measures 12 mm.")
    assert rm.unsure and rm.long_axis_mm == 12.0


def test_empty_text():
    assert read_report("") == [] and read_report("   \n") == []


@given(st.lists(st.one_of(st.integers(0, 9999).map(str), st.sampled_from(
    ["image", "series", "HU", "mL", "(4:77)", "T11", "segment", "nodule", "mass", "on", "03/12/2022", ",", "."])),
    max_size=30))
def test_numbers_without_a_length_unit_are_never_sizes(words):
    assert all(f.long_axis_mm is None and f.short_axis_mm is None for f in read_report(" ".join(words)))


@given(st.integers(1, 150), st.sampled_from(["mm", "cm"]))
def test_every_unit_size_after_a_nodule_is_read_exactly(value, unit):
    rm = one(f"Nodule in the right upper lobe measuring {value} {unit}.")
    assert rm.long_axis_mm == (value * 10 if unit == "cm" else value)


# ------------------------------------------------------------------ matching

def test_matching_by_station_side_lobe_and_prior():
    text = ("Right paratracheal (4R) node 9 mm in short axis, previously 16 mm. The RUL mass measures 24 mm, "
            "previously 32 mm. Left adrenal nodule 12 mm. New 6 mm nodule in the LLL.")
    readings = read_report(text)
    known = [KnownLesion("4R", "lymph node", True, 16.0), KnownLesion("7", "lymph node", True, 12.0),
             KnownLesion("RUL mass", "lung", False, 32.0), KnownLesion("L adrenal", "adrenal", False, 14.0),
             KnownLesion("R adrenal", "adrenal", False, 10.0)]
    matches = match_lesions(readings, known)
    assert [m.label for m in matches] == ["4R", "RUL mass", "L adrenal", None]
    assert "same station 4R" in matches[0].reason and not matches[0].doubtful
    assert "equals the last stored size" in matches[1].reason
    assert "same side (left)" in matches[2].reason
    assert matches[2].doubtful  # only organ and side agree: asked, not guessed
    assert matches[3].reason == "the report calls it new" and not matches[3].doubtful


def test_a_node_never_matches_a_lung_lesion():
    readings = read_report("Subcarinal lymph node 14 mm in short axis.")
    assert match_lesions(readings, [KnownLesion("RUL mass", "lung", False, 14.0)])[0].label is None


# ------------------------------------------------------------------ the development set

def _score_dev_set(dev: Path) -> tuple[int, int, int, list[str]]:
    cases = json.loads((dev / "cases.json").read_text(encoding="utf-8"))
    found = expected = correct = 0
    problems: list[str] = []
    for case in cases:
        text = (dev / case["report_file"]).read_text(encoding="utf-8")
        got = read_report(text)
        found += len(got)
        expected += len(case["measurements"])
        used: set[int] = set()
        for exp in case["measurements"]:
            for j, g in enumerate(got):
                if j in used:
                    continue
                if exp["long_axis_mm"] is None:
                    ok = g.long_axis_mm is None and g.short_axis_mm is not None and abs(g.short_axis_mm - exp["short_axis_mm"]) <= 0.5
                else:
                    ok = g.long_axis_mm is not None and abs(g.long_axis_mm - exp["long_axis_mm"]) <= 0.5
                if ok:
                    used.add(j)
                    correct += 1
                    if exp["is_node"] and exp["short_axis_mm"] is not None and g.short_axis_mm != exp["short_axis_mm"]:
                        problems.append(f"{case['id']}: short axis {g.short_axis_mm} for {exp['quote']!r}")
                    if exp["prior_mm"] != g.prior_mm:
                        problems.append(f"{case['id']}: prior {g.prior_mm} for {exp['quote']!r}")
                    break
            else:
                problems.append(f"{case['id']}: missed {exp['quote']!r}")
        for neg in case["negatives"]:
            at = text.find(neg)
            for g in got:
                inside = at <= g.span.start and g.span.end <= at + len(neg)
                if at >= 0 and inside:
                    problems.append(f"{case['id']}: read a size inside the non-size {neg!r}")
    return found, expected, correct, problems


def test_development_set_recall_and_precision():
    dev = _dev_dir()
    if dev is None:
        pytest.skip("development reports not found: expected ../shared/external/radiology-dev "
                    "(or /work/shared/external/radiology-dev) next to the repository")
    found, expected, correct, problems = _score_dev_set(dev)
    recall, precision = correct / expected, correct / max(1, found)
    print(f"\nradiology-dev: recall {correct}/{expected} = {recall:.1%}, precision {correct}/{found} = {precision:.1%}")
    for p in problems:
        print("  ", p)
    assert recall >= 0.95 and precision >= 0.95, problems
    assert not [p for p in problems if "non-size" in p], problems


def test_screening_style_nodule_with_mean_diameter_and_volume_is_one_lesion():
    text = ("Nodule 1: Right upper lobe, series 3 image 45, solid, 9 x 7 mm (mean diameter 8.0 mm, volume 210 mm3), "
            "previously 6 x 5 mm.")
    rm = one(text)
    assert (rm.long_axis_mm, rm.short_axis_mm, rm.prior_mm, rm.location) == (9.0, 7.0, 6.0, "RUL nodule")


def test_solid_component_does_not_steal_the_prior():
    rm = one("Subsolid nodule in the left upper lobe measures 11 mm with a 5 mm solid component "
             "(previously 10 mm with 3 mm solid component).")
    assert (rm.long_axis_mm, rm.prior_mm) == (11.0, 10.0)


def test_upper_case_report_and_versus():
    found = read_report("LUNGS: SPICULATED RIGHT UPPER LOBE MASS MEASURES 4.2 X 3.1 CM, INCREASED FROM 3.5 X 2.6 CM. "
                        "NEW 6 MM NODULE IN THE LEFT UPPER LOBE.\nThe known right lower lobe adenocarcinoma measures "
                        "28 mm (series 201, image 88) versus 35 mm on 12 January 2025.")
    assert [(f.location, f.long_axis_mm, f.prior_mm, f.new) for f in found] == [
        ("RUL mass", 42.0, 35.0, False), ("LUL nodule", 6.0, None, True), ("RLL adenocarcinoma", 28.0, 35.0, False)]


def test_short_then_long_axis_is_one_node():
    rm = one("Right hilar node measures 1.2 cm in short axis and 2.0 cm in long axis.")
    assert (rm.long_axis_mm, rm.short_axis_mm, rm.is_node) == (20.0, 12.0, True)


def test_an_inline_history_label_covers_its_own_sentence_only():
    found = read_report("Clinical: lung cancer, 2 cm mass.\nThe RUL mass measures 3 cm.")
    assert [f.long_axis_mm for f in found] == [30.0]
    found = read_report("History: known 2.5 cm RUL mass\nbeing followed.\nLungs: RUL mass 3.1 cm.")
    assert [f.long_axis_mm for f in found] == [31.0]


def test_one_size_for_several_separately_located_lesions():
    found = read_report("Unchanged 3 mm right upper (6:24) and right middle (6:53) nodules.")
    assert [(f.long_axis_mm, f.location) for f in found] == [(3.0, "RUL nodule"), (3.0, "RML nodule")]
    found = read_report("New 4 mm left upper lobe nodules (5:93,197).")
    assert [(f.long_axis_mm, f.location, f.new) for f in found] == [(4.0, "LUL nodule", True)] * 2
    assert one("2 cm lesion in the right upper quadrant.").location == "right lesion"


def test_it_measures_takes_the_previous_sentences_lesion():
    rm = one("There is a nodule in the RUL. It measures 12 mm.")
    assert (rm.location, rm.long_axis_mm, rm.unsure) == ("RUL nodule", 12.0, False)


def test_two_readings_that_fit_one_lesion_equally_are_doubtful():
    readings = read_report("Two nodules in the left lower lobe measure 2.9 cm and 3.3 cm.")
    known = [KnownLesion("LLL nodule", "lung", False, 30.0), KnownLesion("LLL nodule 2", "lung", False, 31.0)]
    assert all(m.doubtful for m in match_lesions(readings, known))
    readings = read_report("LLL nodule 2.9 cm, previously 3.0 cm. LLL nodule 3.3 cm, previously 3.1 cm.")
    matches = match_lesions(readings, known)
    assert [(m.label, m.doubtful) for m in matches] == [("LLL nodule", False), ("LLL nodule 2", False)]


def test_a_bare_size_in_brackets_after_a_size():
    rm = one("The RUL nodule is slightly smaller at 9 mm (10 mm).")
    assert (rm.long_axis_mm, rm.prior_mm) == (9.0, 10.0)
    rm = one("RUL mass 2.5 cm (25 mm).")
    assert (rm.long_axis_mm, rm.prior_mm) == (25.0, None)


def test_organ_sizes_in_a_systematic_report_are_not_lesions():
    text = ("FINDINGS:\nHeart: normal size. Aorta: 3.1 cm. Pulmonary artery: 2.7 cm.\n"
            "Liver: 16 cm craniocaudal. Spleen: 12 cm. Thyroid: 4.5 cm right lobe.\n"
            "Kidneys: 2 mm nonobstructing stone left. Bones: Schmorl node 5 mm at T10.\n"
            "Lymph nodes: 8 mm right paratracheal.\nLungs: 4 mm RUL.\nLiver: 1.2 cm hypodense lesion in segment 4.\n")
    found = read_report(text)
    assert [(f.long_axis_mm, f.site, f.is_node, f.unsure) for f in found] == [
        (8.0, "lymph node", True, False), (4.0, "lung", False, True), (12.0, "liver", False, False)]


def test_matching_by_segment_and_by_being_the_only_one_of_its_kind():
    readings = read_report("The liver lesion in segment 6 measures 14 mm. Left adrenal nodule 12 mm.")
    known = [KnownLesion("liver segment VI lesion", "liver", False, 20.0), KnownLesion("liver S8", "liver", False, 9.0),
             KnownLesion("L adrenal", "adrenal", False, 15.0)]
    matches = match_lesions(readings, known)
    assert [(m.label, m.doubtful) for m in matches] == [("liver segment VI lesion", False), ("L adrenal", False)]
    assert "same segment 6" in matches[0].reason and "the only adrenal lesion" in matches[1].reason
    # Segment 8 is never proposed for a segment 6 lesion.
    only_s8 = match_lesions(readings[:1], [KnownLesion("liver S8", "liver", False, 14.0)])
    assert only_s8[0].label is None


def test_windows_line_ends_and_unicode_spaces():
    text = ("FINDINGS:\r\nLungs: RUL mass 3.2\u00a0cm (previously 2.8 cm).\r\nLymph nodes: 4R node 12\u2009mm short axis."
            "\r\n\r\nIMPRESSION:\r\nRUL mass 3.2 cm.\r\n")
    found = read_report(text)
    assert [(f.long_axis_mm, f.short_axis_mm, f.prior_mm, f.station) for f in found] == [
        (32.0, None, 28.0, None), (None, 12.0, None, "4R")]
    assert all(text[f.span.start:f.span.end] == f.span.text for f in found)


def test_numbered_target_list_with_stations_and_segments():
    found = read_report("Index lesions: (1) RUL 32 mm; (2) 4R 16 mm; (3) liver S6 20 mm.")
    assert [(f.long_axis_mm, f.site, f.station, f.location) for f in found] == [
        (32.0, "lung", None, "RUL lesion"), (16.0, "lymph node", "4R", "right 4R node"),
        (20.0, "liver", None, "liver S6 lesion")]


def test_new_and_enlarging_is_hedged():
    rm = one("Multiple new and enlarging nodules, the largest 9 mm in the RLL.")
    assert (rm.long_axis_mm, rm.new, rm.unsure) == (9.0, False, True)
