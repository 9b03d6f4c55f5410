"""Exit codes, in one enum (modelled on httpie's ``ExitStatus``).

Scripts and cron jobs can tell "all clear" from "something needs attention" from "broken".
Any code not listed here must be treated as a failure.
"""

from enum import IntEnum, unique


@unique
class ExitStatus(IntEnum):
    #: The command did what was asked and nothing needs attention.
    OK = 0
    #: The command could not run: store missing or unreadable, newer schema, I/O failure.
    ERROR = 1
    #: The command line or a value on it was not valid (Click's own code for usage errors),
    #: including an id or a name that does not exist in the store.
    USAGE = 2
    #: The command ran and found something that needs attention (``check``, ``remind``).
    ATTENTION = 3
    #: Interrupted with Ctrl-C.
    INTERRUPTED = 130


EXIT_CODE_HELP = (
    "Exit codes: 0 nothing needs attention; 1 error (store missing or unreadable); "
    "2 bad usage or input (also an id or name that does not exist); 3 something needs attention; "
    "130 interrupted. "
    "Treat any other code as a failure."
)
