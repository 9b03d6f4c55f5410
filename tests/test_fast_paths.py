"""The fast paths of the all-patient work (issue 11) give exactly what the plain code gives.

Each fast path is compared with the general code it short-cuts (or, where the general code was
rewritten, with the previous version kept here as the reference), on generated inputs that
include the unusual cases: several rows of one lesion on one scan, studies sharing an id or a
day, zero and negative zero, precision contexts other than the default.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lungtrack import enums
from lungtrack.core import decimal_math, engine, plausibility, recist
from lungtrack.core.config import RulesConfig
from lungtrack.core.history import History, ImagingStudy, Lesion, Measurement, NewLesion, PatientInfo, TherapyLine
from lungtrack.enums import MeasurementStatus, NonTargetStatus

DAY0 = date(2024, 1, 1)
_sizes = st.one_of(st.none(), st.just(0.0), st.floats(0.5, 150).map(lambda x: round(x, 1)), st.floats(0.01, 300))


@st.composite
def _studies(draw: Any, n_lesions: int = 4) -> tuple[ImagingStudy, ...]:
    out = []
    for i in range(draw(st.integers(1, 8))):
        rows = []
        for _ in range(draw(st.integers(0, 6))):
            status = draw(st.sampled_from(list(MeasurementStatus)))
            rows.append(Measurement(draw(st.integers(1, n_lesions)), draw(_sizes), status))
        news = tuple(NewLesion(draw(st.sampled_from(["liver", "brain"])), draw(st.sampled_from([None, "N1", "n1"])),
                               draw(st.booleans()), draw(st.one_of(st.none(), st.floats(1, 30))), draw(st.booleans()))
                     for _ in range(draw(st.integers(0, 2))))
        out.append(ImagingStudy(
            id=draw(st.integers(1, 6)) if draw(st.booleans()) else i + 1,  # ids may repeat
            date=DAY0 + timedelta(days=draw(st.integers(0, 40))),
            slice_thickness_mm=draw(st.sampled_from([None, 1.25, 5.0, 7.5])),
            measurements=tuple(rows), new_lesions=news,
            non_target_status=draw(st.one_of(st.none(), st.sampled_from(list(NonTargetStatus))))))
    return tuple(out)


_settings = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(_studies())
def test_merging_one_study_without_row_keys_equals_the_general_merge(studies: tuple[ImagingStudy, ...]) -> None:
    for s in studies:
        fast = recist._merge_one(s)
        if len({m.lesion_id for m in s.measurements}) == len(s.measurements):
            assert fast is not None
            general = recist._merge_general([s])
            assert fast == general
            assert list(fast.rows) == list(general.rows) and list(fast.slice_mm) == list(general.slice_mm)
        else:
            assert fast is None  # several rows of one lesion: only the general merge picks the right one
        assert recist._merge([s]) == recist._merge_general([s])


@_settings
@given(_studies(), st.lists(st.lists(st.integers(0, 9), min_size=1, max_size=3), max_size=6))
def test_merged_rows_of_equals_merged_rows_per_time_point(studies: tuple[ImagingStudy, ...],
                                                          groups: list[list[int]]) -> None:
    history = History(PatientInfo(1, "P"), studies=studies)
    groups = [tuple(g) for g in groups] + [(s.id,) for s in studies]
    assert recist.merged_rows_of(history, groups) == [recist.merged_rows(history, g) for g in groups]


def _suspicious_reference(values: list[Any], jump: Any) -> dict[int, str]:
    """plausibility._suspicious before its jumps were remembered (each computed when needed)."""
    out: dict[int, str] = {}
    n = len(values)
    trusted: int | None = None
    for i, cur in enumerate(values):
        prev = values[trusted] if trusted is not None else None
        nxt = values[i + 1] if i + 1 < n else None
        jp = jump(prev, cur, "last") if prev is not None else None
        jn = jump(cur, nxt, "last") if nxt is not None else None
        message: str | None = None
        if prev is not None and nxt is not None:
            message = jp if (jp and jn) else None
        elif prev is not None:
            message = jp
        elif nxt is not None and jn and i + 2 < n and jump(nxt, values[i + 2], "last") is None:
            message = jump(nxt, cur, "next")
        if message:
            out[i] = message
        else:
            trusted = i
    return out


@_settings
@given(st.lists(st.tuples(st.integers(0, 400), st.sampled_from([1.0, 2.5, 4.0, 10.0, 12.0, 40.0, 48.0, 100.0, 0.4])),
                max_size=12))
def test_suspicious_values_are_the_same_with_each_jump_computed_once(raw: list[tuple[int, float]]) -> None:
    cfg = RulesConfig().plausibility
    values = sorted((DAY0 + timedelta(days=d), v) for d, v in raw)

    def jump(prev: Any, new: Any, which: str) -> str | None:
        return plausibility._lesion_jump("L1", prev[1], prev[0], new[1], new[0], cfg, which)

    assert plausibility._suspicious(values, jump) == _suspicious_reference(values, jump)


_decimals = st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000),
                      st.floats(-1000, 1000).map(decimal_math.D))


@_settings
@given(_decimals, _decimals, st.sampled_from([28, 5, 40]))
def test_pct_change_is_computed_at_28_digits_whatever_the_context(new: Decimal, ref: Decimal, prec: int) -> None:
    def reference(new: Decimal, ref: Decimal) -> Decimal | None:
        if ref == 0:
            return None
        with localcontext() as ctx:
            ctx.prec = 28
            return (new - ref) * 100 / ref

    with localcontext() as ctx:
        ctx.prec = prec
        got = decimal_math.pct_change(new, ref)
        want = reference(new, ref)
    assert got == want and str(got) == str(want)


@_settings
@given(st.one_of(st.floats(allow_nan=True), st.sampled_from([0.0, -0.0, 5.0, 30.6]), st.integers(-5, 5)))
def test_decimal_of_a_float_is_the_same_from_the_cache(x: float) -> None:
    first, again = decimal_math.D(x), decimal_math.D(x)
    want = Decimal(repr(float(x))) if isinstance(x, float) else Decimal(x)
    assert str(first) == str(again) == str(want)


def test_decimal_cache_keeps_negative_zero_apart() -> None:
    decimal_math.D(5.0)
    assert str(decimal_math.D(-0.0)) == "-0.0" and str(decimal_math.D(0.0)) == "0.0"


def _histories() -> Any:
    from test_engine import histories

    return histories()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_engine_copies_findings_as_replace_would_and_marks_them_as_mark_history(h: History, today: date) -> None:
    ev = engine.evaluate(h, today)
    cut = engine.history_as_of(h, today)
    for f in ev.findings:
        plain = dataclasses.replace(f, patient_id=None, line_id=None, historical=False)
        again = engine._with(plain, patient_id=f.patient_id, line_id=f.line_id, historical=f.historical)
        assert again == dataclasses.replace(plain, patient_id=f.patient_id, line_id=f.line_id,
                                            historical=f.historical) == f
        assert again.__dict__ == f.__dict__
    assert [(f.line_id, f.historical) for f in engine.mark_history(list(ev.findings), cut)] == \
        [(f.line_id, f.historical) for f in ev.findings]
    keys = [engine._sort_key(f, f.id) for f in ev.findings]
    assert keys == sorted(keys) and len({f.id for f in ev.findings}) == len(ev.findings)


def _to_data_reference(obj: Any) -> Any:
    """serialize.to_data before its fast paths for the common leaves."""
    from enum import Enum

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: _to_data_reference(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if hasattr(obj, "id") and "id" not in out:
            out["id"] = obj.id
        return out
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 4)
    if isinstance(obj, dict):
        return {str(_to_data_reference(k)): _to_data_reference(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_to_data_reference(v) for v in obj]
    return obj


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_to_data_fast_paths_equal_the_general_conversion(h: History, today: date) -> None:
    from lungtrack.serialize import to_data

    ev = engine.evaluate(h, today)
    for part in (ev.findings, ev.responses, ev.kinetics, ev.due,
                 {"a": [1, 2.123456, True, None, "x", enums.Severity.WATCH, Decimal("1.5"), float("nan")]},
                 {enums.Severity.WATCH: (1, False), date(2026, 1, 2): [None, {"b": 0.1 + 0.2}], 3: None, True: "t"}):
        got = to_data(part)
        assert got == _to_data_reference(part)
        assert json.dumps(got) == json.dumps(_to_data_reference(part))  # same types, keys and order


def test_enum_lookups_of_the_loader_equal_the_enum_conversion() -> None:
    from lungtrack.store import read

    for enum_cls in (enums.MeasurementStatus, enums.Modality, enums.NonTargetStatus, enums.Marker, enums.StopReason,
                     enums.LesionRole, enums.Sample, enums.BiopsyResult, enums.AlleleContext, enums.AppointmentKind,
                     enums.AppointmentStatus):
        lookup = read._values(enum_cls)
        default = next(iter(enum_cls))
        for value in [m.value for m in enum_cls] + [None, "", "unknown-value", "MEASURED", " ct"]:
            assert lookup(value) is read._enum(enum_cls, value)
            assert lookup(value, default) is read._enum(enum_cls, value, default)


def test_merged_rows_of_keeps_history_order_for_studies_sharing_an_id() -> None:
    """Two studies with one id on one day: the merge sees them in the history's order, as before."""
    a = ImagingStudy(7, DAY0, measurements=(Measurement(1, 10.0),))
    b = ImagingStudy(7, DAY0, measurements=(Measurement(1, 12.0),))
    for studies in ((a, b), (b, a)):
        h = History(PatientInfo(1, "P"), lines=(TherapyLine(1, "osimertinib", DAY0),),
                    lesions=(Lesion(1, "L1", "lung"),), studies=studies)
        assert recist.merged_rows_of(h, [(7,)]) == [recist.merged_rows(h, (7,))]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_baseline_lesion_sizes_equal_the_courses_sizes(h: History, today: date) -> None:
    from lungtrack.core.heterogeneity import baseline_lesion_sizes, lesion_courses

    cut = engine.history_as_of(h, today)
    for response in recist.assess_history(cut):
        courses = [c for c in lesion_courses(cut, response) if c.role != "new"]
        sizes = baseline_lesion_sizes(cut, response)
        assert [(c.lesion_id, c.label, tuple(p.size_mm for p in c.points)) for c in courses] == \
            [(s.lesion_id, s.label, s.sizes) for s in sizes]


_values = st.one_of(st.sampled_from([0.0, -0.0, -3.0, 1.0, 4.0, 16.0, 50.0, 0.02, 2500.0, 1e-320, 1e300]),
                    st.floats(0.001, 5000), st.floats(allow_nan=True))


@_settings
@given(st.lists(_values, max_size=10), st.sampled_from([4.0, 50.0, 1.0000000001, 4]))
def test_clearly_steady_values_are_never_flagged(raw: list[float], factor: float) -> None:
    cfg = dataclasses.replace(RulesConfig().plausibility, lesion_jump_factor=factor)
    values = [(DAY0 + timedelta(days=7 * i), v) for i, v in enumerate(raw)]

    def jump(prev: Any, new: Any, which: str) -> str | None:
        return plausibility._lesion_jump("L1", prev[1], prev[0], new[1], new[0], cfg, which)

    if plausibility._clearly_steady(values, factor):
        assert plausibility._suspicious(values, jump) == {}
    # it says "steady" for an ordinary series, and never next to a NaN it would have to compare
    assert plausibility._clearly_steady([(DAY0, 10.0), (DAY0, 12.5), (DAY0, 9.0)], 4.0)
    assert not plausibility._clearly_steady([(DAY0, 10.0), (DAY0, float("nan"))], 4.0)


@_settings
@given(_values, st.sampled_from([(1.0, 300.0), (1, 300), (0.5, 2.5), (10, 2**53)]))
def test_sizes_inside_the_range_need_no_decimal_check(v: float, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    cfg = dataclasses.replace(RulesConfig().plausibility, min_lesion_mm=lo, max_lesion_mm=hi)
    assert plausibility._exact_float_bound(lo) and plausibility._exact_float_bound(hi)
    if lo < v < hi:
        assert plausibility._lesion_range("L1", v, cfg) is None
    if not v < 0:
        assert plausibility.check_marker_entry("CEA", "ng/mL", None, None, v, DAY0, cfg) is None
    assert not plausibility._exact_float_bound(2**60 + 1)


def test_all_patient_outputs_are_the_same_with_and_without_worker_processes(db_path, cli, monkeypatch) -> None:
    """The pool's workers load and evaluate their own patients: byte for byte what one process prints,
    in the same order, across batch boundaries (batches of 3, 7 patients), for JSON Lines and text."""
    import sys
    from pathlib import Path

    from lungtrack import services

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import cohort

    cohort.build(str(db_path), 7, seed=5)
    monkeypatch.setattr(services, "BATCH_SIZE", 3)
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-06-01")
    outputs = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv("LUNGTRACK_JOBS", jobs)
        outputs[jobs] = [(r.code, r.stdout) for r in (cli("check", "--all-patients", "--json"),
                                                       cli("check", "--all-patients", "--all"),
                                                       cli("remind", "--all-patients", "--json"))]
    assert outputs["1"] == outputs["2"]
    assert len(outputs["1"][0][1].splitlines()) == 7


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)), st.booleans())
def test_the_assessments_rows_equal_merged_rows_and_give_the_same_mixed_responses(h: History, today: date,
                                                                                 share_ids: bool) -> None:
    from lungtrack.core.heterogeneity import mixed_response_findings

    if share_ids and len(h.studies) > 1:  # two studies with one id: the rows are not shared
        h = dataclasses.replace(h, studies=(dataclasses.replace(h.studies[0], id=h.studies[1].id),) + h.studies[1:])
    cut = engine.history_as_of(h, today)
    responses, rows = recist.assess_history_with_rows(cut)
    assert responses == recist.assess_history(cut)
    if len({s.id for s in cut.studies}) < len(cut.studies):
        assert rows is None
    else:
        assert rows is not None
        for response, tp_rows in zip(responses, rows):
            assert tp_rows == [recist.merged_rows(cut, tp.study_ids or (tp.study_id,)) for tp in response.timepoints]
    assert mixed_response_findings(cut, responses, timepoint_rows=rows) == mixed_response_findings(cut, responses)


# --------------------------------------------------------------------------- fourth pass

_any_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                        st.sampled_from([0.0, -0.0, 5e-324, 1e300, 12.34565, 12.34575, 0.00005, 0.00015, 99999.99995]),
                        st.floats(0.5, 150).map(lambda x: round(x, 1)), st.floats(0.5, 150).map(lambda x: round(x, 5)))


def _outcome(fn: Any, *args: Any) -> tuple[str, str]:
    try:
        return "ok", repr(fn(*args))
    except Exception as exc:  # noqa: BLE001 - the same exception is the expected result
        return "raised", type(exc).__name__


@_settings
@given(st.lists(_any_floats, min_size=1, max_size=8))
def test_rounded_float_is_to_float_of_the_decimal_also_from_the_cache(xs: list[float]) -> None:
    for x in xs + xs:  # the second time from the cache
        assert _outcome(decimal_math.rounded_float, x) == _outcome(lambda v: decimal_math.to_float(decimal_math.D(v)), x)


@_settings
@given(st.lists(st.tuples(st.sampled_from(list(MeasurementStatus)), st.one_of(st.none(), _any_floats, st.integers(0, 40))),
                max_size=8), st.sampled_from([5.0, 4.0, 5]))
def test_size_float_is_to_float_of_effective_mm(rows: list[tuple[MeasurementStatus, Any]], too_small: float) -> None:
    from lungtrack.core.heterogeneity import size_float

    config = dataclasses.replace(RulesConfig().recist, too_small_mm=too_small)
    for status, size in rows + rows:
        row = Measurement(1, size, status)
        assert _outcome(size_float, row, config) == \
            _outcome(lambda r, c: decimal_math.to_float(recist.effective_mm(r, c)), row, config)
    assert size_float(None, config) is None


def _with_previous_reference(bios: Any) -> list[Any]:
    """variants.variant_findings before its one pass: each result scanned every earlier one."""
    from lungtrack.core.variants import _Key
    from lungtrack.knowledge.resistance import canonical_gene

    out = []
    for i, b in enumerate(bios):
        key = _Key.of(b)
        earlier = [x for x in bios[:i] if x.date < b.date]
        same = [x for x in earlier if _Key.of(x) == key]
        gene_dates = [x.date for x in earlier if key.gene and canonical_gene(x.gene) == key.gene]
        out.append((b, same[-1] if same else None, gene_dates[-1] if gene_dates else None))
    return out


@st.composite
def _biopsies(draw: Any) -> tuple[Any, ...]:
    from lungtrack.core.history import BiopsyFinding

    genes = [("EGFR", "T790M"), ("egfr", "t790m "), ("EGFR", "C797S"), ("MET", "amplification"), ("HER2", "amplification"),
             ("ERBB2", "amplification"), ("", "small-cell transformation"), ("ALK", "G1202R")]
    out = []
    for i in range(draw(st.integers(0, 12))):
        gene, variant = draw(st.sampled_from(genes))
        out.append(BiopsyFinding(draw(st.integers(1, 5)) if draw(st.booleans()) else i + 1,
                                 DAY0 + timedelta(days=draw(st.integers(0, 6))),
                                 draw(st.sampled_from(list(enums.Sample))), gene, variant,
                                 draw(st.sampled_from(list(enums.BiopsyResult)))))
    return tuple(out)


@_settings
@given(_biopsies())
def test_previous_results_in_one_pass_equal_the_scan_of_every_earlier_result(bios: tuple[Any, ...]) -> None:
    from lungtrack.core import variants

    ordered = sorted(bios, key=lambda b: (b.date, b.id))
    got = variants._with_previous(ordered)
    want = _with_previous_reference(ordered)
    assert got == want
    assert [(id(b), id(p) if p is not None else None) for b, p, _ in got] == \
        [(id(b), id(p) if p is not None else None) for b, p, _ in want]  # the same earlier result, not an equal one


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_marker_and_timing_findings_from_kinetics_and_due_items_given_equal_computed(h: History, today: date) -> None:
    from lungtrack.core import markers, timing

    cut = engine.history_as_of(h, today)
    config = RulesConfig()
    responses = recist.assess_history(cut)
    assert markers.marker_findings(cut, config, kinetics=markers.marker_kinetics(cut, config)) == \
        markers.marker_findings(cut, config)
    assert timing.timing_findings(cut, responses, today, config, due=timing.due_items(cut, today, config)) == \
        timing.timing_findings(cut, responses, today, config)


def test_engine_computes_kinetics_and_due_items_once_and_a_failure_still_shows_once(monkeypatch: Any) -> None:
    from test_engine import ann

    calls = {"kinetics": 0, "due": 0}
    real_kinetics, real_due = engine.marker_kinetics, engine.due_items

    def kinetics(*a: Any, **k: Any) -> Any:
        calls["kinetics"] += 1
        return real_kinetics(*a, **k)

    def due(*a: Any, **k: Any) -> Any:
        calls["due"] += 1
        return real_due(*a, **k)

    monkeypatch.setattr(engine, "marker_kinetics", kinetics)
    monkeypatch.setattr(engine, "due_items", due)
    today = date(2026, 8, 12)
    ev = engine.evaluate(ann(), today)
    assert calls == {"kinetics": 1, "due": 1} and ev.kinetics and ev.due
    assert [f.rule for f in ev.findings if f.rule.startswith(("marker.", "timing."))]

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(engine, "marker_kinetics", boom)
    ev = engine.evaluate(ann(), today)
    errors = [f for f in ev.findings if f.rule == "engine.rule_error"]
    assert [f.subject for f in errors] == ["markers"] and ev.kinetics == ()  # tried twice, shown once, as before
    assert not [f for f in ev.findings if f.rule.startswith("marker.")]


def test_the_collector_settings_of_the_all_patient_commands_are_put_back() -> None:
    import gc

    from lungtrack import services

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with services._collector_for_batches():
        assert not gc.isenabled() and gc.get_freeze_count() >= frozen
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
    assert gc.isenabled()
    gc.disable()
    try:  # a collector someone else turned off stays off
        with services._collector_for_batches():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@_settings
@given(st.lists(st.one_of(st.none(), _decimals, st.sampled_from([Decimal("30.0"), Decimal("30.00"), Decimal("30"),
                                                                  Decimal("-0.0"), Decimal("0E-7"), Decimal("NaN"),
                                                                  Decimal("Infinity"), Decimal("12.34565")])),
                max_size=10))
def test_nadir_floats_once_per_nadir_equal_to_float(nadirs: list[Decimal | None]) -> None:
    seen: dict[Decimal, float] = {}
    for nadir in nadirs + nadirs:
        assert _outcome(recist._nadir_float, nadir, seen) == _outcome(decimal_math.to_float, nadir)


@_settings
@given(st.lists(st.one_of(st.sampled_from(["osimertinib", "Osimertinib", " TAGRISSO ", "amivantamab + lazertinib",
                                           "Amivantamab-Lazertinib", "not-a-drug", "", "erlotinib®"]),
                          st.text(max_size=12)), max_size=8))
def test_drug_lookup_remembered_per_name_equals_the_key_lookup(names: list[str]) -> None:
    from lungtrack.knowledge import drugs

    for name in names + names:
        assert drugs.get_drug(name) is (drugs._BY_KEY.get(drugs._key(name)) if name else None)


def _mixed_response_reference(history: History, responses: Any, config: RulesConfig, rows: Any) -> list[Any]:
    """heterogeneity.mixed_response_findings before the float comparisons: every size as a decimal."""
    from lungtrack.core import heterogeneity as het
    from lungtrack.core.decimal_math import D, at_least_pct_increase

    pct = D(config.heterogeneity.lesion_growth_pct)
    min_mm = D(config.heterogeneity.lesion_growth_min_mm)
    found: dict[str, Any] = {}
    for i, response in enumerate(responses):
        courses = het.baseline_lesion_sizes(history, response, config, rows=rows[i] if rows is not None else None)
        for course in courses:
            nadir: Decimal | None = None
            nadir_date: date | None = None
            in_episode = False
            for index, size_mm in enumerate(course.sizes):
                if size_mm is None:
                    continue
                value = D(size_mm)
                tp = response.timepoints[index]
                if nadir is not None and not tp.is_baseline:
                    grew = value - nadir >= min_mm and at_least_pct_increase(value, nadir, pct)
                    if grew and not in_episode:
                        in_episode = True
                        if tp.overall != recist.PD:
                            f = het._finding(history, response, course, courses, index, value, nadir, nadir_date)
                            found.setdefault(f.id, f)
                    elif not grew:
                        in_episode = False
                if nadir is None or value < nadir:
                    nadir, nadir_date = value, tp.date
    return list(found.values())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.sampled_from([(20, 5), (20, 0), (0, 0), (10, 0.5), (50, 2.5)]))
def test_mixed_response_with_float_comparisons_equals_the_decimal_loop(h: History, thresholds: tuple[float, float]) -> None:
    from lungtrack.core import heterogeneity as het

    pct, min_mm = thresholds
    config = dataclasses.replace(RulesConfig(), heterogeneity=dataclasses.replace(
        RulesConfig().heterogeneity, lesion_growth_pct=pct, lesion_growth_min_mm=min_mm))
    responses, rows = recist.assess_history_with_rows(h, config)
    got = het.mixed_response_findings(h, responses, config, timepoint_rows=rows)
    assert got == _mixed_response_reference(h, responses, config, rows)
    assert [f.evidence for f in got] == [f.evidence for f in _mixed_response_reference(h, responses, config, rows)]


@_settings
@given(st.lists(st.tuples(st.sampled_from(list(enums.Marker) + ["CEA", "not-a-marker"]), st.integers(0, 60),
                          st.floats(0, 100)), max_size=25))
def test_markers_grouped_in_one_pass_equal_one_comprehension_per_marker(raw: list[tuple[Any, int, float]]) -> None:
    from lungtrack.core.history import MarkerResult, markers_by_kind

    results = [MarkerResult(i, DAY0 + timedelta(days=d), m, v, "ng/mL") for i, (m, d, v) in enumerate(raw)]
    want = [(m, rs) for m in enums.Marker if (rs := [r for r in results if r.marker == m])]
    got = markers_by_kind(results)
    assert got == want
    assert [[id(r) for r in rs] for _m, rs in got] == [[id(r) for r in rs] for _m, rs in want]


def _fmt_mm_plain(x: Any) -> str:
    """fmt_mm as written before its cache."""
    d = decimal_math.D(x) if not isinstance(x, Decimal) else x
    q = d.quantize(Decimal("0.01")).normalize()
    text = format(q, "f")
    return "0" if text in ("-0", "") else text


_decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True), st.decimals(places=3, min_value=-1000, max_value=1000),
    st.sampled_from([Decimal("22.5"), Decimal("22.50"), Decimal("-0"), Decimal("0.005"), Decimal("0.015"),
                     Decimal("1E+30"), Decimal("NaN"), Decimal("sNaN"), Decimal("-0.001")]))


@_settings
@given(st.lists(st.one_of(_decimals, _any_floats, st.integers(-10**6, 10**6)), min_size=1, max_size=8))
def test_fmt_mm_is_the_plain_formatting_also_from_the_cache(xs: list[Any]) -> None:
    for x in xs + xs:  # the second time from the cache
        assert _outcome(decimal_math.fmt_mm, x) == _outcome(_fmt_mm_plain, x)


@_settings
@given(st.lists(_decimals, min_size=1, max_size=6))
def test_fmt_mm_in_another_context_is_not_taken_from_the_cache(xs: list[Decimal]) -> None:
    from decimal import ROUND_HALF_UP

    for x in xs:
        _outcome(decimal_math.fmt_mm, x)  # cached in the default context
    for prec, rounding in ((28, ROUND_HALF_UP), (3, None)):
        with localcontext() as ctx:
            ctx.prec = prec
            if rounding:
                ctx.rounding = rounding
            for x in xs:
                assert _outcome(decimal_math.fmt_mm, x) == _outcome(_fmt_mm_plain, x)


@_settings
@given(st.lists(st.tuples(st.sampled_from(list(enums.Marker)), st.integers(0, 400), st.floats(0, 100)), max_size=25),
       st.integers(0, 300))
def test_kinetics_and_due_items_over_markers_grouped_once(raw: list[tuple[Any, int, float]], start: int) -> None:
    """The engine groups the markers once for marker_kinetics and due_items (by_kind=...)."""
    from lungtrack.core.history import MarkerResult, markers_by_kind
    from lungtrack.core.markers import marker_kinetics
    from lungtrack.core.timing import due_items

    results = tuple(MarkerResult(i, DAY0 + timedelta(days=d), m, v, "ng/mL") for i, (m, d, v) in enumerate(raw))
    h = History(PatientInfo(1, "p"), lines=(TherapyLine(1, "osimertinib", DAY0 + timedelta(days=start)),),
                markers=results)
    grouped = markers_by_kind(h.markers)
    today = DAY0 + timedelta(days=420)
    assert marker_kinetics(h, RulesConfig(), by_kind=grouped) == marker_kinetics(h, RulesConfig())
    assert due_items(h, today, RulesConfig(), by_kind=grouped) == due_items(h, today, RulesConfig())


# --------------------------------------------------------------------------- sixth pass


@st.composite
def _followed_lines(draw: Any) -> History:
    """One line with a baseline scan and 2-9 follow-up scans of 1-3 lesions: sizes from a small
    set (ties, rises and falls), now and then not evaluated, too small or gone."""
    lesions = tuple(Lesion(i + 1, f"L{i}", draw(st.sampled_from(["lung", "liver"])))
                    for i in range(draw(st.integers(1, 3))))
    sizes = st.sampled_from([12.0, 15.0, 15.0, 20.0, 22.5, 30.0, 30.0, 41.2])
    def scan(sid: int, on: date, follow: bool) -> ImagingStudy:
        rows = []
        for les in lesions:
            status = draw(st.sampled_from([MeasurementStatus.MEASURED] * 6 + list(MeasurementStatus))) if follow \
                else MeasurementStatus.MEASURED
            rows.append(Measurement(les.id, draw(sizes) if status is MeasurementStatus.MEASURED else None, status))
        return ImagingStudy(sid, on, measurements=tuple(rows))
    start = DAY0 + timedelta(days=10)
    studies = [scan(1, DAY0, False)]
    for i in range(draw(st.integers(2, 9))):
        studies.append(scan(i + 2, start + timedelta(days=60 * (i + 1)), True))
    return History(PatientInfo(1, "p"), lines=(TherapyLine(1, "osimertinib", start),), lesions=lesions,
                   studies=tuple(studies))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_histories(), _followed_lines()), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
def test_each_time_points_nadir_is_the_lowest_earlier_evaluable_sum(h: History, today: date) -> None:
    """The nadir kept as the assessment goes equals min() over the baseline sum and every
    earlier evaluable sum (as min() was called at every time point), and the percentages are
    to_float of the decimal changes."""
    cut = engine.history_as_of(h, today)
    lines = sorted(cut.lines, key=lambda l: (l.start, l.id))
    for line, response in zip(lines, recist.assess_history(cut)):
        sums: list[float] = []
        for tp in response.timepoints:
            if tp.is_baseline:
                if tp.sum_mm is not None:
                    sums.append(tp.sum_mm)
                continue
            if not response.targets:
                assert tp.nadir_mm is None and tp.sum_mm is None
                continue
            assert tp.nadir_mm == min(sums)  # to_float is monotonic: the float of the lowest decimal
            if tp.sum_mm is not None:
                base = decimal_math.D(tp.baseline_sum_mm) if tp.baseline_sum_mm is not None else None
                if base:
                    expected = decimal_math.to_float(decimal_math.pct_change(decimal_math.D(tp.sum_mm), base))
                    assert tp.change_from_baseline_pct is not None and expected is not None
                    assert abs(tp.change_from_baseline_pct - expected) < 0.01
                assert tp.change_from_nadir_mm is not None
                assert abs(tp.change_from_nadir_mm - (tp.sum_mm - tp.nadir_mm)) < 0.001
                sums.append(tp.sum_mm)
        assert response.line == line


@_settings
@given(st.lists(st.tuples(st.one_of(_any_floats, st.integers(0, 40)), st.integers(0, 30),
                          st.sampled_from([None, None, None, "<", ">"])), max_size=12))
def test_marker_nadir_by_float_order_is_the_nadir_key_minimum(raw: list[tuple[Any, int, str | None]]) -> None:
    from lungtrack.core.markers import MarkerPoint, _nadir, _nadir_key

    points = tuple(MarkerPoint(DAY0 + timedelta(days=d), v, c) for v, d, c in raw)

    def reference(ps: Any) -> Any:
        return min(ps, key=_nadir_key) if ps else None

    got, want = _outcome(lambda ps: id(_nadir(ps)), points), _outcome(lambda ps: id(reference(ps)), points)
    assert got == want
    exact = tuple(p for p in points if p.comparator is None and isinstance(p.value, float) and math.isfinite(p.value))
    assert _outcome(lambda ps: id(_nadir(ps)), exact) == _outcome(lambda ps: id(reference(ps)), exact)
