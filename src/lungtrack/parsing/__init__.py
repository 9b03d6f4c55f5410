"""Pure parsers for what people type: dates, durations, numbers, sizes, lesions, variants.

No I/O and no clock: every function takes what it needs ("today" included) as arguments, and
every error is an :class:`~lungtrack.errors.InputError` naming the field, the value given and
the form expected.  Light to import (standard library, ``dateutil`` and ``lungtrack`` data
modules only), so CLI modules may import it at module level.
"""

from __future__ import annotations

from lungtrack.parsing.dates import format_date, parse_date, parse_duration, parse_since
from lungtrack.parsing.lesions import LesionSpec, parse_lesion_spec
from lungtrack.parsing.numbers import parse_number, parse_size_mm
from lungtrack.parsing.variants import normalize_alteration, normalize_gene, parse_driver

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
