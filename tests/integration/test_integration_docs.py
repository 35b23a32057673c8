"""The README tells the truth: its commands are the ones CI runs, its tables are complete."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from hashmatch.cli import app
from hashmatch.config import Settings
from hashmatch.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```[\w-]*\n(.*?)```", text, flags=re.S)


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = [block.strip() for block in code_blocks(README) if "pip install" in block]
    assert len(commands) == 2
    demo, tests = commands
    assert demo.endswith("hashmatch demo")
    for step in ("ruff check", "ruff format --check", "mypy", "schemagen --check", "pytest"):
        assert step in tests
    assert tests in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()


def test_every_setting_is_in_the_settings_table() -> None:
    for name in Settings.model_fields:
        assert f"`HASHMATCH_{name.upper()}`" in README, name


def test_every_format_is_in_the_formats_table() -> None:
    for name in default_registry().names():
        assert f"| `{name}` |" in README, name


def test_every_command_is_documented() -> None:
    group = get_command(app)
    for name in group.commands:  # type: ignore[attr-defined]
        assert f"hashmatch {name}" in README, name


def test_changelog_has_an_unreleased_section() -> None:
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text("utf-8")
