"""hashmatch.records: canonical labels and the record batches adapters yield."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import example, given
from strategies import label_maps

from hashmatch.records import (
    ENTRY_SCHEMA,
    RECORD_SCHEMA,
    LabelValue,
    decode_labels,
    encode_labels,
    make_batch,
)


def _kept(labels: dict[str, LabelValue]) -> dict[str, LabelValue]:
    return {k: v for k, v in labels.items() if v is not None and v not in ("", [])}


# -- labels -------------------------------------------------------------------------------


def test_encode_labels_is_canonical_json() -> None:
    text = encode_labels({"series": "s-1", "category": "A", "agencies": 2})
    assert text == '{"agencies":2,"category":"A","series":"s-1"}'


def test_encode_labels_drops_blank_values_but_keeps_zero_and_false() -> None:
    # Project VIC category 0 and a false flag are information, not blanks
    labels: dict[str, LabelValue] = {
        "category": 0,
        "victim_identified": False,
        "note": "",
        "series": None,
        "tags": [],
    }
    assert encode_labels(labels) == '{"category":0,"victim_identified":false}'


@pytest.mark.parametrize("labels", [None, {}, {"a": None}, {"a": "", "b": [], "c": None}])
def test_no_labels_encode_as_none(labels: dict[str, LabelValue] | None) -> None:
    assert encode_labels(labels) is None


def test_labels_keep_the_sources_words_verbatim() -> None:
    labels: dict[str, LabelValue] = {"Kategorie": "Catégorie A", "flags": ["Report Remove", "AI"]}
    text = encode_labels(labels)
    assert text is not None
    assert "Catégorie A" in text  # not escaped to \\u00e9
    assert decode_labels(text) == labels


@given(label_maps())
@example({"category": 0})
@example({"b": "2", "a": "1"})
@example({"empty": "", "none": None, "list": []})
def test_labels_round_trip_and_equal_sets_encode_equal(labels: dict[str, LabelValue]) -> None:
    text = encode_labels(labels)
    kept = _kept(labels)
    if not kept:
        assert text is None
    else:
        assert text is not None
        value = json.loads(text)
        assert value == kept
        assert list(value) == sorted(kept)
        # canonical: no spaces between tokens, non-ASCII kept as is
        assert json.dumps(value, separators=(",", ":"), ensure_ascii=False) == text
    assert decode_labels(text) == kept
    reordered = dict(reversed(list(labels.items())))
    assert encode_labels(reordered) == text


@pytest.mark.parametrize("text", [None, ""])
def test_decode_labels_of_nothing_is_empty(text: str | None) -> None:
    assert decode_labels(text) == {}


@pytest.mark.parametrize("text", ["[1, 2]", '"A"', "3", "null"])
def test_decode_labels_refuses_what_is_not_an_object(text: str) -> None:
    with pytest.raises(ValueError, match="labels must be a JSON object"):
        decode_labels(text)


# -- make_batch ---------------------------------------------------------------------------


def test_make_batch_fills_the_missing_columns_with_nulls() -> None:
    batch = make_batch({"line": [3, 7], "md5": ["a" * 32, None], "path": ["x/1", "x/2"]})
    assert batch.schema == RECORD_SCHEMA
    assert batch.to_pylist() == [
        {
            "line": 3,
            "md5": "a" * 32,
            "sha1": None,
            "sha256": None,
            "size": None,
            "path": "x/1",
            "labels": None,
        },
        {
            "line": 7,
            "md5": None,
            "sha1": None,
            "sha256": None,
            "size": None,
            "path": "x/2",
            "labels": None,
        },
    ]


def test_make_batch_of_no_rows() -> None:
    batch = make_batch({"line": []})
    assert batch.num_rows == 0
    assert batch.schema == RECORD_SCHEMA


def test_make_batch_needs_a_line_column() -> None:
    with pytest.raises(ValueError, match="a record batch needs a 'line' column"):
        make_batch({"md5": ["a" * 32]})


def test_make_batch_refuses_unknown_columns() -> None:
    with pytest.raises(ValueError, match=r"unknown record columns: \['colour', 'sha512'\]"):
        make_batch({"line": [1], "sha512": ["x"], "colour": ["red"]})


def test_make_batch_refuses_a_column_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="column 'size' has 1 values, expected 2"):
        make_batch({"line": [1, 2], "size": [10]})


def test_make_batch_refuses_a_value_of_the_wrong_type() -> None:
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        make_batch({"line": [1], "size": ["big"]})


def test_entry_schema_stores_digests_at_their_algorithms_width() -> None:
    assert ENTRY_SCHEMA.field("md5").type == pa.binary(16)
    assert ENTRY_SCHEMA.field("sha1").type == pa.binary(20)
    assert ENTRY_SCHEMA.field("sha256").type == pa.binary(32)
    assert not ENTRY_SCHEMA.field("line").nullable
    assert not RECORD_SCHEMA.field("line").nullable
