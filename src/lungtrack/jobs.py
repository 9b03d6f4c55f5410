"""How many processes lungtrack's parallel work uses: ``LUNGTRACK_JOBS=N`` when it asks for some,
else :data:`DEFAULT_JOBS` (1 on a one-core machine).  One rule for the all-patient commands
(:func:`lungtrack.services.stream_all_patients`) and a large FHIR import
(:mod:`lungtrack.importpool`).  Standard library only: an import's start-up reads it.
"""

from __future__ import annotations

import os

#: Worker processes for the all-patient commands (``LUNGTRACK_JOBS=N`` asks for a pool of N; 1 means
#: none).  Each worker reads AND evaluates its own patients (no history crosses a process boundary;
#: only each patient's finished output comes back).  Default: 2, or 1 on a one-core machine:
#: measured in docs/performance.md (third pass), 2 workers took 0.6-0.7x the wall time of one
#: process when a core was free, for about 10 % more CPU, and gained nothing when other work held
#: the second core; more than 2 was not measured.
DEFAULT_JOBS = 2


def asked_jobs() -> int | None:
    """N when ``LUNGTRACK_JOBS`` is a whole number of at least 1; else None (unset, "0", "x")."""
    raw = os.environ.get("LUNGTRACK_JOBS", "")
    if raw.strip().isdigit() and int(raw) >= 1:
        return int(raw)
    return None


def jobs_wanted() -> int:
    """``LUNGTRACK_JOBS=N`` when it asks, else :data:`DEFAULT_JOBS` (1 on a one-core machine)."""
    asked = asked_jobs()
    return asked if asked is not None else min(DEFAULT_JOBS, os.cpu_count() or 1)
