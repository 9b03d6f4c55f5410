"""lungtrack demo: load the built-in demo patient and show her status."""


from typing import Annotated

import typer

from lungtrack.cli import common


def load_demo(session, today) -> str:
    """Insert the demo patient into an open session.  Returns the patient's name."""
    import json

    from lungtrack.demo_data import demo_records
    from lungtrack.errors import InputError
    from lungtrack.store import models as m
    from lungtrack.store import repo

    data = demo_records(today)
    pd = dict(data["patient"])
    if repo.patient_by_name(session, pd["name"]) is not None:
        raise InputError("demo", pd["name"], "a store without a patient of that name", message=(
            f"demo: this store already has a patient called {pd['name']}; nothing was loaded. "
            "Run 'lungtrack demo' without --db to use the separate demo store."))
    pd["subtypes"] = json.dumps(pd["subtypes"])
    pd["drivers"] = json.dumps(pd["drivers"])
    patient = repo.add_patient(session, source="demo", **pd)
    for ln in data["lines"]:
        session.add(m.TherapyLine(patient_id=patient.id, source="demo", **ln))
    lesions = {}
    for le in data["lesions"]:
        row = m.Lesion(patient_id=patient.id, source="demo", **le)
        session.add(row)
        session.flush()
        lesions[le["label"]] = row
    for sc in data["scans"]:
        sizes = sc.pop("sizes")
        study = m.ImagingStudy(patient_id=patient.id, source="demo", **sc)
        session.add(study)
        session.flush()
        for label, size in sizes.items():
            session.add(m.LesionMeasurement(study_id=study.id, lesion_id=lesions[label].id, size_mm=float(size),
                                            status="measured", source="demo"))
    for mk in data["markers"]:
        session.add(m.MarkerResult(patient_id=patient.id, source="demo", **mk))
    for b in data["biopsies"]:
        session.add(m.BiopsyFinding(patient_id=patient.id, source="demo", **b))
    for a in data["appointments"]:
        session.add(m.Appointment(patient_id=patient.id, source="demo", **a))
    for n in data["notes"]:
        session.add(m.Note(patient_id=patient.id, source="demo", **n))
    session.flush()
    return patient.name


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        ctx: typer.Context,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Load only; do not print the status.")] = False,
        json_out: common.JsonOpt = False,
    ) -> None:
        """Load a realistic demo patient and print her status.

        Without --db / LUNGTRACK_DB the demo uses its own store (demo.db beside the default store), made
        afresh each time, so it never mixes with your records. With --db it loads into that store.
        """
        from lungtrack.report.checkview import check_data, render_check_text
        from lungtrack.services import evaluate_patient
        from lungtrack.settings import load_rules_config
        from lungtrack.store import repo
        from lungtrack.store.paths import resolve

        location = resolve(common.state(ctx).db, demo=True)
        if not location.explicit and location.path is not None:  # the demo store is made afresh each time
            for suffix in ("", "-wal", "-shm"):
                p = location.path.with_name(location.path.name + suffix)
                if p.exists():
                    p.unlink()
        today = common.today()
        config = load_rules_config()
        store = common.open_store(ctx, create=True, demo=True)
        try:
            with store.transaction() as session:  # load and evaluate in one transaction
                name = load_demo(session, today)
                data = check_data(evaluate_patient(session, repo.find_patient(session, name), today, config))
        finally:
            store.close()
        common.err(f"Loaded the demo patient {name} into {location.display}.")
        if json_out:
            common.print_json({"patient": name, "store": location.display, "check": data})
            return
        if not quiet:
            common.print_report_lines(render_check_text(data))
            db_arg = f"--db {location.display} " if not location.explicit else ""
            common.err("")
            common.err(f"Try next: lungtrack {db_arg}timeline · lungtrack {db_arg}response · "
                       f"lungtrack {db_arg}summary · lungtrack {db_arg}report --format html -o ann.html")
