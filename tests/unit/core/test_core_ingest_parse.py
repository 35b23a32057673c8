"""hashmatch.ingest.parse: every digest column of a record batch parsed in one pass."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import ALGORITHMS, digest_bytes

from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.ingest.parse import hex_column, parse_batch
from hashmatch.records import make_batch


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


EMPTY = {a: EMPTY_FILE_DIGESTS[a].hex() for a in Algorithm}


def test_parse_batch_parses_every_algorithm() -> None:
    sha256 = hashlib.sha256(b"synthetic-fixture-001").hexdigest()
    batch = make_batch(
        {
            "line": [1, 2],
            "md5": [_md5("synthetic-fixture-001").upper(), None],
            "sha1": [None, _sha1("synthetic-fixture-002")],
            "sha256": [sha256, None],
        }
    )
    parsed = parse_batch(batch)
    assert parsed.num_rows == 2
    assert parsed.records is batch
    assert parsed.problems == {}
    assert parsed.digests[Algorithm.MD5].to_pylist() == [
        bytes.fromhex(_md5("synthetic-fixture-001")),
        None,
    ]
    assert parsed.digests[Algorithm.SHA1].to_pylist() == [
        None,
        bytes.fromhex(_sha1("synthetic-fixture-002")),
    ]
    assert parsed.digests[Algorithm.SHA256].to_pylist() == [bytes.fromhex(sha256), None]


def test_problems_list_every_bad_value_of_a_row() -> None:
    batch = make_batch(
        {
            "line": [1, 2, 3],
            "md5": ["abc", _md5("synthetic-fixture-001"), "zz"],
            "sha1": ["x" * 40, None, _sha1("synthetic-fixture-001")],
            "sha256": [None, "", "12"],
        }
    )
    parsed = parse_batch(batch)
    assert parsed.problems == {
        0: [
            "md5 digest must have 32 hex digits, got 3",
            "sha1 digest is not hex: " + repr("x" * 40),
        ],
        2: [
            "md5 digest is not hex or base64: 'zz'",
            "sha256 digest must have 64 hex digits, got 2",
        ],
    }
    # the good values of a row with problems are still parsed
    assert parsed.digests[Algorithm.SHA1].to_pylist()[2] is not None


def test_usable_excludes_missing_bad_and_zero_length_file_digests() -> None:
    batch = make_batch(
        {
            "line": [1, 2, 3, 4, 5],
            "md5": [_md5("synthetic-fixture-001"), EMPTY[Algorithm.MD5], None, "bad", ""],
            "sha1": [None, _sha1("synthetic-fixture-002"), EMPTY[Algorithm.SHA1], None, None],
        }
    )
    parsed = parse_batch(batch)
    assert parsed.usable(Algorithm.MD5).tolist() == [True, False, False, False, False]
    assert parsed.usable(Algorithm.SHA1).tolist() == [False, True, False, False, False]
    assert parsed.usable(Algorithm.SHA256).tolist() == [False] * 5
    assert parsed.any_usable().tolist() == [True, True, False, False, False]
    assert parsed.empty_file[Algorithm.MD5].tolist() == [False, True, False, False, False]
    assert parsed.empty_file[Algorithm.SHA1].tolist() == [False, False, True, False, False]
    assert parsed.any_empty_file().tolist() == [False, True, True, False, False]


def test_zero_length_file_digests_are_found_in_any_case_and_spelling() -> None:
    batch = make_batch(
        {
            "line": [1, 2, 3],
            "sha256": [EMPTY[Algorithm.SHA256].upper(), f' "{EMPTY[Algorithm.SHA256]}" ', None],
        }
    )
    parsed = parse_batch(batch)
    assert parsed.empty_file[Algorithm.SHA256].tolist() == [True, True, False]
    assert not parsed.any_usable().any()


def test_a_sliced_batch_is_parsed_from_its_own_first_row() -> None:
    md5s = [_md5(f"synthetic-fixture-{i:03d}") for i in range(6)]
    md5s[4] = EMPTY[Algorithm.MD5]
    batch = make_batch({"line": list(range(1, 7)), "md5": md5s}).slice(2)
    parsed = parse_batch(batch)
    assert parsed.num_rows == 4
    assert parsed.digests[Algorithm.MD5].to_pylist() == [bytes.fromhex(v) for v in md5s[2:]]
    assert parsed.empty_file[Algorithm.MD5].tolist() == [False, False, True, False]
    assert parsed.usable(Algorithm.MD5).tolist() == [True, True, False, True]


def test_an_empty_batch() -> None:
    parsed = parse_batch(make_batch({"line": []}))
    assert parsed.num_rows == 0
    assert parsed.problems == {}
    assert parsed.any_usable().tolist() == []
    assert parsed.any_empty_file().tolist() == []


@given(
    ALGORITHMS.flatmap(
        lambda a: st.tuples(st.just(a), st.lists(st.none() | digest_bytes(a), max_size=20))
    ),
    st.integers(0, 20),
)
@example((Algorithm.MD5, []), 0)
@example((Algorithm.MD5, [None, None]), 0)
@example((Algorithm.SHA1, [bytes(20), b"\xff" * 20, None]), 1)
@example((Algorithm.SHA256, [b"\xab" * 32]), 0)
def test_hex_column_is_lower_case_hex_with_nulls_kept(
    pair: tuple[Algorithm, list[bytes | None]], offset: int
) -> None:
    algorithm, values = pair
    offset = min(offset, len(values))
    column = pa.array(values, algorithm.arrow_type).slice(offset)
    shown = hex_column(column)
    assert shown.type == pa.string()
    assert shown.to_pylist() == [None if v is None else v.hex() for v in values[offset:]]


def test_hex_column_of_parsed_upper_case_input_is_lower_case() -> None:
    text = _md5("synthetic-fixture-001")
    parsed = parse_batch(make_batch({"line": [1], "md5": [text.upper()]}))
    assert hex_column(parsed.digests[Algorithm.MD5]).to_pylist() == [text]
    assert np.array_equal(parsed.usable(Algorithm.MD5), [True])


@given(
    st.lists(st.none() | st.binary(min_size=20, max_size=20), max_size=30),
    st.integers(0, 5),
)
def test_hex_column_gives_lower_case_hex_and_keeps_nulls(
    values: list[bytes | None], offset: int
) -> None:
    column = pa.array(values, pa.binary(20)).slice(min(offset, len(values)))
    expected = [None if v is None else v.hex() for v in values[min(offset, len(values)) :]]
    assert hex_column(column).to_pylist() == expected
