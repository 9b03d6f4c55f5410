"""lungtrack: track results during targeted therapy for lung cancer and flag signs of progression.

The package is split into a pure core (``lungtrack.core``, ``lungtrack.parsing``,
``lungtrack.knowledge``) that needs no database, clock or terminal, and a shell around it
(``lungtrack.store`` for storage, ``lungtrack.cli`` for the command line, ``lungtrack.report``
for rendering).  Importing this package is cheap: it does not import SQLAlchemy.
"""

__version__ = "0.1.0"
