"""The one write path: every change to the store goes through here.

:mod:`lungtrack.records.inputs` is the contract (standard library only).  The writer
(:func:`writer`) is imported lazily so that importing the inputs stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["writer"]


def writer(*args: Any, **kwargs: Any) -> Any:
    from lungtrack.records.writer import writer as _writer

    return _writer(*args, **kwargs)
