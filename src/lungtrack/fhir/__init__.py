"""FHIR R4 in and out: pure mapping between FHIR resources (plain dicts) and lungtrack's records.

:mod:`lungtrack.fhir.mapping` reads bulk NDJSON / Bundles and maps them to an import plan;
:mod:`lungtrack.fhir.export` builds a Bundle from a patient's records.  Neither touches the
store, the network or the file system: the CLI (:mod:`lungtrack.cli.importers`) does that.
docs/formats.md has the mapping tables and their sources.
"""
