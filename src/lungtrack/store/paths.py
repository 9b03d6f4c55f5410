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


_PASSWORD_KEYS = ("password", "passwd", "pwd", "sslpassword")


def mask_password(url: str, mask: str = "***") -> str:
    """The URL with every password masked: in the user info (``user:secret@host``) and in query
    parameters (``?password=secret``).  ``mask=""`` drops the password instead."""
    import re

    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    path_part, sep, query = rest.partition("?")
    if "@" in path_part:
        creds, host = path_part.rsplit("@", 1)
        if ":" in creds:
            user = creds.split(":", 1)[0]
            creds = f"{user}:{mask}" if mask else user
        path_part = f"{creds}@{host}"
    if sep:
        keys = "|".join(_PASSWORD_KEYS)
        if mask:
            query = re.sub(rf"(?i)(^|[&;])({keys})=[^&;#]*", lambda m: f"{m.group(1)}{m.group(2)}={mask}", query)
        else:
            query = "&".join(q for q in re.split(r"[&;]", query)
                             if q.split("=", 1)[0].lower() not in _PASSWORD_KEYS)
            sep = "?" if query else ""
    return f"{scheme}://{path_part}{sep}{query}"


def strip_password(url: str) -> str:
    """The URL without any password (for lines that are stored or shown, such as a crontab)."""
    return mask_password(url, mask="")


def redact(text: str) -> str:
    """``text`` with database passwords masked wherever they appear: URLs with user info or
    ``password=`` parameters, ``password=...`` in connection strings, and the value of
    ``PGPASSWORD`` / ``LUNGTRACK_DB``'s password when set."""
    import re

    text = re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+", lambda m: mask_password(m.group(0)), text)
    keys = "|".join(_PASSWORD_KEYS)
    text = re.sub(rf"(?i)\b({keys})\s*=\s*('[^']*'|\"[^\"]*\"|[^\s&;'\"]+)", lambda m: f"{m.group(1)}=***", text)
    secrets = [os.environ.get("PGPASSWORD") or ""]
    for var in ("LUNGTRACK_DB", "LUNGTRACK_TEST_PG_URL"):
        value = os.environ.get(var) or ""
        m = re.match(r"[^:]+://[^:/@]+:([^@]+)@", value)
        if m:
            secrets.append(m.group(1))
    for secret in secrets:
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


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
