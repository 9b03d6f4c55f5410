"""Shell-side glue between the store and the pure rules: load, evaluate, attach acknowledgements.

Used by ``check``, ``remind``, ``summary`` and ``report`` so that they all see the same findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lungtrack.core.config import RulesConfig
from lungtrack.core.findings import Finding
from lungtrack.core.history import History


@dataclass
class PatientEvaluation:
    history: History
    evaluation: Any  # lungtrack.core.engine.Evaluation
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)  # finding id -> {"at": ..., "note": ...}
    snoozes: dict[str, date] = field(default_factory=dict)  # due-item key -> until

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.evaluation.findings

    def is_acknowledged(self, finding: Finding) -> bool:
        return finding.id in self.acks

    @property
    def open_attention(self) -> list[Finding]:
        """Watch/alert findings not yet acknowledged."""
        return [f for f in self.findings if f.needs_attention and not self.is_acknowledged(f)]


def evaluate_patient(session, patient, today: date, config: RulesConfig) -> PatientEvaluation:
    from lungtrack.core.engine import evaluate
    from lungtrack.store import repo

    history = repo.load_history(session, patient)
    evaluation = evaluate(history, today=today, config=config)
    acks = {fid: {"at": _iso(a.created_at), "note": a.note} for fid, a in repo.acknowledgements(session, patient).items()}
    snoozes = {key: s.until for key, s in repo.snoozes(session, patient).items()}
    return PatientEvaluation(history=history, evaluation=evaluation, acks=acks, snoozes=snoozes)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
