"""The fast paths of the file imports (issue 11) give exactly what the plain code gives.

Each fast path is compared, on generated inputs, with the code it replaced, kept here (or in the
module, as ``*_slow``) as the reference: the FHIR datatype check, the extension look-up, the
nesting guard's depth.  The import's writes are compared with the rows and journal entries of a
plain import in tests/test_cli_import_files.py and tests/test_records_api.py.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lungtrack.errors import InputError
from lungtrack.fhir import guard
from lungtrack.fhir import mapping as fm

# ------------------------------------------------------------------ JSON values with FHIR's keys

_KEYS = sorted(fm._STRING_KEYS | fm._ARRAY_KEYS | {"code", "value", "valueString", "text", "id", "x"})
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=4))
JSON = st.recursive(_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5)),
                    max_leaves=30)
# mostly well-typed values (so that the check passes often and deep trees are reached)
_CODING = st.fixed_dictionaries({"system": st.text(max_size=3), "code": st.one_of(st.text(max_size=3), _LEAF)})
WELL = st.recursive(
    st.text(max_size=3),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(["x", "text", "value", "id"]), inner, max_size=3),
        st.fixed_dictionaries({"coding": st.lists(_CODING, max_size=3)}),
        st.fixed_dictionaries({"extension": st.lists(st.one_of(inner, _LEAF), max_size=3),
                               "url": st.one_of(st.text(max_size=3), _LEAF)}),
        st.fixed_dictionaries({"component": st.lists(st.dictionaries(st.sampled_from(["code", "x"]), inner,
                                                                     max_size=2), max_size=3)}),
        st.lists(inner, max_size=3)),
    max_leaves=25)


def _resource() -> fm.Resource:
    return fm.Resource({"resourceType": "Observation", "id": "o1"}, "f.json", 3)


def _outcome(f: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", f(*args)
    except InputError as exc:
        return "error", str(exc)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(JSON, WELL, st.dictionaries(st.sampled_from(_KEYS), st.one_of(JSON, WELL), max_size=6)))
def test_datatype_check_matches_the_path_keeping_walk(value: Any) -> None:
    r = fm._R(_resource())
    assert _outcome(fm._check_datatypes, r, value, "") == _outcome(fm._check_datatypes_slow, r, value, "")
    if isinstance(value, dict):
        assert fm._datatypes_ok(value) == (_outcome(fm._check_datatypes_slow, r, value, "")[0] == "ok")


def test_datatype_check_of_a_value_deeper_than_recursion_allows() -> None:
    deep: Any = {"coding": 5}
    for _ in range(3000):
        deep = {"x": deep}
    r = fm._R(_resource())
    with pytest.raises(InputError, match="expected an array"):
        fm._check_datatypes(r, deep, "")
    fine: Any = "leaf"
    for _ in range(3000):
        fine = {"x": [fine]}
    fm._check_datatypes(r, fine, "")


# ------------------------------------------------------------------ extension look-up

_NAMES = ["lesion-label", "equivocal", "observation-geneticsGene", "new-lesion"]
_URL = st.one_of(st.sampled_from([f"urn:lungtrack:fhir:extension:{n}" for n in _NAMES] +
                                 [f"http://hl7.org/fhir/StructureDefinition/{n}" for n in _NAMES] + ["", "x/y"]),
                 st.none(), st.integers(0, 3), st.lists(st.text(max_size=2), max_size=1))
_SUB = st.one_of(st.fixed_dictionaries({"url": st.sampled_from(["Name", "name", "Id", "other"]),
                                        "valueString": st.text(max_size=3)}),
                 st.fixed_dictionaries({"url": st.just("Name")}), st.integers(0, 2))
_EXTENSION = st.one_of(
    st.fixed_dictionaries({"url": _URL}, optional={"valueString": st.text(max_size=3), "valueBoolean": st.booleans(),
                                                    "extension": st.one_of(st.lists(_SUB, max_size=3), _LEAF)}),
    _LEAF)


@settings(max_examples=400)
@given(exts=st.one_of(st.lists(_EXTENSION, max_size=6), _LEAF), names=st.lists(st.sampled_from(_NAMES + ["x"]),
                                                                               min_size=1, max_size=5))
def test_extension_lookup_matches_the_scan(exts: Any, names: list[str]) -> None:
    r = fm._R(_resource())
    d = {"resourceType": "Observation", "extension": exts}
    fm._EXT_INDEX.clear()
    try:
        for name in names:  # repeated look-ups in one list go through its index
            assert _outcome(fm._ext, r, d, name) == _outcome(fm._ext_slow, r, d, name)
    finally:
        fm._EXT_INDEX.clear()


def test_extension_index_is_emptied_by_the_mapping_run() -> None:
    bundle = '{"resourceType": "Patient", "id": "p1", "name": [{"text": "Ann"}]}'
    fm.map_files([("p.json", bundle)])
    assert fm._EXT_INDEX == {}


# ------------------------------------------------------------------ nesting guard

_OLD_STRING = re.compile(r'"(?:[^"\\]+|\\.)*"?', re.DOTALL)


def _old_depth(text: str) -> int:
    """guard.nesting_depth's depth before the fast path (its former regular expression and sum)."""
    brackets = guard._NOT_BRACKETS.sub("", _OLD_STRING.sub("", text))
    return max(0, max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0))


@settings(max_examples=500)
@given(text=st.text(alphabet='[]{}"\\\nab: ,', max_size=300)
       | st.builds(lambda n, t: "[" * n + t + "]" * n, st.integers(0, 80), st.text(alphabet='[]"\\a', max_size=40)))
def test_nesting_depth_matches_the_former_expression(text: str) -> None:
    assert guard.nesting_depth(text)[0] == _old_depth(text)
