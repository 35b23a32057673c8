"""DFXML manifests: whole-file digests only, every file kept, broken XML, streaming."""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hashmatch_adapters.dfxml import DFXML_NAMESPACE, FIWALK_NAMESPACE, DfxmlAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.adapter import ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Fixture = Callable[[str], bytes]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]
PROLOG = '<?xml version="1.0" encoding="UTF-8"?>'


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["line"], row["md5"], row["sha1"], row["sha256"], row["size"], row["path"])


def doc(*body: str, root: str = f'<dfxml xmlns="{DFXML_NAMESPACE}" version="1.2.0">') -> bytes:
    """A DFXML document, one element of ``body`` per line from line 3 on."""
    end = "</" + root[1:].split(maxsplit=1)[0].rstrip(">") + ">"
    return "\n".join([PROLOG, root, *body, end, ""]).encode()


def fo(*children: str) -> str:
    """A ``fileobject`` on one line."""
    return "<fileobject>" + "".join(children) + "</fileobject>"


def md5(n: int, kind: str = "md5") -> str:
    return f'<hashdigest type="{kind}">{MD5[n]}</hashdigest>'


# --- the fixtures -----------------------------------------------------------------------


def test_a_fiwalk_manifest(read: Reader, fixture_bytes: Fixture) -> None:
    rows, context = read(DfxmlAdapter, fixture_bytes("dfxml/valid.xml"), strict=True)
    pictures, documents = "Users/fixture/Pictures", "Users/fixture/Documents"
    # The directory on line 18 has no digest and is no file: it yields no row.
    assert [cells(r) for r in rows] == [
        (24, MD5[0], SHA1[0], None, 21, f"{pictures}/a.jpg"),
        (36, MD5[1], SHA1[1], SHA256[1], 21, f"{pictures}/b c.jpg"),
        (49, MD5[2], None, None, 21, f"{pictures}/d&e.jpg"),
        (60, None, None, SHA256[3], 21, f"{documents}/f.bin"),
        (71, MD5[4], SHA1[4], None, 21, f"{documents}/g.bin"),
    ]
    assert all(r["labels"] is None for r in rows)
    assert context.warning_count == 0


def test_an_md5deep_manifest_without_namespace(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(DfxmlAdapter, fixture_bytes("dfxml/bare.xml"), strict=True)
    assert [cells(r) for r in rows] == [
        (13 + 7 * n, MD5[n], None, SHA256[n], 21, f"/cases/SYN-0001/evidence/{n + 1}.bin")
        for n in range(3)
    ]


def test_an_old_fiwalk_manifest_in_latin_1(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(DfxmlAdapter, fixture_bytes("dfxml/fiwalk.xml"), strict=True)
    assert [cells(r) for r in rows] == [
        (6, MD5[0], SHA1[0], None, 21, "WINDOWS/café.bmp"),
        (14, MD5[1], None, None, 21, "WINDOWS/system.ini"),
    ]


def test_digest_types_in_any_case_and_others_ignored(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(DfxmlAdapter, fixture_bytes("dfxml/type-case.xml"), strict=True)
    # Digests are passed as written (upper case included): the core parses them.
    assert [cells(r) for r in rows] == [
        (18, MD5[0].upper(), SHA1[0].upper(), None, 21, "a.bin"),
        (30, MD5[1], None, SHA256[1], 21, "b.bin"),
        (42, None, None, SHA256[2].upper(), 21, "c.bin"),
    ]


def test_byte_run_digests_are_not_file_digests(read: Reader, fixture_bytes: Fixture) -> None:
    data = fixture_bytes("dfxml/byte-runs.xml")
    rows, _ = read(DfxmlAdapter, data, strict=True)
    assert data.count(b"<hashdigest") == 5
    assert [cells(r) for r in rows] == [
        (18, None, None, SHA256[0], 21, "a.bin"),
        (31, MD5[1], None, None, 21, "b.bin"),
    ]


def test_unallocated_files_are_kept_without_a_path(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(DfxmlAdapter, fixture_bytes("dfxml/unallocated.xml"), strict=True)
    assert [cells(r) for r in rows] == [
        (18, MD5[0], None, None, 21, None),
        (29, MD5[1], SHA1[1], None, 21, None),
        (42, None, SHA1[2], None, None, "$OrphanFiles/OrphanFile-42"),
    ]


def test_bom_and_crlf(read: Reader, fixture_bytes: Fixture) -> None:
    rows, _ = read(DfxmlAdapter, fixture_bytes("dfxml/crlf.xml"), strict=True)
    assert [cells(r) for r in rows] == [
        (18, MD5[3], None, None, 21, "Windows\\a b.bin"),
        (29, MD5[4], None, None, 21, "Windows\\c.bin"),
    ]


def test_bad_later_records_are_read_with_warnings(read: Reader, fixture_bytes: Fixture) -> None:
    rows, context = read(DfxmlAdapter, fixture_bytes("dfxml/corrupt.xml"), source="c.xml")
    assert [cells(r) for r in rows] == [
        (18, MD5[0], None, None, 21, "a.bin"),
        (29, MD5[1], None, None, None, "b.bin"),
        (40, None, None, None, 21, "c.bin"),
        (51, MD5[3], None, None, 21, "d.bin"),
        (63, MD5[4], None, None, 21, "e.bin"),
    ]
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        (
            "c.xml",
            29,
            "fileobject size is not a byte count: 'twenty-one'; read without a size",
        ),
        ("c.xml", 40, "fileobject has no md5, sha1 or sha256 hashdigest (only sha512)"),
        ("c.xml", 51, "fileobject has two different md5 hashdigests; kept the first"),
    ]
    with pytest.raises(RecordError) as raised:
        read(DfxmlAdapter, fixture_bytes("dfxml/corrupt.xml"), strict=True, source="c.xml")
    assert raised.value.render().startswith("c.xml:29: fileobject size is not a byte count")


def test_a_truncated_manifest_keeps_what_was_read(read: Reader, fixture_bytes: Fixture) -> None:
    rows, context = read(DfxmlAdapter, fixture_bytes("dfxml/corrupt-later.xml"))
    assert [r["path"] for r in rows] == ["a.bin", "b.bin"]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (
            44,
            "the document ends before </dfxml> (truncated?): no element found; "
            "the rest of the file was not read",
        )
    ]
    with pytest.raises(RecordError) as raised:
        read(DfxmlAdapter, fixture_bytes("dfxml/corrupt-later.xml"), strict=True)
    assert raised.value.line == 44


def test_a_broken_first_fileobject_is_not_dfxml(read: Reader, fixture_bytes: Fixture) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(DfxmlAdapter, fixture_bytes("dfxml/corrupt-first.xml"), source="f.xml")
    assert raised.value.render() == (
        "f.xml:22: malformed XML before the first <fileobject> was read: mismatched tag"
    )


# --- what is and is not read ------------------------------------------------------------


def test_malformed_xml_later_stops_the_read_with_a_warning(read: Reader) -> None:
    data = doc(
        fo("<filename>a</filename>", md5(0)),
        fo("<filename>b</filename>", md5(1)),
        "<fileobject><filename>c</fileobject>",
        fo("<filename>d</filename>", md5(3)),
    )
    rows, context = read(DfxmlAdapter, data)
    assert [(r["line"], r["path"]) for r in rows] == [(3, "a"), (4, "b")]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (
            5,
            "malformed XML, the document cannot be read past here: mismatched tag; "
            "the rest of the file was not read",
        )
    ]


def test_a_file_without_digest_is_a_row_and_a_warning(read: Reader) -> None:
    data = doc(
        fo("<filename>a</filename>", md5(0)),
        fo("<filename>b</filename>", '<hashdigest type="md5"> </hashdigest>'),
        fo("<filename>c</filename><name_type>r</name_type>"),
    )
    rows, context = read(DfxmlAdapter, data)
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [
        (3, MD5[0], "a"),
        (4, None, "b"),
        (5, None, "c"),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (4, "fileobject has no md5, sha1 or sha256 hashdigest"),
        (5, "fileobject has no md5, sha1 or sha256 hashdigest"),
    ]


def test_only_digestless_directories_are_left_out(read: Reader) -> None:
    data = doc(
        fo("<filename>dir</filename><name_type>d</name_type>"),
        fo("<filename>old-dir</filename><meta_type>2</meta_type>"),
        fo("<filename>odd-dir</filename><name_type>d</name_type>", md5(2)),
    )
    rows, context = read(DfxmlAdapter, data, strict=True)
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [(5, MD5[2], "odd-dir")]
    assert context.warning_count == 0


def test_digest_text_is_passed_to_the_core_as_written(read: Reader) -> None:
    data = doc(
        fo(
            "<filename>  spaced name </filename>",
            '<hashdigest type="md5">\n  not-hex\t</hashdigest>',
            f'<hashdigest type="sha1">{SHA1[0]}</hashdigest>',
            f'<hashdigest type="SHA1">{SHA1[0].upper()}</hashdigest>',
        )
    )
    rows, context = read(DfxmlAdapter, data, strict=True)
    # A bad digest is the core's to report (the row is "invalid"), not a read warning; the
    # same digest twice in two cases is one digest.
    assert [cells(r) for r in rows] == [(3, "not-hex", SHA1[0], None, None, "  spaced name ")]
    assert context.warning_count == 0


def test_other_vocabularies_and_nested_fileobjects_are_not_read(read: Reader) -> None:
    delta = "http://www.forensicswiki.org/wiki/Separating_file_system_metadata_from_content"
    data = doc(
        "<fileobject>",
        "  <filename>new.bin</filename>",
        f'  <x:hashdigest xmlns:x="urn:other" type="sha1">{SHA1[4]}</x:hashdigest>',
        "  <delta:original_fileobject>",
        f"    {fo('<filename>old.bin</filename>', md5(1))}",
        "  </delta:original_fileobject>",
        f"  {md5(0)}",
        "</fileobject>",
        root=f'<dfxml xmlns="{DFXML_NAMESPACE}" xmlns:delta="{delta}" version="1.2.0">',
    )
    rows, _ = read(DfxmlAdapter, data, strict=True)
    assert [cells(r) for r in rows] == [(3, MD5[0], None, None, None, "new.bin")]


@pytest.mark.parametrize(
    "root",
    [
        "<dfxml>",
        f'<dfxml xmlns="{FIWALK_NAMESPACE}">',
        f'<fiwalk xmlns="{FIWALK_NAMESPACE}">',
        "<fiwalk>",
        f'<d:dfxml xmlns:d="{DFXML_NAMESPACE}">',
    ],
)
def test_namespaces(read: Reader, root: str) -> None:
    if root.startswith("<d:"):
        data = doc(
            "<d:fileobject><d:filename>a</d:filename>",
            f'<d:hashdigest type="MD5">{MD5[0]}</d:hashdigest>',
            "</d:fileobject>",
            root=root,
        )
    else:
        data = doc(fo("<filename>a</filename>", md5(0, "MD5")), root=root)
    rows, _ = read(DfxmlAdapter, data, strict=True)
    assert [(r["md5"], r["path"]) for r in rows] == [(MD5[0], "a")]


def test_utf16(read: Reader) -> None:
    text = doc(fo("<filename>ü</filename>", md5(2))).decode().replace("UTF-8", "UTF-16")
    rows, _ = read(DfxmlAdapter, codecs.BOM_UTF16_LE + text.encode("utf-16-le"), strict=True)
    assert [cells(r) for r in rows] == [(3, MD5[2], None, None, None, "ü")]


def test_an_empty_manifest_is_no_rows(read: Reader) -> None:
    rows, context = read(DfxmlAdapter, doc("<volume/>"), strict=True)
    assert rows == []
    assert context.warning_count == 0


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE dfxml [\n <!ENTITY lol "lol">\n'
    b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
    b"<dfxml><fileobject><filename>&lol2;</filename></fileobject></dfxml>\n"
)


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"", 1, "not an XML document: no element found"),
        (b"size,md5,filename\n", 1, "not an XML document: syntax error"),
        (
            PROLOG.encode() + b"\n<queryResult/>",
            2,
            "the root element is <queryResult>, not <dfxml> or <fiwalk>",
        ),
        (
            b'<dfxml xmlns="urn:other"/>',
            1,
            "<dfxml> is in the namespace 'urn:other', not "
            "'http://afflib.org/fiwalk/', "
            "'http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML'",
        ),
        (BILLION_LAUGHS, 3, "the document declares an entity ('lol'): entities are not accepted"),
        (
            doc(fo("<filename>a</filename>", md5(0)))[:-20],
            3,
            "malformed XML before the first <fileobject> was read: unclosed token",
        ),
    ],
)
def test_what_is_not_a_dfxml_manifest(read: Reader, data: bytes, line: int, reason: str) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(DfxmlAdapter, data, source="m.xml")
    assert (raised.value.source, raised.value.line, raised.value.reason) == ("m.xml", line, reason)


def test_the_manifest_is_read_as_a_stream() -> None:
    body = [fo(f"<filename>f{n}</filename>", md5(n % 5)) for n in range(5_000)]
    data = doc(*body)
    stream = io.BytesIO(data)
    batches = DfxmlAdapter().read(stream, ReadContext(source="big.xml", batch_size=7))
    first = next(batches)
    # The first rows come after one 64 KiB chunk, not after the whole 600 KB document.
    assert first.column("path").to_pylist() == [f"f{n}" for n in range(7)]
    assert stream.tell() <= 1 << 16
    rest = [row for batch in batches for row in batch.to_pylist()]
    assert [r["line"] for r in rest] == list(range(10, 5_003))


# --- sniffing ---------------------------------------------------------------------------


class TestSniff:
    """DFXML is known by its root element and namespace."""

    @pytest.mark.parametrize(
        "head",
        [
            doc(),
            doc(root="<dfxml>"),
            doc(root=f"<fiwalk xmlns='{FIWALK_NAMESPACE}' xmloutputversion='0.3'>"),
            b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<fiwalk xmloutputversion='0.2'>",
            codecs.BOM_UTF8 + doc(),
            codecs.BOM_UTF16_LE + doc().decode().encode("utf-16-le"),
            b"<!-- fiwalk -->\n<!DOCTYPE dfxml>\n<dfxml version='1.0'",
            f'<dfxml:dfxml xmlns:dfxml="{DFXML_NAMESPACE}">'.encode(),
        ],
    )
    def test_dfxml_heads(self, head: bytes) -> None:
        assert DfxmlAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            b'<dfxml xmlns="urn:other">',
            b"<x:dfxml>",
            b"<dfxmlx>",
            b"<queryResult><fileobject>",
            b"<!-- <dfxml> -->\n<other/>",
            b"<project xmlns='http://pa.cellebrite.com/report/2.0'>",
            b"%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n",
            f"{MD5[0]}  dfxml\n".encode(),
        ],
    )
    def test_other_heads(self, head: bytes) -> None:
        assert not DfxmlAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

# XML 1.0 cannot carry U+FFFE or U+FFFF, even as a character reference.
NAMES = file_names(exclude="\ufffe\uffff")
SPELLINGS = {
    Algorithm.MD5: ["md5", "MD5"],
    Algorithm.SHA1: ["sha1", "SHA1"],
    Algorithm.SHA256: ["sha256", "SHA256"],
}
# Digests that must not come back: any hex will do, and lower case is quicker to draw.
NOISE = hex_digests(case="lower")
ROOTS = {
    "dfxml": (f'<dfxml xmlns="{DFXML_NAMESPACE}" version="1.2.0">', "</dfxml>"),
    "bare": ("<dfxml xmloutputversion='1.0'>", "</dfxml>"),
    "fiwalk": (f"<fiwalk xmlns='{FIWALK_NAMESPACE}'>", "</fiwalk>"),
}


@dataclass
class File:
    """One fileobject to render: what must come back, and the noise that must not."""

    path: str | None
    size: int | None
    digests: dict[Algorithm, str]
    spellings: dict[Algorithm, str] = field(default_factory=dict)
    pieces: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)


@st.composite
def files(draw: st.DrawFn) -> File:
    algorithms = draw(st.lists(st.sampled_from(list(Algorithm)), min_size=1, unique=True))
    return File(
        path=draw(st.none() | NAMES),
        size=draw(st.none() | file_sizes()),
        digests={a: draw(hex_digests(a)) for a in algorithms},
        spellings={a: draw(st.sampled_from(SPELLINGS[a])) for a in algorithms},
        pieces=draw(st.lists(st.tuples(st.sampled_from(["md5", "SHA1"]), NOISE), max_size=2)),
        ignored=draw(
            st.lists(st.tuples(st.sampled_from(["SHA512", "MD6", "OTHER"]), NOISE), max_size=2)
        ),
    )


def render(items: list[File], root: str, newline: str) -> tuple[str, list[int]]:
    """A pretty-printed manifest and the line each fileobject starts on."""
    start, end = ROOTS[root]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', start, "  <volume offset='0'>"]
    starts = []
    for item in items:
        starts.append(len(lines) + 1)
        lines.append("    <fileobject>")
        if item.path is not None:
            lines.append(f"      <filename>{escape(item.path)}</filename>")
        if item.size is not None:
            lines.append(f"      <filesize>{item.size}</filesize>")
        lines.append("      <byte_runs>")
        for kind, value in item.pieces:
            lines.append("        <byte_run file_offset='0' len='1'>")
            lines.append(f"          <hashdigest type={quoteattr(kind)}>{value}</hashdigest>")
            lines.append("        </byte_run>")
        lines.append("      </byte_runs>")
        for kind, value in item.ignored:
            lines.append(f"      <hashdigest type={quoteattr(kind)}>{value}</hashdigest>")
        for algorithm, value in item.digests.items():
            kind = item.spellings.get(algorithm, algorithm.value)
            lines.append(f"      <hashdigest type={quoteattr(kind)}>{value}</hashdigest>")
        lines.append("    </fileobject>")
    lines += ["  </volume>", end]
    return newline.join(lines) + newline, starts


@given(
    items=st.lists(files(), max_size=6),
    root=st.sampled_from(sorted(ROOTS)),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    batch_size=st.sampled_from([1, 2, 65_536]),
)
@example(items=[], root="dfxml", newline="\n", bom=False, batch_size=65_536)
@example(
    items=[
        File(
            path="C:\\Users\\a & <b>.jpg",
            size=21,
            digests={Algorithm.MD5: MD5[0].upper(), Algorithm.SHA256: SHA256[0].upper()},
            spellings={Algorithm.MD5: "MD5", Algorithm.SHA256: "sha256"},
            pieces=[("md5", MD5[1])],
        ),
        File(path=None, size=None, digests={Algorithm.SHA1: SHA1[2]}, spellings={}),
    ],
    root="bare",
    newline="\r\n",
    bom=True,
    batch_size=1,
)
def test_round_trip(
    read: Reader, items: list[File], root: str, newline: str, bom: bool, batch_size: int
) -> None:
    text, starts = render(items, root, newline)
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    rows, context = read(DfxmlAdapter, data, strict=True, batch_size=batch_size)
    assert [cells(r) for r in rows] == [
        (
            line,
            item.digests.get(Algorithm.MD5),
            item.digests.get(Algorithm.SHA1),
            item.digests.get(Algorithm.SHA256),
            item.size,
            item.path,
        )
        for line, item in zip(starts, items, strict=True)
    ]
    assert all(r["labels"] is None for r in rows)
    assert context.warning_count == 0
    assert DfxmlAdapter.sniff(data)
