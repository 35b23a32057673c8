"""Delimited exports with a header row: aliases, delimiters, quoting, BOMs, PowerShell."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import random
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from hashmatch_adapters import csvfile
from hashmatch_adapters.csvfile import CsvAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.digests import Algorithm
from hashmatch.errors import UnsupportedFormat
from hashmatch.records import encode_labels

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["line"], row["md5"], row["sha1"], row["sha256"], row["size"], row["path"]


def test_valid_fixture(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(CsvAdapter, fixture_bytes("csv/valid.csv"))
    assert [(*cells(r), r["labels"]) for r in rows] == [
        (
            n + 2,
            MD5[n],
            SHA1[n],
            SHA256[n],
            21,
            f"evidence/file{n + 1}.bin",
            encode_labels({"category": str(n % 3)}),
        )
        for n in range(5)
    ]


def test_utf8_bom_before_an_md5_header(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("csv/bom-md5.csv")
    assert data.startswith(codecs.BOM_UTF8 + b"MD5,")
    rows, _ = read(CsvAdapter, data)
    assert [cells(r) for r in rows] == [
        (2, MD5[0].upper(), None, None, 21, "one.jpg"),
        (3, MD5[1].upper(), None, None, 21, "two.jpg"),
    ]


def test_utf16_tab_export_joins_directory_and_name(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(CsvAdapter, fixture_bytes("csv/utf16-tab.csv"))
    assert [(*cells(r), r["labels"]) for r in rows] == [
        (2, MD5[0].upper(), None, None, 21, "C:\\Evidence\\Pictures\\a.jpg", '{"category":"1"}'),
        (3, MD5[1].upper(), None, None, 21, "C:\\Evidence\\Pictures\\b.jpg", None),
    ]


def test_semicolon_export(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(CsvAdapter, fixture_bytes("csv/semicolon.csv"))
    assert [cells(r) for r in rows] == [
        (2, MD5[0].upper(), SHA1[0].upper(), None, None, None),
        (3, MD5[1].upper(), SHA1[1].upper(), None, None, None),
    ]


def test_powershell_get_filehash_with_type_line(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(CsvAdapter, fixture_bytes("csv/powershell.csv"))
    assert [cells(r) for r in rows] == [
        (3, None, None, SHA256[0].upper(), None, "E:\\Evidence\\a.bin"),
        (4, MD5[1].upper(), None, None, None, "E:\\Evidence\\b.bin"),
        (5, None, SHA1[2].upper(), None, None, "E:\\Evidence\\c.bin"),
    ]
    assert context.warning_count == 0


def test_doubled_quotes_embedded_newlines_and_grouped_sizes(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(CsvAdapter, fixture_bytes("csv/quoting.csv"))
    assert [cells(r) for r in rows] == [
        (2, MD5[0], None, None, 1234, 'evidence/say "cheese".jpg'),
        (3, MD5[1], None, None, 1234, "evidence/two\nlines.jpg"),
        (5, MD5[2], None, None, 21, "evidence/semi;colon, comma.jpg"),  # starts on line 5
    ]
    assert context.warning_count == 0


def test_crlf_without_final_newline_leaks_no_carriage_return(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(CsvAdapter, fixture_bytes("csv/crlf.csv"))
    assert [cells(r) for r in rows] == [
        (2, None, None, SHA256[0], None, "evidence/a.bin"),
        (3, None, None, SHA256[1], None, "evidence/b.bin"),
    ]


def test_name_and_location_columns(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(CsvAdapter, fixture_bytes("csv/dir-name.csv"))
    assert [r["path"] for r in rows] == [
        "/img/DCIM/a.jpg",  # the location already ends in the name
        "/img/DCIM/b.jpg",
        "C:\\Users\\x\\Pictures\\c.jpg",  # the directory's own separator
        "d.jpg",
    ]


def test_joining_keeps_what_is_already_whole(read: Reader) -> None:
    data = f"MD5,Location,Name\n{MD5[0]},/x/dir,\n{MD5[1]},a.jpg,a.jpg\n{MD5[2]},/x/,c\n".encode()
    rows, _ = read(CsvAdapter, data)
    assert [r["path"] for r in rows] == ["/x/dir", "a.jpg", "/x/c"]


def test_an_empty_hash_cell_is_no_digest_and_no_warning(read: Reader) -> None:
    rows, context = read(CsvAdapter, b"Algorithm,Hash,Path\nMD5,,a.bin\n")
    assert [cells(r) for r in rows] == [(2, None, None, None, None, "a.bin")]
    assert context.warning_count == 0


def test_an_unreadable_header_is_not_csv(read: Reader) -> None:
    data = ('MD5,"' + "x" * 200_000 + '"\n').encode()
    assert not CsvAdapter.sniff(data)  # a caller may show sniff more than 64 KiB
    with pytest.raises(UnsupportedFormat, match="unreadable header row"):
        read(CsvAdapter, data)


def test_a_hash_column_without_algorithm_goes_by_length(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(CsvAdapter, fixture_bytes("csv/hash-by-length.csv"))
    assert [cells(r)[1:4] for r in rows] == [
        (MD5[0], None, None),
        (None, SHA1[1], None),
        (None, None, SHA256[2]),
    ]


def test_short_long_and_unreadable_rows(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(CsvAdapter, fixture_bytes("csv/corrupt-later.csv"))
    assert [cells(r) for r in rows] == [
        (2, MD5[0], None, None, 21, "a.bin"),
        (3, MD5[1], None, None, 21, None),  # short: the fields it has are read
        (4, MD5[2], None, None, 21, "c.bin"),  # long: the extra field is dropped
        (5, MD5[3], None, None, None, "d.bin"),
        (6, None, None, None, 21, "e.bin"),  # a row without a usable digest is still a row
        (7, None, None, None, 21, "f.bin"),
        (8, None, SHA1[1], None, 21, "g.bin"),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (3, "short row: 3 fields, the header has 4"),
        (4, "long row: 5 fields, the header has 4"),
        (5, "size is not a byte count: '21 bytes'"),
        (6, "unsupported algorithm 'SHA512'"),
        (7, "cannot tell the algorithm of a 25-character Hash value"),
    ]


def test_a_header_without_a_digest_column_is_not_csv(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(CsvAdapter, fixture_bytes("csv/corrupt-first.csv"))
    assert raised.value.line == 1
    assert "no digest column" in raised.value.reason


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"", None),
        (b"#TYPE Microsoft.PowerShell.Commands.FileHashInfo\n", None),
        (b"\nMD5,Path\n", 1),
        (b"#TYPE x\n\nMD5,Path\n", 2),
    ],
)
def test_no_header_row(read: Reader, data: bytes, line: int | None) -> None:
    with pytest.raises(UnsupportedFormat, match="no header row") as raised:
        read(CsvAdapter, data)
    assert raised.value.line == line


def test_an_unreadable_row_is_a_warning_and_reading_goes_on(read: Reader) -> None:
    huge = "x" * 200_000
    data = f'MD5,Path\n{MD5[0]},"{huge}"\n{MD5[1]},b.bin\n'.encode()
    rows, context = read(CsvAdapter, data)
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "unreadable row: field larger than field limit (131072)")
    ]
    assert [(r["line"], r["path"]) for r in rows] == [(3, "b.bin")]


def test_blank_lines_and_empty_rows_are_skipped(read: Reader) -> None:
    data = f"MD5,Path\n\n,\n  ,  \n{MD5[0]},a.bin\n\n".encode()
    rows, context = read(CsvAdapter, data)
    assert [(r["line"], r["path"]) for r in rows] == [(5, "a.bin")]
    assert context.warning_count == 0


def test_header_only_yields_nothing(read: Reader) -> None:
    rows, _ = read(CsvAdapter, b"MD5,SHA1,Path\n")
    assert rows == []


@pytest.mark.parametrize(
    ("header", "row", "column", "value"),
    [
        # The alias first in the table wins, wherever it stands.
        ("MD5 Hash,MD5", f"{MD5[1]},{MD5[0]}", "md5", MD5[0]),
        (" md5 , path ", f"{MD5[0]},p", "md5", MD5[0]),  # case and spaces do not matter
        ("HashSHA256,Full Path", f"{SHA256[0]},p", "sha256", SHA256[0]),
        ("SHA-1 ,FilePath", f"{SHA1[0]},p", "sha1", SHA1[0]),
        ("Hash Value,Size (bytes)", f"{MD5[0]},1", "md5", MD5[0]),
    ],
)
def test_header_aliases(read: Reader, header: str, row: str, column: str, value: str) -> None:
    rows, _ = read(CsvAdapter, f"{header}\n{row}\n".encode())
    assert rows[0][column] == value


def test_a_named_digest_column_wins_over_a_generic_hash(read: Reader) -> None:
    rows, _ = read(CsvAdapter, f"Hash,MD5\n{MD5[1]},{MD5[0]}\n".encode())
    assert rows[0]["md5"] == MD5[0]


def test_the_algorithm_column_beats_the_length(read: Reader) -> None:
    rows, _ = read(CsvAdapter, f"Algorithm,Hash\nSHA256,{MD5[0]}\n,{MD5[1]}\n".encode())
    assert [cells(r)[1:4] for r in rows] == [(None, None, MD5[0]), (MD5[1], None, None)]


class TestSniff:
    """A header row with a digest column, after an optional #TYPE line."""

    @pytest.mark.parametrize(
        "head",
        [
            b"MD5,SHA1,Path\n",
            b"MD5",
            b"\xef\xbb\xbfMD5;Name\r\n",
            b'#TYPE Microsoft.PowerShell.Commands.FileHashInfo\n"Algorithm","Hash","Path"\n',
            codecs.BOM_UTF16_LE + "Name\tPath\tHash\r\n".encode("utf-16-le"),
            b"File Name\tSHA-256 Hash\n",
        ],
    )
    def test_headers(self, head: bytes) -> None:
        assert CsvAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            b"Name,Size,Path\n",
            b"#TYPE x\n",
            b"#TYPE x\nName,Path\n",
            f"{MD5[0]}  md5\n".encode(),
            b"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n",
            b'"unterminated,MD5\n',
        ],
    )
    def test_not_headers(self, head: bytes) -> None:
        assert not CsvAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

ALIASES = {
    "md5": ["MD5", "MD5 Hash", "Hash Value", "md5"],
    "sha1": ["SHA1", "SHA-1", "SHA1 Hash", "HashSHA1"],
    "sha256": ["SHA256", "SHA-256", "SHA-256 Hash", "SHA256 Hash", "HashSHA256"],
    "size": ["Size", "File Size", "FileSize", "filesize", "Size (bytes)", "Logical Size"],
    "path": ["Path", "Location", "Full Path", "FilePath", "File Location"],
    "category": ["Category", "category"],
}
"""FORMATS.md §6.10, written down again here so that the test does not trust the code."""

Row = dict[str, Any]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[str], list[Row]]:
    """(roles, header names, rows): each row maps a role to its value."""
    digests = draw(st.lists(st.sampled_from(list(Algorithm)), min_size=1, unique=True))
    roles = [a.value for a in digests]
    roles += draw(st.lists(st.sampled_from(["size", "path", "category", "other"]), unique=True))
    roles = draw(st.permutations(roles))
    spell = draw(st.sampled_from([str, str.upper, str.lower]))
    header = [spell(draw(st.sampled_from(ALIASES.get(role, ["Comment"])))) for role in roles]
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        row: Row = {a.value: draw(hex_digests(a)) for a in digests}
        row["size"] = draw(st.none() | file_sizes())
        row["path"] = draw(file_names(newlines=True))
        row["category"] = draw(st.from_regex(r"[A-Za-z0-9]{0,4}", fullmatch=True))
        row["other"] = draw(st.text(max_size=5).filter(lambda t: "\r" not in t and "\x00" not in t))
        rows.append(row)
    return roles, header, rows


def render(
    roles: list[str], header: list[str], rows: list[Row], delimiter: str, quoting: int, newline: str
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row[r] is None else str(row[r]) for r in roles])
    return out.getvalue()


@given(
    table=tables(),
    delimiter=st.sampled_from([",", ";", "\t"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
@example(
    table=(["md5"], ["MD5"], []),
    delimiter=",",
    quoting=csv.QUOTE_MINIMAL,
    newline="\n",
    encoding="utf-8",
)
@example(
    table=(
        ["md5", "path"],
        ["MD5", "Path"],
        [{"md5": MD5[0].upper(), "size": None, "path": 'a,"b"\nc', "category": "", "other": ""}],
    ),
    delimiter=",",
    quoting=csv.QUOTE_MINIMAL,
    newline="\r\n",
    encoding="utf-8-sig",
)
def test_round_trip(
    read: Reader,
    table: tuple[list[str], list[str], list[Row]],
    delimiter: str,
    quoting: int,
    newline: str,
    encoding: str,
) -> None:
    roles, header, rows = table
    data = render(roles, header, rows, delimiter, quoting, newline).encode(encoding)
    assert CsvAdapter.sniff(data)
    parsed, context = read(CsvAdapter, data)
    assert context.warning_count == 0
    expected = []
    line = 2
    for row in rows:
        expected.append(
            {
                "line": line,
                "md5": row.get("md5"),
                "sha1": row.get("sha1"),
                "sha256": row.get("sha256"),
                "size": row["size"] if "size" in roles else None,
                "path": row["path"] if "path" in roles else None,
                "labels": encode_labels({"category": row["category"]})
                if "category" in roles
                else None,
            }
        )
        line += 1 + sum(str(row[r] or "").count("\n") for r in roles)
    assert parsed == expected


# --- the chunked reader against its line-at-a-time twin ---------------------------------

Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

HEADERS = [
    ["MD5", "SHA256", "Path"],
    ["MD5", "Size", "Path", "Category"],
    ["SHA1", "File Size", "Full Path", "Category", "Comment"],
    ["Location", "Name", "MD5"],  # a name column: joined row by row
    ["Algorithm", "Hash", "Path"],  # a Hash column: routed row by row
]
ODD_CELLS = [
    "",
    " ",
    "\u00a0",
    f" {MD5[0]}",
    f"{MD5[1]}\u3000",
    f"\t{SHA1[0]}",
    '"quoted, with a comma"',
    '"say ""cheese"""',
    '"two\nlines"',
    '"unterminated',
    'in"side',
    "carriage\rreturn",
    "nul\x00byte",
    "1,234",
    "1 234",
    "21 bytes",
    " 21",
    "\u0663",
    "1000000000000000000",
    "MD5",
    "SHA512",
    "caf\u00e9",
    "\u00e9t\u00e9",
    "#",
]


@st.composite
def csv_rows(draw: st.DrawFn, width: int, delimiter: str) -> str:
    """One row of a delimited file: mostly plain cells (digests, sizes, names), with every
    kind of cell and row the fast path leaves to the csv module or the per-row rule."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(["", " ", delimiter * (width - 1), '"', "#TYPE x"]))
    count = width if draw(st.integers(0, 9)) else draw(st.integers(0, width + 1))
    cells = []
    for _ in range(count):
        kind = draw(st.integers(0, 9))
        if kind < 4:
            # Not all decimal digits: a Size cell that overflows int64 crashes both readers
            # (a known defect of the size column, left out of this comparison).
            cells.append(draw(hex_digests().filter(lambda d: not d.isdigit())))
        elif kind < 6:
            cells.append(str(draw(st.integers(0, 10**6))))
        elif kind < 8:
            cells.append(draw(file_names(exclude=delimiter + '"', max_size=12)))
        else:
            cells.append(draw(st.sampled_from(ODD_CELLS)))
    return delimiter.join(cells)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[list[str], str, list[str]]:
    """(header, delimiter, rows)."""
    header = draw(st.sampled_from(HEADERS))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    rows = draw(st.lists(csv_rows(len(header), delimiter), max_size=30))
    return header, delimiter, rows


@given(
    table=csv_files(),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    final_newline=st.booleans(),
    strict=st.booleans(),
    batch_size=st.sampled_from([1, 2, 3, 7, 65_536]),
    keep_warnings=st.sampled_from([1, 200]),
    min_run=st.sampled_from([1, 2, 256]),
)
@example(
    table=(
        ["MD5", "Size", "Path", "Category"],
        ",",
        [f"{MD5[0]},21,a,1", f'{MD5[1]},21,"b\nc",2', f"{MD5[2]},x,d,", "", f"{MD5[3]},1"],
    ),
    newline="\n",
    encoding="utf-8",
    final_newline=True,
    strict=False,
    batch_size=2,
    keep_warnings=200,
    min_run=1,
)
@example(
    table=(["MD5", "Path"], ",", [f'"{MD5[0]}",a', "", " , ", f'"{MD5[1]}",b', "x,y"]),
    newline="\n",
    encoding="utf-8",
    final_newline=False,
    strict=False,
    batch_size=65_536,
    keep_warnings=200,
    min_run=256,
)
def test_read_agrees_with_the_line_by_line_reader(
    twins: Twins,
    table: tuple[list[str], str, list[str]],
    newline: str,
    encoding: str,
    final_newline: bool,
    strict: bool,
    batch_size: int,
    keep_warnings: int,
    min_run: int,
) -> None:
    header, delimiter, rows = table
    text = newline.join([delimiter.join(header), *rows]) + (newline if final_newline else "")
    # The shortest run of plain lines worth a vectorised pass: small, to interleave the
    # vectorised pass and the csv module within a chunk.
    with mock.patch.object(csvfile, "_MIN_RUN", min_run):
        fast, reference = twins(
            CsvAdapter,
            text.encode(encoding),
            strict=strict,
            batch_size=batch_size,
            keep_warnings=keep_warnings,
        )
    assert fast == reference


@pytest.mark.parametrize("batch_size", [3, 64, 1000, 65_536])
@pytest.mark.parametrize("joined", [False, True], ids=["plain", "joined"])
def test_read_agrees_with_the_line_by_line_reader_on_a_long_mixture(
    twins: Twins, batch_size: int, joined: bool
) -> None:
    rng = random.Random(batch_size)
    header = HEADERS[3] if joined else HEADERS[1]
    lines = [",".join(header)]
    for n in range(3000):
        if joined:
            cells = [f"synthetic/dir-{n % 7}", f"file-{n:06d}.bin", rng.choice(MD5)]
        else:
            cells = [rng.choice(MD5), str(n), f"synthetic/file-{n:06d}.bin", str(n % 3)]
        if rng.random() < 0.05:
            cells[rng.randrange(len(cells))] = rng.choice(ODD_CELLS)
        lines.append(",".join(cells))
    huge = '"' + "x" * 200_000 + '"'  # more than the csv module's field limit
    lines[1500] = ",".join([MD5[0], huge, "1", "1"][: len(header)])
    data = ("\n".join(lines) + "\n").encode() + f"{MD5[1]},2,caf\xe9\n".encode("latin-1")
    fast, reference = twins(CsvAdapter, data, batch_size=batch_size)
    assert fast == reference
    assert reference["warning_count"] > 0
    assert sum(rows for rows, _, _ in reference["batches"]) > 1000


def test_labels_stay_right_past_the_label_cache(read: Reader) -> None:
    categories = [f"c{n}" for n in range(5000)]  # more distinct values than are cached
    data = "MD5,Category\n" + "".join(f"{MD5[0]},{c}\n" for c in categories + categories[:3])
    rows, _ = read(CsvAdapter, data.encode())
    assert [r["labels"] for r in rows] == [
        encode_labels({"category": c}) for c in categories + categories[:3]
    ]
