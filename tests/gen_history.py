"""A generated 10-year patient as an ``export json`` document (format 2).  Pure and deterministic.

Three therapy lines (gefitinib, osimertinib after T790M, then carboplatin), a scan every three
months with four lesions (a lung mass, a liver lesion, a node, a second lung nodule), a new
liver lesion that is then followed, monthly CEA (some below the assay's range) and quarterly
CYFRA 21-1 / ProGRP, tissue and plasma biopsies, appointments, notes, an acknowledgement and a
snooze.  Row ids are those of a store that held only this patient.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

START = date(2016, 1, 11)
TODAY = date(2026, 1, 12)  # ten years later
STAMP = "2026-01-12T09:00:00Z"


def _rec(rid: int, **fields: Any) -> dict[str, Any]:
    return {"id": rid, **fields, "external_id": None, "source": "manual", "created_at": STAMP, "updated_at": STAMP}


def ten_year_patient(name: str = "Ten Year", seed: int = 7) -> dict[str, Any]:
    rnd = random.Random(seed)
    lines = [
        _rec(1, patient_id=1, drug="gefitinib", start_date="2016-02-01", end_date="2019-06-14",
             stop_reason="progression", note="250 mg daily", rxnorm=None, stop_reason_text=None),
        _rec(2, patient_id=1, drug="osimertinib", start_date="2019-06-20", end_date="2024-03-18",
             stop_reason="progression", note=None, rxnorm=None, stop_reason_text=None),
        _rec(3, patient_id=1, drug="carboplatin", start_date="2024-03-25", end_date=None, stop_reason=None,
             note="with pemetrexed", rxnorm=None, stop_reason_text=None),
    ]
    lesions = [
        _rec(1, patient_id=1, label="RUL mass", site="lung", is_node=False, role=None),
        _rec(2, patient_id=1, label="liver S6", site="liver", is_node=False, role=None),
        _rec(3, patient_id=1, label="4R", site="lymph node", is_node=True, role=None),
        _rec(4, patient_id=1, label="RLL nodule", site="lung", is_node=False, role="non-target"),
    ]
    scans = []
    meas_id = 0
    new_id = 0
    sizes = {1: 34.0, 2: 21.0, 3: 17.0, 4: 9.0}
    when = START
    k = 0
    while when <= TODAY - timedelta(days=10):
        k += 1
        # response, then slow growth before each switch of line
        shrinking = (when < date(2016, 9, 1) or date(2019, 7, 1) <= when < date(2020, 6, 1)
                     or date(2024, 4, 1) <= when < date(2024, 12, 1))
        for lid, size in list(sizes.items()):
            if shrinking:
                sizes[lid] = max(5.0, round(size * 0.9, 1))
            else:
                sizes[lid] = min(120.0, round(size + rnd.choice((0.0, 0.5, 1.0)), 1))
        measurements = []
        for lid, label, site, node in ((1, "RUL mass", "lung", False), (2, "liver S6", "liver", False),
                                       (3, "4R", "lymph node", True), (4, "RLL nodule", "lung", False)):
            meas_id += 1
            status = "measured"
            size: float | None = sizes[lid]
            if lid == 2 and k % 11 == 0:
                status, size = "not-evaluated", None
            elif lid == 3 and sizes[lid] <= 5.0:
                status, size = "too-small", None
            measurements.append({"id": meas_id, "lesion_id": lid, "label": label, "site": site, "is_node": node,
                                 "size_mm": size, "unit": "mm", "status": status})
        new_lesions = []
        if any(s["new_lesions"] for s in scans):  # the new lesion is followed like any other
            meas_id += 1
            sizes[5] = sizes.get(5, 11.0)
            measurements.append({"id": meas_id, "lesion_id": 5, "label": "liver S2", "site": "liver",
                                 "is_node": False, "size_mm": sizes[5], "unit": "mm", "status": "measured"})
        elif when.year == 2019 and when.month in (4, 5, 6):
            new_id += 1
            new_lesions.append({"id": new_id, "label": "liver S2", "site": "liver", "is_node": False,
                                "size_mm": 11.0, "unit": "mm", "equivocal": False, "lesion_id": 5})
            lesions.append(_rec(5, patient_id=1, label="liver S2", site="liver", is_node=False, role=None))
        scans.append(_rec(k, patient_id=1, date=when.isoformat(), modality="CT" if k % 8 else "PET-CT",
                          slice_thickness_mm=1.25, impression=f"Follow-up CT {k}.", non_target_status="present",
                          report_text=None) | {"measurements": measurements, "new_lesions": new_lesions})
        when += timedelta(days=91)
    markers = []
    mid = 0
    day = START
    while day <= TODAY:
        mid += 1
        low = date(2016, 6, 1) <= day < date(2017, 6, 1)
        value = 0.5 if low else round(1.5 + rnd.random() * 4 + (day.year - 2016) * 0.3, 1)
        markers.append(_rec(mid, patient_id=1, date=day.isoformat(), marker="CEA", value=value, unit="ng/mL",
                            uln=5.0 if mid % 2 else None, lab="City lab", comparator="<" if low else None))
        if day.month % 3 == 1:
            mid += 1
            markers.append(_rec(mid, patient_id=1, date=day.isoformat(), marker="CYFRA 21-1",
                                value=round(1.0 + rnd.random() * 3, 2), unit="ng/mL", uln=3.3, lab=None,
                                comparator=None))
            mid += 1
            markers.append(_rec(mid, patient_id=1, date=day.isoformat(), marker="ProGRP",
                                value=float(rnd.randint(20, 90)), unit="pg/mL", uln=None, lab=None, comparator=None))
        day += timedelta(days=30)
    biopsies = [
        _rec(1, patient_id=1, date="2016-01-05", sample="tissue", assay="NGS panel", gene="EGFR",
             variant="exon 19 deletion", hgvs_p="p.Glu746_Ala750del", hgvs_c="c.2235_2249del", result="detected",
             vaf=41.0, allele_context=None, origin=None),
        _rec(2, patient_id=1, date="2019-06-10", sample="plasma", assay="cobas EGFR v2", gene="EGFR",
             variant="T790M", hgvs_p="p.Thr790Met", hgvs_c="c.2369C>T", result="detected", vaf=1.2,
             allele_context=None, origin=None),
        _rec(3, patient_id=1, date="2024-03-10", sample="plasma", assay="Guardant360", gene="EGFR",
             variant="C797S", hgvs_p="p.Cys797Ser", hgvs_c="c.2390G>C", result="detected", vaf=0.6, allele_context="trans",
             origin=None),
        _rec(4, patient_id=1, date="2024-03-10", sample="plasma", assay="Guardant360", gene="MET",
             variant="amplification", hgvs_p=None, hgvs_c=None, result="not-detected", vaf=None, allele_context=None,
             origin=None),
    ]
    appointments = [
        _rec(1, patient_id=1, date="2025-12-01", kind="visit", description="Oncology clinic", status="done"),
        _rec(2, patient_id=1, date="2026-02-02", kind="imaging", description="CT chest/abdomen", status="planned"),
        _rec(3, patient_id=1, date="2026-01-20", kind="markers", description=None, status="cancelled"),
    ]
    notes = [
        _rec(1, patient_id=1, date="2019-06-01", text="Cough worse for two weeks."),
        _rec(2, patient_id=1, date="2024-03-01", text="Tired; appetite down."),
    ]
    patient = _rec(1, name=name, diagnosis_date="2016-01-05", histology="adenocarcinoma",
                   subtypes={"acinar": 60.0, "solid": 40.0}, drivers=["EGFR exon 19 deletion"], smoking="former",
                   is_default=True, imaging_due_soon_weeks=10.0, imaging_overdue_weeks=14.0,
                   marker_due_soon_weeks=None, marker_overdue_weeks=None, ended_on=None, ended_reason=None,
                   birth_date="1961-04-02", gender=None)
    patient["identifiers"] = [{"system": "urn:example:mrn", "value": "MRN-0001"}]
    return {
        "format": "lungtrack-export",
        "format_version": 2,
        "lungtrack_version": "generated",
        "exported_at": STAMP,
        "patients": [{
            "patient": patient,
            "therapy_lines": lines,
            "lesions": lesions,
            "scans": scans,
            "marker_results": markers,
            "biopsy_findings": biopsies,
            "appointments": appointments,
            "notes": notes,
            "acknowledgements": [_rec(1, patient_id=1, finding_id="timing:imaging:2026-01-12", note="booked")],
            "snoozes": [_rec(1, patient_id=1, item_key="markers", until="2026-02-15")],
        }],
    }
