"""NCMEC hash-sharing XML entries documents: entries, tombstones, labels, broken XML."""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hashmatch_adapters.ncmec import NAMESPACE, NcmecXmlAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import hex_digests

from hashmatch.adapter import ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.records import decode_labels

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]
PROLOG = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def read_all(data: bytes, **options: Any) -> tuple[list[dict[str, Any]], NcmecXmlAdapter, Any]:
    """Rows (labels decoded), the adapter (for its tombstones) and the context."""
    adapter = NcmecXmlAdapter()
    context = ReadContext(source="entries.xml", **options)
    rows = [
        {**row, "labels": decode_labels(row["labels"])}
        for batch in adapter.read(io.BytesIO(data), context)
        for row in batch.to_pylist()
    ]
    return rows, adapter, context


def doc(body: str, *, xmlns: str = f' xmlns="{NAMESPACE}"') -> bytes:
    return f"{PROLOG}<queryResult{xmlns}>\n{body}\n</queryResult>\n".encode()


def image(entry_id: str = "syn-1", fingerprints: str = "", extra: str = "") -> str:
    return (
        f'<images><image><member id="9001">ESP</member><timestamp>2024-03-01T12:00:00Z'
        f"</timestamp><id>{entry_id}</id>{extra}<fingerprints>{fingerprints}</fingerprints>"
        "</image></images>"
    )


def labels(**extra: Any) -> dict[str, Any]:
    """The labels of a live entry in the fixtures, with ``extra`` on top."""
    base = {"scheme": "ncmec", "member": "9001", "member_name": "Synthetic ESP"}
    return {k: v for k, v in {**base, **extra}.items() if v is not None}


# --- the fixtures -----------------------------------------------------------------------


def test_the_valid_document(fixture_bytes: Callable[[str], bytes]) -> None:
    rows, adapter, context = read_all(fixture_bytes("ncmec-xml/valid.xml"), strict=True)
    assert [(r["line"], r["md5"], r["sha1"], r["sha256"]) for r in rows] == [
        (4, MD5[4], SHA1[4], None),
        (15, MD5[1], SHA1[1], None),
        (46, MD5[0], None, None),
        (55, MD5[2], SHA1[2], SHA256[2]),
    ]
    first, second, video, last = (r["labels"] for r in rows)
    assert first == labels(
        category="B2",
        source_id="9001-syn-img-1",
        updated="2024-03-01T12:00:00Z",
        ncmec_media="image",
    )
    assert second["category"] == "A1"
    assert second["ncmec_feedback"] == ["affirmative:Md5", "negative:Sha1"]
    assert [p.split(":")[0] for p in second["perceptual"]] == ["pdna", "pdq"]
    assert len(second["perceptual"][0]) == len("pdna:") + 192  # base64 of 144 bytes
    assert video == {
        "scheme": "ncmec",
        "member": "9002",
        "member_name": "Synthetic NGO",
        "source_id": "9002-syn-vid-1",
        "updated": "2024-03-01T12:05:00Z",
        "ncmec_media": "video",
        "perceptual": ["tmk-pdqf:link"],
    }
    # Entity references in text are read as the characters they stand for.
    assert last["member_name"] == "Synthétique & Co"
    assert context.warning_count == 0
    assert adapter.tombstones == ["9001-syn-img-0"]
    assert adapter.max_timestamps == {
        "images": "2024-03-01T12:10:00Z",
        "videos": "2024-03-01T12:10:00Z",
    }
    assert adapter.next_page == (
        "/v2/entries?from=2024-03-01T00%3A00%3A00.000Z&to=2024-03-02T00%3A00%3A00.000Z"
        "&start=1001&size=1000&max=2000"
    )


def test_bad_later_entries_are_warnings(fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _, context = read_all(fixture_bytes("ncmec-xml/corrupt.xml"))
    assert [(r["line"], r["md5"], r["sha1"], r["labels"].get("source_id")) for r in rows] == [
        (4, MD5[0], SHA1[0], "9001-syn-img-1"),
        (14, MD5[1], None, "9001-syn-img-2"),
        (34, None, SHA1[2], None),
        (43, MD5[3], None, "9002-syn-vid-4"),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (14, "entry 9001-syn-img-2 has two md5 fingerprints; kept the first"),
        (26, "entry 9001-syn-vid-2 has no md5 or sha1 fingerprint"),
        (34, "entry ?-syn-vid-6 has no member id or id"),
    ]
    with pytest.raises(RecordError) as raised:
        read_all(fixture_bytes("ncmec-xml/corrupt.xml"), strict=True)
    assert (raised.value.source, raised.value.line) == ("entries.xml", 14)


def test_a_document_that_is_not_an_entries_document(fixture_bytes: Callable[[str], bytes]) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read_all(fixture_bytes("ncmec-xml/corrupt-first.xml"))
    assert raised.value.line == 2
    assert raised.value.reason == "the root element is <status>, not <queryResult>"


def test_tombstones_yield_no_record_and_no_warning(fixture_bytes: Callable[[str], bytes]) -> None:
    rows, adapter, context = read_all(fixture_bytes("ncmec-xml/deleted.xml"), strict=True)
    assert [(r["line"], r["labels"]["source_id"]) for r in rows] == [(9, "9001-syn-img-5")]
    assert adapter.tombstones == ["9001-syn-img-0", "9002-syn-img-9", "9002-syn-vid-0"]
    assert context.warning_count == 0


def test_a_reclassified_entry_keeps_both_records(fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _, _ = read_all(fixture_bytes("ncmec-xml/reclassified.xml"), strict=True)
    assert [
        (r["md5"], r["labels"]["source_id"], r["labels"]["category"], r["labels"]["updated"])
        for r in rows
    ] == [
        (MD5[3], "9001-syn-img-7", "A1", "2024-03-01T12:00:00Z"),
        (MD5[3], "9001-syn-img-7", "A2", "2024-03-02T09:30:00Z"),
    ]


def test_a_missing_or_empty_classification_is_no_category(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    rows, _, _ = read_all(fixture_bytes("ncmec-xml/no-classification.xml"), strict=True)
    assert [(r["md5"], r["sha1"]) for r in rows] == [(MD5[1], None), (None, SHA1[2])]
    for row in rows:
        assert "category" not in row["labels"]
        assert "review" not in row["labels"]
        assert row["labels"]["scheme"] == "ncmec"


def test_link_only_fingerprints_are_kept_as_links(fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _, _ = read_all(fixture_bytes("ncmec-xml/link-only.xml"), strict=True)
    assert [(r["md5"], r["labels"]["perceptual"]) for r in rows] == [
        (MD5[4], ["tmk-pdqf:link", "videntifier:link"])
    ]


@pytest.mark.parametrize("name", ["paging.xml", "no-namespace.xml", "prefixed.xml"])
def test_namespace_variants_and_paging(fixture_bytes: Callable[[str], bytes], name: str) -> None:
    rows, _, context = read_all(fixture_bytes(f"ncmec-xml/{name}"), strict=True)
    assert len(rows) == 1
    assert rows[0]["line"] == 4
    assert rows[0]["labels"]["member"] == "9001"
    assert context.warning_count == 0


def test_upper_case_hex_is_passed_as_written(fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _, _ = read_all(fixture_bytes("ncmec-xml/uppercase.xml"), strict=True)
    assert [(r["md5"], r["sha1"]) for r in rows] == [(MD5[0].upper(), SHA1[0].upper())]


# --- labels -----------------------------------------------------------------------------


def test_an_unknown_classification_is_kept_with_a_review_note() -> None:
    extra = "<classification>C3</classification>"
    data = doc(image(fingerprints=f"<md5>{MD5[0]}</md5>", extra=extra))
    rows, _, context = read_all(data, strict=True)
    assert rows[0]["labels"]["category"] == "C3"
    assert rows[0]["labels"]["review"] == (
        "classification 'C3' is not an NCMEC industry code (A1, A2, B1, B2)"
    )
    assert context.warning_count == 0


def test_unknown_fingerprints_are_opaque_and_links_are_never_followed() -> None:
    fingerprints = (
        f"<md5>{MD5[0]}</md5><netclean>ab12</netclean>"
        '<tmk-pdqf rel="self" href="https://192.0.2.1/x"/><empty/>'
        f"<SHA256>{SHA256[0]}</SHA256>"
    )
    rows, _, _ = read_all(doc(image(fingerprints=fingerprints)), strict=True)
    assert rows[0]["sha256"] == SHA256[0]
    assert rows[0]["labels"]["perceptual"] == ["netclean:ab12", "tmk-pdqf:link"]


def test_text_is_kept_verbatim_less_surrounding_whitespace() -> None:
    body = (
        "<images><image>\n"
        '  <member id="77">\n    Café &lt;ESP&gt; &amp; "Co"\n  </member>\n'
        "  <id> id with spaces </id>\n"
        "  <timestamp>2024-03-01T12:00:00.123+01:00Z</timestamp>\n"
        f"  <fingerprints><md5>\n  {MD5[1]}\n</md5></fingerprints>\n"
        "</image></images>"
    )
    rows, _, _ = read_all(doc(body), strict=True)
    assert rows[0]["md5"] == MD5[1]
    assert rows[0]["labels"] == {
        "scheme": "ncmec",
        "member": "77",
        "member_name": 'Café <ESP> & "Co"',
        "source_id": "77-id with spaces",
        "updated": "2024-03-01T12:00:00.123+01:00Z",
        "ncmec_media": "image",
    }


def test_an_empty_query_result_is_an_empty_list() -> None:
    for data in (doc(""), doc('<images count="0"/><videos count="0"/>'), doc("", xmlns="")):
        rows, adapter, context = read_all(data, strict=True)
        assert rows == []
        assert adapter.tombstones == []
        assert context.warning_count == 0


def test_utf16_and_crlf_documents() -> None:
    text = doc(image(fingerprints=f"<md5>{MD5[2]}</md5>")).decode().replace("\n", "\r\n")
    text = text.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    rows, _, _ = read_all(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), strict=True)
    assert [(r["line"], r["md5"]) for r in rows] == [(3, MD5[2])]


def test_the_state_of_an_earlier_read_is_not_carried_over(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    adapter = NcmecXmlAdapter()
    for _ in range(2):
        context = ReadContext(source="x")
        list(adapter.read(io.BytesIO(fixture_bytes("ncmec-xml/deleted.xml")), context))
        assert len(adapter.tombstones) == 3
    list(adapter.read(io.BytesIO(doc("")), ReadContext(source="x")))
    assert adapter.tombstones == []
    assert adapter.next_page is None


# --- broken documents -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"", 1, "not an XML document: no element found"),
        (b"MD5,SHA1\n", 1, "not an XML document: syntax error"),
        (PROLOG.encode() + b"<status/>\n", 2, "the root element is <status>, not <queryResult>"),
        (
            b'<queryResult xmlns="urn:other"/>',
            1,
            "<queryResult> is in the namespace 'urn:other', not "
            "'https://hashsharing.ncmec.org/hashsharing/v2'",
        ),
        (
            b'<!DOCTYPE q [<!ENTITY e "x">]>\n<queryResult/>',
            1,
            "the document declares an entity ('e'): entities are not accepted",
        ),
    ],
)
def test_what_is_not_an_entries_document(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read_all(data)
    assert (raised.value.source, raised.value.line, raised.value.reason) == (
        "entries.xml",
        line,
        reason,
    )


def test_malformed_xml_after_the_root_stops_the_read_even_when_lenient() -> None:
    good = image("syn-1", f"<md5>{MD5[0]}</md5>")
    data = doc(f"{good}\n<images><image><id>x</id><md5></image>\n{good}")
    with pytest.raises(RecordError) as raised:
        read_all(data)
    assert raised.value.line == 4
    assert raised.value.reason == (
        "malformed XML, the document cannot be read past here: mismatched tag"
    )


def test_a_truncated_document_is_an_error_not_a_shorter_list() -> None:
    whole = doc(image("syn-1", f"<md5>{MD5[0]}</md5>"))
    for cut, why in ((len(whole) - 5, "unclosed token"), (len(whole) - 15, "no element found")):
        with pytest.raises(RecordError) as raised:
            read_all(whole[:cut])
        assert raised.value.reason == (
            f"the document ends before </queryResult> (truncated?): {why}"
        )
        assert raised.value.line == 4


def test_batches_stay_in_document_order_across_chunks() -> None:
    entries = "".join(
        f'<image><member id="1">m</member><id>{n}</id><fingerprints><md5>{MD5[n % 5]}</md5>'
        "</fingerprints></image>\n"
        for n in range(3000)
    )
    rows, _, _ = read_all(doc(f"<images>\n{entries}</images>"), batch_size=7)
    assert [r["labels"]["source_id"] for r in rows] == [f"1-{n}" for n in range(3000)]
    assert [r["line"] for r in rows] == list(range(4, 3004))


# --- sniffing ---------------------------------------------------------------------------


class TestSniff:
    """An entries document is known by its root element."""

    @pytest.mark.parametrize(
        "head",
        [
            doc(""),
            doc("", xmlns=""),
            codecs.BOM_UTF8 + doc(""),
            b"\n  <!-- saved copy -->\n<?pi x?>\n<queryResult>",
            f'<ns2:queryResult xmlns:ns2="{NAMESPACE}"><ns2:images'.encode(),
            codecs.BOM_UTF16_LE + doc("").decode().encode("utf-16-le"),
            b"<queryResult",
        ],
    )
    def test_entries_documents(self, head: bytes) -> None:
        assert NcmecXmlAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            PROLOG.encode() + f'<status xmlns="{NAMESPACE}">'.encode(),
            b'<queryResult xmlns="urn:other">',
            b'<ns2:queryResult xmlns:ns2="urn:other">',
            b"<ns2:queryResult>",
            b"<queryResults>",
            b"<!-- <queryResult> -->\n<other/>",
            b'{"queryResult": []}',
            f"MD5,SHA1\n{MD5[0]},{SHA1[0]}\n".encode(),
        ],
    )
    def test_other_heads(self, head: bytes) -> None:
        assert not NcmecXmlAdapter.sniff(head)


# --- round trip -------------------------------------------------------------------------

CODES = ["A1", "A2", "B1", "B2"]
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda t: t.strip() == t and t != "")


@dataclass
class Entry:
    """One entry to render: live (with digests) or a tombstone."""

    media: str
    member: str
    member_name: str
    entry_id: str
    timestamp: str
    deleted: bool = False
    classification: str | None = None
    digests: dict[Algorithm, str] = field(default_factory=dict)
    perceptual: list[tuple[str, str | None]] = field(default_factory=list)
    feedback: list[tuple[str, str]] = field(default_factory=list)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    media = draw(st.sampled_from(["image", "video"]))
    common = {
        "media": media,
        "member": str(draw(st.integers(1, 99999))),
        "member_name": draw(TEXT),
        "entry_id": draw(TEXT),
        "timestamp": draw(st.sampled_from(["2024-03-01T12:00:00Z", "2017-10-24T15:10:00Z"])),
    }
    if draw(st.integers(0, 4)) == 0:
        return Entry(**common, deleted=True)
    algorithms = draw(st.lists(st.sampled_from(list(Algorithm)), min_size=1, unique=True))
    return Entry(
        **common,
        classification=draw(st.none() | st.sampled_from(CODES) | TEXT),
        digests={a: draw(hex_digests(a)) for a in algorithms},
        perceptual=draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["pdna", "pdq", "netclean"]),
                    st.from_regex(r"[A-Za-z0-9+/=]{1,40}", fullmatch=True),
                )
                | st.tuples(st.sampled_from(["tmk-pdqf", "videntifier"]), st.none()),
                max_size=3,
            )
        ),
        feedback=draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["affirmative", "negative"]), st.sampled_from(["Md5", "Sha1"])
                ),
                max_size=2,
            )
        ),
    )


def render(items: list[Entry], newline: str) -> tuple[str, dict[int, int]]:
    """An entries document (images first, as the API writes them), and the line each
    entry (by its index in ``items``) starts on."""
    lines = [PROLOG.rstrip("\n"), f'<queryResult xmlns="{NAMESPACE}">']
    starts: dict[int, int] = {}
    for section, media in (("images", "image"), ("videos", "video")):
        lines.append(f"  <{section}>")
        for index, item in enumerate(items):
            if item.media != media:
                continue
            tag = ("deleted" + media.capitalize()) if item.deleted else media
            starts[index] = len(lines) + 1
            lines.append(f"    <{tag}>")
            member = f"<member id={quoteattr(item.member)}>{escape(item.member_name)}</member>"
            lines.append(f"      {member}")
            lines.append(f"      <timestamp>{item.timestamp}</timestamp>")
            lines.append(f"      <id>{escape(item.entry_id)}</id>")
            if item.classification is not None:
                code = escape(item.classification)
                lines.append(f"      <classification>{code}</classification>")
            if not item.deleted:
                lines.append("      <fingerprints>")
                for algorithm, value in item.digests.items():
                    lines.append(f"        <{algorithm.value}>{value}</{algorithm.value}>")
                for name, value in item.perceptual:
                    if value is None:
                        lines.append(f'        <{name} rel="self" href="/v2/entries/1/x"/>')
                    else:
                        lines.append(f"        <{name}>{value}</{name}>")
                lines.append("      </fingerprints>")
                lines.append("      <feedback>")
                for kind, kind_type in item.feedback:
                    lines.append(f'        <{kind}Feedback type="{kind_type}"/>')
                lines.append("      </feedback>")
            lines.append(f"    </{tag}>")
        lines.append(f"  </{section}>")
    lines.append("</queryResult>")
    return newline.join(lines) + newline, starts


def expected_labels(item: Entry) -> dict[str, Any]:
    labels: dict[str, Any] = {
        "scheme": "ncmec",
        "member": item.member,
        "member_name": item.member_name,
        "source_id": f"{item.member}-{item.entry_id}",
        "updated": item.timestamp,
        "ncmec_media": item.media,
    }
    if item.classification is not None:
        labels["category"] = item.classification
        if item.classification not in CODES:
            labels["review"] = (
                f"classification {item.classification!r} is not an NCMEC industry code "
                "(A1, A2, B1, B2)"
            )
    if item.perceptual:
        labels["perceptual"] = [f"{name}:{value or 'link'}" for name, value in item.perceptual]
    if item.feedback:
        labels["ncmec_feedback"] = [f"{kind}:{kind_type}" for kind, kind_type in item.feedback]
    return labels


@given(
    items=st.lists(entries(), max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    batch_size=st.sampled_from([1, 3, 65_536]),
)
@example(items=[], newline="\n", bom=False, batch_size=65_536)
@example(
    items=[
        Entry(
            media="video",
            member="9001",
            member_name="A & <B>",
            entry_id="x",
            timestamp="2024-03-01T12:00:00Z",
            classification="A1",
            digests={Algorithm.MD5: MD5[0].upper(), Algorithm.SHA1: SHA1[0]},
        )
    ],
    newline="\r\n",
    bom=True,
    batch_size=1,
)
def test_round_trip(items: list[Entry], newline: str, bom: bool, batch_size: int) -> None:
    text, starts = render(items, newline)
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    rows, adapter, context = read_all(data, strict=True, batch_size=batch_size)
    # Rendering puts images before videos: read them back in that order.
    order = [i for media in ("image", "video") for i, e in enumerate(items) if e.media == media]
    live = [i for i in order if not items[i].deleted]
    assert [
        (r["line"], {a: r[a.value] for a in Algorithm if r[a.value] is not None}, r["labels"])
        for r in rows
    ] == [(starts[i], items[i].digests, expected_labels(items[i])) for i in live]
    assert adapter.tombstones == [
        f"{items[i].member}-{items[i].entry_id}" for i in order if items[i].deleted
    ]
    assert context.warning_count == 0
