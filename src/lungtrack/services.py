"""Shell-side glue between the store and the pure rules: load, evaluate, attach acknowledgements.

Used by ``check``, ``remind``, ``summary`` and ``report`` so that they all see the same findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator

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


def evaluate_patient(source, patient, today: date, config: RulesConfig) -> PatientEvaluation:
    """Load one patient's history (``source``: a Core connection from ``Store.read()``, or an ORM
    session inside a write), run the rules and attach the acknowledgements and snoozes."""
    from lungtrack.core.engine import evaluate
    from lungtrack.store import read

    conn = connection_of(source)
    history = read.build_histories(conn, [patient])[0]
    evaluation = evaluate(history, today=today, config=config)
    acks, snoozes = read.acks_and_snoozes(conn, [patient.id])
    return PatientEvaluation(history=history, evaluation=evaluation, acks=acks[patient.id], snoozes=snoozes[patient.id])


def connection_of(source: Any) -> Any:
    """The Core connection behind ``source`` (a connection already, or an ORM session's)."""
    from sqlalchemy.engine import Connection

    return source if isinstance(source, Connection) else source.connection()


#: Patients read per batch by the all-patient commands (one query per table per batch).
BATCH_SIZE = 200
#: Worker processes for the all-patient commands (``LUNGTRACK_JOBS=N`` asks for a pool of N).
#: Measured (docs/performance.md): on the shared 2-core machine a pool of 2 gave the same wall
#: time as 1 process (0.98x) for 36 % more CPU time (pickling histories and results), so the
#: default is no pool.
DEFAULT_JOBS = 1


def _evaluate_item(work: Callable[[PatientEvaluation], Any], today: date, config: RulesConfig,
                   item: tuple[History, dict, dict]) -> Any:
    from lungtrack.core.engine import evaluate

    history, acks, snoozes = item
    pe = PatientEvaluation(history=history, evaluation=evaluate(history, today=today, config=config),
                           acks=acks, snoozes=snoozes)
    return work(pe)


def _evaluate_chunk(work, today, config, items) -> list[Any]:
    return [_evaluate_item(work, today, config, it) for it in items]


def jobs_wanted() -> int:
    import os

    raw = os.environ.get("LUNGTRACK_JOBS", "")
    if raw.strip().isdigit() and int(raw) >= 1:
        return int(raw)
    return min(DEFAULT_JOBS, os.cpu_count() or 1)


def stream_all_patients(session, today: date, config: RulesConfig, work: Callable[[PatientEvaluation], Any], *,
                        batch_size: int | None = None, jobs: int | None = None,
                        on_batch: Callable[[int], None] | None = None) -> Iterator[tuple[Any, Any]]:
    """``(patient row, work(evaluation))`` for every patient in name order, as each is done.

    Patients are read in batches of ``batch_size`` (default :data:`BATCH_SIZE`) with one query per table
    (:func:`lungtrack.store.read.load_histories`); memory holds one or two batches, whatever the
    size of the store.  ``work`` turns a :class:`PatientEvaluation` into what the caller prints
    (it must be a module-level function when ``jobs`` > 1: it runs in worker processes, while
    the parent reads the next batch).  ``on_batch(n)`` is called after each batch of n patients.
    """
    from functools import partial

    from lungtrack.store import read

    conn = connection_of(session)
    jobs = jobs_wanted() if jobs is None else jobs
    batch_size = BATCH_SIZE if batch_size is None else batch_size

    def load(batch):
        ids = [p.id for p in batch]
        histories = read.load_histories(conn, ids)
        acks, snoozes = read.acks_and_snoozes(conn, ids)
        return [(hh, acks[hh.patient.id], snoozes[hh.patient.id]) for hh in histories]

    batches = read.iter_patient_batches(conn, batch_size)
    first = next(batches, None)
    if first is None:
        return
    if jobs <= 1 or len(first) < batch_size:  # one small batch: a pool would only cost start-up time
        batch: list[Any] | None = first
        while batch is not None:
            for p, item in zip(batch, load(batch)):
                yield p, _evaluate_item(work, today, config, item)
            if on_batch is not None:
                on_batch(len(batch))
            batch = next(batches, None)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork") if hasattr(__import__("os"), "fork") else None
    run = partial(_evaluate_chunk, work, today, config)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        def submit(batch):
            items = load(batch)
            size = max(1, len(items) // (jobs * 4))
            return batch, [pool.submit(run, items[i:i + size]) for i in range(0, len(items), size)]

        pending = submit(first)
        while pending is not None:
            batch, futures = pending
            nxt = next(batches, None)
            pending = submit(nxt) if nxt is not None else None  # read the next batch while workers evaluate
            results = (r for f in futures for r in f.result())
            for p, r in zip(batch, results):
                yield p, r
            if on_batch is not None:
                on_batch(len(batch))
