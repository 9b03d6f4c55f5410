"""Text that fits a width: wrapped paragraphs and tables that never cut a value.

Pure and light (standard library only): used by the terminal output of every command
(``lungtrack.cli.common``) and by the text and Markdown reports, so that one rule holds
everywhere - every line fits the width, and a value that carries meaning is never cut to
``2024-1…``:

* a paragraph wraps at spaces, never between a number and its unit (``+19.0 %`` stays
  together) and never inside a word, a date or an id;
* a table first leaves out columns that are empty in every row, then wraps the columns
  that hold several words (at word boundaries), and when it still does not fit it *stacks*:
  the leading columns stay a table and the others follow each row as ``name: value`` lines.

Nothing is ever truncated; a single word longer than the width (a URL) is the only thing that
can make a line longer than the width.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any, Sequence

__all__ = ["NBSP", "fit_table", "keep_units", "visible_len", "wrap", "wrap_block"]

NBSP = "\u00a0"
#: A number and its unit stay on one line: "+19.0 %", "15 mm", "9.4 weeks", "3.1 ng/mL".
_KEEP = re.compile(r"(?<=\d) (?=(?:%|mm|cm|ng/mL|U/mL|pg/mL|µg/L|ug/L|days?|weeks?|months?|years?)(?![\w/]))")
#: Arrows between two numbers stay with their numbers: "9 → 15 mm".
_ARROW = re.compile(r"(?<=\d) (→) (?=\d)")
_SEP = "  "


def keep_units(text: str) -> str:
    """``text`` with no-break spaces where a line must not break (number-unit, a → b)."""
    return _ARROW.sub(NBSP + r"\1" + NBSP, _KEEP.sub(NBSP, text))


def visible_len(text: str) -> int:
    """Terminal columns of ``text`` (every character counts one; ANSI codes are not used here)."""
    return len(text)


def wrap(text: str, width: int, indent: str = "", first: str | None = None) -> list[str]:
    """Wrap one paragraph at ``width``; ``first`` is the prefix of the first line (default ``indent``)."""
    first = indent if first is None else first
    if not text:
        return [first.rstrip()]
    kept = keep_units(text)
    lines = textwrap.wrap(kept, max(width, len(first) + 1, len(indent) + 1), initial_indent=first,
                          subsequent_indent=indent, break_on_hyphens=False, break_long_words=False) or [first]
    return [line.replace(NBSP, " ").rstrip() for line in lines]


_LABEL = re.compile(r"^(\s*)(?:([A-Za-z][\w ()/.-]{0,24}:\s+)|([-•*·▲●✓!]\s+|\d{1,2}\.\s+|[A-Z]{2,9}\s{2,}))?")


def wrap_block(text: str, width: int) -> list[str]:
    """Wrap lines as they are printed: a continuation line is indented under the text of its
    first line (after its leading spaces, a ``label:``, a bullet, a number or a severity word)."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line.rstrip())
            continue
        m = _LABEL.match(line)
        lead = m.group(0) if m else ""
        if m and (m.group(1) or len(lead) > width // 2):  # an indented line keeps its own indent
            lead = m.group(1)
        out += wrap(line[len(lead):], width, " " * len(lead), lead)
    return out


# --------------------------------------------------------------------------- tables


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return " ".join(str(value).split())


def _longest_word(text: str) -> int:
    return max((len(w) for w in re.split(r"[ \t\n]+", keep_units(text))), default=0)  # not at NBSP


def fit_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int,
              right: Sequence[int] = ()) -> list[str]:
    """The table as lines of at most ``width`` characters (see the module docstring).

    ``right``: indexes of columns to right-align (numbers).  Never truncates a value.
    """
    cells = [[_cell(v) for v in r] for r in rows]
    keep = [i for i, _ in enumerate(columns) if any(r[i] for r in cells)] or list(range(len(columns)))
    head = [str(columns[i]) for i in keep]
    body = [[r[i] for i in keep] for r in cells]
    ralign = {keep.index(i) for i in right if i in keep}

    natural = [max([len(h)] + [len(r[j]) for r in body]) for j, h in enumerate(head)]
    # the narrowest each column may be: its longest word (headers wrap too, at their spaces)
    minimum = [max([_longest_word(h)] + [_longest_word(r[j]) for r in body]) for j, h in enumerate(head)]
    sep = len(_SEP) * (len(head) - 1)
    if sum(natural) + sep <= width:
        widths = natural
    elif sum(minimum) + sep <= width:
        widths = _share(natural, minimum, width - sep)
    else:
        return _stacked(head, body, width, ralign)
    return _grid(head, body, widths, ralign)


def _share(natural: list[int], minimum: list[int], room: int) -> list[int]:
    """Shrink the widest columns first until the total fits ``room`` (each at least its minimum)."""
    widths = list(natural)
    while sum(widths) > room:
        j = max((k for k in range(len(widths)) if widths[k] > minimum[k]), key=lambda k: widths[k] - minimum[k] * 0.5)
        widths[j] -= 1
    return widths


def _grid(head: list[str], body: list[list[str]], widths: list[int], ralign: set[int]) -> list[str]:
    def line_set(values: list[str]) -> list[str]:
        parts = [wrap(v, w) if v else [""] for v, w in zip(values, widths)]
        height = max(len(p) for p in parts)
        out = []
        for k in range(height):
            cols = []
            for j, p in enumerate(parts):
                text = p[k] if k < len(p) else ""
                cols.append(text.rjust(widths[j]) if j in ralign else text.ljust(widths[j]))
            out.append(_SEP.join(cols).rstrip())
        return out

    lines = line_set(head)
    lines.append(_SEP.join("─" * w for w in widths))
    for r in body:
        lines += line_set(r)
    return lines


def _stacked(head: list[str], body: list[list[str]], width: int, ralign: set[int]) -> list[str]:
    """The leading columns as a table; the rest under each row as ``name: value`` pairs."""
    natural = [max([len(h)] + [len(r[j]) for r in body]) for j, h in enumerate(head)]
    k = 1
    while k < len(head) and sum(natural[:k + 1]) + len(_SEP) * k <= width:
        k += 1
    lines = _grid(head[:k], [r[:k] for r in body], natural[:k], ralign) if sum(natural[:1]) <= width else []
    if not lines:  # even the first column is wider than the page: every column as a pair
        k = 0
    out = lines[:2] if k else []
    indent = "    "
    for n, r in enumerate(body):
        if k:
            out += _grid(head[:k], [r[:k]], natural[:k], ralign)[2:]
        pairs = [f"{h}: {v}" for h, v in zip(head[k:], r[k:]) if v]
        current = ""
        for pair in pairs:
            candidate = f"{current}{_SEP}{pair}" if current else indent + pair
            if len(candidate) <= width and len(pair) <= width - len(indent):
                current = candidate
                continue
            if current:
                out.append(current)
                current = ""
            if len(indent + pair) <= width:
                current = indent + pair
            else:
                name = pair.split(": ", 1)[0] + ": "
                out += wrap(pair[len(name):], width, indent + "  ", indent + name)
        if current:
            out.append(current)
    return out
