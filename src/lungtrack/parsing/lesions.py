"""Lesion specifications as typed on the command line (``--lesion``).

Forms (see docs user story 1)::

    "RUL mass: lung, 3.2 cm"            label, site, size   (first time a lesion is seen)
    "4R: node, 16 mm"                   a lymph node (short axis)
    "pleural effusion: pleura, non-target"   a non-target lesion with no size
    "RUL mass 22"   "4R 0.9 cm"   "RUL mass: 22 mm"    label and size (the lesion is known)
    "RUL mass: too small"   "liver S6 disappeared"   "4R: NE"     a status instead of a size
    "RUL mass: lung, 32x21 mm"   "4R: node, 1.8 x 1.2 cm"   two axes, as reports write them

Two axes (``32x21 mm``, ``3.2 x 2.1 cm``, ``32 × 21``): the long axis is the size, except for a
lymph node, whose size is the short axis (RECIST 1.1); ``short_axis_mm`` keeps the short one so
that a node named by its label alone is measured on its short axis too.

A lesion that split is still one lesion: its fragments may be written as a sum
(``"RUL mass 12 + 8 mm"`` is 20 mm), which is how RECIST 1.1 (Eisenhauer 2009) treats
fragments; when two lesions merge, the merged lesion's size goes on one of them and the other
is recorded as ``0`` (disappeared).  The working group's exact wording is not confirmed in the
project's clinical reference; docs/rules.md carries the guidance.

After the colon, the comma-separated parts may come in any order: a site, a size or a status,
and a role (``target`` / ``non-target``).  Without a colon, the size or status is taken from
the end of the text and the rest is the label.

Statuses (RECIST 1.1 measurement states): ``too small`` (counts as 5 mm), ``disappeared`` /
``gone`` / an explicit ``0`` (counts as 0 mm), ``not evaluated`` / ``NE`` / ``not seen``
(missing: never counted as 0 - "not seen" is deliberately *not* read as "disappeared",
because a lesion that was not looked at must not create a false response).

Sites are kept in lower case (``lung``, ``liver``, ``adrenal``, ``bone``, ``brain``,
``pleura``); ``node``, ``lymph node``, ``LN`` and ``nodal`` (or a site ending in "node")
become ``is_node=True`` with site ``lymph node``.  Without a site, ``site`` and ``is_node``
are None: the store takes them from the lesion already recorded under that label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from lungtrack.enums import LesionRole, MeasurementStatus
from lungtrack.errors import InputError
from lungtrack.parsing.numbers import parse_size_mm

__all__ = ["LESION_EXPECTED", "LesionSpec", "parse_lesion_spec"]

LESION_EXPECTED = '"LABEL: SITE, SIZE mm|cm" or "LABEL SIZE", e.g. "RUL mass: lung, 3.2 cm"'
NODE_SITE = "lymph node"


@dataclass(frozen=True)
class LesionSpec:
    """One parsed ``--lesion``.

    ``size_mm`` is set only when ``status`` is MEASURED.  A non-target given without size or
    status gets ``NOT_EVALUATED``: non-targets are assessed qualitatively and there is no
    number to count, which is also the safe reading (never counted as 0 mm).
    """

    label: str
    site: str | None
    is_node: bool | None
    size_mm: float | None
    status: MeasurementStatus
    role: LesionRole | None
    short_axis_mm: float | None = None  # given as "32x21 mm": the shorter of the two axes


_STATUS_WORDS: dict[str, MeasurementStatus] = {
    "too small": MeasurementStatus.TOO_SMALL,
    "too small to measure": MeasurementStatus.TOO_SMALL,
    "tstm": MeasurementStatus.TOO_SMALL,
    "disappeared": MeasurementStatus.DISAPPEARED,
    "gone": MeasurementStatus.DISAPPEARED,
    "resolved": MeasurementStatus.DISAPPEARED,
    "absent": MeasurementStatus.DISAPPEARED,
    "not evaluated": MeasurementStatus.NOT_EVALUATED,
    "not evaluable": MeasurementStatus.NOT_EVALUATED,
    "not assessed": MeasurementStatus.NOT_EVALUATED,
    "not measured": MeasurementStatus.NOT_EVALUATED,
    "not seen": MeasurementStatus.NOT_EVALUATED,
    "ne": MeasurementStatus.NOT_EVALUATED,
    "n/e": MeasurementStatus.NOT_EVALUATED,
}
_ROLE_WORDS: dict[str, LesionRole] = {
    "target": LesionRole.TARGET,
    "non target": LesionRole.NON_TARGET,
    "nontarget": LesionRole.NON_TARGET,
}
_NODE_WORDS = frozenset({"node", "nodes", "lymph node", "lymph nodes", "ln", "nodal", "lymph"})
_SITE = re.compile(r"[a-z][a-z0-9 '/]*")
# A size at the end of a colon-less spec: a number and an optional unit word.
_TRAILING_SIZE = re.compile(r"(?P<label>.*?\S)\s+(?P<size>[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)\s*[a-z]*\.?)", re.I)
_ZERO = re.compile(r"[+-]?0*(?:[.,]0*)?\s*(?:mm|cm)?\.?", re.I)


def _key(text: str) -> str:
    return " ".join(re.sub(r"[-_]", " ", text.strip().lower()).split())


def _error(field: str, text: str, reason: str | None = None) -> InputError:
    why = f" ({reason})" if reason else ""
    return InputError(
        field, text, LESION_EXPECTED, message=f"{field}: {text!r} is not valid{why}; expected {LESION_EXPECTED}."
    )


def _split_trailing(head: str) -> tuple[str, list[str]]:
    """``'RUL mass 22'`` -> ``('RUL mass', ['22'])``; ``'4R NE'`` -> ``('4R', ['NE'])``."""
    words = head.split()
    for n in (4, 3, 2, 1):  # longest status phrase first ("too small to measure")
        if len(words) > n and _key(" ".join(words[-n:])) in _STATUS_WORDS:
            return " ".join(words[:-n]), [" ".join(words[-n:])]
    match = _TRAILING_SIZE.fullmatch(head)
    if match:
        return match["label"], [match["size"]]
    return head, []


def _size_or_zero(field: str, text: str, part: str) -> float | None:
    """Parse a size; an explicit zero returns None (meaning: disappeared)."""
    if _ZERO.fullmatch(part.strip()) and re.search(r"\d", part):
        return None
    try:
        return parse_size_mm(part, field="size")
    except InputError as err:
        if "unknown unit" in err.message:
            raise _error(field, text, f"unknown unit in {part.strip()!r}; sizes are in mm or cm") from None
        if err.message == InputError("size", part, err.expected).message:
            raise _error(field, text, f"{part.strip()!r} is not a size in mm or cm") from None
        reason = err.message.removeprefix("size: ").rstrip(".")
        raise InputError(field, text, LESION_EXPECTED, message=f"{field}: {text!r}: {reason}.") from None


_TWO_AXES = re.compile(
    r"(?P<a>\d+(?:\.\d+)?)\s*(?P<ua>mm|cm)?\s*[x×*]\s*(?P<b>\d+(?:\.\d+)?)\s*(?P<ub>mm|cm)?(?![a-z])", re.I)


def _two_axes(field: str, text: str, cleaned: str) -> tuple[str, float | None]:
    """Replace ``32x21 mm`` by its long axis (``32 mm``); return the short axis in mm too."""
    match = _TWO_AXES.search(cleaned)
    if match is None:
        return cleaned, None
    unit = (match["ub"] or match["ua"] or "mm").lower()
    if match["ua"] and match["ub"] and match["ua"].lower() != match["ub"].lower():
        raise _error(field, text, "the two axes are in different units")
    first = parse_size_mm(f"{match['a']} {unit}", field="size")
    second = parse_size_mm(f"{match['b']} {unit}", field="size")
    long_axis, short_axis = max(first, second), min(first, second)
    return cleaned[:match.start()] + f"{long_axis:g} mm" + cleaned[match.end():], short_axis


_FRAGMENTS = re.compile(r"\d+(?:\.\d+)?\s*(?:mm|cm)?(?:\s*\+\s*\d+(?:\.\d+)?\s*(?:mm|cm)?)+(?![a-z])", re.I)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(mm|cm)?", re.I)


def _fragments(cleaned: str) -> str:
    """``12 + 8 mm`` (a lesion that split: RECIST sums its fragments) -> ``20 mm``."""
    match = _FRAGMENTS.search(cleaned)
    if match is None:
        return cleaned
    parts = _PART.findall(match.group(0))
    unit = next((u.lower() for _n, u in reversed(parts) if u), "mm")
    total = sum(parse_size_mm(f"{n} {(u or unit).lower()}", field="size") for n, u in parts)
    return cleaned[:match.start()] + f"{round(total, 1):g} mm" + cleaned[match.end():]


def parse_lesion_spec(text: str, *, field: str = "--lesion") -> LesionSpec:
    """Parse one ``--lesion`` value (see the module docstring for the accepted forms)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(field, text, LESION_EXPECTED, message=f"{field}: no lesion given; expected {LESION_EXPECTED}.")
    cleaned = " ".join(text.split())
    try:
        cleaned = _fragments(cleaned)
        cleaned, short_axis = _two_axes(field, text, cleaned)
    except InputError as err:
        if err.field == "size":
            raise _error(field, text, err.message.removeprefix("size: ").rstrip(".")) from None
        raise
    if re.search(r"\d,\d", cleaned):
        raise _error(field, text, "use a dot for decimals, e.g. 3.2 cm, not 3,2 cm")
    head, colon, tail = cleaned.partition(":")
    if colon:
        label = head.strip()
        parts = [p.strip() for p in tail.split(",")]
    else:
        first, *rest = [p.strip() for p in cleaned.split(",")]
        label, extracted = _split_trailing(first)
        parts = extracted + rest
    if not label:
        raise _error(field, text, "the label is missing")
    if not colon and re.fullmatch(r"[+-]?[\d.,]+\s*(?:mm|cm)?", label, re.I):
        # "22" alone is a size without a label.  With a colon a number is a fine label
        # (lymph-node station "7: node, 12 mm").
        raise _error(field, text, "the label is missing")

    site: str | None = None
    role: LesionRole | None = None
    status: MeasurementStatus | None = None
    size: float | None = None
    for part in parts:
        if not part:
            continue
        key = _key(part)
        if key in _ROLE_WORDS:
            if role is not None:
                raise _error(field, text, "the role is given twice")
            role = _ROLE_WORDS[key]
        elif key in _STATUS_WORDS or re.match(r"[+-]?[\d.,]", key):
            if status is not None:
                raise _error(field, text, "more than one size or status")
            if key in _STATUS_WORDS:
                status = _STATUS_WORDS[key]
            else:
                size = _size_or_zero(field, text, part)
                status = MeasurementStatus.MEASURED if size is not None else MeasurementStatus.DISAPPEARED
        elif _SITE.fullmatch(key):
            if site is not None:
                raise _error(field, text, f"two sites, {site!r} and {key!r}")
            site = key
        else:
            raise _error(field, text, f"{part!r} is not a site, a size or a status")

    if status is None:
        if role is LesionRole.NON_TARGET:
            status = MeasurementStatus.NOT_EVALUATED
        else:
            raise _error(field, text, "no size or status")
    is_node: bool | None = None
    if site is not None:
        is_node = site in _NODE_WORDS or site.endswith((" node", " nodes", " ln"))
        if is_node:
            site = NODE_SITE
    if is_node and short_axis is not None and size is not None:
        size = short_axis  # a node is measured on its short axis
    return LesionSpec(label=label, site=site, is_node=is_node, size_mm=size, status=status, role=role,
                      short_axis_mm=short_axis if size is not None else None)


def check_first_sighting(spec: LesionSpec, text: str, *, field: str = "--lesion") -> LesionSpec:
    """A lesion seen for the first time (a new label, or a ``--new-lesion``) must be there: a size
    of 0 mm or "disappeared" makes no sense for it.  Returns ``spec`` unchanged when it is fine."""
    if spec.status is MeasurementStatus.DISAPPEARED:
        raise _error(field, text, f"{spec.label!r} is seen for the first time, so it cannot be 0 mm or gone; "
                                  "give its size, 'too small' or 'not evaluated'")
    return spec


#: Longest lesion label or site kept (a label is a short name such as "RUL mass" or "4R").
MAX_LABEL_CHARS = 80


def parse_label(text: str | None, *, field: str = "--label", what: str = "a lesion label such as 'RUL mass' or '4R'") -> str:
    """A label or site as typed: whitespace collapsed; empty, blank or over-long text is refused."""
    cleaned = " ".join(text.split()) if isinstance(text, str) else ""
    if not cleaned:
        raise InputError(field, text if isinstance(text, str) else "", f"{what} (not empty)")
    if len(cleaned) > MAX_LABEL_CHARS:
        raise InputError(field, cleaned, f"{what} of at most {MAX_LABEL_CHARS} characters")
    return cleaned
