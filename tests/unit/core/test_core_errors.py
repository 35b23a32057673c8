"""hashmatch.errors: how errors render, their HTTP statuses, and the tree in the docstring."""

from __future__ import annotations

import pickle
import re

import pytest

import hashmatch.errors as errors_module
from hashmatch.errors import (
    AdapterRegistryError,
    ConfigurationError,
    Conflict,
    DigestError,
    HashmatchError,
    IngestError,
    InputError,
    NotFound,
    RecordError,
    SnapshotError,
    StoreError,
    UnsupportedFormat,
)

EXPORTED = [getattr(errors_module, name) for name in errors_module.__all__]


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ("hashes.txt", 12, "hashes.txt:12: bad digest"),
        ("hashes.txt", None, "hashes.txt: bad digest"),
        (None, None, "bad digest"),
        ("hashes.txt", 0, "hashes.txt:0: bad digest"),
    ],
)
def test_render(source: str | None, line: int | None, expected: str) -> None:
    error = RecordError("bad digest", source=source, line=line)
    assert error.render() == expected
    assert str(error) == expected
    assert (error.reason, error.source, error.line) == ("bad digest", source, line)


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (HashmatchError, 500),
        (InputError, 400),
        (DigestError, 422),
        (UnsupportedFormat, 415),
        (RecordError, 422),
        (ConfigurationError, 400),
        (NotFound, 404),
        (Conflict, 409),
        (AdapterRegistryError, 500),
        (IngestError, 422),
        (SnapshotError, 500),
        (StoreError, 503),
    ],
)
def test_http_status(cls: type[HashmatchError], status: int) -> None:
    assert cls.http_status == status
    assert cls("x").http_status == status


def test_every_exported_class_is_a_hashmatch_error() -> None:
    assert EXPORTED, "errors.__all__ is empty"
    for cls in EXPORTED:
        assert isinstance(cls, type)
        assert issubclass(cls, HashmatchError), cls


def test_all_is_sorted_and_complete() -> None:
    assert list(errors_module.__all__) == sorted(errors_module.__all__)
    defined = {
        name
        for name, value in vars(errors_module).items()
        if isinstance(value, type)
        and issubclass(value, HashmatchError)
        and value.__module__ == errors_module.__name__
    }
    assert defined == set(errors_module.__all__)


def _drawn_tree() -> dict[str, str | None]:
    """Class name -> the parent drawn for it in the module docstring (None for the root)."""
    doc = errors_module.__doc__
    assert doc is not None
    lines = doc.split("The tree::", 1)[1].splitlines()
    block = [line for line in lines[1:] if line.strip()]
    block = block[: next((i for i, line in enumerate(block) if not line[:1].isspace()), None)]
    assert block, "no tree drawn in the docstring"
    margin = min(len(line) - len(line.lstrip()) for line in block)
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in block:
        drawing = line[margin:]
        match = re.match(r"[│├└─\s]*(\w+)", drawing)
        assert match, line
        depth, name = match.start(1) // 4, match.group(1)
        assert depth <= len(stack), f"{name} is drawn under nothing"
        del stack[depth:]
        parents[name] = stack[-1] if stack else None
        stack.append(name)
    return parents


def test_the_docstring_tree_draws_every_class_under_its_real_parent() -> None:
    drawn = _drawn_tree()
    assert set(drawn) == set(errors_module.__all__)
    for name, parent in drawn.items():
        cls = getattr(errors_module, name)
        if parent is None:
            assert cls is HashmatchError
        else:
            assert cls.__bases__ == (getattr(errors_module, parent),), name


def test_errors_survive_pickling_with_their_context() -> None:
    error = pickle.loads(pickle.dumps(DigestError("not hex", source="m.txt", line=4)))
    assert type(error) is DigestError
    assert (error.reason, error.source, error.line) == ("not hex", "m.txt", 4)
    assert str(error) == "m.txt:4: not hex"
