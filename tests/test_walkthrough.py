"""docs/walkthrough.md stories 1 and 2, run as written: the confirmations in the doc are the program's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "walkthrough.md"


def _story_one_blocks():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## 1.")[1].split("## 2.")[0]
    sessions = re.findall(r"```\n(.*?)```", section, flags=re.S)
    steps = []
    for block in sessions:
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                cmd = line[2:]
                while cmd.endswith("\\"):
                    i += 1
                    cmd = cmd[:-1] + " " + lines[i].strip()
                expected = []
                while i + 1 < len(lines) and not lines[i + 1].startswith("$ "):
                    i += 1
                    expected.append(lines[i])
                steps.append((shlex.split(cmd)[1:], expected))
            i += 1
    return steps


def test_story_one_runs_exactly_as_documented(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    steps = _story_one_blocks()
    assert len(steps) >= 6
    for args, expected in steps:
        r = cli(*args)
        out = (r.stdout + r.stderr).strip().splitlines()
        assert out == expected, (args, r)


def test_story_two_demo_check(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    db = str(tmp_path / "demo.db")
    assert cli("--db", db, "demo", "--quiet").code == 0
    r = cli("--db", db, "check")
    assert r.code == 3
    text = DOC.read_text(encoding="utf-8").split("## 2.")[1].split("## 3.")[0]
    shown = [ln.rstrip(" .") for ln in re.findall(r"```\n(.*?)```", text, flags=re.S)[0].splitlines()
             if not ln.startswith("$") and ln.strip() and ln.strip() != "..."]
    for line in shown:
        fragment = line.strip().rstrip(".").split(" ...")[0]
        assert fragment in r.stdout, fragment
