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


def _outcome(f: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", f(*args, **kwargs)
    except InputError as exc:
        return "error", str(exc)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(JSON, WELL, st.dictionaries(st.sampled_from(_KEYS), st.one_of(JSON, WELL), max_size=6)))
def test_datatype_check_matches_the_path_keeping_walk(value: Any) -> None:
    r = fm._R(_resource())
    assert _outcome(fm._check_datatypes, r, value, "") == _outcome(fm._check_datatypes_slow, r, value, "")
    if isinstance(value, dict):
        assert fm._datatypes_ok(value) == (_outcome(fm._check_datatypes_slow, r, value, "")[0] == "ok")


class _Dict(dict):  # type: ignore[type-arg]
    pass


class _List(list):  # type: ignore[type-arg]
    pass


class _Str(str):
    pass


def _subclassed(value: Any, flip: list[bool]) -> Any:
    """The same value with some dicts, lists and strings of subclasses (not what the JSON parser
    gives: the check's rules written with isinstance then decide)."""
    turn = flip.pop() if flip else False
    if isinstance(value, dict):
        items = {k: _subclassed(v, flip) for k, v in value.items()}
        return _Dict(items) if turn else items
    if isinstance(value, list):
        items = [_subclassed(v, flip) for v in value]
        return _List(items) if turn else items
    if isinstance(value, str) and turn:
        return _Str(value)
    return value


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(WELL, st.dictionaries(st.sampled_from(_KEYS), st.one_of(JSON, WELL), max_size=6)),
       flip=st.lists(st.booleans(), max_size=40))
def test_datatype_check_of_subclassed_values_matches_the_walk(value: Any, flip: list[bool]) -> None:
    value = _subclassed(value, flip)
    r = fm._R(_resource())
    assert _outcome(fm._check_datatypes, r, value, "") == _outcome(fm._check_datatypes_slow, r, value, "")


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
        get = fm._ext_getter(r, d)  # never raises itself: a look-up does, as the scan would
        for name in names:
            assert _outcome(get, name) == _outcome(fm._ext_slow, r, d, name)
    finally:
        fm._EXT_INDEX.clear()


def test_extension_getter_of_a_list_that_raises_only_when_looked_up() -> None:
    r = fm._R(_resource())
    d = {"extension": [{"url": "urn:x:a", "extension": 5}, {"url": "urn:x:b", "valueString": "b"}, {"url": 7}]}
    fm._EXT_INDEX.clear()
    try:
        get = fm._ext_getter(r, d)
        assert get("b") == "b"  # found before the url that is not a string
        with pytest.raises(InputError, match=r"extension\[0\]\.extension"):
            get("a")
        with pytest.raises(InputError, match=r"extension\[2\]\.url"):
            get("c")
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
       | st.text(alphabet='[]{}"\nab: ,é€\u2028', max_size=300)  # no backslash: the translation path
       | st.builds(lambda n, t: "[" * n + t + "]" * n, st.integers(0, 80), st.text(alphabet='[]"\\a', max_size=40)))
def test_nesting_depth_matches_the_former_expression(text: str) -> None:
    assert guard.nesting_depth(text)[0] == _old_depth(text)


_JSON_TEXT = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(alphabet='[]{}ab "é', max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(alphabet="[]{}ab", max_size=3),
                                                                         inner, max_size=4)),
    max_leaves=40)


def _json_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_json_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_json_depth, value), default=0)
    return 0


@settings(max_examples=400)
@given(value=_JSON_TEXT, indent=st.sampled_from([None, 1]), ascii=st.booleans(),
       extra=st.sampled_from(["", "]", "[", '"', "}{", '"]"']))
def test_nesting_depth_of_json_without_escapes_is_read_from_its_bytes(value: Any, indent: Any, ascii: bool,
                                                                     extra: str) -> None:
    """JSON text without a backslash (strings holding brackets, non-ASCII text, pretty-printed or
    not): the bytes path gives the depth of the parsed value; text that is not JSON (a stray
    bracket or quote after it) gets what the former expression gives, through whichever path."""
    import json

    text = json.dumps(value, indent=indent, ensure_ascii=ascii).replace("\\", "")
    try:
        parsed = json.loads(text)
    except ValueError:  # a backslash removed made it invalid: still a text to measure
        parsed = None
    fast = guard._depth_without_escapes(text)
    if "\\" not in text and parsed is not None:
        assert fast == _json_depth(parsed)
    assert guard.nesting_depth(text)[0] == _old_depth(text)
    assert guard.nesting_depth(text + extra)[0] == _old_depth(text + extra)
    if fast is not None:
        assert fast == _old_depth(text)


def test_nesting_depth_bytes_path_hands_over_past_the_limit() -> None:
    deep = "[" * (guard.MAX_DEPTH + 1) + '"x"' + "]" * (guard.MAX_DEPTH + 1)
    assert guard._depth_without_escapes(deep) is None
    assert guard.nesting_depth(deep) == (guard.MAX_DEPTH + 1, 1)
    at_limit = "[" * guard.MAX_DEPTH + "]" * guard.MAX_DEPTH
    assert guard._depth_without_escapes(at_limit) == guard.MAX_DEPTH


# ------------------------------------------------------------------ reading: one-line files, resources

_IDS = st.one_of(st.sampled_from(["a", "b", "o1", "p", ""]), st.integers(0, 3), st.none())


@st.composite
def _bundle_text(draw: Any) -> str:
    import json

    entries: list[Any] = []
    for _ in range(draw(st.integers(0, 5))):
        res: dict[str, Any] = {"resourceType": draw(st.sampled_from(["Observation", "Patient", "Bundle"]))}
        rid = draw(_IDS)
        if rid is not None:
            res["id"] = rid
        if res["resourceType"] == "Bundle":
            res["entry"] = [{"resource": {"resourceType": "Observation", "id": draw(st.sampled_from(["a", "z"]))}}]
        entry: dict[str, Any] = {"resource": res}
        if draw(st.booleans()):
            entry["fullUrl"] = draw(st.sampled_from(["urn:uuid:1", "https://x/fhir/Observation/a", 5]))
        if draw(st.booleans()):
            entry["request"] = {"method": draw(st.sampled_from(["POST", "DELETE"]))}
        entries.append(draw(st.one_of(st.just(entry), st.just(entry), st.just(5))))
    bundle = {"resourceType": "Bundle", "type": draw(st.sampled_from(["collection", 3])), "entry": entries}
    return json.dumps(bundle, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))


def _read(text: str) -> Any:
    try:
        out = fm.read_fhir(text, "b.json")
    except InputError as exc:
        return "error", str(exc)
    return [(r.data, r.file, r.line, r.full_url, r.base, r.rtype, r.rid, r.where) for r in out.resources], out.skipped


@settings(max_examples=300)
@given(text=_bundle_text())
def test_one_line_bundle_reads_as_the_line_search_reads_it(text: str) -> None:
    """Every entry of a Bundle on one line is on line 1: the same resources, lines, messages
    and counts as searching the text for each id."""
    fast = _read(text)
    plain_one_line = fm._one_line
    try:
        fm._one_line = lambda text: None  # type: ignore[assignment]
        fm._id_lines.cache_clear()
        plain = _read(text)
    finally:
        fm._one_line = plain_one_line  # type: ignore[assignment]
    assert fast == plain


@given(data=st.dictionaries(st.sampled_from(["resourceType", "id", "x"]), _IDS, max_size=3),
       line=st.integers(1, 9))
def test_resource_reads_type_id_and_place_once(data: dict[str, Any], line: int) -> None:
    res = fm.Resource(data, "f.json", line)
    rid = data.get("id")
    assert res.rtype == str(data.get("resourceType"))
    assert res.rid == (rid if isinstance(rid, str) and rid else None)
    assert res.where == f"f.json:{line}" and res.resource_type == res.rtype
    assert res == fm.Resource(data, "f.json", line) and "rtype" not in repr(res)
    for url, base in ((None, None), ("https://x/fhir/Observation/a", "https://x/fhir")):
        made = fm._resource(data, "f.json", line, url, base)  # the reader's way of making one
        plain = fm.Resource(data, "f.json", line, url, base)
        assert type(made) is fm.Resource and vars(made) == vars(plain) and made == plain
        assert repr(made) == repr(plain) and hash(made.where) == hash(plain.where)


# ------------------------------------------------------------------ the import's writes


def _normalize_plain(text: Any, *, gene: Any = None, field: str = "variant") -> Any:
    from lungtrack.parsing import variants

    return variants._normalize_alteration(text, gene=gene, field=field)


@settings(max_examples=300)
@given(text=st.one_of(st.sampled_from(["L858R", "p.Leu858Arg", "T790M", "exon 19 deletion", "EML4-ALK fusion",
                                       "NP_005219.2:p.Leu858Arg", "C797S", "", "  ", "xyz", "G12C", "amplification"]),
                      st.text(max_size=12)),
       gene=st.one_of(st.none(), st.sampled_from(["EGFR", "ALK", "KRAS", "MET", "egfr", "XYZ"])))
def test_variant_normalisation_cache_matches_the_plain_function(text: str, gene: str | None) -> None:
    from lungtrack.parsing import variants

    for _ in range(2):  # the second call comes from the cache
        assert _outcome(variants.normalize_alteration, text, gene=gene) == _outcome(_normalize_plain, text, gene=gene)


_TIMESTAMPS = {"created_at", "updated_at", "at", "undone_at"}


def _dump(db: Any) -> dict[str, list[Any]]:
    """Every row of every table, timestamps aside; journal entries with their JSON decoded."""
    import json
    import sqlite3

    con = sqlite3.connect(db)
    try:
        out: dict[str, list[Any]] = {}
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in sorted(tables):
            cur = con.execute(f'SELECT * FROM "{t}" ORDER BY rowid')
            cols = [c[0] for c in cur.description]
            rows = []
            for row in cur:
                rec = {c: v for c, v in zip(cols, row) if c not in _TIMESTAMPS}
                for k in ("old", "new"):
                    if t == "change_entry" and isinstance(rec.get(k), str):
                        value = json.loads(rec[k])
                        rec[k] = ({c: v for c, v in value.items() if c not in _TIMESTAMPS}
                                  if isinstance(value, dict) else value)
                rows.append(rec)
            out[t] = rows
        return out
    finally:
        con.close()


def _plain_paths(monkeypatch: Any) -> None:
    """The import without its fast paths: the lesion look-up for every patient, no variant
    cache, the path-keeping datatype walk, the extension scan, each BodyStructure read for every
    tumour size, the id search of a one-line file, Resource's own constructor, json.loads, the
    garbage collector's default settings."""
    from lungtrack.parsing import variants
    from lungtrack.records import importing

    write_scans = importing._write_scans
    monkeypatch.setattr(importing, "_write_scans", lambda w, p, ops, now, new_patient=False: write_scans(w, p, ops, now))
    monkeypatch.setattr(variants, "normalize_alteration", _normalize_plain)
    monkeypatch.setattr(fm, "_check_datatypes", fm._check_datatypes_slow)
    monkeypatch.setattr(fm, "_ext", fm._ext_slow)
    monkeypatch.setattr(fm, "_ext_getter", lambda r, d: lambda name: fm._ext_slow(r, d, name))
    monkeypatch.setattr(fm, "_one_line", lambda text: None)
    monkeypatch.setattr(fm, "_resource", fm.Resource)
    import contextlib
    import json

    from lungtrack import jsonparse
    from lungtrack.cli import importers

    monkeypatch.setattr(jsonparse, "loads", json.loads)
    monkeypatch.setattr(importers, "collector_for_import", contextlib.nullcontext)
    monkeypatch.setattr(importers, "no_collection", contextlib.nullcontext)
    monkeypatch.setattr(importers, "freeze_survivors", lambda: None)
    monkeypatch.setattr(fm._Mapper, "_body_part", lambda self, target, part, read: read())


def test_json_and_fhir_imports_write_what_the_plain_paths_write(cli, tmp_path, monkeypatch):
    """Into a store holding the demo patient and a generated 10-year patient: a JSON export with
    the 10-year patient's running line ended (an update after a new line), a new marker, and
    another generated patient; then a third one's FHIR Bundle.  Same rows, ids and journal entries as the plain paths; undo
    leaves the same store."""
    import json
    import shutil

    from gen_history import TODAY as GEN_TODAY
    from gen_history import ten_year_patient

    monkeypatch.setenv("LUNGTRACK_TODAY", GEN_TODAY.isoformat())
    start = tmp_path / "start.db"
    assert cli("--db", str(start), "demo", "--quiet").code == 0
    first = ten_year_patient()
    for i, ln in enumerate(first["patients"][0]["therapy_lines"], start=1):
        ln["external_id"] = f"line-{i}"  # the last one is still running
    (tmp_path / "first.json").write_text(json.dumps(first), encoding="utf-8")
    assert cli("--db", str(start), "import", "json", str(tmp_path / "first.json")).code == 0
    doc = json.loads(cli("--db", str(start), "export", "json", "--all-patients").stdout)
    ten = next(p for p in doc["patients"] if p["patient"]["name"] == "Ten Year")
    lines = ten["therapy_lines"]
    lines[-1].update(end_date="2025-06-01", stop_reason="progression")  # an update ...
    lines.insert(0, {**lines[0], "drug": "erlotinib", "start_date": "2016-01-10", "end_date": "2016-01-25",
                     "external_id": "line-0", "note": None})  # ... after a new line of the same patient
    ten["marker_results"].append({**ten["marker_results"][-1], "value": 99.5, "external_id": None})
    other = ten_year_patient(name="Other Ten", seed=9)["patients"][0]
    other["patient"]["identifiers"] = [{"system": "urn:example:mrn", "value": "MRN-0002"}]
    doc["patients"].append(other)
    (tmp_path / "in.json").write_text(json.dumps(doc), encoding="utf-8")
    fhir_db = tmp_path / "fhir.db"
    third = ten_year_patient(name="Fhir Ten", seed=8)
    third["patients"][0]["patient"]["identifiers"] = []  # another person: not matched to "Ten Year"
    (tmp_path / "third.json").write_text(json.dumps(third), encoding="utf-8")
    assert cli("--db", str(fhir_db), "import", "json", str(tmp_path / "third.json")).code == 0
    assert cli("--db", str(fhir_db), "export", "fhir", "-o", str(tmp_path / "ten.fhir.json")).code == 0

    def run(name: str) -> list[Any]:
        db = tmp_path / f"{name}.db"
        shutil.copy(start, db)
        out: list[Any] = []
        for fmt, path in (("json", "in.json"), ("fhir", "ten.fhir.json")):
            r = cli("--db", str(db), "import", fmt, str(tmp_path / path), "--json")
            assert r.code == 0, r
            out.append(_dump(db))
            # undo gives the same result (an import that also set the new patient's schedule
            # is undone too: tests/test_records.py)
            u = cli("--db", str(db), "undo", "--yes")
            out.append((u.code, u.stderr, _dump(db)))
            if u.code == 0:  # write it again for the next step
                assert cli("--db", str(db), "import", fmt, str(tmp_path / path)).code == 0
        return out

    fast = run("fast")
    with monkeypatch.context() as mp:
        _plain_paths(mp)
        plain = run("plain")
    assert fast[0]["therapy_line"] == plain[0]["therapy_line"] and len(fast[0]["therapy_line"]) == 8
    assert any(e["op"] == "update" and e["table_name"] == "therapy_line" for e in fast[0]["change_entry"])
    assert fast[2]["change_entry"] != fast[0]["change_entry"]
    assert fast == plain


# ------------------------------------------------------------------ BodyStructures read once

_CONCEPT = st.one_of(st.none(), st.just({"text": "Lymph node structure"}), st.just({"text": "Right upper lobe (body structure)"}),
                     st.just({"coding": [{"system": "http://snomed.info/sct", "code": "1", "display": "lung"}]}),
                     st.just({"text": 5}), st.just("lung"))
_IDENT = st.lists(st.one_of(st.fixed_dictionaries({"value": st.one_of(st.just(""), st.just("12"), st.integers(0, 2))}),
                            st.just({})), max_size=3)


@st.composite
def _tumour_bundle(draw: Any) -> dict[str, Any]:
    bodies = []
    for i in range(draw(st.integers(1, 3))):
        body: dict[str, Any] = {"resourceType": "BodyStructure", "id": f"b{i}"}
        for key, value in (("location", draw(_CONCEPT)), ("morphology", draw(_CONCEPT)), ("identifier", draw(_IDENT)),
                           ("description", draw(st.one_of(st.none(), st.just("RUL mass"), st.just(""), st.integers(0, 1))))):
            if value is not None:
                body[key] = value
        bodies.append(body)
    observations = []
    for j in range(draw(st.integers(1, 5))):
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": f"o{j}", "status": "final", "subject": {"reference": "Patient/p"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "21889-1"}]},
            "effectiveDateTime": f"2024-0{draw(st.integers(1, 3))}-01",
            "focus": [{"reference": f"BodyStructure/b{draw(st.integers(0, len(bodies) - 1))}"}
                      for _ in range(draw(st.integers(1, 2)))],
            "valueQuantity": {"value": 12.0, "unit": "mm"}}
        if draw(st.booleans()):
            obs["extension"] = [{"url": "urn:lungtrack:fhir:extension:lesion-label", "valueString": "target 1"}]
        if draw(st.booleans()):
            obs["bodySite"] = {"text": "liver"}
        observations.append(obs)
    patient = {"resourceType": "Patient", "id": "p", "name": [{"text": "Body Test"}]}
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in [patient, *bodies, *observations]]}


def _plan_or_error(text: str) -> Any:
    try:
        plan, extras, n = fm.map_files([("b.json", text)], "x")
        return plan, extras, n
    except InputError as exc:
        return str(exc)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(bundle=_tumour_bundle())
def test_body_structures_read_once_give_the_plan_of_reading_each_time(bundle: dict[str, Any]) -> None:
    import json

    text = json.dumps(bundle, indent=1)
    fast = _plan_or_error(text)
    original = fm._Mapper._body_part
    fm._Mapper._body_part = lambda self, target, part, read: read()  # type: ignore[method-assign]
    try:
        plain = _plan_or_error(text)
    finally:
        fm._Mapper._body_part = original  # type: ignore[method-assign]
    assert fast == plain


# ------------------------------------------------------------------ the collector during imports


def test_imports_set_the_collector_and_put_it_back(cli, tmp_path, monkeypatch):
    """While an import maps its files the start-up's objects are frozen, the young generation
    is collected after 50,000 new objects, and the pure mapping runs without collections;
    afterwards (after a refusal too) the collector is as it was."""
    import gc

    from lungtrack.cli import importers

    seen: list[tuple[int, bool, bool]] = []
    map_files = fm.map_files

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0, gc.isenabled()))
        return map_files(*args, **kwargs)

    monkeypatch.setattr(fm, "map_files", spy)
    before = (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled())
    good = tmp_path / "p.json"
    good.write_text('{"resourceType": "Patient", "id": "p1", "name": [{"text": "Gc Test"}]}', encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Patient", "id": "p1", "name": 5}', encoding="utf-8")
    assert cli("import", "fhir", str(good)).code == 0
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before
    assert cli("import", "fhir", str(bad)).code == 2
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before
    assert seen == [(importers.GC_YOUNG_THRESHOLD, True, False)] * 2 and importers.GC_YOUNG_THRESHOLD == 50_000
    assert before[2] and before[1] == 0


# ------------------------------------------------------------------ JSON parsing (orjson, else json)


def _typed(value: Any) -> Any:
    """A value with every type and float spelled out (1 and 1.0 and True differ; -0.0 and 0.0;
    key order counts)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def _parsed(loads: Any, text: str) -> Any:
    try:
        return "ok", _typed(loads(text))
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        return "error", type(exc).__name__, str(exc)


_NUMBER = st.one_of(st.integers(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.from_regex(r"\A-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?\Z"))
_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), _NUMBER, st.text(max_size=6), st.sampled_from(["\ud800", "\udc00x", "é€𝄞"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)),
    max_leaves=25)


def _json_text(value: Any, ascii: bool, sep: str) -> str:
    """JSON text of a value; a string drawn by the number expression above goes in as a number
    (written as drawn: 1E+05, 0.10, -0.0 ...)."""
    import json

    if isinstance(value, dict):
        return "{" + sep.join(f"{json.dumps(k, ensure_ascii=ascii)}:{_json_text(v, ascii, sep)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + sep.join(_json_text(v, ascii, sep) for v in value) + "]"
    if isinstance(value, str) and value[:1] in "-0123456789" and value[-1:].isdigit():
        try:
            float(value)
            return value
        except ValueError:
            pass
    return json.dumps(value, ensure_ascii=ascii)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(value=_VALUE, ascii=st.booleans(), sep=st.sampled_from([",", ", ", ",\n  "]))
def test_json_parse_gives_what_json_loads_gives_on_json_text(value: Any, ascii: bool, sep: str) -> None:
    """Valid JSON of every kind: big integers, floats written any way, lone surrogates (escaped,
    or as characters), non-ASCII text, nested arrays and objects."""
    import json

    from lungtrack import jsonparse

    text = _json_text(value, ascii, sep)
    assert _parsed(jsonparse.loads, text) == _parsed(json.loads, text)


@settings(max_examples=800)
@given(text=st.text(alphabet='{}[]",:0123456789.eE-+ \t\n\\uaNIfinity\x00\x1f\ud800é', max_size=40)
       | st.sampled_from(['{"a": 1, "a": 2}', "NaN", "-Infinity", "1e400", "[1e-400]", "18446744073709551616",
                          "9223372036854775807", "-9223372036854775809", '"\\ud800"', "\ufeff{}", "[1]x",
                          '{"a": 1}\n{"b": 2}', "[" * 70 + "]" * 70, "[" * 1100 + "]" * 1100, "1" * 5000,
                          "0.1000000000000000055511151231257827", "4.9e-324", "1.7976931348623159e308", " ",
                          '"\t"', '"\\/"', "-0", "-0.0", "[01]", "[1.]", "[.5]", "tru", "nul", "\u00a0[]"]))
def test_json_parse_gives_what_json_loads_gives_on_any_text(text: str) -> None:
    """Any text, JSON or not: the same value, or the same error with the same message."""
    import json

    from lungtrack import jsonparse

    assert _parsed(jsonparse.loads, text) == _parsed(json.loads, text)


def test_json_parse_uses_orjson_where_it_agrees() -> None:
    from unittest import mock

    import orjson

    from lungtrack import jsonparse

    with mock.patch.object(orjson, "loads", wraps=orjson.loads) as spy:
        assert jsonparse.loads('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
        assert spy.call_count == 1
        assert jsonparse.loads("[1234567890123456789012]") == [1234567890123456789012]  # 19+ digits: json
        assert jsonparse.loads('["\ud800"]') == ["\ud800"]  # not UTF-8: json
        assert spy.call_count == 1
        nan = jsonparse.loads("[NaN]")[0]  # orjson refuses it: json's NaN
        assert nan != nan and spy.call_count == 2
