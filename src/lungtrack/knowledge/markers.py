"""Serum tumour markers: names, units, LOINC codes and default upper limits of normal (ULN).

Pure data from /work/shared/reference/clinical.md §2.1, §2.4 and §2.5.  Values are stored in
one *canonical unit* per marker; other spellings the labs use are converted on entry.

Reference intervals are assay- and lab-specific.  The defaults here are only used when a
result comes without the lab's own ULN; **the lab's ULN, when given, always wins**.  Values
that clinical.md marks "unconfirmed" (NSE 16.3 ng/mL, CA-125 35 U/mL, the ProGRP LOINC code)
are labelled so in the notes returned to the caller and never presented as fact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping, NamedTuple

from lungtrack.enums import Marker, SmokingStatus
from lungtrack.errors import InputError

__all__ = [
    "MARKERS",
    "MarkerInfo",
    "UlnDefault",
    "convert_marker_value",
    "default_uln",
    "marker_from_text",
    "normalize_unit",
]


class UlnDefault(NamedTuple):
    """A default upper limit of normal: the value (canonical unit) and a one-line note.

    The note names the source, says "unconfirmed" where clinical.md does, and reminds that the
    lab's own ULN takes precedence.  It is a 2-tuple, so ``value, note = default_uln(...)``.
    """

    value: float
    note: str


def normalize_unit(text: str) -> str:
    """Case- and spacing-insensitive unit key: ``'µg / L'`` -> ``'ug/l'``, ``'mcg/L'`` -> ``'ug/l'``."""
    key = "".join(text.split()).lower()
    key = key.replace("\u00b5", "u").replace("\u03bc", "u")  # micro sign and Greek mu
    return key.replace("mcg", "ug")


@dataclass(frozen=True)
class MarkerInfo:
    """What lungtrack knows about one marker.

    ``unit_factors`` maps each accepted unit spelling to the factor that converts a value in
    that unit to the canonical unit (lookup is case-insensitive through :func:`normalize_unit`).
    ``plausible_max`` (canonical unit) is a sanity ceiling for catching typos, deliberately
    generous (an order of magnitude above very high values seen in advanced disease); it is a
    design choice, not a clinical threshold.
    """

    marker: Marker
    name: str
    canonical_unit: str
    unit_factors: Mapping[str, float] = field(hash=False)
    loinc: str | None
    plausible_max: float
    uln_never_smoker: float
    uln_current_smoker: float
    uln_source: str | None  # key in lungtrack.knowledge.sources.SOURCES, None if none fits
    uln_confirmed: bool
    uln_basis: str  # short description of where the default comes from, for the note

    @property
    def accepted_units(self) -> tuple[str, ...]:
        return tuple(self.unit_factors)

    def factor_for(self, unit: str) -> float | None:
        """Factor to the canonical unit for ``unit`` (any case/spacing), or None if not accepted."""
        return _factor(self.marker, unit)

    def default_uln(self, smoking: SmokingStatus = SmokingStatus.UNKNOWN) -> UlnDefault:
        """Default ULN for a patient with this smoking status (see :func:`default_uln`)."""
        smoking = SmokingStatus(smoking)
        value = self.uln_current_smoker if smoking is SmokingStatus.CURRENT else self.uln_never_smoker
        shown = f"{_fmt(value)} {self.canonical_unit}"
        status = "" if self.uln_confirmed else "unconfirmed: "
        if self.uln_current_smoker != self.uln_never_smoker:
            if smoking is SmokingStatus.CURRENT:
                who = "for current smokers"
            elif smoking is SmokingStatus.NEVER:
                who = "for never-smokers"
            else:
                who = (
                    f"for {smoking.value} smoking status: the non-smoker limit is used because the "
                    f"higher smokers' limit ({_fmt(self.uln_current_smoker)} {self.canonical_unit}) applies to current smoking "
                    f"and the lower limit flags earlier"
                )
            basis = f"{who}; {status}{self.uln_basis}"
        else:
            basis = f"{status}{self.uln_basis}"
        note = (
            f"default {self.marker.value} ULN {shown} ({basis}); reference ranges are assay-specific, "
            f"so the lab's own ULN always takes precedence"
        )
        return UlnDefault(value, note)


@lru_cache(maxsize=512)
def _factor(marker: Marker, unit: str) -> float | None:
    """Cached: an import converts the same few spellings thousands of times."""
    wanted = normalize_unit(unit)
    for spelling, factor in MARKERS[marker].unit_factors.items():
        if normalize_unit(spelling) == wanted:
            return factor
    return None


def _fmt(value: float) -> str:
    return format(Decimal(repr(value)).normalize(), "f")


# Mass concentrations, as factors to ng/mL (1 ng/mL = 1 µg/L = 1000 pg/mL = 100 ng/dL = 0.001 mg/L).
_MASS_PER_ML = MappingProxyType({
    "ng/mL": 1.0, "µg/L": 1.0, "ug/L": 1.0, "mcg/L": 1.0,
    "pg/mL": 0.001, "ng/L": 0.001, "ng/dL": 0.01, "µg/dL": 10.0, "mg/L": 1000.0, "µg/mL": 1000.0,
})

_INFO = (
    MarkerInfo(
        marker=Marker.CEA,
        name="Carcinoembryonic antigen",
        canonical_unit="ng/mL",
        unit_factors=_MASS_PER_ML,  # ng/mL == µg/L (clinical.md §2.1)
        loinc="2039-6",
        plausible_max=100_000.0,
        # MedlinePlus (via clinical.md §2.1): 0-2.5 µg/L non-smokers, 0-5 µg/L smokers.
        uln_never_smoker=2.5,
        uln_current_smoker=5.0,
        uln_source="medlineplus_cea",
        uln_confirmed=True,
        uln_basis="MedlinePlus CEA reference values: 0-2.5 ng/mL non-smokers, 0-5 ng/mL smokers",
    ),
    MarkerInfo(
        marker=Marker.CYFRA21_1,
        name="Cytokeratin 19 fragment (CYFRA 21-1)",
        canonical_unit="ng/mL",
        unit_factors=_MASS_PER_ML,
        loinc="25390-6",  # clinical.md §2.5: mapping partly confirmed
        plausible_max=10_000.0,
        uln_never_smoker=3.3,
        uln_current_smoker=3.3,
        uln_source="pmc5451759",
        uln_confirmed=True,
        uln_basis="PMC5451759; assay-dependent, about 3.3-3.5 ng/mL",
    ),
    MarkerInfo(
        marker=Marker.NSE,
        name="Neuron-specific enolase",
        canonical_unit="ng/mL",
        unit_factors=_MASS_PER_ML,
        loinc="15060-7",
        plausible_max=10_000.0,
        uln_never_smoker=16.3,
        uln_current_smoker=16.3,
        uln_source=None,  # only a secondary source in clinical.md §2.4
        uln_confirmed=False,
        uln_basis="the 16.3 ng/mL Roche value; published limits are about 16.3-20 ng/mL and haemolysis raises NSE",
    ),
    MarkerInfo(
        marker=Marker.PROGRP,
        name="Pro-gastrin-releasing peptide",
        canonical_unit="pg/mL",
        unit_factors=MappingProxyType({"pg/mL": 1.0, "ng/L": 1.0, "ng/dL": 10.0, "ng/mL": 1000.0, "µg/L": 1000.0}),
        loinc=None,  # unconfirmed: not found in the sources (clinical.md §2.5)
        plausible_max=1_000_000.0,
        uln_never_smoker=65.0,
        uln_current_smoker=65.0,
        uln_source="pmc5451759",
        uln_confirmed=True,
        uln_basis="PMC5451759; assay-dependent, about 0-65 pg/mL",
    ),
    MarkerInfo(
        marker=Marker.CA125,
        name="Cancer antigen 125",
        canonical_unit="U/mL",
        unit_factors=MappingProxyType({"U/mL": 1.0, "kU/L": 1.0, "units/mL": 1.0, "U/L": 0.001}),
        loinc="10334-1",
        plausible_max=100_000.0,
        uln_never_smoker=35.0,
        uln_current_smoker=35.0,
        uln_source=None,
        uln_confirmed=False,
        uln_basis="35 U/mL is a common cut-off",
    ),
)

MARKERS: Mapping[Marker, MarkerInfo] = MappingProxyType({info.marker: info for info in _INFO})

# Typed names, compared after removing case, spaces, hyphens, underscores and dots.
_ALIASES: dict[str, Marker] = {
    "cea": Marker.CEA,
    "carcinoembryonicantigen": Marker.CEA,
    "cyfra": Marker.CYFRA21_1,
    "cyfra211": Marker.CYFRA21_1,
    "nse": Marker.NSE,
    "neuronspecificenolase": Marker.NSE,
    "progrp": Marker.PROGRP,
    "ca125": Marker.CA125,
}
_MARKER_EXPECTED = "one of CEA, CYFRA 21-1, NSE, ProGRP, CA-125"


def marker_from_text(text: str, field: str = "marker") -> Marker:
    """``cea``, ``CYFRA 21-1``, ``cyfra``, ``pro-grp``, ``CA 125`` ... -> :class:`Marker`."""
    if not isinstance(text, str):
        raise InputError(field, text, _MARKER_EXPECTED)
    marker = _marker_key(text)
    if marker is None:
        raise InputError(field, text, _MARKER_EXPECTED)
    return marker


@lru_cache(maxsize=256)
def _marker_key(text: str) -> Marker | None:
    return _ALIASES.get(re.sub(r"[\s\-_.]", "", text).lower())


def convert_marker_value(marker: Marker, value: float, unit: str | None, field: str = "unit") -> tuple[float, str]:
    """Convert ``value`` given in ``unit`` to the marker's canonical unit.

    Returns ``(value_in_canonical_unit, canonical_unit)``.  ``unit=None`` means the value is
    already canonical.  Conversion is exact in decimal (0.065 ng/mL ProGRP -> 65.0 pg/mL).
    An unknown unit raises ``InputError`` listing the accepted units - no guessing, because a
    wrong factor of 1000 would make a normal value look alarming (or the reverse).
    """
    info = MARKERS[Marker(marker)]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError("value", value, "a finite number")
    if unit is None or not str(unit).strip():
        return float(value), info.canonical_unit
    factor = info.factor_for(unit)
    if factor is None:
        accepted = ", ".join(info.accepted_units)
        raise InputError(
            field,
            unit,
            f"a {info.marker.value} unit: {accepted}",
            message=f"{field}: {unit!r} is not a unit for {info.marker.value}; expected one of {accepted}.",
        )
    if factor == 1.0:
        return float(value), info.canonical_unit
    converted = Decimal(repr(float(value))) * Decimal(repr(factor))
    return float(converted), info.canonical_unit


def default_uln(marker: Marker, smoking: SmokingStatus = SmokingStatus.UNKNOWN) -> UlnDefault:
    """Default upper limit of normal for ``marker`` (canonical unit) and a note on its source.

    CEA depends on smoking (MedlinePlus, clinical.md §2.1): 2.5 ng/mL for never-smokers,
    5.0 ng/mL for current smokers.  *Former* and *unknown* smoking status get the non-smoker
    limit 2.5 ng/mL: the source gives the higher limit only for smokers, and for a tool whose
    job is to notice a rise early the lower limit is the conservative choice (it may flag
    "above the default ULN" a little early, never too late).  The other markers do not depend
    on smoking here.  Whatever the default, the lab's own ULN always wins.
    """
    return MARKERS[Marker(marker)].default_uln(smoking)
