"""A guard in front of the FHIR import: JSON of the wrong shape is a one-line ``InputError``.

FHIR files come from outside (portals, hospital exports, hand edits).  Whatever the mapping in
:mod:`lungtrack.fhir.mapping` expects, a value of the wrong JSON type (``"entry": 5``, a
string where a Period is expected, a number where an array or a Reference is expected) or JSON
nested deeper than any FHIR resource must be refused with a message naming ``file:line`` and the
field, never reach the "internal error" catch-all.  Pure: text and plain data in, data or
``InputError`` out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from lungtrack.errors import InputError, shown_value

#: No FHIR resource lungtrack reads nests deeper than this; deeper JSON is refused before parsing.
MAX_DEPTH = 64

#: FHIR R4 element names whose JSON type is the same wherever they appear.  Names whose type
#: depends on where they are (``code``, ``text``, ``value``) are not listed.
ARRAYS = frozenset({
    "entry", "name", "identifier", "coding", "extension", "modifierExtension", "contained", "telecom",
    "address", "given", "prefix", "suffix", "line", "reasonCode", "reasonReference", "note", "dosage",
    "dosageInstruction", "component", "interpretation", "referenceRange", "basedOn", "partOf", "hasMember",
    "derivedFrom", "evidence", "stage", "link", "communication", "generalPractitioner", "profile", "tag",
    "security", "focalDevice", "usedCode", "complication", "followUp", "report",
})
OBJECTS = frozenset({
    "subject", "patient", "encounter", "context", "valueQuantity", "valueCodeableConcept", "valuePeriod",
    "valueRange", "valueRatio", "effectivePeriod", "performedPeriod", "onsetPeriod", "abatementPeriod",
    "onsetAge", "abatementAge", "period", "medicationCodeableConcept", "medicationReference",
    "clinicalStatus", "verificationStatus", "meta", "dispenseRequest", "quantity", "maritalStatus",
    "method", "specimen", "device", "requester", "recorder", "asserter", "severity", "informationSource",
    "low", "high", "assigner",
})
STRINGS = frozenset({
    "resourceType", "id", "status", "intent", "birthDate", "gender", "deceasedDateTime", "effectiveDateTime",
    "effectiveInstant", "performedDateTime", "onsetDateTime", "abatementDateTime", "authoredOn", "recordedDate",
    "issued", "reference", "display", "system", "unit", "start", "end", "family", "lastUpdated",
    "dateAsserted", "versionId", "use", "comparator",
})
#: The resources lungtrack reads; the element table above holds for them (others are skipped anyway).
CHECKED_TYPES = frozenset({"Patient", "Condition", "Procedure", "MedicationRequest", "MedicationStatement",
                           "Observation", "Medication"})


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    return "an object"


_OUTSIDE = re.compile(r'["\[\]{}\n]')  # what matters outside a string
_INSIDE = re.compile(r'["\\\n]')  # what matters inside one


#: A whole string, possibly unterminated (the rest of the text is then inside it).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)  # "(?:[^"\\]+|\\.)*"? unrolled: faster
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
#: str.translate table deleting every ASCII character but '"' and the brackets (others stay:
#: outside strings they are removed with the rest that is not a bracket).
_ONLY_QUOTES_AND_BRACKETS = str.maketrans("", "", "".join(chr(i) for i in range(128) if chr(i) not in '"[]{}'))
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def nesting_depth(text: str) -> tuple[int, int]:
    """The deepest ``[``/``{`` nesting in JSON text and the 1-based line where it first exceeds
    :data:`MAX_DEPTH` (0 if it never does).  Linear, no recursion, strings are skipped.

    The depth comes from the brackets outside strings, found by one regular expression (a
    megabyte of FHIR in milliseconds); only text nested too deep is walked again for the line."""
    from itertools import accumulate

    if "\\" not in text:
        # no escapes: every '"' opens or closes a string, so the text between every other pair
        # of quotes is outside them (the same as _STRING's matches; kept in step by a test)
        deepest = _depth_without_escapes(text)
        if deepest is not None:
            return deepest, 0
        # everything but quotes and brackets is dropped first, by one translation
        brackets = _NOT_BRACKETS.sub("", "".join(text.translate(_ONLY_QUOTES_AND_BRACKETS).split('"')[::2]))
    else:
        brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    deepest = max(0, max(accumulate(map(_STEP.__getitem__, brackets)), default=0))
    if deepest <= MAX_DEPTH:
        return deepest, 0
    return _nesting_depth_and_line(text)


#: bytes.translate: every byte but '"' and the brackets deleted, openers made '(' and closers ')'
_PARENS = bytes.maketrans(b"[{]}", b"(())")
_ALL_BUT_QUOTES_AND_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')


def _depth_without_escapes(text: str) -> int | None:
    """The depth of text without a backslash whose brackets outside strings balance, at most
    :data:`MAX_DEPTH` (FHIR as any server writes it); None for any other text.

    Only its quotes and brackets count, taken as bytes (a multi-byte UTF-8 character holds no
    ASCII byte), openers as ``(`` and closers as ``)``.  Every '"' opens or closes a string, so
    the brackets outside strings are those between every other pair of quotes.  Removing two
    adjacent quotes first (an empty string, or the end of one string and the start of the
    next, with nothing outside between them) leaves every other quote opening and closing the
    same text, and leaves few quotes.  Balanced brackets are then peeled one level per pass
    (each pass removes every innermost pair): the passes are the deepest nesting."""
    kept = text.encode("utf-8", "surrogatepass").translate(_PARENS, _ALL_BUT_QUOTES_AND_BRACKETS)
    kept = kept.replace(b'""', b"")
    brackets = b"".join(kept.split(b'"')[::2]) if b'"' in kept else kept
    depth = 0
    while brackets:
        if depth == MAX_DEPTH:
            return None
        inner_removed = brackets.replace(b"()", b"")
        if len(inner_removed) == len(brackets):
            return None  # not balanced
        brackets = inner_removed
        depth += 1
    return depth


def _nesting_depth_and_line(text: str) -> tuple[int, int]:
    depth = deepest = 0
    line = 1
    too_deep_line = 0
    pos, end = 0, len(text)
    outside, inside = _OUTSIDE.search, _INSIDE.search
    while pos < end:
        m = outside(text, pos)
        if m is None:
            break
        ch = m.group()
        pos = m.end()
        if ch == "\n":
            line += 1
        elif ch == '"':
            while True:  # inside a string, until its closing quote
                m = inside(text, pos)
                if m is None:
                    return deepest, too_deep_line
                ch = m.group()
                pos = m.end()
                if ch == '"':
                    break
                if ch == "\n":
                    line += 1
                elif pos < end:  # a backslash: the next character is escaped (a newline still counts)
                    if text[pos] == "\n":
                        line += 1
                    pos += 1
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if depth > MAX_DEPTH and not too_deep_line:
                    too_deep_line = line
        else:
            depth -= 1
    return deepest, too_deep_line


def check_depth(text: str, file: str) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH` (naming the line)."""
    deepest, line = nesting_depth(text)
    if deepest > MAX_DEPTH:
        raise InputError(f"{file}:{line}", "", f"JSON nested at most {MAX_DEPTH} levels deep", message=(
            f"{file}:{line}: the JSON is nested {deepest} levels deep; expected FHIR resources, which "
            f"nest at most {MAX_DEPTH} levels; nothing was imported."))


def check_shape(value: Any, file: str, line: int, path: str = "") -> None:
    """Walk a parsed resource (or Bundle) and refuse the first element of the wrong JSON type."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            for i, item in enumerate(node):
                stack.append((item, f"{where}[{i}]"))
            continue
        if not isinstance(node, Mapping):
            continue
        for key, item in node.items():
            field = f"{where}.{key}" if where else str(key)
            expected = ("an array" if key in ARRAYS else "an object" if key in OBJECTS
                        else "text" if key in STRINGS else None)
            ok = (expected is None or (expected == "an array" and isinstance(item, list))
                  or (expected == "an object" and isinstance(item, Mapping))
                  or (expected == "text" and isinstance(item, str)))
            if isinstance(item, str) and "\x00" in item:
                raise InputError(f"{file}:{line}", item, "text without NUL characters", message=(
                    f"{file}:{line}: {field}: the text holds a NUL character; expected text without NUL "
                    "characters; nothing was imported."))
            if isinstance(item, float) and not math.isfinite(item):
                raise InputError(f"{file}:{line}", item, "a finite number", message=(
                    f"{file}:{line}: {field}: {item} is not valid; expected a finite number; nothing was imported."))
            if not ok:
                raise InputError(f"{file}:{line}", item, expected or "", message=(
                    f"{file}:{line}: {field}: {shown_value(item)} is {_type_name(item)}; expected "
                    f"{expected} there; nothing was imported."))
            stack.append((item, field))


T = TypeVar("T")


def guarded(step: Callable[[], T], file: str, line: int | str, what: str) -> T:
    """Run one import step; a structural error inside it becomes one ``InputError`` line."""
    try:
        return step()
    except InputError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        raise InputError(f"{file}:{line}", "", what, message=(
            f"{file}:{line}: {what} has a value of the wrong type ({exc.__class__.__name__}); "
            "expected FHIR R4 JSON; nothing was imported.")) from None


def check_items(items: Sequence[Any]) -> None:
    """Check the shape of every resource lungtrack reads (``items`` are
    :class:`lungtrack.fhir.mapping.Resource`-like: resource, file, line)."""
    for it in items:
        if it.resource.get("resourceType") in CHECKED_TYPES:
            check_shape(it.resource, it.file, it.line)


def _check_bundle(doc: Mapping[str, Any], file: str) -> None:
    entries = doc.get("entry")
    if entries is not None and not isinstance(entries, list):
        raise InputError(f"{file}:1", entries, "an array", message=(
            f"{file}:1: entry: {shown_value(entries)} is {_type_name(entries)}; expected an array of "
            "Bundle entries; nothing was imported."))
    for i, entry in enumerate(entries or [], start=1):
        if not isinstance(entry, Mapping):
            raise InputError(f"{file}:1", entry, "an object", message=(
                f"{file}:1: entry[{i}]: {shown_value(entry)} is {_type_name(entry)}; expected a Bundle "
                "entry object; nothing was imported."))
        for key, want in (("resource", Mapping), ("fullUrl", str)):
            if key in entry and not isinstance(entry[key], want):
                raise InputError(f"{file}:1", entry[key], key, message=(
                    f"{file}:1: entry[{i}].{key}: {shown_value(entry[key])} is {_type_name(entry[key])}; "
                    f"expected {'an object' if want is Mapping else 'text'}; nothing was imported."))


def parse_guarded(text: str, file: str, parse: Callable[[str, str], T]) -> T:
    """Parse one file's text with ``parse`` after the depth check; a Bundle whose ``entry`` is not
    an array of objects, or any other structural error while parsing, is one ``InputError``."""
    check_depth(text, file)
    stripped = text.strip()
    if stripped.startswith("{") and '"Bundle"' in stripped[:4096] + stripped[-4096:]:
        try:
            doc = json.loads(stripped)
        except (ValueError, RecursionError):
            doc = None  # not one document (NDJSON) or not JSON: the parser names the line
        if isinstance(doc, Mapping) and doc.get("resourceType") == "Bundle":
            _check_bundle(doc, file)
    try:
        return parse(text, file)
    except InputError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError):
        pass
    raise InputError(f"{file}:1", "", "FHIR R4 JSON", message=(
        f"{file}:1: the document has a value of the wrong type; expected FHIR NDJSON or a JSON Bundle; "
        "nothing was imported."))


def map_guarded(items: Sequence[Any], mapper: Callable[[Sequence[Any]], T]) -> T:
    """Run the mapping over all items; when it trips over a value of the wrong type, find the
    resource that does it and name it (file:line)."""
    check_items(items)
    try:
        return mapper(items)
    except InputError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError):
        for it in items:
            guarded(lambda it=it: mapper([it]), it.file, it.line, f"the {it.resource_type} resource")
        raise InputError("FILE", "", "FHIR R4 JSON", message=(
            "FILE: the resources together hold a value of the wrong type; expected FHIR R4 JSON; "
            "nothing was imported.")) from None
