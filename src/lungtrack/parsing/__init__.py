"""Pure parsers for what people type: dates, durations, numbers, sizes, lesions, variants.

No I/O and no clock: every function takes what it needs ("today" included) as arguments, and
every error is an :class:`~lungtrack.errors.InputError` naming the field, the value given and
the form expected.  Light to import (standard library, ``dateutil`` and ``lungtrack`` data
modules only), so CLI modules may import it at module level.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Where each name lives: the submodules are imported on first use, so that a command reading a
#: date does not also compile the variant and lesion grammars.
_WHERE = {
    "format_date": "dates", "parse_date": "dates", "parse_duration": "dates", "parse_since": "dates",
    "LesionSpec": "lesions", "parse_lesion_spec": "lesions",
    "parse_number": "numbers", "parse_size_mm": "numbers",
    "normalize_alteration": "variants", "normalize_gene": "variants", "parse_driver": "variants",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"lungtrack.parsing.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'lungtrack.parsing' has no attribute {name!r}")


__all__ = [
    "LesionSpec",
    "format_date",
    "normalize_alteration",
    "normalize_gene",
    "parse_date",
    "parse_driver",
    "parse_duration",
    "parse_lesion_spec",
    "parse_number",
    "parse_since",
    "parse_size_mm",
]
