"""The finding: what every rule returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from lungtrack.enums import Severity

CARE_TEAM = "Discuss with your care team"


@dataclass(frozen=True)
class Finding:
    """One flag raised by a rule, with its evidence and its source.

    ``id`` is stable across runs: ``<rule>:<subject>:<ISO date>``, so an acknowledgement made
    today still matches tomorrow.  ``evidence`` is the human sentence with the numbers;
    ``data`` holds the same numbers for ``--json``.  ``discuss`` is worded as a topic to
    discuss with the care team, never as advice.
    """

    rule: str  # e.g. "recist.progression", "lesion.mixed_response", "marker.rising"
    subject: str  # what it is about, e.g. "line-1", "lesion-liver-s6", "CEA", "EGFR-T790M"
    date: date  # the date of the event the finding is about
    severity: Severity
    title: str
    evidence: str
    source: str
    discuss: str
    patient_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Set by the engine (lungtrack.core.engine.mark_history): the therapy line the finding is
    # about (None when it is not tied to one), and whether it belongs to an earlier line, so
    # that it is kept as history rather than shown as an alert of the current line.
    line_id: int | None = None
    historical: bool = False

    @property
    def id(self) -> str:
        return make_finding_id(self.rule, self.subject, self.date)

    @property
    def needs_attention(self) -> bool:
        """Watch or alert, and not history from an earlier line."""
        return self.severity in (Severity.WATCH, Severity.ALERT) and not self.historical


def make_finding_id(rule: str, subject: str, on: date) -> str:
    return f"{rule}:{_slug(subject)}:{on.isoformat()}"


@lru_cache(maxsize=4096)
def _slug(subject: str) -> str:
    """The subject as it appears in finding ids (a history repeats the same few subjects)."""
    return "".join(c if c.isalnum() or c in "-._" else "-" for c in subject.lower()).strip("-")
