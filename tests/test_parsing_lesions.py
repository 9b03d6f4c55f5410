"""--lesion specifications: the forms of user story 1, statuses, roles and helpful errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.enums import LesionRole, MeasurementStatus
from lungtrack.errors import InputError
from lungtrack.parsing.lesions import LesionSpec, parse_lesion_spec

M = MeasurementStatus


def spec(label, site=None, is_node=None, size=None, status=M.MEASURED, role=None) -> LesionSpec:
    return LesionSpec(label=label, site=site, is_node=is_node, size_mm=size, status=status, role=role)


@pytest.mark.parametrize(
    "text, expected",
    [
        # first follow-up of user story 1 (full form, site given)
        ("RUL mass: lung, 3.2 cm", spec("RUL mass", "lung", False, 32.0)),
        ("liver S6: liver, 18 mm", spec("liver S6", "liver", False, 18.0)),
        ("4R: node, 16 mm", spec("4R", "lymph node", True, 16.0)),
        # second CT of user story 1 (label and size only)
        ("RUL mass 22", spec("RUL mass", size=22.0)),
        ("liver S6 12", spec("liver S6", size=12.0)),
        ("4R 9", spec("4R", size=9.0)),
        ("4R 0.9 cm", spec("4R", size=9.0)),
        ("RUL mass: 22 mm", spec("RUL mass", size=22.0)),
        ("RUL mass 2.2cm", spec("RUL mass", size=22.0)),
        ("  RUL   mass :  lung ,  3.2 cm ", spec("RUL mass", "lung", False, 32.0)),
        # parts after the colon in any order, roles
        ("RUL mass: 3.2 cm, lung", spec("RUL mass", "lung", False, 32.0)),
        ("RUL mass: lung, 3.2 cm, target", spec("RUL mass", "lung", False, 32.0, role=LesionRole.TARGET)),
        ("adrenal: adrenal, 12 mm, non-target", spec("adrenal", "adrenal", False, 12.0, role=LesionRole.NON_TARGET)),
        ("pleural effusion: pleura, non-target",
         spec("pleural effusion", "pleura", False, None, M.NOT_EVALUATED, LesionRole.NON_TARGET)),
        ("pleural effusion, pleura, non target",
         spec("pleural effusion", "pleura", False, None, M.NOT_EVALUATED, LesionRole.NON_TARGET)),
        # sites
        ("brain met: Brain, 8 mm", spec("brain met", "brain", False, 8.0)),
        ("T9: bone, 2 cm", spec("T9", "bone", False, 20.0)),
        ("4R: LN, 12 mm", spec("4R", "lymph node", True, 12.0)),
        ("7: lymph node, 12 mm", spec("7", "lymph node", True, 12.0)),
        ("subcarinal: nodal, 11", spec("subcarinal", "lymph node", True, 11.0)),
        ("10R: hilar node, 11", spec("10R", "lymph node", True, 11.0)),
    ],
)
def test_accepted_forms(text: str, expected: LesionSpec) -> None:
    assert parse_lesion_spec(text) == expected


@pytest.mark.parametrize(
    "text, status",
    [
        ("RUL mass: too small", M.TOO_SMALL),
        ("RUL mass too small", M.TOO_SMALL),
        ("RUL mass: too small to measure", M.TOO_SMALL),
        ("RUL mass: Too-Small", M.TOO_SMALL),
        ("liver S6: disappeared", M.DISAPPEARED),
        ("liver S6 disappeared", M.DISAPPEARED),
        ("liver S6: gone", M.DISAPPEARED),
        ("liver S6 gone", M.DISAPPEARED),
        ("liver S6: 0", M.DISAPPEARED),  # an explicit 0 mm means the lesion is gone
        ("liver S6 0 mm", M.DISAPPEARED),
        ("liver S6: liver, 0.0 cm", M.DISAPPEARED),
        ("4R: not evaluated", M.NOT_EVALUATED),
        ("4R NE", M.NOT_EVALUATED),
        ("4R: ne", M.NOT_EVALUATED),
        ("4R not seen", M.NOT_EVALUATED),  # not looked at: never counted as 0
        ("4R: not-evaluated", M.NOT_EVALUATED),
    ],
)
def test_statuses_have_no_size(text: str, status: MeasurementStatus) -> None:
    result = parse_lesion_spec(text)
    assert result.status is status
    assert result.size_mm is None


def test_status_keeps_site_when_given() -> None:
    assert parse_lesion_spec("liver S6: liver, disappeared") == spec("liver S6", "liver", False, None, M.DISAPPEARED)


def test_size_plausibility_limits_apply() -> None:
    assert parse_lesion_spec("x: lung, 1 mm").size_mm == 1.0
    assert parse_lesion_spec("x 300").size_mm == 300.0
    with pytest.raises(InputError) as err:
        parse_lesion_spec("RUL mass: lung, 0.5 mm")
    assert "too small" in err.value.message
    with pytest.raises(InputError) as err:
        parse_lesion_spec("RUL mass 301")
    assert "implausible" in err.value.message


def test_error_names_field_full_text_and_example() -> None:
    with pytest.raises(InputError) as err:
        parse_lesion_spec("RUL mass: lung, 3.2 inches", field="--lesion")
    message = err.value.message
    assert message.startswith("--lesion: 'RUL mass: lung, 3.2 inches' is not valid")
    assert message.endswith(
        'expected "LABEL: SITE, SIZE mm|cm" or "LABEL SIZE", e.g. "RUL mass: lung, 3.2 cm".'
    )
    assert err.value.field == "--lesion"
    assert err.value.value == "RUL mass: lung, 3.2 inches"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("RUL mass: lung", "no size or status"),
        ("RUL mass: lung, target", "no size or status"),
        ("RUL mass", "no size or status"),
        ("22", "label is missing"),
        ("3.2 cm", "label is missing"),
        (": lung, 22 mm", "label is missing"),
        ("RUL mass: lung, liver, 3 cm", "two sites"),
        ("RUL mass: lung, 22, too small", "more than one size or status"),
        ("RUL mass: 22, 23", "more than one size or status"),
        ("RUL mass: lung, 3.2 cm, target, non-target", "role is given twice"),
        ("RUL mass: lung, 3,2 cm", "dot for decimals"),
        ("RUL mass: lung, #5", "is not a site, a size or a status"),
        ("RUL mass: lung, 3.2 inches", "unknown unit"),
        ("RUL mass 3.2 inches", "unknown unit"),
        ("RUL mass: lung, -3 mm", "negative"),
        ("", "no lesion given"),
    ],
)
def test_errors(text: str, reason: str) -> None:
    with pytest.raises(InputError) as err:
        parse_lesion_spec(text, field="--lesion")
    assert err.value.message.startswith("--lesion: ")
    assert reason in err.value.message
    assert "\n" not in err.value.message


_labels = st.from_regex(r"[A-Z][a-z]{2,8}( [A-Z][0-9])?", fullmatch=True)
_sites = st.sampled_from(["lung", "liver", "adrenal", "bone", "brain", "pleura", "peritoneum"])


@given(_labels, _sites, st.integers(min_value=10, max_value=3000))
def test_full_form_round_trip(label: str, site: str, tenths: int) -> None:
    mm = tenths / 10
    mm_text = f"{tenths // 10}.{tenths % 10}"
    cm_text = f"{tenths // 100}.{tenths % 100:02d}"
    for text in (f"{label}: {site}, {mm_text} mm", f"{label}: {site}, {cm_text} cm"):
        assert parse_lesion_spec(text) == spec(label, site, False, mm)
    assert parse_lesion_spec(f"{label} {mm_text}") == spec(label, size=mm)


@pytest.mark.parametrize("text, size, short", [
    ("RUL mass: lung, 32x21 mm", 32.0, 21.0),
    ("RUL mass 3.2 x 2.1 cm", 32.0, 21.0),
    ("liver S6: liver, 21 × 32", 32.0, 21.0),
    ("4R: node, 1.8 x 1.2 cm", 12.0, 12.0),  # a node: the short axis
    ("RUL mass 12 + 8 mm", 20.0, None),  # a lesion that split: fragments summed (RECIST working group)
    ("RUL mass: lung, 1.2 + 0.8 cm", 20.0, None),
])
def test_sizes_as_reports_write_them(text, size, short):
    spec = parse_lesion_spec(text)
    assert (spec.size_mm, spec.short_axis_mm) == (size, short)


def test_two_axes_in_different_units_are_refused():
    with pytest.raises(InputError) as exc:
        parse_lesion_spec("RUL mass 3.2 cm x 21 mm")
    assert "different units" in exc.value.message
