"""Error types shared by the core and the shell.

Every error a user can cause is turned into exactly one line on stderr by the CLI.  An
``InputError`` names the field, the value given and the form expected.
"""

from __future__ import annotations


class LungtrackError(Exception):
    """Base class for errors that are reported to the user as one line (no traceback)."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class InputError(LungtrackError, ValueError):
    """A value typed by the user is not valid.

    The message always has the form ``<field>: <value> is not valid; expected <form>``
    unless a more helpful sentence is given as ``message``.
    """

    exit_code = 2

    def __init__(self, field: str, value: object, expected: str, message: str | None = None):
        self.field = field
        self.value = value
        self.expected = expected
        if message is None:
            message = f"{field}: {shown_value(value)} is not valid; expected {expected}."
        super().__init__(message)


#: An error message shows at most this many characters of the value that was given.
MAX_SHOWN = 60


def shown_value(value: object) -> str:
    """The value as an error message shows it: quoted text, cut to a readable length with "…"."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 12] + "…" + text[-8:] + f" ({len(text)} characters)"
        return f"'{text}'" if isinstance(value, str) else text
    return repr(value) if isinstance(value, str) else text


class NotFoundError(LungtrackError):
    """A record or patient that was asked for does not exist (a wrong id or name).

    Exit 2, like any other bad input: the store itself is fine (a missing or unreadable store
    is a ``StoreError``, exit 1)."""

    exit_code = 2


class StoreError(LungtrackError):
    """The store cannot be opened or used (missing, locked, newer schema, wrong permissions)."""

    exit_code = 1


class ConfigError(LungtrackError):
    """The thresholds file is not valid."""

    exit_code = 2


class RecordsRefused(InputError):
    """One or more records are invalid: nothing was written.

    ``problems`` are :class:`lungtrack.records.inputs.Problem` (origin, field, message).  With a
    single problem the message is that problem's own line, so the CLI and an importer refusing
    the same record say the same thing."""

    def __init__(self, problems: tuple, what: str = "nothing was written"):
        self.problems = tuple(problems)
        first = self.problems[0]
        if len(self.problems) == 1:
            message = first.line()
        else:
            message = (f"{len(self.problems)} records are not valid, {what}: "
                       + "; ".join(p.line() for p in self.problems))
        super().__init__(first.field, "", "valid records", message=message)
