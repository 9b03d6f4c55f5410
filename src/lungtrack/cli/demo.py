"""lungtrack demo: load the built-in demo patient and show her status."""


from typing import Annotated

import typer

from lungtrack.cli import common


def load_demo(w, today) -> str:
    """Insert the demo patient through the writer ``w``.  Returns the patient's name."""
    from lungtrack.demo_data import demo_records
    from lungtrack.errors import InputError
    from lungtrack.records import inputs as ri
    from lungtrack.store import repo

    data = demo_records(today)
    pd = dict(data["patient"])
    if repo.patient_by_name(w.session, pd["name"]) is not None:
        raise InputError("demo", pd["name"], "a store without a patient of that name", message=(
            f"demo: this store already has a patient called {pd['name']}; nothing was loaded. "
            "Run 'lungtrack demo' without --db to use the separate demo store."))
    src = ri.Source("demo")
    schedule = {k: pd.pop(k) for k in list(pd) if k.endswith("_weeks")}
    res = w.add_patient(ri.PatientInput(
        name=pd["name"], diagnosis_date=pd["diagnosis_date"], histology=pd["histology"],
        subtypes=tuple(pd["subtypes"].items()), drivers=tuple(pd["drivers"]), smoking=pd["smoking"], source=src),
        **schedule)
    patient = w.patient(pd["name"])
    for ln in data["lines"]:
        w.start_therapy(patient, ri.TherapyInput(drug=ln["drug"], start=ln["start_date"], note=ln.get("note"),
                                                 source=src))
    kinds = {le["label"]: le for le in data["lesions"]}
    for sc in data["scans"]:
        items = tuple(ri.MeasurementInput(label=label, size_mm=float(size), site=kinds[label]["site"],
                                          is_node=kinds[label]["is_node"]) for label, size in sc["sizes"].items())
        w.add_scan(patient, ri.ScanInput(date=sc["date"], measurements=items, modality=sc["modality"],
                                         slice_thickness_mm=sc["slice_thickness_mm"], impression=sc["impression"],
                                         non_target_status=sc["non_target_status"], source=src), force=True)
    for mk in data["markers"]:
        w.add_marker(patient, ri.MarkerInput(marker=mk["marker"], value=mk["value"], unit=mk["unit"], date=mk["date"],
                                             uln=mk["uln"], lab=mk["lab"], source=src), force=True)
    for b in data["biopsies"]:
        w.add_biopsy(patient, ri.BiopsyInput(date=b["date"], sample=b["sample"], gene=b["gene"], variant=b["variant"],
                                             result=b["result"], vaf=b["vaf"], assay=b["assay"], hgvs_p=b["hgvs_p"],
                                             hgvs_c=b["hgvs_c"], source=src), force=True)
    for a in data["appointments"]:
        w.plan_appointment(patient, ri.AppointmentInput(date=a["date"], kind=a["kind"], description=a["description"],
                                                        source=src))
    for n in data["notes"]:
        w.add_note(patient, ri.NoteInput(date=n["date"], text=n["text"], source=src))
    w.kind = "demo"
    return res.row["name"]


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
        from lungtrack.records.writer import writer

        store = common.open_store(ctx, create=True, demo=True)
        try:
            with writer(store, command=common.command_line(ctx), kind="demo", today=today) as w:  # one transaction
                name = load_demo(w, today)
                data = check_data(evaluate_patient(w.session, repo.find_patient(w.session, name), today, config))
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
