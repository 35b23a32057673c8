"""Cellebrite UFED / Physical Analyzer report.xml: tagged files, empty items, broken XML."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from hashmatch_adapters.ufed import NAMESPACE, UfedReportAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Fixture = Callable[[str], bytes]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]
PROLOG = '<?xml version="1.0" encoding="utf-8"?>'
DCIM = "/private/var/mobile/Media/DCIM/100APPLE"


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["line"], row["md5"], row["sha1"], row["sha256"], row["size"], row["path"])


def report(*body: str, root: str = f'<project xmlns="{NAMESPACE}">') -> bytes:
    """A report, one element of ``body`` per line from line 3 on."""
    end = "</" + root[1:].split(maxsplit=1)[0].rstrip(">") + ">"
    return "\n".join([PROLOG, root, *body, end, ""]).encode()


def tagged(*files: str) -> tuple[str, ...]:
    return ("<taggedFiles>", *files, "</taggedFiles>")


def file(path: str | None = "/a.jpg", size: str = "21", **items: str) -> str:
    """A tagged file on one line, with File-section items (``Local_Path`` for Local Path)."""
    attributes = f" path={quoteattr(path)}" if path is not None else ""
    entries = "".join(
        f'<item name="{name.replace("_", " ")}"><![CDATA[{value}]]></item>'
        for name, value in items.items()
    )
    return f'<file{attributes} size="{size}"><metadata section="File">{entries}</metadata></file>'


# --- the fixtures -----------------------------------------------------------------------


def test_a_report(read: Reader, fixture_bytes: Fixture) -> None:
    rows, context = read(UfedReportAdapter, fixture_bytes("ufed-xml/valid.xml"), strict=True)
    # The empty SHA256 items of the first and fourth files are missing digests, not errors;
    # the MD5 attachment in decodedData and the MetaData-section MD5s are not read.
    assert [cells(r) for r in rows] == [
        (23, MD5[0], None, None, 21, f"{DCIM}/IMG_0001.JPG"),
        (39, MD5[1], None, SHA256[1], 21, f"{DCIM}/IMG_0002.JPG"),
        (55, MD5[2], None, SHA256[2], 21, f"{DCIM}/IMG_0003.JPG"),
        (71, MD5[3], None, None, 21, f"{DCIM}/IMG_0004.JPG"),
        (87, MD5[4], SHA1[4], SHA256[4], 21, f"{DCIM}/IMG_0005.JPG"),
    ]
    assert context.warning_count == 0


def test_deleted_files_carry_no_label(read: Reader, fixture_bytes: Fixture) -> None:
    data = fixture_bytes("ufed-xml/valid.xml")
    rows, _ = read(UfedReportAdapter, data, strict=True)
    assert b'deleted="Deleted"' in data
    assert [r["labels"] for r in rows] == [None] * 5


def test_empty_and_blank_sha256_items(read: Reader, fixture_bytes: Fixture) -> None:
    rows, context = read(UfedReportAdapter, fixture_bytes("ufed-xml/empty-sha256.xml"), strict=True)
    assert [cells(r) for r in rows] == [
        (10 + 16 * n, MD5[n], None, None, 21, f"{DCIM}/IMG_000{n + 1}.JPG") for n in range(3)
    ]
    assert context.warning_count == 0


def test_the_local_path_stands_in_for_a_missing_path(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(UfedReportAdapter, fixture_bytes("ufed-xml/missing-path.xml"), strict=True)
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [
        (23, MD5[0], f"{DCIM}/IMG_0001.JPG"),
        (39, MD5[1], f"{DCIM}/IMG_0002.JPG"),
        (55, MD5[2], "files\\Image\\sub dir\\IMG_0003.JPG"),
        (71, MD5[3], "files\\Audio\\rec.m4a"),
    ]


def test_several_files_and_copies(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(UfedReportAdapter, fixture_bytes("ufed-xml/several.xml"), strict=True)
    # Upper-case hex is passed as written; a file tagged under two paths is two rows.
    assert [cells(r) for r in rows] == [
        (23, MD5[0].upper(), SHA1[0].upper(), None, 21, "/data/media/0/Camera/0001.jpg"),
        (40, MD5[1].upper(), SHA1[1].upper(), None, 21, "/data/media/0/Camera/0002.jpg"),
        (57, MD5[0].upper(), SHA1[0].upper(), None, 21, "/data/media/0/Download/0001.jpg"),
        (74, MD5[2], None, SHA256[2], 21, f"{DCIM}/IMG_0003.JPG"),
        (90, MD5[3], None, SHA256[3], 21, f"{DCIM}/IMG_0004.JPG"),
        (106, MD5[4], None, SHA256[4], 21, f"{DCIM}/IMG_0005.JPG"),
    ]


def test_bom_and_crlf(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(UfedReportAdapter, fixture_bytes("ufed-xml/crlf.xml"), strict=True)
    assert [cells(r) for r in rows] == [
        (23, MD5[0], None, SHA256[0], 21, f"{DCIM}/IMG_0001.JPG"),
        (39, MD5[1], None, SHA256[1], 21, f"{DCIM}/IMG_0002.JPG"),
    ]


def test_bad_later_files_are_read_with_warnings(read: Reader, fixture_bytes: Fixture) -> None:
    rows, context = read(UfedReportAdapter, fixture_bytes("ufed-xml/corrupt.xml"), source="r.xml")
    assert [cells(r) for r in rows] == [
        (23, MD5[0], None, SHA256[0], 21, f"{DCIM}/IMG_0001.JPG"),
        (39, MD5[1], None, SHA256[1], None, f"{DCIM}/IMG_0002.JPG"),
        (55, None, None, None, 21, f"{DCIM}/IMG_0003.JPG"),
        (71, MD5[3], None, None, 21, f"{DCIM}/IMG_0004.JPG"),
        (87, MD5[4], None, SHA256[4], 21, f"{DCIM}/IMG_0005.JPG"),
    ]
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        ("r.xml", 39, "file size is not a byte count: '21 bytes'; read without a size"),
        ("r.xml", 55, "file has no MD5, SHA1 or SHA256 value"),
        ("r.xml", 71, "file has two different md5 values; kept the first"),
    ]
    with pytest.raises(RecordError) as raised:
        read(UfedReportAdapter, fixture_bytes("ufed-xml/corrupt.xml"), strict=True, source="r.xml")
    assert raised.value.render().startswith("r.xml:39: file size is not a byte count")


def test_a_truncated_report_keeps_what_was_read(read: Reader, fixture_bytes: Fixture) -> None:
    rows, context = read(UfedReportAdapter, fixture_bytes("ufed-xml/corrupt-later.xml"))
    assert [r["line"] for r in rows] == [23, 39]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (
            62,
            "the document ends before </project> (truncated?): no element found; "
            "the rest of the file was not read",
        )
    ]
    with pytest.raises(RecordError) as raised:
        read(UfedReportAdapter, fixture_bytes("ufed-xml/corrupt-later.xml"), strict=True)
    assert raised.value.line == 62


def test_a_broken_first_file_is_not_a_report(read: Reader, fixture_bytes: Fixture) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(UfedReportAdapter, fixture_bytes("ufed-xml/corrupt-first.xml"), source="r.xml")
    assert raised.value.render() == (
        "r.xml:27: malformed XML before the first <file> was read: mismatched tag"
    )


# --- what is and is not read ------------------------------------------------------------


def test_only_the_file_section_of_tagged_files_is_read(read: Reader) -> None:
    data = report(
        "<decodedData><taggedFiles>",
        file("/decoded.jpg", MD5=MD5[4]),
        "</taggedFiles></decodedData>",
        "<taggedFiles>",
        '<file path="/a.jpg" size="21">'
        f'<metadata section="MetaData"><item name="MD5">{MD5[3]}</item></metadata>'
        f'<metadata section="File"><item name="SHA1">{SHA1[0]}</item></metadata></file>',
        '<file path="/b.jpg">'
        f'<metadata section="MetaData"><item name="MD5">{MD5[3]}</item></metadata></file>',
        "</taggedFiles>",
    )
    rows, context = read(UfedReportAdapter, data)
    assert [cells(r) for r in rows] == [
        (7, None, SHA1[0], None, 21, "/a.jpg"),
        (8, None, None, None, None, "/b.jpg"),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (8, "file has no MD5, SHA1 or SHA256 value")
    ]


def test_digest_text_is_passed_as_written_less_whitespace(read: Reader) -> None:
    data = report(
        *tagged(
            file(MD5=f"  {MD5[0].upper()}\t ", SHA256="not-hex", SHA1=""),
            file(path="", Local_Path="  files\\x.jpg", MD5=MD5[1]),
            file(path=None, MD5=MD5[2]),
        )
    )
    rows, context = read(UfedReportAdapter, data, strict=True)
    assert [cells(r) for r in rows] == [
        (4, MD5[0].upper(), None, "not-hex", 21, "/a.jpg"),
        (5, MD5[1], None, None, 21, "  files\\x.jpg"),
        (6, MD5[2], None, None, 21, None),
    ]
    assert context.warning_count == 0


def test_malformed_xml_later_stops_the_read_with_a_warning(read: Reader) -> None:
    data = report(*tagged(file(MD5=MD5[0]), "<file><metadata></file>", file(MD5=MD5[2])))
    rows, context = read(UfedReportAdapter, data)
    assert [r["md5"] for r in rows] == [MD5[0]]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (
            5,
            "malformed XML, the document cannot be read past here: mismatched tag; "
            "the rest of the file was not read",
        )
    ]


def test_a_report_without_its_namespace_is_read_when_named(read: Reader) -> None:
    data = report(*tagged(file(MD5=MD5[0])), root="<project>")
    rows, _ = read(UfedReportAdapter, data, strict=True)
    assert [r["md5"] for r in rows] == [MD5[0]]
    assert not UfedReportAdapter.sniff(data)


def test_an_empty_report_is_no_rows(read: Reader) -> None:
    for data in (report(), report("<taggedFiles/>"), report("<decodedData/>")):
        rows, context = read(UfedReportAdapter, data, strict=True)
        assert rows == []
        assert context.warning_count == 0


def test_utf16(read: Reader) -> None:
    text = report(*tagged(file("/ü.jpg", MD5=MD5[2]))).decode().replace("utf-8", "utf-16")
    rows, _ = read(UfedReportAdapter, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert [cells(r) for r in rows] == [(4, MD5[2], None, None, 21, "/ü.jpg")]


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE project [\n <!ENTITY lol "lol">\n'
    b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
    b'<project xmlns="http://pa.cellebrite.com/report/2.0"><taggedFiles>'
    b'<file path="&lol2;"/></taggedFiles></project>\n'
)


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"", 1, "not an XML document: no element found"),
        (b'{"project": {}}', 1, "not an XML document: not well-formed (invalid token)"),
        (
            PROLOG.encode() + b'\n<dfxml version="1.2.0"/>',
            2,
            "the root element is <dfxml>, not <project>",
        ),
        (
            b'<project xmlns="http://maven.apache.org/POM/4.0.0">\n<modelVersion/>\n</project>',
            1,
            "<project> is in the namespace 'http://maven.apache.org/POM/4.0.0', not "
            "'http://pa.cellebrite.com/report/2.0'",
        ),
        (BILLION_LAUGHS, 3, "the document declares an entity ('lol'): entities are not accepted"),
        (
            report(*tagged(file(MD5=MD5[0])))[:-30],
            4,
            "malformed XML before the first <file> was read: unclosed token",
        ),
    ],
)
def test_what_is_not_a_report(read: Reader, data: bytes, line: int, reason: str) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(UfedReportAdapter, data, source="r.xml")
    assert (raised.value.source, raised.value.line, raised.value.reason) == ("r.xml", line, reason)


# --- sniffing ---------------------------------------------------------------------------


class TestSniff:
    """A report is known by its ``project`` root in the report 2.0 namespace."""

    @pytest.mark.parametrize(
        "head",
        [
            report(),
            codecs.BOM_UTF8 + report(),
            codecs.BOM_UTF16_LE + report().decode().encode("utf-16-le"),
            f"<project id='x' xmlns='{NAMESPACE}' name='y'>".encode(),
            f'<r:project xmlns:r="{NAMESPACE}">'.encode(),
            f"\n<!-- exported -->\n<project xmlns='{NAMESPACE}'".encode(),
        ],
    )
    def test_report_heads(self, head: bytes) -> None:
        assert UfedReportAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            b"<project>",
            b"<project name='build'><taggedFiles>",
            b'<project xmlns="http://maven.apache.org/POM/4.0.0">',
            f'<r:project xmlns="{NAMESPACE}">'.encode(),
            f'<projects xmlns="{NAMESPACE}">'.encode(),
            b"<dfxml version='1.2.0'>",
            f"{MD5[0]}  project.xml\n".encode(),
        ],
    )
    def test_other_heads(self, head: bytes) -> None:
        assert not UfedReportAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

# XML 1.0 cannot carry U+FFFE or U+FFFF, even as a character reference.
NAMES = file_names(exclude="\ufffe\uffff")
ITEM_NAMES = {Algorithm.MD5: "MD5", Algorithm.SHA1: "SHA1", Algorithm.SHA256: "SHA256"}


@dataclass
class Tagged:
    """One tagged file to render, and which of its items are present but empty."""

    path: str | None
    local_path: str | None
    size: int | None
    digests: dict[Algorithm, str]
    empty: list[Algorithm]
    deleted: str


@st.composite
def tagged_files(draw: st.DrawFn) -> Tagged:
    algorithms = draw(st.lists(st.sampled_from(list(Algorithm)), min_size=1, unique=True))
    return Tagged(
        path=draw(st.none() | NAMES),
        local_path=draw(st.none() | NAMES),
        size=draw(st.none() | file_sizes()),
        digests={a: draw(hex_digests(a)) for a in algorithms},
        empty=[a for a in Algorithm if a not in algorithms and draw(st.booleans())],
        deleted=draw(st.sampled_from(["Intact", "Deleted", "Trash"])),
    )


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render(items: list[Tagged], decoded: bool, newline: str) -> tuple[str, list[int]]:
    """A pretty-printed report and the line each file starts on."""
    lines = [PROLOG, f'<project xmlns="{NAMESPACE}" id="x" name="Synthetic">']
    if decoded:
        lines += [
            "  <decodedData>",
            '    <modelType type="Attachment"><model type="Attachment">',
            f'      <field name="MD5"><value type="String">{cdata(MD5[4])}</value></field>',
            "    </model></modelType>",
            "  </decodedData>",
        ]
    lines.append("  <taggedFiles>")
    starts = []
    for item in items:
        starts.append(len(lines) + 1)
        path = f" path={quoteattr(item.path)}" if item.path is not None else ""
        size = f' size="{item.size}"' if item.size is not None else ""
        lines.append(f'    <file fs="Phone"{path}{size} deleted="{item.deleted}">')
        lines.append('      <metadata section="File">')
        if item.local_path is not None:
            lines.append(f'        <item name="Local Path">{cdata(item.local_path)}</item>')
        for algorithm in item.empty:
            lines.append(f'        <item name="{ITEM_NAMES[algorithm]}">{cdata("")}</item>')
        for algorithm, value in item.digests.items():
            lines.append(f'        <item name="{ITEM_NAMES[algorithm]}">{cdata(value)}</item>')
        lines.append("      </metadata>")
        lines.append("    </file>")
    lines += ["  </taggedFiles>", "</project>"]
    return newline.join(lines) + newline, starts


@given(
    items=st.lists(tagged_files(), max_size=6),
    decoded=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    batch_size=st.sampled_from([1, 2, 65_536]),
)
@example(items=[], decoded=False, newline="\n", bom=False, batch_size=65_536)
@example(
    items=[
        Tagged(
            path=None,
            local_path="files\\Image\\a ]]> b.jpg",
            size=21,
            digests={Algorithm.MD5: MD5[0].upper()},
            empty=[Algorithm.SHA256],
            deleted="Deleted",
        ),
        Tagged(
            path="/a\t&<b>.jpg",
            local_path=None,
            size=None,
            digests={Algorithm.SHA256: SHA256[1]},
            empty=[],
            deleted="Intact",
        ),
    ],
    decoded=True,
    newline="\r\n",
    bom=True,
    batch_size=1,
)
def test_round_trip(
    read: Reader, items: list[Tagged], decoded: bool, newline: str, bom: bool, batch_size: int
) -> None:
    text, starts = render(items, decoded, newline)
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    rows, context = read(UfedReportAdapter, data, strict=True, batch_size=batch_size)
    assert [cells(r) for r in rows] == [
        (
            line,
            item.digests.get(Algorithm.MD5),
            item.digests.get(Algorithm.SHA1),
            item.digests.get(Algorithm.SHA256),
            item.size,
            item.path or item.local_path,
        )
        for line, item in zip(starts, items, strict=True)
    ]
    assert all(r["labels"] is None for r in rows)
    assert context.warning_count == 0
    assert UfedReportAdapter.sniff(data)
