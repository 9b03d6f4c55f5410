"""The SQLModel tables.  docs/data-model.md describes every table and column.

Conventions: clinical dates are ``DATE``; ``created_at``/``updated_at`` are UTC timestamps
stored without a zone; controlled vocabularies are stored as the ``value`` strings of the
enums in :mod:`lungtrack.enums` (plain ``VARCHAR``, so SQLite and PostgreSQL behave alike);
``source`` says where a row came from (``manual``, ``demo`` or ``import:<file>``).
Changing a table here needs a new Alembic migration in ``store/migrations/versions``.

Each table's class is built the first time it is used (``models.Patient`` imports
``models/patient.py``): building all 18 SQLModel classes costs about 100 ms, and a command adding
a marker needs four of them.  :func:`load_all` builds every one (migrations, the journal's undo,
anything that walks ``SQLModel.metadata``).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: The module of each class.
_WHERE = {'utcnow': '_base', 'Timestamped': '_base', 'Patient': 'patient', 'PatientIdentifier': 'patient', 'TherapyLine': 'therapy', 'ImagingStudy': 'imaging', 'Lesion': 'imaging', 'LesionMeasurement': 'imaging', 'NewLesion': 'imaging', 'MarkerResult': 'marker', 'BiopsyFinding': 'biopsy', 'Appointment': 'appointment', 'Note': 'note', 'Acknowledgement': 'followup', 'Snooze': 'followup', 'EventLog': 'events', 'Change': 'journal', 'ChangeEntry': 'journal'}
_MODULES = tuple(dict.fromkeys(_WHERE.values()))
#: The module of each table.
_TABLE_MODULE = {
    "patient": "patient", "patient_identifier": "patient", "therapy_line": "therapy", "imaging_study": "imaging",
    "lesion": "imaging", "lesion_measurement": "imaging", "new_lesion": "imaging", "marker_result": "marker",
    "biopsy_finding": "biopsy", "appointment": "appointment", "note": "note", "acknowledgement": "followup",
    "snooze": "followup", "event_log": "events", "change": "journal", "change_entry": "journal",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"lungtrack.store.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'lungtrack.store.models' has no attribute {name!r}")


def load_all() -> None:
    """Build every table class (so ``SQLModel.metadata`` holds every table)."""
    for module in _MODULES:
        import_module(f"lungtrack.store.models.{module}")


def loaded_table(name: str) -> Any | None:
    """The ORM's table called ``name`` if its class is built in this process, else None."""
    from sqlmodel import SQLModel

    return SQLModel.metadata.tables.get(name)


def table(name: str) -> Any:
    """The ORM's table called ``name``, building its class if needed (KeyError: no such table)."""
    found = loaded_table(name)
    if found is None:
        import_module(f"lungtrack.store.models.{_TABLE_MODULE[name]}")
        from sqlmodel import SQLModel

        found = SQLModel.metadata.tables[name]
    return found
