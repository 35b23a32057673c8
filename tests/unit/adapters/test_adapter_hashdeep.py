"""hashdeep HASHDEEP-1.0 manifests: headers, commas in names, comments, Windows output."""

from __future__ import annotations

import codecs
import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest
from hashmatch_adapters.hashdeep import HashdeepAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.digests import Algorithm
from hashmatch.errors import UnsupportedFormat

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]
HEADER = "%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n"


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["line"], row["size"], row["md5"], row["sha1"], row["sha256"], row["path"]


def test_the_formats_md_example(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(HashdeepAdapter, fixture_bytes("hashdeep/valid.txt"))
    names = ["a.bin", "b.bin", "sub/c.bin", "sub/d e.bin", "f.bin"]
    assert [cells(r) for r in rows] == [
        (n + 6, 21, MD5[n], None, SHA256[n], f"evidence/{names[n]}") for n in range(5)
    ]
    assert context.warning_count == 0


def test_extra_commas_belong_to_the_file_name(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(HashdeepAdapter, fixture_bytes("hashdeep/commas.txt"))
    assert [(r["line"], r["path"], r["md5"]) for r in rows] == [
        (6, "evidence/name, with commas.txt", MD5[0]),
        (7, "evidence/a,b,c.bin", MD5[1]),
        (8, ",leading-comma.bin", MD5[2]),
        (9, "trailing-comma,", MD5[3]),
    ]


def test_windows_output_crlf_sha_dash_spellings_and_invocation_comments(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(HashdeepAdapter, fixture_bytes("hashdeep/windows.txt"))
    assert [cells(r) for r in rows] == [
        (6, 21, None, SHA1[0], SHA256[0], "C:\\cases\\SYN-0001\\evidence\\a.bin"),
        (7, 21, None, SHA1[1], SHA256[1], "C:\\cases\\SYN-0001\\evidence\\b b.bin"),
    ]
    assert context.warning_count == 0


def test_unknown_hash_columns_are_ignored_in_any_order(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(HashdeepAdapter, fixture_bytes("hashdeep/columns.txt"))
    assert [(r["md5"], r["sha1"], r["sha256"], r["path"]) for r in rows] == [
        (MD5[0], None, SHA256[0], "x/a.bin"),
        (MD5[1], None, SHA256[1], "x/b.bin"),
        (MD5[2], None, SHA256[2], "x/sub/c.bin"),
    ]


def test_a_second_header_block_changes_the_columns(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("hashdeep/concatenated.txt")
    for batch_size in (1, 2, 100):
        rows, _ = read(HashdeepAdapter, data, batch_size=batch_size)
        assert [cells(r) for r in rows] == [
            (3, 21, MD5[0], None, SHA256[0], "first/a.bin"),
            (6, 21, None, SHA1[1], None, "second/b.bin"),
        ]


def test_bad_later_lines(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(HashdeepAdapter, fixture_bytes("hashdeep/corrupt-later.txt"))
    assert [cells(r) for r in rows] == [
        (6, 21, MD5[0], None, SHA256[0], "evidence/a.bin"),
        # A size that is not a number is reported; the digests are still worth having.
        (8, None, MD5[2], None, SHA256[2], "evidence/bad-size.bin"),
        # An empty digest is passed as found: the core reads "" as no digest.
        (10, 21, "", None, SHA256[3], "evidence/no-md5.bin"),
        (11, 21, MD5[4], None, SHA256[4], "evidence/e.bin"),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (7, "expected 4 fields, got 2"),
        (8, "size is not a number: 'twenty-one'"),
        (9, "ignored a column line: the column line must end with 'filename': '%%%% size,md5'"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", None, "no HASHDEEP-1.0 header"),
        ("%%%% HASHDEEP-1.0\n# nothing else\n", None, "no column line after the header"),
        ("%%%% HASHDEEP-2.0\n", 1, "expected '%%%% HASHDEEP-1.0'"),
        (f"21,{MD5[0]},a.bin\n", 1, "expected '%%%% HASHDEEP-1.0'"),
        (f"%%%% HASHDEEP-1.0\n21,{MD5[0]},a.bin\n", 2, "a data line before"),
        ("%%%% HASHDEEP-1.0\n%%%% size,md5,sha256\n", 2, "the column line must end with"),
        ("%%%% HASHDEEP-1.0\n%%%% filename\n", 2, "the column line must end with"),
        ("%%%% HASHDEEP-1.0\n%%%% size,filename,filename\n", 2, "names 'filename' twice"),
        ("%%%% HASHDEEP-1.0\n%%%% size,tiger,whirlpool,filename\n", 2, "no md5, sha1 or sha256"),
    ],
)
def test_a_bad_header_means_not_hashdeep(
    read: Reader, text: str, line: int | None, reason: str
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(HashdeepAdapter, text.encode())
    assert raised.value.line == line
    assert reason in raised.value.reason


def test_comments_and_blank_lines_may_come_anywhere(read: Reader) -> None:
    data = (
        "\n%%%% HASHDEEP-1.0\n## early comment\n\n%%%% size,md5,filename\n"
        f"# comment\n\n   \n21,{MD5[0]},a.bin\n##\n"
    ).encode()
    rows, context = read(HashdeepAdapter, data)
    assert [(r["line"], r["path"]) for r in rows] == [(9, "a.bin")]
    assert context.warning_count == 0


def test_utf8_bom_and_crlf(read: Reader) -> None:
    data = (
        codecs.BOM_UTF8
        + HEADER.replace("\n", "\r\n").encode()
        + f"21,{MD5[0]},,a b.bin\r\n".encode()
    )
    rows, _ = read(HashdeepAdapter, data)
    assert [cells(r) for r in rows] == [(3, 21, MD5[0], None, "", "a b.bin")]


def test_without_a_size_column(read: Reader) -> None:
    rows, _ = read(HashdeepAdapter, f"%%%% HASHDEEP-1.0\n%%%% md5,filename\n{MD5[0]},a\n".encode())
    assert [cells(r) for r in rows] == [(3, None, MD5[0], None, None, "a")]


def test_a_repeated_digest_column_counts_once(read: Reader) -> None:
    data = f"%%%% HASHDEEP-1.0\n%%%% size,md5,md5,filename\n21,{MD5[0]},{MD5[1]},a\n".encode()
    rows, _ = read(HashdeepAdapter, data)
    assert rows[0]["md5"] == MD5[0]


def test_a_lone_percent_line_is_data(read: Reader) -> None:
    _, context = read(HashdeepAdapter, (HEADER + "%oops\n").encode())
    assert [(w.line, w.reason) for w in context.warnings] == [(3, "expected 4 fields, got 1")]


class TestSniff:
    """hashdeep is known by its first line."""

    @pytest.mark.parametrize(
        "head",
        [
            HEADER.encode(),
            b"\n  \n" + HEADER.encode(),
            codecs.BOM_UTF8 + HEADER.replace("\n", "\r\n").encode(),
            codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"),
            b"%%%% HASHDEEP-1.0",
        ],
    )
    def test_hashdeep_heads(self, head: bytes) -> None:
        assert HashdeepAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [b"", b"\n", b"%%%% HASHDEEP-2.0\n", b"# %%%% HASHDEEP-1.0\n", f"{MD5[0]}  a\n".encode()],
    )
    def test_other_heads(self, head: bytes) -> None:
        assert not HashdeepAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

SPELLINGS = {
    Algorithm.MD5: ["md5"],
    Algorithm.SHA1: ["sha1", "sha-1"],
    Algorithm.SHA256: ["sha256", "sha-256"],
}


@st.composite
def manifests(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, dict[Algorithm, str], str]]]:
    """Column names (with unknown ones mixed in) and rows of (size, digests, name)."""
    algorithms = draw(st.lists(st.sampled_from(list(Algorithm)), min_size=1, unique=True))
    middle = [draw(st.sampled_from(SPELLINGS[a])) for a in algorithms]
    middle += draw(st.lists(st.sampled_from(["tiger", "whirlpool", "sha512"]), unique=True))
    middle = draw(st.permutations(middle))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        values = {a: draw(hex_digests(a, case="lower")) for a in algorithms}
        name = draw(file_names())
        rows.append((draw(file_sizes()), values, name))
    return ["size", *middle, "filename"], rows


def render(columns: list[str], rows: list[tuple[int, dict[Algorithm, str], str]]) -> list[str]:
    """A HASHDEEP-1.0 file: digests of unknown algorithms are random-looking filler."""
    lines = ["%%%% HASHDEEP-1.0", "%%%% " + ",".join(columns), "## Invoked from: /x", "##"]
    for size, values, name in rows:
        fields = [str(size)]
        for column in columns[1:-1]:
            algorithm = next((a for a, s in SPELLINGS.items() if column in s), None)
            fields.append(values[algorithm] if algorithm is not None else "ab" * 20)
        lines.append(",".join([*fields, name]))
    return lines


@given(manifest=manifests(), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
@example(manifest=(["size", "md5", "filename"], []), newline="\n", bom=False)
@example(
    manifest=(["size", "sha-256", "filename"], [(21, {Algorithm.SHA256: SHA256[0]}, "a,b\\c ")]),
    newline="\r\n",
    bom=True,
)
@example(
    manifest=(["size", "md5", "filename"], [(0, {Algorithm.MD5: MD5[0].upper()}, " x")]),
    newline="\n",
    bom=False,
)
def test_round_trip(
    read: Reader,
    manifest: tuple[list[str], list[tuple[int, dict[Algorithm, str], str]]],
    newline: str,
    bom: bool,
) -> None:
    columns, rows = manifest
    data = (codecs.BOM_UTF8 if bom else b"") + newline.join(render(columns, rows)).encode()
    parsed, context = read(HashdeepAdapter, data)
    assert context.warning_count == 0
    assert [
        (r["line"], r["size"], {a: r[a.value] for a in Algorithm if r[a.value]}, r["path"])
        for r in parsed
    ] == [(i, size, values, name) for i, (size, values, name) in enumerate(rows, start=5)]


# --- the chunked reader against its line-at-a-time twin ---------------------------------

Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

LAYOUTS = ["size,md5,sha256,filename", "md5,filename", "size,sha1,tiger,md5,filename"]
ODD_LINES = [
    "",
    "   ",
    "# a comment",
    "## Invoked from: /x",
    "##",
    "%oops",
    "%%%% HASHDEEP-1.0",
    "%%%% size,md5",  # no filename: a warning, and the columns stay
    *(f"%%%% {columns}" for columns in LAYOUTS),  # a second header block
    f"21,{MD5[0]}",
    "no commas at all",
    "\u00e9,\u00e9,\u00e9,\u00e9,\u00e9",
]
SIZES = ["0", "21", "007", "123456789012345678", "1000000000000000000", ""]
ODD_SIZES = [" 21", "21 ", "+2", "-5", "1_000", "x", "\u0663", "1.0", "0x10"]


@st.composite
def hashdeep_lines(draw: st.DrawFn) -> str:
    """Lines of a hashdeep manifest of any of :data:`LAYOUTS` (3 to 5 fields, whichever is
    in force): mostly data lines, with every kind the fast path leaves to the per-line rule."""
    kind = draw(st.integers(0, 9))
    if kind == 9:
        return draw(
            st.sampled_from(ODD_LINES)
            | st.text(max_size=60).filter(lambda t: "\n" not in t and "\r" not in t)
        )
    size = draw(st.sampled_from(SIZES + ODD_SIZES if kind == 8 else SIZES[:-1]))
    digests = [draw(hex_digests()) for _ in range(draw(st.integers(1, 3)))]
    return ",".join([size, *digests, draw(file_names())])


@given(
    layout=st.sampled_from(LAYOUTS),
    lines=st.lists(hashdeep_lines(), max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    final_newline=st.booleans(),
    strict=st.booleans(),
    batch_size=st.sampled_from([1, 2, 3, 7, 65_536]),
    keep_warnings=st.sampled_from([1, 200]),
)
@example(
    layout=LAYOUTS[0],
    lines=[f"21,{MD5[0]},{SHA256[0]},a", "%%%% md5,filename", f"{MD5[1]},b,c", "x,y"],
    newline="\n",
    encoding="utf-8",
    final_newline=True,
    strict=False,
    batch_size=2,
    keep_warnings=200,
)
def test_read_agrees_with_the_line_by_line_reader(
    twins: Twins,
    layout: str,
    lines: list[str],
    newline: str,
    encoding: str,
    final_newline: bool,
    strict: bool,
    batch_size: int,
    keep_warnings: int,
) -> None:
    text = newline.join(["%%%% HASHDEEP-1.0", f"%%%% {layout}", *lines])
    data = (text + (newline if final_newline else "")).encode(encoding)
    fast, reference = twins(
        HashdeepAdapter, data, strict=strict, batch_size=batch_size, keep_warnings=keep_warnings
    )
    assert fast == reference


@pytest.mark.parametrize("batch_size", [3, 64, 1000, 65_536])
def test_read_agrees_with_the_line_by_line_reader_on_a_long_mixture(
    twins: Twins, batch_size: int
) -> None:
    rng = random.Random(batch_size)
    lines = [
        rng.choice(ODD_LINES)
        if rng.random() < 0.05
        else ",".join(
            [
                rng.choice(SIZES + ODD_SIZES) if rng.random() < 0.1 else str(n),
                rng.choice(MD5),
                rng.choice(SHA256),
                f"synthetic/file-{n:06d}.bin",
            ]
        )
        for n in range(3000)
    ]
    data = (HEADER + "\n".join(lines) + "\n").encode() + b"21,caf\xe9,x,y\n"
    fast, reference = twins(HashdeepAdapter, data, batch_size=batch_size)
    assert fast == reference
    assert reference["warning_count"] > 0
    assert sum(rows for rows, _, _ in reference["batches"]) > 1000
