"""VICS case exports as manifests: one row per file, copies apart, warnings, detection."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hashmatch_adapters import vics
from hashmatch_adapters.caid import CaidAdapter
from hashmatch_adapters.vics import VicsAdapter
from hashmatch_adapters.vics_case import VicsCaseAdapter, file_path
from hypothesis import example, given
from hypothesis import strategies as st
from test_adapter_vics import (
    AWKWARD,
    FLAG_LABELS,
    LAYOUTS,
    ROOT_20,
    TEXT_LABELS,
    Layout,
    Media,
    _spell,
    expected_rows,
    media_records,
    render_media,
)

from hashmatch.adapter import HEAD_BYTES, ReadContext, Role
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.records import decode_labels
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Load = Callable[[str], bytes]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest().upper() for s in SOURCES]

US_CASES = f"{ROOT_20}/US/$metadata#Cases"
US_LABELS = {"scheme": "vics-us", "vics_version": "2.0", "vics_profile": "US"}
FOLDER = Path(__file__).resolve().parents[2] / "fixtures" / "adapters"


def labels(row: dict[str, Any]) -> dict[str, Any]:
    return decode_labels(row["labels"])


def files(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a manifest row says about a file: where it is in the list, digests, size, path."""
    return [(r["line"], r["md5"], r["sha1"], r["sha256"], r["size"], r["path"]) for r in rows]


def case_export(*media: Any, model: str = US_CASES) -> bytes:
    document = {"@odata.context": model, "value": [{"CaseNumber": "SYN-T", "Media": list(media)}]}
    return json.dumps(document).encode()


# --- the fixtures --------------------------------------------------------------------


def test_the_valid_case_export(read: Reader, fixture_bytes: Load) -> None:
    rows, context = read(VicsCaseAdapter, fixture_bytes("vics-case/valid.json"), strict=True)
    assert context.warning_count == 0
    assert files(rows) == [
        (1, MD5[0], SHA1[0], None, 21, "\\Users\\fixture\\Pictures\\img_0001.jpg"),
        (2, MD5[1], None, None, 21, "/home/fixture/Desktop/notes.png"),
        (3, MD5[2], None, None, 21, None),
        (4, MD5[3], SHA1[3], None, 21, "D:\\Videos\\clip.mp4"),
    ]
    assert [labels(r) for r in rows] == [
        {**US_LABELS, "category": "1", "victim_identified": True, "source_id": "1",
         "vics_case_number": "SYN-CASE-01"},
        {**US_LABELS, "source_id": "2", "vics_case_number": "SYN-CASE-01"},
        {**US_LABELS, "category": "2", "source_id": "3", "vics_case_number": "SYN-CASE-01"},
        {**US_LABELS, "category": "0", "source_id": "1", "vics_case_number": "SYN-CASE-02"},
    ]  # fmt: skip


def test_copies_of_one_content_are_one_row_each(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsCaseAdapter, fixture_bytes("vics-case/copies.json"), strict=True)
    assert files(rows) == [
        (1, MD5[0], None, None, 21, "\\Users\\fixture\\Pictures\\a.jpg"),
        (1, MD5[0], None, None, 21, "\\Users\\fixture\\Desktop\\a (copy).jpg"),
        (1, MD5[0], None, None, 21, "\\$Recycle.Bin\\S-1-5-21\\a.jpg"),
        (2, MD5[1], None, None, 21, None),
    ]
    assert labels(rows[0]) == labels(rows[1]) == labels(rows[2])
    assert labels(rows[0])["category"] == "1"
    assert labels(rows[3])["category"] == "2"


def test_copies_are_counted_in_a_small_batch_too(read: Reader, fixture_bytes: Load) -> None:
    whole, _ = read(VicsCaseAdapter, fixture_bytes("vics-case/copies.json"))
    small, _ = read(VicsCaseAdapter, fixture_bytes("vics-case/copies.json"), batch_size=1)
    assert small == whole
    assert len(small) == 4


def test_a_media_without_files_is_one_file(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsCaseAdapter, fixture_bytes("vics-case/no-files.json"), strict=True)
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [
        (1, MD5[0], "one.jpg"),
        (2, MD5[1], "Media\\d2504396.jpg"),
        (3, MD5[2], None),
        (4, MD5[3], None),
        (5, MD5[4], None),
    ]


def test_1_3_case_export_with_a_sha256_in_alternative_hashes(
    read: Reader, fixture_bytes: Load
) -> None:
    rows, _ = read(VicsCaseAdapter, fixture_bytes("vics-case/case-1.3.json"), strict=True)
    assert files(rows) == [
        (1, MD5[2], SHA1[2], SHA256[2], 21, "C:\\Evidence\\three.jpg"),
        (2, MD5[4], None, SHA256[4].lower(), None, None),
    ]
    assert labels(rows[0]) == {
        "scheme": "vics-us",
        "category": "2",
        "distributed": True,
        "source_id": "1",
        "vics_case_number": "SYN-0013",
        "vics_version": "1.3",
    }


def test_utf16_with_a_bom_crlf_and_non_ascii_paths(read: Reader, fixture_bytes: Load) -> None:
    data = fixture_bytes("vics-case/utf16.json")
    assert data.startswith(b"\xff\xfe")
    rows, _ = read(VicsCaseAdapter, data, strict=True)
    assert [(r["md5"], r["path"]) for r in rows] == [
        (MD5[0], "\\Users\\José\\Bilder\\café ✓.jpg"),
        (MD5[1], "\\Users\\José\\写真.png"),
    ]
    assert labels(rows[1])["series"] == "合成シリーズ"


def test_a_uk_case_export_with_crlf(read: Reader, fixture_bytes: Load) -> None:
    data = fixture_bytes("vics-case/uk-crlf.json")
    assert b"\r\n" in data
    rows, _ = read(VicsCaseAdapter, data, strict=True)
    assert files(rows) == [
        (1, MD5[3], SHA1[3], None, 21, "\\Users\\fixture\\Pictures\\img_0001.jpg"),
        (2, MD5[4], None, None, 21, None),
    ]
    assert labels(rows[0])["scheme"] == "vics-uk"
    assert labels(rows[0])["updated"] == "2024-01-02T03:04:05.123+01:00Z"
    assert "category" not in labels(rows[0]), "an omitted Category is not graded 0"


def test_a_hash_set_is_read_one_row_per_media(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsCaseAdapter, fixture_bytes("vics-case/bom-hash-set.json"), strict=True)
    assert files(rows) == [
        (1, MD5[0], None, None, 21, None),
        (2, MD5[1], SHA1[1], None, None, None),
    ]
    assert labels(rows[0])["category"] == "0"


@pytest.mark.parametrize("name", sorted(p.name for p in (FOLDER / "vics-case").glob("*.json")))
def test_each_media_reads_as_the_list_adapter_reads_it(name: str, read: Reader) -> None:
    """Digests, size and labels come from the Media, as ``vics`` reads them."""
    data = (FOLDER / "vics-case" / name).read_bytes()
    try:
        listed, _ = read(VicsAdapter, data)
    except UnsupportedFormat:
        with pytest.raises(UnsupportedFormat):
            read(VicsCaseAdapter, data)
        return
    manifest, _ = read(VicsCaseAdapter, data)
    first = {row["line"]: row for row in reversed(manifest)}
    assert sorted(first) == [row["line"] for row in listed]
    for row in listed:
        assert {**first[row["line"]], "path": None} == {**row, "path": None}


# --- bad input -----------------------------------------------------------------------


def test_bad_later_records_are_warnings_with_their_index(read: Reader, fixture_bytes: Load) -> None:
    rows, context = read(VicsCaseAdapter, fixture_bytes("vics-case/corrupt.json"), source="c.json")
    assert [(r["line"], r["md5"], r["size"], r["path"]) for r in rows] == [
        (1, MD5[0], 21, "\\x\\a.jpg"),
        (3, MD5[2], None, "\\x\\c.jpg"),
        (3, MD5[2], None, "\\y\\"),
        (4, MD5[3], None, None),
        (5, MD5[4], None, "\\x\\e.jpg"),
    ]
    assert [(w.source, w.line, w.reason) for w in context.warnings] == [
        ("c.json", 2, "record 2 (MediaID 2): no MD5, SHA1 or SHA-256"),
        ("c.json", 3, "record 3 (MediaID 3): MediaFiles entry 1 is text, not a file object"),
        ("c.json", 3, "record 3 (MediaID 3): MediaFiles entry 3: FileName is a number, not text"),
        (
            "c.json",
            4,
            "record 4 (MediaID 4): MediaFiles is an object, not an array: read as no files",
        ),
        ("c.json", 5, 'record 5 (MediaID 5): MediaSize is not a byte count: "big"'),
    ]


def test_strict_stops_at_the_first_bad_record(read: Reader, fixture_bytes: Load) -> None:
    with pytest.raises(RecordError) as raised:
        read(VicsCaseAdapter, fixture_bytes("vics-case/corrupt.json"), strict=True, source="c.json")
    assert str(raised.value) == "c.json:2: record 2 (MediaID 2): no MD5, SHA1 or SHA-256"


def test_strict_stops_at_a_bad_file_entry_too(read: Reader) -> None:
    data = case_export({"MD5": MD5[0]}, {"MD5": MD5[1], "MediaFiles": [{"FileName": ["x"]}]})
    with pytest.raises(RecordError) as raised:
        read(VicsCaseAdapter, data, strict=True, source="c.json")
    assert str(raised.value) == (
        "c.json:2: record 2: MediaFiles entry 1: FileName is an array, not text"
    )


def test_a_bad_first_record_means_not_this_format(read: Reader, fixture_bytes: Load) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(VicsCaseAdapter, fixture_bytes("vics-case/corrupt-first.json"), source="f.json")
    assert str(raised.value) == "f.json:1: record 1 (MediaID 1): no MD5, SHA1 or SHA-256"
    with pytest.raises(UnsupportedFormat):
        read(VicsCaseAdapter, b'{"value": [{"MD5": "' + MD5[0].encode() + b'"}]}')


def test_a_bad_file_list_in_the_first_record_is_only_a_warning(read: Reader) -> None:
    rows, context = read(VicsCaseAdapter, case_export({"MD5": MD5[0], "MediaFiles": [5, None]}))
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [(1, MD5[0], None)]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (1, "record 1: MediaFiles entry 1 is a number, not a file object"),
        (1, "record 1: MediaFiles entry 2 is null, not a file object"),
    ]


def test_a_truncated_file_is_an_error_naming_the_record(read: Reader) -> None:
    data = case_export({"MD5": MD5[0]}, {"MD5": MD5[1], "MediaFiles": [{"FileName": "b.jpg"}]})
    with pytest.raises(RecordError) as raised:
        read(VicsCaseAdapter, data[:-20])
    assert raised.value.line == 2
    assert "truncated" in raised.value.reason


def test_file_keys_in_any_case(read: Reader) -> None:
    data = case_export(
        {"md5": MD5[0], "MEDIAFILES": [{"filename": "a.jpg", "FILEPATH": "C:\\x\\"}]},
        {"MD5": MD5[1], "mediaFiles": [{"relativeFilePath": "Export\\b.jpg", "FileName": "b.jpg"}]},
    )
    rows, _ = read(VicsCaseAdapter, data, strict=True)
    assert [r["path"] for r in rows] == ["C:\\x\\a.jpg", "Export\\b.jpg"]


@pytest.mark.parametrize(
    ("folder", "name", "path"),
    [
        ("\\Users\\x\\", "a.jpg", "\\Users\\x\\a.jpg"),
        ("/home/x/", "a.jpg", "/home/x/a.jpg"),
        ("/home/x", "a.jpg", "/home/x/a.jpg"),
        ("C:\\Users\\x", "a.jpg", "C:\\Users\\x\\a.jpg"),
        ("C:/mixed\\sep", "a.jpg", "C:/mixed\\sep\\a.jpg"),
        ("Pictures", "a.jpg", "Pictures\\a.jpg"),
        ("\\Users\\x\\a.jpg", "a.jpg", "\\Users\\x\\a.jpg"),
        ("a.jpg", "a.jpg", "a.jpg"),
        ("\\Users\\x\\", None, "\\Users\\x\\"),
        (None, "a.jpg", "a.jpg"),
        (None, None, None),
        ("", "", None),
    ],
)
def test_a_file_path_from_its_folder_and_name(
    folder: str | None, name: str | None, path: str | None
) -> None:
    assert file_path(folder, name) == path


# --- sniffing and detection ----------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (case_export({"MD5": MD5[0]}), True),
        (case_export(model=f"{ROOT_20}/Default/$metadata#Media"), True),
        (b"\xef\xbb\xbf" + case_export(), True),
        (case_export().decode().encode("utf-16"), True),
        (b'{"@odata.context": "http://example.invalid/$metadata#Cases", "value": []}', False),
        (b'{"CaseNumber": "x", "Media": [], "MediaFiles": []}', False),
        (b"%%%% HASHDEEP-1.0\n", False),
        (b"", False),
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert VicsCaseAdapter.sniff(head) is expected


def test_detection_gives_vics_files_to_this_adapter_only_as_manifests() -> None:
    registry = default_registry()
    case = case_export({"MD5": MD5[0]})
    uk_case = case_export({"MD5": MD5[0]}, model=f"{ROOT_20}/UK/$metadata#Cases")
    hash_set = case_export(model=f"{ROOT_20}/Default/$metadata#Media")
    for head in (case, uk_case, hash_set):
        assert registry.detect(head, role=Role.MANIFEST) is VicsCaseAdapter
    assert registry.detect(case, role=Role.LIST) is VicsAdapter
    assert registry.detect(hash_set, role=Role.LIST) is VicsAdapter
    assert registry.detect(uk_case, role=Role.LIST) is CaidAdapter
    assert registry.detect(case) is VicsAdapter, "with no role, the list adapter comes first"
    assert registry.get("vics-case") is VicsCaseAdapter
    assert Role.MANIFEST in VicsCaseAdapter.ROLES
    assert Role.LIST not in VicsCaseAdapter.ROLES


def test_every_fixture_is_detected_as_a_manifest() -> None:
    for path in sorted((FOLDER / "vics-case").glob("*.json")):
        head = path.read_bytes()[:HEAD_BYTES]
        assert default_registry().detect(head, role=Role.MANIFEST) is VicsCaseAdapter, path


# --- streaming -----------------------------------------------------------------------


def _synthetic(n: int) -> bytes:
    media = b",".join(
        b'{"MediaID":%d,"Category":1,"MD5":"%032X","MediaSize":21,"MediaFiles":'
        b'[{"FileName":"a%d.jpg","FilePath":"\\\\x\\\\"},{"FileName":"b.jpg"}]}' % (i, i, i)
        for i in range(n)
    )
    return case_export().replace(b'"Media": []', b'"Media": [' + media + b"]")


def test_memory_does_not_grow_with_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vics, "CHUNK", 256)
    peaks = []
    for n in (1_000, 10_000):
        data = _synthetic(n)
        tracemalloc.start()
        try:
            count = sum(
                b.num_rows
                for b in VicsCaseAdapter().read(
                    io.BytesIO(data), ReadContext(source="x", batch_size=256)
                )
            )
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert count == 2 * n
    # Ten times the records (about 1.3 MB more of JSON) and no more memory.
    assert peaks[1] < peaks[0] + 200_000, peaks


# --- the property: a case a writer renders reads back, one row per file -----------------

Files = list[tuple[str | None, str | None]] | None
"""A Media's MediaFiles as (folder, name) pairs; None when it has no MediaFiles key."""

FOLDERS = st.builds(lambda text, sep: text + sep, AWKWARD, st.sampled_from(["\\", "/"]))
FILES: st.SearchStrategy[Files] = st.none() | st.lists(
    st.tuples(st.none() | FOLDERS, st.none() | AWKWARD), max_size=4
)


def _given(text: str | None) -> str | None:
    return text if text is not None and text.strip() else None


def _expected_path(folder: str | None, name: str | None) -> str | None:
    """Folders here all end with a separator: the name follows them."""
    folder, name = _given(folder), _given(name)
    if folder is None or name is None:
        return folder or name
    return folder + name


def render_case(records: list[Media], media_files: list[Files], layout: Layout) -> bytes:
    """The VICS file of ``records``, each with its files; a case export puts the records in
    three cases, as test_adapter_vics's ``render`` does."""
    items: list[Any] = []
    for media, entries in zip(records, media_files, strict=True):
        record = render_media(media, layout.key_case)
        if entries is not None:
            rendered = []
            for folder, name in entries:
                entry: dict[str, Any] = {_spell("MD5", layout.key_case): media.md5}
                if folder is not None:
                    entry[_spell("FilePath", layout.key_case)] = folder
                if name is not None:
                    entry[_spell("FileName", layout.key_case)] = name
                rendered.append(entry)
            record[_spell("MediaFiles", layout.key_case)] = rendered
        items.append(record)
    if layout.cases:
        items = [
            {
                _spell("CaseNumber", layout.key_case): f"SYN-{i}",
                _spell("Media", layout.key_case): items[i::3],
            }
            for i in range(3)
        ]
    key = _spell(layout.key, layout.key_case)
    value = _spell("value", layout.key_case)
    if layout.lines == "minified":
        document = {key: layout.model, value: items}
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    elif layout.lines == "per-line":
        body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
        text = f'{{"{key}": {json.dumps(layout.model)},\n"{value}": [\n{body}\n]}}\n'
    else:
        text = json.dumps({key: layout.model, value: items}, ensure_ascii=False, indent="\t")
        text = text.replace("\n", "\r\n")
    return text.encode(layout.encoding)


def expected_files(
    records: list[Media], media_files: list[Files], layout: Layout
) -> list[dict[str, Any]]:
    """The rows of ``render_case``: those ``vics`` reads, one per file, each with its path."""
    order = list(range(len(records)))
    if layout.cases:
        order = [j for i in range(3) for j in order[i::3]]
    rows: list[dict[str, Any]] = []
    for j, row in zip(order, expected_rows(records, layout), strict=True):
        paths = [_expected_path(folder, name) for folder, name in media_files[j] or ()]
        rows.extend({**row, "path": path} for path in paths or [None])
    return rows


HASH_SET_LAYOUT = Layout(
    f"{ROOT_20}/Default/$metadata#Media",
    "@odata.context",
    False,
    "utf-8",
    "minified",
    "upper",
    "2.0",
    "Default",
)


def _media(md5: str, size: int | None = None) -> Media:
    return Media(
        md5, None, None, "SHA256", size, 1, dict.fromkeys(FLAG_LABELS),
        dict.fromkeys(TEXT_LABELS), 1, [], None,
    )  # fmt: skip


@given(
    cases=st.lists(st.tuples(media_records(), FILES), min_size=1, max_size=6),
    layout=LAYOUTS,
)
@example(
    cases=[(_media(MD5[0], 21), [("\\Users\\x\\", "a.jpg"), ("\\Users\\y\\", "a.jpg")])],
    layout=Layout(US_CASES, "@odata.context", True, "utf-16", "pretty", "as-is", "2.0", "US"),
).via("UTF-16 with BOM, CRLF and tabs, upper-case hex, two copies")
@example(
    cases=[(_media(MD5[1].lower()), []), (_media(MD5[2]), None)],
    layout=Layout(US_CASES, "@odata.context", True, "utf-8-sig", "per-line", "lower", "2.0", "US"),
).via("BOM, lower-case keys and hex, an empty MediaFiles array")
@example(
    cases=[(_media(MD5[3]), [(None, None), ("/x/", "\t"), ("C:\\", "b.jpg")])],
    layout=HASH_SET_LAYOUT,
).via("a hash set whose Media lists files, one with no name and one with a blank one")
def test_what_a_writer_renders_reads_back(cases: list[tuple[Media, Files]], layout: Layout) -> None:
    records = [dataclasses.replace(media, file_name=None) for media, _ in cases]
    media_files = [entries for _, entries in cases]
    data = render_case(records, media_files, layout)
    context = ReadContext(source="x", strict=True)
    rows = [
        row
        for batch in VicsCaseAdapter().read(io.BytesIO(data), context)
        for row in batch.to_pylist()
    ]
    assert context.warning_count == 0
    assert rows == expected_files(records, media_files, layout)
