"""The pure rules core.

Nothing in ``lungtrack.core`` touches a database, a file, a terminal or the clock: "today"
is always an argument.  The input is a :class:`~lungtrack.core.history.History` of plain,
frozen dataclasses; the output is plain data too (findings, response tables, kinetics).

Typical use as a library::

    from lungtrack.core.history import History, PatientInfo, ...
    from lungtrack.core.engine import evaluate
    result = evaluate(history, today=date(2026, 8, 12))
    for finding in result.findings:
        print(finding.severity, finding.title)
"""
