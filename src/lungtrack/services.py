"""Shell-side glue between the store and the pure rules: load, evaluate, attach acknowledgements.

Used by ``check``, ``remind``, ``summary`` and ``report`` so that they all see the same findings.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator

from lungtrack.core.config import RulesConfig
from lungtrack.core.findings import Finding
from lungtrack.core.history import History
from lungtrack.jobs import DEFAULT_JOBS, jobs_wanted  # noqa: F401 - the one rule (lungtrack.jobs), read here too


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


def _evaluate_item(work: Callable[[PatientEvaluation], Any], today: date, config: RulesConfig,
                   item: tuple[History, dict, dict]) -> Any:
    from lungtrack.core.engine import evaluate

    history, acks, snoozes = item
    pe = PatientEvaluation(history=history, evaluation=evaluate(history, today=today, config=config),
                           acks=acks, snoozes=snoozes)
    return work(pe)


def _load_items(conn, ids: list[int]) -> list[tuple[History, dict, dict]]:
    """The histories, acknowledgements and snoozes of a batch of patient ids (bulk queries)."""
    from lungtrack.store import read

    histories = read.load_histories(conn, ids)
    acks, snoozes = read.acks_and_snoozes(conn, ids)
    return [(hh, acks[hh.patient.id], snoozes[hh.patient.id]) for hh in histories]


#: What a worker process of :func:`stream_all_patients` inherits from its parent (fork).
_WORKER: dict[str, Any] = {}


def _worker_start() -> None:
    """In a new worker: its own connections (the parent's, copied by fork, stay the parent's)."""
    _WORKER["engine"].dispose(close=False)


def _worker_run(ids: list[int]) -> list[tuple[int, Any]]:
    """A worker's task: load AND evaluate these patients on its own connection; only each
    patient's result (what ``work`` returns) goes back to the parent."""
    work, today, config = _WORKER["work"], _WORKER["today"], _WORKER["config"]
    with _WORKER["engine"].connect() as conn:
        items = _load_items(conn, ids)
        conn.rollback()  # read only: end the read transaction before evaluating
    out = [(item[0].patient.id, _evaluate_item(work, today, config, item)) for item in items]
    del items
    _collect_batch()
    return out


def stream_all_patients(session, today: date, config: RulesConfig, work: Callable[[PatientEvaluation], Any], *,
                        batch_size: int | None = None, jobs: int | None = None,
                        on_batch: Callable[[int], None] | None = None) -> Iterator[tuple[Any, Any]]:
    """``(patient row, work(evaluation))`` for every patient in name order, as each is done.

    ``session``: a Core connection (``Store.read()``) or an ORM session.  Patients are read in
    batches of ``batch_size`` (default :data:`BATCH_SIZE`) with one query per table
    (:func:`lungtrack.store.read.load_histories`); memory holds one or two batches, whatever the
    size of the store.  ``work`` turns a :class:`PatientEvaluation` into what the caller prints.

    With ``jobs`` > 1 (and ``fork`` available) a pool of that many worker processes each reads
    and evaluates its own share of a batch on its own connection, and sends back only ``work``'s
    results (so ``work`` must be a module-level function or a ``functools.partial`` of one, and
    its results picklable); the parent reads the next patient ids meanwhile and yields the results
    in order.  A patient deleted between the parent's read and the worker's is left out.
    ``on_batch(n)`` is called after each batch of n patients.
    """
    conn = connection_of(session)
    jobs = jobs_wanted() if jobs is None else jobs
    batch_size = BATCH_SIZE if batch_size is None else batch_size
    with _collector_for_batches():
        yield from _stream(conn, today, config, work, batch_size, jobs, on_batch)


@contextmanager
def _collector_for_batches() -> Iterator[None]:
    """The garbage collector set for many short-lived, acyclic objects (a batch's histories and
    findings, freed by reference counting): the start-up's objects are frozen
    (:func:`lungtrack.gcsettings.frozen_start`) and the automatic collections are off
    (:func:`lungtrack.gcsettings.no_collection`); instead :func:`_collect_batch` runs one
    collection after each batch (each worker's share), so that cyclic garbage still goes, at
    most one batch of it at a time, and memory stays flat.  The settings are put back at the
    end.  The automatic collections found almost nothing and cost about 10 % of the CPU of
    ``check --all-patients`` with Python's default threshold (0.7 s of 8 s on 1,000 patients),
    and still 2-4 % with a threshold of 10,000."""
    from lungtrack.gcsettings import frozen_start, no_collection

    with frozen_start(), no_collection():
        yield


def _collect_batch() -> None:
    """One collection of what a batch left (see :func:`_collector_for_batches`): the young
    generations only, where everything made since the last collection is (the objects still
    alive then, such as modules imported on the first patient and the caches, move to the old
    generation, which is not walked again until the stream ends: a full collection per batch
    walked them every time, about 5 ms a batch)."""
    import gc

    if not gc.isenabled():
        gc.collect(1)


def _stream(conn, today: date, config: RulesConfig, work: Callable[[PatientEvaluation], Any], batch_size: int,
            jobs: int, on_batch: Callable[[int], None] | None) -> Iterator[tuple[Any, Any]]:
    import os

    from lungtrack.store import read

    batches = read.iter_patient_batches(conn, batch_size)
    first = next(batches, None)
    if first is None:
        return
    if jobs <= 1 or len(first) < batch_size or not hasattr(os, "fork"):
        # one process; also for one small batch (a pool would only cost its start-up)
        batch: list[Any] | None = first
        while batch is not None:
            for p, item in zip(batch, _load_items(conn, [p.id for p in batch])):
                yield p, _evaluate_item(work, today, config, item)
            if on_batch is not None:
                on_batch(len(batch))
            batch = next(batches, None)
            if batch is not None:  # not after the last one: the collector is on again then
                _collect_batch()
        return
    yield from _stream_in_pool(conn, first, batches, today, config, work, jobs, on_batch)


def _stream_in_pool(conn, first, batches, today, config, work, jobs: int,
                    on_batch: Callable[[int], None] | None) -> Iterator[tuple[Any, Any]]:
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    _WORKER.update(engine=conn.engine, work=work, today=today, config=config)
    pending: deque[tuple[list[Any], list[Any]]] = deque()
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_worker_start) as pool:
            def submit(batch: list[Any]) -> None:
                ids = [p.id for p in batch]
                size = -(-len(ids) // jobs)  # one share per worker
                pending.append((batch, [pool.submit(_worker_run, ids[i:i + size]) for i in range(0, len(ids), size)]))

            def done() -> Iterator[tuple[Any, Any]]:
                batch, futures = pending.popleft()
                results = dict(r for f in futures for r in f.result())
                for p in batch:
                    if p.id in results:
                        yield p, results[p.id]
                if on_batch is not None:
                    on_batch(len(batch))
                _collect_batch()

            submit(first)
            for batch in batches:
                submit(batch)  # read the next ids while the workers evaluate
                while len(pending) > 2:
                    yield from done()
            while pending:
                yield from done()
    finally:
        _WORKER.clear()
