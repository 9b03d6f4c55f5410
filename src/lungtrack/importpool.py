"""Map the files of a large FHIR import in a pool of forked worker processes.

``lungtrack import fhir`` of many files spends most of its time after start-up checking,
parsing and mapping the files (pure Python, one core).  :func:`map_in_pool` hands each file to a
pool of worker processes (``fork``: they inherit the files' text, nothing is sent to them but
the file's number); each runs the nesting guard, parses and maps its file on its own
(:func:`lungtrack.fhir.mapping.map_file_part`) and sends back only the mapped write inputs,
plain picklable data.  Meanwhile the parent process can import what the write needs.  The
parent then joins the files' parts in file order (:func:`lungtrack.fhir.mapping.merge_parts`)
and writes the plan through the one write path (``Writer.apply_import``), in one transaction,
as before.

The pool is an optimisation that never changes a result:

* it is used only when it can pay: at least two files, at least :data:`POOL_MIN_CHARS` of text,
  more than one job (``LUNGTRACK_JOBS``, as :func:`lungtrack.services.jobs_wanted`), no
  ``--patient``, and ``fork`` available;
* when a worker meets any problem (bad input, a structural error) or the files' parts could map
  differently together (a reference from one file to another's resource, a patient in two files:
  see ``merge_parts``), :func:`map_in_pool` returns None and the caller maps every file itself,
  as without a pool: the same first error, in file order, the same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

#: The least text (characters, all files together) worth a pool: about 0.3 s of mapping (20 of
#: the benchmark's one-patient Bundles).  Starting two workers and sending their parts back
#: costs about 0.05 s (docs/performance.md, "Imports, sixth round").
POOL_MIN_CHARS = 8_000_000

#: What a worker process inherits from its parent (fork): the files' text and the import's label.
_WORK: dict[str, Any] = {}


def pool_jobs(texts: Sequence[tuple[str, str]]) -> int:
    """How many worker processes :func:`map_in_pool` would start for these files (0: none)."""
    import os

    if len(texts) < 2 or not hasattr(os, "fork") or sum(len(text) for _name, text in texts) < POOL_MIN_CHARS:
        return 0
    from lungtrack.services import jobs_wanted

    jobs = min(jobs_wanted(), len(texts))
    return jobs if jobs > 1 else 0


def _map_one(i: int) -> Any:
    """A worker's task: guard, parse and map file ``i`` on its own; None on any problem (the
    parent then maps every file itself, which names the first problem as it always did)."""
    from lungtrack.fhir.guard import check_depth
    from lungtrack.fhir.mapping import map_file_part

    name, text = _WORK["texts"][i]
    try:
        check_depth(text, name)
        return map_file_part(name, text, _WORK["label"])
    except Exception:  # noqa: BLE001 - every problem is reported by the parent's own mapping
        return None


def map_in_pool(texts: Sequence[tuple[str, str]], source_label: str,
                meanwhile: Callable[[], None] | None = None, *, jobs: int | None = None) -> Any:
    """``(plan, extras, resources)`` as :func:`lungtrack.fhir.mapping.map_files` returns them
    for ``texts`` (no ``--patient``), mapped in a pool of worker processes; or None when no pool
    is worth it (:func:`pool_jobs`), a file has a problem, or the files must be mapped together:
    the caller then maps them itself.  ``meanwhile`` runs in the parent while the workers map.
    ``jobs`` overrides :func:`pool_jobs` (tests)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lungtrack.fhir.mapping import merge_parts

    jobs = pool_jobs(texts) if jobs is None else jobs
    if jobs <= 1:
        return None
    _WORK.update(texts=texts, label=source_label)
    parts = []
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_map_one, i) for i in range(len(texts))]
            if meanwhile is not None:
                meanwhile()
            for future in futures:
                part = future.result()
                if part is None:
                    pool.shutdown(wait=True, cancel_futures=True)
                    return None
                parts.append(part)
    finally:
        _WORK.clear()
    return merge_parts(parts, source_label)
