"""Histories for report tests (pure data, no store).

:func:`ten_year_history`: Cleo, EGFR exon 19 deletion, ten years on two lines of therapy -
gefitinib from 2016 (partial response, then progression in 2021 with T790M found) and
osimertinib from 2021 (response, then a new liver lesion in 2026).  Four lesions including a
lymph node, a CEA value about every two months, an acknowledged earlier-line finding, and a
CT booked after the scan has become overdue.
"""

from __future__ import annotations

from datetime import date, timedelta

TODAY = date(2026, 8, 12)
LINE1_START = date(2016, 9, 1)
LINE2_START = date(2021, 3, 20)
NEW_LESION_DATE = date(2026, 4, 20)
BOOKED_CT = date(2026, 8, 19)


def ten_year_history():
    from lungtrack.core.history import (
        Appointment, BiopsyFinding, History, ImagingStudy, Lesion, MarkerResult, Measurement, NewLesion,
        PatientInfo, TherapyLine,
    )
    from lungtrack.enums import (
        AppointmentKind, BiopsyResult, Marker, Sample, SmokingStatus, StopReason,
    )

    patient = PatientInfo(id=1, name="Cleo", diagnosis_date=date(2016, 8, 10), histology="adenocarcinoma",
                          drivers=("EGFR exon 19 deletion",), smoking=SmokingStatus.NEVER)
    lines = (
        TherapyLine(id=1, drug="gefitinib", start=LINE1_START, end=date(2021, 3, 12), stop_reason=StopReason.PROGRESSION),
        TherapyLine(id=2, drug="osimertinib", start=LINE2_START),
    )
    lesions = (Lesion(1, "RUL mass", "lung"), Lesion(2, "liver S6", "liver"), Lesion(3, "4R", "lymph node", is_node=True),
               Lesion(4, "RLL nodule", "lung"), Lesion(5, "liver S8", "liver"))
    studies = []
    sid = 0

    def scan(d, sizes, new=()):
        nonlocal sid
        sid += 1
        studies.append(ImagingStudy(id=sid, date=d, measurements=tuple(Measurement(k, s) for k, s in sizes.items()),
                                    new_lesions=tuple(new)))

    # line 1: baseline, shrink to a nadir by 2018, slow regrowth, progression in February 2021
    scan(date(2016, 8, 25), {1: 34, 2: 20, 3: 17, 4: 12})
    d = date(2016, 12, 1)
    k = 0
    while d < date(2021, 2, 1):
        f = max(0.55, 1 - 0.09 * k) if d < date(2019, 6, 1) else 0.55 + 0.012 * (k - 11)
        scan(d, {1: round(34 * f, 1), 2: round(20 * f, 1), 3: round(17 * f, 1), 4: round(12 * f, 1)})
        d += timedelta(days=120)
        k += 1
    scan(date(2021, 2, 20), {1: 30, 2: 21, 3: 14, 4: 10})
    # line 2: baseline (pre-treatment), response, then a new liver lesion in April 2026
    scan(date(2021, 3, 15), {1: 30, 2: 21, 3: 14, 4: 10})
    d = date(2021, 6, 15)
    k = 0
    while d < date(2026, 3, 1):
        f = max(0.5, 1 - 0.1 * k)
        g = max(0.62, 1 - 0.07 * k)  # the liver lesion and the node respond less
        scan(d, {1: round(30 * f, 1), 2: round(21 * g, 1), 3: round(14 * max(0.7, g), 1), 4: round(10 * max(0.6, f), 1)})
        d += timedelta(days=91)
        k += 1
    scan(NEW_LESION_DATE, {1: 15, 2: 14, 3: 10, 4: 6, 5: 14}, new=(NewLesion(site="liver", label="liver S8", size_mm=14),))
    markers = []
    d = date(2016, 8, 20)
    i = 0
    while d <= date(2026, 7, 1):
        if d < date(2018, 6, 1):
            v = max(2.2, 24 * 0.78 ** i)
        elif d < LINE2_START:
            v = 2.2 + 0.25 * (i - 11)
        elif d < date(2025, 9, 1):
            v = max(2.0, 9 * 0.8 ** (i - 28))
        else:
            v = 2.0 + 0.9 * (i - 58)
        markers.append(MarkerResult(id=i + 1, date=d, marker=Marker.CEA, value=round(max(v, 1.5), 1), unit="ng/mL"))
        d += timedelta(days=61)
        i += 1
    biopsies = (
        BiopsyFinding(1, date(2016, 8, 10), Sample.TISSUE, "EGFR", "exon 19 deletion", BiopsyResult.DETECTED, 41.0, "NGS panel"),
        BiopsyFinding(2, date(2021, 2, 25), Sample.PLASMA, "EGFR", "T790M", BiopsyResult.DETECTED, 1.2, "cobas EGFR v2"),
        BiopsyFinding(3, date(2026, 5, 2), Sample.PLASMA, "EGFR", "C797S", BiopsyResult.NOT_DETECTED, None, "Guardant360"),
    )
    appointments = (Appointment(1, BOOKED_CT, AppointmentKind.IMAGING, "CT chest/abdomen"),)
    return History(patient=patient, lines=lines, lesions=lesions, studies=tuple(studies), markers=tuple(markers),
                   biopsies=biopsies, appointments=appointments)


def ten_year_evaluation(acknowledge_earlier: bool = True):
    """The history evaluated on :data:`TODAY`, with the T790M finding of line 1 acknowledged."""
    from lungtrack.core.engine import evaluate
    from lungtrack.services import PatientEvaluation

    history = ten_year_history()
    ev = evaluate(history, today=TODAY)
    acks = {}
    if acknowledge_earlier:
        for f in ev.findings:
            if f.rule == "variant.resistance":
                acks[f.id] = {"at": "2021-03-01T10:00:00+00:00", "note": "discussed; switched to osimertinib"}
    return PatientEvaluation(history=history, evaluation=ev, acks=acks)
