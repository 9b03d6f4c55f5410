"""Where the store lives.  Standard library + platformdirs only (cheap to import).

Resolution order: ``--db`` (a path or a database URL) > ``LUNGTRACK_DB`` >
``$XDG_DATA_HOME/lungtrack/lungtrack.db`` when ``XDG_DATA_HOME`` is set (on every platform) >
``platformdirs.user_data_dir("lungtrack")/lungtrack.db``.  The demo uses ``demo.db`` in the
same directory so that it never mixes with the user's records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STORE_FILENAME = "lungtrack.db"
DEMO_FILENAME = "demo.db"


def data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg).expanduser() / "lungtrack"
    import platformdirs

    return Path(platformdirs.user_data_dir("lungtrack", appauthor=False))


def config_dir() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg).expanduser() / "lungtrack"
    import platformdirs

    return Path(platformdirs.user_config_dir("lungtrack", appauthor=False))


@dataclass(frozen=True)
class StoreLocation:
    url: str  # SQLAlchemy URL
    path: Path | None  # the SQLite file, or None for a server database
    explicit: bool  # named by --db or LUNGTRACK_DB

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def display(self) -> str:
        """The location with any password masked."""
        if self.path is not None:
            return str(self.path)
        return mask_password(self.url)


def mask_password(url: str) -> str:
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"


def resolve(db: str | None = None, *, demo: bool = False) -> StoreLocation:
    """Turn ``--db``/``LUNGTRACK_DB``/defaults into a store location."""
    explicit = db or os.environ.get("LUNGTRACK_DB") or None
    if explicit:
        return _from_text(explicit)
    path = data_dir() / (DEMO_FILENAME if demo else STORE_FILENAME)
    return StoreLocation(url=f"sqlite:///{path}", path=path, explicit=False)


def _from_text(text: str) -> StoreLocation:
    text = text.strip()
    if "://" in text:
        if text.startswith("sqlite:///"):
            path = Path(text[len("sqlite:///"):]).expanduser()
            return StoreLocation(url=f"sqlite:///{path}", path=path, explicit=True)
        if text.startswith("postgres://"):
            text = "postgresql+psycopg://" + text[len("postgres://"):]
        elif text.startswith("postgresql://"):
            text = "postgresql+psycopg://" + text[len("postgresql://"):]
        return StoreLocation(url=text, path=None, explicit=True)
    path = Path(text).expanduser().absolute()
    return StoreLocation(url=f"sqlite:///{path}", path=path, explicit=True)
