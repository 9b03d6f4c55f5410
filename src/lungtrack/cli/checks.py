"""lungtrack check / response / ack / config: the rules, explained."""


from typing import Annotated, Any, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt
from lungtrack.exitcodes import EXIT_CODE_HELP, ExitStatus

config_app = typer.Typer(help="Rule thresholds: where the file is, and the values in force.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")

    @app.command("check", epilog=EXIT_CODE_HELP)
    def check(
        ctx: typer.Context,
        patient: PatientOpt = None,
        all_patients: Annotated[bool, typer.Option("--all-patients", help="Check every patient in the store.")] = False,
        new_only: Annotated[bool, typer.Option("--new-only", help="Only findings not yet acknowledged.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing when nothing needs attention.")] = False,
        show_all: Annotated[bool, typer.Option("--all", help="Also list the findings of earlier therapy lines.")] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Run the rules and explain every finding with its evidence and source.

        Findings of earlier therapy lines are history: listed only with --all, never counted.
        With --all-patients, patients are read in batches and each one's result is printed as
        soon as it is ready; --json then prints JSON Lines (one object per patient).
        Exits 3 when a watch or alert finding of the current line (or tied to no line) has not
        been acknowledged, 0 otherwise.
        """
        from lungtrack.report.checkview import render_check_text
        from lungtrack.settings import load_rules_config

        config = load_rules_config()
        today = common.today()
        if all_patients:
            attention = _check_all(ctx, today, config, new_only=new_only, quiet=quiet, json_out=json_out,
                                   show_all=show_all)
            raise typer.Exit(ExitStatus.ATTENTION if attention else ExitStatus.OK)

        from lungtrack.report.checkview import check_data
        from lungtrack.services import evaluate_patient
        from lungtrack.store import read

        with common.reading(ctx) as conn:
            results = [check_data(evaluate_patient(conn, read.find_patient(conn, patient), today, config),
                                  new_only=new_only, with_history=show_all)]
        attention = sum(r["needs_attention"] for r in results)
        if json_out:
            common.print_json({"date": today.isoformat(), "patients": results, "needs_attention": attention})
        elif not (quiet and attention == 0):
            for r in results:
                common.print_report_lines(render_check_text(r))
        raise typer.Exit(ExitStatus.ATTENTION if attention else ExitStatus.OK)

    @app.command("response")
    def response(
        ctx: typer.Context,
        line_id: Annotated[Optional[int], typer.Option("--line", help="Only this therapy line (default: all).")] = None,
        patient: PatientOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """RECIST 1.1 response per therapy line: sums, % changes, and the response at each scan."""
        from lungtrack.core.recist import assess_history
        from lungtrack.knowledge.wording import response_label
        from lungtrack.serialize import to_data
        from lungtrack.settings import load_rules_config
        from lungtrack.store import read

        config = load_rules_config()
        with common.reading(ctx) as conn:
            p = read.find_patient(conn, patient)
            history = read.load_history(conn, p)
        lesion_labels = {le.id: le.label for le in history.lesions}
        responses = [r for r in assess_history(history, config) if line_id is None or r.line.id == line_id]
        if line_id is not None and not responses:
            from lungtrack.errors import InputError

            raise InputError("--line", line_id, "the id of one of this patient's therapy lines (see lungtrack therapy list)")
        if json_out:
            data = []
            for r in responses:
                d = to_data(r)
                d["non_target_labels"] = [lesion_labels.get(i, str(i)) for i in r.non_targets]
                data.append(d)
            common.print_json({"patient": p.name, "criteria": "RECIST 1.1", "lines": data})
            return
        if not responses:
            common.err(f"{p.name} has no therapy line yet; start one with: lungtrack therapy start DRUG --on DATE")
            return
        for r in responses:
            end = r.line.end.isoformat() if r.line.end else "active"
            common.out(f"{r.line.drug} (line {r.line.id}, {r.line.start.isoformat()} → {end}); "
                       f"best overall response: {response_label(r.best_overall)}")
            if r.targets:
                common.out("Targets: " + ", ".join(f"{t.label} {t.baseline_mm:g} mm" + (" (node)" if t.is_node else "")
                                                   for t in r.targets))
            if r.non_targets:
                common.out("Non-targets: " + ", ".join(lesion_labels.get(i, str(i)) for i in r.non_targets))
            for note in r.notes:
                common.out(f"Note: {note}")
            rows = []
            for tp in r.timepoints:
                rows.append([tp.date.isoformat(), "" if tp.sum_mm is None else f"{tp.sum_mm:g}",
                             _pct(tp.change_from_baseline_pct), _pct(tp.change_from_nadir_pct),
                             tp.target or "", tp.non_target or "", ", ".join(tp.new_lesions) or "",
                             "baseline" if tp.is_baseline else f"{tp.overall} ({response_label(tp.overall)})"])
            common.print_table(["date", "sum mm", "vs baseline", "vs nadir", "target", "non-target", "new lesions",
                                "overall"], rows)
            common.out("")

    @app.command("ack")
    def ack(
        ctx: typer.Context,
        finding_id: Annotated[str, typer.Argument(help="The finding's id as shown by 'lungtrack check' (a unique prefix is enough).")],
        note: Annotated[Optional[str], typer.Option("--note", help="Why, e.g. 'discussed with Dr Okafor on 14 Aug'.")] = None,
        undo: Annotated[bool, typer.Option("--undo", help="Remove the acknowledgement.")] = False,
        patient: PatientOpt = None,
        json_out: common.ResultJsonOpt = False,
    ) -> None:
        """Acknowledge a finding: it stays visible, marked acknowledged, and stops counting as needing attention."""
        from sqlmodel import select

        from lungtrack.errors import InputError
        from lungtrack.services import evaluate_patient
        from lungtrack.settings import load_rules_config
        from lungtrack.store import models as m
        from lungtrack.store import repo

        config = load_rules_config()
        with common.writer(ctx) as w:
            session = w.session
            p = repo.find_patient(session, patient)
            existing = session.exec(select(m.Acknowledgement).where(m.Acknowledgement.patient_id == p.id)).all()
            if undo:
                match = [a for a in existing if a.finding_id == finding_id or a.finding_id.startswith(finding_id)]
                if len(match) != 1:
                    raise InputError("ID", finding_id, "the id of one acknowledged finding")
                w.unacknowledge(match[0])
                common.report_result(ctx, {"finding_id": match[0].finding_id, "acknowledged": False, "changed": True},
                                     f"Acknowledgement removed: {match[0].finding_id}")
                return
            pe = evaluate_patient(session, p, common.today(), config)
            ids = [f.id for f in pe.findings]
            match = [i for i in ids if i == finding_id] or [i for i in ids if i.startswith(finding_id)]
            if len(match) != 1:
                shown = "; ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
                raise InputError("ID", finding_id, f"the id (or a unique prefix) of a current finding: {shown or 'none'}")
            fid = match[0]
            title = next(f.title for f in pe.findings if f.id == fid)
            if any(a.finding_id == fid for a in existing):
                common.report_result(ctx, {"finding_id": fid, "title": title, "acknowledged": True, "changed": False},
                                     f"Already acknowledged: {fid}")
                return
            w.acknowledge(p, fid, note)
        common.report_result(ctx, {"finding_id": fid, "title": title, "acknowledged": True, "changed": True, "note": note},
                             f"Acknowledged: {title} ({fid}).")

    @config_app.command("path")
    def config_path(json_out: JsonOpt = False) -> None:
        """Print the path of the thresholds file (it need not exist)."""
        from lungtrack.settings import thresholds_path

        where = thresholds_path()
        if json_out:
            common.print_json({"path": str(where), "exists": where.exists()})
            return
        common.out(str(where))

    @config_app.command("set")
    def config_set(
        key: Annotated[str, typer.Argument(metavar="KEY", help="SECTION.KEY as 'config show' prints it, e.g. input.locale_order.")],
        value: Annotated[str, typer.Argument(metavar="VALUE", help="The new value, e.g. dmy, 12 or true.")],
        json_out: JsonOpt = False,
    ) -> None:
        """Set one value in the thresholds file (created if missing); the value is checked first.

        Example: lungtrack config set input.locale_order dmy (read 02/03/2026 as 2 March).
        The file is rewritten without its comments.
        """
        from lungtrack.settings import write_setting

        path = write_setting(key, value)
        if json_out:
            common.print_json({"key": key, "value": value, "file": str(path)})
        common.err(f"Set {key} = {value} in {path}.")

    @config_app.command("show")
    def config_show(json_out: JsonOpt = False) -> None:
        """Print the thresholds in force (defaults merged with the thresholds file)."""
        from lungtrack.settings import load_rules_config, render_defaults_toml

        config = load_rules_config()
        if json_out:
            common.print_json(config.to_mapping())
        else:
            common.out(render_defaults_toml(config).rstrip())


def check_item(new_only: bool, pe, with_history: bool = False) -> dict:
    """What ``check`` prints for one patient, as data."""
    from lungtrack.report.checkview import check_data

    return check_data(pe, new_only=new_only, with_history=with_history)


def check_output(new_only: bool, with_history: bool, as_json: bool, pe) -> tuple[int, Any]:
    """One patient's part of ``check --all-patients``, finished where it is evaluated (in a
    worker process of the pool, so that only text crosses back): (findings needing attention,
    the JSON Lines record as text, or the text report's lines)."""

    from lungtrack.report.checkview import render_check_text

    data = check_item(new_only, pe, with_history)
    if as_json:
        return data["needs_attention"], common.json_line(data, finite=True)  # check_data's floats: to_data's
    return data["needs_attention"], render_check_text(data)


def _check_all(ctx: typer.Context, today, config, *, new_only: bool, quiet: bool, json_out: bool,
               show_all: bool = False) -> int:
    """Stream every patient's check; returns how many findings need attention in all."""
    import sys
    from functools import partial

    from lungtrack.services import stream_all_patients
    from lungtrack.store import read

    attention = 0
    printed = 0
    with common.reading(ctx) as conn:
        total = read.count_patients(conn) if common.progress_wanted() else None
        with common.PatientProgress(total, "Checking patients") as progress:
            for _p, (needs, output) in stream_all_patients(conn, today, config,
                                                           partial(check_output, new_only, show_all, json_out)):
                progress.advance(1)
                attention += needs
                if json_out:
                    sys.stdout.write(output)  # one JSON Lines record, as common.print_json_line writes it
                    sys.stdout.flush()
                elif not (quiet and needs == 0):
                    if printed:
                        common.out("")
                    common.print_report_lines(output)
                    printed += 1
    return attention


def _pct(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:+.1f} %"
