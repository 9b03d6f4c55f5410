"""CSV mapping files: how a lab portal's download maps onto lungtrack's own CSV columns.

A mapping is a small TOML file (read with the standard library's ``tomllib``)::

    name = "US patient portal"
    kind = "markers"            # markers, scans, biopsies or appointments
    delimiter = ","             # one character; "\\t" for tabs
    decimal = "."               # "." or ","  (1,5 -> 1.5)
    encoding = "utf-8"          # "utf-8" (with or without BOM) or "cp1252"
    date_format = "MM/DD/YYYY"  # YYYY, MM, DD and separators; a time after the date is ignored
    other_tests = "skip"        # rows naming a test that is not a tumour marker: "skip" or "error"
    skip_lines = 0              # lines above the header row (titles some portals add)

    [columns]                   # our column = their header
    date = "Collection Date"
    marker = "Test Name"
    ...
    [markers]                   # their test name = our marker
    "Carcinoembryonic Antigen" = "CEA"
    [units]                     # their unit spelling = ours
    "ng/ml" = "ng/mL"
    [default_units]             # a marker's unit when the file gives none
    CEA = "ng/mL"
    [defaults]                  # a value for one of our columns when the file leaves it empty
    lab = "Quest"

Pure: text in, :class:`CsvMapping` out; every problem is an ``InputError`` naming the key.
:func:`suggest_mapping` writes a TOML suggestion for a file whose columns are not ours.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from lungtrack.enums import Marker
from lungtrack.errors import InputError
from lungtrack.knowledge.markers import _ALIASES as _MARKER_ALIASES
from lungtrack.knowledge.markers import MARKERS, marker_from_text, normalize_unit

__all__ = [
    "COLUMNS",
    "DEFAULT_MAPPING",
    "KINDS",
    "CsvMapping",
    "DateFormat",
    "canonical_column",
    "load_mapping",
    "suggest_mapping",
]

KINDS = ("markers", "scans", "biopsies", "appointments")
_COMMON = ("date", "patient", "id")
#: Our columns per kind, in the order the docs list them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "markers": _COMMON + ("marker", "value", "unit", "uln", "reference_range", "lab"),
    "scans": _COMMON + ("modality", "lesion", "site", "node", "size", "size_mm", "status", "new", "equivocal",
                        "role", "non_target", "impression", "slice_thickness_mm"),
    "biopsies": _COMMON + ("sample", "assay", "gene", "variant", "hgvs_p", "hgvs_c", "result", "vaf",
                           "allele_context"),
    "appointments": _COMMON + ("kind", "description", "status"),
}
ALL_COLUMNS = ("type",) + tuple(dict.fromkeys(c for cols in COLUMNS.values() for c in cols))
#: Other spellings of our columns (what ``lungtrack export csv`` writes, and plain synonyms).
_ALIASES = {
    "is_node": "node", "vaf_percent": "vaf", "range": "reference_range", "ref_range": "reference_range",
    "test": "marker", "result_value": "value", "label": "lesion", "record_type": "type",
}
#: Columns that ``lungtrack export csv`` writes and that import ignores.
IGNORED = frozenset({"source"})

_TOP_KEYS = {"name", "kind", "delimiter", "decimal", "encoding", "date_format", "other_tests", "skip_lines",
             "columns", "markers", "units", "default_units", "defaults"}
_DATE_TOKENS = re.compile(r"YYYY|MM|DD|M|D")


def canonical_column(header: str) -> str:
    """``'Size mm'`` -> ``'size_mm'``: lower case, spaces and hyphens as underscores, aliases resolved."""
    key = re.sub(r"[\s\-]+", "_", header.strip().lower())
    return _ALIASES.get(key, key)


@dataclass(frozen=True)
class DateFormat:
    """A date layout such as ``MM/DD/YYYY`` or ``DD.MM.YYYY``; ``None`` text means ISO ``YYYY-MM-DD``."""

    text: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, text: str, field: str = "date_format") -> DateFormat:
        expected = 'a layout of YYYY, MM and DD with separators, e.g. "MM/DD/YYYY" or "DD.MM.YYYY"'
        tokens = _DATE_TOKENS.findall(text)
        names = sorted(t[0] for t in tokens)
        if names != ["D", "M", "Y"] or "YYYY" not in tokens:
            raise InputError(field, text, expected)
        parts: list[str] = []
        pos = 0
        for m in _DATE_TOKENS.finditer(text):
            parts.append(re.escape(text[pos:m.start()]))
            group = {"Y": "y", "M": "m", "D": "d"}[m.group()[0]]
            parts.append(rf"(?P<{group}>\d{{4}})" if group == "y" else rf"(?P<{group}>\d{{1,2}})")
            pos = m.end()
        parts.append(re.escape(text[pos:]))
        # a time of day after the date ("03/04/2026 08:15 AM", "2026-03-04T08:15") is ignored
        pattern = re.compile("".join(parts) + r"(?:[ T].*)?")
        return cls(text, pattern)


ISO_DATE = DateFormat.parse("YYYY-MM-DD")


@dataclass(frozen=True)
class CsvMapping:
    """How to read one kind of CSV file.  The default (:data:`DEFAULT_MAPPING`) is lungtrack's own layout."""

    name: str = "lungtrack CSV"
    kind: str | None = None  # None: from a ``type`` column or from the columns present
    delimiter: str | None = None  # None: detected from the header line (",", ";" or tab)
    decimal: str = "."
    encoding: str = "utf-8"
    date_format: DateFormat = ISO_DATE
    other_tests: str = "error"
    skip_lines: int = 0
    columns: tuple[tuple[str, str], ...] = ()  # (ours, theirs); empty: the file uses our names
    markers: tuple[tuple[str, str], ...] = ()  # (their name casefolded, our Marker value)
    units: tuple[tuple[str, str], ...] = ()  # (their unit normalised, our unit)
    default_units: tuple[tuple[str, str], ...] = ()  # (Marker value, unit)
    defaults: tuple[tuple[str, str], ...] = ()  # (our column, value)
    path: str | None = None

    @property
    def is_default(self) -> bool:
        return not self.columns

    def marker_for(self, text: str) -> Marker | None:
        """Our marker for a name in the file: the ``[markers]`` table first, then lungtrack's own names."""
        key = " ".join(text.split()).casefold()
        for theirs, ours in self.markers:
            if theirs == key:
                return Marker(ours)
        try:
            return marker_from_text(text)
        except InputError:
            return None

    def unit_for(self, text: str) -> str:
        key = normalize_unit(text)
        for theirs, ours in self.units:
            if theirs == key:
                return ours
        return text.strip()


DEFAULT_MAPPING = CsvMapping()


def _str(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str | None:
    value = data.get(key, default)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{where}{key}", value, "a text in double quotes")
    return value


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{where}{key}", value, f"a [{key}] table of \"name\" = \"value\" lines")
    for k, v in value.items():
        if not isinstance(v, str):
            raise InputError(f"{where}{key}.{k}", v, "a text in double quotes")
    return value


def load_mapping(text: str, where: str = "mapping") -> CsvMapping:
    """Parse and check a mapping file's text; ``where`` (the file name) prefixes every error."""
    prefix = f"{where}: "
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(where, "", "a TOML mapping file",
                         message=f"{where}: not valid TOML ({exc}); expected a mapping file as in docs/formats.md.") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise InputError(f"{prefix}{unknown[0]}", unknown[0], "one of " + ", ".join(sorted(_TOP_KEYS)),
                         message=(f"{prefix}{unknown[0]}: not a mapping key; expected one of "
                                  f"{', '.join(sorted(_TOP_KEYS))}."))
    kind = _str(data, "kind", prefix)
    if kind is not None and kind not in KINDS:
        raise InputError(f"{prefix}kind", kind, "one of " + ", ".join(KINDS))
    delimiter = _str(data, "delimiter", prefix)
    if delimiter is not None and len(delimiter) != 1:
        raise InputError(f"{prefix}delimiter", delimiter, 'one character, e.g. "," or ";" or "\\t"')
    decimal = _str(data, "decimal", prefix, ".") or "."
    if decimal not in (".", ","):
        raise InputError(f"{prefix}decimal", decimal, '"." or ","')
    encoding = (_str(data, "encoding", prefix, "utf-8") or "utf-8").lower().replace("_", "-")
    encoding = {"utf8": "utf-8", "utf-8-sig": "utf-8", "windows-1252": "cp1252"}.get(encoding, encoding)
    if encoding not in ("utf-8", "cp1252"):
        raise InputError(f"{prefix}encoding", encoding, '"utf-8" or "cp1252" (Windows-1252)')
    other = _str(data, "other_tests", prefix, "error") or "error"
    if other not in ("skip", "error"):
        raise InputError(f"{prefix}other_tests", other, '"skip" or "error"')
    skip_lines = data.get("skip_lines", 0)
    if isinstance(skip_lines, bool) or not isinstance(skip_lines, int) or not 0 <= skip_lines <= 100:
        raise InputError(f"{prefix}skip_lines", skip_lines, "a whole number from 0 to 100")
    date_text = _str(data, "date_format", prefix)
    date_format = ISO_DATE if date_text is None else DateFormat.parse(date_text, f"{prefix}date_format")

    columns = _table(data, "columns", prefix)
    for ours in columns:
        if canonical_column(ours) not in ALL_COLUMNS or canonical_column(ours) != ours:
            raise InputError(f"{prefix}columns.{ours}", ours, "one of lungtrack's columns: " + ", ".join(ALL_COLUMNS))
    if not columns:
        raise InputError(f"{prefix}columns", "", "a [columns] table naming the file's column for each of ours",
                         message=f"{prefix}columns: missing; expected a [columns] table such as date = \"Collection Date\".")
    if "date" not in columns:
        raise InputError(f"{prefix}columns.date", "", "the file's date column",
                         message=f"{prefix}columns.date: missing; expected the name of the file's date column.")
    markers = []
    for theirs, ours in _table(data, "markers", prefix).items():
        markers.append((" ".join(theirs.split()).casefold(), marker_from_text(ours, f"{prefix}markers.{theirs}").value))
    units = []
    for theirs, ours in _table(data, "units", prefix).items():
        if not any(info.factor_for(ours) is not None for info in MARKERS.values()):
            raise InputError(f"{prefix}units.{theirs}", ours, "a unit lungtrack knows, e.g. ng/mL, pg/mL, U/mL")
        units.append((normalize_unit(theirs), ours))
    default_units = []
    for name, unit in _table(data, "default_units", prefix).items():
        marker = marker_from_text(name, f"{prefix}default_units.{name}")
        if MARKERS[marker].factor_for(unit) is None:
            raise InputError(f"{prefix}default_units.{name}", unit,
                             f"a {marker.value} unit: {', '.join(MARKERS[marker].accepted_units)}")
        default_units.append((marker.value, unit))
    defaults = []
    for ours, value in _table(data, "defaults", prefix).items():
        if canonical_column(ours) not in ALL_COLUMNS:
            raise InputError(f"{prefix}defaults.{ours}", ours, "one of lungtrack's columns: " + ", ".join(ALL_COLUMNS))
        defaults.append((canonical_column(ours), value))
    return CsvMapping(
        name=_str(data, "name", prefix, where) or where, kind=kind, delimiter=delimiter, decimal=decimal,
        encoding=encoding, date_format=date_format, other_tests=other, skip_lines=skip_lines,
        columns=tuple(columns.items()), markers=tuple(markers), units=tuple(units),
        default_units=tuple(default_units), defaults=tuple(defaults), path=where,
    )


# ----------------------------------------------------------------------------- suggestions

#: Header words of real exports, per our column (compared lower case, without punctuation).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": ("collection date", "collected", "date collected", "specimen date", "date of service", "result date",
             "datum", "entnahmedatum", "abnahmedatum", "date", "observation date", "drawn"),
    "marker": ("test name", "test", "analyte", "analyt", "component", "parameter", "untersuchung", "name",
               "observation", "lab test"),
    "value": ("result", "value", "wert", "ergebnis", "result value", "your value", "messwert"),
    "unit": ("units", "unit", "einheit", "uom"),
    "reference_range": ("reference range", "ref range", "normal range", "standard range", "referenzbereich",
                        "normbereich", "referenz", "range", "reference interval"),
    "lab": ("performing lab", "lab", "laboratory", "labor", "performing site"),
    "lesion": ("lesion", "finding", "befund"),
    "size": ("size", "groesse", "größe", "diameter", "durchmesser"),
    "gene": ("gene", "gen"),
    "variant": ("variant", "alteration", "mutation"),
}


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _guess_date_format(values: list[str]) -> tuple[str | None, str]:
    """A date layout that reads every sample value, and a comment on how sure it is."""
    found = [v.strip() for v in values if v.strip()]
    if not found:
        return None, "no dates to look at"
    for sep in "/.-":
        rx = re.compile(rf"(\d{{1,2}}){re.escape(sep)}(\d{{1,2}}){re.escape(sep)}(\d{{4}})(?:[ T].*)?")
        hits = [rx.fullmatch(v) for v in found]
        if all(hits):
            firsts = [int(m.group(1)) for m in hits if m]
            seconds = [int(m.group(2)) for m in hits if m]
            if max(firsts) > 12 >= max(seconds):
                return f"DD{sep}MM{sep}YYYY", "days above 12 come first"
            if max(seconds) > 12 >= max(firsts):
                return f"MM{sep}DD{sep}YYYY", "days above 12 come second"
            guess = "DD.MM.YYYY" if sep == "." else f"MM{sep}DD{sep}YYYY"
            return guess, "CHECK THIS: no day above 12 in the file, so day and month cannot be told apart"
    if all(re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[ T].*)?", v) for v in found):
        return "YYYY-MM-DD", "ISO dates"
    return None, "the dates are in a layout lungtrack does not recognise"


def _guess_marker(name: str) -> Marker | None:
    """A marker named somewhere inside a test name ("Carcinoembryonic Antigen (CEA)"): suggestions only."""
    found = DEFAULT_MAPPING.marker_for(name)
    if found is not None:
        return found
    words = re.findall(r"[a-z0-9]+", name.lower())
    key = "".join(words)
    for alias in sorted(_MARKER_ALIASES, key=len, reverse=True):
        if len(alias) > 4 and alias in key or alias in words:
            return _MARKER_ALIASES[alias]
    return None


def suggest_mapping(header: list[str], rows: list[list[str]], delimiter: str, encoding: str = "utf-8") -> str:
    """A TOML mapping suggested from a file's header and first rows (to be checked by a person)."""
    plain = {_plain(h): h for h in header if h.strip()}
    chosen: dict[str, str] = {}
    for ours, words in _SYNONYMS.items():
        for word in words:
            if word in plain and plain[word] not in chosen.values():
                chosen[ours] = plain[word]
                break
    kind = "markers" if "marker" in chosen else "scans" if "lesion" in chosen else \
        "biopsies" if "gene" in chosen or "variant" in chosen else None
    index = {h: i for i, h in enumerate(header)}

    def column(ours: str) -> list[str]:
        if ours not in chosen:
            return []
        i = index[chosen[ours]]
        return [r[i] for r in rows if i < len(r)]

    date_format, date_note = _guess_date_format(column("date"))
    decimal = ","if any(re.fullmatch(r"[<>]?\s*\d+,\d+", v.strip()) for v in column("value")) else "."
    lines = ["# Suggested by lungtrack from the file's columns: check every line, then save it and run",
             "# lungtrack import csv FILE --mapping THIS.toml (docs/formats.md explains each key).",
             'name = "my lab export"']
    lines.append(f'kind = "{kind}"' if kind else '# kind = "markers"   # markers, scans, biopsies or appointments')
    lines.append(f'delimiter = "{chr(92) + "t" if delimiter == chr(9) else delimiter}"')
    lines.append(f'decimal = "{decimal}"')
    lines.append(f'encoding = "{encoding}"')
    if date_format:
        lines.append(f'date_format = "{date_format}"   # {date_note}')
    else:
        lines.append(f'# date_format = "DD.MM.YYYY"   # {date_note}')
    if kind == "markers":
        lines.append('other_tests = "skip"   # rows for tests that are not tumour markers are skipped and counted')
    lines += ["", "[columns]"]
    for ours in _SYNONYMS:
        if ours in chosen:
            lines.append(f'{ours} = "{chosen[ours]}"')
    unused = [h for h in header if h.strip() and h not in chosen.values()]
    if unused:
        lines.append("# not used: " + ", ".join(unused))
    if kind == "markers":
        names = sorted({v.strip() for v in column("marker") if v.strip()})
        known = [(n, m) for n in names if (m := _guess_marker(n)) is not None]
        lines += ["", "[markers]   # the file's test name = lungtrack's marker"]
        lines += [f'"{n}" = "{m.value}"' for n, m in known]
        others = [n for n in names if _guess_marker(n) is None]
        if others:
            lines.append("# not recognised as tumour markers (add them here if they are): " + ", ".join(others[:20]))
        if not column("unit") or any(not u.strip() for u in column("unit")):
            lines += ["", "[default_units]   # needed: some rows have no unit", '# CEA = "ng/mL"']
    return "\n".join(lines) + "\n"
