"""The caregiver summary and the printable report.

The report is assembled once, as data (:func:`lungtrack.report.model.build_report`), and then
rendered to every format - Rich terminal, JSON, HTML with SVG charts, PDF, Markdown and plain
text - so that the formats cannot disagree.  Shell code: it may be slow to import (matplotlib,
Rich), so the CLI imports it inside the command functions only.
"""
