"""FHIR R4 -> :class:`lungtrack.records.inputs.ImportPlan`, the pure part of ``lungtrack import fhir``.

No store, no files, no clock: :func:`read_fhir` turns the text of one file into resources
(bulk NDJSON, a Bundle of any type, or one resource) and :func:`build_plan` maps resources to an
``ImportPlan`` that the writer (:func:`lungtrack.records.writer`'s ``apply_import``) validates
and applies in one transaction.  Everything not mapped is counted in ``ImportPlan.skipped`` by
resource type and reason.  docs/formats.md has the full table; in short:

* ``Patient`` -> :class:`PatientInput` (name, birth date, gender, identifiers); matched by
  identifier system+value, or by the source's base URL + id.
* ``Condition`` (lung cancer by SNOMED CT or ICD-10 C34) -> diagnosis date, histology (mCODE
  histology-morphology-behavior extension), ``stage.summary``.
* TNM stage group / T / N / M Observations (LOINC 21908-9, 21902-2, 21905-5 ...) -> stage text.
* Tumour size (LOINC 21889-1, components 33728-7 / 33729-5; cm -> mm; lesion from ``focus``
  BodyStructure or ``bodySite``) -> a scan with its measurements.
* Cancer disease status (LOINC 97509-4) -> the source's own assessment on the scan of that date.
* Genomic variants (genomics-reporting components or the R4 core ``observation-genetics*``
  extensions) -> biopsy findings.
* MedicationRequest / MedicationStatement / MedicationAdministration -> therapy lines: status,
  ``statusReason`` and the mCODE termination-reason extension end a line with its reason;
  RxNorm codes are kept; several resources of one drug make one line.
* Tumour-marker Observations (LOINC) -> marker results in their own unit (the writer converts).

Wrong JSON types inside a resource (a string where a Period is expected, ...) raise
``InputError`` naming ``file:line`` and the field: never an internal error.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Any

from lungtrack import jsonparse
from lungtrack.enums import Marker, Modality
from lungtrack.errors import InputError
from lungtrack.knowledge.drugs import get_drug
from lungtrack.knowledge.markers import MARKERS
from lungtrack.records.inputs import (
    AppointmentInput,
    BiopsyInput,
    ImportBatch,
    ImportPlan,
    MarkerInput,
    MeasurementInput,
    NoteInput,
    PatientInput,
    PatientRef,
    ScanInput,
    Source,
    TherapyInput,
)

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HGVS = "http://varnomen.hgvs.org"
HGNC = "http://www.genenames.org/geneId"
R4_EXT = "http://hl7.org/fhir/StructureDefinition/"
MCODE_SD = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
#: lungtrack's own extensions, written by ``lungtrack export fhir`` so that a round trip keeps
#: the facts no FHIR element holds (lesion label, sample type, notes ...).
LT_EXT = "urn:lungtrack:fhir:extension:"

#: Lung-cancer diagnoses (SNOMED CT) -> histology text when the resource gives no morphology.
LUNG_CANCER_CONDITIONS: Mapping[str, str] = {
    "254637007": "non-small cell lung cancer",  # Non-small cell lung cancer (disorder)
    "424132000": "non-small cell lung cancer",  # Non-small cell carcinoma of lung, TNM stage 1
    "93880001": "lung cancer",  # Primary malignant neoplasm of lung
    "254632001": "small cell lung cancer",  # Small cell carcinoma of lung
    "363358000": "lung cancer",  # Malignant tumor of lung
}
#: Lung-cancer codes that are not a diagnosis: skipped with their own reason.
NOT_A_DIAGNOSIS: Mapping[str, str] = {
    "162573006": "suspected lung cancer is not a diagnosis",  # Suspected lung cancer (situation)
}
#: Chest imaging procedures (SNOMED CT) -> modality; codes as they appear in the sample data.
IMAGING_PROCEDURES: Mapping[str, Modality] = {
    "399208008": Modality.XRAY,  # Plain chest X-ray (procedure)
    "418891003": Modality.CT,  # Computed tomography of chest and abdomen
    "16335031000119103": Modality.CT,  # High resolution computed tomography of chest without contrast
}
#: Tumour-marker LOINC codes: the canonical ones of lungtrack.knowledge.markers plus the
#: "by immunoassay" variants listed in clinical.md §2.5 (same quantity, same unit).
MARKER_LOINC: Mapping[str, Marker] = {
    **{info.loinc: m for m, info in MARKERS.items() if info.loinc},
    "83085-1": Marker.CEA,
    "57371-7": Marker.NSE,
    "83082-8": Marker.CA125,
}
SECONDARY_CANCER_CODES = frozenset({"94225005", "94222008", "94391008", "94381002", "94297009", "128462008"})
_ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")

#: TNM observation codes (LOINC) -> (kind, prefix): stage group or T / N / M category.
TNM_CODES: Mapping[str, tuple[str, str]] = {
    "21908-9": ("stage", "clinical"), "21902-2": ("stage", "pathological"), "21914-7": ("stage", ""),
    "21905-5": ("T", "c"), "21906-3": ("N", "c"), "21907-1": ("M", "c"),
    "21899-0": ("T", "p"), "21900-6": ("N", "p"), "21901-4": ("M", "p"),
}  # fmt: skip
TUMOR_SIZE = "21889-1"
LONGEST = "33728-7"
OTHER_DIMENSION = "33729-5"
DISEASE_STATUS_CODES = frozenset({"97509-4", "88040-1"})
VARIANT_CODES = frozenset({"69548-6", "55233-1", "21665-5"})
SMOKING_CODE = "72166-2"
SMOKING_VALUES: Mapping[str, str] = {
    "266919005": "never", "8517006": "former", "77176002": "current", "449868002": "current",
    "428041000124106": "current", "428061000124105": "current", "428071000124103": "current",
    "266927001": "unknown",
}  # fmt: skip
#: ConditionStatusTrendVS (clinical.md §5.1) -> word kept on the scan.
DISEASE_STATUS_VALUES: Mapping[str, str] = {
    "268910001": "improved", "359746009": "stable", "271299001": "worsened", "709137006": "undetermined",
}  # fmt: skip
#: Treatment termination reasons (mCODE TreatmentTerminationReasonVS, SNOMED CT) -> stop reason.
TERMINATION_REASONS: Mapping[str, str] = {
    "266721009": "progression",  # No response to treatment / absent response
    "281647001": "toxicity",  # Adverse reaction
    "407563006": "toxicity",  # Treatment not tolerated
    "182992009": "other",  # Treatment completed
    "160932005": "other",  # Financial problem
    "105480006": "other",  # Refusal of treatment by patient
    "184081006": "other",  # Patient has moved away
    "309846006": "other",  # Treatment not available
    "399307001": "other",  # Lost to follow-up
    "419620001": "other",  # Death
}
SOURCE_CLASS: Mapping[str, str] = {"LA6684-0": "somatic", "LA6683-2": "germline"}
#: Genomic HGVS names the official examples give for a variant lungtrack knows: the
#: genomics-reporting EGFR-L858R-var pairs NC_000007.13:g.55259515T>G with p.Leu858Arg; the
#: FHIR STU3/R4 somatic EGFR example names EGFR L858R (exon 21) by NG_007726.3:g.146252T>G.
GENOMIC_HGVS: Mapping[str, tuple[str, str]] = {
    "NC_000007.13:g.55259515T>G": ("EGFR", "L858R"),
    "NG_007726.3:g.146252T>G": ("EGFR", "L858R"),
}

_OK_OBS = {"final", "amended", "corrected", "preliminary"}
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_ENTRY = r'"entry"'
_TYPE = r'"type"'
_FULLURL = r'"fullUrl"'
_ID = r'"id"\s*:\s*"{}"'


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Resource:
    """One resource and where it was read (``file``, 1-based ``line``), its Bundle ``full_url``
    and the server ``base`` that URL names (``https://x/fhir`` of ``https://x/fhir/Patient/1``)."""

    data: Mapping[str, Any]
    file: str
    line: int
    full_url: str | None = None
    base: str | None = None
    #: ``resourceType`` as text, the ``id`` (None unless a non-empty string) and ``file:line``:
    #: read once, when the resource is made (the mapping asks for them a dozen times each)
    rtype: str = field(init=False, repr=False, compare=False)
    rid: str | None = field(init=False, repr=False, compare=False)
    where: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, value in _derived(self.data, self.file, self.line).items():
            object.__setattr__(self, name, value)

    # the names lungtrack.fhir.guard reads (resource, resource_type, file, line)
    @property
    def resource(self) -> Mapping[str, Any]:
        return self.data

    @property
    def resource_type(self) -> str:
        return self.rtype


def _resource(data: Mapping[str, Any], file: str, line: int, full_url: str | None = None,
              base: str | None = None) -> Resource:
    """``Resource(data, file, line, full_url, base)``, every attribute the same, made with one
    update of its ``__dict__`` instead of the frozen dataclass's eight ``object.__setattr__``
    calls (the reader makes one per entry: 15,000 for the benchmark's files)."""
    res = object.__new__(Resource)
    res.__dict__.update(data=data, file=file, line=line, full_url=full_url, base=base)
    res.__dict__.update(_derived(data, file, line))
    return res


def _derived(data: Mapping[str, Any], file: str, line: int) -> dict[str, Any]:
    """A Resource's ``rtype`` (``resourceType`` as text), ``rid`` (the id, None unless a
    non-empty string) and ``where`` (``file:line``)."""
    rid = data.get("id")
    return {"rtype": str(data.get("resourceType")), "rid": rid if isinstance(rid, str) and rid else None,
            "where": f"{file}:{line}"}


@dataclass
class ReadResult:
    resources: list[Resource] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # (type, reason) -> n


def origin_of(res: Resource) -> str:
    """Where a record came from, for the writer's messages: ``Bundle.json:14 Observation/cea-1``."""
    return f"{res.file}:{res.line} {res.rtype}/{res.rid}" if res.rid else f"{res.file}:{res.line}"


def _type_error(where: str, path: str, value: Any, expected: str) -> InputError:
    shown = json.dumps(value)[:40] if not isinstance(value, str) else repr(value[:40])
    return InputError(f"{where}: {path}", value, expected, message=(
        f"{where}: {path}: {shown} is not valid; expected {expected}; nothing was imported."))


def _line_of(text: str, pattern: str, default: int = 1) -> int:
    m = re.search(pattern, text)
    return text[:m.start()].count("\n") + 1 if m else default


class _IdLines:
    """The line of the first ``"id": "<rid>"`` of each id in one file's text, found in one pass
    (searching the text again for every resource made reading a Bundle quadratic in its size)."""

    def __init__(self, text: str):
        first: dict[str, int] = {}
        for m in re.finditer(r'"id"\s*:\s*"([^"\\]*)"', text):
            first.setdefault(m.group(1), m.start())
        self.lines: dict[str, int] = {}
        line, at = 1, 0
        for rid, offset in sorted(first.items(), key=lambda item: item[1]):
            line += text.count("\n", at, offset)  # newlines counted once, between consecutive ids
            at = offset
            self.lines[rid] = line

    def line(self, rid: str) -> int:
        return self.lines.get(rid, 1)


@lru_cache(maxsize=1)
def _id_lines(text: str) -> _IdLines:
    return _IdLines(text)


def _id_line(text: str, rid: str) -> int:
    """``_line_of(text, _ID.format(re.escape(rid)))``, with the index of ``text`` built once."""
    return _id_lines(text).line(rid)


def _base_of(url: str | None, rtype: str) -> str | None:
    if not url or not url.startswith(("http://", "https://")):
        return None
    m = re.match(rf"^(.*?)/{re.escape(rtype)}/[^/]+(?:/_history/.*)?$", url)
    return m.group(1) if m else None


def read_fhir(text: str, file: str) -> ReadResult:
    """The resources of one file: NDJSON (one resource per line), a Bundle, or one resource.

    Bundle entries that carry only a ``request`` (a transaction's DELETE or a batch's GET) are
    skipped and counted; search-result entries with ``search.mode`` ``outcome`` too.  Bundles
    inside Bundles are read.  Text that is not JSON, a line that is not a resource and wrong
    JSON types raise ``InputError`` with the file and line."""
    stripped = text.strip()
    out = ReadResult()
    if not stripped:
        raise InputError(file, "", "FHIR NDJSON or a JSON Bundle", message=(
            f"{file}: the file is empty; expected FHIR NDJSON (one resource per line) or a JSON Bundle."))
    try:
        whole = jsonparse.loads(stripped)  # json.loads: the same values and errors, faster
    except json.JSONDecodeError as exc:
        whole = None
        if exc.msg != "Extra data":
            try:
                json.loads(stripped.splitlines()[0])
            except json.JSONDecodeError:
                offset = len(text) - len(text.lstrip())
                line = text[:offset].count("\n") + exc.lineno
                raise InputError(file, f"line {line}", "JSON", message=(
                    f"{file}:{line}: not valid JSON ({exc.msg}); expected FHIR NDJSON "
                    "(one resource per line) or a JSON Bundle; nothing was imported.")) from None
    if whole is not None:
        _read_document(whole, file, text, out)
        return out
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = jsonparse.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(file, f"line {n}", "JSON", message=(
                f"{file}:{n}: not valid JSON ({exc.msg}); expected one FHIR resource per line; "
                "nothing was imported.")) from None
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise InputError(file, f"line {n}", "a FHIR resource", message=(
                f"{file}:{n}: not a FHIR resource (a JSON object with a resourceType); nothing was imported."))
        if value["resourceType"] == "Bundle":
            _read_bundle(value, file, line, out, n)
        else:
            out.resources.append(_resource(value, file, n))
    return out


def _read_document(whole: Any, file: str, text: str, out: ReadResult) -> None:
    if not isinstance(whole, dict) or not isinstance(whole.get("resourceType"), str) or not whole["resourceType"]:
        raise InputError(file, "the document", "a FHIR resource", message=(
            f"{file}:1: the document is not a FHIR resource (a JSON object with a resourceType); "
            "nothing was imported."))
    if whole["resourceType"] != "Bundle":
        out.resources.append(_resource(whole, file, 1))
        return
    _read_bundle(whole, file, text, out, _one_line(text))


def _one_line(text: str) -> int | None:
    """1 for text on one line (as most servers write JSON: every entry is on line 1, no search
    for its id is needed), else None (each entry's line is searched for)."""
    return None if "\n" in text else 1


def _read_bundle(bundle: Mapping[str, Any], file: str, text: str, out: ReadResult, fixed_line: int | None) -> None:
    def line_for(pattern: str) -> int:
        return fixed_line if fixed_line is not None else _line_of(text, pattern)

    entries = bundle.get("entry", [])
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise _type_error(f"{file}:{line_for(_ENTRY)}", "Bundle.entry", entries, "an array of entries")
    btype = bundle.get("type")
    if btype is not None and not isinstance(btype, str):
        raise _type_error(f"{file}:{line_for(_TYPE)}", "Bundle.type", btype, "a code such as 'collection'")
    for i, entry in enumerate(entries):
        path = f"Bundle.entry[{i}]"
        if not isinstance(entry, dict):
            raise _type_error(f"{file}:{line_for(_ENTRY)}", path, entry, "an object with a resource")
        res = entry.get("resource")
        url = entry.get("fullUrl")
        if url is not None and not isinstance(url, str):
            raise _type_error(f"{file}:{line_for(_FULLURL)}", f"{path}.fullUrl", url, "a URL string")
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            out.skipped[("OperationOutcome", "search outcome, not a record")] += 1
            continue
        if res is None:
            request = entry.get("request")
            method = request.get("method") if isinstance(request, dict) else None
            if isinstance(method, str):
                out.skipped[("Bundle entry", f"request only ({method}), no resource")] += 1
                continue
            raise InputError(file, path, "a resource", message=(
                f"{file}:{line_for(_ENTRY)}: {path}: no resource and no request; nothing was imported."))
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str) or not res["resourceType"]:
            raise _type_error(f"{file}:{line_for(_ENTRY)}", f"{path}.resource", res,
                              "a FHIR resource (an object with a resourceType)")
        rid = res.get("id")
        if fixed_line is not None:
            line = fixed_line
        elif isinstance(rid, str):
            line = _id_line(text, rid)
        else:
            line = _line_of(text, _ENTRY)
        request = entry.get("request")
        method = request.get("method") if isinstance(request, dict) else None
        if method == "DELETE":
            out.skipped[(res["resourceType"], "request DELETE")] += 1
            continue
        if res["resourceType"] == "Bundle":
            _read_bundle(res, file, text, out, fixed_line)
            continue
        out.resources.append(_resource(res, file, line, url, _base_of(url, res["resourceType"])))


# --------------------------------------------------------------------------- typed access


class _R:
    """Type-checked access to one resource's JSON: a wrong type raises ``InputError``."""

    def __init__(self, res: Resource):
        self.res = res
        self.where = res.where
        self.prefix = res.rtype

    def err(self, path: str, value: Any, expected: str) -> InputError:
        return _type_error(self.where, f"{self.prefix}.{path}", value, expected)

    def obj(self, d: Mapping[str, Any], key: str, path: str = "") -> dict | None:
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, dict):
            raise self.err(path or key, v, "an object")
        return v

    def arr(self, d: Mapping[str, Any], key: str, path: str = "") -> list:
        v = d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.err(path or key, v, "an array")
        return v

    def objs(self, d: Mapping[str, Any], key: str, path: str = "") -> list[dict]:
        items = self.arr(d, key, path)
        for i, x in enumerate(items):
            if not isinstance(x, dict):
                raise self.err(f"{path or key}[{i}]", x, "an object")
        return items

    def str_(self, d: Mapping[str, Any], key: str, path: str = "") -> str | None:
        v = d.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise self.err(path or key, v, "a string")
        return v

    def num(self, d: Mapping[str, Any], key: str, path: str = "") -> float | None:
        v = d.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.err(path or key, v, "a number")
        if not math.isfinite(v):
            raise self.err(path or key, v, "a finite number")
        return float(v)

    def date_(self, d: Mapping[str, Any], key: str, path: str = "") -> date | None:
        return fhir_date(self.str_(d, key, path))

    def concept(self, d: Mapping[str, Any], key: str, path: str = "") -> dict | None:
        c = self.obj(d, key, path)
        if c is not None:
            self.objs(c, "coding", f"{path or key}.coding")
            self.str_(c, "text", f"{path or key}.text")
        return c

    def concepts(self, d: Mapping[str, Any], key: str) -> list[dict]:
        out = []
        for i, _c in enumerate(self.objs(d, key)):
            c = self.concept({"x": _c}, "x", f"{key}[{i}]")
            if c is not None:
                out.append(c)
        return out

    def reference(self, d: Mapping[str, Any], key: str, path: str = "") -> str | None:
        ref = self.obj(d, key, path)
        return self.str_(ref, "reference", f"{path or key}.reference") if ref else None

    def effective(self, d: Mapping[str, Any], stem: str = "effective") -> tuple[date | None, date | None]:
        """(start, end) of ``<stem>DateTime`` or ``<stem>Period``."""
        when = self.date_(d, f"{stem}DateTime")
        period = self.obj(d, f"{stem}Period")
        if when is not None:
            return when, None
        if period is not None:
            return self.date_(period, "start", f"{stem}Period.start"), self.date_(period, "end", f"{stem}Period.end")
        return None, None


def fhir_date(value: str | None) -> date | None:
    """The calendar date of a FHIR date/dateTime as written, or None (missing, or year/month only)."""
    if not isinstance(value, str):
        return None
    m = _DATE.match(value)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def codings(concept: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def code_of(concept: Mapping[str, Any] | None, *systems: str) -> str | None:
    for c in codings(concept):
        if (not systems or c.get("system") in systems) and isinstance(c.get("code"), str):
            return c["code"]
    return None


def has_code(concept: Mapping[str, Any] | None, system: str, codes: Iterable[str]) -> str | None:
    wanted = set(codes)
    for c in codings(concept):
        if c.get("system") == system and c.get("code") in wanted:
            return str(c["code"])
    return None


def label(concept: Mapping[str, Any] | None) -> str | None:
    if not isinstance(concept, dict):
        return None
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return concept["text"].strip()
    for c in codings(concept):
        if isinstance(c.get("display"), str) and c["display"].strip():
            return c["display"].strip()
    for c in codings(concept):
        if isinstance(c.get("code"), str):
            return c["code"]
    return None


_WORD = re.compile(r"[A-Za-z0-9]+")


def drug_in_text(text: str) -> str | None:
    """The drug-table drug named in a medication text such as "Cisplatin 50 MG Injection" or
    "osimertinib 80 MG Oral Tablet [Tagrisso]": the longest run of up to four words that is a
    drug name or alias, leftmost first.  None when no drug of the table is named."""
    words = _WORD.findall(text or "")
    for n in range(min(4, len(words)), 0, -1):
        for i in range(0, len(words) - n + 1):
            drug = get_drug(" ".join(words[i:i + n]))
            if drug is not None:
                return drug.name
    return None


def _imaging_modality(concept: Mapping[str, Any] | None) -> Modality | None:
    """By code (:data:`IMAGING_PROCEDURES`), else by words: chest/thorax/lung plus CT,
    X-ray/radiograph or PET (not CT-guided biopsies, aspirations or drainages: those are
    interventions)."""
    code = has_code(concept, SNOMED, IMAGING_PROCEDURES)
    if code is not None:
        return IMAGING_PROCEDURES[code]
    texts = [concept.get("text", "")] if isinstance(concept, dict) else []
    texts += [c.get("display", "") for c in codings(concept)]
    for text in texts:
        t = str(text).lower()
        if not re.search(r"\b(chest|thorax|thoracic|lungs?)\b", t):
            continue
        if re.search(r"biops|guided|aspiration|drainage", t):  # an intervention, not a scan
            continue
        if re.search(r"\bpet\b|positron", t):
            return Modality.PET_CT
        if re.search(r"\bct\b|computed tomography", t):
            return Modality.CT
        if re.search(r"x-ray|\bradiograph", t):
            return Modality.XRAY
    return None


#: id(extension list) -> (the list, name -> value of its first extension of that name that has
#: one (or _RAISES when reading it raises), position of the first extension whose url is not a
#: string).  One pass per list instead of one per look-up; the list itself is kept so that its id
#: cannot be reused.  Emptied by every mapping run.
_EXT_INDEX: dict[int, tuple[list[Any], dict[str, Any], int]] = {}
#: extension url -> the name it ends with (a few dozen urls recur in every resource)
_URL_NAMES: dict[str, str] = {}
_RAISES = object()  # reading this name's extension raises: the look-up does it again, and raises
_MISSING = object()


def _ext_values(r: _R, exts: list[Any]) -> tuple[dict[str, Any], int]:
    """(name -> value, position of the first url that is not a string) of an extension list, as
    :func:`_ext_slow` would find each name: only extensions before that position count, and an
    extension without a value leaves the name to the next one.  Never raises: a name whose
    extension would raise is marked, and raises when (and only when) it is looked up."""
    hit = _EXT_INDEX.get(id(exts))
    if hit is not None and hit[0] is exts:
        return hit[1], hit[2]
    values: dict[str, Any] = {}
    bad = len(exts)
    for i, e in enumerate(exts):
        if not isinstance(e, dict):
            continue
        url = e.get("url")
        if url is None:
            continue
        if not isinstance(url, str):
            bad = i  # the look-up refuses it here, unless it found its extension before
            break
        name = _URL_NAMES.get(url)
        if name is None:
            if len(_URL_NAMES) >= 4096:
                _URL_NAMES.clear()
            name = _URL_NAMES[url] = url.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        if name in values:
            continue  # an earlier extension of this name has a value (or raises)
        try:
            found = _ext_value(r, e, i)
        except InputError:
            found = _RAISES
        if found is not _NONE:
            values[name] = found
    if len(_EXT_INDEX) >= 65536:
        _EXT_INDEX.clear()
    _EXT_INDEX[id(exts)] = (exts, values, bad)
    return values, bad


def _ext(r: _R, d: Mapping[str, Any], name: str) -> Any:
    """Value of the first extension whose URL ends with ``name`` (value[x] or nested Name):
    :func:`_ext_slow`'s answer (and error) through the list's table of values."""
    exts = d.get("extension")
    if not isinstance(exts, list):
        return None
    values, bad = _ext_values(r, exts)
    found = values.get(name, _MISSING)
    if found is _MISSING:
        if bad < len(exts):
            r.str_(exts[bad], "url", f"extension[{bad}].url")  # raises: the url is not a string
        return None
    if found is _RAISES:
        return _ext_slow(r, d, name)  # raises, with the path of the extension
    return found


def _ext_getter(r: _R, d: Mapping[str, Any]) -> Callable[[str], Any]:
    """``_ext(r, d, name)`` as a function of ``name`` alone, for the many look-ups in one
    resource: when every url is a string and no extension raises, the table's own ``get``."""
    exts = d.get("extension")
    if not isinstance(exts, list):
        return _no_ext
    values, bad = _ext_values(r, exts)
    if bad == len(exts) and _RAISES not in values.values():
        return values.get
    return lambda name: _ext(r, d, name)


def _no_ext(name: str) -> None:
    return None


def _ext_slow(r: _R, d: Mapping[str, Any], name: str) -> Any:
    """Value of the first extension whose URL ends with ``name`` (value[x] or nested Name), by
    one scan of the extensions (the reference for :func:`_ext`)."""
    exts = d.get("extension")
    for i, e in enumerate(exts if isinstance(exts, list) else []):
        if not isinstance(e, dict):
            continue  # an extension lungtrack does not read may be anything
        url = e.get("url")
        if not isinstance(url, str):  # missing, or the wrong type (refused with its path)
            url = r.str_(e, "url", f"extension[{i}].url") or ""
        if url.rsplit("/", 1)[-1].rsplit(":", 1)[-1] == name:
            found = _ext_value(r, e, i)
            if found is not _NONE:
                return found
    return None


_NONE = object()  # an extension without a value: the next one with the name is read


def _ext_value(r: _R, e: Mapping[str, Any], i: int) -> Any:
    """The value[x] of extension ``i``, else that of its nested Name (or Id) extension; _NONE."""
    for k, v in e.items():
        if k.startswith("value"):
            return v
    for sub in r.objs(e, "extension", f"extension[{i}].extension"):
        if sub.get("url") in ("Name", "name", "Id"):
            for k, v in sub.items():
                if k.startswith("value"):
                    return v
    return _NONE


def _ext_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        code = code_of(value, HGVS)
        return code or label(value)
    return None


# --------------------------------------------------------------------------- mapping


@dataclass
class _PatientAcc:
    key: str
    ref: PatientRef
    name: str | None = None
    res: Resource | None = None
    birth: date | None = None
    deceased: date | None = None
    gender: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()
    diagnosis: date | None = None
    histology: str | None = None
    smoking: tuple[date, str] | None = None
    drivers: tuple[str, ...] = ()
    subtypes: tuple[tuple[str, float], ...] | None = None
    stage_summary: str | None = None
    stage_parts: dict[str, tuple[date | None, str]] = field(default_factory=dict)
    scans: dict[date, dict[str, Any]] = field(default_factory=dict)
    therapies: list[dict[str, Any]] = field(default_factory=list)
    markers: list[MarkerInput] = field(default_factory=list)
    biopsies: list[BiopsyInput] = field(default_factory=list)
    appointments: list[AppointmentInput] = field(default_factory=list)
    notes: list[NoteInput] = field(default_factory=list)
    statuses: list[tuple[date, str, Resource]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


class _Mapper:
    def __init__(self, resources: Sequence[Resource], source_label: str, patient_name: str | None):
        self.resources = resources
        self.label = source_label
        self.patient_name = patient_name
        self.skipped: Counter = Counter()
        self.aliases: dict[str, Resource] = {}
        self._bodies: dict[int, tuple[Resource, dict[str, Any]]] = {}
        self.patients: dict[str, _PatientAcc] = {}
        self.seen: set[tuple[str | None, str, str]] = set()
        for res in resources:
            if res.full_url:
                self.aliases[res.full_url] = res
            if res.rid:
                self.aliases.setdefault(f"{res.rtype}/{res.rid}", res)
                if res.base:
                    self.aliases.setdefault(f"{res.base}/{res.rtype}/{res.rid}", res)

    def skip(self, rtype: str, reason: str, n: int = 1) -> None:
        self.skipped[(rtype, reason)] += n

    def source(self, res: Resource, local_id: str | None = None) -> Source:
        """Where a record came from: its file, its external id (``local_id``, by default
        ``<type>/<id>``, after the server base when the Bundle names one) and ``file:line``."""
        local = local_id if local_id is not None else f"{res.rtype}/{res.rid}"
        return Source(self.file_label(res), f"{res.base}|{local}" if res.base else local, origin_of(res))

    def file_label(self, res: Resource) -> str:
        """Each record remembers the file it came from: ``import:fhir:<file>``."""
        return f"import:fhir:{res.file}"[:200]

    def resolve(self, ref: str | None) -> Resource | None:
        if not ref:
            return None
        if ref in self.aliases:
            return self.aliases[ref]
        m = re.search(r"([A-Za-z]+/[A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$", ref)
        return self.aliases.get(m.group(1)) if m else None

    # -- patients

    def patient_for(self, r: _R, key: str = "subject") -> _PatientAcc | None:
        res = r.res
        ref = r.reference(res.data, key)
        if ref is None and key == "subject":
            ref = r.reference(res.data, "patient")
        if self.patient_name is not None:
            return self._acc("--patient", PatientRef(name=self.patient_name))
        if ref is None:
            pats = self._lone_patients()
            if len(pats) == 1:
                return self._patient_acc(pats[0])
            self.skip(res.rtype, "no subject patient; name one with --patient")
            return None
        target = self.resolve(ref)
        if target is not None and target.rtype == "Patient":
            return self._patient_acc(target)
        m = re.search(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$", ref)
        if m is None:
            self.skip(res.rtype, "subject is not a Patient")
            return None
        base = ref[: m.start()] if ref.startswith(("http://", "https://")) else res.base
        return self._acc(f"{base}|{m.group(1)}", PatientRef(source_base=base, local_id=m.group(1)))

    def _lone_patients(self) -> list[Resource]:
        """Every Patient resource of the import (a record without a subject goes to the only one)."""
        return [x for x in self.resources if x.rtype == "Patient"]

    def _patient_acc(self, pres: Resource) -> _PatientAcc:
        if self.patient_name is not None:
            acc = self._acc("--patient", PatientRef(name=self.patient_name))
            if acc.res is None:  # the records go to the named patient; the Patient's facts too
                self._fill_patient(acc, pres)
                acc.ref = PatientRef(name=self.patient_name, identifiers=acc.identifiers, source_base=pres.base,
                                     local_id=pres.rid)
            return acc
        key = f"{pres.base}|{pres.rid}"
        acc = self.patients.get(key)
        if acc is None:
            acc = self._acc(key, PatientRef(source_base=pres.base, local_id=pres.rid))
            self._fill_patient(acc, pres)
        return acc

    def _acc(self, key: str, ref: PatientRef) -> _PatientAcc:
        if key not in self.patients:
            self.patients[key] = _PatientAcc(key, ref)
        return self.patients[key]

    def _fill_patient(self, acc: _PatientAcc, pres: Resource) -> None:
        r = _R(pres)
        d = pres.data
        ids = []
        for i, ident in enumerate(r.objs(d, "identifier")):
            system = r.str_(ident, "system", f"identifier[{i}].system")
            value = r.str_(ident, "value", f"identifier[{i}].value")
            if system and value:
                ids.append((system, value))
        acc.identifiers = tuple(ids)
        acc.ref = replace(acc.ref, identifiers=acc.ref.identifiers or tuple(ids))
        acc.name = patient_name(r, d)
        if pres.base is None and not ids:
            # no server base and no identifier: the local id counts only together with the name
            acc.ref = replace(acc.ref, name=acc.name)
        acc.deceased = r.date_(d, "deceasedDateTime")
        acc.birth = r.date_(d, "birthDate")
        acc.gender = r.str_(d, "gender")
        acc.res = pres
        smoking = _ext(r, d, "smoking")
        if isinstance(smoking, str):
            acc.smoking = (date.min, smoking)
        schedule = _ext(r, d, "schedule")
        if isinstance(schedule, str):
            try:
                values = json.loads(schedule)
            except ValueError:
                values = None
            if not isinstance(values, dict) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
                raise r.err("extension(schedule)", schedule, "a JSON object of weeks")
            acc.extras["schedule"] = {str(k): float(v) for k, v in values.items()}
        ended, why = _ext(r, d, "tracking-ended"), _ext(r, d, "tracking-ended-reason")
        if isinstance(ended, str) and fhir_date(ended) and why != "deceased":
            acc.extras["tracking_ended"] = (fhir_date(ended), why if isinstance(why, str) else None)
        exts = d.get("extension") if isinstance(d.get("extension"), list) else []
        drivers = [e for e in exts if isinstance(e, dict) and str(e.get("url", "")).endswith(":driver")]
        acc.drivers = tuple(str(e["valueString"]) for e in drivers if isinstance(e.get("valueString"), str))

    # -- dispatch

    def run(self) -> ImportPlan:
        _EXT_INDEX.clear()
        try:
            return self._run()
        finally:
            _EXT_INDEX.clear()  # the index holds the resources' lists: not beyond the run

    def _run(self) -> ImportPlan:
        self._patients_pass()
        self._records_pass()
        return self._plan()

    def _patients_pass(self) -> None:
        """Every Patient first, in the order read (records may come before their Patient)."""
        patients_seen: set[tuple[str | None, str]] = set()
        for res in self.resources:
            if res.rtype == "Patient":
                if res.rid is None:
                    self.skip("Patient", "no id")
                    continue
                _check_datatypes(_R(res), res.data, "")
                patient_name(_R(res), res.data)  # the name's JSON types, also of a repeated Patient
                if (res.base, res.rid) in patients_seen:
                    self.skip("Patient", "the same resource twice in this import")
                    continue
                patients_seen.add((res.base, res.rid))
                self._patient_acc(res)

    def _records_pass(self) -> None:
        for res in self.resources:
            rtype = res.rtype
            if rtype in ("Patient",):
                continue
            handler = getattr(self, f"_map_{rtype}", None)
            if handler is None:
                self.skip(rtype, "used only through references" if rtype in ("Medication", "BodyStructure", "Specimen")
                          else "not a kind of record lungtrack keeps")
                continue
            if res.rid is None:
                self.skip(rtype, "no id (a second import could not be told apart)")
                continue
            r = _R(res)
            _check_datatypes(r, res.data, "")
            key = (res.base, rtype, res.rid)
            if key in self.seen:
                self.skip(rtype, "the same resource twice in this import")
                continue
            self.seen.add(key)
            handler(res, r)

    # -- Condition

    def _map_Condition(self, res: Resource, r: _R) -> None:
        d = res.data
        code = r.concept(d, "code")
        if has_code(code, SNOMED, NOT_A_DIAGNOSIS):
            self.skip("Condition", NOT_A_DIAGNOSIS[has_code(code, SNOMED, NOT_A_DIAGNOSIS) or ""])
            return
        if has_code(code, SNOMED, SECONDARY_CANCER_CODES) or "secondary" in (label(code) or "").lower():
            self.skip("Condition", "secondary cancer (metastatic site): lungtrack keeps sites on lesions")
            return
        hit = has_code(code, SNOMED, LUNG_CANCER_CONDITIONS)
        icd = next((c.get("code") for c in codings(code) if c.get("system") in _ICD10_SYSTEMS
                    and str(c.get("code", "")).upper().startswith("C34")), None)
        if hit is None and icd is None:
            self.skip("Condition", "not a lung-cancer diagnosis lungtrack knows")
            return
        verification = code_of(r.concept(d, "verificationStatus"))
        if verification in ("refuted", "entered-in-error", "provisional", "differential", "unconfirmed"):
            self.skip("Condition", f"verification status {verification}")
            return
        acc = self.patient_for(r)
        if acc is None:
            return
        onset, _ = r.effective(d, "onset")
        if onset is None:
            onset = r.date_(d, "recordedDate")
        if onset is not None and (acc.diagnosis is None or onset < acc.diagnosis):
            acc.diagnosis = onset
        morph = _ext(r, d, "mcode-histology-morphology-behavior")
        lt_hist = _ext(r, d, "histology")
        if isinstance(lt_hist, str):
            acc.histology = lt_hist
        elif isinstance(morph, dict) and label(morph):
            acc.histology = _clean_display(label(morph) or "").lower()
        elif acc.histology is None:
            acc.histology = LUNG_CANCER_CONDITIONS.get(hit or "", "lung cancer")
        subtypes = _ext(r, d, "subtypes")
        if isinstance(subtypes, str):
            try:
                parsed = json.loads(subtypes)
                acc.subtypes = tuple((str(k), float(v)) for k, v in parsed.items())
            except (ValueError, AttributeError, TypeError):
                raise r.err("extension(subtypes)", subtypes, "a JSON object of subtype percentages") from None
        for i, st in enumerate(r.objs(d, "stage")):
            summary = label(r.concept(st, "summary", f"stage[{i}].summary"))
            if summary:
                acc.stage_summary = summary

    # -- Observation

    def _map_Observation(self, res: Resource, r: _R) -> None:
        d = res.data
        code = r.concept(d, "code")
        loinc = code_of(code, LOINC)
        status = r.str_(d, "status")
        if status in ("entered-in-error", "cancelled"):
            self.skip("Observation", f"status {status}")
            return
        profiles = [p for p in r.arr(r.obj(d, "meta") or {}, "profile", "meta.profile") if isinstance(p, str)]
        if loinc in TNM_CODES:
            self._tnm(res, r, TNM_CODES[loinc])
        elif loinc == TUMOR_SIZE or any(p.endswith("mcode-tumor-size") for p in profiles):
            self._tumor_size(res, r)
        elif loinc in DISEASE_STATUS_CODES:
            self._disease_status(res, r)
        elif loinc in VARIANT_CODES or _ext(r, d, "observation-geneticsGene") is not None:
            self._variant(res, r)
        elif loinc in MARKER_LOINC or (code_of(code) is None and _marker_by_text(label(code))):
            self._marker(res, r, MARKER_LOINC.get(loinc or "") or _marker_by_text(label(code)))
        elif loinc == SMOKING_CODE:
            self._smoking(res, r)
        else:
            self.skip("Observation", "not a kind of observation lungtrack keeps")

    def _tnm(self, res: Resource, r: _R, kind: tuple[str, str]) -> None:
        d = res.data
        part, prefix = kind
        text = _tnm_text(r.concept(d, "valueCodeableConcept"), part)
        acc = self.patient_for(r)
        if acc is None:
            return
        if not text:
            self.skip("Observation", "TNM observation without a value")
            return
        when, _ = r.effective(d)
        if part == "stage":
            text = f"stage {text}" + (f" ({prefix})" if prefix else "")
        elif text[:1] == part:
            text = f"{prefix}{text}"
        old = acc.stage_parts.get(part)
        if old is None or (when is not None and (old[0] is None or when >= old[0])):
            acc.stage_parts[part] = (when, text)

    def _tumor_size(self, res: Resource, r: _R) -> None:
        d = res.data
        when, _ = r.effective(d)
        if when is None:
            self.skip("Observation", "tumour size without a full date")
            return
        acc = self.patient_for(r)
        if acc is None:
            return
        longest = other = None
        absent = None
        comps = r.objs(d, "component")
        for i, comp in enumerate(comps):
            ccode = r.concept(comp, "code", f"component[{i}].code")
            q = r.obj(comp, "valueQuantity", f"component[{i}].valueQuantity")
            ctext = (label(ccode) or "").lower()
            is_longest = code_of(ccode, LOINC) == LONGEST or "longest" in ctext or "short axis" in ctext
            if q is not None:
                mm = self._mm(r, q, f"component[{i}].valueQuantity")
                if mm is None:
                    return
                if is_longest and longest is None:
                    longest = mm
                elif code_of(ccode, LOINC) == OTHER_DIMENSION:
                    other = mm if other is None else other
            elif is_longest and comp.get("dataAbsentReason") is not None:
                absent = label(r.concept(comp, "dataAbsentReason", f"component[{i}].dataAbsentReason")) or ""
        q = r.obj(d, "valueQuantity")
        if longest is None and q is not None:
            longest = self._mm(r, q, "valueQuantity")
            if longest is None:
                return
        ext = _ext_getter(r, d)
        lesion = self._lesion(res, r, ext)
        status = ext("measurement-status")
        status = status if isinstance(status, str) else None
        if longest is None and absent is None and status is None:
            self.skip("Observation", "tumour size without a longest dimension")
            return
        if status is None:
            status = "measured" if longest is not None else ("too-small" if "small" in (absent or "") else "not-evaluated")
        size = longest if status in ("measured", "disappeared") else None
        if status == "disappeared":
            size = 0.0
        new = ext("new-lesion") is True
        m = MeasurementInput(label=lesion["label"], size_mm=size, status=status,
                             short_axis_mm=other if lesion["is_node"] is not True else None,
                             site=lesion["site"], is_node=lesion["is_node"], new=new,
                             equivocal=ext("equivocal") is True)
        scan = self._scan(acc, when, res, r, ext)
        scan["measurements"].append(m)

    def _scan(self, acc: _PatientAcc, when: date, res: Resource, r: _R,
              ext: Callable[[str], Any] | None = None) -> dict[str, Any]:
        d = res.data
        if ext is None:
            ext = _ext_getter(r, d)
        scan = acc.scans.get(when)
        if scan is None:
            scan = {"measurements": [], "source": None, "modality": None, "ntl": None, "slice": None,
                    "impression": None, "report": None, "status": None}
            acc.scans[when] = scan
        study_id = ext("imaging-study")
        if isinstance(study_id, str):
            scan["source"] = self.source(res, study_id)
        elif scan["source"] is None:
            scan["source"] = self.source(res)
        for key, name in (("modality", "modality"), ("ntl", "non-target-status"), ("impression", "impression"),
                         ("report", "report-text")):
            v = ext(name)
            if isinstance(v, str):
                scan[key] = v
        v = ext("slice-thickness-mm")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            scan["slice"] = float(v)
        if scan["modality"] is None:
            method = (label(r.concept(d, "method")) or "").lower()
            for word, mod in (("pet", "PET-CT"), ("mri", "MRI"), ("magnetic", "MRI"), ("x-ray", "X-ray"),
                              ("radiograph", "X-ray")):
                if word in method:
                    scan["modality"] = mod
                    break
        return scan

    def _mm(self, r: _R, q: Mapping[str, Any], path: str) -> float | None:
        value = r.num(q, "value", f"{path}.value")
        unit = r.str_(q, "code", f"{path}.code") or r.str_(q, "unit", f"{path}.unit")
        if value is None:
            self.skip("Observation", "tumour size without a value")
            return None
        if unit is None:
            raise InputError(f"{r.where}: {r.prefix}.{path}", value, "a size with a unit (mm or cm)", message=(
                f"{r.where}: {r.prefix}.{path}: {value:g} has no unit; expected a size in mm or cm; "
                "nothing was imported."))
        factor = {"mm": 1.0, "cm": 10.0, "m": 1000.0}.get(unit.strip().lower())
        if factor is None:
            raise InputError(f"{r.where}: {r.prefix}.{path}", unit, "mm or cm", message=(
                f"{r.where}: {r.prefix}.{path}: unit {unit!r} is not a length; expected mm or cm; "
                "nothing was imported."))
        return round(value * factor, 6)

    def _body_part(self, target: Resource, part: str, read: Callable[[], Any]) -> Any:
        """One part of a referenced BodyStructure, read the first time a tumour size needs it
        (the Tumor is the focus of every measurement of that lesion)."""
        entry = self._bodies.get(id(target))
        if entry is None:
            entry = self._bodies[id(target)] = (target, {})  # the resource is kept: its id stays its own
        parts = entry[1]
        if part not in parts:
            parts[part] = read()
        return parts[part]

    def _lesion(self, res: Resource, r: _R, ext: Callable[[str], Any] | None = None) -> dict[str, Any]:
        d = res.data
        if ext is None:
            ext = _ext_getter(r, d)
        lt_label = ext("lesion-label")
        site = None
        is_node = ext("lesion-is-node")
        name = lt_label if isinstance(lt_label, str) else None
        for i, f in enumerate(r.objs(d, "focus")):
            target = self.resolve(r.str_(f, "reference", f"focus[{i}].reference"))
            if target is not None and target.rtype == "BodyStructure":
                br = _R(target)
                bd = target.data
                # each part of a BodyStructure is read (and its JSON types checked) once, when
                # first needed, in the order of the reading below: the same values and errors
                part = self._body_part
                loc = part(target, "loc", lambda: label(br.concept(bd, "location")))
                site = site or part(target, "site", lambda: _clean_display(loc).lower() if loc else None)
                if name is None:
                    v = part(target, "ident", lambda: _first_identifier_value(br, bd))
                    if v:
                        name = (part(target, "desc", lambda: br.str_(bd, "description"))
                                or f"{_clean_display(loc or 'lesion').lower()} {v}")
                if name is None:
                    name = (part(target, "desc", lambda: br.str_(bd, "description")) or (f"{site}" if site else None)
                            or f"lesion {target.rid}")
                morph = part(target, "morph", lambda: (label(br.concept(bd, "morphology")) or "").lower())
                if is_node is None and "lymph node" in f"{morph} {site or ''}":
                    is_node = True
            elif name is None and isinstance(f.get("display"), str):
                name = f["display"]
        body = label(r.concept(d, "bodySite"))
        if site is None and body:
            site = _clean_display(body).lower()
        if name is None:
            name = site or "tumour"
        return {"label": name[:100], "site": (site or name)[:100],
                "is_node": is_node if isinstance(is_node, bool) else None}

    def _disease_status(self, res: Resource, r: _R) -> None:
        d = res.data
        meta_tags = r.objs(r.obj(d, "meta") or {}, "tag", "meta.tag")
        if any(t.get("code") == "lungtrack-computed" for t in meta_tags):
            self.skip("Observation", "disease status computed by lungtrack (recomputed from the measurements)")
            return
        value = r.concept(d, "valueCodeableConcept")
        word = DISEASE_STATUS_VALUES.get(code_of(value, SNOMED) or "") or _clean_display(label(value) or "")
        when, _ = r.effective(d)
        if not word or when is None:
            self.skip("Observation", "disease status without a value or full date")
            return
        acc = self.patient_for(r)
        if acc is None:
            return
        acc.statuses.append((when, word[:100], res))

    def _variant(self, res: Resource, r: _R) -> None:
        d = res.data
        gene = hgvs_p = hgvs_c = hgvs_g = origin = None
        vaf: float | None = None
        for i, comp in enumerate(r.objs(d, "component")):
            ccode = code_of(r.concept(comp, "code", f"component[{i}].code"), LOINC)
            vcc = r.concept(comp, "valueCodeableConcept", f"component[{i}].valueCodeableConcept")
            if ccode == "48018-6":
                gene = _gene(vcc)
            elif ccode == "48005-3":
                hgvs_p = code_of(vcc, HGVS) or label(vcc)
            elif ccode == "48004-6":
                hgvs_c = code_of(vcc, HGVS) or label(vcc)
            elif ccode == "81290-9":
                hgvs_g = code_of(vcc, HGVS) or label(vcc)
            elif ccode == "48002-0":
                origin = _source_class(vcc)
            elif ccode == "81258-6":
                q = r.obj(comp, "valueQuantity", f"component[{i}].valueQuantity")
                if q is not None:
                    vaf = _vaf(r, q, f"component[{i}].valueQuantity")
        # R4 core extensions
        g = _ext(r, d, "observation-geneticsGene")
        if gene is None and g is not None:
            gene = _gene(g) if isinstance(g, dict) else (g if isinstance(g, str) else None)
        for name in ("observation-geneticsAminoAcidChange", "observation-geneticsAminoAcidChangeName"):
            v = _ext_text(_ext(r, d, name))
            if hgvs_p is None and v:
                hgvs_p = v
        for name in ("observation-geneticsDNAVariant", "observation-geneticsDnaVariant", "observation-geneticsVariant",
                     "observation-geneticsDNASequenceVariantName"):
            v = _ext_text(_ext(r, d, name))
            if hgvs_c is None and v:
                hgvs_c = v
        af = _ext(r, d, "observation-geneticsAllelicFrequency")
        if vaf is None and isinstance(af, (int, float)) and not isinstance(af, bool):
            vaf = float(af) * 100 if af <= 1 else float(af)
        sc = _ext(r, d, "observation-geneticsGenomicSourceClass")
        if origin is None and isinstance(sc, dict):
            origin = _source_class(sc)
        if not gene:
            self.skip("Observation", "variant without a gene studied")
            return
        lt_variant = _ext(r, d, "variant")
        from lungtrack.parsing.variants import normalize_alteration

        variant = lt_variant if isinstance(lt_variant, str) else None
        genomic = [t for t in (hgvs_c, hgvs_g) if t and t in GENOMIC_HGVS and GENOMIC_HGVS[t][0] == gene]
        if variant is None and genomic:
            variant = GENOMIC_HGVS[genomic[0]][1]
            if hgvs_c == genomic[0]:
                hgvs_c = None  # a genomic (g.) name, not a cDNA one
        if variant is None:
            for text in (hgvs_p, hgvs_c):
                if not text:
                    continue
                try:
                    variant = normalize_alteration(text, gene=gene).name
                    break
                except InputError:
                    continue
        if variant is None:
            shown = hgvs_p or hgvs_c or hgvs_g
            self.skip("Observation", f"variant not understood ({gene} {shown})" if shown
                      else "variant without an amino-acid or DNA change")
            return
        if hgvs_c and ":g." in hgvs_c:
            hgvs_c = None
        when, _ = r.effective(d)
        when = when or r.date_(d, "issued")
        if when is None:
            self.skip("Observation", "variant without a full date")
            return
        value = r.concept(d, "valueCodeableConcept")
        vcode = code_of(value)
        vtext = (label(value) or "").lower()
        if vcode in ("LA9633-4", "10828004") or "present" in vtext or "positive" in vtext or value is None:
            result = "detected"
        elif vcode in ("LA9634-2", "260385009") or "absent" in vtext or "negative" in vtext or "not detected" in vtext:
            result = "not-detected"
        else:
            result = "indeterminate"
        acc = self.patient_for(r)
        if acc is None:
            return
        sample = _ext(r, d, "sample")
        if not isinstance(sample, str):
            sample = _sample(r, d, self)
        assay = _ext(r, d, "assay")
        if not isinstance(assay, str):
            assay = label(r.concept(d, "method"))
        ctx = _ext(r, d, "allele-context")
        if hgvs_c and ":" in hgvs_c and not hgvs_c.split(":")[0].startswith("NM_"):
            hgvs_c = hgvs_c.split(":", 1)[1]
        acc.biopsies.append(BiopsyInput(
            date=when, sample=sample, gene=gene, variant=variant, result=result,
            vaf=vaf, assay=assay[:200] if assay else None, allele_context=ctx if isinstance(ctx, str) else None,
            hgvs_c=hgvs_c, hgvs_p=hgvs_p, origin=origin, source=self.source(res)))

    def _marker(self, res: Resource, r: _R, marker: Marker | None) -> None:
        d = res.data
        if marker is None:
            self.skip("Observation", "not a kind of observation lungtrack keeps")
            return
        status = r.str_(d, "status")
        if status not in _OK_OBS:
            self.skip("Observation", f"status {status or 'missing'}, not a final result")
            return
        when, _ = r.effective(d)
        if when is None:
            self.skip("Observation", "no full effective date")
            return
        q = r.obj(d, "valueQuantity")
        if q is None:
            self.skip("Observation", "no numeric value")
            return
        value = r.num(q, "value", "valueQuantity.value")
        if value is None:
            self.skip("Observation", "no numeric value")
            return
        unit = r.str_(q, "unit", "valueQuantity.unit") or r.str_(q, "code", "valueQuantity.code")
        if r.str_(q, "code", "valueQuantity.code") and r.str_(q, "system", "valueQuantity.system") == \
                "http://unitsofmeasure.org":
            unit = q["code"]
        if unit is None:
            raise InputError(f"{r.where}: Observation.valueQuantity", value, "a value with its unit", message=(
                f"{r.where}: Observation.valueQuantity: {marker.value} {value:g} has no unit; a unit cannot be "
                "assumed (a factor of 1000 would change its meaning); nothing was imported."))
        comparator = r.str_(q, "comparator", "valueQuantity.comparator")
        if comparator in ("<=", ">="):
            comparator = comparator[0]
        uln = None
        for i, rr in enumerate(r.objs(d, "referenceRange")):
            high = r.obj(rr, "high", f"referenceRange[{i}].high")
            if high is not None:
                hv = r.num(high, "value", f"referenceRange[{i}].high.value")
                hu = r.str_(high, "unit", f"referenceRange[{i}].high.unit") or r.str_(high, "code")
                if hv is not None:
                    uln = _convert(marker, hv, hu, unit)
                break
        lab = None
        for i, perf in enumerate(r.objs(d, "performer")):
            disp = r.str_(perf, "display", f"performer[{i}].display")
            if disp:
                lab = disp[:200]
                break
        acc = self.patient_for(r)
        if acc is None:
            return
        acc.markers.append(MarkerInput(marker=marker.value, value=value, unit=unit, date=when, uln=uln, lab=lab,
                                       comparator=comparator, source=self.source(res)))

    def _smoking(self, res: Resource, r: _R) -> None:
        d = res.data
        word = SMOKING_VALUES.get(code_of(r.concept(d, "valueCodeableConcept"), SNOMED) or "")
        when, _ = r.effective(d)
        if word is None:
            self.skip("Observation", "smoking status not understood")
            return
        acc = self.patient_for(r)
        if acc is None:
            return
        key = when or date.min
        if acc.smoking is None or key >= acc.smoking[0]:
            acc.smoking = (key, word)

    # -- medication

    def _medication(self, res: Resource, r: _R) -> tuple[str | None, str | None, str]:
        d = res.data
        concept = r.concept(d, "medicationCodeableConcept")
        if concept is None:
            ref = r.reference(d, "medicationReference")
            med = None
            if ref and ref.startswith("#"):
                med = next((c for c in r.objs(d, "contained") if c.get("id") == ref[1:]), None)
                concept = _R(res).concept(med, "code", "contained.code") if med else None
            else:
                target = self.resolve(ref)
                if target is not None:
                    concept = _R(target).concept(target.data, "code")
        texts = [t for t in [label(concept)] + [c.get("display") for c in codings(concept)] if isinstance(t, str)]
        drug = next((x for x in (drug_in_text(t) for t in texts) if x), None)
        rxnorm = code_of(concept, RXNORM)
        first = re.findall(r"[A-Za-z0-9]+", texts[0]) if texts else []
        return drug, rxnorm, (first[0].lower() if first else "no medication code")

    def _therapy(self, res: Resource, r: _R, start: date | None, end: date | None, status: str | None,
                 reason_concepts: list[dict], last: date | None = None) -> None:
        rtype = res.rtype
        drug, rxnorm, shown = self._medication(res, r)
        if drug is None:
            self.skip(rtype, f"drug not in lungtrack's drug table ({shown})")
            return
        if status in ("entered-in-error", "cancelled", "draft", "not-taken", "not-done", "intended", "unknown"):
            self.skip(rtype, f"status {status}")
            return
        if start is None:
            self.skip(rtype, "no full start date")
            return
        if end is not None and end < start:
            raise r.err("effectivePeriod.end", end.isoformat(), f"a date not before the start {start.isoformat()}")
        acc = self.patient_for(r)
        if acc is None:
            return
        stop_reason = stop_text = None
        term = _ext(r, res.data, "mcode-treatment-termination-reason")
        for concept in ([term] if isinstance(term, dict) else []) + reason_concepts:
            sct = code_of(concept, SNOMED)
            text = label(concept)
            if text in ("progression", "toxicity", "other"):
                stop_reason = text
                continue
            if sct in TERMINATION_REASONS or text:
                stop_reason = stop_reason or TERMINATION_REASONS.get(sct or "", "other")
                stop_text = _clean_display(text or "") or None
        if _ext(r, res.data, "rxnorm-from-drug-table") is True:
            rxnorm = None  # lungtrack's own table code, not the source's: not stored
        lt_text = _ext(r, res.data, "stop-reason-text")
        if isinstance(lt_text, str):
            stop_text = lt_text
        stopped = status in ("stopped", "completed") or stop_reason is not None
        notes = [n.get("text") for n in r.objs(res.data, "note") if isinstance(n.get("text"), str)]
        acc.therapies.append({"drug": drug, "start": start, "end": end, "stopped": stopped, "reason": stop_reason,
                              "reason_text": stop_text, "rxnorm": rxnorm, "res": res, "status": status,
                              "last": max(d for d in (start, end, last) if d is not None),
                              "note": notes[0] if notes and res.rtype == "MedicationStatement" else None})

    def _map_MedicationStatement(self, res: Resource, r: _R) -> None:
        start, end = r.effective(res.data)
        self._therapy(res, r, start, end, r.str_(res.data, "status"), r.concepts(res.data, "statusReason"))

    def _map_MedicationAdministration(self, res: Resource, r: _R) -> None:
        start, end = r.effective(res.data)
        self._therapy(res, r, start, end, r.str_(res.data, "status"), r.concepts(res.data, "statusReason"))

    def _map_MedicationRequest(self, res: Resource, r: _R) -> None:
        d = res.data
        intent = r.str_(d, "intent")
        if intent in ("proposal", "plan", "option"):
            self.skip("MedicationRequest", f"intent {intent}, not an order")
            return
        start = end = last = None
        for i, dose in enumerate(r.objs(d, "dosageInstruction")):
            timing = r.obj(dose, "timing", f"dosageInstruction[{i}].timing")
            if timing is None:
                continue
            events = [fhir_date(e) for e in r.arr(timing, "event", f"dosageInstruction[{i}].timing.event")]
            rep = r.obj(timing, "repeat", f"dosageInstruction[{i}].timing.repeat")
            bounds = r.obj(rep, "boundsPeriod", f"dosageInstruction[{i}].timing.repeat.boundsPeriod") if rep else None
            b_start = r.date_(bounds, "start", "boundsPeriod.start") if bounds else None
            b_end = r.date_(bounds, "end", "boundsPeriod.end") if bounds else None
            cands = [c for c in [*events, b_start] if c]
            if cands:
                start = min([*cands, *([start] if start else [])])
                last = max([*cands, *([last] if last else [])])
            if b_end is not None:
                end = b_end if end is None else max(end, b_end)
        authored = r.date_(d, "authoredOn")
        if start is None:
            start = authored
        status = r.str_(d, "status")
        reasons = [c for c in [r.concept(d, "statusReason")] if c]
        self._therapy(res, r, start, end, status, reasons, last=last)

    # -- scheduling and notes (round trip of lungtrack's own records)

    def _map_Appointment(self, res: Resource, r: _R) -> None:
        d = res.data
        when = r.date_(d, "start")
        if when is None:
            self.skip("Appointment", "no full start date")
            return
        acc = None
        for i, p in enumerate(r.objs(d, "participant")):
            ref = r.reference(p, "actor", f"participant[{i}].actor")
            if ref and "Patient" in ref or (ref and self.resolve(ref) and self.resolve(ref).rtype == "Patient"):
                acc = self.patient_for(_R(Resource({"subject": {"reference": ref}, "resourceType": "Appointment"},
                                                   res.file, res.line, base=res.base)))
                break
        if acc is None:
            self.skip("Appointment", "no patient participant")
            return
        status = {"booked": "planned", "proposed": "planned", "pending": "planned", "fulfilled": "done",
                  "arrived": "done", "checked-in": "done", "cancelled": "cancelled", "noshow": "cancelled"}.get(
                      r.str_(d, "status") or "", "planned")
        kind = _ext(r, d, "appointment-kind")
        acc.appointments.append(AppointmentInput(date=when, kind=kind if isinstance(kind, str) else "visit",
                                                 description=r.str_(d, "description"), status=status,
                                                 source=self.source(res)))

    def _map_Communication(self, res: Resource, r: _R) -> None:
        d = res.data
        when = r.date_(d, "sent")
        texts = [r.str_(p, "contentString", "payload.contentString") for p in r.objs(d, "payload")]
        text = next((t for t in texts if t), None)
        if when is None or text is None:
            self.skip("Communication", "no full date or no text")
            return
        acc = self.patient_for(r)
        if acc is None:
            return
        acc.notes.append(NoteInput(date=when, text=text, source=self.source(res)))

    def _map_Procedure(self, res: Resource, r: _R) -> None:
        d = res.data
        code = r.concept(d, "code")
        m = _imaging_modality(code)
        modality = m.value if m else None
        if modality is None:
            self.skip("Procedure", "not chest CT, X-ray or PET-CT")
            return
        status = r.str_(d, "status")
        if status != "completed":
            self.skip("Procedure", f"status {status or 'missing'}, not completed")
            return
        when, _ = r.effective(d, "performed")
        if when is None:
            self.skip("Procedure", "no full performed date")
            return
        acc = self.patient_for(r)
        if acc is None:
            return
        scan = self._scan(acc, when, res, r)
        scan["modality"] = scan["modality"] or modality
        scan["source"] = self.source(res)

    # -- assembling the plan

    def _plan(self) -> ImportPlan:
        self.extras: list[dict[str, Any]] = []
        batches = []
        for acc in self.patients.values():
            # disease status: the source's own assessment, on the scan of that date
            for when, word, res in acc.statuses:
                scan = acc.scans.get(when)
                if scan is None:
                    self.skip("Observation", "disease status without a scan of that date to keep it on")
                    continue
                scan["status"] = word
            stage = self._stage(acc)
            pinput = None
            if acc.res is not None or self.patient_name is None and acc.name:
                pinput = PatientInput(
                    name=acc.name or f"Patient {acc.ref.local_id}", diagnosis_date=acc.diagnosis,
                    histology=acc.histology, subtypes=acc.subtypes, drivers=acc.drivers,
                    smoking=acc.smoking[1] if acc.smoking else None, birth_date=acc.birth, gender=acc.gender,
                    identifiers=acc.identifiers, source=self.source(acc.res) if acc.res else Source(self.label),
                    **_extra_patient(stage, acc.deceased))
            elif acc.diagnosis or acc.histology or stage or acc.smoking:
                pinput = PatientInput(name=self.patient_name or "", diagnosis_date=acc.diagnosis,
                                      histology=acc.histology, smoking=acc.smoking[1] if acc.smoking else None,
                                      source=Source(self.label), **_extra_patient(stage, None))
            scans = tuple(
                ScanInput(date=when, measurements=tuple(s["measurements"]), modality=s["modality"] or "CT",
                          non_target_status=s["ntl"], slice_thickness_mm=s["slice"], impression=s["impression"],
                          report_text=s["report"], source=s["source"], **_extra_scan(s["status"]))
                for when, s in sorted(acc.scans.items()))
            self.extras.append(acc.extras)
            batches.append(ImportBatch(
                patient=acc.ref, patient_input=pinput, therapies=tuple(self._lines(acc)), scans=scans,
                markers=tuple(acc.markers), biopsies=tuple(acc.biopsies), appointments=tuple(acc.appointments),
                notes=tuple(acc.notes)))
        skipped = tuple((t, reason, n) for (t, reason), n in sorted(self.skipped.items()))
        return ImportPlan(kind="fhir", source_label=self.label, batches=tuple(batches), skipped=skipped)

    def _stage(self, acc: _PatientAcc) -> str | None:
        parts = [acc.stage_parts[k][1] for k in ("T", "N", "M") if k in acc.stage_parts]
        group = acc.stage_parts.get("stage")
        text = " ".join(parts)
        if group is not None:
            text = f"{text}, {group[1]}" if text else group[1]
        elif acc.stage_summary:
            text = f"{text}, stage {_clean_display(acc.stage_summary)}" if text else f"stage {acc.stage_summary}"
        return text or None

    def _lines(self, acc: _PatientAcc) -> list[TherapyInput]:
        """One line per drug and contiguous run: resources of one drug extend the same line (the
        earliest resource names it, so a later import of more requests extends that line).  An
        open line ends where a later different drug starts; a stopped resource ends it with its
        reason."""
        by_drug: dict[str, list[dict[str, Any]]] = {}
        for t in acc.therapies:
            by_drug.setdefault(t["drug"], []).append(t)
        lines = []
        for drug, items in by_drug.items():
            items.sort(key=lambda t: t["start"])
            start = items[0]["start"]
            last = max(t["last"] for t in items)
            final = max(items, key=lambda t: (t["last"], t["stopped"]))
            end = None
            if final["stopped"] or final["end"] is not None:
                end = final["end"] or last
            reason = final["reason"] if end is not None else None
            text = final["reason_text"] if end is not None else None
            rx = next((t["rxnorm"] for t in items if t["rxnorm"]), None)
            note = next((t["note"] for t in items if t["note"]), None)
            first = items[0]["res"]
            src = (self.source(first) if first.rtype == "MedicationStatement" and len(items) == 1
                   else self.source(first, f"therapy/{drug}/{start.isoformat()}"))
            lines.append({"drug": drug, "start": start, "end": end, "reason": reason, "text": text, "rx": rx,
                          "note": note, "src": src, "last": last})
        lines.sort(key=lambda x: x["start"])
        out = []
        for i, ln in enumerate(lines):
            end = ln["end"]
            if end is None:
                later = [x["start"] for x in lines[i + 1:] if x["start"] > ln["start"]]
                if later:  # a later line of another drug started: this one ended by then
                    end = later[0]
                elif acc.deceased is not None:  # the record ends with a death date: no line runs past it
                    end = min(ln["last"], acc.deceased)
            out.append(TherapyInput(drug=ln["drug"], start=ln["start"], end=end, stop_reason=ln["reason"],
                                    stop_reason_text=ln["text"], note=ln["note"], rxnorm=ln["rx"], source=ln["src"]))
        return out


def _extra_patient(stage: str | None, deceased: date | None) -> dict[str, Any]:
    """The fields of PatientInput that arrive with migration 0007 / the writer (tolerant of either)."""
    fields = PatientInput.__dataclass_fields__
    extra: dict[str, Any] = {}
    if stage and "stage" in fields:
        extra["stage"] = stage
    if deceased and "deceased_date" in fields:
        extra["deceased_date"] = deceased
    return extra


def _extra_scan(status: str | None) -> dict[str, Any]:
    return {"source_status": status} if status and "source_status" in ScanInput.__dataclass_fields__ else {}


_TNM_CATEGORY = re.compile(r"\b([cpyra]{0,2}[TNM](?:is|[0-4X])[a-d]?(?:\(\w+\))?)\b")
_STAGE_GROUP = re.compile(r"(?:stage\s+)?\b((?:0|I{1,3}V?|IV)[A-C]?[0-9]?|[0-4][A-C]?[0-9]?)\b", re.IGNORECASE)


def _tnm_text(concept: Mapping[str, Any] | None, part: str) -> str | None:
    """The TNM text of a staging value: "cT3" from code ``cT3`` or from the SNOMED display
    "American Joint Committee on Cancer cT3 (qualifier value)"; "IIIC" for a stage group."""
    if concept is None:
        return None
    texts = []
    for c in codings(concept):
        texts += [t for t in (c.get("display"), c.get("code")) if isinstance(t, str)]
    if isinstance(concept.get("text"), str):
        texts.insert(0, concept["text"])
    for t in texts:
        if part == "stage":
            m = re.search(r"stage\s+([0IV]+[A-C]?[0-9]?)\b", t, re.IGNORECASE) or _STAGE_GROUP.fullmatch(t.strip())
        else:
            m = _TNM_CATEGORY.search(t)
            if m and part not in m.group(1):
                m = None
        if m:
            return m.group(1)
    return _clean_display(texts[0]) if texts else None


_STRING_KEYS = frozenset({"system", "display", "url", "reference", "unit", "version"})
_ARRAY_KEYS = frozenset({"coding", "extension", "component", "identifier", "focus", "note", "category"})


_CHECKED_KEYS = _STRING_KEYS | _ARRAY_KEYS


_SCALARS = frozenset({int, float, bool, type(None)})


def _datatypes_ok(node: dict[str, Any]) -> bool:
    """True when :func:`_check_datatypes_slow` finds nothing wrong in ``node`` (a dict): the same
    rules in one recursive pass without paths, so that the path-keeping walk runs only for a
    resource that has a problem (it then names it).  Recursion is bounded by the nesting guard;
    a deeper value falls back to the walk.

    A value of exactly a JSON type (what the JSON parser gives) is told apart by its class
    (one comparison instead of two ``isinstance`` calls): a string is wrong only under an array
    key, a number, true/false or null under any checked key.  Anything else (subclasses
    included) goes through :func:`_item_ok`, the rules written with ``isinstance``."""
    for key, item in node.items():
        cls = item.__class__
        if cls is str:
            if key in _ARRAY_KEYS:
                return False
        elif cls is dict:
            if key in _CHECKED_KEYS or not _datatypes_ok(item):
                return False
        elif cls is list:
            if key not in _CHECKED_KEYS:
                if not _list_ok(item):
                    return False
            elif key in _STRING_KEYS:
                return False
            elif key == "extension":
                if not _list_ok(item):
                    return False
            elif not _objects_ok(item, key == "coding"):  # an array of objects
                return False
        elif cls in _SCALARS:
            if key in _CHECKED_KEYS:
                return False
        elif not _item_ok(key, item):
            return False
    return True


def _item_ok(key: str, item: Any) -> bool:
    """One element of a dict, by the rules of :func:`_check_datatypes_slow` (its type tested
    with ``isinstance``; its contents by :func:`_datatypes_ok` and :func:`_list_ok`)."""
    if key in _CHECKED_KEYS:
        if key in _STRING_KEYS:
            return isinstance(item, str)
        if not isinstance(item, list):
            return False
        if key == "extension":
            return _list_ok(item)
        return _objects_ok(item, key == "coding")
    if isinstance(item, dict):
        return _datatypes_ok(item)
    if isinstance(item, list):
        return _list_ok(item)
    return True


def _objects_ok(items: list[Any], coding: bool) -> bool:
    """An array that must hold objects (``coding``: whose ``code`` is text), each passing
    :func:`_datatypes_ok`."""
    for x in items:
        if not isinstance(x, dict):
            return False
        if coding and "code" in x and not isinstance(x["code"], str):
            return False
        if not _datatypes_ok(x):
            return False
    return True


def _list_ok(items: list[Any]) -> bool:
    for x in items:
        cls = x.__class__
        if cls is dict:
            if not _datatypes_ok(x):
                return False
        elif cls is str or cls in _SCALARS:
            continue
        elif isinstance(x, dict):
            if not _datatypes_ok(x):
                return False
        elif isinstance(x, list) and not _list_ok(x):
            return False
    return True


def _check_datatypes(r: _R, value: Any, path: str) -> None:
    """Codings, extensions and references anywhere in a resource: the JSON types FHIR gives them
    (``coding`` an array of objects whose ``system`` / ``code`` / ``display`` are strings ...).
    A value that passes the quick test is fine; any other is walked to name its first problem."""
    try:
        if isinstance(value, dict) and _datatypes_ok(value):
            return
    except RecursionError:  # nested deeper than the guard allows: the walk below has no recursion
        pass
    _check_datatypes_slow(r, value, path)


def _check_datatypes_slow(r: _R, value: Any, path: str) -> None:
    """The walk that names the first element of the wrong type, with its path."""
    # A node's path is kept as a link to its parent's (parent link, key or index) and spelled
    # out only for an error: formatting every path of every resource cost more than the checks.
    def spelled(link: Any) -> str:
        steps = []
        while link is not None:
            link, step = link
            steps.append(step)
        where = path
        for step in reversed(steps):
            where = f"{where}[{step}]" if isinstance(step, int) else (f"{where}.{step}" if where else step)
        return where

    stack: list[tuple[Any, Any]] = [(value, None)]
    while stack:
        node, link = stack.pop()
        if isinstance(node, list):
            stack.extend((x, (link, i)) for i, x in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, item in node.items():
            here = (link, key)
            if key in _ARRAY_KEYS and not isinstance(item, list):
                raise r.err(spelled(here), item, "an array")
            if key in _STRING_KEYS and not isinstance(item, str):
                raise r.err(spelled(here), item, "a string")
            if key in _ARRAY_KEYS and key != "extension":  # extensions lungtrack does not read may be anything
                for i, x in enumerate(item):
                    if not isinstance(x, dict):
                        raise r.err(spelled((here, i)), x, "an object")
                    if key == "coding" and "code" in x and not isinstance(x["code"], str):
                        raise r.err(spelled((here, i)) + ".code", x["code"], "a string")
            if isinstance(item, (dict, list)):
                stack.append((item, here))


def _first_identifier_value(br: _R, bd: Mapping[str, Any]) -> str | None:
    """The first non-empty ``identifier[].value`` of a BodyStructure (each read up to it checked)."""
    for j, ident in enumerate(br.objs(bd, "identifier")):
        v = br.str_(ident, "value", f"identifier[{j}].value")
        if v:
            return v
    return None


def _clean_display(text: str) -> str:
    """"Adenocarcinoma (morphologic abnormality)" -> "Adenocarcinoma"."""
    return re.sub(r"\s*\((?:morphologic abnormality|disorder|finding|qualifier value|situation|body structure)\)\s*$",
                  "", text.strip())


def _gene(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    for c in codings(concept):
        if isinstance(c.get("display"), str) and re.fullmatch(r"[A-Z0-9\-]{2,20}", c["display"].strip()):
            return c["display"].strip()
    text = label(concept)
    if text and re.fullmatch(r"[A-Za-z0-9\-]{2,20}", text) and not text.upper().startswith("HGNC"):
        return text.upper()
    hgnc = {"HGNC:3236": "EGFR", "3236": "EGFR", "HGNC:427": "ALK", "427": "ALK", "HGNC:10261": "ROS1",
            "HGNC:6407": "KRAS", "HGNC:1097": "BRAF", "HGNC:7029": "MET", "HGNC:9967": "RET", "HGNC:3430": "ERBB2"}
    for c in codings(concept):
        if c.get("code") in hgnc:
            return hgnc[c["code"]]
    return None


def _source_class(concept: Mapping[str, Any] | None) -> str | None:
    """somatic / germline from LA6684-0 / LA6683-2 (any answer-list system) or the words."""
    for c in codings(concept):
        if c.get("code") in SOURCE_CLASS:
            return SOURCE_CLASS[str(c["code"])]
    text = (label(concept) or "").lower()
    return "somatic" if "somatic" in text else "germline" if "germline" in text else None


def _vaf(r: _R, q: Mapping[str, Any], path: str) -> float | None:
    value = r.num(q, "value", f"{path}.value")
    if value is None:
        return None
    unit = (r.str_(q, "code", f"{path}.code") or r.str_(q, "unit", f"{path}.unit") or "").strip()
    if unit == "%":
        return value
    return round(value * 100, 6) if value <= 1 else value


def _sample(r: _R, d: Mapping[str, Any], mapper: _Mapper) -> str:
    ref = r.reference(d, "specimen")
    target = mapper.resolve(ref)
    text = ""
    if target is not None:
        text = (label(_R(target).concept(target.data, "type")) or "").lower()
    elif isinstance(d.get("specimen"), dict) and isinstance(d["specimen"].get("display"), str):
        text = d["specimen"]["display"].lower()
    if "plasma" in text or "blood" in text or "ctdna" in text:
        return "plasma"
    if "pleural" in text:
        return "pleural-fluid"
    if "tissue" in text or "biops" in text or "tiss" in text:
        return "tissue"
    return "tissue" if not text else "other"


def _marker_by_text(text: str | None) -> Marker | None:
    if not text:
        return None
    from lungtrack.knowledge.markers import marker_from_text

    try:
        return marker_from_text(text)
    except InputError:
        return None


def _convert(marker: Marker, value: float, unit: str | None, to_unit: str) -> float | None:
    """A reference-range high in ``to_unit`` (the result's unit), or None when not convertible."""
    info = MARKERS[marker]
    if unit is None or unit.strip() == to_unit.strip():
        return value
    f_from = info.factor_for(unit)
    f_to = info.factor_for(to_unit)
    if f_from is None or f_to is None:
        return None
    return round(value * f_from / f_to, 9)


def patient_name(r: _R, d: Mapping[str, Any]) -> str:
    names = r.objs(d, "name")
    if names:
        first = names[0]
        given = r.arr(first, "given", "name[0].given")
        for i, g in enumerate(given):
            if not isinstance(g, str):
                raise r.err(f"name[0].given[{i}]", g, "a string")
        family = r.str_(first, "family", "name[0].family") or ""
        text = " ".join(" ".join([*given, family]).split())
        if text:
            return text[:200]
        t = r.str_(first, "text", "name[0].text")
        if t and t.strip():
            return " ".join(t.split())[:200]
    return f"Patient {d.get('id')}"[:200]


def build_plan(resources: Sequence[Resource], source_label: str, *, patient_name: str | None = None,
               skipped: Counter | None = None) -> ImportPlan:
    """Map resources (of one or several files) to an ImportPlan; ``skipped`` adds the reader's counts."""
    mapper = _Mapper(resources, source_label, patient_name)
    if skipped:
        mapper.skipped.update(skipped)
    return mapper.run()


def read_files(texts: Sequence[tuple[str, str]], source_label: str | None = None, *,
               patient_name: str | None = None) -> ImportPlan:
    """``[(file name, text)]`` -> ImportPlan (the whole pure pipeline)."""
    return map_files(texts, source_label, patient_name=patient_name)[0]  # (plan, extras, resources read)


def map_files(texts: Sequence[tuple[str, str]], source_label: str | None = None, *,
              patient_name: str | None = None) -> tuple[ImportPlan, tuple[dict[str, Any], ...], int]:
    """``[(file name, text)]`` -> (ImportPlan, per batch the patient facts a plan has no field
    for: ``schedule`` (follow-up weeks) and ``tracking_ended`` (date, reason) written by
    ``lungtrack export fhir``)."""
    resources: list[Resource] = []
    skipped: Counter = Counter()
    for name, text in texts:
        res = read_fhir(text, name)
        resources += res.resources
        skipped.update(res.skipped)
    label = source_label or "import:fhir:" + ",".join(n for n, _ in texts)
    mapper = _Mapper(resources, label[:200], patient_name)
    mapper.skipped.update(skipped)
    plan = mapper.run()
    return plan, tuple(mapper.extras), len(resources)


# --------------------------------------------------------------------------- one file at a time
# An import of many files can map each file on its own, in worker processes
# (lungtrack.importpool), when that gives exactly what mapping them together gives: see
# merge_parts for the conditions.  Nothing here knows about processes.


@dataclass(frozen=True)
class FilePart:
    """One file read and mapped on its own, with what :func:`merge_parts` needs to tell whether
    the files mapped one by one make the plan that mapping them together makes."""

    #: one batch per patient the file's records name, in the mapper's order; the first
    #: ``first_pass`` are the file's Patient resources (the mapper reads every Patient first)
    batches: tuple[ImportBatch, ...]
    extras: tuple[dict[str, Any], ...]
    first_pass: int
    #: the patients' keys (one per batch)
    patients: tuple[str, ...]
    #: every name a reference can resolve to in this file (full URL, type/id, base/type/id)
    defined: frozenset[str]
    #: every name the mapping looked up to resolve a reference (found here or not)
    looked_up: frozenset[str]
    #: a record without a subject went to the file's only Patient (or was skipped for want of one)
    lone_patient: bool
    skipped: tuple[tuple[tuple[str, str], int], ...]
    resources: int


_REF_TAIL = re.compile(r"([A-Za-z]+/[A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$")


class NotOnItsOwn(Exception):
    """A file mapped with ``strict`` refers beyond itself: it must be mapped with the others."""


class _PartMapper(_Mapper):
    """The mapper of one file, recording the references it looks up and the Patient pass; with
    ``strict``, stopping (:class:`NotOnItsOwn`) at the first reference the file does not
    resolve itself, or the first record without a subject."""

    def __init__(self, resources: Sequence[Resource], source_label: str, strict: bool = False) -> None:
        super().__init__(resources, source_label, None)
        self.looked_up: set[str] = set()
        self.lone_patient = False
        self.first_pass = 0
        self.strict = strict

    def resolve(self, ref: str | None) -> Resource | None:
        if ref:
            self.looked_up.add(ref)
            if ref not in self.aliases:
                m = _REF_TAIL.search(ref)  # the second name resolve tries
                if m is not None:
                    self.looked_up.add(m.group(1))
        found = super().resolve(ref)
        if found is None and ref and self.strict:
            raise NotOnItsOwn(ref)
        return found

    def _lone_patients(self) -> list[Resource]:
        self.lone_patient = True
        if self.strict:
            raise NotOnItsOwn("a record without a subject")
        return super()._lone_patients()

    def _run(self) -> ImportPlan:
        self._patients_pass()
        self.first_pass = len(self.patients)
        self._records_pass()
        return self._plan()


def map_file_part(name: str, text: str, source_label: str, *, strict: bool = False) -> FilePart:
    """Read and map one file on its own (no ``--patient``); errors as :func:`map_files` raises
    them for this file.  ``source_label``: the whole import's (records without a file of their
    own carry it).  ``strict``: raise :class:`NotOnItsOwn` as soon as the file refers to a
    resource it does not hold (or has a record without a subject), which :func:`merge_parts`
    would refuse anyway: the caller stops there instead of mapping every file first."""
    read = read_fhir(text, name)
    mapper = _PartMapper(read.resources, source_label[:200], strict)
    mapper.skipped.update(read.skipped)
    plan = mapper.run()
    return FilePart(batches=plan.batches, extras=tuple(mapper.extras), first_pass=mapper.first_pass,
                    patients=tuple(mapper.patients), defined=frozenset(mapper.aliases),
                    looked_up=frozenset(mapper.looked_up), lone_patient=mapper.lone_patient,
                    skipped=tuple(mapper.skipped.items()), resources=len(read.resources))


def merge_parts(parts: Sequence[FilePart], source_label: str
                ) -> tuple[ImportPlan, tuple[dict[str, Any], ...], int] | None:
    """What :func:`map_files` returns for the files of ``parts`` (in that order), or None when
    mapping them one by one may differ from mapping them together: a name a reference can
    resolve to defined in two files (the same resource twice, or a URL one file would resolve
    to another's resource), a reference of one file that names another's resource, a patient
    named in two files, or a record without a subject.  Otherwise every file's records go to
    patients of that file alone and resolve within it, so the mapping is the same; the batches
    come in the mapper's order: every file's Patient resources first, then the patients only
    named by references."""
    owner: dict[str, int] = {}
    for i, part in enumerate(parts):
        if part.lone_patient:
            return None
        for name in part.defined:
            if owner.setdefault(name, i) != i:
                return None
    patients: set[str] = set()
    for i, part in enumerate(parts):
        if any(owner.get(name, i) != i for name in part.looked_up):
            return None
        patients.update(part.patients)
    if len(patients) != sum(len(part.patients) for part in parts):
        return None
    batches = [b for part in parts for b in part.batches[:part.first_pass]]
    batches += [b for part in parts for b in part.batches[part.first_pass:]]
    extras = [x for part in parts for x in part.extras[:part.first_pass]]
    extras += [x for part in parts for x in part.extras[part.first_pass:]]
    skipped: Counter = Counter()
    for part in parts:
        skipped.update(dict(part.skipped))
    plan = ImportPlan(kind="fhir", source_label=source_label[:200], batches=tuple(batches),
                      skipped=tuple((t, reason, n) for (t, reason), n in sorted(skipped.items())))
    return plan, tuple(extras), sum(part.resources for part in parts)
