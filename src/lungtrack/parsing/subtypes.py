"""Histological subtype composition, e.g. ``solid 50%, papillary 30%, acinar 20%``."""

from __future__ import annotations

import re

from lungtrack.errors import InputError

# The name is letters, spaces and inner hyphens (``lepidic-predominant``), never ending in a hyphen:
# ``solid -10%`` is a negative percentage, not the subtype "solid -" at 10 %.
_ITEM = re.compile(r"^\s*([A-Za-z](?:[A-Za-z ]|-(?=[A-Za-z]))*?)\s*[:=]?\s*(\d+(?:\.\d+)?)\s*%?\s*$")
EXPECTED = "NAME PERCENT items such as 'solid 50%, papillary 30%, acinar 20%' (total at most 100 %)"


def parse_subtypes(texts: list[str] | tuple[str, ...], field: str = "--subtype") -> dict[str, float]:
    """Parse one or more ``name percent`` items (comma-separated or repeated) into a dict."""
    result: dict[str, float] = {}
    for text in texts:
        for part in text.split(","):
            if not part.strip():
                continue
            m = _ITEM.match(part)
            if not m:
                raise InputError(field, text, EXPECTED)
            name = " ".join(m.group(1).lower().split())
            pct = float(m.group(2))
            if not 0 < pct <= 100:
                raise InputError(field, text, EXPECTED)
            result[name] = result.get(name, 0.0) + pct
    total = sum(result.values())
    if total > 100.0001:
        raise InputError(field, ", ".join(texts), EXPECTED,
                         message=f"{field}: the percentages add up to {total:g} %; expected a total of at most 100 %.")
    return result
