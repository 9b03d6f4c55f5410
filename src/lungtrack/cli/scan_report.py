"""lungtrack scan read-report / scan add --from-report: lesion sizes read from a CT report's text.

The reading itself is pure (:mod:`lungtrack.parsing.report_text`); this module reads the file,
renders the reading at 80 columns, proposes the mapping to the patient's known lesions, asks
on a terminal, and saves through :func:`lungtrack.cli.scan.save_scan`, the same function
``scan add --lesion`` uses.  Light at import: Typer and the standard library only.
"""

import sys
import textwrap
from typing import Annotated, Any

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt
from lungtrack.errors import InputError

WIDTH = 80
JSON_FIELDS = ("location", "site", "is_node", "long_axis_mm", "short_axis_mm", "prior_mm", "new", "unsure", "span")


def register(scan_app: typer.Typer) -> None:
    scan_app.command("read-report")(read_report_cmd)


def read_text(source: str, field: str = "FILE") -> str:
    """The report's text from a file or ``-`` (standard input); bad UTF-8 is a one-line usage error."""
    from pathlib import Path

    try:
        if source == "-":
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
        else:
            path = Path(source).expanduser()
            if path.is_dir():
                raise InputError(field, source, "a text file, not a directory")
            data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(field, source, "an existing text file, or - for standard input") from None
    except OSError as exc:
        raise InputError(field, source, f"a readable text file ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(field, source, "UTF-8 text", message=(
            f"{field}: {source!r} is not valid UTF-8 text (byte {exc.start}); expected the report as UTF-8 text, "
            "e.g. saved from the portal as .txt.")) from None
    if not text.strip():
        raise InputError(field, source, "the text of a CT report", message=f"{field}: {source!r} is empty; "
                         "expected the text of a CT report.")
    return text


def reading_dict(rm: Any) -> dict[str, Any]:
    """One reading as the stable JSON object (exactly the documented fields)."""
    return {
        "location": rm.location, "site": rm.site, "is_node": rm.is_node, "long_axis_mm": rm.long_axis_mm,
        "short_axis_mm": rm.short_axis_mm, "prior_mm": rm.prior_mm, "new": rm.new, "unsure": rm.unsure,
        "span": {"start": rm.span.start, "end": rm.span.end, "text": rm.span.text},
    }


def _mm(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _flags(rm: Any) -> str:
    return ",".join(f for f, on in (("NEW", rm.new), ("UNSURE", rm.unsure)) if on)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _snippet(rm: Any, width: int) -> str:
    """The span with the words before it (what the size belongs to), at most ``width`` characters."""
    span = _one_line(rm.span.text)
    context = _one_line(rm.context)
    at = context.find(span)
    if at < 0 or len(context) <= width:
        return context if at >= 0 else textwrap.shorten(span, width, placeholder="…")
    end = min(len(context), at + len(span) + 12)
    start = max(0, end - width + 2)
    text = context[start:end]
    return ("…" if start > 0 else "") + text + ("…" if end < len(context) else "")


def render_readings(readings: list[Any], matches: list[Any] | None = None) -> list[str]:
    """The reading as lines of at most 80 characters: one row per measurement, then its text."""
    head = f"{'#':>2} {'site':<10} {'long':>5} {'short':>5} {'prior':>5} {'flags':<10} location"
    lines = [head, "-" * min(WIDTH, 78)]
    for i, rm in enumerate(readings, 1):
        row = (f"{i:>2} {rm.site:<10.10} {_mm(rm.long_axis_mm):>5} {_mm(rm.short_axis_mm):>5} "
               f"{_mm(rm.prior_mm):>5} {_flags(rm):<10} ")
        lines.append(row + textwrap.shorten(rm.location, WIDTH - len(row), placeholder="…"))
        lines.append(f"     “{_snippet(rm, WIDTH - 8)}”")
        if rm.unsure and rm.why_unsure:
            lines.extend(textwrap.wrap(f"unsure: {rm.why_unsure}", WIDTH, initial_indent="     ",
                                       subsequent_indent="       "))
        if matches is not None:
            m = matches[i - 1]
            target = m.label if m.label else ("new lesion" if rm.new else "no known lesion")
            text = f"→ {target}" + (f" ({m.reason})" if m.reason else "") + (" — doubtful" if m.doubtful else "")
            lines.extend(textwrap.wrap(text, WIDTH, initial_indent="     ", subsequent_indent="       "))
    lines.append("Sizes in mm. Each row shows the report text it was read from.")
    return lines


def known_lesions(session: Any, p: Any) -> list[Any]:
    """The patient's lesions as plain data for the pure matcher."""
    from lungtrack.parsing.report_text import KnownLesion
    from lungtrack.store import repo

    out = []
    for les in repo.lesions(session, p):
        last = repo.last_measurement(session, les)
        size = last[0].size_mm if last and last[0].status == "measured" else None
        out.append(KnownLesion(label=les.label, site=les.site, is_node=les.is_node, last_size_mm=size))
    return out


def read_report_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="The report's text: a file, or - to read standard input.")],
    patient: PatientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Read the lesion sizes out of a CT report's text and show them; saves nothing.

    Every size comes with the text it was read from.  With --patient, it also proposes
    which known lesion each size belongs to, and why.  JSON: a list of objects with
    location, site, is_node, long_axis_mm, short_axis_mm, prior_mm, new, unsure and
    span {start, end, text} (character offsets into the text).
    """
    from lungtrack.parsing.report_text import match_lesions, read_report

    text = read_text(source)
    readings = read_report(text)
    matches = None
    if patient is not None:
        from lungtrack.store import repo

        with common.transaction(ctx, write=False) as (_s, session):
            p = repo.find_patient(session, patient)
            matches = match_lesions(readings, known_lesions(session, p))
    if json_out:
        rows = [reading_dict(rm) for rm in readings]
        if matches is not None:
            for row, m in zip(rows, matches):
                row["match"] = {"lesion": m.label, "reason": m.reason, "doubtful": m.doubtful}
        common.print_json(rows)
        return
    if not readings:
        common.err("No lesion sizes found in this text. Nothing was saved.")
        return
    for line in render_readings(readings, matches):
        common.out(line)
    unsure = sum(1 for rm in readings if rm.unsure)
    common.err(f"Read {len(readings)} measurement{'s' if len(readings) != 1 else ''}"
               + (f", {unsure} unsure" if unsure else "") + ". Nothing was saved.")


# ------------------------------------------------------------------ scan add --from-report

class _Item:
    """One line of the proposed scan: a reading and what it becomes."""

    def __init__(self, index: int, reading: Any, match: Any):
        self.index = index
        self.reading = reading
        self.match = match
        self.label: str | None = match.label if match is not None else None
        self.kind = "lesion"  # lesion | new | skip
        self.size: float | None = None
        self.problem = ""
        self.note = ""


def _size_for(rm: Any) -> tuple[float | None, str]:
    """The size RECIST records: short axis for a node, long axis otherwise."""
    if rm.is_node:
        if rm.short_axis_mm is not None:
            return rm.short_axis_mm, ""
        if rm.long_axis_mm is not None:
            return rm.long_axis_mm, "one size given for a node: taken as its short axis"
        return None, ""
    return rm.long_axis_mm, ""


def _unique(label: str, used: set[str]) -> str:
    base, n, out = label, 2, label
    while out.casefold() in used:
        out = f"{base} {n}"
        n += 1
    used.add(out.casefold())
    return out


def plan_scan(readings: list[Any], known: list[Any]) -> tuple[list[_Item], list[str], list[str]]:
    """Propose what each reading becomes; returns (items, problems, notes).

    Problems block saving off a terminal: unsure readings, doubtful matches, and readings that
    match no known lesion without being called new.  Notes are pointed out but do not block: a
    prior size in the report that differs from the stored one, and known lesions the report
    gives no size for (on a terminal they are asked for).
    """
    from lungtrack.parsing.report_text import label_for, match_lesions, prior_size

    matches = match_lesions(readings, known)
    baseline = not known
    used = {k.label.casefold() for k in known}
    by_label = {k.label: k for k in known}
    items: list[_Item] = []
    problems: list[str] = []
    notes: list[str] = []
    for i, (rm, m) in enumerate(zip(readings, matches), 1):
        it = _Item(i, rm, m)
        it.size, it.note = _size_for(rm)
        what = f"#{i} {rm.location} ({_one_line(rm.span.text)})"
        if rm.unsure or it.size is None:
            it.problem = f"{what}: unsure ({rm.why_unsure or 'no size to record'})"
        elif m.label is not None:
            if m.doubtful:
                it.problem = f"{what}: doubtful match with {m.label} ({m.reason})"
            k = by_label[m.label]
            prior = prior_size(rm)
            if prior is not None and k.last_size_mm is not None and abs(prior - k.last_size_mm) > 0.5:
                notes.append(f"#{i} {m.label}: the report gives {prior:g} mm as its prior size, but the last "
                             f"size stored is {k.last_size_mm:g} mm; the stored size is kept.")
        elif baseline:
            it.label = _unique(label_for(rm), used)
        elif rm.new:
            it.kind = "new"
            it.label = _unique(label_for(rm), used)
        else:
            it.problem = f"{what}: matches no known lesion and the report does not call it new"
            it.label = _unique(label_for(rm), used)
        if it.problem:
            problems.append(it.problem)
        items.append(it)
    matched = {it.label for it in items if it.match is not None and it.match.label}
    missing = [k.label for k in known if k.label not in matched]
    if missing:
        # Typed by hand, a lesion the report gives no size for is left out too; say so, and how to add it.
        notes.append(f"not measured in this report, so not on this scan: {', '.join(missing)} "
                     "(add one with: lungtrack scan edit ID --lesion \"LABEL: too small|gone|ne|SIZE\").")
    return items, problems, notes


def _spec(it: _Item, site_needed: bool) -> str:
    rm = it.reading
    size = f"{it.size:g} mm"
    if site_needed:
        site = "node" if rm.is_node else rm.site
        return f"{it.label}: {site}, {size}"
    return f"{it.label}: {size}"


def build_specs(items: list[_Item], known_labels: set[str]) -> tuple[list[str], list[str]]:
    """The ``--lesion`` and ``--new-lesion`` values ``scan add`` would get for these items."""
    lesions, new = [], []
    for it in items:
        if it.kind == "skip" or it.size is None or it.label is None:
            continue
        if it.kind == "new":
            new.append(_spec(it, site_needed=True))
        else:
            lesions.append(_spec(it, site_needed=it.label not in known_labels))
    return lesions, new


def _ask_items(items: list[_Item], known: list[Any], extra_lesions: list[str]) -> None:
    """On a terminal: settle each doubtful, unsure or unmatched reading, and each unmentioned lesion."""
    from lungtrack.parsing.numbers import parse_size_mm

    labels = [k.label for k in known]
    taken = {it.label for it in items if it.match is not None and it.match.label and not it.problem}
    for it in items:
        if not it.problem:
            continue
        common.err(textwrap.fill(it.problem, WIDTH))
        if it.size is None or it.reading.unsure:
            while True:
                answer = typer.prompt("  Size in mm (empty: leave it out)",
                                      default="" if it.size is None else f"{it.size:g}", err=True).strip()
                if not answer:
                    it.kind = "skip"
                    break
                try:
                    it.size = parse_size_mm(answer, field="size")
                    break
                except InputError as exc:
                    common.err(f"  {exc.message}")
            if it.kind == "skip":
                continue
        free = [x for x in labels if x not in taken]
        default = it.label if it.label in free else ("new" if not known else "")
        choices = ", ".join(free) or "none"
        while True:
            answer = typer.prompt(f"  Which lesion is it? One of: {choices}; 'new' (new on this scan), "
                                  f"'track' (follow it from now on), empty to leave it out",
                                  default=default, err=True).strip()
            if not answer:
                it.kind = "skip"
                break
            if answer.lower() in ("new", "track"):
                from lungtrack.parsing.report_text import label_for

                it.kind = "new" if answer.lower() == "new" and known else "lesion"
                it.label = it.label if it.label and it.label not in labels else label_for(it.reading)
                break
            hit = next((x for x in free if x.casefold() == answer.casefold()), None)
            if hit is None:
                common.err(f"  {answer!r} is not one of: {choices}.")
                continue
            it.label, it.kind = hit, "lesion"
            taken.add(hit)
            break
    mentioned = {it.label for it in items if it.kind == "lesion"}
    for k in known:
        if k.label in mentioned:
            continue
        last = f"last {k.last_size_mm:g} mm" if k.last_size_mm is not None else "no size yet"
        answer = typer.prompt(f"{k.label} ({last}) is not in the report: size, too small, gone, ne, "
                              "or empty to leave it out", default="", show_default=False, err=True).strip()
        if answer:
            extra_lesions.append(f"{k.label}: {answer}")


def add_from_report(ctx: typer.Context, source: str, *, when: Any, modality: Any, thickness: float | None,
                    impression: str | None, non_target: Any, extra: tuple[list[str], list[str], list[str]],
                    force: bool, patient: str | None, yes: bool, json_out: bool) -> None:
    """``scan add --from-report``: read, propose, ask (terminal) or check (--yes), then save once."""
    from lungtrack.cli.scan import report_saved, save_scan
    from lungtrack.enums import NonTargetStatus
    from lungtrack.parsing.lesions import parse_lesion_spec
    from lungtrack.parsing.report_text import read_report
    from lungtrack.store import repo

    if any(extra):
        raise InputError("--from-report", source, "either --from-report or --lesion/--new-lesion, not both", message=(
            "--from-report: give the sizes either from the report or with --lesion/--new-lesion, not both; "
            "correct a reading afterwards with lungtrack scan edit."))
    text = read_text(source, field="--from-report")
    readings = read_report(text)
    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        known = known_lesions(session, p)
    items, problems, notes = plan_scan(readings, known)
    # The report read from standard input leaves no terminal to answer on: then it is as off a terminal.
    interactive = common.stdin_is_tty() and not yes and not json_out and source != "-"
    if not readings and not interactive:
        raise InputError("--from-report", source, "a report with lesion sizes", message=(
            f"--from-report: no lesion sizes found in {source!r}; nothing was saved. "
            "Check it with: lungtrack scan read-report FILE"))
    for note in notes:
        if not (interactive and note.startswith("not measured")):  # on a terminal it is asked for instead
            common.err(f"Note: {note}")
    extra_lesions: list[str] = []
    if interactive:
        for line in render_readings([it.reading for it in items], [it.match for it in items] if known else None):
            common.err(line)
        _ask_items(items, known, extra_lesions)
        if non_target is None:
            while True:
                answer = typer.prompt("Non-target disease on this scan: present, absent, progression, "
                                      "or empty if not reported", default="", show_default=False, err=True).strip()
                if not answer:
                    break
                try:
                    non_target = NonTargetStatus(answer.lower())
                    break
                except ValueError:
                    common.err("  Answer present, absent or progression.")
    elif problems:
        listed = "; ".join(problems)
        raise InputError("--from-report", source, "a report lungtrack reads with confidence", message=(
            f"--from-report: {len(problems)} item{'s' if len(problems) != 1 else ''} need{'s' if len(problems) == 1 else ''} "
            f"a decision, so nothing was saved: {listed}. Run it on a terminal to answer, or use "
            "scan add --lesion."))
    elif not yes:
        raise InputError("--yes", "", "--yes", message=(
            "--yes: not on a terminal, so the reading cannot be confirmed; check it with "
            "lungtrack scan read-report FILE, then pass --yes to save it."))
    known_labels = {k.label for k in known}
    lesion_specs, new_specs = build_specs(items, known_labels)
    lesion_specs += extra_lesions
    for spec in lesion_specs + new_specs:
        parse_lesion_spec(spec, field="--from-report")  # fail before asking to confirm
    if interactive:
        common.err("This scan will be saved as:")
        for spec in lesion_specs:
            common.err(f"  --lesion \"{spec}\"")
        for spec in new_specs:
            common.err(f"  --new-lesion \"{spec}\"")
        if non_target is not None:
            common.err(f"  --non-target {non_target.value}")
        if not typer.confirm("Save this scan?", default=False, err=True):
            common.err("Nothing was saved.")
            raise typer.Exit(0)
    data, sentence, pname = save_scan(ctx, when=when, modality=modality, thickness=thickness, impression=impression,
                                      non_target=non_target, lesion=lesion_specs, new_lesion=new_specs, equivocal=[],
                                      force=force, patient=patient, report_text=text)
    report_saved(data, sentence, pname, modality, when, len(new_specs), json_out)
