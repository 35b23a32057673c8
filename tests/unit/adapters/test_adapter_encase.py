"""EnCase legacy ``.hash`` sets: raw MD5 records, the set name, truncated and miscounted files."""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hashmatch_adapters.encase import EncaseAdapter
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.adapter import ReadContext
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.records import decode_labels

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
MAGIC = b"HASH\r\n\xff\x00"


def write_encase(
    digests: list[bytes], *, name: str = "Synthetic Set", count: int | None = None
) -> bytes:
    """An EnCase hash set: header (signature, version 1, count, UTF-16LE name), then 18-byte
    records of the raw MD5 and two filler bytes."""
    header = bytearray(0x480)
    header[:8] = MAGIC
    struct.pack_into("<II", header, 0x08, 1, 0)
    struct.pack_into("<I", header, 0x10, len(digests) if count is None else count)
    encoded = name.encode("utf-16-le")
    assert len(encoded) <= 78
    header[0x408 : 0x408 + len(encoded)] = encoded
    return bytes(header) + b"".join(d + b"\xab\xcd" for d in digests)


def cells(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["line"], r["md5"], r["sha1"], r["sha256"], r["size"], r["path"]) for r in rows]


def test_the_valid_fixture(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(EncaseAdapter, fixture_bytes("encase/valid.hash"), strict=True)
    assert cells(rows) == [(n + 1, MD5[n], None, None, None, None) for n in range(5)]
    assert {r["labels"] for r in rows} == {'{"set_name":"Synthetic Set"}'}
    assert context.warning_count == 0


@pytest.mark.parametrize(
    ("fixture", "labels"),
    [
        ("unicode-name.hash", {"set_name": "Sÿnthétic Sét € 合成"}),
        ("long-name.hash", {"set_name": "N" * 39}),
        ("no-name.hash", {}),
    ],
)
def test_the_set_name_is_utf16_up_to_39_characters(
    read: Reader, fixture_bytes: Callable[[str], bytes], fixture: str, labels: dict[str, str]
) -> None:
    rows, _ = read(EncaseAdapter, fixture_bytes(f"encase/{fixture}"), strict=True)
    assert rows
    assert all(decode_labels(r["labels"]) == labels for r in rows)


def test_a_latin_name_whose_characters_hold_zero_bytes_is_not_cut(read: Reader) -> None:
    # "Ā" is 00 01 in UTF-16LE: a NUL *byte* inside a character is no terminator.
    rows, _ = read(EncaseAdapter, write_encase([bytes(16)], name="\u0100x\u0200"))
    assert decode_labels(rows[0]["labels"]) == {"set_name": "\u0100x\u0200"}


def test_duplicate_records_are_all_read(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(EncaseAdapter, fixture_bytes("encase/duplicates.hash"))
    assert [r["md5"] for r in rows] == [MD5[0], MD5[0], MD5[1]]


def test_a_truncated_last_record_and_a_wrong_count_are_warnings(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(EncaseAdapter, fixture_bytes("encase/corrupt.hash"), source="corrupt.hash")
    assert [r["md5"] for r in rows] == MD5
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        ("corrupt.hash", 6, "truncated last record: 7 of 18 bytes"),
        ("corrupt.hash", 6, "the header declares 7 hashes; the file holds 5"),
    ]


def test_a_header_count_below_the_records_points_at_the_first_extra_one(read: Reader) -> None:
    data = write_encase([bytes.fromhex(m) for m in MD5], count=3)
    rows, context = read(EncaseAdapter, data)
    assert len(rows) == 5
    assert [(w.line, w.reason) for w in context.warnings] == [
        (4, "the header declares 3 hashes; the file holds 5")
    ]


def test_strict_stops_at_the_truncated_record_after_the_whole_ones(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    context = ReadContext(source="corrupt.hash", strict=True)
    seen: list[str] = []

    def consume() -> None:
        for batch in EncaseAdapter().read(
            io.BytesIO(fixture_bytes("encase/corrupt.hash")), context
        ):
            seen.extend(batch.column("md5").to_pylist())

    with pytest.raises(RecordError) as raised:
        consume()
    assert seen == MD5
    assert (raised.value.line, raised.value.reason) == (6, "truncated last record: 7 of 18 bytes")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        MAGIC,
        MAGIC + bytes(0x480 - 9),  # one byte short of a header
        b"HASH\r\r\n\xff\x00" + bytes(0x480),  # CR LF mangled by a text-mode transfer
        b"HASH\n\xff\x00" + bytes(0x480),
        bytes(0x480 + 18),
    ],
)
def test_no_signature_or_no_whole_header_is_not_this_format(read: Reader, data: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(EncaseAdapter, data, source="x.hash")
    assert raised.value.line == 1
    assert raised.value.source == "x.hash"


def test_the_corrupt_first_fixture_is_refused(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    with pytest.raises(UnsupportedFormat, match="signature"):
        read(EncaseAdapter, fixture_bytes("encase/corrupt-first.hash"))


def test_a_header_without_records_reads_as_nothing(read: Reader) -> None:
    rows, context = read(EncaseAdapter, write_encase([]))
    assert rows == []
    assert context.warning_count == 0


def test_sniff_wants_the_signature() -> None:
    assert EncaseAdapter.sniff(write_encase([bytes(16)]))
    assert EncaseAdapter.sniff(MAGIC)
    assert not EncaseAdapter.sniff(b"HASH\r\r\n\xff\x00")
    assert not EncaseAdapter.sniff(b"HASH\r\n")
    assert not EncaseAdapter.sniff(f"{MD5[0]}  a.bin\n".encode())


class _Trickle(io.RawIOBase):
    """A raw stream that returns at most ``step`` bytes per read, as pipes and sockets may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._at = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self._data[self._at : self._at + min(self._step, len(buffer))]
        buffer[: len(piece)] = piece
        self._at += len(piece)
        return len(piece)


@pytest.mark.parametrize("step", [1, 7, 18, 1000])
def test_short_reads_do_not_split_records(step: int) -> None:
    data = write_encase([bytes.fromhex(m) for m in MD5 * 3])
    context = ReadContext(source="pipe", batch_size=4)
    stream: Any = _Trickle(data, step)
    rows = [r for b in EncaseAdapter().read(stream, context) for r in b.to_pylist()]
    assert [r["md5"] for r in rows] == MD5 * 3
    assert [r["line"] for r in rows] == list(range(1, 16))
    assert context.warning_count == 0


def test_a_file_on_disk_reads_like_its_bytes(tmp_path: Path, read: Reader) -> None:
    data = write_encase([bytes.fromhex(m) for m in MD5])
    path = tmp_path / "set.hash"
    path.write_bytes(data)
    context = ReadContext(source="set.hash", path=path, batch_size=2)
    with open(path, "rb") as stream:
        rows = [r for b in EncaseAdapter().read(stream, context) for r in b.to_pylist()]
    assert rows == read(EncaseAdapter, data)[0]


# A name is at most 39 UTF-16 code units and has no NUL: what EnCase can store.
SET_NAMES = st.text(st.characters(codec="utf-16", exclude_characters="\x00"), max_size=39).filter(
    lambda name: len(name.encode("utf-16-le")) <= 78
)


@given(
    digests=st.lists(st.binary(min_size=16, max_size=16), max_size=40),
    name=SET_NAMES,
    batch_size=st.sampled_from([1, 2, 3, 7, 65_536]),
)
@example(digests=[], name="", batch_size=1)
@example(digests=[bytes(16), b"\xff" * 16], name=" padded ", batch_size=1)
@example(digests=[bytes.fromhex(MD5[0])], name="\U0001f600" * 19, batch_size=2)
def test_round_trip(read: Reader, digests: list[bytes], name: str, batch_size: int) -> None:
    rows, context = read(EncaseAdapter, write_encase(digests, name=name), batch_size=batch_size)
    assert context.warning_count == 0
    assert [(r["line"], r["md5"]) for r in rows] == [
        (n, d.hex()) for n, d in enumerate(digests, start=1)
    ]
    assert all(decode_labels(r["labels"]) == ({"set_name": name} if name else {}) for r in rows)
