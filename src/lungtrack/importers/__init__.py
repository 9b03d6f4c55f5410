"""Importers: files from other places turned into the write contract (:mod:`lungtrack.records.inputs`).

``mapping`` (TOML mapping files) and ``csv_rows`` (CSV rows -> typed rows) are pure: text in,
plain data out, no store, no clock (today is a parameter).  ``csv_plan`` and ``json_plan``
build :class:`~lungtrack.records.inputs.ImportPlan` objects that the domain layer applies.
"""
