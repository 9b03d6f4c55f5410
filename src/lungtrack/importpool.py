"""Map the files of a large FHIR import each on its own: in a pool of forked workers while a
core is to spare, else one after the other; either way one parsed file at a time.

``lungtrack import fhir`` of many files spends most of its time after start-up checking,
parsing and mapping the files (pure Python), and mapped together every file is parsed before
the mapping starts (685 MB for 200 one-patient Bundles).  :func:`map_apart` maps each file on
its own (:func:`lungtrack.fhir.mapping.map_file_part`) and joins the parts in file order
(:func:`lungtrack.fhir.mapping.merge_parts`) into the plan mapping them together gives; the plan
is written through the one write path (``Writer.apply_import``), in one transaction, as before.

* :func:`map_in_pool` shares the files between this process and ``jobs - 1`` worker processes
  (``fork``: they inherit the files' text, nothing is sent to them): the workers take the files
  from the first, this process (once it has imported what the write needs) from the last, until
  they meet; a worker sends back only the mapped write inputs, plain picklable data.
* :func:`map_in_turn` maps them one after the other in this process (no spare core, or
  ``LUNGTRACK_JOBS=1``).

Mapping apart is an optimisation that never changes a result:

* it is used only with at least two files, at least :data:`POOL_MIN_CHARS` of text and no
  ``--patient``; the pool only with more than one job (``LUNGTRACK_JOBS``,
  :func:`lungtrack.jobs.jobs_wanted`), a core to spare and ``fork``;
* at a file that refers to a resource it does not hold (bulk NDJSON by resource type), when the
  parts could map differently together (see ``merge_parts``), or at any problem (bad input, a
  structural error, a pool that breaks), the functions return None and the caller maps every
  file together, as without them: the same first error, in file order, the same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lungtrack.jobs import asked_jobs, jobs_wanted

#: The least text (characters, all files together) worth a pool: about 0.5 s of mapping (16 of
#: the benchmark's one-patient Bundles).  The pool costs about a fifth more CPU than one process
#: (sending the parts back, the pool's start-up), which a free core more than pays for
#: (docs/performance.md, "Imports, sixth round").
POOL_MIN_CHARS = 8_000_000


#: What a worker process inherits from its parent (fork): the files' text and the import's label
#: (the parent maps some of the files too, from the same table).
_WORK: dict[str, Any] = {}


def pool_jobs(texts: Sequence[tuple[str, str]]) -> int:
    """How many processes :func:`map_in_pool` would share these files between (0: no pool).

    ``LUNGTRACK_JOBS=N`` (N > 1) asks for N.  Without it, 2 (a one-core machine: none), but
    only while the machine has a core to spare (:func:`_core_to_spare`).  Measured on a 2-core
    machine busy with other work, the pool made the import slower (its extra CPU, and no free
    core to run on)."""
    import os

    if len(texts) < 2 or not hasattr(os, "fork") or sum(len(text) for _name, text in texts) < POOL_MIN_CHARS:
        return 0
    jobs = min(jobs_wanted(), len(texts))
    if jobs > 1 and asked_jobs() is None and not _core_to_spare(jobs):
        return 0
    return jobs if jobs > 1 else 0


def _core_to_spare(jobs: int) -> bool:
    """Whether ``jobs`` processes would each have a core: the tasks running now besides this one
    (Linux's ``/proc/loadavg``, taken at this moment: a load average of the past minute counts
    the imports that ran just before, a pool's included) plus ``jobs`` at most the cores; where
    that count cannot be read, the 1-minute load average below the cores less one half."""
    import os

    cpus = os.cpu_count() or 1
    text = _proc_loadavg()
    try:
        running = int(text.split()[3].split("/")[0]) if text is not None else None
    except (IndexError, ValueError):
        running = None
    if running is not None:
        return (running - 1) + jobs <= cpus  # running counts this process (it is reading the file)
    try:
        load = os.getloadavg()[0]
    except OSError:
        return False
    return load < cpus - 0.5


def _proc_loadavg() -> str | None:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read()
    except OSError:
        return None


def map_apart(texts: Sequence[tuple[str, str]], source_label: str,
              meanwhile: Callable[[], None] | None = None) -> Any:
    """``(plan, extras, resources)`` as :func:`lungtrack.fhir.mapping.map_files` returns them,
    each file mapped on its own: in a pool (:func:`map_in_pool`) when :func:`pool_jobs` gives
    one, else one file after the other in this process (:func:`map_in_turn`, which holds one
    parsed file at a time, not all of them); None (the caller maps the files together) for
    fewer than two files, less than :data:`POOL_MIN_CHARS` of text, or any problem."""
    if len(texts) < 2 or sum(len(text) for _name, text in texts) < POOL_MIN_CHARS:
        return None
    jobs = pool_jobs(texts)
    if jobs > 1:
        return map_in_pool(texts, source_label, meanwhile, jobs=jobs)
    return map_in_turn(texts, source_label)


def map_in_turn(texts: Sequence[tuple[str, str]], source_label: str) -> Any:
    """The files mapped each on its own, one after the other, in this process; None at the
    first file that refers beyond itself or has any problem."""
    from lungtrack.fhir.guard import check_depth
    from lungtrack.fhir.mapping import map_file_part, merge_parts

    parts = []
    for name, text in texts:
        try:
            check_depth(text, name)
            parts.append(map_file_part(name, text, source_label, strict=True))
        except Exception:  # noqa: BLE001 - the caller's own mapping names every problem
            return None
    return merge_parts(parts, source_label)


def _map_one(i: int) -> Any:
    """A worker's task: guard, parse and map file ``i`` on its own; None on any problem (the
    parent then maps every file itself, which names the first problem as it always did)."""
    from lungtrack.fhir.guard import check_depth
    from lungtrack.fhir.mapping import map_file_part

    name, text = _WORK["texts"][i]
    try:
        check_depth(text, name)
        return map_file_part(name, text, _WORK["label"], strict=True)
    except Exception:  # noqa: BLE001 - every problem is reported by the parent's own mapping
        return None


def map_in_pool(texts: Sequence[tuple[str, str]], source_label: str,
                meanwhile: Callable[[], None] | None = None, *, jobs: int | None = None) -> Any:
    """``(plan, extras, resources)`` as :func:`lungtrack.fhir.mapping.map_files` returns them
    for ``texts`` (no ``--patient``), mapped in a pool of worker processes; or None when no pool
    is worth it (:func:`pool_jobs`), a file has a problem, or the files must be mapped together:
    the caller then maps them itself.  ``meanwhile`` runs in the parent while the workers map.
    ``jobs`` overrides :func:`pool_jobs` (tests)."""
    from lungtrack.fhir.mapping import merge_parts

    jobs = pool_jobs(texts) if jobs is None else jobs
    if jobs <= 1:
        return None
    import lungtrack.parsing.variants  # noqa: F401 - the mapping imports it on first use: once here, not per worker

    _WORK.update(texts=texts, label=source_label)
    try:
        parts = _map_shared(len(texts), jobs, meanwhile)
    finally:
        _WORK.clear()
    return None if parts is None else merge_parts(parts, source_label)


def _claim(from_end: bool) -> int | None:
    """The next file no process has taken yet: the first (a worker) or the last (this process);
    None when they have met.  ``_WORK["next"]``: [first, last] in memory shared across the fork."""
    bounds = _WORK["next"]
    with bounds.get_lock():
        first, last = bounds[0], bounds[1]
        if first > last:
            return None
        if from_end:
            bounds[1] = last - 1
            return int(last)
        bounds[0] = first + 1
        return int(first)


def _map_from_first() -> list[tuple[int, Any]]:
    """A worker's task: map the files from the first until every file is taken (or one has a
    problem); their parts go back at the end, in one message.  (Sent one by one, each waited
    on the pipe for the parent's reader thread, which waits for the interpreter lock the
    parent's mapping holds: the two processes ran by turns, measured.)"""
    out: list[tuple[int, Any]] = []
    while (i := _claim(False)) is not None:
        part = _map_one(i)
        out.append((i, part))
        if part is None:
            _give_up()
            break
    return out


def _give_up() -> None:
    """Every file taken: a problem was found, the other processes stop after their current file."""
    bounds = _WORK["next"]
    with bounds.get_lock():
        bounds[0], bounds[1] = 1, 0


def _map_shared(n: int, jobs: int, meanwhile: Callable[[], None] | None) -> list[Any] | None:
    """The parts of the ``n`` files of ``_WORK``, mapped here and in ``jobs - 1`` workers; None
    when one of them has a problem, or the pool itself fails (no process can be started, a
    worker dies): the caller then maps the files itself."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork")
    _WORK["next"] = context.Array("q", [0, n - 1])  # inherited by the workers: shared, with a lock
    parts: list[Any] = [None] * n
    failed = False
    try:
        # jobs processes in all: this one and jobs - 1 workers.  The workers take the files
        # from the first; this one, once ``meanwhile`` is done, takes them from the last, until
        # they meet.
        with ProcessPoolExecutor(max_workers=jobs - 1, mp_context=context) as pool:
            futures = [pool.submit(_map_from_first) for _ in range(jobs - 1)]
            if meanwhile is not None:
                meanwhile()
            while (i := _claim(True)) is not None:
                parts[i] = _map_one(i)
                if parts[i] is None:
                    failed = True
                    _give_up()
            for future in futures:
                for i, part in future.result():
                    parts[i] = part
                    failed = failed or part is None
    except (OSError, BrokenProcessPool):
        return None
    return None if failed else parts
