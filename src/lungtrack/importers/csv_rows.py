"""CSV files -> typed rows, checked one by one.  Pure: bytes in, plain data out; no store, no clock.

:func:`parse_csv` reads one file with a :class:`~lungtrack.importers.mapping.CsvMapping` (our own
layout by default) and returns a :class:`ParsedFile`: the good rows (:class:`MarkerRow`,
:class:`MeasurementRow`, :class:`BiopsyRow`, :class:`AppointmentRow`), the rows skipped on
purpose (tests that are not tumour markers, when the mapping says so; a row repeated), and one
:class:`RowProblem` per bad row (``file:line: column: problem, expected form``).  The caller
refuses the whole file when there is any problem.

Marker values are converted to the marker's canonical unit here (through
:mod:`lungtrack.knowledge.markers`, exactly in decimal), so a bad unit is reported with its line.
A value without a unit is refused unless the mapping names one (``[default_units]``).
Reported limits (``<0.5``, ``>1000``) are kept as the value with a comparator.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from lungtrack.enums import (
    AlleleContext,
    AppointmentKind,
    AppointmentStatus,
    BiopsyResult,
    LesionRole,
    Marker,
    MeasurementStatus,
    NonTargetStatus,
    Sample,
)
from lungtrack.errors import InputError
from lungtrack.importers.mapping import (
    ALL_COLUMNS,
    COLUMNS,
    DEFAULT_MAPPING,
    IGNORED,
    CsvMapping,
    canonical_column,
    suggest_mapping,
)
from lungtrack.knowledge.markers import MARKERS
from lungtrack.parsing.dates import EARLIEST_DATE, MAX_FUTURE_YEARS
from lungtrack.parsing.lesions import _NODE_WORDS, _STATUS_WORDS
from lungtrack.parsing.numbers import MAX_LESION_MM, MIN_LESION_MM
from lungtrack.parsing.variants import normalize_alteration, normalize_gene

__all__ = [
    "AppointmentRow",
    "BiopsyRow",
    "LayoutError",
    "MarkerRow",
    "MeasurementRow",
    "ParsedFile",
    "RowProblem",
    "decode",
    "parse_csv",
]


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    column: str
    problem: str
    expected: str

    def text(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.problem}, expected {self.expected}"


@dataclass(slots=True)  # not frozen: a frozen init costs a third of the parse time
class MarkerRow:
    origin: str  # "file:line"
    key: str  # natural key: the same result in a later download has the same key
    patient: str | None
    date: date
    marker: str  # Marker value
    value: float  # canonical unit
    unit: str  # canonical unit
    uln: float | None  # canonical unit
    lab: str | None
    comparator: str | None  # "<" or ">"


@dataclass(slots=True)  # not frozen: a frozen init costs a third of the parse time
class MeasurementRow:
    origin: str
    key: str  # the scan's key (date|modality); the lesion label tells measurements apart
    patient: str | None
    date: date
    modality: str
    label: str
    site: str | None
    is_node: bool | None
    size_mm: float | None
    status: str
    new: bool
    equivocal: bool
    role: str | None
    non_target: str | None
    impression: str | None
    slice_thickness_mm: float | None


@dataclass(slots=True)  # not frozen: a frozen init costs a third of the parse time
class BiopsyRow:
    origin: str
    key: str
    patient: str | None
    date: date
    sample: str
    assay: str | None
    gene: str
    variant: str
    hgvs_p: str | None
    hgvs_c: str | None
    result: str
    vaf: float | None
    allele_context: str | None


@dataclass(slots=True)  # not frozen: a frozen init costs a third of the parse time
class AppointmentRow:
    origin: str
    key: str
    patient: str | None
    date: date
    kind: str
    description: str | None
    status: str


Row = MarkerRow | MeasurementRow | BiopsyRow | AppointmentRow


@dataclass
class ParsedFile:
    name: str
    rows: list[Row] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped: dict[tuple[str, str], int] = field(default_factory=dict)  # (record type, reason) -> count
    ignored_columns: list[str] = field(default_factory=list)
    lines: int = 0  # data rows read

    def skip(self, kind: str, reason: str) -> None:
        self.skipped[(kind, reason)] = self.skipped.get((kind, reason), 0) + 1


class LayoutError(InputError):
    """The file's columns are not ours and no mapping was given: ``suggestion`` is a TOML mapping."""

    def __init__(self, name: str, header: list[str], suggestion: str):
        super().__init__("FILE", name, "lungtrack's CSV columns or --mapping MAP.toml", message=(
            f"{name}: the columns ({', '.join(h for h in header if h.strip())[:200]}) are not lungtrack's CSV "
            "columns; a suggested mapping was printed: save it as map.toml, check it, and run again with "
            "--mapping map.toml; nothing was imported."))
        self.suggestion = suggestion


class _Bad(Exception):
    def __init__(self, column: str, problem: str, expected: str):
        super().__init__(problem)
        self.column, self.problem, self.expected = column, problem, expected


# ----------------------------------------------------------------------------- decoding

def decode(data: bytes, name: str, encoding: str = "utf-8") -> str:
    """UTF-8 with or without BOM; Windows-1252 only when the mapping says so; anything else refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("FILE", name, "UTF-8 text", message=(
            f"{name}: the file is UTF-16 text; expected UTF-8 (save or export it as \"CSV UTF-8\"); "
            "nothing was imported."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if encoding == "cp1252":
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:
                pass
        line = data[:exc.start].count(b"\n") + 1
        hint = ("" if encoding == "cp1252" else
                '; for a Windows-1252 export add encoding = "cp1252" to the mapping file')
        raise InputError("FILE", name, "UTF-8 text", message=(
            f"{name}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8; expected UTF-8 text (with or without "
            f"BOM){hint}; nothing was imported.")) from None


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# ----------------------------------------------------------------------------- cell parsers

_COMPARATOR = re.compile(r"\s*(<=|>=|≤|≥|<|>)\s*(.*)")
_COMPARATOR_FIRST = frozenset("<>≤≥")
_NUM_DOT = re.compile(r"[+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NUM_COMMA = re.compile(r"[+]?(?:\d+(?:,\d*)?|,\d+)")
_RANGE = re.compile(r"(?P<lo>[\d.,]+)\s*(?:-|–|—|to|bis)\s*(?P<hi>[\d.,]+)\s*(?P<rest>.*)", re.IGNORECASE)
_RANGE_UPPER = re.compile(r"(?:<=|≤|<|up to|bis)\s*(?P<hi>[\d.,]+)\s*(?P<rest>.*)", re.IGNORECASE)
_RANGE_LOWER = re.compile(r"(?:>=|≥|>)\s*[\d.,]+\s*.*")
_SIZE = re.compile(r"(?P<a>[\d.,]+)\s*(?:(?:x|×|\*)\s*(?P<b>[\d.,]+))?\s*(?P<unit>mm|cm)?\.?", re.IGNORECASE)
_YES = frozenset({"yes", "y", "true", "1", "x", "ja"})
_NO = frozenset({"no", "n", "false", "0", "", "nein"})


def _number_text(text: str, column: str, decimal: str, expected: str) -> str:
    """The number as a Python literal (dot decimal), or _Bad naming the separator problem."""
    t = text.strip()
    if decimal == "." and t.replace(".", "", 1).isdigit() and t.isascii():
        return t  # the common case: plain digits with at most one dot
    if decimal == ",":
        if _NUM_COMMA.fullmatch(t):
            return t.replace(",", ".")
        if "." in t and re.fullmatch(r"[+]?[\d.,]+", t):
            raise _Bad(column, f"{t!r} has a dot but the mapping says decimal = \",\"",
                       "a number with a decimal comma and no thousands separator, e.g. 7,4")
        raise _Bad(column, f"{t!r} is not a number" if t else "empty", expected)
    if _NUM_DOT.fullmatch(t):
        return t
    if re.fullmatch(r"[+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", t):
        raise _Bad(column, f"{t!r} has a comma that may be a thousands separator or a decimal comma",
                   'a number without thousands separators (or decimal = "," in the mapping)')
    if re.fullmatch(r"[+]?\d*,\d+", t):
        raise _Bad(column, f"{t!r} has a decimal comma", 'a number with a dot (or decimal = "," in the mapping)')
    raise _Bad(column, f"{t!r} is not a number" if t else "empty", expected)


def _positive(text: str, column: str, decimal: str, expected: str, maximum: float | None = None) -> float:
    literal = _number_text(text, column, decimal, expected)
    value = float(literal)
    if not value > 0 or value == float("inf"):
        raise _Bad(column, f"{text.strip()!r} is not above 0", expected)
    if maximum is not None and value > maximum:
        raise _Bad(column, f"{text.strip()!r} is above {maximum:g}", expected)
    return value


def _flag(text: str, column: str) -> bool:
    key = text.strip().lower()
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise _Bad(column, f"{text.strip()!r} is not yes or no", "yes or no (empty means no)")


def _choice(text: str, column: str, table: dict[str, str], expected: str) -> str:
    key = " ".join(text.strip().lower().replace("_", " ").split())
    found = table.get(key) or table.get(key.replace("-", " "))
    if found is None:
        raise _Bad(column, f"{text.strip()!r} is not known" if key else "empty", expected)
    return found


def _table(enum: type, extra: dict[str, str] | None = None) -> dict[str, str]:
    out = {str(e.value).lower(): str(e.value) for e in enum}  # type: ignore[attr-defined]
    out.update({k.replace("-", " "): v for k, v in list(out.items())})
    out.update(extra or {})
    return out


_SAMPLES = _table(Sample, {"ctdna": "plasma", "blood": "plasma", "liquid": "plasma", "liquid biopsy": "plasma",
                           "plasma ctdna": "plasma", "pleural": "pleural-fluid", "pleural effusion": "pleural-fluid"})
_RESULTS = _table(BiopsyResult, {"positive": "detected", "pos": "detected", "present": "detected",
                                 "negative": "not-detected", "neg": "not-detected", "absent": "not-detected",
                                 "not found": "not-detected", "wild type": "not-detected", "wildtype": "not-detected",
                                 "equivocal": "indeterminate", "inconclusive": "indeterminate", "failed": "indeterminate"})
_CONTEXTS = _table(AlleleContext)
_MODALITIES = {"ct": "CT", "pet ct": "PET-CT", "pet/ct": "PET-CT", "petct": "PET-CT", "mri": "MRI", "mr": "MRI",
               "x ray": "X-ray", "xray": "X-ray", "x-ray": "X-ray", "chest x ray": "X-ray", "radiograph": "X-ray"}
_NON_TARGET = _table(NonTargetStatus, {"unequivocal progression": "progression", "pd": "progression"})
_ROLES = _table(LesionRole, {"nontarget": "non-target"})
_STATUSES = {**_table(MeasurementStatus), **{k: v.value for k, v in _STATUS_WORDS.items()}}
_KINDS = _table(AppointmentKind, {"ct": "imaging", "scan": "imaging", "blood test": "markers", "labs": "markers",
                                  "lab": "markers", "appointment": "visit", "consultation": "visit"})
_APPT_STATUS = _table(AppointmentStatus, {"booked": "planned", "scheduled": "planned", "attended": "done",
                                          "canceled": "cancelled"})
_ROW_TYPES = {"marker": "markers", "markers": "markers", "scan": "scans", "scans": "scans",
              "measurement": "scans", "measurements": "scans", "lesion": "scans", "biopsy": "biopsies",
              "biopsies": "biopsies", "finding": "biopsies", "appointment": "appointments",
              "appointments": "appointments"}
_DECIMAL_COMMA_SIZE = re.compile(r"\d,\d")


# ----------------------------------------------------------------------------- the parser

class _Reader:
    def __init__(self, name: str, mapping: CsvMapping, today: date):
        self.name, self.mapping, self.today = name, mapping, today
        self.latest_future = date(today.year + MAX_FUTURE_YEARS, today.month, min(today.day, 28))
        self.defaults = dict(mapping.defaults)
        self.default_units = dict(mapping.default_units)
        self.factors: dict[tuple[Marker, str], float | None] = {}
        self.markers: dict[str, Marker | None] = {}
        self.date_cache: dict[str, date] = {}
        self.variants: dict[tuple[str, str], tuple[str, str, str | None, str | None]] = {}
        self.pattern = mapping.date_format.pattern
        self.decimal = mapping.decimal
        self.ranges: dict[str, str | None] = {}
        self.has_range = False

    # dates ------------------------------------------------------------------
    def date(self, text: str, column: str, future: bool = False) -> date:
        cached = self.date_cache.get(text)
        if cached is not None and not future:
            return cached
        fmt = self.mapping.date_format.text
        t = text.strip()
        m = self.pattern.fullmatch(t)
        if m is None:
            raise _Bad(column, f"{t!r} is not a date in the form {fmt}" if t else "no date", f"a date as {fmt}")
        try:
            d = date(int(m["y"]), int(m["m"]), int(m["d"]))
        except ValueError:
            raise _Bad(column, f"{t!r} is not a real date", f"a date as {fmt}") from None
        if d < EARLIEST_DATE:
            raise _Bad(column, f"{d.isoformat()} is before 1900", "a date from 1900 on (check the year)")
        if future:
            if d > self.latest_future:
                raise _Bad(column, f"{d.isoformat()} is more than {MAX_FUTURE_YEARS} years ahead", "a nearer date")
            return d
        if d > self.today:
            raise _Bad(column, f"{d.isoformat()} is in the future (today is {self.today.isoformat()})",
                       "today or an earlier date")
        self.date_cache[text] = d
        return d

    # markers ----------------------------------------------------------------
    def marker(self, text: str, column: str) -> Marker | None:
        if text not in self.markers:
            self.markers[text] = self.mapping.marker_for(text) if text.strip() else None
        return self.markers[text]

    def factor(self, marker: Marker, unit: str, column: str) -> float:
        key = (marker, unit)
        factor = self.factors.get(key, 0.0)
        if factor == 0.0:
            factor = self.factors[key] = MARKERS[marker].factor_for(self.mapping.unit_for(unit))
        if factor is None:
            accepted = ", ".join(MARKERS[marker].accepted_units)
            raise _Bad(column, f"{unit.strip()!r} is not a unit for {marker.value}", f"one of {accepted}")
        return factor

    def convert(self, literal: str, factor: float) -> float:
        if factor == 1.0:
            return float(literal)
        return float(Decimal(literal) * Decimal(repr(factor)))

    def uln_from_range(self, text: str, column: str) -> str | None:
        if text in self.ranges:
            return self.ranges[text]
        found = self._uln_from_range(text, column)
        self.ranges[text] = found
        return found

    def _uln_from_range(self, text: str, column: str) -> str | None:
        t = text.strip()
        if not t:
            return None
        expected = 'a range such as "<5.0" or "0.0-5.0"'
        m = _RANGE.fullmatch(t) or _RANGE_UPPER.fullmatch(t)
        if m is not None:
            return _number_text(m["hi"], column, self.decimal, expected)
        if _RANGE_LOWER.fullmatch(t) or t.lower() in ("negative", "not established", "see note", "-"):
            return None  # a lower limit only, or no range: no upper limit of normal
        raise _Bad(column, f"{t!r} is not a reference range", expected)


def _row(cells: list[str], items: list[tuple[str, int]], defaults: dict[str, str]) -> dict[str, str]:
    """One CSV record: stripped, non-empty cells by our column name, over the mapping's defaults."""
    values = dict(defaults)
    n = len(cells)
    for col, i in items:
        if i < n:
            v = cells[i].strip()
            if v:
                values[col] = v
    return values


def _header_index(header: list[str], mapping: CsvMapping, name: str) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Our column -> position; our column -> the file's header name (for messages); ignored headers."""
    index: dict[str, int] = {}
    shown: dict[str, str] = {}
    ignored: list[str] = []
    if mapping.is_default:
        for i, h in enumerate(header):
            col = canonical_column(h)
            if col in ALL_COLUMNS and col not in index:
                index[col], shown[col] = i, h.strip()
            elif h.strip() and col not in IGNORED:
                ignored.append(h.strip())
        return index, shown, ignored
    wanted = {" ".join(h.split()).casefold(): i for i, h in enumerate(header)}
    missing: list[str] = []
    for ours, theirs in mapping.columns:
        pos = wanted.get(" ".join(theirs.split()).casefold())
        if pos is None:
            missing.append(theirs)
        else:
            index[ours], shown[ours] = pos, header[pos].strip()
    needed = set(_REQUIRED.get(mapping.kind or "", ("date",)))
    for ours, theirs in mapping.columns:
        if theirs in missing and ours in needed and ours not in dict(mapping.defaults):
            raise InputError("--mapping", mapping.path or "", "columns that the file has", message=(
                f"{name}: the mapping {mapping.path or ''} names column {theirs!r} for {ours}, which the file does "
                f"not have (its columns: {', '.join(h.strip() for h in header if h.strip())[:200]}); "
                "nothing was imported."))
    used = set(index.values())
    ignored = [h.strip() for i, h in enumerate(header) if i not in used and h.strip()]
    return index, shown, ignored


_REQUIRED = {
    "markers": ("date", "marker", "value"),
    "scans": ("date", "lesion"),
    "biopsies": ("date", "variant", "result", "sample"),
    "appointments": ("date", "kind"),
}


def _file_kind(index: dict[str, int], mapping: CsvMapping) -> str | None:
    if "type" in index:
        return None
    if mapping.kind is not None:
        return mapping.kind
    for kind in ("markers", "scans", "biopsies", "appointments"):
        if all(c in index for c in _REQUIRED[kind]):
            return kind
    return ""  # not recognised


def parse_csv(data: bytes, name: str, *, today: date, mapping: CsvMapping = DEFAULT_MAPPING,
              seen: dict[str, tuple[str, object]] | None = None) -> ParsedFile:
    """Read one CSV file.  File-level problems raise ``InputError`` (``LayoutError`` with a
    suggested mapping when the columns are not recognised); row problems are collected.

    ``seen`` (natural key -> (origin, row)) is shared across the files of one import so that a
    row repeated in two files counts once.
    """
    try:
        text = decode(data, name, mapping.encoding)
        encoding = "utf-8"
    except InputError as exc:
        if not mapping.is_default or data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise
        # not UTF-8 and no mapping: a foreign export gets a suggested mapping; our own layout the error
        text, encoding, undecodable = data.decode("cp1252", errors="replace"), "cp1252", exc
    lines = text.splitlines(keepends=True)
    body_start = mapping.skip_lines
    while body_start < len(lines) and not lines[body_start].strip():
        body_start += 1
    if body_start >= len(lines):
        raise InputError("FILE", name, "a CSV file with a header row",
                         message=f"{name}: empty (no header row); expected a CSV file with a header row; nothing was imported.")
    delimiter = mapping.delimiter or _delimiter(lines[body_start])
    reader = csv.reader(lines[body_start:], delimiter=delimiter)
    try:
        header = next(reader)
        records = []
        last = 1
        for cells in reader:
            records.append((body_start + last + 1, cells))
            last = reader.line_num
    except csv.Error as exc:
        raise InputError("FILE", name, "CSV text", message=(
            f"{name}:{body_start + reader.line_num}: not valid CSV ({exc}); expected CSV text; nothing was imported."
        )) from None
    index, shown, ignored = _header_index(header, mapping, name)
    file_kind = _file_kind(index, mapping)
    if file_kind == "":
        raise LayoutError(name, header, suggest_mapping(header, [c for _l, c in records[:50]], delimiter, encoding))
    if encoding != "utf-8":
        raise undecodable
    result = ParsedFile(name=name, ignored_columns=ignored)
    if file_kind is not None:
        lacking = [c for c in _REQUIRED[file_kind] if c not in index and c not in dict(mapping.defaults)]
        if lacking:
            raise InputError("FILE", name, "the columns of " + file_kind, message=(
                f"{name}: no {lacking[0]!r} column, which {file_kind} need (columns: "
                f"{', '.join(COLUMNS[file_kind])}); nothing was imported."))
    rd = _Reader(name, mapping, today)
    rd.has_range = "reference_range" in index or "reference_range" in rd.defaults
    seen = {} if seen is None else seen
    parsers = {"markers": _marker_row, "scans": _scan_row, "biopsies": _biopsy_row, "appointments": _appointment_row}
    defaults = rd.defaults
    items = list(index.items())
    scan_level: dict[str, tuple[str | None, str | None, str]] = {}
    for line, cells in records:
        if not any(cells) or not "".join(cells).strip():
            continue
        result.lines += 1
        row = _row(cells, items, defaults)
        origin = f"{name}:{line}"
        try:
            kind = file_kind
            if kind is None:
                kind = _ROW_TYPES.get(row.get("type", "").lower())
                if kind is None:
                    raise _Bad("type", f"{row.get('type')!r} is not a record type" if row.get("type", "") else "empty",
                               "marker, scan, biopsy or appointment")
                for col in _REQUIRED[kind]:
                    if not row.get(col, ""):
                        raise _Bad(col, f"empty ({kind} need it)", f"a {col}")
            parsed = parsers[kind](rd, row, origin)
            if parsed is None:
                result.skip("marker", "not a tumour marker lungtrack tracks")
                continue
            key = parsed.key if not isinstance(parsed, MeasurementRow) else f"{parsed.key}|{parsed.label.casefold()}"
            key = f"{parsed.patient or ''}|{key}"
            if isinstance(parsed, MeasurementRow):
                level = (parsed.non_target, parsed.impression, origin)
                earlier_level = scan_level.setdefault(f"{parsed.patient or ''}|{parsed.key}", level)
                if earlier_level[:2] != level[:2]:
                    col = "non_target" if earlier_level[0] != level[0] else "impression"
                    raise _Bad(col, f"differs from {earlier_level[2]} (same scan)",
                               "the same value on every row of one scan, or empty on all but one")
            earlier = seen.get(key)
            if earlier is not None:
                before_origin, before = earlier
                if _same(before, parsed):
                    result.skip(_TYPE_NAMES[kind], "the same row twice in the files")
                    continue
                raise _Bad("id" if "id" in index else "date", f"a second {_describe(parsed)} that differs from "
                           f"{before_origin}", "one row per result, or an id column that tells them apart")
            seen[key] = (origin, parsed)
            result.rows.append(parsed)
        except _Bad as bad:
            result.problems.append(RowProblem(name, line, shown.get(bad.column, bad.column), bad.problem,
                                              bad.expected))
    return result


_TYPE_NAMES = {"markers": "marker", "scans": "measurement", "biopsies": "biopsy", "appointments": "appointment"}


def _same(a: object, b: object) -> bool:
    skip = {"origin"}
    return type(a) is type(b) and all(getattr(a, f) == getattr(b, f) for f in a.__dataclass_fields__ if f not in skip)  # type: ignore[attr-defined]


def _describe(row: Row) -> str:
    if isinstance(row, MarkerRow):
        return f"{row.marker} on {row.date.isoformat()}"
    if isinstance(row, MeasurementRow):
        return f"{row.label!r} on the {row.modality} of {row.date.isoformat()}"
    if isinstance(row, BiopsyRow):
        return f"{row.gene} {row.variant} in {row.sample} on {row.date.isoformat()}"
    return f"{row.kind} appointment on {row.date.isoformat()}"


def _text(row: dict[str, str], col: str, limit: int = 200) -> str | None:
    value = " ".join(row.get(col, "").split())
    if len(value) > limit:
        raise _Bad(col, f"longer than {limit} characters", f"at most {limit} characters")
    return value or None


def _key(row: dict[str, str], natural: str) -> str:
    given = row.get("id", "")
    return f"csv:id|{given}" if given else f"csv:{natural}"


def _marker_row(rd: _Reader, row: dict[str, str], origin: str) -> MarkerRow | None:
    g = row.get
    name = g("marker", "")
    marker = rd.marker(name, "marker")
    if marker is None:
        if rd.mapping.other_tests == "skip" and name:
            return None
        raise _Bad("marker", f"{name!r} is not a tumour marker lungtrack knows" if name else "empty",
                   "CEA, CYFRA 21-1, NSE, ProGRP or CA-125 (or a [markers] line in the mapping)")
    when = rd.date(g("date", ""), "date")
    raw = g("value", "")
    comparator = None
    m = _COMPARATOR.fullmatch(raw) if raw[:1] in _COMPARATOR_FIRST else None
    if m is not None:
        comparator = "<" if m.group(1) in ("<", "<=", "≤") else ">"
        raw = m.group(2)
    mname, info, expected = _MARKER_FACTS[marker]
    literal = _number_text(raw, "value", rd.decimal, expected)
    unit_text = g("unit", "") or rd.default_units.get(mname, "")
    if not unit_text:
        raise _Bad("unit", f"no unit for {mname} {raw}",
                   f"a unit ({', '.join(info.accepted_units)}), or [default_units] in the mapping")
    factor = rd.factor(marker, unit_text, "unit")
    value = rd.convert(literal, factor)
    if value <= 0 and comparator != "<":
        raise _Bad("value", f"{raw!r} is not above 0", "a value above 0 (below the detection limit: <LIMIT)")
    if value > info.plausible_max:
        raise _Bad("value", f"{raw} {unit_text} is above the plausible maximum "
                   f"{info.plausible_max:g} {info.canonical_unit}", "a plausible value (check the unit and the decimal point)")
    uln_raw = g("uln", "")
    uln_literal = None
    if uln_raw:
        uln_literal = _number_text(uln_raw, "uln", rd.decimal, "an upper limit of normal above 0, e.g. 5.0")
    elif rd.has_range:
        uln_literal = rd.uln_from_range(g("reference_range", ""), "reference_range")
    uln = None
    if uln_literal is not None:
        uln = rd.convert(uln_literal, factor)
        if not uln > 0:
            col = "uln" if uln_raw else "reference_range"
            raise _Bad(col, f"upper limit {uln_literal} is not above 0", "an upper limit of normal above 0")
    return MarkerRow(origin, _key(row, f"marker|{mname}|{when.isoformat()}"), g("patient", "") or None,
                     when, mname, value, info.canonical_unit, uln, _text(row, "lab"), comparator)


_MARKER_FACTS = {m: (m.value, MARKERS[m], f"a {m.value} value above 0, e.g. 3.1, <0.5 or >1000") for m in Marker}


def _size(rd: _Reader, text: str, column: str, is_node: bool | None, unit_default: str) -> float:
    t = text.strip()
    if rd.decimal == ",":
        t = t.replace(",", ".")
    elif _DECIMAL_COMMA_SIZE.search(t):
        raise _Bad(column, f"{t!r} has a decimal comma", 'a size with a dot, e.g. 3.2 cm (or decimal = "," in the mapping)')
    m = _SIZE.fullmatch(t)
    expected = 'a size in mm or cm, e.g. "32", "3.2 cm" or "32x21 mm"'
    if m is None:
        raise _Bad(column, f"{t!r} is not a size", expected)
    factor = Decimal(10) if (m["unit"] or unit_default).lower() == "cm" else Decimal(1)
    try:
        a = Decimal(m["a"])
        b = Decimal(m["b"]) if m["b"] else None
    except InvalidOperation:
        raise _Bad(column, f"{t!r} is not a size", expected) from None
    if b is not None:
        if is_node is None:
            raise _Bad(column, f"{t!r} has two axes but the lesion is not said to be a node or not",
                       "the node column (yes/no) with a two-axis size: long axis, or short axis for a node")
        a = min(a, b) if is_node else max(a, b)
    mm = a * factor
    if mm == 0:
        return 0.0
    if mm < Decimal(repr(MIN_LESION_MM)) or mm > Decimal(repr(MAX_LESION_MM)):
        raise _Bad(column, f"{t!r} is {mm.normalize():f} mm", f"a size from {MIN_LESION_MM:g} to {MAX_LESION_MM:g} mm "
                   "(0 for a lesion that disappeared)")
    return float(mm.quantize(Decimal("0.1")))


def _scan_row(rd: _Reader, row: dict[str, str], origin: str) -> MeasurementRow:
    when = rd.date(row.get("date", ""), "date")
    modality = _choice(row.get("modality", "") or "CT", "modality", _MODALITIES, "CT, PET-CT, MRI or X-ray")
    label = _text(row, "lesion", 100)
    if label is None:
        raise _Bad("lesion", "empty", 'the lesion\'s label, e.g. "RUL mass"')
    site_text = (_text(row, "site", 100) or "").lower() or None
    node_text = row.get("node", "")
    is_node: bool | None = _flag(node_text, "node") if node_text else None
    site = site_text
    if site_text is not None and (site_text in _NODE_WORDS or site_text.endswith("node")):
        site, is_node = "lymph node", True
    elif site_text is not None and is_node is None:
        is_node = False
    if is_node and site is None:
        site = "lymph node"
    status_text = row.get("status", "")
    status = _choice(status_text, "status", _STATUSES, "measured, too small, disappeared or not evaluated") \
        if status_text else None
    size_mm: float | None = None
    size_text, mm_text = row.get("size", ""), row.get("size_mm", "")
    if size_text:
        size_mm = _size(rd, size_text, "size", is_node, "mm")
    elif mm_text:
        size_mm = _size(rd, mm_text, "size_mm", is_node, "mm")
    if status is None:
        if size_mm is None:
            raise _Bad("size", "empty (and no status)", "a size such as 32 mm, or a status such as too small")
        status = "disappeared" if size_mm == 0 else "measured"
    if status == "measured" and (size_mm is None or size_mm == 0):
        raise _Bad("size", "empty" if size_mm is None else "0 with status measured", "a size above 0 for a measured lesion")
    if status == "disappeared":
        size_mm = 0.0
    elif status != "measured":
        if size_mm:
            raise _Bad("size", f"{size_text or mm_text!r} given with status {status}", "no size unless measured")
        size_mm = None
    role_text = row.get("role", "")
    role = _choice(role_text, "role", _ROLES, "target or non-target") if role_text else None
    nt_text = row.get("non_target", "")
    non_target = _choice(nt_text, "non_target", _NON_TARGET, "present, absent or progression") if nt_text else None
    thickness_text = row.get("slice_thickness_mm", "")
    thickness = _positive(thickness_text, "slice_thickness_mm", rd.decimal, "a slice thickness in mm, e.g. 1.25",
                          20.0) if thickness_text else None
    new = _flag(row.get("new", ""), "new")
    equivocal = _flag(row.get("equivocal", ""), "equivocal")
    if new and site is None:
        raise _Bad("site", "empty for a new lesion", "the site of the new lesion, e.g. liver")
    return MeasurementRow(origin, _key(row, f"scan|{when.isoformat()}|{modality}"), row.get("patient", "") or None,
                          when, modality, label, site, is_node, size_mm, status, new, equivocal, role,
                          non_target, _text(row, "impression", 2000), thickness)


def _biopsy_row(rd: _Reader, row: dict[str, str], origin: str) -> BiopsyRow:
    when = rd.date(row.get("date", ""), "date")
    sample = _choice(row.get("sample", ""), "sample", _SAMPLES, "plasma, tissue, pleural-fluid or other")
    result = _choice(row.get("result", ""), "result", _RESULTS, "detected, not-detected or indeterminate")
    gene_text, variant_text = row.get("gene", ""), row.get("variant", "")
    if not variant_text:
        raise _Bad("variant", "empty", "a variant such as T790M or exon 19 deletion")
    vkey = (gene_text, variant_text)
    if vkey not in rd.variants:
        try:
            gene = normalize_gene(gene_text, field="gene") if gene_text else None
        except InputError as exc:
            raise _Bad("gene", exc.message.removeprefix("gene: ").rstrip("."), "an HGNC gene symbol, e.g. EGFR") from None
        try:
            alt = normalize_alteration(variant_text, gene=gene, field="variant")
        except InputError as exc:
            raise _Bad("variant", exc.message.removeprefix("variant: ").rstrip("."), "a variant such as T790M") from None
        rd.variants[vkey] = (alt.gene, alt.name, alt.hgvs_p, alt.hgvs_c)
    gene, variant, hgvs_p, hgvs_c = rd.variants[vkey]
    hgvs_p = row.get("hgvs_p", "") or hgvs_p
    hgvs_c = row.get("hgvs_c", "") or hgvs_c
    vaf_text = row.get("vaf", "").removesuffix("%").strip()
    vaf = _positive(vaf_text, "vaf", rd.decimal, "a VAF in percent above 0 and at most 100, e.g. 0.8", 100.0) \
        if vaf_text else None
    ctx_text = row.get("allele_context", "")
    context = _choice(ctx_text, "allele_context", _CONTEXTS, "cis, trans or unknown") if ctx_text else None
    if result != "detected" and vaf is not None:
        raise _Bad("vaf", f"a VAF with result {result}", "no VAF unless the variant was detected")
    if result != "detected" and context is not None:
        raise _Bad("allele_context", f"given with result {result}", "no allele context unless detected")
    return BiopsyRow(origin, _key(row, f"biopsy|{when.isoformat()}|{sample}|{gene}|{variant}"),
                     row.get("patient", "") or None, when, sample, _text(row, "assay"), gene, variant, hgvs_p, hgvs_c,
                     result, vaf, context)


def _appointment_row(rd: _Reader, row: dict[str, str], origin: str) -> AppointmentRow:
    when = rd.date(row.get("date", ""), "date", future=True)
    kind = _choice(row.get("kind", ""), "kind", _KINDS, "imaging, markers, visit, biopsy or other")
    status_text = row.get("status", "")
    status = _choice(status_text, "status", _APPT_STATUS, "planned, done or cancelled") if status_text else "planned"
    return AppointmentRow(origin, _key(row, f"appointment|{when.isoformat()}|{kind}"), row.get("patient", "") or None,
                          when, kind, _text(row, "description", 500), status)

