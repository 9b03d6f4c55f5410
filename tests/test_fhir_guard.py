"""FHIR files of the wrong JSON shape are one-line usage errors naming file:line and the field."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_refused
from lungtrack.fhir.guard import MAX_DEPTH, check_shape, nesting_depth

PATIENT = {"resourceType": "Patient", "id": "1", "name": [{"given": ["Ann"], "family": "Lee"}]}
OBS = {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/1"},
       "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]},
       "valueQuantity": {"value": 4.2, "unit": "ug/L"}, "effectiveDateTime": "2020-01-01"}
PROC = {"resourceType": "Procedure", "id": "p1", "status": "completed", "subject": {"reference": "Patient/1"},
        "code": {"text": "CT chest"}, "performedPeriod": {"start": "2020-01-01"}}


def _write(tmp_path, name, *resources):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in resources) + "\n", encoding="utf-8")
    return str(path)


def _count_patients(cli) -> int:
    r = cli("patient", "list", "--json")
    return len(r.json()) if r.code == 0 else 0


@pytest.mark.parametrize("doc,words", [
    ({"resourceType": "Bundle", "entry": 5}, ["b.json:1", "entry", "5"]),
    ({"resourceType": "Bundle", "entry": "abc"}, ["b.json:1", "entry"]),
    ({"resourceType": "Bundle", "entry": [5]}, ["b.json:1", "Bundle.entry[0]"]),  # FHIRPath indexes from 0
    ({"resourceType": "Bundle", "entry": [{"fullUrl": 3, "resource": PATIENT}]}, ["b.json:1", "fullUrl"]),
    ({"resourceType": "Bundle", "entry": [{"resource": dict(PROC, performedPeriod="2020-01-01")}]},
     ["b.json:1", "performedPeriod", "expected an object"]),
])
def test_bundle_of_the_wrong_shape_is_refused(cli, tmp_path, doc, words):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert_refused(cli("import", "fhir", str(path)), *words)
    assert _count_patients(cli) == 0


@pytest.mark.parametrize("resource,field", [
    (dict(PROC, performedPeriod="2020-01-01"), "performedPeriod"),
    (dict(OBS, subject=5), "subject"),
    (dict(OBS, code={"coding": 5}), "code.coding"),
    (dict(PATIENT, name=[{"given": "Ann"}]), "name[0].given"),
    (dict(PATIENT, name="Ann"), "name"),
    (dict(OBS, subject={"reference": 7}), "subject.reference"),
    (dict(OBS, effectivePeriod=[1, 2]), "effectivePeriod"),
])
def test_resource_of_the_wrong_shape_names_file_line_and_field(cli, tmp_path, resource, field):
    path = _write(tmp_path, "r.ndjson", PATIENT, resource)
    r = cli("import", "fhir", path)
    assert_refused(r, "r.ndjson:2", field)
    assert _count_patients(cli) == 0


def test_non_finite_number_is_refused(cli, tmp_path):
    path = tmp_path / "n.ndjson"
    path.write_text(json.dumps(PATIENT) + "\n" + json.dumps(OBS).replace("4.2", "NaN") + "\n", encoding="utf-8")
    assert_refused(cli("import", "fhir", str(path)), "n.ndjson:2", "valueQuantity.value")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_refused_before_parsing(cli, tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_text('{"resourceType": "Patient", "id": "1", "x": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    assert_refused(cli("import", "fhir", str(path)), "deep.json:1", "nested")


def test_depth_at_the_limit_is_accepted(cli, tmp_path):
    path = tmp_path / "ok.json"
    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    path.write_text('{"resourceType": "Patient", "id": "1", "extension": []} ' .replace("[]", inner), encoding="utf-8")
    assert nesting_depth(path.read_text())[0] == MAX_DEPTH
    r = cli("import", "fhir", str(path))
    assert r.code == 0, r


def test_nesting_depth_ignores_brackets_in_strings():
    assert nesting_depth('{"a": "[[[[{{{{\\"[["}')[0] == 1


def test_not_utf8_file_names_line(cli, tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_bytes(json.dumps(PATIENT).encode() + b"\n{\"resourceType\": \"Patient\", \"id\": \"\xff\"}\n")
    assert_refused(cli("import", "fhir", str(path)), "bad.ndjson", "line 2", "UTF-8")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=12)
FIELDS = st.sampled_from(["entry", "subject", "code", "valueQuantity", "effectivePeriod", "performedPeriod",
                          "effectiveDateTime", "performedDateTime", "status", "name", "birthDate", "id",
                          "medicationCodeableConcept", "medicationReference", "category", "component",
                          "deceasedDateTime", "deceasedBoolean", "onsetDateTime", "clinicalStatus"])
BASES = st.sampled_from([PATIENT, OBS, PROC,
                         {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/1"},
                          "code": {"text": "lung adenocarcinoma"}, "onsetDateTime": "2020-01-01"},
                         {"resourceType": "MedicationRequest", "id": "m1", "subject": {"reference": "Patient/1"},
                          "status": "active", "intent": "order", "authoredOn": "2020-02-01",
                          "medicationCodeableConcept": {"text": "osimertinib"}}])


def test_shape_check_names_the_path():
    with pytest.raises(Exception) as info:
        check_shape({"a": [{"subject": 1}]}, "f", 3)
    assert "f:3: a[0].subject" in str(info.value)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=BASES, field=FIELDS, value=JSON)
def test_any_json_value_in_any_field_is_a_record_or_one_usage_line(cli, tmp_path_factory, base, field, value):
    folder = tmp_path_factory.mktemp("fhir")
    path = _write(folder, "x.ndjson", PATIENT, dict(base, **{field: value}))
    r = cli("import", "fhir", path, "--dry-run", "--json")
    assert r.code in (0, 2), r
    if r.code == 2:
        assert_refused(r)
    else:
        assert r.json()["resources"] == 2, r
    assert "internal error" not in r.stderr


def _depth_char_by_char(text: str) -> tuple[int, int]:
    """The former implementation (every character in Python), the reference for the fast one."""
    depth = deepest = 0
    line = 1
    too_deep_line = 0
    in_string = escaped = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if depth > MAX_DEPTH and not too_deep_line:
                    too_deep_line = line
        elif ch in "]}":
            depth -= 1
    return deepest, too_deep_line


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='[]{}"\\\nab: ,', max_size=200) | st.builds(lambda n, t: "[" * n + t + "]" * n,
                                                                    st.integers(0, MAX_DEPTH + 5),
                                                                    st.text(alphabet='"\\\n{a', max_size=20)))
def test_nesting_depth_matches_the_character_by_character_reading(text):
    """Any text, well-formed or not (unterminated strings, escaped newlines, stray closers)."""
    assert nesting_depth(text) == _depth_char_by_char(text)
