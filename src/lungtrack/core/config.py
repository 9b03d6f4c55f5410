"""Rule thresholds: defaults, and validation of user overrides.

Pure: :func:`RulesConfig.from_mapping` takes a plain mapping (as parsed from the TOML file by
:mod:`lungtrack.settings`) and returns a validated config, or raises ``ConfigError`` naming
the key, the value and the accepted range.  Missing keys keep the documented defaults
(docs/rules.md lists them all with their sources).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from lungtrack.errors import ConfigError


@dataclass(frozen=True)
class RecistConfig:
    baseline_window_days: int = 28  # baseline scan at most 4 weeks before the line starts
    max_targets: int = 5
    max_targets_per_organ: int = 2  # all lymph nodes count as one organ
    measurable_min_mm: float = 10.0  # non-nodal; 2 x slice thickness when slices > 5 mm
    node_target_min_mm: float = 15.0  # short axis
    node_pathological_min_mm: float = 10.0  # short axis; a new node >= this counts as new
    pr_decrease_pct: float = 30.0  # vs baseline
    pd_increase_pct: float = 20.0  # vs nadir
    pd_increase_min_mm: float = 5.0  # absolute increase vs nadir
    too_small_mm: float = 5.0  # "too small to measure" counts as this
    sd_min_days: int = 42  # SD counts as best response only this long after the line started


@dataclass(frozen=True)
class HeterogeneityConfig:
    lesion_growth_pct: float = 20.0  # one lesion's growth from its own nadir
    lesion_growth_min_mm: float = 5.0


@dataclass(frozen=True)
class MarkerConfig:
    rising_min_consecutive: int = 2  # consecutive rises needed
    rising_min_pct_over_nadir: float = 20.0
    rising_requires_above_uln: bool = True
    doubling_min_points: int = 3


@dataclass(frozen=True)
class VariantConfig:
    vaf_rise_min_points: float = 0.0  # percentage points a VAF must rise by to count as rising


@dataclass(frozen=True)
class TimingConfig:
    imaging_due_soon_weeks: float = 8.0
    imaging_overdue_weeks: float = 13.0
    marker_due_soon_weeks: float = 8.0
    marker_overdue_weeks: float = 13.0
    due_window_days: int = 7  # "due" in the last days before the overdue date
    early_progression_months: int = 3
    appointment_soon_days: int = 7  # planned appointments shown this many days ahead


@dataclass(frozen=True)
class PlausibilityConfig:
    lesion_jump_factor: float = 4.0  # a lesion this many times larger (or smaller) than before
    lesion_jump_max_weeks: float = 26.0  # ... within this many weeks
    marker_jump_factor: float = 50.0  # a stored marker this many times higher or lower: entry.check finding
    max_lesion_mm: float = 300.0
    min_lesion_mm: float = 1.0
    marker_entry_factor: float = 5.0  # a new marker value more than this many times (or under 1/this) the last: asked
    marker_jump_max_weeks: float = 26.0  # the marker window (both marker checks); was lesion_jump_max_weeks


@dataclass(frozen=True)
class InputConfig:
    """How typed input is read (not a rule threshold, but set in the same file)."""

    #: An all-numeric date whose two readings are both real (02/03/2026): "none" refuses it and
    #: names both readings; "dmy" reads it day first (2 March), "mdy" month first (3 February).
    locale_order: str = "none"


#: The accepted values of the text settings.
CHOICES: dict[str, tuple[str, ...]] = {"input.locale_order": ("none", "dmy", "mdy")}


@dataclass(frozen=True)
class RulesConfig:
    recist: RecistConfig = field(default_factory=RecistConfig)
    heterogeneity: HeterogeneityConfig = field(default_factory=HeterogeneityConfig)
    markers: MarkerConfig = field(default_factory=MarkerConfig)
    variants: VariantConfig = field(default_factory=VariantConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    plausibility: PlausibilityConfig = field(default_factory=PlausibilityConfig)
    input: InputConfig = field(default_factory=InputConfig)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], origin: str = "thresholds") -> "RulesConfig":
        """Build a config from a nested mapping; unknown or invalid keys raise ``ConfigError``."""
        sections = {f.name: f for f in fields(cls)}
        result = cls()
        for section_name, values in data.items():
            if section_name not in sections:
                raise ConfigError(
                    f"{origin}: unknown section [{section_name}]; expected one of "
                    + ", ".join(sorted(sections))
                )
            if not isinstance(values, Mapping):
                raise ConfigError(f"{origin}: [{section_name}] must be a table of key = value")
            current = getattr(result, section_name)
            result = replace(result, **{section_name: _apply(current, section_name, values, origin)})
            if section_name == "plausibility" and "lesion_jump_max_weeks" in values \
                    and "marker_jump_max_weeks" not in values:
                # Compatibility: lesion_jump_max_weeks used to set the marker window too.
                plaus = result.plausibility
                result = replace(result, plausibility=replace(
                    plaus, marker_jump_max_weeks=plaus.lesion_jump_max_weeks))
        _check_consistent(result, origin)
        return result

    def to_mapping(self) -> dict[str, dict[str, Any]]:
        return {f.name: {g.name: getattr(getattr(self, f.name), g.name) for g in fields(getattr(self, f.name))} for f in fields(self)}


def _check_consistent(config: "RulesConfig", origin: str) -> None:
    """Values that are each valid but contradict each other (or the rule they feed) are refused."""
    r, t, p = config.recist, config.timing, config.plausibility
    if r.pr_decrease_pct <= 0 or r.pr_decrease_pct > 100:
        raise ConfigError(f"{origin}: recist.pr_decrease_pct = {r.pr_decrease_pct:g} is not valid; expected a "
                          "percentage above 0 and at most 100 (a sum cannot shrink by more than 100 %)")
    for key in ("max_targets", "max_targets_per_organ"):
        if getattr(r, key) < 1:
            raise ConfigError(f"{origin}: recist.{key} = {getattr(r, key)} is not valid; expected at least 1 "
                              "(RECIST needs target lesions to measure)")
    if r.max_targets_per_organ > r.max_targets:
        raise ConfigError(f"{origin}: recist.max_targets_per_organ = {r.max_targets_per_organ} is more than "
                          f"recist.max_targets = {r.max_targets}; expected at most max_targets")
    if r.too_small_mm > r.measurable_min_mm:
        raise ConfigError(f"{origin}: recist.too_small_mm = {r.too_small_mm:g} is more than recist.measurable_min_mm "
                          f"= {r.measurable_min_mm:g}; expected a 'too small' size below the measurable minimum")
    if r.node_pathological_min_mm > r.node_target_min_mm:
        raise ConfigError(f"{origin}: recist.node_pathological_min_mm = {r.node_pathological_min_mm:g} is more than "
                          f"recist.node_target_min_mm = {r.node_target_min_mm:g}; expected at most node_target_min_mm")
    for kind in ("imaging", "marker"):
        soon, overdue = getattr(t, f"{kind}_due_soon_weeks"), getattr(t, f"{kind}_overdue_weeks")
        if overdue <= 0:
            raise ConfigError(f"{origin}: timing.{kind}_overdue_weeks = {overdue:g} is not valid; expected more than 0")
        if soon > overdue:
            raise ConfigError(f"{origin}: timing.{kind}_due_soon_weeks = {soon:g} is later than "
                              f"timing.{kind}_overdue_weeks = {overdue:g}; expected 'due soon' at or before 'overdue'")
    if p.min_lesion_mm >= p.max_lesion_mm:
        raise ConfigError(f"{origin}: plausibility.min_lesion_mm = {p.min_lesion_mm:g} is not below "
                          f"plausibility.max_lesion_mm = {p.max_lesion_mm:g}; expected the minimum below the maximum")
    for key in ("lesion_jump_factor", "marker_jump_factor"):
        if getattr(p, key) <= 1:
            raise ConfigError(f"{origin}: plausibility.{key} = {getattr(p, key):g} is not valid; expected a factor "
                              "above 1")


def _apply(section: Any, name: str, values: Mapping[str, Any], origin: str) -> Any:
    known = {f.name: f for f in fields(section)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"{origin}: unknown key {name}.{key}; expected one of " + ", ".join(sorted(known))
            )
        default = getattr(section, key)
        changes[key] = _check(f"{name}.{key}", value, default, origin)
    return replace(section, **changes)


def _check(key: str, value: Any, default: Any, origin: str) -> Any:
    if isinstance(default, str):
        choices = CHOICES.get(key, ())
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise ConfigError(f"{origin}: {key} = {value!r} is not valid; expected one of " +
                              ", ".join(f'"{c}"' for c in choices))
        return value.strip().lower()
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: {key} = {value!r} is not valid; expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{origin}: {key} = {value!r} is not valid; expected a whole number >= 0")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{origin}: {key} = {value!r} is not valid; expected a finite number >= 0")
    return float(value)
