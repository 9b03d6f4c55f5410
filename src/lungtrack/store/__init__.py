"""Storage: SQLModel tables, the engine, migrations and the repository.

Importing this package imports SQLAlchemy; only command functions do that, never the CLI root.
"""
