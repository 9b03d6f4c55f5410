"""Generate docs/cli-reference.md and the man page docs/lungtrack.1 from the commands' own --help
(run: python3 scripts/gen_cli_reference.py).

tests/test_docs.py fails when the file is stale, so the reference can never drift from the code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "cli-reference.md"
MAN = ROOT / "docs" / "lungtrack.1"  # the manual page, installed as share/man/man1/lungtrack.1


def command_paths() -> list[list[str]]:
    import typer.main

    from lungtrack.cli import app

    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(group, prefix):
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            if cmd is None or getattr(cmd, "hidden", False):
                continue
            paths.append(prefix + [name])
            if hasattr(cmd, "list_commands"):
                walk(cmd, prefix + [name])

    walk(root, [])
    return paths


def render() -> str:
    from typer.testing import CliRunner

    from lungtrack.cli import app

    os.environ["COLUMNS"] = "100"
    os.environ["TERM"] = "dumb"
    runner = CliRunner()
    parts = [
        "# Command reference",
        "",
        "Generated from each command's `--help` by `python3 scripts/gen_cli_reference.py`; "
        "`tests/test_docs.py` fails when it is out of date. See [usage.md](usage.md) for examples.",
        "",
    ]
    for path in command_paths():
        result = runner.invoke(app, path + ["--help"], env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"})
        title = "lungtrack " + " ".join(path) if path else "lungtrack"
        parts += [f"## {title}", "", "```", result.stdout.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
    from lungtrack.cli._man import render_man

    MAN.write_text(render_man(), encoding="utf-8")
    print(f"wrote {MAN}")
