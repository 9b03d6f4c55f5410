"""Plain-data conversion for ``--json`` and reports: dataclasses, enums, dates, Decimals."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any


#: The field names of each dataclass :func:`to_data` has met (what ``dataclasses.fields`` gives,
#: which is fixed per class).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}

#: The types :func:`to_data` returns unchanged (exactly these types: a subclass such as an enum
#: built on ``str`` or ``int`` takes the general path).
_LEAVES = frozenset({str, int, bool})

#: The enum types :func:`to_data` has met (their members become their values).
_ENUM_KINDS: set[type] = set()


def to_data(obj: Any) -> Any:
    """Convert core results to JSON-ready data: ISO dates, numbers as numbers, enums as values."""
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:  # the common leaves, first
        return obj
    if kind is float:
        return None if not math.isfinite(obj) else round(obj, 4)
    # Containers: a leaf (str, int, bool, None: what to_data returns as it is) is taken without
    # a call, and a str key as it is (str(to_data(k)) is k itself): the same result, fewer calls
    # (a check's findings carry marker series of 60-120 values).
    if kind is dict:
        return {(k if type(k) is str else str(to_data(k))): (v if type(v) in _LEAVES or v is None else to_data(v))
                for k, v in obj.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _LEAVES or v is None else to_data(v) for v in obj]
    if kind is date:
        return obj.isoformat()
    if kind in _ENUM_KINDS:
        return obj.value
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(obj))
    if names is not None:
        out = {}
        for name in names:
            v = getattr(obj, name)
            out[name] = v if type(v) in _LEAVES or v is None else to_data(v)
        if "id" not in out and hasattr(obj, "id"):
            out["id"] = obj.id  # e.g. Finding.id is a property
        return out
    if isinstance(obj, Enum):
        _ENUM_KINDS.add(kind)  # an enum type is never a dataclass: the next one of its kind is taken at once
        return obj.value
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 4)
    if isinstance(obj, dict):
        return {str(to_data(k)): to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_data(v) for v in obj]
    return obj
