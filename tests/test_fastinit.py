"""lungtrack.core.fastinit: the slot-storing ``__init__`` of the frozen dataclasses the rules build
by the thousand behaves as the ``__init__`` dataclasses generates."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import InitVar, dataclass, field
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.core import engine, heterogeneity, history, markers, recist, timing, variants
from lungtrack.core.fastinit import fast_init


def _fast_classes() -> list[type]:
    """Every class of the core that uses fast_init (found by its generated __init__)."""
    out = []
    for module in (history, recist, markers, timing, heterogeneity, variants, engine):
        for obj in vars(module).values():
            if (isinstance(obj, type) and obj.__module__ == module.__name__ and dataclasses.is_dataclass(obj)
                    and obj.__init__.__code__.co_filename == "<string>"
                    and "_set_" in " ".join(obj.__init__.__code__.co_names)):
                out.append(obj)
    return out


FAST = _fast_classes()


def test_the_hot_classes_use_it() -> None:
    names = {c.__name__ for c in FAST}
    assert {"Measurement", "MarkerResult", "ImagingStudy", "History", "TimepointAssessment", "LineResponse",
            "TargetLesion", "MarkerPoint", "DueItem", "Evaluation"} <= names


def _reference(cls: type) -> type:
    """The same fields as ``cls`` in a frozen dataclass with the generated ``__init__``."""
    fields = [(f.name, f.type, field(default=f.default) if f.default is not dataclasses.MISSING else
               field(default_factory=f.default_factory) if f.default_factory is not dataclasses.MISSING else field())
              for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass("Ref" + cls.__name__, fields, frozen=True)


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_signature_defaults_and_errors_match_dataclasses(cls: type) -> None:
    ref = _reference(cls)
    fast_sig = inspect.signature(cls)
    ref_sig = inspect.signature(ref)
    assert list(fast_sig.parameters) == list(ref_sig.parameters)
    for name, p in fast_sig.parameters.items():
        rp = ref_sig.parameters[name]
        assert p.kind == rp.kind
        assert (p.default is inspect.Parameter.empty) == (rp.default is inspect.Parameter.empty)
    required = [n for n, p in fast_sig.parameters.items() if p.default is inspect.Parameter.empty]
    markers_ = [object() for _ in required]
    by_keyword = cls(**dict(zip(required, markers_)))
    expected = ref(**dict(zip(required, markers_)))
    positional = cls(*markers_)
    for f in dataclasses.fields(cls):
        assert getattr(by_keyword, f.name) == getattr(expected, f.name)
        assert getattr(positional, f.name) == getattr(expected, f.name)
    for bad_call in (lambda: cls(*markers_, *([object()] * (len(fast_sig.parameters) - len(required) + 1))),
                     lambda: cls(*markers_, no_such_field=1)):
        with pytest.raises(TypeError):
            bad_call()
    if required:
        with pytest.raises(TypeError):
            cls(*markers_[:-1])


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_instances_stay_frozen_equal_hashable_picklable(cls: type) -> None:
    required = [n for n, p in inspect.signature(cls).parameters.items() if p.default is inspect.Parameter.empty]
    values = {n: (i, n) for i, n in enumerate(required)}  # hashable and picklable
    a, b = cls(**values), cls(**values)
    assert a == b and hash(a) == hash(b)
    assert not hasattr(a, "__dict__")
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(a, name, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(a, name)
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.copy(a) == a and copy.deepcopy(a) == a
    changed = dataclasses.replace(a, **{name: ("changed",)})
    assert getattr(changed, name) == ("changed",) and changed != a
    assert repr(a).startswith(cls.__qualname__ + "(")


def test_a_default_factory_gives_each_instance_its_own_value() -> None:
    one, two = history.PatientInfo(1, "a"), history.PatientInfo(2, "b")
    assert one.schedule == history.Schedule() and one.schedule is not two.schedule
    given_schedule = history.Schedule(imaging_overdue_weeks=12)
    assert history.PatientInfo(3, "c", schedule=given_schedule).schedule is given_schedule


@given(lesion_id=st.integers(), size=st.none() | st.floats(allow_nan=False),
       status=st.sampled_from(list(history.MeasurementStatus)))
def test_measurement_fields_are_what_was_given(lesion_id: int, size: float | None,
                                               status: history.MeasurementStatus) -> None:
    m = history.Measurement(lesion_id, size, status)
    ref = _reference(history.Measurement)(lesion_id, size, status)
    assert (m.lesion_id, m.size_mm, m.status) == (ref.lesion_id, ref.size_mm, ref.status)
    assert history.Measurement(lesion_id=lesion_id, size_mm=size) == history.Measurement(lesion_id, size)


def test_post_init_still_runs() -> None:
    calls = []

    @fast_init
    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int
        y: int = 2

        def __post_init__(self) -> None:
            calls.append((self.x, self.y))
            if self.x < 0:
                raise ValueError("x")

    Checked(1)
    Checked(3, y=4)
    assert calls == [(1, 2), (3, 4)]
    with pytest.raises(ValueError):
        Checked(-1)


def test_it_refuses_what_it_cannot_copy() -> None:
    with pytest.raises(TypeError, match="slots"):
        @fast_init
        @dataclass(frozen=True)
        class NoSlots:
            x: int

    with pytest.raises(TypeError, match="slots"):
        @fast_init
        @dataclass(slots=True)
        class NotFrozen:
            x: int

    with pytest.raises(TypeError, match="positional"):
        @fast_init
        @dataclass(frozen=True, slots=True)
        class WithInitVar:
            x: int
            y: InitVar[int] = 0

    with pytest.raises(TypeError, match="positional"):
        @fast_init
        @dataclass(frozen=True, slots=True)
        class KwOnly:
            x: int = field(kw_only=True)

    with pytest.raises(TypeError, match="positional"):
        @fast_init
        @dataclass(frozen=True, slots=True)
        class NotInInit:
            x: int = field(init=False, default=0)


def test_dates_and_tuples_pass_through_unchanged() -> None:
    d = date(2026, 1, 2)
    study = history.ImagingStudy(7, d, measurements=(history.Measurement(1, 10.0),))
    assert study.date is d and study.measurements[0].size_mm == 10.0
    assert study.modality is history.Modality.CT and study.new_lesions == ()
