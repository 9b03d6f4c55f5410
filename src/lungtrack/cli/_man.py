"""The manual page lungtrack(1), generated from the Click command tree (roff ``man`` macros).

One source of truth: the text is each command's own help, options and metavars, so the man page
cannot drift from ``--help`` (``docs/lungtrack.1`` is a generated copy; a test checks it is
current, and the wheel installs it as ``share/man/man1/lungtrack.1``).
"""

from __future__ import annotations

import re
from typing import Any

_EXIT_CODES = [("0", "nothing needs attention (or the command succeeded)"),
               ("1", "error: the store is missing or unreadable, a file cannot be written"),
               ("2", "bad usage or input, including an id or name that does not exist; nothing was written"),
               ("3", "something needs attention (check, remind)"),
               ("130", "interrupted; nothing was saved")]


def _esc(text: str) -> str:
    """Text safe in roff: backslashes doubled, a leading dot or quote escaped, dashes as \\-."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in text.split("\n"))


def _para(text: str) -> str:
    return _esc(" ".join(text.replace("\b", "").split()))


def _tree() -> list[tuple[list[str], Any]]:
    import typer.main

    from lungtrack.cli import app

    root = typer.main.get_command(app)
    out: list[tuple[list[str], Any]] = [([], root)]

    def walk(group: Any, prefix: list[str]) -> None:
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            if cmd is None or getattr(cmd, "hidden", False):
                continue
            out.append((prefix + [name], cmd))
            if hasattr(cmd, "list_commands"):
                walk(cmd, prefix + [name])

    walk(root, [])
    return out


def _usage(path: list[str], cmd: Any) -> str:
    parts = ["lungtrack", *path]
    if any(p.param_type_name == "option" for p in cmd.params):
        parts.append("[OPTIONS]")
    for p in cmd.params:
        if p.param_type_name == "argument":
            parts.append(p.metavar if p.required else f"[{p.metavar}]")
    if hasattr(cmd, "list_commands"):
        parts.append("COMMAND")
    return " ".join(parts)


def _option(p: Any) -> tuple[str, str]:
    names = ", ".join(p.opts + list(getattr(p, "secondary_opts", []) or []))
    if not getattr(p, "is_flag", False) and p.metavar:
        names += f" {p.metavar}"
    help_text = p.help or ""
    if getattr(p, "envvar", None) and getattr(p, "show_envvar", False):
        help_text += f" (environment: {p.envvar})"
    return names, help_text


def render_man(version: str | None = None, date: str = "2026") -> str:
    """lungtrack(1) as roff text."""
    from lungtrack import __version__

    tree = _tree()
    root = tree[0][1]
    lines = [f'.TH LUNGTRACK 1 "{date}" "lungtrack {version or __version__}" "User Commands"',
             ".SH NAME", "lungtrack \\- track CT results, tumour markers and biopsy findings during targeted "
             "therapy for lung cancer",
             ".SH SYNOPSIS", ".B lungtrack", "[\\fB\\-\\-db\\fR \\fIPATH|URL\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
             ".SH DESCRIPTION"]
    description = (root.help or "").split("Exit codes:")[0]
    for para in re.split(r"\n\s*\n", description.strip()):
        lines += [".PP", _para(para)]
    lines += [".SH GLOBAL OPTIONS"]
    for p in root.params:
        if p.param_type_name == "option" and p.help:
            names, text = _option(p)
            lines += [".TP", f"\\fB{_esc(names)}\\fR", _para(text)]
    lines += [".SH COMMANDS"]
    for path, cmd in tree[1:]:
        lines += [".SS " + _esc(" ".join(path)), ".B " + _esc(_usage(path, cmd))]
        for para in re.split(r"\n\s*\n", (cmd.help or "").strip()):
            if para.strip():
                lines += [".PP", _para(para)]
        for p in cmd.params:
            if p.param_type_name == "argument":
                lines += [".TP", f"\\fI{_esc(p.metavar)}\\fR", _para(p.help or "")]
        for p in cmd.params:
            if p.param_type_name == "option" and p.name != "help":
                names, text = _option(p)
                lines += [".TP", f"\\fB{_esc(names)}\\fR", _para(text)]
    lines += [".SH EXIT STATUS"]
    for code, text in _EXIT_CODES:
        lines += [".TP", f"\\fB{code}\\fR", _para(text)]
    lines += [".SH ENVIRONMENT",
              ".TP", "\\fBLUNGTRACK_DB\\fR", "The store (a file path or a database URL), as \\fB\\-\\-db\\fR.",
              ".TP", "\\fBLUNGTRACK_PATIENT\\fR", "The patient, as \\fB\\-\\-patient\\fR.",
              ".TP", "\\fBLUNGTRACK_CONFIG\\fR", "Another thresholds file instead of thresholds.toml.",
              ".TP", "\\fBNO_COLOR\\fR", "Set (to anything) for no colour; output still fits the terminal.",
              ".SH FILES",
              ".TP", "\\fI$XDG_DATA_HOME/lungtrack/lungtrack.db\\fR", "The default store (mode 0600).",
              ".TP", "\\fI$XDG_CONFIG_HOME/lungtrack/thresholds.toml\\fR",
              "Rule thresholds and the input.locale_order setting (see \\fBlungtrack config\\fR).",
              ".SH SEE ALSO",
              "The documentation in docs/ (usage.md, reports.md, rules.md, formats.md). lungtrack never diagnoses "
              "and never advises treatment: every finding is a topic to discuss with the care team."]
    return "\n".join(lines) + "\n"
