"""The helpers the line-based adapters share (``adapters/_common.py``)."""

from __future__ import annotations

import codecs

import pyarrow as pa
import pytest
from hashmatch_adapters._common import (
    BatchAssembler,
    BatchBuffer,
    LineCursor,
    TextColumn,
    algorithm_column,
    column_for_digest,
    describe_bad_digest,
    head_lines,
    is_hex_digest,
    parse_size,
)
from hypothesis import given
from strategies import algorithm_hex, file_sizes

from hashmatch.adapter import ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError
from hashmatch.records import RECORD_SCHEMA, make_batch


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("21", 21),
        (" 21 ", 21),
        ("0", 0),
        ("", None),
        ("   ", None),
        ("1,234", 1234),
        ("1 234", 1234),
        ("1.234.567", 1234567),
        ("1'234", 1234),
        ("1\u00a0234", 1234),
        ("1\u202f234\u202f567", 1234567),
        ("12_345", 12345),
    ],
)
def test_sizes_with_thousands_separators(text: str, size: int | None) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["-5", "12.5", "21 bytes", "1,23", "1,234.567", "1,234 567", "²", "0x10", "1e3"]
)
def test_sizes_that_are_not_byte_counts(text: str) -> None:
    with pytest.raises(ValueError, match="size is not a byte count"):
        parse_size(text)


@given(file_sizes())
def test_sizes_round_trip_with_comma_grouping(size: int) -> None:
    assert parse_size(str(size)) == size
    assert parse_size(f"{size:,}") == size
    assert parse_size(f"{size:_}") == size


@given(algorithm_hex())
def test_hex_goes_to_its_algorithms_column(pair: tuple[Algorithm, str]) -> None:
    algorithm, text = pair
    assert column_for_digest(text) == list(Algorithm).index(algorithm)
    assert is_hex_digest(text)


@pytest.mark.parametrize(
    ("token", "column"),
    [
        ("1B2M2Y8AsgTpgAmY7PhCfg==", 0),  # base64 of 16 bytes
        ("2jmj7l5rSw0yVb/vlWAYkK/YBwk=", 1),
        ("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 2),
        ("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA", None),  # 44 characters, no "="
        ("", None),
        ("abc", None),
    ],
)
def test_column_for_other_tokens(token: str, column: int | None) -> None:
    assert column_for_digest(token) == column


def test_is_hex_digest_insists_on_hex_and_length() -> None:
    assert not is_hex_digest("z" * 32)
    assert not is_hex_digest("a" * 31)


def test_reasons_for_bad_digests() -> None:
    assert describe_bad_digest("abc") == "3 hex digits is no md5, sha1 or sha256 digest: 'abc'"
    assert describe_bad_digest("hello") == "not a digest: 'hello'"


@pytest.mark.parametrize(
    ("name", "column"),
    [("MD5", 0), ("sha-1", 1), ("SHA1", 1), ("SHA256", 2), ("SHA2-256", 2), ("sha512", None)],
)
def test_algorithm_names(name: str, column: int | None) -> None:
    assert algorithm_column(name) == column


@pytest.mark.parametrize(
    ("head", "lines", "cut"),
    [
        (b"", [""], True),
        (b"a\nb\n", ["a", "b"], False),
        (b"a\r\nb", ["a", "b"], True),
        (codecs.BOM_UTF8 + b"a\n", ["a"], False),
        (codecs.BOM_UTF16_LE + "x\r\ny".encode("utf-16-le"), ["x", "y"], True),
        (b"a\x85b\xe2\x80\xa8c\n", ["a\ufffdb\u2028c"], False),  # only LF ends a line
    ],
)
def test_head_lines(head: bytes, lines: list[str], cut: bool) -> None:
    assert head_lines(head) == (lines, cut)


def test_batch_buffer_flushes_and_empties_in_place() -> None:
    buffer = BatchBuffer(["md5", "path"])
    add_line = buffer.columns["line"].append
    for n in (1, 2):
        add_line(n)
        buffer.columns["md5"].append(f"{n:032x}")
        buffer.columns["path"].append(None)
    assert len(buffer) == 2
    batch = buffer.flush()
    assert batch.schema.equals(RECORD_SCHEMA, check_metadata=True)
    assert batch.column("line").to_pylist() == [1, 2]
    assert batch.column("sha1").null_count == 2
    assert len(buffer) == 0
    add_line(3)  # the bound method still feeds the buffer
    buffer.columns["md5"].append(None)
    buffer.columns["path"].append("p")
    assert buffer.flush().to_pylist() == [
        {
            "line": 3,
            "md5": None,
            "sha1": None,
            "sha256": None,
            "size": None,
            "path": "p",
            "labels": None,
        }
    ]


def _records(*lines: int) -> pa.RecordBatch:
    return make_batch({"line": list(lines)})


def test_batch_assembler_warns_where_a_line_by_line_reader_would() -> None:
    context = ReadContext(source="s", batch_size=2)
    assembler = BatchAssembler(context)
    seen: list[tuple[list[int], int]] = []
    for records, warnings in [
        (_records(1, 2, 4), [(3, "three")]),
        (_records(5, 7, 8), [(6, "six"), (9, "nine")]),
    ]:
        for batch in assembler.add(records, warnings):
            seen.append((batch.column("line").to_pylist(), context.warning_count))
    seen.extend(
        (batch.column("line").to_pylist(), context.warning_count) for batch in assembler.finish()
    )
    # Lines 1 and 2 fill a batch before line 3 is reached; line 4 waits for line 5.
    assert seen == [([1, 2], 0), ([4, 5], 1), ([7, 8], 2)]
    assert [w.line for w in context.warnings] == [3, 6, 9]


def test_batch_assembler_under_strict_yields_the_batches_before_the_bad_line() -> None:
    context = ReadContext(source="s", strict=True, batch_size=2)
    batches = BatchAssembler(context).add(_records(1, 2, 3, 5, 6), [(4, "bad")])
    assert next(batches).column("line").to_pylist() == [1, 2]
    with pytest.raises(RecordError, match=r"^s:4: bad$"):
        next(batches)


def test_line_cursor_reads_lines_then_the_rest_of_the_chunks() -> None:
    cursor = LineCursor(iter([(1, ["a", "b", "c"]), (4, ["d"])]))
    assert next(cursor) == (1, "a")
    assert list(cursor.rest()) == [(2, ["b", "c"]), (4, ["d"])]
    assert list(cursor) == []


def test_text_column_bytes_and_cuts() -> None:
    text = TextColumn.of(["abc", "", "\u00e9x"])
    assert text.byte_at(0).tolist() == [ord("a"), 0, 0xC3]
    assert text.byte_at(2).tolist() == [ord("c"), 0, ord("x")]
    assert text.cut(1).to_pylist() == [b"bc", b"", b"\xa9x"]
    assert text.slice(2, 3).matches(r"x$", within=3).tolist() == [True]
