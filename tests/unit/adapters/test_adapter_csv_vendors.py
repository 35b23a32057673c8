"""Vendor exports through the csv adapter: Autopsy, Griffeye, X-Ways, FTK Imager, PowerShell.

Each fixture must be detected as ``csv`` (not as ICSE, iLook or another header format) and
read to the exact digests, sizes and paths it holds; X-Ways hash columns are found by
header keyword and placed by the shape of their values.
"""

from __future__ import annotations

import codecs
import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest
from hashmatch_adapters.csvfile import CsvAdapter

from hashmatch.adapter import HEAD_BYTES
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import encode_labels
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]
GROUPED = b"synthetic-fixture-006" * 60
"""The 1,260-byte synthetic file of the Griffeye and X-Ways fixtures."""
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
EMPTY_SHA1 = hashlib.sha1(b"").hexdigest()
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

VENDOR_FIXTURES = [
    "autopsy.csv",
    "griffeye.csv",
    "xways-utf16.txt",
    "ftk-imager.csv",
    "powershell-7.csv",
    "powershell-utf16.csv",
]


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["line"], row["md5"], row["sha1"], row["sha256"], row["size"], row["path"]


@pytest.mark.parametrize("fixture", VENDOR_FIXTURES)
def test_detected_as_csv(fixture_bytes: Callable[[str], bytes], fixture: str) -> None:
    head = fixture_bytes(f"csv/{fixture}")[:HEAD_BYTES]
    assert default_registry().detect(head) is CsvAdapter


@pytest.mark.parametrize("fixture", VENDOR_FIXTURES)
def test_fast_reader_agrees_with_the_reference(
    twins: Twins, fixture_bytes: Callable[[str], bytes], fixture: str
) -> None:
    fast, reference = twins(CsvAdapter, fixture_bytes(f"csv/{fixture}"), batch_size=2)
    assert fast == reference
    assert reference["warning_count"] == 0


def test_autopsy_file_list(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(CsvAdapter, fixture_bytes("csv/autopsy.csv"))
    where = "/img_fixture.E01/vol_vol2/Users/Fixture/Pictures"
    assert [cells(r) for r in rows] == [
        (2, MD5[0], None, SHA256[0], 21, f"{where}/a.jpg"),
        (3, MD5[1], None, SHA256[1], 21, f"{where}/name with spaces, and commas.jpg"),
        (4, EMPTY_MD5, None, EMPTY_SHA256, 0, f"{where}/empty.txt"),
        # No hash computed: still a row, so that the file gets a verdict.
        (5, None, None, None, 21, f"{where}/unhashed.png"),
        (6, MD5[2], None, None, 21, f"{where}/c.jpg"),
    ]
    assert context.warning_count == 0
    assert {r["labels"] for r in rows} == {None}  # "Known" is Autopsy's verdict, not a label


def test_griffeye_export(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(CsvAdapter, fixture_bytes("csv/griffeye.csv"))
    where = "C:\\Evidence\\SYN-0001"
    grouped = [hashlib.new(a, GROUPED).hexdigest().upper() for a in ("md5", "sha1", "sha256")]
    assert [(*cells(r), r["labels"]) for r in rows] == [
        (
            2,
            MD5[0].upper(),
            SHA1[0].upper(),
            SHA256[0].upper(),
            21,
            f"{where}\\Pictures\\a.jpg",
            encode_labels({"category": "Category 1"}),
        ),
        (
            3,
            MD5[1].upper(),
            SHA1[1].upper(),
            SHA256[1].upper(),
            21,
            f"{where}\\Pictures\\b, c.jpg",
            encode_labels({"category": "Ignorable"}),
        ),
        (
            4,
            *grouped,
            1260,  # written "1,260"
            f"{where}\\Large\\d.jpg",
            encode_labels({"category": "Uncategorized"}),
        ),
    ]
    assert context.warning_count == 0


def test_xways_file_list(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("csv/xways-utf16.txt")
    assert data.startswith(codecs.BOM_UTF16_LE)
    rows, context = read(CsvAdapter, data)
    assert [cells(r) for r in rows] == [
        (2, MD5[0], SHA1[0], None, 21, "\\Users\\Fixture\\Pictures\\a.jpg"),
        (3, MD5[1], SHA1[1], None, 21, "\\Users\\Fixture\\Pictures\\b c.jpg"),
        (
            4,
            hashlib.md5(GROUPED).hexdigest(),
            hashlib.sha1(GROUPED).hexdigest(),
            None,
            1260,  # written "1,260"
            "\\Users\\Fixture\\Downloads\\large.bin",
        ),
        (5, EMPTY_MD5, EMPTY_SHA1, None, 0, "\\Users\\Fixture\\empty.txt"),
    ]
    assert context.warning_count == 0  # the "Hash Set" column is no digest column


def test_ftk_imager_hash_list(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("csv/ftk-imager.csv")
    assert b"\r\n" in data
    rows, _ = read(CsvAdapter, data)
    root = "fixture.E01/Partition 1/NONAME [NTFS]/[root]"
    assert [cells(r) for r in rows] == [
        (2, MD5[0], SHA1[0], None, None, f"{root}/Users/Fixture/a.jpg"),
        (3, MD5[1], SHA1[1], None, None, f"{root}/Users/Fixture/name, with comma.jpg"),
        (4, MD5[2].upper(), SHA1[2].upper(), None, None, f"{root}/$Recycle.Bin/c.jpg"),
    ]


def test_powershell_7_export(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(CsvAdapter, fixture_bytes("csv/powershell-7.csv"))
    assert [cells(r) for r in rows] == [
        (2, None, None, SHA256[0].upper(), None, "E:\\Evidence\\a.bin"),
        (3, None, None, SHA256[1].upper(), None, "E:\\Evidence\\b c.bin"),
    ]


def test_powershell_utf16_with_type_line(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("csv/powershell-utf16.csv")
    assert data.startswith(codecs.BOM_UTF16_LE + "#TYPE".encode("utf-16-le"))
    rows, context = read(CsvAdapter, data)
    assert [cells(r) for r in rows] == [
        (3, None, None, SHA256[0].upper(), None, "E:\\Evidence\\a.bin"),
        (4, MD5[1].upper(), None, None, None, "E:\\Evidence\\b.bin"),
        (5, None, SHA1[2].upper(), None, None, "E:\\Evidence\\caf\u00e9.bin"),
    ]
    assert context.warning_count == 0


# --- X-Ways hash columns: header keyword and value shape --------------------------------


def xways_export(first: str, second: str, values: list[tuple[str, str]], size: str = "21") -> bytes:
    """A tab-separated UTF-16LE file list with two hash columns called ``first`` and
    ``second``, holding ``values``."""
    lines = [f"Name\tPath\t{first}\t{second}\tSize"]
    lines += [f"f{n}.bin\t\\Dir\t{a}\t{b}\t{size}" for n, (a, b) in enumerate(values)]
    return codecs.BOM_UTF16_LE + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Hash Value (MD5)", "Hash Value (SHA-1)"),
        ("MD5", "SHA-1"),
        ("Hash", "Hash 2"),  # no algorithm in the header: each value placed by its length
        ("Hash Value", "Hash Value 2"),
        ("MD5 Hash Value", "SHA-1 Hash Value"),
        ("hash_value(md5)", "HASH VALUE (SHA1)"),
        ("Hash1", "Hash2"),
        ("Hash-Wert", "Hash-Wert 2"),  # German UI
    ],
)
def test_two_hash_columns(read: Reader, first: str, second: str) -> None:
    data = xways_export(first, second, [(MD5[0], SHA1[0]), (MD5[1].upper(), SHA1[1].upper())])
    assert CsvAdapter.sniff(data)
    rows, context = read(CsvAdapter, data)
    assert [cells(r)[1:4] for r in rows] == [
        (MD5[0], SHA1[0], None),
        (MD5[1].upper(), SHA1[1].upper(), None),
    ]
    assert context.warning_count == 0


def test_generic_columns_in_either_order_go_by_the_value_shape(read: Reader) -> None:
    data = xways_export("Hash", "Hash 2", [(SHA256[0], MD5[0]), (SHA1[1], "")])
    rows, _ = read(CsvAdapter, data)
    assert [cells(r)[1:4] for r in rows] == [(MD5[0], None, SHA256[0]), (None, SHA1[1], None)]


def test_a_named_column_beats_a_generic_one(read: Reader) -> None:
    data = xways_export("Hash 2", "Hash Value (MD5)", [(MD5[1], MD5[0])])
    rows, _ = read(CsvAdapter, data)
    assert rows[0]["md5"] == MD5[0]


def test_a_generic_value_of_no_digest_shape_is_a_warning(read: Reader) -> None:
    data = xways_export("Hash", "Hash 2", [(MD5[0], "n/a"), (MD5[1], SHA1[1])])
    rows, context = read(CsvAdapter, data)
    assert [cells(r)[1:3] for r in rows] == [(MD5[0], None), (MD5[1], SHA1[1])]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "cannot tell the algorithm of a 3-character Hash value")
    ]


@pytest.mark.parametrize("header", ["Hash Set", "In Hashsets", "Hash Type", "Hashset Name"])
def test_hash_set_columns_are_not_digest_columns(read: Reader, header: str) -> None:
    data = f"Name\t{header}\na.jpg\tSynthetic set\n".encode()
    assert not CsvAdapter.sniff(data)
    with pytest.raises(UnsupportedFormat, match="no digest column"):
        read(CsvAdapter, data)


def test_autopsy_in_hashsets_column_is_ignored(read: Reader) -> None:
    data = f'"Name","In Hashsets","MD5 Hash"\n"a.jpg","Synthetic set","{MD5[0]}"\n'.encode()
    rows, context = read(CsvAdapter, data)
    assert [cells(r)[1:] for r in rows] == [(MD5[0], None, None, None, "a.jpg")]
    assert context.warning_count == 0


@pytest.mark.parametrize("size", ["1,260", "1.260", "1 260", "1\u00a0260", "1260"])
def test_xways_sizes_with_thousands_separators(read: Reader, size: str) -> None:
    rows, context = read(CsvAdapter, xways_export("MD5", "SHA-1", [(MD5[0], SHA1[0])], size))
    assert rows[0]["size"] == 1260
    assert context.warning_count == 0


def test_a_long_xways_list_fast_and_reference_agree(twins: Twins) -> None:
    rng = random.Random(7)
    values = [(rng.choice(MD5), rng.choice(SHA1 + SHA256 + ["", "n/a"])) for _ in range(600)]
    data = xways_export("Hash", "Hash 2", values, size="1,234")
    fast, reference = twins(CsvAdapter, data, batch_size=64)
    assert fast == reference
    assert reference["warning_count"] > 0
