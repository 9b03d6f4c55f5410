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


@pytest.mark.parametrize(("new", "flagged"), [(175.0, True), (174.9, False), (0.07, True), (0.0701, False)])
def test_marker_factor_50(new, flagged):
    assert (check_marker_entry("CEA", "ng/mL", 3.5, PREV, new, NEW) is not None) is flagged


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
