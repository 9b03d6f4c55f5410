"""lungtrack.jsonwrite: orjson writes a JSON Lines record only where it gives the standard
library's exact text (or the same error)."""

from __future__ import annotations

import enum
import json
import math
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lungtrack import jsonwrite
from lungtrack.cli.common import _json_leaf, json_line
from lungtrack.enums import Marker, Severity
from lungtrack.serialize import to_data

PLAIN = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_leaf).encode
FAST = jsonwrite.encoder(_json_leaf)


class Plain(enum.Enum):
    A = "a text"


class Count(enum.IntEnum):
    ONE = 1


finite_floats = st.floats(allow_nan=False, allow_infinity=False)
leaves = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
          | finite_floats | st.text() | st.dates() | st.sampled_from(list(Severity) + list(Marker))
          | st.sampled_from([Plain.A, Count.ONE, 1e-05, 1e16, 9999999999999998.0, 0.0001, 9.9999e-05, -0.0]))
keys = st.text() | st.integers() | st.booleans() | st.none() | finite_floats
data = st.recursive(leaves, lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=5)
                    | st.dictionaries(keys, inner, max_size=3), max_leaves=30)


def _same(value: object) -> None:
    try:
        expected = PLAIN(value)
    except Exception as exc:  # noqa: BLE001 - the same error is expected
        with pytest.raises(type(exc)) as got:
            FAST(value)
        assert str(got.value) == str(exc)
    else:
        assert FAST(value) == expected


@settings(max_examples=400)
@given(data)
def test_the_same_text_as_json(value: object) -> None:
    _same(value)


@settings(max_examples=200)
@given(st.lists(finite_floats | st.floats(min_value=-1e20, max_value=1e20, allow_nan=False), max_size=20))
def test_floats_of_every_size(values: list[float]) -> None:
    _same(values)
    _same({"sizes": values, "text": "1e5 is 0.00001"})


@pytest.mark.parametrize("value", [
    1e-05, 0.0001, 9.9999e-05, 1e15, 1e16, 1.5e16, 123456789012345678.0, 5e-324, -0.0, 0.1, 1 / 3,
])
def test_float_forms_at_the_exponent_bounds(value: float) -> None:
    assert FAST([value]) == PLAIN([value]) == "[" + repr(value) + "]"


@pytest.mark.parametrize("value", [
    {"a": "\ud800"},  # a lone surrogate: json writes it, orjson refuses
    {1: "int key"}, {None: 1, True: 2, 1.5: 3},  # keys json turns into strings
    [2**64], [-(2**63) - 1], [2**70],  # integers beyond 64 bits
    [Count.ONE], [Plain.A], [Severity.ALERT],  # enums: int subclass, plain enum, str enum
    {"when": date(2026, 12, 6), "at": datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc)},
    "".join(chr(c) for c in range(0, 0x3000)) + "\u2028\u2029\ufeff\U0001F600",
    [[[[[[[[[[["deep"]]]]]]]]]]],
])
def test_the_cases_orjson_writes_another_way(value: object) -> None:
    _same(value)


def test_deep_nesting_goes_to_json() -> None:
    value: list[object] = []
    for _ in range(300):  # orjson refuses more than 254 levels
        value = [value]
    _same(value)


@pytest.mark.parametrize("value", [{"x": Decimal("1.5")}, [object()], {"s": {1, 2}}])
def test_the_same_error_for_what_cannot_be_written(value: object) -> None:
    with pytest.raises(TypeError) as plain:
        PLAIN(value)
    with pytest.raises(TypeError) as fast:
        FAST(value)
    assert str(fast.value) == str(plain.value)


@settings(max_examples=200)
@given(st.recursive(leaves | st.floats(), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20))
def test_json_line_finite_on_to_data_output(value: object) -> None:
    """What check --all-patients does: data made by to_data (every float finite) written with
    finite=True, the same line as without."""
    made = to_data(value)
    assert json_line(made, finite=True) == json_line(made)
    assert json_line(made, finite=True).endswith("\n")


def test_to_data_leaves_no_non_finite_float() -> None:
    made = to_data({"a": [math.nan, math.inf, -math.inf, 1.0]})
    assert made == {"a": [None, None, None, 1.0]}
    assert json_line(made, finite=True) == '{"a":[null,null,null,1.0]}\n'


def test_orjson_writes_the_usual_record_and_json_the_rest() -> None:
    """Told apart by how often ``default`` is called: once when orjson's text is kept, twice
    when json writes the record again."""
    calls: list[object] = []

    def default(value: object) -> object:
        calls.append(value)
        return _json_leaf(value)

    encode = jsonwrite.encoder(default)
    record = {"date": date(2026, 12, 6), "sizes": [22.5, 0.001, 12.0001, 1e15], "text": "CEA 5.1 ng/mL"}
    assert encode(record) == PLAIN(record)
    assert len(calls) == (1 if jsonwrite.orjson is not None else 1)
    calls.clear()
    for unusual in ({**record, "tiny": 1e-05}, {**record, "big": 2**64}, {**record, 1: "key"}):
        assert encode(unusual) == PLAIN(unusual)
        assert len(calls) == (2 if jsonwrite.orjson is not None else 1)
        calls.clear()
