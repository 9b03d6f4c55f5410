"""Python values -> compact JSON text exactly as the standard library writes it, by orjson where
that gives the same text.

``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=...)`` is what every JSON
Lines record of lungtrack is written with (``check --all-patients --json`` writes one per patient,
about 6 kB).  orjson writes the same record about six times as fast, and the same bytes for
every string (all code points, checked), integer up to 64 bits, ``True``/``False``/``None``, list,
tuple and dict with string keys, except in three cases, all detected, which go to the standard
encoder instead:

- floats written with an exponent by either side: Python writes ``1e-05`` and ``1e+16`` where
  orjson writes ``0.00001`` and ``1e16``.  Both agree on every float from 1e-4 up to 1e16 (tested
  on 1.5 million floats, every exponent among them); a text in which a digit is followed by an
  ``e``, or a number that begins with one digit and ``.0000``, goes to ``json`` (a false alarm,
  such as those characters inside a string, only costs the slower path);
- NaN and the infinities, which orjson writes as ``null`` and Python as ``NaN``/``Infinity``:
  :func:`compact` is only for data whose floats are all finite (``to_data`` makes them so: it
  writes a non-finite float as ``None``);
- whatever orjson refuses or would write another way: integers beyond 64 bits, keys that are not
  strings, lone surrogates, nesting deeper than 254, subclasses of ``int``, ``float``, ``dict``,
  ``list`` and ``tuple``, and every type the standard encoder hands to ``default``.  Those make
  orjson raise, and ``json`` then writes the text or raises its own error.  A subclass of ``str``
  (the str enums) is written as its text, as ``json`` does; dates, datetimes, dataclasses and
  every other type go to ``default``, as they do with ``json``.

One difference is left: a member of a plain ``Enum`` (not a ``str`` enum) whose value is not a
string, which the standard encoder hands to ``default`` while orjson writes its value.  lungtrack
has no such enum, and ``to_data`` turns every member into its value first.
tests/test_jsonwrite.py compares the two on generated data.
"""

from __future__ import annotations

import json
from typing import Any, Callable

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; without it, json writes everything
    orjson = None  # type: ignore[assignment]

#: bytes.translate: every digit -> "0", "e"/"E" -> "e", "." stays, what can come just before a
#: number (",", ":", "[" and the minus sign) -> " ", every other byte -> "x" (a text of mostly
#: "x" is searched fastest)
_NUMBER_SHAPE = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x65 if b in (0x45, 0x65) else 0x2E if b == 0x2E
    else 0x20 if b in b",:[-" else 0x78 for b in range(256)
)
_OPTIONS = 0 if orjson is None else (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _float_form_may_differ(raw: bytes) -> bool:
    """Could a float in ``raw`` (orjson's text) be written another way by ``json``?"""
    shape = raw.translate(_NUMBER_SHAPE)
    # an exponent (a digit, then "e"), or a number under 1e-4 written out: one digit, then
    # ".0000", at the start of a number (a number such as 5.00001 is a false alarm)
    return b"0e" in shape or b" 0.0000" in shape or shape.startswith(b"0.0000")


def encoder(default: Callable[[Any], Any]) -> Callable[[Any], str]:
    """``compact(data)``: ``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
    default=default).encode(data)``, the same text or the same error, for data whose floats
    are all finite (see the module docstring)."""
    plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=default).encode
    if orjson is None:
        return plain

    def leaf(value: Any) -> Any:
        # what json does with a value orjson hands over (OPT_PASSTHROUGH_*, or a type it does
        # not know): a str subclass is written as its text; a subclass of the other types json
        # writes itself goes to json; the rest to ``default``, as json does
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, (int, float, dict, list, tuple)):
            raise TypeError
        return default(value)

    dumps, options = orjson.dumps, _OPTIONS

    def compact(data: Any) -> str:
        try:
            raw = dumps(data, default=leaf, option=options)
        except TypeError:  # orjson.JSONEncodeError: json writes it its own way, or raises
            return plain(data)
        if _float_form_may_differ(raw):
            return plain(data)
        return raw.decode()

    return compact
