"""iLook v1, v3 and v4 hash lists: exact headers, columns, short and long rows, sizes."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hashmatch_adapters.ilook import HEADERS, ILookAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.records import encode_labels

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest().upper() for s in SOURCES]
V1, V3, V4 = HEADERS["1"], HEADERS["3"], HEADERS["4"]
V3_LABELS = encode_labels({"ilook_version": "3"})


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["line"],
        row["md5"],
        row["sha1"],
        row["sha256"],
        row["size"],
        row["path"],
        row["labels"],
    )


def test_the_headers_are_md5deeps() -> None:
    assert V1 == "V1Hash,HashType,SetDescription,FileName,FilePath,FileSize"
    assert V3 == "V3Hash,HashSHA1,FileName,FilePath,FileSize,HashSHA256,HashSHA384,HashSHA512"
    assert V4 == V3 + ",CreateTime,ModTime,LastAccessTime"


def test_v3_list(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(ILookAdapter, fixture_bytes("ilook/valid.txt"), strict=True)
    assert [cells(r) for r in rows] == [
        (n + 2, MD5[n], SHA1[n], SHA256[n], 21, f"fixture{n + 1}.bin", V3_LABELS) for n in range(5)
    ]
    assert context.warning_count == 0


def test_v1_list_has_set_names_and_md5_only(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(ILookAdapter, fixture_bytes("ilook/v1.txt"), strict=True)

    def v1(set_name: str) -> str | None:
        return encode_labels({"ilook_version": "1", "set_name": set_name, "ilook_hash_type": "MD5"})

    assert [cells(r) for r in rows] == [
        (2, MD5[0], None, None, 21, "fixture1.bin", v1("Synthetic set")),
        (3, MD5[1].lower(), None, None, 21, "fixture 2.bin", v1("Synthetic set")),
        (4, MD5[2], None, None, 21, "fixture3.bin", v1("Other set")),
    ]


def test_v4_list_ignores_the_times(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(ILookAdapter, fixture_bytes("ilook/v4.txt"), strict=True)
    labels = encode_labels({"ilook_version": "4"})
    assert [cells(r) for r in rows] == [
        (n + 2, MD5[n], SHA1[n], SHA256[n], 21, f"fixture{n + 1}.bin", labels) for n in range(3)
    ]


def test_bom_and_crlf_without_final_newline(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("ilook/crlf.txt")
    assert data.startswith(codecs.BOM_UTF8)
    assert b"\r\n" in data
    assert not data.endswith(b"\n")
    rows, _ = read(ILookAdapter, data, strict=True)
    assert [cells(r) for r in rows] == [
        (2, MD5[3], SHA1[3], SHA256[3], 21, "fixture4.bin", V3_LABELS),
        (3, MD5[4], SHA1[4], SHA256[4], 21, "fixture 5.bin", V3_LABELS),
    ]


def test_bad_later_rows(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("ilook/corrupt.txt")
    rows, context = read(ILookAdapter, data)
    assert [cells(r) for r in rows] == [
        (2, MD5[0], SHA1[0], SHA256[0], 21, "fixture1.bin", V3_LABELS),
        (3, MD5[1], SHA1[1], None, None, "fixture2.bin", V3_LABELS),
        (4, MD5[2], SHA1[2], SHA256[2], None, "fixture3.bin", V3_LABELS),
        # A comma in the name: the fields after it are still found, the name is not.
        (5, MD5[3], SHA1[3], SHA256[3], 21, None, V3_LABELS),
        (6, MD5[4], SHA1[4], SHA256[4], 21, "fixture5.bin", V3_LABELS),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (3, "short row: 3 fields, expected at least 6 of the header's 8"),
        (4, "size is not a byte count: '21 bytes'"),
        (
            5,
            "long row: 9 fields, the header has 8 (a comma in a name?): the file name is left out",
        ),
    ]
    with pytest.raises(RecordError) as raised:
        read(ILookAdapter, data, strict=True)
    assert raised.value.line == 3


def test_missing_ignored_columns_are_no_warning(read: Reader) -> None:
    data = f"{V4}\n{MD5[0]},{SHA1[0]},a.bin,C:\\x,21,{SHA256[0]}\n".encode()
    rows, context = read(ILookAdapter, data, strict=True)
    assert [cells(r)[1:6] for r in rows] == [(MD5[0], SHA1[0], SHA256[0], 21, "a.bin")]
    assert context.warning_count == 0


def test_rows_without_digests_and_blank_lines(read: Reader) -> None:
    data = f"{V3}\n\n,,a.bin,C:\\x,21,,,\n   \n{MD5[0]},,b.bin,,,,,\n".encode()
    rows, context = read(ILookAdapter, data)
    assert [cells(r)[:6] for r in rows] == [(5, MD5[0], None, None, None, "b.bin")]
    assert [(w.line, w.reason) for w in context.warnings] == [(3, "no digest on this row: skipped")]


def test_a_later_header_switches_the_columns(read: Reader) -> None:
    data = (
        f"{V1}\n{MD5[0]},MD5,Set A,a.bin,C:\\x,21\n"
        f"{V3}\n{MD5[1]},{SHA1[1]},b.bin,C:\\y,22,{SHA256[1]},,\n"
    ).encode()
    rows, _ = read(ILookAdapter, data, strict=True)
    assert [cells(r) for r in rows] == [
        (
            2,
            MD5[0],
            None,
            None,
            21,
            "a.bin",
            encode_labels({"ilook_version": "1", "set_name": "Set A", "ilook_hash_type": "MD5"}),
        ),
        (4, MD5[1], SHA1[1], SHA256[1], 22, "b.bin", V3_LABELS),
    ]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"", None),
        (b"\n\n", None),
        (V3.lower().encode() + b"\n", 1),
        (V3.encode() + b",Extra\n", 1),
        (b"V2Hash,HashSHA1,FileName,FilePath,FileSize\n", 1),
        (f"{MD5[0]},MD5,Set,a.bin,C:\\x,21\n".encode(), 1),
    ],
)
def test_anything_but_an_ilook_header_is_not_ilook(
    read: Reader, data: bytes, line: int | None
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(ILookAdapter, data)
    assert raised.value.line == line


class TestSniff:
    """iLook is known by its exact header line, as md5deep knows it."""

    @pytest.mark.parametrize(
        "head",
        [
            V1.encode(),
            (V3 + "\n").encode(),
            (V4 + "\r\n").encode(),
            codecs.BOM_UTF8 + (V3 + "\r\n").encode(),
            b"\n\n" + (V1 + "\n").encode(),
            codecs.BOM_UTF16_LE + (V3 + "\r\n").encode("utf-16-le"),
        ],
    )
    def test_ilook_heads(self, head: bytes) -> None:
        assert ILookAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            V3.lower().encode(),
            V3.replace(",", ";").encode(),
            (V3 + ",").encode(),
            (" " + V1).encode(),
            b"MD5,SHA1,SHA256,Size,Path,Category\n",
            b"%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n",
        ],
    )
    def test_other_heads(self, head: bytes) -> None:
        assert not ILookAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

Row = tuple[dict[Algorithm, str], int, str, str]
"""(digests, size, file name, set description) of one row."""
NAMES = file_names(commas=False)
SET_NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters=","),
    min_size=1,
    max_size=10,
)


@st.composite
def lists(draw: st.DrawFn) -> tuple[str, list[Row]]:
    version = draw(st.sampled_from(["1", "3", "4"]))
    algorithms = [Algorithm.MD5] if version == "1" else list(Algorithm)
    rows = [
        (
            {a: draw(hex_digests(a)) for a in algorithms},
            draw(file_sizes()),
            draw(NAMES),
            draw(SET_NAMES),
        )
        for _ in range(draw(st.integers(0, 6)))
    ]
    return version, rows


def render(version: str, rows: list[Row]) -> list[str]:
    lines = [HEADERS[version]]
    for digests, size, name, set_name in rows:
        if version == "1":
            fields = [digests[Algorithm.MD5], "MD5", set_name, name, "C:\\Set", str(size)]
        else:
            fields = [
                digests[Algorithm.MD5],
                digests[Algorithm.SHA1],
                name,
                "D:\\Evidence\\sub dir",
                str(size),
                digests[Algorithm.SHA256],
                "ab" * 48,
                "",
            ]
            if version == "4":
                fields += ["2024-01-02 03:04:05", "", "2024-01-02 03:04:05"]
        lines.append(",".join(fields))
    return lines


@given(table=lists(), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
@example(table=("3", []), newline="\n", bom=False)
@example(
    table=("1", [({Algorithm.MD5: MD5[0]}, 21, " a b.jpg ", "Set é")]),
    newline="\r\n",
    bom=True,
)
def test_round_trip(read: Reader, table: tuple[str, list[Row]], newline: str, bom: bool) -> None:
    version, rows = table
    data = (codecs.BOM_UTF8 if bom else b"") + newline.join(render(version, rows)).encode()
    parsed, context = read(ILookAdapter, data, strict=True)

    def labels(set_name: str) -> str | None:
        if version == "1":
            return encode_labels(
                {"ilook_version": "1", "set_name": set_name, "ilook_hash_type": "MD5"}
            )
        return encode_labels({"ilook_version": version})

    assert [
        (
            r["line"],
            {a: r[a.value] for a in Algorithm if r[a.value] is not None},
            r["size"],
            r["path"],
            r["labels"],
        )
        for r in parsed
    ] == [
        (line, digests, size, name, labels(set_name))
        for line, (digests, size, name, set_name) in enumerate(rows, start=2)
    ]
    assert context.warning_count == 0
