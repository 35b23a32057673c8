"""The house rules that keep the layers apart, checked by reading the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hashmatch

ROOT = Path(__file__).resolve().parents[2]
# Which of our packages may import each framework (STYLE.md, architecture rule 1).
ALLOWED = {
    "typer": ("hashmatch/cli/",),
    "rich": ("hashmatch/cli/",),
    "fastapi": ("hashmatch/web/",),
    "starlette": ("hashmatch/web/",),
    "sqlalchemy": ("hashmatch/store/",),
    "alembic": ("hashmatch/store/",),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


SOURCES = sorted(p for folder in ("hashmatch", "adapters") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_frameworks_stay_in_their_packages(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    for module in imports(path):
        top = module.split(".")[0]
        allowed = ALLOWED.get(top)
        if allowed is not None:
            assert relative.startswith(allowed), f"{relative} imports {module}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_an_adapter_or_the_cli(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    for module in imports(path):
        if module.startswith(("hashmatch_adapters", "adapters")):
            pytest.fail(f"{relative} imports {module}: find adapters through the registry")
        if module.startswith("hashmatch.cli") and not relative.startswith(
            ("hashmatch/cli/", "hashmatch/__main__.py")
        ):
            pytest.fail(f"{relative} imports the CLI")


def test_adapters_import_each_other_relatively() -> None:
    for path in (ROOT / "adapters").rglob("*.py"):
        for module in imports(path):
            assert not module.startswith("hashmatch_adapters"), path.name


def test_the_environment_is_read_only_by_settings() -> None:
    for path in SOURCES:
        text = path.read_text("utf-8")
        if "os.environ" in text or "getenv(" in text:
            pytest.fail(f"{path.relative_to(ROOT)} reads the environment: use Settings")


def test_every_module_and_public_class_says_what_it_is_for() -> None:
    missing = []
    for path in SOURCES:
        tree = ast.parse(path.read_text("utf-8"))
        module_needs_one = path.name != "__init__.py" and "migrations/versions" not in str(path)
        if module_needs_one and ast.get_docstring(tree) is None:
            missing.append(str(path.relative_to(ROOT)))
        missing += [
            f"{path.relative_to(ROOT)}:{node.name}"
            for node in tree.body
            if isinstance(node, ast.ClassDef)
            and not node.name.startswith("_")
            and ast.get_docstring(node) is None
        ]
    assert missing == []


def test_public_api_is_pinned() -> None:
    assert hashmatch.__all__ == sorted(hashmatch.__all__)
    assert hashmatch.__all__ == [
        "Algorithm",
        "Digest",
        "HashmatchError",
        "Purpose",
        "Verdict",
        "__version__",
        "parse_digest",
    ]
    for name in hashmatch.__all__:
        assert hasattr(hashmatch, name)
