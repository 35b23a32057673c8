"""HashKeeper ``.hsh`` sets: the fixed header, quoting, directories, labels, bad rows."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hashmatch_adapters.hashkeeper import HEADER, HashKeeperAdapter, _labels
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.records import decode_labels, encode_labels

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
UPPER = [m.upper() for m in MD5]


def cells(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["line"], r["md5"], r["size"], r["path"], decode_labels(r["labels"])) for r in rows]


def test_the_formats_md_example(read: Reader) -> None:
    data = (
        HEADER + "\r\n"
        f'1,100,"fixture1.jpg","C:\\Fixtures","{UPPER[0]}",21,01/02/2024,10:00:00,"UTC",'
        '"synthetic",01/02/2024,10:00:00\r\n'
        f'2,100,"fixture2.jpg",,"{UPPER[1]}",21,,,,,,\r\n'
    ).encode()
    rows, context = read(HashKeeperAdapter, data, strict=True)
    assert cells(rows) == [
        (
            2,
            UPPER[0],
            21,
            "C:\\Fixtures\\fixture1.jpg",
            {"set_name": "100", "comments": "synthetic", "hashkeeper_file_id": "1"},
        ),
        (3, UPPER[1], 21, "fixture2.jpg", {"set_name": "100", "hashkeeper_file_id": "2"}),
    ]
    assert context.warning_count == 0


def test_the_valid_fixture(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(HashKeeperAdapter, fixture_bytes("hashkeeper/valid.hsh"), strict=True)
    assert [(r["line"], r["md5"], r["size"], r["path"]) for r in rows] == [
        (2, UPPER[0], 21, "C:\\Fixtures\\fixture1.jpg"),
        (3, UPPER[1], 21, "fixture2.jpg"),
        (4, UPPER[2], 21, "C:\\Fixtures\\Sub\\fixture3.jpg"),
        (5, UPPER[3], 21, "D:\\Other Set\\fixture4.bin"),
        (6, UPPER[4], 21, "D:\\Other Set\\fixture5.bin"),
    ]
    assert [decode_labels(r["labels"]).get("set_name") for r in rows] == ["100"] * 3 + ["101"] * 2
    assert [decode_labels(r["labels"]).get("comments") for r in rows] == [
        "synthetic",
        None,
        None,
        "second set",
        None,
    ]


def test_quoted_commas_doubled_quotes_and_line_breaks(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(HashKeeperAdapter, fixture_bytes("hashkeeper/quoting.hsh"), strict=True)
    assert cells(rows) == [
        (
            2,
            UPPER[0],
            21,
            "C:\\A,B\\name, with comma.jpg",
            {"set_name": "5", "comments": "a, b", "hashkeeper_file_id": "1"},
        ),
        (
            3,
            UPPER[1],
            21,
            'C:\\Trailing\\say "cheese".jpg',
            {"set_name": "5", "hashkeeper_file_id": "2"},
        ),
        (
            4,
            UPPER[2],
            21,
            "C:\\Pictures\\café ünïcode.jpg",
            {"set_name": "5", "comments": "multi\nline comment", "hashkeeper_file_id": "3"},
        ),
    ]


def test_bom_crlf_and_no_final_newline(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(HashKeeperAdapter, fixture_bytes("hashkeeper/bom-no-final-newline.hsh"))
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [
        (2, MD5[0], "C:\\X\\a.jpg"),
        (3, MD5[1], "C:\\X\\b.jpg"),
    ]


def test_an_empty_directory_leaves_the_name(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(HashKeeperAdapter, fixture_bytes("hashkeeper/empty-directory.hsh"))
    assert [r["path"] for r in rows] == ["root.jpg", "quoted-empty.jpg"]


def test_a_forward_slash_directory_keeps_its_separator(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(HashKeeperAdapter, fixture_bytes("hashkeeper/lf.hsh"))
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [(2, MD5[3], "/data/unix.bin")]


def test_utf16_files_read_too(read: Reader) -> None:
    text = f'{HEADER}\r\n1,4,"ünï.jpg","C:\\X","{UPPER[0]}",21,,,,,,\r\n'
    rows, context = read(HashKeeperAdapter, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert [(r["md5"], r["path"]) for r in rows] == [(UPPER[0], "C:\\X\\ünï.jpg")]
    assert context.warning_count == 0


def test_bad_rows_are_warnings_with_their_lines(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(
        HashKeeperAdapter, fixture_bytes("hashkeeper/corrupt.hsh"), source="corrupt.hsh"
    )
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        ("corrupt.hsh", 3, "expected 12 fields, got 5"),
        ("corrupt.hsh", 4, "file_size: size is not a byte count: 'twenty-one'"),
    ]
    # Both rows still carry their hash; only the size is lost.
    assert [(r["line"], r["md5"], r["size"]) for r in rows] == [
        (2, UPPER[0], 21),
        (3, UPPER[1], None),
        (4, UPPER[2], None),
        (5, UPPER[3], 21),
    ]


def test_strict_raises_at_the_first_bad_row(
    fixture_bytes: Callable[[str], bytes], read: Reader
) -> None:
    with pytest.raises(RecordError) as raised:
        read(HashKeeperAdapter, fixture_bytes("hashkeeper/corrupt.hsh"), strict=True)
    assert (raised.value.line, raised.value.reason) == (3, "expected 12 fields, got 5")


def test_rows_that_stop_before_the_hash_are_skipped_and_extra_fields_warned(
    read: Reader,
) -> None:
    data = (
        f"{HEADER}\n"
        "7,100\n"
        "\n"
        f'8,100,"a.bin",,"{MD5[0]}",21,,,,,,,"extra"\n'
        f'9,100,"b.bin",,"{MD5[1]}",1 234,,,,,,\n'
    ).encode()
    rows, context = read(HashKeeperAdapter, data)
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "expected 12 fields, got 2"),
        (4, "expected 12 fields, got 13"),
    ]
    assert [(r["line"], r["md5"], r["size"]) for r in rows] == [(4, MD5[0], 21), (5, MD5[1], 1234)]


def test_a_multiline_field_does_not_shift_later_line_numbers(read: Reader) -> None:
    data = (
        f"{HEADER}\r\n"
        f'1,1,"a.bin",,"{MD5[0]}",21,,,,"one\r\ntwo\r\nthree",,\r\n'
        f'2,1,"b.bin",,"{MD5[1]}",x,,,,,,\r\n'
    ).encode()
    rows, context = read(HashKeeperAdapter, data)
    assert [r["line"] for r in rows] == [2, 5]
    assert [w.line for w in context.warnings] == [5]


@pytest.mark.parametrize(
    "first",
    [
        HEADER.replace('"', ""),  # re-saved by a spreadsheet
        HEADER.upper(),
        '"file_id","hashset_id","file_name","directory","hash"',
        f"# {HEADER}",
        "",
    ],
)
def test_a_first_line_that_is_not_the_header_is_not_this_format(read: Reader, first: str) -> None:
    data = f'{first}\r\n1,100,"a.jpg",,"{UPPER[0]}",21,,,,,,\r\n'.encode()
    assert not HashKeeperAdapter.sniff(data)
    with pytest.raises(UnsupportedFormat) as raised:
        read(HashKeeperAdapter, data, source="x.hsh")
    assert (raised.value.source, raised.value.line) == ("x.hsh", 1)


def test_sniff_accepts_the_header_with_or_without_a_bom() -> None:
    assert HashKeeperAdapter.sniff(f"{HEADER}\r\n".encode())
    assert HashKeeperAdapter.sniff(codecs.BOM_UTF8 + HEADER.encode())
    assert HashKeeperAdapter.sniff(codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"))
    assert not HashKeeperAdapter.sniff(f"\r\n{HEADER}\r\n".encode())
    assert not HashKeeperAdapter.sniff(b"MD5,SHA1,Path\n")


@given(
    set_id=st.text(max_size=6),
    comments=st.text(max_size=12),
    file_id=st.text(max_size=6),
)
@example(set_id="", comments="", file_id="")
@example(set_id='"\\', comments="\x00\x1f\u2028é\U0001f600", file_id="1")
def test_the_quick_labels_are_the_canonical_ones(set_id: str, comments: str, file_id: str) -> None:
    assert _labels(set_id, comments, file_id) == encode_labels(
        {"set_name": set_id, "comments": comments, "hashkeeper_file_id": file_id}
    )


# --- round trip ---------------------------------------------------------------------------

Entry = tuple[int, int, str, str, str, int | None, str]
"""file_id, hashset_id, file_name, directory, hash, file_size, comments."""


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def write_hashkeeper(entries: list[Entry], *, newline: str = "\r\n", bom: bool = False) -> bytes:
    """A HashKeeper file as HashKeeper writes one: text quoted, ids and sizes bare, an empty
    directory or comment as an empty unquoted field."""
    lines = [HEADER]
    for file_id, set_id, name, directory, digest, size, comments in entries:
        lines.append(
            ",".join(
                [
                    str(file_id),
                    str(set_id),
                    _quoted(name),
                    _quoted(directory) if directory else "",
                    _quoted(digest),
                    "" if size is None else str(size),
                    "01/02/2024",
                    "10:00:00",
                    '"UTC"',
                    _quoted(comments) if comments else "",
                    "",
                    "",
                ]
            )
        )
    return (codecs.BOM_UTF8 if bom else b"") + (newline.join(lines) + newline).encode()


def _expected_path(directory: str, name: str) -> str:
    if not directory:
        return name
    separator = "/" if "/" in directory and "\\" not in directory else "\\"
    return directory + ("" if directory.endswith(separator) else separator) + name


entries = st.tuples(
    st.integers(0, 10**9),
    st.integers(0, 10**6),
    file_names(),
    file_names(min_size=0),
    hex_digests(Algorithm.MD5),
    st.none() | file_sizes(),
    st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=20),
)


@given(
    rows=st.lists(entries, max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    batch_size=st.sampled_from([1, 2, 65_536]),
)
@example(rows=[], newline="\r\n", bom=True, batch_size=1)
@example(
    rows=[(1, 100, 'a, "b".jpg', "C:\\Dir\\", UPPER[0], 21, "x,\ny")],
    newline="\r\n",
    bom=True,
    batch_size=1,
)
@example(rows=[(2, 3, "n", "", MD5[1], None, "")], newline="\n", bom=False, batch_size=2)
def test_round_trip(
    read: Reader, rows: list[Entry], newline: str, bom: bool, batch_size: int
) -> None:
    parsed, context = read(
        HashKeeperAdapter,
        write_hashkeeper(rows, newline=newline, bom=bom),
        batch_size=batch_size,
    )
    assert context.warning_count == 0
    expected = []
    line = 2
    for file_id, set_id, name, directory, digest, size, comments in rows:
        labels = {"set_name": str(set_id), "hashkeeper_file_id": str(file_id)}
        if comments:
            labels["comments"] = comments
        expected.append((line, digest, size, _expected_path(directory, name), labels))
        line += 1 + comments.count("\n")
    assert cells(parsed) == expected
