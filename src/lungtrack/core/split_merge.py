"""Target lesions that split or merge between scans (RECIST 1.1), as pure arithmetic.

Eisenhauer 2009 (RECIST 1.1), Appendix I, "Lesions that split or coalesce on treatment":

* when a non-nodal lesion **fragments**, the longest diameters of the fragments are added
  together and the sum is recorded for that one lesion (:func:`fragmented_size_mm`);
* when lesions **coalesce**, a plane between them may still allow each to be measured (then
  measure each); when they are truly no longer separable, the longest diameter of the
  coalesced lesion is recorded for one of them and the other(s) are recorded as 0 mm
  (:func:`coalesced_sizes_mm`), so the sum of diameters stays comparable.

The lesion identities never change ("once target, always target"): a fragment is not a new
lesion and a merged lesion does not drop a target.  Sizes are added as exact decimals so that
3.2 + 8.2 is 11.4 mm, not 11.399999999999999.  The shell (``lungtrack scan``) decides how
this is typed; nothing here reads input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lungtrack.core.decimal_math import ZERO, D
from lungtrack.errors import InputError

__all__ = ["coalesced_sizes_mm", "fragmented_size_mm"]


def _positive(field: str, value: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise InputError(field, value, "a size in mm greater than 0")


def fragmented_size_mm(fragments_mm: Sequence[float], *, is_node: bool = False) -> float:
    """The size recorded for a target lesion that fragmented: the sum of the fragments'
    longest diameters (RECIST 1.1 Appendix I).  ``[12, 8.5]`` -> ``20.5``.

    Refuses fewer than two fragments (that is not a split), a size that is not > 0, and lymph
    nodes (Appendix I describes non-nodal lesions; a node is measured by its short axis).
    """
    if is_node:
        raise InputError("fragments", list(fragments_mm),
                         "fragments of a non-nodal lesion (RECIST 1.1 adds fragments of non-nodal lesions only)")
    if len(fragments_mm) < 2:
        raise InputError("fragments", list(fragments_mm), "at least two fragment sizes in mm, e.g. 12 and 8.5")
    total = ZERO
    for size in fragments_mm:
        _positive("fragments", size)
        total += D(size)
    return float(total)


def coalesced_sizes_mm(merged_mm: float, lesion_ids: Sequence[int], keep: int | None = None) -> dict[int, float]:
    """Sizes to record when target lesions ``lesion_ids`` have coalesced into one lesion of
    longest diameter ``merged_mm`` (no longer separable): the lesion ``keep`` (default: the
    first of ``lesion_ids``) gets ``merged_mm``, every other one 0 mm.

    ``coalesced_sizes_mm(34, [2, 5])`` -> ``{2: 34.0, 5: 0.0}``.
    """
    _positive("size", merged_mm)
    ids = list(dict.fromkeys(lesion_ids))
    if len(ids) < 2 or len(ids) != len(lesion_ids):
        raise InputError("lesions", list(lesion_ids), "at least two different lesions that merged")
    chosen = ids[0] if keep is None else keep
    if chosen not in ids:
        raise InputError("keep", chosen, "one of the merged lesions " + ", ".join(str(i) for i in ids))
    return {i: (float(D(merged_mm)) if i == chosen else 0.0) for i in ids}
