"""The drug table and the trial medians (clinical.md §3.8 and §4.2)."""

from __future__ import annotations

import pytest

from lungtrack.errors import InputError
from lungtrack.knowledge.drugs import DRUG_LIST, DRUGS, drug_from_text, get_drug, primary_trial
from lungtrack.knowledge.sources import SOURCES


@pytest.mark.parametrize(
    "typed, name",
    [
        ("Iressa", "gefitinib"),
        ("TAGRISSO", "osimertinib"),
        ("Tarceva", "erlotinib"),
        ("Gilotrif", "afatinib"),
        ("giotrif", "afatinib"),
        ("Vizimpro", "dacomitinib"),
        ("Alecensa", "alectinib"),
        ("Xalkori", "crizotinib"),
        ("Zykadia", "ceritinib"),
        ("Alunbrig", "brigatinib"),
        ("Lorbrena", "lorlatinib"),
        ("Lorviqua", "lorlatinib"),
        ("Rybrevant", "amivantamab"),
        ("Lazcluze", "lazertinib"),
        ("almonertinib", "aumolertinib"),
        ("  Osimertinib ", "osimertinib"),
        ("Amivantamab + Lazertinib", "amivantamab-lazertinib"),
        ("amivantamab and lazertinib", "amivantamab-lazertinib"),
        ("platinum pemetrexed", "platinum-pemetrexed"),
        ("Keytruda", "pembrolizumab"),
    ],
)
def test_names_and_brand_names_resolve(typed: str, name: str) -> None:
    assert drug_from_text(typed).name == name


def test_unknown_drug_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError) as info:
        drug_from_text("osimertnib", field="--drug")
    err = info.value
    assert err.field == "--drug"
    assert "osimertinib" in str(err)  # did-you-mean and the list of examples
    assert "gefitinib" in str(err)
    with pytest.raises(InputError):
        drug_from_text("")
    assert get_drug("aspirin") is None  # the rules use get_drug and never raise


def test_names_are_lower_case_and_aliases_unambiguous() -> None:
    seen: dict[str, str] = {}
    for drug in DRUG_LIST:
        assert drug.name == drug.name.lower()
        for spelling in (drug.name, *drug.aliases):
            key = get_drug(spelling)
            assert key is drug, f"{spelling} resolves to {key and key.name}, not {drug.name}"
            assert spelling.lower() not in seen or seen[spelling.lower()] == drug.name
            seen[spelling.lower()] = drug.name


# clinical.md §3.8: target and generation of every EGFR and ALK drug.
@pytest.mark.parametrize(
    "name, target, generation",
    [
        ("gefitinib", "EGFR", 1), ("erlotinib", "EGFR", 1), ("icotinib", "EGFR", 1),
        ("afatinib", "EGFR", 2), ("dacomitinib", "EGFR", 2),
        ("osimertinib", "EGFR", 3), ("aumolertinib", "EGFR", 3), ("furmonertinib", "EGFR", 3),
        ("lazertinib", "EGFR", 3), ("amivantamab", "EGFR", None),
        ("crizotinib", "ALK", 1), ("ceritinib", "ALK", 2), ("alectinib", "ALK", 2),
        ("brigatinib", "ALK", 2), ("ensartinib", "ALK", 2), ("lorlatinib", "ALK", 3),
    ],
)
def test_egfr_and_alk_drugs(name: str, target: str, generation: int | None) -> None:
    drug = DRUGS[name]
    assert drug.target == target
    assert drug.generation == generation


@pytest.mark.parametrize(
    "name, target",
    [
        ("entrectinib", "ROS1"), ("repotrectinib", "ROS1"), ("capmatinib", "MET"), ("tepotinib", "MET"),
        ("selpercatinib", "RET"), ("pralsetinib", "RET"), ("dabrafenib-trametinib", "BRAF"),
        ("sotorasib", "KRAS"), ("adagrasib", "KRAS"), ("larotrectinib", "NTRK"),
    ],
)
def test_other_targets(name: str, target: str) -> None:
    assert DRUGS[name].target == target


def test_crizotinib_also_targets_ros1_and_entrectinib_ntrk() -> None:
    assert "ROS1" in DRUGS["crizotinib"].targets
    assert "NTRK" in DRUGS["entrectinib"].targets


@pytest.mark.parametrize("name", ["platinum-pemetrexed", "carboplatin", "cisplatin", "pemetrexed", "docetaxel",
                                  "pembrolizumab"])
def test_non_targeted_lines_can_be_logged(name: str) -> None:
    drug = drug_from_text(name)
    assert drug.target is None and drug.generation is None and not drug.is_targeted


def test_primary_trials_match_the_reference() -> None:
    ipass = primary_trial(DRUGS["gefitinib"], 1)
    assert ipass is not None and (ipass.trial, ipass.median_pfs_months, ipass.comparator_months) == ("IPASS", 9.5, 6.3)
    flaura = primary_trial(DRUGS["osimertinib"], 1)
    assert flaura is not None and (flaura.trial, flaura.median_pfs_months, flaura.comparator_months) == ("FLAURA", 18.9, 10.2)
    aura3 = primary_trial(DRUGS["osimertinib"], 2)
    assert aura3 is not None and (aura3.trial, aura3.median_pfs_months, aura3.comparator_months) == ("AURA3", 10.1, 4.4)
    alex = primary_trial(DRUGS["alectinib"], 1)
    assert alex is not None and (alex.trial, alex.median_pfs_months) == ("ALEX", 34.8)
    assert primary_trial(DRUGS["dacomitinib"], 1).median_pfs_months == 14.7
    assert primary_trial(DRUGS["brigatinib"], 1).median_pfs_months == 24.0


def test_crown_median_not_reached_is_none_with_a_note() -> None:
    crown = primary_trial(DRUGS["lorlatinib"], 1)
    assert crown is not None and crown.trial == "CROWN"
    assert crown.median_pfs_months is None
    assert "not reached" in crown.note and crown.comparator_months == 9.1


def test_line_setting_is_respected() -> None:
    # A second-line gefitinib must not be compared with a first-line trial ...
    assert primary_trial(DRUGS["gefitinib"], 2) is None
    # ... and a first-line osimertinib not with AURA3.
    assert primary_trial(DRUGS["osimertinib"], 1).trial == "FLAURA"
    # Unknown line: the first confirmed trial.
    assert primary_trial(DRUGS["gefitinib"]).trial == "IPASS"


def test_crizotinib_trial_follows_the_driver() -> None:
    assert primary_trial(DRUGS["crizotinib"], 1).median_pfs_months == 10.9  # PROFILE 1014, ALK
    assert primary_trial(DRUGS["crizotinib"], 1, biomarker="ROS1").median_pfs_months == 17.6


def test_unconfirmed_medians_are_never_returned() -> None:
    # LASER301 (lazertinib) and FLAURA2 are unconfirmed in clinical.md: never shown as fact.
    assert primary_trial(DRUGS["lazertinib"], 1) is None
    assert primary_trial(DRUGS["adagrasib"], 2) is None
    for drug in DRUG_LIST:
        for line in (None, 1, 2, 3):
            for biomarker in (None, *drug.targets):
                trial = primary_trial(drug, line, biomarker)
                assert trial is None or trial.confirmed, (drug.name, trial)
    flaura2 = [t for t in DRUGS["osimertinib"].trials if t.trial == "FLAURA2"]
    assert flaura2 and not flaura2[0].confirmed and flaura2[0].median_pfs_months is None


def test_every_trial_source_key_is_registered() -> None:
    for drug in DRUG_LIST:
        for trial in drug.trials:
            if trial.confirmed:
                assert trial.source_key in SOURCES, (drug.name, trial.trial)
                assert trial.source_url.startswith("http")
