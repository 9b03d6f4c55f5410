"""Help that reads like a manual: real metavars, complete command summaries, every option described.

Applied once to the whole command tree when the root group is built (standard library + Typer
only, so ``--help`` and completion stay fast):

* a value's metavar says what to type (``--date DATE``, ``--lesion LESION``, ``ID``), never
  Typer's ``<str>`` / ``<list[str]>``; choices show as ``[ct|pet-ct|mri|x-ray]``;
* arguments show as ``NAME`` (required) and ``[UNIT]`` (optional) in the usage line;
* a command's summary in its group's list is its first sentence, whole (Click would cut it at
  45 characters with "...");
* an ``edit`` option without its own help borrows the help of the same option of ``add`` (an
  ``edit`` takes the same options as its ``add``).

``tests/test_help.py`` walks the tree and enforces all of it.
"""

from __future__ import annotations

import re
from typing import Any

#: What to type, by the option's long name.  Anything not listed gets its name in capitals.
OPTION_METAVARS = {
    "--date": "DATE", "--on": "DATE", "--diagnosed": "DATE", "--start": "DATE", "--end": "DATE",
    "--next-appointment": "DATE", "--since": "DATE|DURATION",
    "--imaging-every": "DURATION", "--imaging-due-soon": "DURATION", "--imaging-overdue": "DURATION",
    "--markers-every": "DURATION", "--markers-due-soon": "DURATION", "--markers-overdue": "DURATION",
    "--lesion": "LESION", "--new-lesion": "LESION", "--equivocal-new-lesion": "LESION", "--remove-lesion": "LABEL",
    "--label": "LABEL", "--site": "SITE", "--role": "ROLE", "--slice": "MM",
    "--marker": "MARKER", "--value": "VALUE", "--unit": "UNIT", "--uln": "VALUE", "--lab": "NAME",
    "--gene": "GENE", "--variant": "VARIANT", "--vaf": "PERCENT", "--assay": "NAME",
    "--driver": "DRIVER", "--subtype": "SUBTYPE", "--histology": "HISTOLOGY", "--name": "NAME", "--patient": "NAME",
    "--drug": "DRUG", "--line": "ID", "--db": "PATH|URL", "--output": "FILE", "--ics": "FILE",
    "--sections": "SECTIONS", "--time": "HH:MM", "--snooze": "KEY DURATION", "--unsnooze": "KEY",
    "--impression": "IMPRESSION", "--description": "DESCRIPTION", "--note": "NOTE", "--text": "NOTE",
    "--reason": "REASON",
    "--shell": "SHELL", "--locale-order": "ORDER",
}
#: By the argument's parameter name.
ARGUMENT_METAVARS = {
    "appointment_id": "ID", "finding_id": "ID", "line_id": "ID", "note_id": "ID", "result_id": "ID",
    "study_id": "ID", "files": "FILE...", "unit_arg": "UNIT", "what": "WHAT", "text": "NOTE",
}
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Dr.", "approx.")


def first_sentence(text: str | None) -> str:
    """The first sentence of a help text, whole, ending with a full stop."""
    if not text:
        return ""
    para = " ".join(text.strip().split("\n\n", 1)[0].replace("\b", "").split())
    end = len(para)
    for m in re.finditer(r"[.!?](?=\s+[A-Z(])", para):
        if not any(para[: m.end()].endswith(a) for a in _ABBREVIATIONS):
            end = m.end()
            break
    sentence = para[:end].strip()
    return sentence if sentence.endswith((".", "!", "?")) else sentence.rstrip(":;,") + "."


def _choice_metavar(param: Any, ctx: Any) -> str | None:
    try:
        desc = param.type_descriptor
    except AttributeError:  # pragma: no cover - another Typer
        return None
    if not getattr(desc, "is_choice", False):
        return None
    label = param.display_type(ctx).strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    return f"[{label}]"


def _plain_argument_class(cls: type) -> type:
    """A subclass of Typer's argument class that shows only its metavar (no ``<str>``)."""

    class PlainArgument(cls):  # type: ignore[misc, valid-type]
        def display_type_rich(self, ctx: Any) -> str | None:  # noqa: ARG002 - the metavar says it
            return None

        def _usage_display_name(self) -> str:
            name = self.display_name_raw
            return name if self.required else f"[{name}]"

    PlainArgument.__name__ = "PlainArgument"
    return PlainArgument


_PLAIN: dict[type, type] = {}


def polish(command: Any, ctx: Any = None, siblings: dict[str, Any] | None = None) -> None:
    """Apply the rules of the module docstring to ``command`` and everything under it."""
    commands = getattr(command, "commands", None)
    if isinstance(commands, dict):
        for sub in commands.values():
            polish(sub, ctx, commands)
    if command.help and not command.short_help:
        command.short_help = first_sentence(command.help)
    add = (siblings or {}).get("add") if command is not (siblings or {}).get("add") else None
    add_params = {p.name: p for p in getattr(add, "params", [])}
    for param in command.params:
        if param.param_type_name == "argument":
            if param.metavar is None:
                param.metavar = ARGUMENT_METAVARS.get(param.name or "", (param.name or "value").upper())
            param.metavar = param.metavar.strip("[]")  # the usage line adds the brackets of an optional one
            base = type(param)
            if base not in _PLAIN.values():
                param.__class__ = _PLAIN.setdefault(base, _plain_argument_class(base))
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            pass
        elif param.metavar is None:
            long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
            param.metavar = _choice_metavar(param, ctx) or OPTION_METAVARS.get(long) or long.lstrip("-").upper()
        if not param.help and param.name in add_params and add_params[param.name].help:
            param.help = add_params[param.name].help
