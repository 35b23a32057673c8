"""hashmatch.adapter: what a read reports through ReadContext."""

from __future__ import annotations

import pytest

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import RecordError
from hashmatch.model import RecordWarning


def test_warn_counts_every_warning_and_keeps_the_first_ones() -> None:
    context = ReadContext(source="list.txt", keep_warnings=2)
    for line in (3, 5, 8, 13):
        context.warn(line, f"bad record at {line}")
    assert context.warning_count == 4
    assert context.warnings == [
        RecordWarning(source="list.txt", line=3, reason="bad record at 3"),
        RecordWarning(source="list.txt", line=5, reason="bad record at 5"),
    ]


def test_warn_without_a_line() -> None:
    context = ReadContext(source="list.txt")
    context.warn(None, "trailer missing")
    assert context.warnings == [
        RecordWarning(source="list.txt", line=None, reason="trailer missing")
    ]


def test_keep_no_warnings_still_counts_them() -> None:
    context = ReadContext(source="list.txt", keep_warnings=0)
    context.warn(1, "x")
    assert context.warning_count == 1
    assert context.warnings == []


def test_strict_turns_a_warning_into_a_record_error() -> None:
    context = ReadContext(source="list.txt", strict=True)
    with pytest.raises(RecordError) as caught:
        context.warn(42, "size is not a number")
    assert caught.value.source == "list.txt"
    assert caught.value.line == 42
    assert caught.value.reason == "size is not a number"
    assert str(caught.value) == "list.txt:42: size is not a number"
    assert context.warning_count == 0
    assert context.warnings == []


def test_contexts_do_not_share_their_warnings() -> None:
    first, second = ReadContext(source="a"), ReadContext(source="b")
    first.warn(1, "x")
    assert second.warnings == []


def test_format_adapter_defaults() -> None:
    assert FormatAdapter.PRIORITY == 100
    assert FormatAdapter.VERSION == "1"
    assert frozenset({Role.LIST, Role.MANIFEST}) == FormatAdapter.ROLES
    with pytest.raises(TypeError):
        FormatAdapter()  # type: ignore[abstract]
