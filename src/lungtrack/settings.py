"""Reading the user's thresholds file (shell side of :mod:`lungtrack.core.config`).

The file is ``thresholds.toml`` in the user config directory (``$XDG_CONFIG_HOME/lungtrack``
when set), or the file named by ``LUNGTRACK_CONFIG``.  Missing keys keep the defaults; an
invalid value is refused with a message naming the key, the value and the accepted form.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from lungtrack.core.config import RulesConfig
from lungtrack.errors import ConfigError

THRESHOLDS_FILENAME = "thresholds.toml"


def thresholds_path() -> Path:
    explicit = os.environ.get("LUNGTRACK_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    from lungtrack.store.paths import config_dir

    return config_dir() / THRESHOLDS_FILENAME


def load_rules_config(path: Path | None = None) -> RulesConfig:
    path = path or thresholds_path()
    if not path.exists():
        if os.environ.get("LUNGTRACK_CONFIG"):
            raise ConfigError(f"LUNGTRACK_CONFIG: {path} does not exist; expected a TOML thresholds file")
        return RulesConfig()
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line} is not UTF-8 text (byte 0x{raw[exc.start]:02x}); expected a UTF-8 "
                          "TOML thresholds file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); expected [section] tables of key = value") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; expected a TOML thresholds file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply; expected [section] tables of key = value") from None
    return RulesConfig.from_mapping(data, origin=str(path))


def render_defaults_toml(config: RulesConfig | None = None) -> str:
    """The thresholds as TOML text (used by `lungtrack config show` and the docs)."""
    config = config or RulesConfig()
    lines: list[str] = []
    for section, values in config.to_mapping().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, bool):
                shown = "true" if value else "false"
            else:
                shown = repr(value)
            lines.append(f"{key} = {shown}")
        lines.append("")
    return "\n".join(lines)
