"""The cyclic garbage collector's settings for the long runs (all-patient commands, imports).

Those runs build many short- or long-lived objects that hold no reference cycles (histories,
findings, parsed files, import plans): reference counting frees them, and Python's default
collector settings only walk them again and again for nothing (a quarter of ``import fhir``'s
CPU, 2-4 % of ``check --all-patients``; docs/performance.md).  Standard library only.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_start(young_threshold: int | None = None) -> Iterator[None]:
    """The objects alive now (the start-up's modules, SQLAlchemy's tables) moved to the
    permanent generation, so that no collection walks them again (nor touches, in forked
    workers, the pages they share with the parent); with ``young_threshold`` the young
    generation is collected after that many new objects instead of 700.  Put back at the end
    (what someone else froze stays frozen)."""
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    if young_threshold is not None:
        gc.set_threshold(young_threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not frozen_before:
            gc.unfreeze()


@contextmanager
def no_collection() -> Iterator[None]:
    """No automatic collection while code that makes no reference cycles runs; the collector
    is switched back on at the end if it was on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_survivors() -> None:
    """Move every object alive now (an import's parsed files and plan) to the permanent
    generation, where no collection walks it; :func:`frozen_start` puts them back at its end."""
    gc.freeze()
