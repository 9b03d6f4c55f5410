"""Entry plausibility: typos and unit slips, both sides of every threshold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lungtrack.core.config import PlausibilityConfig, RulesConfig
from lungtrack.core.history import History, ImagingStudy, Lesion, MarkerResult, Measurement, PatientInfo
from lungtrack.core.plausibility import check_lesion_entry, check_marker_entry, plausibility_findings
from lungtrack.enums import Marker, Severity

PREV = date(2025, 12, 10)
NEW = date(2026, 1, 10)


def test_ten_times_larger_suggests_the_decimal_slip():
    assert check_lesion_entry("RUL mass", 22, PREV, 220, NEW) == (
        "RUL mass: 220 mm is 10× the last value (22 mm on 2025-12-10). Did you mean 22 mm or 2.2 cm?"
    )


def test_ten_times_smaller_suggests_cm_typed_as_mm():
    msg = check_lesion_entry("RUL mass", 22, PREV, 2.2, NEW)
    assert msg is not None and "1/10 of the last value (22 mm on 2025-12-10)" in msg and "2.2 cm (22 mm)" in msg


@pytest.mark.parametrize(
    ("new", "flagged"),
    [(88.0, True), (87.99, False), (5.5, True), (5.51, False), (22.0, False), (60.0, False)],
)
def test_lesion_factor_4_either_direction(new, flagged):
    assert (check_lesion_entry("RUL mass", 22, PREV, new, NEW) is not None) is flagged


def test_lesion_jump_without_a_power_of_ten_asks_to_check():
    msg = check_lesion_entry("RUL mass", 22, PREV, 100, NEW)
    assert msg is not None and "4.5×" in msg and "Did you mean" not in msg


def test_lesion_time_window_26_weeks():
    assert check_lesion_entry("x", 22, PREV, 220, PREV + timedelta(days=182)) is not None
    assert check_lesion_entry("x", 22, PREV, 220, PREV + timedelta(days=183)) is None


def test_lesion_range_checks():
    assert check_lesion_entry("x", None, None, 300, NEW) is None
    msg = check_lesion_entry("x", None, None, 450, NEW)
    assert msg is not None and "45 mm or 4.5 cm" in msg
    assert check_lesion_entry("x", None, None, 1.0, NEW) is None
    msg = check_lesion_entry("x", None, None, 0.8, NEW)
    assert msg is not None and "0.8 cm (8 mm)" in msg
    assert "disappeared" in (check_lesion_entry("x", None, None, 0, NEW) or "")


def test_no_previous_value_plausible():
    assert check_lesion_entry("x", None, None, 35, NEW) is None


def test_custom_factor():
    cfg = PlausibilityConfig(lesion_jump_factor=2.0)
    assert check_lesion_entry("x", 20, PREV, 40, NEW, cfg) is not None
    assert check_lesion_entry("x", 20, PREV, 39.9, NEW, cfg) is None


@pytest.mark.parametrize(("new", "flagged"), [
    (12.0, False),  # exactly 5x 2.4: not asked
    (12.01, True),  # just over 5x
    (0.48, False),  # exactly 1/5
    (0.4799, True),  # just under 1/5
    (35.0, True),  # the example: 2.4 then 35
])
def test_marker_entry_asks_above_5x_or_below_one_fifth(new, flagged):
    assert (check_marker_entry("CEA", "ng/mL", 2.4, PREV, new, NEW) is not None) is flagged


def test_marker_entry_suggests_the_decimal_or_unit_slip():
    assert check_marker_entry("CEA", "ng/mL", 2.4, PREV, 35, NEW) == (
        "CEA: 35 ng/mL is 15× the last value (2.4 ng/mL on 2025-12-10). Did you mean 3.5 ng/mL?"
    )
    assert check_marker_entry("CEA", "ng/mL", 2.4, PREV, 14, NEW).endswith("Did you mean 1.4 ng/mL?")  # 5.8x
    msg = check_marker_entry("CEA", "ng/mL", 2.4, PREV, 12.5, NEW)  # 5.2x: no power of ten near
    assert msg is not None and msg.endswith("Did you mean another value? Please check the value and its unit "
                                            "against the lab report.")


def test_marker_entry_window_has_its_own_name():
    # 26 weeks by default, inclusive; marker_jump_max_weeks, not lesion_jump_max_weeks.
    assert check_marker_entry("CEA", "ng/mL", 2.4, PREV, 35, PREV + timedelta(weeks=26)) is not None
    assert check_marker_entry("CEA", "ng/mL", 2.4, PREV, 35, PREV + timedelta(weeks=26, days=1)) is None
    short = PlausibilityConfig(marker_jump_max_weeks=4.0)
    assert check_marker_entry("CEA", "ng/mL", 2.4, PREV, 35, PREV + timedelta(weeks=5), short) is None
    lesion_only = PlausibilityConfig(lesion_jump_max_weeks=4.0)
    assert check_marker_entry("CEA", "ng/mL", 2.4, PREV, 35, PREV + timedelta(weeks=5), lesion_only) is not None


def test_old_window_name_in_thresholds_still_sets_the_marker_window():
    old = RulesConfig.from_mapping({"plausibility": {"lesion_jump_max_weeks": 8}}).plausibility
    assert old.lesion_jump_max_weeks == 8.0 and old.marker_jump_max_weeks == 8.0
    both = RulesConfig.from_mapping({"plausibility": {"lesion_jump_max_weeks": 8, "marker_jump_max_weeks": 12}})
    assert both.plausibility.marker_jump_max_weeks == 12.0 and both.plausibility.lesion_jump_max_weeks == 8.0
    assert RulesConfig.from_mapping({"plausibility": {"marker_jump_max_weeks": 12}}).plausibility \
        .lesion_jump_max_weeks == 26.0


def test_marker_entry_message_never_rounds_to_the_threshold():
    assert "is more than 5× the last value" in check_marker_entry("CEA", "ng/mL", 12, PREV, 60.1, NEW)
    assert "is less than 1/5 of the last value" in check_marker_entry("CEA", "ng/mL", 12, PREV, 2.399, NEW)
    assert "is 5.5× the last value" in check_marker_entry("CEA", "ng/mL", 2, PREV, 11, NEW)


def test_marker_entry_does_not_compare_values_outside_the_assay_range():
    assert check_marker_entry("CEA", "ng/mL", 2.4, PREV, 0.5, NEW, new_comparator="<") is None
    assert check_marker_entry("CEA", "ng/mL", 0.5, PREV, 35, NEW, previous_comparator="<") is None
    assert check_marker_entry("CEA", "ng/mL", 0.5, PREV, 35, NEW) is not None


@pytest.mark.parametrize(("new", "flagged"), [(175.0, True), (174.9, False), (0.07, True), (0.0701, False)])
def test_stored_marker_findings_keep_factor_50(new, flagged):
    results = tuple(MarkerResult(i + 1, date(2025, 1, 1) + timedelta(weeks=4 * i), Marker.CEA, v, "ng/mL")
                    for i, v in enumerate([3.5, new]))
    assert bool(plausibility_findings(History(PatientInfo(1, "T"), markers=results))) is flagged


def test_marker_messages():
    assert check_marker_entry("CEA", "ng/mL", 3.5, PREV, 350, NEW) == (
        "CEA: 350 ng/mL is 100× the last value (3.5 ng/mL on 2025-12-10). Did you mean 3.5 ng/mL?"
    )
    msg = check_marker_entry("ProGRP", "pg/mL", 40, PREV, 0.04, NEW)
    assert msg is not None and "1/1000" in msg and "check the unit" in msg
    assert check_marker_entry("CEA", "ng/mL", None, None, 350, NEW) is None
    assert check_marker_entry("CEA", "ng/mL", 3.5, PREV, -1, NEW) is not None
    # a zero previous value (below detection) has no ratio: nothing to say
    assert check_marker_entry("CEA", "ng/mL", 0.0, PREV, 5, NEW) is None


def _lesion_history(*sizes: float) -> History:
    lesion = Lesion(1, "RUL mass", "lung")
    studies = tuple(
        ImagingStudy(i + 1, date(2025, 1, 1) + timedelta(weeks=8 * i), measurements=(Measurement(1, s),))
        for i, s in enumerate(sizes)
    )
    return History(PatientInfo(1, "T"), lesions=(lesion,), studies=studies)


def _dates(h: History) -> list[date]:
    return sorted(f.date for f in plausibility_findings(h))


def test_findings_flag_only_the_wrong_value():
    d = [date(2025, 1, 1) + timedelta(weeks=8 * i) for i in range(4)]
    # 22, 220, 23: only 220 (it jumps against both neighbours; 23 agrees with 22)
    fs = plausibility_findings(_lesion_history(22, 220, 23))
    assert [f.date for f in fs] == [d[1]]
    f = fs[0]
    assert f.rule == "entry.check" and f.severity is Severity.WATCH and f.title == "Check this entry"
    assert f.subject == "RUL mass" and f.id == f"entry.check:rul-mass:{d[1].isoformat()}"
    assert "220 mm is 10×" in f.evidence
    # 220, 22, 23: the first value is the odd one out
    fs = plausibility_findings(_lesion_history(220, 22, 23))
    assert [f.date for f in fs] == [d[0]] and "next value" in fs[0].evidence
    # the latest entry jumps: flagged until a later value confirms it
    assert _dates(_lesion_history(10, 10, 45)) == [d[2]]
    assert _dates(_lesion_history(10, 10, 45, 50)) == []
    # two values: the later one is the entry to check
    assert _dates(_lesion_history(22, 220)) == [d[1]]
    assert _dates(_lesion_history(22, 24, 23)) == []


def test_findings_range_violation():
    assert len(plausibility_findings(_lesion_history(22, 450))) == 1


def test_marker_findings():
    results = tuple(
        MarkerResult(i + 1, date(2025, 1, 1) + timedelta(weeks=4 * i), Marker.CEA, v, "ng/mL")
        for i, v in enumerate([3.0, 300.0, 3.2])
    )
    h = History(PatientInfo(1, "T"), markers=results)
    fs = plausibility_findings(h)
    assert len(fs) == 1 and fs[0].subject == "CEA" and fs[0].date == date(2025, 1, 29)
    assert fs[0].data == {"marker": "CEA", "value": 300.0, "unit": "ng/mL"}


def test_findings_use_config():
    cfg = RulesConfig(plausibility=PlausibilityConfig(lesion_jump_factor=100.0))
    assert plausibility_findings(_lesion_history(22, 220, 23), cfg) == []


def test_cli_marker_add_asks_about_a_jump_over_5x(cli):
    from conftest import assert_refused

    assert cli("patient", "add", "Ann").code == 0
    assert cli("marker", "add", "cea", "2.4", "--date", "2026-01-10").code == 0
    assert cli("marker", "add", "cea", "12", "--date", "2026-02-10").code == 0  # exactly 5x: saved
    r = cli("marker", "add", "cea", "60.1", "--date", "2026-03-10")  # just over 5x of 12
    assert_refused(r, "value", "CEA: 60.1 ng/mL is more than 5× the last value (12 ng/mL on 2026-02-10).",
                   "Did you mean another value?", "--force")
    assert cli("marker", "add", "cea", "60.1", "--date", "2026-03-10", "--force").code == 0


def test_stored_values_outside_the_assay_range_are_not_flagged_as_jumps():
    def h(comparator):
        results = (MarkerResult(1, date(2025, 1, 1), Marker.CEA, 300.0, "ng/mL"),
                   MarkerResult(2, date(2025, 2, 1), Marker.CEA, 0.5, "ng/mL", comparator=comparator))
        return History(PatientInfo(1, "T"), markers=results)
    assert plausibility_findings(h("<")) == []
    assert len(plausibility_findings(h(None))) == 1  # 0.5 exact after 300: 1/600, flagged


def _exact_jump(previous, new, factor, strict=False):
    """The ratio test of plausibility._jump done on Decimals only (no float pre-check)."""
    from lungtrack.core.decimal_math import D

    if previous <= 0 or new <= 0 or factor <= 0:
        return None
    p, n, f = D(previous), D(new), D(factor)
    if (n > p * f or n * f < p) if strict else (n >= p * f or n * f <= p):
        return min(max(float(n / p), 1e-300), 1e300)
    return None


from hypothesis import given, strategies as st  # noqa: E402

_sizes = st.one_of(st.floats(min_value=1e-320, max_value=1e308, allow_nan=False),
                   st.sampled_from([2.5, 10.0, 25.5, 30.6, 3.2, 8.2, 0.1, 0.3, 1e-101, 1e101]))


@given(previous=_sizes, new=_sizes, factor=st.sampled_from([2.0, 2.5, 3.0, 10.0, 1.2]), strict=st.booleans())
def test_jump_float_precheck_never_changes_the_exact_answer(previous, new, factor, strict):
    from lungtrack.core.plausibility import _jump

    assert _jump(previous, new, factor, strict) == _exact_jump(previous, new, factor, strict)


def test_jump_at_the_exact_boundary_both_ways():
    from lungtrack.core.plausibility import _jump

    assert _jump(10.0, 25.0, 2.5) == 2.5  # exactly the factor: a jump
    assert _jump(10.0, 25.0, 2.5, strict=True) is None
    assert _jump(10.0, 4.0, 2.5) == 0.4
    assert _jump(10.0, 24.999999, 2.5) is None
    assert _jump(0.1 + 0.2, 0.75, 2.5) is None  # 0.30000000000000004 * 2.5 > 0.75 exactly


def test_decimal_conversion_cache_keeps_the_written_form():
    from decimal import Decimal

    from lungtrack.core.decimal_math import D

    assert str(D(30.6)) == "30.6" and D(30.6) is D(30.6)
    assert str(D(-0.0)) == "-0.0" and str(D(0.0)) == "0.0"
    assert str(D(1)) == "1" and str(D(1.0)) == "1.0"
    assert D(float("nan")).is_nan()
    assert D(Decimal("2.50")) == Decimal("2.50") and str(D(Decimal("2.50"))) == "2.50"
