"""The built-in demo patient (pure data).

Ann, 58, never smoked, EGFR exon 19 deletion adenocarcinoma, on gefitinib since September
2025 (the user stories in docs/walkthrough.md).  Her dates are written as in the stories and
shifted by :func:`demo_records` so that the story's "today" (2026-08-12) falls on the real
today: the demo always looks current.  Four lesions, one of them a node; a CEA series that
falls, then rises; a liquid biopsy that first finds no resistance mutation and later T790M;
and one liver lesion that grows alone (a mixed response).
"""

from __future__ import annotations

from datetime import date
from typing import Any

STORY_TODAY = date(2026, 8, 12)
DEMO_PATIENT = "Ann"

_PATIENT = {
    "name": DEMO_PATIENT, "diagnosis_date": date(2025, 9, 2), "histology": "adenocarcinoma",
    "subtypes": {"solid": 50.0, "papillary": 30.0, "acinar": 20.0},
    "drivers": ["EGFR exon 19 deletion"], "smoking": "never",
    "marker_due_soon_weeks": 6.0, "marker_overdue_weeks": 9.0,
}
_LINES = [{"drug": "gefitinib", "start_date": date(2025, 9, 20), "note": "250 mg once daily"}]
_LESIONS = [  # label, site, is_node
    ("RUL mass", "lung", False),
    ("liver S6", "liver", False),
    ("4R", "lymph node", True),
    ("RLL nodule", "lung", False),
]
_SCANS = [  # date, sizes in mm per lesion label, impression
    (date(2025, 9, 15), {"RUL mass": 32, "liver S6": 18, "4R": 16, "RLL nodule": 12},
     "Right upper lobe mass with a right lower lobe nodule, an enlarged 4R node and a segment 6 liver metastasis."),
    (date(2025, 12, 10), {"RUL mass": 22, "liver S6": 12, "4R": 9, "RLL nodule": 8},
     "Marked decrease of all lesions."),
    (date(2026, 2, 18), {"RUL mass": 20, "liver S6": 9, "4R": 8, "RLL nodule": 7},
     "Further slight decrease."),
    (date(2026, 5, 15), {"RUL mass": 19, "liver S6": 15, "4R": 8, "RLL nodule": 7},
     "Lung lesions stable; the segment 6 liver lesion has grown."),
]
_CEA = [  # date, ng/mL
    (date(2025, 9, 10), 12.4), (date(2025, 10, 15), 7.9), (date(2025, 12, 8), 3.1), (date(2026, 2, 10), 3.0),
    (date(2026, 4, 6), 2.9), (date(2026, 5, 4), 3.8), (date(2026, 6, 1), 5.6),
]
_BIOPSIES = [  # date, sample, assay, gene, variant, hgvs_p, hgvs_c, result, vaf
    (date(2025, 9, 2), "tissue", "NGS panel", "EGFR", "exon 19 deletion", "p.Glu746_Ala750del", "c.2235_2249del", "detected", 38.0),
    (date(2026, 1, 15), "plasma", "cobas EGFR Mutation Test v2", "EGFR", "exon 19 deletion", None, None, "detected", 0.6),
    (date(2026, 1, 15), "plasma", "cobas EGFR Mutation Test v2", "EGFR", "T790M", "p.Thr790Met", "c.2369C>T", "not-detected", None),
    (date(2026, 7, 28), "plasma", "cobas EGFR Mutation Test v2", "EGFR", "exon 19 deletion", None, None, "detected", 2.4),
    (date(2026, 7, 28), "plasma", "cobas EGFR Mutation Test v2", "EGFR", "T790M", "p.Thr790Met", "c.2369C>T", "detected", 0.8),
]
_APPOINTMENTS = [(date(2026, 8, 20), "visit", "Oncology clinic, Dr Okafor")]
_NOTES = [(date(2026, 7, 30), "Cough a little worse since mid-July; no fever.")]


def demo_records(today: date) -> dict[str, Any]:
    """The demo data with every date shifted so that the story's today is ``today``."""
    shift = today - STORY_TODAY

    def d(x: date) -> date:
        return x + shift

    patient = dict(_PATIENT, diagnosis_date=d(_PATIENT["diagnosis_date"]))
    return {
        "patient": patient,
        "lines": [dict(ln, start_date=d(ln["start_date"])) for ln in _LINES],
        "lesions": [{"label": lb, "site": site, "is_node": node} for lb, site, node in _LESIONS],
        "scans": [{"date": d(dt), "sizes": sizes, "impression": imp, "modality": "CT", "slice_thickness_mm": 1.25,
                   "non_target_status": None} for dt, sizes, imp in _SCANS],
        "markers": [{"date": d(dt), "marker": "CEA", "value": v, "unit": "ng/mL", "uln": None, "lab": "City Hospital lab"}
                    for dt, v in _CEA],
        "biopsies": [{"date": d(dt), "sample": s, "assay": a, "gene": g, "variant": v, "hgvs_p": hp, "hgvs_c": hc,
                      "result": r, "vaf": vaf} for dt, s, a, g, v, hp, hc, r, vaf in _BIOPSIES],
        "appointments": [{"date": d(dt), "kind": k, "description": desc} for dt, k, desc in _APPOINTMENTS],
        "notes": [{"date": d(dt), "text": t} for dt, t in _NOTES],
        "shift_days": shift.days,
    }
