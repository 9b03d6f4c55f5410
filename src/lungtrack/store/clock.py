"""``utcnow``: the timestamp every row's ``created_at``/``updated_at`` and every journal change gets.

Its own module so that the Core write path (:mod:`lungtrack.records.writer`) and the journal use
it without importing the SQLModel classes."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Current UTC time (aware).  SQLite stores it without a zone; it is read back as UTC."""
    return datetime.now(timezone.utc).replace(microsecond=0)
