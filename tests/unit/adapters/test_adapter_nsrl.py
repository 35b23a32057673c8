"""NIST NSRL RDS 2.x NSRLFile.txt: both header forms, product names, the edge cases NIST's
files have, and the block reader held to its line-at-a-time twin."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hashmatch_adapters.nsrl import NsrlRdsAdapter, load_products
from hypothesis import assume, example, given
from hypothesis import strategies as st
from strategies import file_sizes, hex_digests

from hashmatch.adapter import ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
CRC32 = ["F2482D03", "6B417CB9", "1C464C2F", "8222D98C", "F525E91A"]
FORM_2 = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"'
FORM_1 = (
    '"SHA-1","FileName","FileSize","ProductCode","OpSystemCode","MD4","MD5","CRC32","SpecialCode"'
)
PROD_HEADER = (
    '"ProductCode","ProductName","ProductVersion","OpSystemCode","MfgCode","Language",'
    '"ApplicationType"'
)


def code(value: int) -> str:
    return json.dumps({"nsrl_product_code": str(value)}, separators=(",", ":"))


def row2(n: int, name: str, product: int, special: str = "") -> str:
    return f'"{SHA1[n]}","{MD5[n]}","{CRC32[n]}","{name}",21,{product},"0","{special}"'


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["line"], row["sha1"], row["md5"], row["size"], row["path"], row["labels"]


# Input n, its name and its product, in NIST's order (by SHA-1): the fixtures' valid rows.
VALID = [
    (3, "fixture, with comma.dll", 190001),
    (3, "fixture, with comma.dll", 190002),
    (2, "fixture-three.exe", 190002),
    (1, "résumé.txt", 190001),
    (4, "fixture-five.sys", 190002),
    (0, "fixture-one.dll", 190001),
]


def test_the_formats_md_example(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(NsrlRdsAdapter, fixture_bytes("nsrl/valid.txt"))
    assert [cells(r) for r in rows] == [
        (line, SHA1[n], MD5[n], 21, name, code(product))
        for line, (n, name, product) in enumerate(VALID, start=2)
    ]
    assert all(r["sha256"] is None for r in rows)
    assert context.warning_count == 0


@pytest.mark.parametrize("name", ["form1.txt", "lf.txt"])
def test_form_1_and_lf_read_like_form_2_with_crlf(
    read: Reader, fixture_bytes: Callable[[str], bytes], name: str
) -> None:
    rows, _ = read(NsrlRdsAdapter, fixture_bytes(f"nsrl/{name}"))
    valid, _ = read(NsrlRdsAdapter, fixture_bytes("nsrl/valid.txt"))
    assert rows == valid


def test_cp1252_names(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("nsrl/cp1252.txt")
    assert b"r\xe9sum\xe9.txt" in data
    rows, _ = read(NsrlRdsAdapter, data)
    assert [r["path"] for r in rows] == ["résumé.txt", "Café Ünïcode.dll"]


def test_the_header_of_each_concatenated_part_is_skipped(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(NsrlRdsAdapter, fixture_bytes("nsrl/concatenated.txt"))
    assert [(r["line"], r["sha1"], r["path"]) for r in rows] == [
        (2, SHA1[0], "part-1-0.bin"),
        (3, SHA1[1], "part-1-1.bin"),
        (5, SHA1[2], "part-2-2.bin"),
        (6, SHA1[4], "part-2-4.bin"),
    ]
    assert context.warning_count == 0


def test_commas_inside_quoted_names(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(NsrlRdsAdapter, fixture_bytes("nsrl/commas.txt"))
    assert [(r["path"], r["size"], r["md5"]) for r in rows] == [
        ("a,b,c.dll", 21, MD5[0]),
        (",leading-comma.txt", 21, MD5[1]),
        ("trailing-comma,", 21, MD5[2]),
        ("fixture, with comma.dll", 21, MD5[3]),
    ]


def test_a_final_line_without_newline(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(NsrlRdsAdapter, fixture_bytes("nsrl/no-final-newline.txt"))
    assert [(r["line"], r["path"], r["labels"]) for r in rows] == [
        (2, "one.dll", code(190001)),
        (3, "two.dll", code(190002)),
    ]


def test_special_codes_are_labels(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(NsrlRdsAdapter, fixture_bytes("nsrl/special-codes.txt"))
    assert [json.loads(r["labels"]) for r in rows] == [
        {"nsrl_product_code": "190001", "nsrl_special_code": "S"},
        {"nsrl_product_code": "190002"},
    ]


def test_bad_later_rows(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(NsrlRdsAdapter, fixture_bytes("nsrl/corrupt.txt"))
    assert [cells(r) for r in rows] == [
        (2, SHA1[0], MD5[0], 21, "good-one.dll", code(190001)),
        # Not hex: passed as found, for the core to count and report.
        (4, "Z" * 40, MD5[2], 21, "not-hex.dll", code(190001)),
        # A size that is no number is reported; the digests are still worth having.
        (5, SHA1[3], MD5[3], None, "bad-size.dll", code(190002)),
        (6, SHA1[4], MD5[4], 21, "good-five.dll", code(190002)),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (3, "expected 8 fields, got 5"),
        (5, "FileSize is not a byte count: 'twenty-one'"),
    ]
    with pytest.raises(RecordError) as raised:
        read(NsrlRdsAdapter, fixture_bytes("nsrl/corrupt.txt"), strict=True)
    assert raised.value.line == 3


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"", None),
        (b"\r\n  \r\n", None),
        (b'"SHA-1","MD5","FileName"\n', 1),
        (b"\n" + FORM_2.lower().encode() + b"\n", 2),
        (f"{row2(0, 'a', 1)}\n".encode(), 1),
        (b'"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode"\n', 1),
    ],
)
def test_a_file_that_does_not_start_with_a_header_is_not_nsrl(
    read: Reader, data: bytes, line: int | None
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(NsrlRdsAdapter, data)
    assert raised.value.line == line


def test_blank_lines_before_the_header_and_a_bom(read: Reader) -> None:
    data = codecs.BOM_UTF8 + f"\r\n{FORM_2}\r\n{row2(0, 'a.dll', 7)}\r\n".encode()
    rows, _ = read(NsrlRdsAdapter, data)
    assert [(r["line"], r["path"]) for r in rows] == [(3, "a.dll")]


def test_utf16_is_read_line_by_line(read: Reader) -> None:
    data = codecs.BOM_UTF16_LE + f"{FORM_2}\r\n{row2(0, 'é.dll', 7)}\r\n".encode("utf-16-le")
    rows, _ = read(NsrlRdsAdapter, data)
    assert [(r["line"], r["sha1"], r["path"]) for r in rows] == [(2, SHA1[0], "é.dll")]


# --- product names from NSRLProd.txt ------------------------------------------------------


def write_list(folder: Path, product_file: str | None, prod_lines: list[str]) -> Path:
    path = folder / "NSRLFile.txt"
    path.write_bytes(
        "\r\n".join([FORM_2, row2(0, "a.dll", 190001), row2(1, "b.dll", 190002)]).encode()
    )
    if product_file is not None:
        (folder / product_file).write_bytes("\r\n".join(prod_lines).encode("cp1252"))
    return path


def read_path(path: Path) -> list[dict[str, Any]]:
    context = ReadContext(source=path.name, path=path)
    with open(path, "rb") as stream:
        return [
            row for batch in NsrlRdsAdapter().read(stream, context) for row in batch.to_pylist()
        ]


@pytest.mark.parametrize("product_file", ["NSRLProd.txt", "nsrlprod.txt", "NsrlProd.TXT"])
def test_product_names_come_from_nsrlprod_beside_the_list(
    tmp_path: Path, product_file: str
) -> None:
    path = write_list(
        tmp_path,
        product_file,
        [
            PROD_HEADER,
            '190001,"Fixture Suite","1.0","189","1","English","Utility"',
            # One code per operating system it ships for: the same text is kept once.
            '190001,"Fixture Suite","1.0","190","1","English","Utility"',
            '190003,"Caf\u00e9 Tools","","189","1","French",""',
        ],
    )
    rows = read_path(path)
    assert [json.loads(r["labels"]) for r in rows] == [
        {"product": ["Fixture Suite 1.0"]},
        # A code NSRLProd.txt does not list keeps its code.
        {"nsrl_product_code": "190002"},
    ]
    # Both readers see the same companion file.
    context = ReadContext(source=path.name, path=path)
    with open(path, "rb") as stream:
        by_line = [r for b in NsrlRdsAdapter().read_by_line(stream, context) for r in b.to_pylist()]
    assert by_line == rows


def test_without_a_companion_file_rows_keep_their_codes(tmp_path: Path) -> None:
    rows = read_path(write_list(tmp_path, None, []))
    assert [r["labels"] for r in rows] == [code(190001), code(190002)]


def test_load_products(tmp_path: Path) -> None:
    path = tmp_path / "NSRLProd.txt"
    path.write_bytes(
        (
            f'{PROD_HEADER}\r\n7,"Caf\xe9","2","1","1","x",""\r\n'.encode("latin-1").decode(
                "latin-1"
            )
            + '007,"Caf\xe9","2","2","1","x",""\r\n'
            + '8,"Two, words","1.0 SP2","1","1","x",""\r\n'
            + '9,"Other"\r\n'
        ).encode("cp1252")
    )
    assert load_products(path) == {"7": ["Café 2"], "8": ["Two, words 1.0 SP2"]}
    path.write_bytes(b'"Code","Name"\r\n7,"x"\r\n')
    assert load_products(path) == {}


# --- detection --------------------------------------------------------------------------


class TestSniff:
    """NSRLFile.txt is known by its header line, ahead of the generic CSV adapter."""

    @pytest.mark.parametrize(
        "head",
        [
            f"{FORM_2}\r\n{row2(0, 'a', 1)}\r\n".encode(),
            f"{FORM_1}\n".encode(),
            codecs.BOM_UTF8 + f"\n{FORM_2}".encode(),
        ],
    )
    def test_nsrl_heads(self, head: bytes) -> None:
        assert NsrlRdsAdapter.sniff(head)
        assert default_registry().detect(head) is NsrlRdsAdapter

    @pytest.mark.parametrize(
        "head",
        [b"", b'"SHA-1","MD5"\n', f"{row2(0, 'a', 1)}\n".encode(), FORM_2.lower().encode()],
    )
    def test_other_heads(self, head: bytes) -> None:
        assert not NsrlRdsAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

# Names as NIST writes them: no quotes (its conversion removes them), no line breaks, and
# only characters CP1252 can encode.
CP1252_TEXT = "".join(
    chr(c) for c in range(32, 256) if chr(c) != '"' and chr(c).encode("cp1252", "ignore")
)
NAMES = st.text(st.sampled_from(CP1252_TEXT + "€œŠ,"), min_size=1, max_size=20)
Entry = tuple[str, str, int, str, int, str]
"""(SHA-1, MD5, size, name, product code, special code)."""


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    return (
        draw(hex_digests(Algorithm.SHA1, case="upper")),
        draw(hex_digests(Algorithm.MD5)),
        draw(file_sizes()),
        draw(NAMES),
        draw(st.integers(0, 10**9)),
        draw(st.sampled_from(["", "", "S", "M"])),
    )


def utf8_misreads(name: str) -> bool:
    """Whether a non-ASCII name's CP1252 bytes are valid UTF-8 as well."""
    raw = name.encode("cp1252")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not raw.isascii()


def render(entries: list[Entry], form: int) -> list[str]:
    """NSRLFile.txt lines in ``form`` (1 or 2), header first."""
    lines = [FORM_2 if form == 2 else FORM_1]
    for sha1, md5, size, name, product, special in entries:
        if form == 2:
            lines.append(f'"{sha1}","{md5}","ABCDEF01","{name}",{size},{product},"0","{special}"')
        else:
            lines.append(
                f'"{sha1}","{name}",{size},{product},"0","{"0" * 32}","{md5}","ABCDEF01",'
                f'"{special}"'
            )
    return lines


@given(
    rows=st.lists(entries(), max_size=8),
    form=st.sampled_from([1, 2]),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["cp1252", "utf-8", "utf-8-sig"]),
    final_newline=st.booleans(),
)
@example(rows=[], form=2, newline="\r\n", encoding="cp1252", final_newline=True)
@example(
    rows=[(SHA1[0], MD5[0].lower(), 21, "r\u00e9sum\u00e9, final.txt", 190001, "")],
    form=2,
    newline="\r\n",
    encoding="utf-8-sig",
    final_newline=False,
)
def test_round_trip(
    read: Reader,
    rows: list[Entry],
    form: int,
    newline: str,
    encoding: str,
    final_newline: bool,
) -> None:
    if encoding == "cp1252":
        # CP1252 bytes that also make valid UTF-8 ("Â\xa0") read as UTF-8: the fallback
        # is per line, and such a line cannot tell which it was.
        assume(all(utf8_misreads(row[3]) is False for row in rows))
    text = newline.join(render(rows, form)) + (newline if final_newline else "")
    parsed, context = read(NsrlRdsAdapter, text.encode(encoding))
    assert context.warning_count == 0
    assert [
        (r["line"], r["sha1"], r["md5"], r["size"], r["path"], json.loads(r["labels"]))
        for r in parsed
    ] == [
        (
            line,
            sha1,
            md5,
            size,
            name,
            {"nsrl_product_code": str(product)}
            | ({"nsrl_special_code": special} if special else {}),
        )
        for line, (sha1, md5, size, name, product, special) in enumerate(rows, start=2)
    ]


# --- the block reader against its line-at-a-time twin ---------------------------------

ODD_LINES = [
    "",
    "   ",
    FORM_2,
    FORM_1,
    f"  {FORM_2}  ",
    '"x","y"',
    row2(0, "a", 1).replace(",21,", ",twenty-one,"),
    row2(0, "a", 1).replace(",21,", ", 21,"),
    row2(0, "a", 1).replace(",21,", ',"21",'),
    row2(0, "a", 1).replace(",21,", ",99999999999999999999,"),
    row2(0, "a", 1).replace(",1,", ",0001,"),
    row2(0, "a", 1).replace(",1,", ",x1,"),
    row2(0, 'say ""hi""', 1),
    row2(0, "a", 1).replace('"a"', '"a"b'),
    row2(0, "a", 1).replace('"a"', 'a"b'),
    row2(0, "a", 1) + " ",
    row2(0, "a", 1) + ",extra",
    row2(0, "a", 1)[:-1],
    row2(0, "caf\u00e9", 1),
    row2(0, "\u00e9\u20ac", 1, special="\u00e9"),
    row2(0, "tab\there\x00nul", 1),
    row2(0, "cr\rinside", 1),
    row2(0, "", 1),
    row2(0, "a", 1).replace(SHA1[0], ""),
    row2(0, "a", 1).replace(SHA1[0], " x "),
    row2(0, "a", 1, special="x,y"),
    row2(0, "a", 1).replace('"0"', "0"),
    '"' + "x" * 200 + '"',
]


@st.composite
def nsrl_lines(draw: st.DrawFn) -> str:
    """Lines of an NSRLFile.txt: mostly canonical rows, with every kind of line the fast
    path leaves to the per-line rule."""
    kind = draw(st.integers(0, 9))
    if kind == 9:
        return draw(
            st.sampled_from(ODD_LINES)
            | st.text(max_size=60).filter(lambda t: "\n" not in t)
            | st.lists(st.sampled_from(['"', ",", "1", "a", "\r", "é", " "]), max_size=30).map(
                "".join
            )
        )
    sha1, md5, size, name, product, special = draw(entries())
    return f'"{sha1}","{md5}","ABCDEF01","{name}",{size},{product},"0","{special}"'


@given(
    lines=st.lists(nsrl_lines(), max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "cp1252", "utf-8-sig", "utf-16"]),
    final_newline=st.booleans(),
    strict=st.booleans(),
    batch_size=st.sampled_from([1, 2, 3, 7, 65_536]),
    keep_warnings=st.sampled_from([1, 200]),
)
@example(
    lines=[row2(0, "a", 1), "", FORM_2, row2(1, "b", 2, "S"), '"x"'],
    newline="\r\n",
    encoding="utf-8",
    final_newline=False,
    strict=False,
    batch_size=2,
    keep_warnings=200,
)
def test_read_agrees_with_the_line_by_line_reader(
    twins: Twins,
    lines: list[str],
    newline: str,
    encoding: str,
    final_newline: bool,
    strict: bool,
    batch_size: int,
    keep_warnings: int,
) -> None:
    text = newline.join([FORM_2, *lines]) + (newline if final_newline else "")
    data = text.encode(encoding, errors="replace")
    fast, reference = twins(
        NsrlRdsAdapter, data, strict=strict, batch_size=batch_size, keep_warnings=keep_warnings
    )
    assert fast == reference


@pytest.mark.parametrize("batch_size", [3, 64, 1000, 65_536])
def test_read_agrees_with_the_line_by_line_reader_on_a_long_mixture(
    twins: Twins, batch_size: int
) -> None:
    # Thousands of lines, so that Arrow's parser meets whole blocks and halves the ones
    # it refuses (an unbalanced quote swallows the lines after it).
    rng = random.Random(batch_size)
    lines = [
        rng.choice(ODD_LINES)
        if rng.random() < 0.03
        else row2(n % 5, f"synthetic/file-{n:06d}.bin", 190000 + n % 37, rng.choice(["", "", "S"]))
        for n in range(5000)
    ]
    lines[2500] = '"unbalanced,' + lines[2500]
    data = ("\r\n".join([FORM_2, *lines]) + "\r\n").encode("cp1252", errors="replace")
    fast, reference = twins(NsrlRdsAdapter, data, batch_size=batch_size)
    assert fast == reference
    assert reference["warning_count"] > 0
    assert sum(rows for rows, _, _ in reference["batches"]) > 4000


def test_blocks_larger_than_one_read(twins: Twins, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small reads: lines cut across reads, a block holding only part of a line.
    monkeypatch.setattr("hashmatch_adapters.nsrl._CHUNK_BYTES", 50)
    lines = [row2(n % 5, f"name-{n}, x.dll", 190001 + n % 3) for n in range(40)]
    data = ("\n".join([FORM_2, *lines])).encode()
    fast, reference = twins(NsrlRdsAdapter, data, batch_size=7)
    assert fast == reference
    assert sum(rows for rows, _, _ in fast["batches"]) == 40
    stream_rows = [
        r
        for b in NsrlRdsAdapter().read(io.BytesIO(data), ReadContext(source="x"))
        for r in b.to_pylist()
    ]
    assert [r["line"] for r in stream_rows] == list(range(2, 42))
