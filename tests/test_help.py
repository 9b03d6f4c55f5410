"""The help of every command reads like a manual (walks the whole Click tree)."""

from __future__ import annotations

import re

import pytest

from lungtrack.cli._help import first_sentence


def _tree():
    import typer.main

    from lungtrack.cli import app

    root = typer.main.get_command(app)
    out = [([], root)]

    def walk(group, prefix):
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            out.append((prefix + [name], cmd))
            if hasattr(cmd, "list_commands"):
                walk(cmd, prefix + [name])

    walk(root, [])
    return out


TYPER_TYPES = re.compile(r"<(?:str|int|float|path|list\[[^\]]*\]|[a-z|,\-]+)>|\bTEXT\b|\bINTEGER\b")


def test_every_option_and_argument_is_described_with_a_real_metavar():
    problems = []
    for path, cmd in _tree():
        for p in cmd.params:
            where = f"lungtrack {' '.join(path)} {p.opts[0] if p.param_type_name == 'option' else p.name}"
            if not (getattr(p, "help", None) or "").strip():
                problems.append(f"{where}: no description")
            if p.param_type_name == "option" and (getattr(p, "is_flag", False) or getattr(p, "count", False)):
                continue
            if not p.metavar or TYPER_TYPES.search(p.metavar) or p.metavar != p.metavar.upper() and "|" not in p.metavar:
                problems.append(f"{where}: metavar {p.metavar!r}")
    assert not problems, "\n".join(problems)


def test_command_summaries_are_whole_sentences():
    problems = []
    for path, cmd in _tree():
        if not path:
            continue
        summary = cmd.get_short_help_str(limit=45)
        if not summary or summary.endswith("...") or not summary.endswith((".", "?", "!")):
            problems.append(f"lungtrack {' '.join(path)}: {summary!r}")
        if not summary[:1].isupper():
            problems.append(f"lungtrack {' '.join(path)}: summary should start with a capital: {summary!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", [p for p, _ in _tree()], ids=lambda p: " ".join(p) or "lungtrack")
def test_help_shows_no_typer_type_names(cli, path):
    r = cli(*path, "--help", env={"COLUMNS": "100"})
    assert r.code == 0
    found = TYPER_TYPES.findall(r.stdout)
    assert not found, (path, found)
    assert "..." not in r.stdout.replace("[ARGS]...", "").replace("FILE...", ""), r.stdout


def test_first_sentence():
    assert first_sentence("Log a scan. More here.") == "Log a scan."
    assert first_sentence("Sizes, e.g. 3.2 cm. Then more.") == "Sizes, e.g. 3.2 cm."
    assert first_sentence("Lines of therapy: start, stop, list") == "Lines of therapy: start, stop, list."
    assert first_sentence("One paragraph\n\nanother. Yes.") == "One paragraph."


def test_the_static_command_table_matches_the_command_modules():
    """``lungtrack --help`` and completion of command names read ``_root.COMMANDS`` without importing
    the command modules: it must name exactly the commands the modules define, each with the
    summary the loaded command shows, and each loadable through its unit alone."""
    import typer.main

    from lungtrack.cli import _root, _unit, app

    root = typer.main.get_command(app)
    for unit in dict.fromkeys(u for u, _ in _root.COMMANDS.values()):
        part = typer.main.get_group(_unit(unit))
        assert {n for n, (u, _) in _root.COMMANDS.items() if u == unit} == set(part.commands), unit
    loaded = {}
    for name in _root.COMMANDS:
        cmd = root.get_command(None, name)
        assert cmd is not None, name
        loaded[name] = cmd.get_short_help_str()
    assert set(root.commands) == set(_root.COMMANDS)  # nothing defined outside the table
    assert loaded == {n: s for n, (_, s) in _root.COMMANDS.items()}
    assert all(n in _root.COMMAND_ORDER for n in _root.COMMANDS)


def test_root_help_and_name_completion_load_no_command_module():
    import subprocess
    import sys

    probe = ("import sys, io, contextlib\nsys.argv = ['lungtrack', '--help']\nfrom lungtrack.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
             "    try:\n        main()\n    except SystemExit:\n        pass\n"
             "mods = sorted(m for m in sys.modules if m.startswith('lungtrack.cli.') and not m.split('.')[-1]"
             ".startswith('_') and m != 'lungtrack.cli.common')\n"
             "print(mods, 'patient' in out.getvalue() and 'Print the manual page' in out.getvalue())")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "[] True", res.stdout + res.stderr
