"""Alembic environment for lungtrack.

lungtrack runs migrations from code (:func:`lungtrack.store.db.migrate`), handing the open
connection in ``config.attributes["connection"]``, so that the migration runs inside the
command's own transaction.  ``render_as_batch`` lets column changes work on SQLite.
"""

from alembic import context

from lungtrack.store import models
from sqlmodel import SQLModel

models.load_all()  # every table on the metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used when a developer runs alembic by hand
    raise RuntimeError("run migrations through lungtrack.store.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,
    transactional_ddl=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
