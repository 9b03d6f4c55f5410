"""FHIR R4 -> ImportPlan, the pure mapping (lungtrack.fhir.mapping).

Fixtures in tests/data/fhir/ are written for these tests, modelled on the shapes of the official
HL7 examples: mCODE STU4 (HL7/fhir-mCODE-ig input/fsh/EX_Basic.fsh, EX_TumorSize.fsh: the NSCLC
patient John Anyperson, TNM cT3 cN3 cM0 / IIIC, gefitinib and cisplatin requests, a Tumor
BodyStructure), genomics-reporting (EGFR-L858R-var: HGNC gene, HGVS in varnomen, VAF 0.066,
somatic) and the R4 core ``observation-genetics*`` extensions.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lungtrack.errors import InputError
from lungtrack.fhir.mapping import read_fhir, read_files

DATA = Path(__file__).parent / "data" / "fhir"


def _plan(*names: str, **kw):
    return read_files([(n, (DATA / n).read_text(encoding="utf-8")) for n in names], **kw)


def _skipped(plan) -> dict:
    return {(t, r): n for t, r, n in plan.skipped}


def _bundle(*resources: dict, btype: str = "collection") -> str:
    return json.dumps({"resourceType": "Bundle", "type": btype,
                       "entry": [{"fullUrl": f"urn:uuid:0000000{i}-0000-4000-8000-000000000000", "resource": r}
                                 for i, r in enumerate(resources)]}, indent=1)


PATIENT = {"resourceType": "Patient", "id": "p1", "identifier": [{"system": "http://h.example", "value": "7"}],
           "name": [{"given": ["Ann"], "family": "Lee"}]}


def _obs(**kw) -> dict:
    obs = {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]}, "effectiveDateTime": "2025-01-15",
           "valueQuantity": {"value": 4.2, "unit": "ng/mL"}}
    obs.update(kw)
    return obs


# --------------------------------------------------------------------------- mCODE


def test_mcode_patient_diagnosis_histology_and_tnm_stage():
    plan = _plan("mcode-nsclc-transaction.json")
    (batch,) = plan.batches
    assert batch.patient.identifiers == (("http://hospital.example.org", "m123"),)
    p = batch.patient_input
    assert (p.name, p.birth_date, p.gender) == ("John B. Anyperson", date(1951, 1, 20), "male")
    assert p.diagnosis_date == date(2019, 4, 1)  # onset of the NSCLC PrimaryCancerCondition
    assert p.histology == "adenocarcinoma"  # mcode-histology-morphology-behavior, not the disorder code
    assert p.stage == "cT3 cN3 cM0, stage IIIC (clinical)"


def test_mcode_tumour_size_cm_to_mm_with_lesion_from_body_structure():
    (batch,) = _plan("mcode-nsclc-transaction.json").batches
    (scan,) = batch.scans
    assert scan.date == date(2019, 5, 2)
    (m,) = scan.measurements
    assert m.size_mm == 25.0  # 2.5 cm
    assert m.short_axis_mm == 18.0  # other dimension 1.8 cm
    assert m.label == "lung structure 1234"  # the Tumor BodyStructure's location and identifier
    assert m.status == "measured"
    assert scan.source_status == "improved"  # the source's own CancerDiseaseStatus of that date


def test_mcode_medications_stop_with_reason_and_keep_rxnorm():
    (batch,) = _plan("mcode-nsclc-transaction.json").batches
    lines = {t.drug: t for t in batch.therapies}
    cis, gef = lines["cisplatin"], lines["gefitinib"]
    assert (cis.start, cis.end, cis.stop_reason, cis.stop_reason_text) == (
        date(2018, 11, 15), date(2018, 11, 15), "toxicity", "Treatment not tolerated")
    assert cis.rxnorm == "309311"
    assert (gef.start, gef.end, gef.stop_reason, gef.rxnorm) == (date(2019, 4, 1), None, None, "349472")


def test_mcode_skips_are_counted_by_type_and_reason():
    skipped = _skipped(_plan("mcode-nsclc-transaction.json"))
    assert skipped[("Bundle entry", "request only (DELETE), no resource")] == 1
    assert skipped[("Bundle entry", "request only (GET), no resource")] == 1
    assert skipped[("Condition", "secondary cancer (metastatic site): lungtrack keeps sites on lesions")] == 1
    assert skipped[("Practitioner", "not a kind of record lungtrack keeps")] == 1
    assert skipped[("Observation", "not a kind of observation lungtrack keeps")] == 1  # ECOG
    assert skipped[("BodyStructure", "used only through references")] == 1


def test_marker_in_mg_per_l_keeps_its_unit_for_the_writer_to_convert():
    (batch,) = _plan("mcode-nsclc-transaction.json").batches
    (cea,) = batch.markers
    assert (cea.marker, cea.value, cea.unit, cea.uln) == ("CEA", 0.0062, "mg/L", 0.005)


# --------------------------------------------------------------------------- variants


def test_variant_in_both_encodings():
    (batch,) = _plan("variants.ndjson").batches
    new, old = sorted(batch.biopsies, key=lambda b: b.date)
    assert (new.gene, new.variant, new.result, new.origin) == ("EGFR", "L858R", "detected", "somatic")
    assert new.hgvs_p == "NP_005219.2:p.Leu858Arg" and new.hgvs_c == "NM_005228.4:c.2573T>G"
    assert new.vaf == pytest.approx(6.6)  # 0.066 as a fraction -> percent
    assert (old.gene, old.variant, old.result, old.origin) == ("EGFR", "L858R", "detected", "somatic")
    assert (old.hgvs_p, old.hgvs_c, old.date) == ("p.L858R", "c.2573T>G", date(2019, 5, 20))
    assert old.vaf == pytest.approx(12.0)


def test_variant_without_gene_is_counted():
    obs = _obs(code={"coding": [{"system": "http://loinc.org", "code": "69548-6"}]}, valueQuantity=None,
               valueCodeableConcept={"coding": [{"system": "http://loinc.org", "code": "LA9633-4"}]})
    plan = read_files([("v.json", _bundle(PATIENT, obs))])
    assert _skipped(plan) == {("Observation", "variant without a gene studied"): 1}


# --------------------------------------------------------------------------- identity and references


def test_identity_by_identifier_and_by_base_url_plus_id():
    text = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "https://fhir.hospital.example/r4/Patient/p1", "resource": {**PATIENT, "identifier": []},
         "search": {"mode": "match"}},
        {"fullUrl": "https://fhir.hospital.example/r4/Observation/o1", "resource": _obs(), "search": {"mode": "include"}},
        {"resource": {"resourceType": "OperationOutcome", "id": "x"}, "search": {"mode": "outcome"}}]})
    plan = read_files([("s.json", text)])
    (batch,) = plan.batches
    assert batch.patient.source_base == "https://fhir.hospital.example/r4" and batch.patient.local_id == "p1"
    assert batch.patient.identifiers == ()
    assert batch.markers[0].source.external_id == "https://fhir.hospital.example/r4|Observation/o1"
    assert _skipped(plan) == {("OperationOutcome", "search outcome, not a record"): 1}


def test_urn_uuid_references_resolve_inside_the_bundle():
    pat = dict(PATIENT)
    obs = _obs(subject={"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"})
    (batch,) = read_files([("b.json", _bundle(pat, obs))]).batches
    assert batch.patient.identifiers == (("http://h.example", "7"),) and len(batch.markers) == 1


def test_patient_not_in_the_files_is_named_by_base_and_id_never_guessed():
    obs = _obs(subject={"reference": "https://other.example/fhir/Patient/p9"})
    (batch,) = read_files([("o.json", json.dumps(obs))]).batches
    assert (batch.patient.source_base, batch.patient.local_id, batch.patient_input) == (
        "https://other.example/fhir", "p9", None)


# --------------------------------------------------------------------------- units and errors


def test_quantity_without_unit_is_refused_with_the_reason():
    obs = _obs(valueQuantity={"value": 4.2})
    with pytest.raises(InputError) as err:
        read_files([("u.json", _bundle(PATIENT, obs))])
    assert "has no unit" in err.value.message and "u.json:" in err.value.message


def test_tumour_size_without_unit_is_refused():
    obs = _obs(code={"coding": [{"system": "http://loinc.org", "code": "21889-1"}]}, valueQuantity=None,
               component=[{"code": {"coding": [{"system": "http://loinc.org", "code": "33728-7"}]},
                           "valueQuantity": {"value": 2.5}}])
    with pytest.raises(InputError, match="has no unit; expected a size in mm or cm"):
        read_files([("t.json", _bundle(PATIENT, obs))])


@pytest.mark.parametrize("doc, words", [
    ({"resourceType": "Bundle", "type": "collection", "entry": 5}, ["b.json:", "Bundle.entry", "5", "an array"]),
    ({"resourceType": "Bundle", "entry": ["x"]}, ["Bundle.entry[0]", "an object"]),
    ({"resourceType": "Bundle", "entry": [{"resource": 3}]}, ["Bundle.entry[0].resource", "a FHIR resource"]),
    (_obs(effectivePeriod="2025-01-01", effectiveDateTime=None), ["Observation.effectivePeriod", "an object"]),
    (_obs(subject=5), ["Observation.subject", "an object"]),
    (_obs(subject={"reference": 7}), ["Observation.subject.reference", "a string"]),
    (_obs(referenceRange={"high": 3}), ["Observation.referenceRange", "an array"]),
    (_obs(valueQuantity={"value": "4.2", "unit": "ng/mL"}), ["Observation.valueQuantity.value", "a number"]),
    ({**PATIENT, "name": "Ann"}, ["Patient.name", "an array"]),
    ({"resourceType": "MedicationStatement", "id": "m", "status": "active", "subject": {"reference": "Patient/p1"},
      "medicationCodeableConcept": {"text": "osimertinib"}, "effectivePeriod": {"start": 20200101}},
     ["MedicationStatement.effectivePeriod.start", "a string"]),
])
def test_wrong_json_types_are_one_line_errors_naming_file_line_and_field(doc, words):
    doc = {k: v for k, v in doc.items() if v is not None}
    with pytest.raises(InputError) as err:
        read_files([("b.json", json.dumps(doc, indent=1))])
    message = err.value.message
    assert "\n" not in message and "nothing was imported" in message
    assert message.startswith("b.json:")
    for w in words:
        assert w in message


def test_malformed_ndjson_line_gives_its_line_number():
    text = json.dumps(PATIENT) + "\n\n" + json.dumps(_obs()) + "\n{not json\n"
    with pytest.raises(InputError) as err:
        read_fhir(text, "x.ndjson")
    assert err.value.message.startswith("x.ndjson:4: not valid JSON")


def test_field_error_line_points_at_the_resource_in_a_bundle():
    text = _bundle(PATIENT, _obs(id="bad", effectivePeriod=3, effectiveDateTime=None))
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if '"bad"' in ln)
    with pytest.raises(InputError) as err:
        read_files([("b.json", text)])
    assert err.value.message.startswith(f"b.json:{line}: Observation.effectivePeriod")


# --------------------------------------------------------------------------- medication lines


def _request(rid: str, text: str, authored: str, status: str = "active", **kw) -> dict:
    r = {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
         "medicationCodeableConcept": {"text": text}, "subject": {"reference": "Patient/p1"}, "authoredOn": authored}
    r.update(kw)
    return r


def test_requests_of_one_drug_make_one_line_that_a_later_drug_ends():
    items = [PATIENT, _request("r1", "gefitinib 250 MG", "2024-01-05"), _request("r2", "gefitinib 250 MG", "2024-03-01"),
             _request("r3", "osimertinib 80 MG", "2024-09-01")]
    (batch,) = read_files([("m.json", _bundle(*items))]).batches
    gef, osi = sorted(batch.therapies, key=lambda t: t.start)
    assert (gef.drug, gef.start, gef.end) == ("gefitinib", date(2024, 1, 5), date(2024, 9, 1))
    assert (osi.drug, osi.start, osi.end) == ("osimertinib", date(2024, 9, 1), None)
    # the line's identity is its drug and start, so re-importing the same requests adds nothing
    assert gef.source.external_id == "therapy/gefitinib/2024-01-05"


@pytest.mark.parametrize("reason, code, word", [
    ({"coding": [{"system": "http://snomed.info/sct", "code": "266721009", "display": "No response to treatment"}]},
     "266721009", "progression"),
    ({"coding": [{"system": "http://snomed.info/sct", "code": "407563006"}], "text": "not tolerated"}, "407563006",
     "toxicity"),
])
def test_stopped_statement_ends_its_line_with_the_reason(reason, code, word):
    ms = {"resourceType": "MedicationStatement", "id": "s1", "status": "stopped", "subject": {"reference": "Patient/p1"},
          "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                    "code": "1721560", "display": "osimertinib"}]},
          "effectivePeriod": {"start": "2024-01-01", "end": "2024-06-30"}, "statusReason": [reason]}
    (batch,) = read_files([("s.json", _bundle(PATIENT, ms))]).batches
    (line,) = batch.therapies
    assert (line.end, line.stop_reason, line.rxnorm) == (date(2024, 6, 30), word, "1721560")


def test_administration_status_and_drug_outside_the_table():
    adm = {"resourceType": "MedicationAdministration", "id": "a1", "status": "completed",
           "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "ondansetron 8 MG"},
           "effectiveDateTime": "2024-01-01"}
    plan = read_files([("a.json", _bundle(PATIENT, adm))])
    assert _skipped(plan) == {("MedicationAdministration", "drug not in lungtrack's drug table (ondansetron)"): 1}


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, x in value.items():
            yield from _paths(x, (*path, k))
    elif isinstance(value, list):
        for i, x in enumerate(value):
            yield from _paths(x, (*path, i))


@pytest.mark.parametrize("name", ["mcode-nsclc-transaction.json", "variants.ndjson"])
def test_any_value_of_the_wrong_type_is_an_input_error_never_an_internal_error(name):
    """Every element of the fixtures replaced in turn by a number, a string, an object and an
    array: the mapping either still works or raises InputError (one line naming the place)."""
    import copy

    docs = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()] \
        if name.endswith(".ndjson") else [json.loads((DATA / name).read_text())]
    tried = 0
    for doc in docs:
        for path in list(_paths(doc))[1:]:
            for bad in ((5, "x", {"a": 1}, [5]) if name.endswith(".ndjson") else (5, [5])):
                broken = copy.deepcopy(doc)
                target = broken
                for k in path[:-1]:
                    target = target[k]
                target[path[-1]] = bad
                tried += 1
                try:
                    read_files([(name, json.dumps(broken, indent=1))])
                except InputError as err:
                    assert "\n" not in err.message and err.message.startswith(name)
    assert tried > 400


def test_r4_genetics_example_named_by_genomic_hgvs():
    """The FHIR STU3/R4 somatic EGFR example names the variant only by its RefSeqGene HGVS."""
    obs = _obs(code={"coding": [{"system": "http://loinc.org", "code": "21665-5"}]}, valueQuantity=None,
               effectiveDateTime=None, issued="2013-04-03T15:30:10+01:00",
               valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]},
               extension=[
                   {"url": "http://hl7.org/fhir/StructureDefinition/observation-geneticsDNASequenceVariantName",
                    "valueCodeableConcept": {"text": "NG_007726.3:g.146252T>G"}},
                   {"url": "http://hl7.org/fhir/StructureDefinition/observation-geneticsGene",
                    "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org", "code": "3236",
                                                         "display": "EGFR"}]}},
                   {"url": "http://hl7.org/fhir/StructureDefinition/observation-geneticsGenomicSourceClass",
                    "valueCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/LOINC-48002-0-answerlist",
                                                         "code": "LA6684-0", "display": "somatic"}]}}])
    obs = {k: v for k, v in obs.items() if v is not None}
    (batch,) = read_files([("g.json", _bundle(PATIENT, obs))]).batches
    (b,) = batch.biopsies
    assert (b.gene, b.variant, b.result, b.origin, b.date, b.hgvs_c) == (
        "EGFR", "L858R", "detected", "somatic", date(2013, 4, 3), None)


def test_variant_not_understood_is_skipped_not_refused():
    obs = _obs(code={"coding": [{"system": "http://loinc.org", "code": "69548-6"}]}, valueQuantity=None,
               component=[{"code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
                           "valueCodeableConcept": {"text": "EGFR"}},
                          {"code": {"coding": [{"system": "http://loinc.org", "code": "48004-6"}]},
                           "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org",
                                                                "code": "NG_0001.1:g.1A>T"}]}}])
    plan = read_files([("v.json", _bundle(PATIENT, obs))])
    assert _skipped(plan) == {("Observation", "variant not understood (EGFR NG_0001.1:g.1A>T)"): 1}


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.text(alphabet="ab.-1", min_size=1, max_size=3), min_size=1, max_size=8),
       gaps=st.lists(st.sampled_from(["", " ", "\n", "\n  ", ' "x": {"id": "a"},\n']), min_size=8, max_size=8),
       asked=st.text(alphabet="ab.-1", min_size=1, max_size=3))
def test_line_of_each_resource_id_is_found_as_the_search_found_it(ids, gaps, asked):
    """The one-pass id index gives the line the former per-resource search gave (first match)."""
    import re

    from lungtrack.fhir import mapping as fm

    parts = [f'{{{gaps[i % len(gaps)]}"id"{gaps[(i + 1) % len(gaps)].strip()[:0]} : "{rid}"}}' for i, rid in enumerate(ids)]
    text = '{"resourceType": "Bundle", "entry": [\n' + ",\n".join(parts) + "]}"
    for rid in set(ids) | {asked}:
        assert fm._id_line(text, rid) == fm._line_of(text, fm._ID.format(re.escape(rid)))


def _old_check_datatypes(r, value, path):
    """The former check (every path spelled out as it walks), the reference for the lazy one."""
    from lungtrack.fhir.mapping import _ARRAY_KEYS, _STRING_KEYS

    stack = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((x, f"{where}[{i}]") for i, x in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, item in node.items():
            field_path = f"{where}.{key}" if where else key
            if key in _ARRAY_KEYS and not isinstance(item, list):
                raise r.err(field_path, item, "an array")
            if key in _STRING_KEYS and not isinstance(item, str):
                raise r.err(field_path, item, "a string")
            if key in _ARRAY_KEYS and key != "extension":
                for i, x in enumerate(item):
                    if not isinstance(x, dict):
                        raise r.err(f"{field_path}[{i}]", x, "an object")
                    if key == "coding" and "code" in x and not isinstance(x["code"], str):
                        raise r.err(f"{field_path}[{i}].code", x["code"], "a string")
            if isinstance(item, (dict, list)):
                stack.append((item, field_path))


_NESTED = _obs(component=[{"code": {"coding": [{"system": "http://loinc.org", "code": "21889-1"},
                                                {"system": "s", "code": "c"}]},
                           "valueQuantity": {"value": 3, "unit": "mm"},
                           "extension": [{"url": "u", "valueString": "x"}]}],
               focus=[{"reference": "BodyStructure/b1"}], note=[{"text": "n"}],
               extension=[{"url": "http://e", "extension": [{"url": "Name", "valueString": "v"}]}])


def _mutations(node, at=()):
    """Every dict/list element of ``node`` replaced by each wrong-typed value in turn."""
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return
    for key, child in items:
        for bad in (5, "text", {"k": 1}, [1], None):
            yield at + (key,), bad
        yield from _mutations(child, at + (key,))


@pytest.mark.parametrize("where,bad", list(_mutations(_NESTED)), ids=lambda v: repr(v)[:30])
def test_datatype_check_names_the_element_the_former_walk_named(where, bad):
    import copy

    from lungtrack.errors import InputError
    from lungtrack.fhir.mapping import Resource, _check_datatypes, _R

    data = copy.deepcopy(_NESTED)
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = bad

    def outcome(check):
        try:
            check(_R(Resource(data, "t.json", 3)), data, "")
        except InputError as exc:
            return exc.message
        return None

    assert outcome(_check_datatypes) == outcome(_old_check_datatypes)
