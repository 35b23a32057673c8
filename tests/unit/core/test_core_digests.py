"""hashmatch.digests: algorithm names, one-value parsing, the column parser, digest matrices."""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import ALGORITHMS, digest_bytes, digest_cells

from hashmatch.digests import (
    EMPTY_FILE_DIGESTS,
    Algorithm,
    Digest,
    detect_algorithm,
    digest_matrix,
    is_empty_file_digest,
    parse_digest,
    parse_digest_column,
)
from hashmatch.errors import DigestError, InputError

MD5_HEX = "d41d8cd98f00b204e9800998ecf8427e"  # md5 of b"", a public constant
SYNTHETIC_MD5 = bytes.fromhex("0123456789abcdef0123456789abcdef")


# -- Algorithm --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("md5", Algorithm.MD5),
        ("MD5", Algorithm.MD5),
        (" Md5 ", Algorithm.MD5),
        ("sha1", Algorithm.SHA1),
        ("SHA-1", Algorithm.SHA1),
        ("sha_1", Algorithm.SHA1),
        ("SHA256", Algorithm.SHA256),
        ("sha-256", Algorithm.SHA256),
        ("sha2_256", Algorithm.SHA256),
        ("SHA2-256", Algorithm.SHA256),
        ("sha2", Algorithm.SHA256),
    ],
)
def test_algorithm_parse_accepts_the_spellings_found_in_the_wild(
    spelling: str, expected: Algorithm
) -> None:
    assert Algorithm.parse(spelling) is expected


@pytest.mark.parametrize("spelling", ["sha512", "crc32", "sha3-256", "", "md4"])
def test_algorithm_parse_refuses_an_unknown_name_and_lists_the_known_ones(spelling: str) -> None:
    with pytest.raises(DigestError) as caught:
        Algorithm.parse(spelling)
    assert caught.value.reason == (
        f"unknown algorithm {spelling!r} (expected one of md5, sha1, sha256)"
    )


@pytest.mark.parametrize(
    ("algorithm", "width"), [(Algorithm.MD5, 16), (Algorithm.SHA1, 20), (Algorithm.SHA256, 32)]
)
def test_algorithm_widths_and_arrow_types(algorithm: Algorithm, width: int) -> None:
    assert algorithm.width == width
    assert algorithm.hex_length == 2 * width
    assert algorithm.arrow_type == pa.binary(width)


# -- parse_digest -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        MD5_HEX,
        MD5_HEX.upper(),
        "D41d8CD98f00B204e9800998ECF8427e",
        f"  {MD5_HEX}\t",
        f'"{MD5_HEX}"',
        f"'{MD5_HEX}'",
        f' "{MD5_HEX}" ',
        f"*{MD5_HEX}",
        f'"*{MD5_HEX}"',
        # certutil on older Windows separates the byte pairs
        " ".join(MD5_HEX[i : i + 2] for i in range(0, 32, 2)),
    ],
)
def test_parse_digest_strips_what_surrounds_a_digest(text: str) -> None:
    digest = parse_digest(text)
    assert digest.algorithm is Algorithm.MD5
    assert digest.hex == MD5_HEX


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_parse_digest_tells_the_algorithm_from_the_hex_length(algorithm: Algorithm) -> None:
    raw = bytes(range(algorithm.width))
    assert parse_digest(raw.hex()) == Digest(algorithm, raw)
    assert detect_algorithm(raw.hex().upper()) is algorithm
    assert detect_algorithm(f" '{raw.hex()}' ") is algorithm


def test_detect_algorithm_says_none_for_a_length_no_algorithm_has() -> None:
    assert detect_algorithm("abc") is None
    assert detect_algorithm("") is None


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_parse_digest_reads_base64_when_the_algorithm_is_given(algorithm: Algorithm) -> None:
    raw = bytes(range(100, 100 + algorithm.width))
    text = base64.b64encode(raw).decode()
    assert parse_digest(text, algorithm) == Digest(algorithm, raw)
    assert parse_digest(f' "{text}" ', algorithm).value == raw


def test_base64_without_an_algorithm_is_not_guessed() -> None:
    text = base64.b64encode(SYNTHETIC_MD5).decode()
    with pytest.raises(DigestError, match="not a hex digest"):
        parse_digest(text)


def test_base64_of_the_wrong_width_is_refused() -> None:
    sha256_b64 = base64.b64encode(bytes(32)).decode()
    with pytest.raises(DigestError) as caught:
        parse_digest(sha256_b64, Algorithm.MD5)
    assert caught.value.reason == f"md5 digest is not hex or base64: {sha256_b64!r}"


@pytest.mark.parametrize("text", ["AAAAAAAAAAAAAAAAAAAAA===", "AAAAAAAAAAAAAAAAAAAAAA=A"])
def test_malformed_base64_of_the_right_length_is_refused(text: str) -> None:
    with pytest.raises(DigestError, match="md5 digest is not hex or base64"):
        parse_digest(text, Algorithm.MD5)


@pytest.mark.parametrize("text", ["", "   ", "\t\n", '""', "''", "*"])
def test_parse_digest_refuses_an_empty_value(text: str) -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest(text, Algorithm.MD5)
    assert caught.value.reason == "empty digest"


@pytest.mark.parametrize(
    ("text", "algorithm", "reason"),
    [
        ("a" * 31, Algorithm.MD5, "md5 digest must have 32 hex digits, got 31"),
        ("a" * 33, Algorithm.MD5, "md5 digest must have 32 hex digits, got 33"),
        ("a" * 40, Algorithm.MD5, "md5 digest must have 32 hex digits, got 40"),
        ("a" * 64, Algorithm.SHA1, "sha1 digest must have 40 hex digits, got 64"),
        ("A" * 63, Algorithm.SHA256, "sha256 digest must have 64 hex digits, got 63"),
        # a base64-length value made of hex digits is a short hex value, not base64
        ("a" * 24, Algorithm.MD5, "md5 digest must have 32 hex digits, got 24"),
        ("a" * 44, Algorithm.SHA256, "sha256 digest must have 64 hex digits, got 44"),
    ],
)
def test_a_wrong_length_names_the_expected_and_the_actual_digit_count(
    text: str, algorithm: Algorithm, reason: str
) -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest(text, algorithm)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("text", "algorithm", "reason"),
    [
        ("g" * 32, Algorithm.MD5, "md5 digest is not hex: " + repr("g" * 32)),
        ("0x" + "a" * 30, Algorithm.MD5, "md5 digest is not hex: " + repr("0x" + "a" * 30)),
        ("xyz", Algorithm.SHA1, "sha1 digest is not hex or base64: 'xyz'"),
        ("xyz", None, "not a hex digest: 'xyz'"),
        ("a" * 32 + "\x00", None, "not a hex digest: " + repr("a" * 32 + "\x00")),
    ],
)
def test_non_hex_is_refused_with_the_value_shown(
    text: str, algorithm: Algorithm | None, reason: str
) -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest(text, algorithm)
    assert caught.value.reason == reason


def test_a_long_bad_value_is_shown_cut_short() -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest("x" * 500, Algorithm.MD5)
    assert caught.value.reason == "md5 digest is not hex or base64: " + repr("x" * 80 + "...")


@pytest.mark.parametrize("length", [1, 3, 31, 33, 39, 41, 63, 65, 128])
def test_hex_of_no_known_length_without_an_algorithm(length: int) -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest("f" * length)
    assert caught.value.reason == (
        f"{length} hex digits is no known digest length (md5 32, sha1 40, sha256 64)"
    )


def test_digest_errors_are_input_errors() -> None:
    with pytest.raises(InputError):
        parse_digest("nope", Algorithm.MD5)


def _mixed_case(text: str, flips: list[bool]) -> str:
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=False))


@given(ALGORITHMS.flatmap(lambda a: st.tuples(st.just(a), digest_bytes(a))), st.data())
@example((Algorithm.MD5, bytes(16)), None)
@example((Algorithm.MD5, b"\xff" * 16), None)
@example((Algorithm.SHA1, bytes(20)), None)
@example((Algorithm.SHA1, b"\xff" * 20), None)
@example((Algorithm.SHA256, bytes(32)), None)
@example((Algorithm.SHA256, b"\xff" * 32), None)
def test_hex_and_base64_round_trip(
    pair: tuple[Algorithm, bytes], data: st.DataObject | None
) -> None:
    algorithm, raw = pair
    flips = (
        data.draw(st.lists(st.booleans(), min_size=2 * len(raw), max_size=2 * len(raw)))
        if data is not None
        else [i % 3 == 0 for i in range(2 * len(raw))]
    )
    spellings = [raw.hex(), raw.hex().upper(), _mixed_case(raw.hex(), flips)]
    for text in spellings:
        assert parse_digest(text) == Digest(algorithm, raw)
        assert parse_digest(text, algorithm).value == raw
    assert parse_digest(base64.b64encode(raw).decode(), algorithm).value == raw
    assert str(Digest(algorithm, raw)) == f"{algorithm.value}:{raw.hex()}"


# -- Digest -----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_digest_refuses_bytes_of_the_wrong_width(algorithm: Algorithm) -> None:
    with pytest.raises(DigestError) as caught:
        Digest(algorithm, bytes(algorithm.width - 1))
    assert caught.value.reason == (
        f"{algorithm.value} digest must be {algorithm.width} bytes, got {algorithm.width - 1}"
    )
    with pytest.raises(DigestError):
        Digest(algorithm, bytes(algorithm.width + 1))


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_the_zero_length_file_digest_is_recognised(algorithm: Algorithm) -> None:
    empty = hashlib.new(algorithm.value, b"").digest()
    assert EMPTY_FILE_DIGESTS[algorithm] == empty
    assert Digest(algorithm, empty).is_empty_file
    assert is_empty_file_digest(algorithm, empty)
    other = hashlib.new(algorithm.value, b"synthetic-fixture-001").digest()
    assert not Digest(algorithm, other).is_empty_file
    assert not is_empty_file_digest(algorithm, other)


# -- parse_digest_column ----------------------------------------------------------------


def _expected(cell: str | None, algorithm: Algorithm) -> tuple[bytes | None, str | None]:
    """What the column parser must give for one cell: parse_digest's outcome; blank is null,
    and so is a cell of only quotes or an md5sum ``*`` marker (md5deep's ``-I`` rows)."""
    if cell is None or not cell.strip().strip("\"'").strip().lstrip("*"):
        return None, None
    try:
        return parse_digest(cell, algorithm).value, None
    except DigestError as exc:
        return None, exc.reason


@given(
    ALGORITHMS.flatmap(lambda a: st.tuples(st.just(a), st.lists(digest_cells(a), max_size=12))),
    st.integers(0, 12),
)
@example((Algorithm.MD5, [MD5_HEX.upper(), None, "", "  ", "zz", MD5_HEX]), 0)
@example((Algorithm.MD5, ["*", "***", '""', MD5_HEX]), 0)
@example((Algorithm.SHA1, ["a" * 40, "a" * 39, base64.b64encode(bytes(20)).decode()]), 1)
def test_column_parse_agrees_with_parse_digest_row_by_row(
    pair: tuple[Algorithm, list[str | None]], offset: int
) -> None:
    algorithm, cells = pair
    offset = min(offset, len(cells))
    column = pa.array(cells, pa.string()).slice(offset)
    expected = [_expected(cell, algorithm) for cell in cells[offset:]]

    parsed = parse_digest_column(column, algorithm)

    assert parsed.values.type == pa.binary(algorithm.width)
    assert parsed.values.to_pylist() == [value for value, _ in expected]
    assert parsed.errors == {i: reason for i, (_, reason) in enumerate(expected) if reason}


def test_nulls_and_blanks_stay_null_without_an_error() -> None:
    parsed = parse_digest_column(pa.array([None, "", "   ", "\t"], pa.string()), Algorithm.MD5)
    assert parsed.values.to_pylist() == [None, None, None, None]
    assert parsed.errors == {}


def test_errors_are_keyed_by_row_index_and_good_rows_still_parse() -> None:
    column = pa.array([MD5_HEX, "abc", None, MD5_HEX.upper(), "xyz", f'"{MD5_HEX}"'])
    parsed = parse_digest_column(column, Algorithm.MD5)
    empty = bytes.fromhex(MD5_HEX)
    assert parsed.values.to_pylist() == [empty, None, None, empty, None, empty]
    assert parsed.errors == {
        1: "md5 digest must have 32 hex digits, got 3",
        4: "md5 digest is not hex or base64: 'xyz'",
    }


@pytest.mark.parametrize("offset", [1, 3, 5])
def test_a_sliced_column_parses_from_its_own_first_row(offset: int) -> None:
    values = [bytes([i]) * 16 for i in range(8)]
    cells: list[str | None] = [v.hex() for v in values]
    cells[6] = None
    column = pa.array(cells, pa.string())
    parsed = parse_digest_column(column.slice(offset), Algorithm.MD5)
    expected = [None if i == 6 else values[i] for i in range(offset, 8)]
    assert parsed.values.to_pylist() == expected
    assert parsed.errors == {}


def test_a_chunked_column_and_other_string_types_parse() -> None:
    chunked = pa.chunked_array([[MD5_HEX, None], ["zz", MD5_HEX.upper()]], pa.string())
    parsed = parse_digest_column(chunked, Algorithm.MD5)
    assert parsed.values.to_pylist() == [bytes.fromhex(MD5_HEX), None, None, bytes.fromhex(MD5_HEX)]
    assert set(parsed.errors) == {2}
    large = pa.array([MD5_HEX, None], pa.large_string())
    assert parse_digest_column(large, Algorithm.MD5).values.to_pylist() == [
        bytes.fromhex(MD5_HEX),
        None,
    ]


def test_an_empty_column_parses_to_an_empty_column() -> None:
    parsed = parse_digest_column(pa.array([], pa.string()), Algorithm.SHA256)
    assert len(parsed.values) == 0
    assert parsed.values.type == pa.binary(32)
    assert parsed.errors == {}


# -- digest_matrix ----------------------------------------------------------------------


def test_digest_matrix_holds_the_non_null_values_in_order() -> None:
    values = [b"\x01" * 16, None, b"\x02" * 16, None, b"\x03" * 16]
    column = pa.array(values, pa.binary(16))
    matrix = digest_matrix(column)
    assert matrix.shape == (3, 16)
    assert matrix.dtype == np.uint8
    assert [bytes(row) for row in matrix] == [b"\x01" * 16, b"\x02" * 16, b"\x03" * 16]


@pytest.mark.parametrize("offset", [1, 2, 4])
def test_digest_matrix_respects_a_slice_offset(offset: int) -> None:
    values = [bytes([i]) * 20 for i in range(6)]
    with_nulls: list[bytes | None] = list(values)
    with_nulls[3] = None
    for cells in (values, with_nulls):
        column = pa.array(cells, pa.binary(20)).slice(offset)
        expected = [v for v in cells[offset:] if v is not None]
        assert [bytes(row) for row in digest_matrix(column)] == expected


def test_digest_matrix_of_an_all_null_column_is_empty() -> None:
    matrix = digest_matrix(pa.nulls(3, pa.binary(32)))
    assert matrix.shape == (0, 32)
