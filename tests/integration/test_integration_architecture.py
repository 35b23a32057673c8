"""The house rules that keep the layers apart, checked by reading the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hashmatch

ROOT = Path(__file__).resolve().parents[2]
# Which of our packages may import each framework (STYLE.md, architecture rule 1): the web
# framework and metrics only in the web layer, the server and terminal UI only in the CLI,
# the database toolkit only in the store. Nothing else, adapters included, imports them.
ALLOWED = {
    "fastapi": ("hashmatch/web/",),
    "starlette": ("hashmatch/web/",),
    "prometheus_client": ("hashmatch/web/",),
    "uvicorn": ("hashmatch/cli/",),
    "typer": ("hashmatch/cli/",),
    "rich": ("hashmatch/cli/",),
    "sqlalchemy": ("hashmatch/store/",),
    "alembic": ("hashmatch/store/",),
}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import is (functions included), and
    modules named to ``importlib.import_module`` or ``__import__`` as a literal."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and _called(node.func) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def _called(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


SOURCES = sorted(p for folder in ("hashmatch", "adapters") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_frameworks_stay_in_their_packages(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    for module in imports(path):
        top = module.split(".")[0]
        allowed = ALLOWED.get(top)
        if allowed is not None:
            assert relative.startswith(allowed), f"{relative} imports {module}"


def test_each_framework_is_used_where_it_is_allowed() -> None:
    """The rule above cannot pass by accident: each framework is imported somewhere, and
    only in its package (a misspelt name in ALLOWED would check nothing)."""
    users: dict[str, set[str]] = {name: set() for name in ALLOWED}
    for path in SOURCES:
        for module in imports(path):
            top = module.split(".")[0]
            if top in users:
                users[top].add(path.relative_to(ROOT).as_posix())
    for name, paths in users.items():
        assert paths, f"nothing imports {name}: is ALLOWED out of date?"
        assert all(p.startswith(ALLOWED[name]) for p in paths), (name, paths)


def test_the_import_walker_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "import uvicorn\n"
        "from prometheus_client import Counter\n"
        "from . import sibling\n"
        "def late():\n"
        "    import sqlalchemy.orm\n"
        "    importlib.import_module('fastapi')\n"
        "    __import__('rich.console')\n",
        "utf-8",
    )
    assert imports(source) == {
        "uvicorn",
        "prometheus_client",
        "sqlalchemy.orm",
        "fastapi",
        "rich.console",
    }


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


ENVIRONMENT_WRITERS = {"hashmatch/cli/serve.py": frozenset({"_environment", "_set"})}
"""Functions that set variables for child processes, and nothing else: ``serve`` hands its
uvicorn workers (fresh interpreters) the resolved settings as ``HASHMATCH_*`` variables,
and puts the old values back afterwards."""


def _without_functions(text: str, names: frozenset[str]) -> str:
    """``text`` with the top-level functions ``names`` blanked out."""
    lines = text.splitlines()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            assert node.end_lineno is not None
            for number in range(node.lineno - 1, node.end_lineno):
                lines[number] = ""
    return "\n".join(lines)


def test_the_environment_is_read_only_by_settings() -> None:
    for path in SOURCES:
        text = path.read_text("utf-8")
        writers = ENVIRONMENT_WRITERS.get(path.relative_to(ROOT).as_posix())
        if writers is not None:
            assert writers <= {
                node.name for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)
            }
            text = _without_functions(text, writers)
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
