"""The docs keep up with the code: generated CLI reference, every command, rule and threshold."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "scripts"))

import gen_cli_reference  # noqa: E402


def test_cli_reference_is_up_to_date():
    current = (DOCS / "cli-reference.md").read_text(encoding="utf-8")
    assert current == gen_cli_reference.render(), "run: python3 scripts/gen_cli_reference.py"


@pytest.mark.parametrize("path", [p for p in gen_cli_reference.command_paths() if p], ids=lambda p: " ".join(p))
def test_every_command_has_help_and_an_example(path):
    usage = (DOCS / "usage.md").read_text(encoding="utf-8") + (DOCS / "reminders.md").read_text(encoding="utf-8") \
        + (DOCS / "reports.md").read_text(encoding="utf-8")
    assert f"lungtrack {' '.join(path)}" in usage, f"no example of 'lungtrack {' '.join(path)}' in docs/"


def _rule_ids() -> set[str]:
    ids: set[str] = set()
    for path in (ROOT / "src" / "lungtrack" / "core").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        ids |= set(re.findall(r'"((?:recist|lesion|marker|variant|timing|entry|engine)\.[a-z_]+)"', text))
    return ids


def test_every_rule_is_documented_with_a_source():
    rules_doc = (DOCS / "rules.md").read_text(encoding="utf-8")
    ids = _rule_ids()
    assert len(ids) >= 12, ids
    for rule in ids:
        assert rule in rules_doc, f"{rule} is not in docs/rules.md"


def test_every_threshold_is_documented():
    from lungtrack.core.config import RulesConfig

    rules_doc = (DOCS / "rules.md").read_text(encoding="utf-8")
    for section, values in RulesConfig().to_mapping().items():
        assert f"[{section}]" in rules_doc
        for key in values:
            assert f"{key} = " in rules_doc, f"{section}.{key} missing from docs/rules.md"


def test_every_source_is_listed():
    from lungtrack.knowledge.sources import SOURCES

    rules_doc = (DOCS / "rules.md").read_text(encoding="utf-8")
    for key, source in SOURCES.items():
        assert source.url in rules_doc, key


def test_every_table_is_in_the_data_model():
    from sqlmodel import SQLModel

    import lungtrack.store.models

    lungtrack.store.models.load_all()

    doc = (DOCS / "data-model.md").read_text(encoding="utf-8")
    for table in SQLModel.metadata.sorted_tables:
        assert f"## {table.name}" in doc, table.name
        for column in table.columns:
            if column.name in ("id", "created_at", "updated_at", "source"):
                continue
            assert f"`{column.name}`" in doc, f"{table.name}.{column.name}"


def test_readme_starts_with_exactly_two_setup_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", text, flags=re.S)
    assert blocks[0].strip() == "python3 -m pip install . && lungtrack demo"
    assert blocks[1].strip() == "python3 -m pip install -e '.[test]' && python3 -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci
