"""The contract every format adapter keeps, run over every adapter the registry knows.

A new adapter is covered as soon as it is registered: it needs a fixture folder
``tests/fixtures/adapters/<NAME>/`` with ``valid.*`` and ``corrupt.*`` (a bad later
record), and where it makes sense ``corrupt-first.*`` (a bad first record) and
``corrupt-later.*`` (more bad later records).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.adapter import HEAD_BYTES, FormatAdapter
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.registry import default_registry

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "adapters"
ADAPTERS = default_registry().adapters()
Reader = Callable[..., tuple[list[dict[str, Any]], Any]]


def _fixture(adapter: type[FormatAdapter], stem: str) -> Path | None:
    found = sorted((FIXTURES / adapter.NAME).glob(f"{stem}.*"))
    assert len(found) <= 1, f"more than one {stem}.* fixture for {adapter.NAME}: {found}"
    return found[0] if found else None


def _later_kinds() -> list[tuple[type[FormatAdapter], Path]]:
    return [
        (adapter, path)
        for adapter in ADAPTERS
        for stem in ("corrupt", "corrupt-later")
        if (path := _fixture(adapter, stem)) is not None
    ]


def _sound_fixtures() -> list[tuple[type[FormatAdapter], Path]]:
    """Every fixture that is not a corrupt-* one: edge cases that must read cleanly."""
    return [
        (adapter, path)
        for adapter in ADAPTERS
        for path in sorted((FIXTURES / adapter.NAME).glob("*.*"))
        if not path.name.startswith("corrupt")
    ]


by_name = pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.NAME)
sound = pytest.mark.parametrize(
    ("adapter", "path"),
    _sound_fixtures(),
    ids=[f"{a.NAME}/{p.name}" for a, p in _sound_fixtures()],
)
later_kinds = pytest.mark.parametrize(
    ("adapter", "path"), _later_kinds(), ids=[f"{a.NAME}/{p.name}" for a, p in _later_kinds()]
)


def test_the_registry_finds_the_built_in_adapters() -> None:
    assert {"bare", "csv", "hashdeep", "md5sum"} <= {a.NAME for a in ADAPTERS}


def test_every_fixture_folder_belongs_to_an_adapter() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders <= {a.NAME for a in ADAPTERS}


def test_fixtures_are_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [p for p, data in module.build().items() if not p.exists() or p.read_bytes() != data]
    assert not stale, "run tests/fixtures/adapters/make_fixtures.py and commit the result"


@by_name
def test_adapter_is_documented_and_has_both_fixtures(adapter: type[FormatAdapter]) -> None:
    assert adapter.__doc__
    assert sys.modules[adapter.__module__].__doc__
    assert adapter.DESCRIPTION
    assert _fixture(adapter, "valid") is not None, f"no valid.* fixture for {adapter.NAME}"
    assert _fixture(adapter, "corrupt") is not None, f"no corrupt.* fixture for {adapter.NAME}"


@by_name
def test_valid_fixture_reads_without_warnings(adapter: type[FormatAdapter], read: Reader) -> None:
    path = _fixture(adapter, "valid")
    assert path is not None
    rows, context = read(adapter, path.read_bytes(), strict=True)
    assert rows
    assert context.warning_count == 0
    for row in rows:
        assert any((row[c] or "").strip() for c in ("md5", "sha1", "sha256")), row
        assert row["line"] >= 1
    lines = [row["line"] for row in rows]
    assert lines == sorted(set(lines))


@by_name
def test_detection_picks_the_adapter_for_its_valid_fixture(adapter: type[FormatAdapter]) -> None:
    path = _fixture(adapter, "valid")
    assert path is not None
    head = path.read_bytes()[:HEAD_BYTES]
    assert adapter.sniff(head)
    # Detection is per role: a VICS case export is a list to 'ingest' and a manifest to
    # 'check', and each role has its own adapter for it.
    for role in adapter.ROLES:
        assert default_registry().detect(head, role=role) is adapter


@sound
def test_every_edge_case_fixture_reads_cleanly_and_is_detected(
    adapter: type[FormatAdapter], path: Path, read: Reader
) -> None:
    rows, context = read(adapter, path.read_bytes(), strict=True)
    assert rows
    assert context.warning_count == 0
    for role in adapter.ROLES:
        assert default_registry().detect(path.read_bytes()[:HEAD_BYTES], role=role) is adapter


@later_kinds
def test_bad_later_records_are_warnings_with_lines(
    adapter: type[FormatAdapter], path: Path, read: Reader
) -> None:
    rows, context = read(adapter, path.read_bytes(), source=path.name)
    assert context.warning_count >= 1
    assert len(context.warnings) == context.warning_count
    for warning in context.warnings:
        assert warning.source == path.name
        assert warning.line is not None
        assert warning.line >= 1
        assert warning.reason
    assert rows, "the good records around a bad one are still read"


@later_kinds
def test_bad_later_records_are_errors_under_strict(
    adapter: type[FormatAdapter], path: Path, read: Reader
) -> None:
    _, lenient = read(adapter, path.read_bytes())
    with pytest.raises(RecordError) as raised:
        read(adapter, path.read_bytes(), strict=True, source=path.name)
    assert raised.value.line == lenient.warnings[0].line
    assert raised.value.source == path.name


@by_name
def test_a_bad_first_record_means_not_this_format(
    adapter: type[FormatAdapter], read: Reader
) -> None:
    path = _fixture(adapter, "corrupt-first")
    if path is None:
        pytest.skip(f"{adapter.NAME} has no corrupt-first fixture")
    with pytest.raises(UnsupportedFormat) as raised:
        read(adapter, path.read_bytes(), source=path.name)
    assert raised.value.source == path.name
    assert raised.value.line is not None


@by_name
@pytest.mark.parametrize("stem", ["valid", "corrupt"])
def test_batch_size_is_honoured(adapter: type[FormatAdapter], stem: str, read: Reader) -> None:
    path = _fixture(adapter, stem)
    assert path is not None
    whole, _ = read(adapter, path.read_bytes())
    small, _ = read(adapter, path.read_bytes(), batch_size=2)  # checks every batch <= 2
    assert small == whole


@by_name
@pytest.mark.parametrize("data", [b"", b"\n", b"\r\n\r\n", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_an_empty_file_reads_as_nothing_or_is_refused(
    adapter: type[FormatAdapter], data: bytes, read: Reader
) -> None:
    try:
        rows, context = read(adapter, data)
    except UnsupportedFormat:
        return
    assert rows == []
    assert context.warning_count == 0


LINE_PIECES = st.sampled_from(
    [
        "%%%% HASHDEEP-1.0",
        "%%%% size,md5,filename",
        "#TYPE x",
        '"Algorithm","Hash","Path"',
        "MD5,SHA1,Path",
        "MD5 (",
        ") = ",
        "\\",
        "8ae3352be594f4c2fc4b7d527a79ace1",
        "  ",
        " *",
        ",",
        ";",
        "\t",
        '"',
        "\r\n",
        "\n",
        "\x00",
        "\ufeff",
        "é",
    ]
)


@by_name
@given(data=st.one_of(st.binary(max_size=512), st.lists(LINE_PIECES).map("".join).map(str.encode)))
def test_sniff_never_raises(adapter: type[FormatAdapter], data: bytes) -> None:
    assert adapter.sniff(data) in (True, False)
