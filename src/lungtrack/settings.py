"""Reading the user's thresholds file (shell side of :mod:`lungtrack.core.config`).

The file is ``thresholds.toml`` in the user config directory (``$XDG_CONFIG_HOME/lungtrack``
when set), or the file named by ``LUNGTRACK_CONFIG``.  Missing keys keep the defaults; an
invalid value is refused with a message naming the key, the value and the accepted form.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from lungtrack.errors import ConfigError

if TYPE_CHECKING:  # imported where used: reading a date setting does not build the rule config classes
    from lungtrack.core.config import RulesConfig

THRESHOLDS_FILENAME = "thresholds.toml"


def thresholds_path() -> Path:
    explicit = os.environ.get("LUNGTRACK_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    from lungtrack.store.paths import config_dir

    return config_dir() / THRESHOLDS_FILENAME


def load_rules_config(path: Path | None = None) -> RulesConfig:
    from lungtrack.core.config import RulesConfig

    path = path or thresholds_path()
    if not path.exists():
        if os.environ.get("LUNGTRACK_CONFIG"):
            raise ConfigError(f"LUNGTRACK_CONFIG: {path} does not exist; expected a TOML thresholds file")
        return RulesConfig()
    import tomllib  # only when there is a file to read

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
    from lungtrack.core.config import RulesConfig

    config = config or RulesConfig()
    lines: list[str] = []
    for section, values in config.to_mapping().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, bool):
                shown = "true" if value else "false"
            elif isinstance(value, str):
                shown = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'  # a TOML basic string
            else:
                shown = repr(value)
            lines.append(f"{key} = {shown}")
        lines.append("")
    return "\n".join(lines)


def date_order() -> str | None:
    """The ``input.locale_order`` setting for reading ambiguous numeric dates (None: refuse them).

    A missing or unreadable file means the default (refuse); a broken file is reported by the
    commands that evaluate the rules, not by every date typed.
    """
    try:
        path = thresholds_path()
        if not path.is_file():  # no thresholds file: the default, without building the rule config
            return None
        order = load_rules_config(path).input.locale_order
    except Exception:  # noqa: BLE001 - see the docstring
        return None
    return None if order == "none" else order


def write_setting(key: str, value: str, path: Path | None = None) -> Path:
    """Set ``section.key = value`` in the thresholds file (created if missing), keeping its other
    keys; the result is validated before anything is written.  Comments are not kept."""
    from lungtrack.core.config import RulesConfig

    path = path or thresholds_path()
    data: dict = {}
    if path.exists():
        import tomllib

        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise ConfigError(f"{path}: cannot be read ({exc}); fix or remove it first") from None
    section, _, name = key.partition(".")
    if not name:
        raise ConfigError(f"{key}: expected SECTION.KEY, e.g. input.locale_order")
    defaults = RulesConfig().to_mapping()
    if section not in defaults or name not in defaults[section]:
        raise ConfigError(f"{key}: unknown setting; see 'lungtrack config show' for the keys")
    default = defaults[section][name]
    parsed: object = value
    if isinstance(default, bool):
        parsed = {"true": True, "false": False}.get(value.strip().lower(), value)
    elif isinstance(default, (int, float)):
        try:
            parsed = int(value) if isinstance(default, int) and value.strip().isdigit() else float(value)
        except ValueError:
            parsed = value
    data.setdefault(section, {})[name] = parsed
    RulesConfig.from_mapping(data, origin=str(path))  # raises ConfigError naming the key
    lines: list[str] = []
    for sec, values in data.items():
        lines.append(f"[{sec}]")
        for k, v in values.items():
            if isinstance(v, bool):
                shown = "true" if v else "false"
            elif isinstance(v, str):
                shown = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            else:
                shown = repr(v)
            lines.append(f"{k} = {shown}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)
    return path
