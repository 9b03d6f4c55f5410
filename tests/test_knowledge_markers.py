"""Marker table: units and conversions, default ULNs and their sources, LOINC codes, names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.enums import Marker, SmokingStatus
from lungtrack.errors import InputError
from lungtrack.knowledge.markers import (
    MARKERS,
    MarkerInfo,
    convert_marker_value,
    default_uln,
    marker_from_text,
    normalize_unit,
)
from lungtrack.knowledge.sources import SOURCES


def test_every_marker_has_an_entry() -> None:
    assert set(MARKERS) == set(Marker)
    for marker, info in MARKERS.items():
        assert isinstance(info, MarkerInfo)
        assert info.marker is marker
        assert info.factor_for(info.canonical_unit) == 1.0
        assert info.plausible_max > 0


@pytest.mark.parametrize(
    "marker, loinc",
    # clinical.md §2.5 (HL7 mCODE TumorMarkerTestVS); ProGRP not found -> None
    [(Marker.CEA, "2039-6"), (Marker.CYFRA21_1, "25390-6"), (Marker.NSE, "15060-7"), (Marker.CA125, "10334-1"),
     (Marker.PROGRP, None)],
)
def test_loinc(marker: Marker, loinc: str | None) -> None:
    assert MARKERS[marker].loinc == loinc


@pytest.mark.parametrize(
    "marker, unit",
    [(Marker.CEA, "ng/mL"), (Marker.CYFRA21_1, "ng/mL"), (Marker.NSE, "ng/mL"), (Marker.PROGRP, "pg/mL"),
     (Marker.CA125, "U/mL")],
)
def test_canonical_units(marker: Marker, unit: str) -> None:
    assert MARKERS[marker].canonical_unit == unit


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "text, marker",
    [
        ("cea", Marker.CEA), ("CEA", Marker.CEA), (" Cea ", Marker.CEA),
        ("cyfra", Marker.CYFRA21_1), ("cyfra21-1", Marker.CYFRA21_1), ("CYFRA 21-1", Marker.CYFRA21_1),
        ("Cyfra 21.1", Marker.CYFRA21_1),
        ("nse", Marker.NSE), ("NSE", Marker.NSE),
        ("progrp", Marker.PROGRP), ("pro-grp", Marker.PROGRP), ("ProGRP", Marker.PROGRP), ("Pro GRP", Marker.PROGRP),
        ("ca125", Marker.CA125), ("ca-125", Marker.CA125), ("CA 125", Marker.CA125), ("CA-125", Marker.CA125),
    ],
)  # fmt: skip
def test_marker_from_text(text: str, marker: Marker) -> None:
    assert marker_from_text(text) is marker


@pytest.mark.parametrize("marker", list(Marker))
def test_enum_value_reads_back(marker: Marker) -> None:
    assert marker_from_text(marker.value) is marker


@pytest.mark.parametrize("text", ["psa", "ca19-9", "", "cea2", "cyfra 21-2", None])
def test_unknown_marker(text) -> None:
    with pytest.raises(InputError) as err:
        marker_from_text(text, field="MARKER")
    assert err.value.message.startswith("MARKER: ")
    assert "CEA, CYFRA 21-1, NSE, ProGRP, CA-125" in err.value.message


# ----------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    "marker, value, unit, expected",
    [
        (Marker.CEA, 3.1, None, 3.1),
        (Marker.CEA, 3.1, "", 3.1),
        (Marker.CEA, 3.1, "ng/mL", 3.1),
        (Marker.CEA, 3.1, "ng/ml", 3.1),
        (Marker.CEA, 3.1, "NG/ML", 3.1),
        (Marker.CEA, 3.1, "µg/L", 3.1),  # micro sign U+00B5
        (Marker.CEA, 3.1, "\u03bcg/L", 3.1),  # Greek small mu U+03BC
        (Marker.CEA, 3.1, "ug/L", 3.1),
        (Marker.CEA, 3.1, "mcg/L", 3.1),
        (Marker.CEA, 3.1, "ng / mL", 3.1),
        (Marker.CYFRA21_1, 2.0, "µg/L", 2.0),
        (Marker.NSE, 12.5, "ug/l", 12.5),
        (Marker.PROGRP, 45.0, "pg/mL", 45.0),
        (Marker.PROGRP, 45.0, "ng/L", 45.0),  # 1 ng/L == 1 pg/mL
        (Marker.PROGRP, 0.065, "ng/mL", 65.0),  # 1 ng/mL == 1000 pg/mL
        (Marker.PROGRP, 0.045, "ng/mL", 45.0),
        (Marker.CA125, 40.0, "U/mL", 40.0),
        (Marker.CA125, 40.0, "kU/L", 40.0),
        (Marker.CA125, 40, "units/mL", 40.0),
        # convertible units (issue 9): exact decimal factors, both directions of a factor 1000
        (Marker.CEA, 2500.0, "pg/mL", 2.5),
        (Marker.CEA, 2500.0, "ng/L", 2.5),
        (Marker.CEA, 250.0, "ng/dL", 2.5),
        (Marker.CEA, 0.25, "µg/dL", 2.5),
        (Marker.CEA, 0.0025, "mg/L", 2.5),
        (Marker.CEA, 0.0025, "ug/mL", 2.5),
        (Marker.CYFRA21_1, 3300.0, "pg/mL", 3.3),
        (Marker.NSE, 0.0163, "mg/L", 16.3),
        (Marker.PROGRP, 6.5, "ng/dL", 65.0),
        (Marker.PROGRP, 0.065, "µg/L", 65.0),
        (Marker.CA125, 35000.0, "U/L", 35.0),
    ],
)
def test_convert(marker: Marker, value: float, unit: str | None, expected: float) -> None:
    converted, canonical = convert_marker_value(marker, value, unit)
    assert converted == expected  # exact: converted in decimal
    assert canonical == MARKERS[marker].canonical_unit


@pytest.mark.parametrize(
    "marker, unit",
    [(Marker.CEA, "mg/dL"), (Marker.CEA, "pg"), (Marker.CEA, "U/mL"), (Marker.PROGRP, "U/mL"),
     (Marker.CA125, "ng/mL"), (Marker.CA125, "IU/mL"), (Marker.NSE, "ng")],
)
def test_unknown_unit_lists_accepted(marker: Marker, unit: str) -> None:
    with pytest.raises(InputError) as err:
        convert_marker_value(marker, 1.0, unit, field="--unit")
    message = err.value.message
    assert message.startswith(f"--unit: {unit!r} is not a unit for {marker.value}")
    for accepted in MARKERS[marker].accepted_units:
        assert accepted in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True])
def test_convert_rejects_non_finite(value) -> None:
    with pytest.raises(InputError):
        convert_marker_value(Marker.CEA, value, None)


def test_normalize_unit() -> None:
    assert normalize_unit(" µg / L ") == "ug/l"
    assert normalize_unit("mcg/L") == "ug/l"
    assert normalize_unit("ng/mL") == "ng/ml"


@given(st.integers(min_value=0, max_value=10**7))
def test_progrp_ng_to_pg_is_exact(thousandths: int) -> None:
    """x ng/mL is exactly 1000·x pg/mL for every value typed with three decimals."""
    ng = float(f"{thousandths // 1000}.{thousandths % 1000:03d}")
    assert convert_marker_value(Marker.PROGRP, ng, "ng/mL") == (float(thousandths), "pg/mL")


# ----------------------------------------------------------------------------- default ULN


@pytest.mark.parametrize(
    "smoking, value",
    [
        (SmokingStatus.NEVER, 2.5),  # MedlinePlus: 0-2.5 µg/L non-smokers
        (SmokingStatus.CURRENT, 5.0),  # MedlinePlus: 0-5 µg/L smokers
        (SmokingStatus.FORMER, 2.5),  # documented choice: the lower (earlier-flagging) limit
        (SmokingStatus.UNKNOWN, 2.5),  # same choice
    ],
)
def test_cea_default_uln_by_smoking(smoking: SmokingStatus, value: float) -> None:
    uln, note = default_uln(Marker.CEA, smoking)
    assert uln == value
    assert "MedlinePlus" in note
    assert "lab's own ULN" in note
    assert "unconfirmed" not in note


def test_cea_note_explains_former_and_unknown_choice() -> None:
    for smoking in (SmokingStatus.FORMER, SmokingStatus.UNKNOWN):
        _, note = default_uln(Marker.CEA, smoking)
        assert smoking.value in note
        assert "5 ng/mL" in note  # names the smokers' limit it did not use


def test_smoking_accepts_plain_string() -> None:
    assert default_uln(Marker.CEA, "current").value == 5.0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "marker, value, unconfirmed",
    [
        (Marker.CYFRA21_1, 3.3, False),  # PMC5451759
        (Marker.NSE, 16.3, True),  # clinical.md: "16.3 ng/mL Roche value unconfirmed"
        (Marker.PROGRP, 65.0, False),  # PMC5451759
        (Marker.CA125, 35.0, True),  # clinical.md: "35 U/mL common cut-off — unconfirmed here"
    ],
)
def test_other_default_ulns(marker: Marker, value: float, unconfirmed: bool) -> None:
    for smoking in SmokingStatus:
        uln, note = default_uln(marker, smoking)
        assert uln == value
        assert ("unconfirmed" in note) is unconfirmed
        assert "lab's own ULN" in note
        assert MARKERS[marker].canonical_unit in note
        assert "\n" not in note


def test_uln_sources_exist_in_registry() -> None:
    for info in MARKERS.values():
        if info.uln_source is not None:
            assert info.uln_source in SOURCES
        else:
            assert info.uln_confirmed is False  # only unconfirmed defaults may lack a source
    assert MARKERS[Marker.CEA].uln_source == "medlineplus_cea"
    assert MARKERS[Marker.CYFRA21_1].uln_source == "pmc5451759"


def test_default_uln_is_a_two_tuple() -> None:
    result = default_uln(Marker.CEA, SmokingStatus.NEVER)
    value, note = result
    assert (value, note) == (result.value, result.note)
    assert len(result) == 2
    assert MARKERS[Marker.CEA].default_uln(SmokingStatus.NEVER) == result


def test_default_uln_below_plausible_max() -> None:
    for info in MARKERS.values():
        assert info.default_uln().value < info.plausible_max
