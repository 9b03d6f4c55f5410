"""lungtrack check / response / ack / config: the rules, explained."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt
from lungtrack.exitcodes import EXIT_CODE_HELP, ExitStatus

config_app = typer.Typer(help="Rule thresholds: where the file is, and the values in force.", no_args_is_help=True)


def finding_data(pe, finding) -> dict[str, Any]:
    from lungtrack.serialize import to_data

    data = to_data(finding)
    ack = pe.acks.get(finding.id)
    data["acknowledged"] = ack is not None
    data["acknowledged_at"] = ack["at"] if ack else None
    data["acknowledgement_note"] = ack["note"] if ack else None
    return data


def line_header(pe) -> dict[str, Any] | None:
    """The current line with time on it and the trial median for that drug."""
    ev = pe.evaluation
    line = ev.current_line
    if line is None:
        return None
    from lungtrack.core.timing import driver_gene, line_number
    from lungtrack.knowledge.drugs import drug_from_text, primary_trial

    days = (ev.today - line.start).days
    out: dict[str, Any] = {"id": line.id, "drug": line.drug, "start": line.start.isoformat(), "days_on_therapy": days,
                           "months_on_therapy": round(days / 30.4375, 1), "trial": None}
    try:
        drug = drug_from_text(line.drug)
        trial = primary_trial(drug, line_number(pe.history, line), driver_gene(pe.history, drug))
    except Exception:
        trial = None
    if trial is not None and trial.median_pfs_months is not None:
        out["trial"] = {"name": trial.trial, "setting": trial.setting, "median_pfs_months": trial.median_pfs_months,
                        "source": trial.source_url}
    return out


def check_data(pe, *, new_only: bool = False) -> dict[str, Any]:
    from lungtrack.serialize import to_data

    ev = pe.evaluation
    findings = [f for f in ev.findings if not (new_only and pe.is_acknowledged(f))]
    due = [to_data(d) | {"snoozed_until": pe.snoozes[d.key].isoformat() if d.key in pe.snoozes else None}
           for d in ev.due if d.state.value != "up-to-date"]
    return {
        "patient": {"id": ev.patient.id, "name": ev.patient.name},
        "date": ev.today.isoformat(),
        "current_line": line_header(pe),
        "findings": [finding_data(pe, f) for f in findings],
        "due": due,
        "needs_attention": len(pe.open_attention),
    }


def render_check_text(data: dict[str, Any]) -> list[str]:
    from lungtrack.knowledge.wording import SEVERITY_WORDS

    lines: list[str] = []
    head = data["patient"]["name"]
    line = data["current_line"]
    if line:
        head += f" — {line['drug']} since {line['start']} ({line['months_on_therapy']:g} months"
        if line["trial"]:
            head += (f"; median PFS in {line['trial']['name']}: {line['trial']['median_pfs_months']:g} months"
                     " — a median, not a prediction")
        head += ")"
    else:
        head += " — no active line of therapy"
    lines.append(head)
    lines.append("")
    for f in data["findings"]:
        word = SEVERITY_WORDS[f["severity"]]
        ack = f"  (acknowledged {f['acknowledged_at'][:10]})" if f["acknowledged"] else ""
        lines.append(f"{word:<6} {f['title']}{ack}")
        lines.append(f"       {f['evidence']}")
        lines.append(f"       {f['discuss']}  [rule: {f['rule']} · source: {f['source']}]")
        lines.append(f"       id: {f['id']}")
    if not data["findings"]:
        lines.append("No findings.")
    lines.append("")
    n = data["needs_attention"]
    if n:
        lines.append(f"{n} need{'s' if n == 1 else ''} attention. Acknowledge with: lungtrack ack <id>")
    else:
        lines.append("Nothing needs attention.")
    return lines


def _patients(session, name: str | None, all_patients: bool):
    from lungtrack.store import repo

    if all_patients:
        return repo.list_patients(session)
    return [repo.find_patient(session, name)]


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")

    @app.command("check", epilog=EXIT_CODE_HELP)
    def check(
        ctx: typer.Context,
        patient: PatientOpt = None,
        all_patients: Annotated[bool, typer.Option("--all-patients", help="Check every patient in the store.")] = False,
        new_only: Annotated[bool, typer.Option("--new-only", help="Only findings not yet acknowledged.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing when nothing needs attention.")] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Run the rules and explain every finding with its evidence and source.

        Exits 3 when a watch or alert finding has not been acknowledged, 0 otherwise.
        """
        from lungtrack.services import evaluate_patient
        from lungtrack.settings import load_rules_config

        config = load_rules_config()
        today = common.today()
        with common.transaction(ctx, write=False) as (_s, session):
            results = [check_data(evaluate_patient(session, p, today, config), new_only=new_only)
                       for p in _patients(session, patient, all_patients)]
        attention = sum(r["needs_attention"] for r in results)
        if json_out:
            common.print_json({"date": today.isoformat(), "patients": results, "needs_attention": attention})
        elif not (quiet and attention == 0):
            for i, r in enumerate(results):
                if i:
                    common.out("")
                for text in render_check_text(r):
                    common.out(text)
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
        from lungtrack.store import repo

        config = load_rules_config()
        with common.transaction(ctx, write=False) as (_s, session):
            p = repo.find_patient(session, patient)
            history = repo.load_history(session, p)
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
    ) -> None:
        """Acknowledge a finding: it stays visible, marked acknowledged, and stops counting as needing attention."""
        from sqlmodel import select

        from lungtrack.errors import InputError
        from lungtrack.services import evaluate_patient
        from lungtrack.settings import load_rules_config
        from lungtrack.store import models as m
        from lungtrack.store import repo

        config = load_rules_config()
        with common.transaction(ctx) as (_s, session):
            p = repo.find_patient(session, patient)
            existing = session.exec(select(m.Acknowledgement).where(m.Acknowledgement.patient_id == p.id)).all()
            if undo:
                match = [a for a in existing if a.finding_id == finding_id or a.finding_id.startswith(finding_id)]
                if len(match) != 1:
                    raise InputError("ID", finding_id, "the id of one acknowledged finding")
                session.delete(match[0])
                common.err(f"Acknowledgement removed: {match[0].finding_id}")
                return
            pe = evaluate_patient(session, p, common.today(), config)
            ids = [f.id for f in pe.findings]
            match = [i for i in ids if i == finding_id] or [i for i in ids if i.startswith(finding_id)]
            if len(match) != 1:
                shown = "; ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
                raise InputError("ID", finding_id, f"the id (or a unique prefix) of a current finding: {shown or 'none'}")
            fid = match[0]
            if any(a.finding_id == fid for a in existing):
                common.err(f"Already acknowledged: {fid}")
                return
            session.add(m.Acknowledgement(patient_id=p.id, finding_id=fid, note=note))
            title = next(f.title for f in pe.findings if f.id == fid)
        common.err(f"Acknowledged: {title} ({fid}).")

    @config_app.command("path")
    def config_path() -> None:
        """Print the path of the thresholds file (it need not exist)."""
        from lungtrack.settings import thresholds_path

        common.out(str(thresholds_path()))

    @config_app.command("show")
    def config_show(json_out: JsonOpt = False) -> None:
        """Print the thresholds in force (defaults merged with the thresholds file)."""
        from lungtrack.settings import load_rules_config, render_defaults_toml

        config = load_rules_config()
        if json_out:
            common.print_json(config.to_mapping())
        else:
            common.out(render_defaults_toml(config).rstrip())


def _pct(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:+.1f} %"
