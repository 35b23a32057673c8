"""Project VIC VICS JSON: versions, shapes, profiles, encodings, labels, streaming."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hashmatch_adapters import vics
from hashmatch_adapters.caid import CaidAdapter
from hashmatch_adapters.vics import VicsAdapter, parse_model, sniff_model
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import hex_digests

from hashmatch.adapter import HEAD_BYTES, ReadContext
from hashmatch.digests import Algorithm
from hashmatch.errors import HashmatchError, RecordError
from hashmatch.records import RECORD_SCHEMA, decode_labels, encode_labels
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Load = Callable[[str], bytes]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest().upper() for s in SOURCES]

ROOT_20 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
DEFAULT = f"{ROOT_20}/Default/$metadata#Media"
DEFAULT_LABELS = {"scheme": "vics-us", "vics_version": "2.0", "vics_profile": "Default"}


def labels(row: dict[str, Any]) -> dict[str, Any]:
    return decode_labels(row["labels"])


def digests(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["md5"], row["sha1"], row["sha256"]


def hash_set(*records: Any, model: str = DEFAULT) -> bytes:
    return json.dumps({"@odata.context": model, "value": list(records)}).encode()


def read_both(adapter: type[VicsAdapter] | type[CaidAdapter], data: bytes, **options: Any) -> Any:
    """What ``read`` and its twin ``read_by_event`` see (they must agree), as one value."""
    seen = []
    for method in ("read", "read_by_event"):
        context = ReadContext(source="test-input", **options)
        batches: list[pa.RecordBatch] = []
        error = None
        try:
            for batch in getattr(adapter(), method)(io.BytesIO(data), context):
                assert batch.schema.equals(RECORD_SCHEMA, check_metadata=True)
                assert 0 < batch.num_rows <= context.batch_size
                batches.append((batch.to_pylist(), context.warning_count))
        except HashmatchError as exc:
            error = (type(exc).__name__, exc.line, exc.reason)
        seen.append((batches, [(w.line, w.reason) for w in context.warnings], error))
    assert seen[0] == seen[1]
    return seen[0]


# --- the fixtures --------------------------------------------------------------------


def test_the_valid_hash_set(read: Reader, fixture_bytes: Load) -> None:
    rows, context = read(VicsAdapter, fixture_bytes("vics/valid.json"), strict=True)
    assert context.warning_count == 0
    assert [(r["line"], *digests(r), r["size"], r["path"]) for r in rows] == [
        (1, MD5[0], SHA1[0], None, 21, None),
        (2, MD5[1], None, None, 21, None),
        (3, MD5[2], SHA1[2], SHA256[2], 21, None),
        (4, MD5[3], SHA1[3], None, 21, None),
        (5, MD5[4], None, SHA256[4].lower(), 21, None),
    ]
    updated = "2024-05-01T10:00:00.0000Z"
    assert [labels(r) for r in rows] == [
        {**DEFAULT_LABELS, "category": "0", "precategorized": False, "source_id": "1",
         "updated": updated},
        {**DEFAULT_LABELS, "category": "1", "precategorized": False, "source_id": "2",
         "updated": updated, "victim_identified": True, "series": "Synthetic Series A"},
        {**DEFAULT_LABELS, "category": "2", "distributed": True, "offender_identified": False,
         "source_id": "3"},
        {**DEFAULT_LABELS, "category": "3", "suspected": True, "victim_identified": False,
         "tags": "synthetic,fixture", "comments": "made up for tests", "source_id": "4"},
        {**DEFAULT_LABELS, "category": "4", "precategorized": True, "source_id": "5"},
    ]  # fmt: skip
    for row in rows:
        assert encode_labels(labels(row)) == row["labels"], "labels are in canonical form"


def test_nist_1_2_one_record_per_line_with_string_sizes(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/nist-1.2.json"), strict=True)
    assert [(r["line"], *digests(r), r["size"], r["path"]) for r in rows] == [
        (1, MD5[0], SHA1[0], None, 21, "one.bin"),
        (2, MD5[1], SHA1[1], None, 21, "two.exe"),
        (3, MD5[2], SHA1[2], None, 21, "three.dll"),
    ]
    assert labels(rows[0]) == {"scheme": "vics-us", "vics_version": "1.2"}


def test_1_3_alternative_hashes_give_sha256_and_photodna(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/hashset-1.3.json"), strict=True)
    assert [digests(r) for r in rows] == [(MD5[2], SHA1[2], SHA256[2]), (MD5[3], None, None)]
    first = labels(rows[0])
    assert first["category"] == "2"
    assert first["distributed"] is True
    assert first["vics_version"] == "1.3"
    assert "vics_profile" not in first
    [photodna] = first["perceptual"]
    assert photodna.startswith("photodna:")
    assert len(photodna) == len("photodna:") + 192
    assert labels(rows[1]) == {"scheme": "vics-us", "source_id": "11", "vics_version": "1.3"}


def test_case_exports_carry_case_numbers_and_file_names(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/case-1.3.json"), strict=True)
    assert [(r["line"], r["md5"], r["path"], labels(r)["vics_case_number"]) for r in rows] == [
        (1, MD5[0], "8ae3352b.jpg", "SYN-0013"),
        (2, MD5[1], "d2504396.jpg", "SYN-0013"),
    ]
    rows, _ = read(VicsAdapter, fixture_bytes("vics/case-us-2.0.json"), strict=True)
    assert [(r["line"], r["md5"], r["size"], r["path"]) for r in rows] == [
        (1, MD5[0], 21, "holiday 1.jpg"),
        (2, MD5[1], 21, None),
        (3, MD5[2], 0, None),
    ]
    assert [labels(r)["vics_case_number"] for r in rows] == ["SYN-US-1", "SYN-US-1", "SYN-US-3"]
    assert labels(rows[0])["vics_profile"] == "US"
    assert labels(rows[0])["scheme"] == "vics-us"
    assert "category" not in labels(rows[1])


@pytest.mark.parametrize("name", ["bom-utf8.json", "utf16-crlf-tabs.json"])
def test_encodings(read: Reader, fixture_bytes: Load, name: str) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes(f"vics/{name}"), strict=True)
    assert [r["md5"] for r in rows][:2] == [MD5[0], MD5[1]]
    series = labels(rows[1])["series"]
    assert series in ("Série é", "合成シリーズ ✓")


def test_keys_in_any_case(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/key-case.json"), strict=True)
    assert [(*digests(r), r["size"], r["path"]) for r in rows] == [
        (MD5[0].lower(), SHA1[0].lower(), None, 21, None),
        (MD5[1], SHA1[1].lower(), SHA256[1].lower(), 21, None),
        (MD5[2][:16] + MD5[2][16:].lower(), None, None, None, "Mixed.jpg"),
    ]
    assert labels(rows[0])["victim_identified"] is True
    assert labels(rows[0])["category"] == "1"
    assert labels(rows[1])["category"] == "2"
    assert labels(rows[1])["distributed"] is True


def test_null_absent_zero_and_text_categories(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/categories.json"), strict=True)
    assert [labels(r).get("category") for r in rows] == [None, None, "0", "1", None]
    assert not any("review" in labels(r) for r in rows)


def test_odd_timestamps_are_kept_verbatim(read: Reader, fixture_bytes: Load) -> None:
    rows, context = read(VicsAdapter, fixture_bytes("vics/timestamps.json"), strict=True)
    assert [labels(r)["updated"] for r in rows] == [
        "2024-01-02T03:04:05.123+01:00Z",
        "2024-01-02T03:04:05.1234567Z",
        "/Date(1234567890000)/",
        "05/01/2024 10:00:00 AM",
        "not a date",
    ]
    assert context.warning_count == 0


def test_free_text_with_json_characters_and_japanese(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/series.json"), strict=True)
    assert [labels(r)["series"] for r in rows] == [
        'Synthetic Series, "quoted" ] } , 合成シリーズ',
        '{"value":[',
        "back\\slash / slash",
    ]
    assert labels(rows[0])["tags"] == "a,b|c"
    assert labels(rows[1])["comments"] == "] }\t,"


def test_photodna_is_a_perceptual_label_never_a_digest(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/photodna.json"), strict=True)
    perceptual = [labels(r)["perceptual"] for r in rows]
    assert [len(p) for p in perceptual] == [1, 1, 2]
    assert len(perceptual[0][0]) == len("photodna:") + 192
    assert len(perceptual[1][0]) == len("photodna:") + 288
    assert perceptual[2][0] == perceptual[0][0], "the repeat in AlternativeHashes is dropped"
    assert [digests(r) for r in rows] == [
        (MD5[0], None, None),
        (MD5[1], None, None),
        (MD5[2], None, SHA256[2]),
    ]


def test_an_unknown_profile_is_kept_and_its_codes_flagged(
    read: Reader, fixture_bytes: Load
) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/unknown-profile.json"), strict=True)
    assert labels(rows[0]) == {
        "scheme": "vics-xx",
        "category": "2",
        "review": "category code 2 is not mapped: no category table for profile XX is configured",
        "source_id": "1",
        "vics_version": "2.0",
        "vics_profile": "XX",
    }


def test_other_root_keys_are_skipped(read: Reader, fixture_bytes: Load) -> None:
    rows, _ = read(VicsAdapter, fixture_bytes("vics/extra-root-keys.json"), strict=True)
    assert [r["md5"] for r in rows] == [MD5[0], MD5[1]]


# --- bad input -----------------------------------------------------------------------


def test_bad_later_records_are_warnings_with_their_index(read: Reader, fixture_bytes: Load) -> None:
    rows, context = read(VicsAdapter, fixture_bytes("vics/corrupt.json"), source="c.json")
    assert [(r["line"], r["md5"], r["size"]) for r in rows] == [
        (1, MD5[0], 21),
        (3, MD5[2], None),
        (4, MD5[3], 21),
        (5, MD5[4], None),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "record 2 (MediaID 2): no MD5, SHA1 or SHA-256"),
        (3, 'record 3 (MediaID 3): MediaSize is not a byte count: "abc"'),
        (4, "record 4 (MediaID 4): Category is not an integer code: {}"),
        (5, 'record 5 (MediaID 5): VictimIdentified is neither true nor false: "maybe"'),
    ]
    assert labels(rows[2])["review"] == "the source's Category is unreadable: {}"
    assert "category" not in labels(rows[2])
    assert "victim_identified" not in labels(rows[3])


def test_strict_stops_at_the_first_bad_record(read: Reader, fixture_bytes: Load) -> None:
    with pytest.raises(RecordError) as raised:
        read(VicsAdapter, fixture_bytes("vics/corrupt.json"), strict=True, source="c.json")
    assert raised.value.line == 2
    assert str(raised.value) == "c.json:2: record 2 (MediaID 2): no MD5, SHA1 or SHA-256"


def test_a_truncated_file_is_a_clean_error_naming_the_record(fixture_bytes: Load) -> None:
    data = fixture_bytes("vics/corrupt-truncated.json")
    for strict in (False, True):
        _, _, error = read_both(VicsAdapter, data, strict=strict)
        assert error == (
            "RecordError",
            5,
            "the file is truncated: it ends after record 4, inside the JSON",
        )
    with pytest.raises(RecordError):
        list(VicsAdapter().read(io.BytesIO(data[:200]), ReadContext(source="x")))


def test_malformed_json_after_a_record(read: Reader) -> None:
    data = hash_set({"MD5": MD5[0]}, {"MD5": MD5[1]}).replace(b"}, {", b"} {")
    _, _, error = read_both(VicsAdapter, data)
    assert error[:2] == ("RecordError", 2)
    assert error[2].startswith("malformed JSON after record 1: parse error")


def test_a_bad_first_record_means_not_vics(fixture_bytes: Load) -> None:
    _, _, error = read_both(VicsAdapter, fixture_bytes("vics/corrupt-first.json"))
    assert error == ("UnsupportedFormat", 1, "record 1 (MediaID 1): no MD5, SHA1 or SHA-256")
    _, _, error = read_both(VicsAdapter, hash_set([MD5[0]]))
    assert error == (
        "UnsupportedFormat",
        1,
        "record 1: a Media record must be a JSON object, not an array",
    )


def test_a_bad_first_field_is_only_a_warning() -> None:
    batches, warnings, error = read_both(VicsAdapter, hash_set({"MD5": MD5[0], "MediaSize": -1}))
    assert error is None
    assert warnings == [(1, "record 1: MediaSize is not a byte count: -1")]
    assert batches[0][0][0]["md5"] == MD5[0]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": 1}', "no VICS model key (odata.metadata or @odata.context)"),
        (b"[1, 2]", "the file is not a JSON object"),
        (b"hello", "not a VICS file: malformed JSON before the first record: lexical error"),
        (
            b'{"@odata.context": "http://example.invalid/Other.xml#Media", "value": []}',
            "not a ProjectVic DataModels URL: 'http://example.invalid/Other.xml#Media'",
        ),
        (
            hash_set(model=DEFAULT.replace("2.0.xml", "3.0.xml")),
            "VICS data model 3.0 is not supported (only 1.2, 1.3, 2.0)",
        ),
        (hash_set(model=DEFAULT.replace("#Media", "#Things")), "the model names #Things"),
        (
            hash_set(model=f"{ROOT_20}#Media"),
            f"the 2.0 model URL names no regional profile: '{ROOT_20}#Media'",
        ),
        (b'{"value": [], "@odata.context": "' + DEFAULT.encode() + b'"}', "'value' comes before"),
        (
            b'{"@odata.context": "' + DEFAULT.encode() + b'", "value": {}}',
            "'value' is not an array",
        ),
        (b'{"@odata.context": "' + DEFAULT.encode() + b'"}', "the VICS root has no 'value' array"),
        (b'{"@odata.context": 5, "value": []}', "the model key '@odata.context' holds no URL"),
    ],
)
def test_roots_that_are_not_vics(data: bytes, reason: str) -> None:
    _, _, error = read_both(VicsAdapter, data)
    assert error is not None
    assert error[:2] == ("UnsupportedFormat", 1)
    assert error[2].startswith(reason)


def test_case_entries_that_are_no_cases() -> None:
    cases = f"{ROOT_20}/US/$metadata#Cases"
    entries = [{"Media": [{"MD5": MD5[0]}]}, 7, {"Media": "x"}, {"Media": None}, {"MD5": MD5[1]}]
    data = hash_set(*entries, model=cases)
    batches, warnings, error = read_both(VicsAdapter, data)
    assert error is None
    assert [row["md5"] for batch, _ in batches for row in batch] == [MD5[0]]
    assert warnings == [
        (2, "case 2 is a number, not a case object"),
        (2, "the Media of case 3 is not an array"),
        (2, "case 5 has no Media array"),
    ]
    _, _, error = read_both(VicsAdapter, hash_set(7, model=cases))
    assert error == ("UnsupportedFormat", 1, "case 1 is a number, not a case object")
    _, _, error = read_both(VicsAdapter, hash_set({"MD5": MD5[0]}, model=cases))
    assert error == ("UnsupportedFormat", 1, "case 1 has no Media array")


def test_odd_values_of_later_records(read: Reader) -> None:
    data = hash_set(
        {"MD5": MD5[0]},
        {"MD5": 5, "SHA1": SHA1[1], "PhotoDNA": 3, "Series": ["x"], "Tags": ["a", "b", ""]},
        {"MD5": MD5[2], "Category": 1.5, "MediaSize": "1,234", "DateUpdated": {"d": 1}},
        {"MD5": MD5[3], "SHA256": SHA256[3], "AlternativeHashes": [
            {"HashName": "SHA-256", "HashValue": SHA256[4]}], "Tags": [1]},
        {"MD5": MD5[4], "Category": " 7 ", "MediaSize": 2**63, "IsSuspected": 1},
    )  # fmt: skip
    rows, context = read(VicsAdapter, data)
    assert [(*digests(r), r["size"]) for r in rows] == [
        (MD5[0], None, None, None),
        (None, SHA1[1], None, None),
        (MD5[2], None, None, 1234),
        (MD5[3], None, SHA256[3], None),
        (MD5[4], None, None, None),
    ]
    assert labels(rows[1])["tags"] == ["a", "b"]
    assert labels(rows[2])["updated"] == '{"d":1}'
    assert labels(rows[4])["category"] == "7"
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "record 2: MD5 is a number, not text"),
        (2, "record 2: PhotoDNA is a number, not text"),
        (2, "record 2: Series is an array, not text"),
        (3, "record 3: Category is not an integer code: 1.5"),
        (4, f"record 4: a second, different SHA-256 was ignored: '{SHA256[4]}'"),
        (4, "record 4: Tags is an array of something other than text"),
        (5, f"record 5: MediaSize is not a byte count: {2**63}"),
        (5, "record 5: IsSuspected is neither true nor false: 1"),
    ]


# --- encodings and streams -----------------------------------------------------------


class Trickle(io.RawIOBase):
    """A stream that gives at most ``step`` bytes per read, to cut every character."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._step if size < 0 else min(size, self._step))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-16"])
@pytest.mark.parametrize("step", [1, 3, 1 << 20])
def test_every_encoding_in_any_read_size(encoding: str, step: int) -> None:
    document = json.dumps(
        {"@odata.context": DEFAULT, "value": [{"MD5": MD5[0], "Series": '𝄞 é 合成 "}]'}] * 3},
        ensure_ascii=False,
        indent="\t",
    ).replace("\n", "\r\n")
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    data = bom.get(encoding, b"") + document.encode(encoding)
    rows = [
        row
        for batch in VicsAdapter().read(Trickle(data, step), ReadContext(source="x"))  # type: ignore[arg-type]
        for row in batch.to_pylist()
    ]
    assert [labels(r)["series"] for r in rows] == ['𝄞 é 合成 "}]'] * 3
    assert VicsAdapter.sniff(data[:HEAD_BYTES])


def test_bom_less_utf16_is_told_by_its_zero_bytes(read: Reader) -> None:
    data = hash_set({"MD5": MD5[0]}).decode().encode("utf-16-le")
    rows, _ = read(VicsAdapter, data)
    assert [r["md5"] for r in rows] == [MD5[0]]


def test_value_after_a_long_root_key_is_still_found() -> None:
    padding = {"Source": {"Notes": ["x" * 1000] * 100}}
    document = {"@odata.context": DEFAULT, **padding, "value": [{"MD5": MD5[0]}, {"MD5": MD5[1]}]}
    data = json.dumps(document).encode()
    assert len(data) > HEAD_BYTES
    batches, _, error = read_both(VicsAdapter, data)
    assert error is None
    assert [row["md5"] for batch, _ in batches for row in batch] == [MD5[0], MD5[1]]


def test_twins_agree_on_every_fixture_and_batch_size() -> None:
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "adapters"
    for adapter, name in [(VicsAdapter, "vics"), (CaidAdapter, "caid")]:
        for path in sorted((folder / name).glob("*.json")):
            for batch_size in (1, 2, 3, 65_536):
                read_both(adapter, path.read_bytes(), batch_size=batch_size)


def _synthetic(n: int) -> bytes:
    head = f'{{"@odata.context":"{DEFAULT}","value":['.encode()
    body = b",".join(
        b'{"MediaID":%d,"Category":1,"MD5":"%032X","MediaSize":21}' % (i, i) for i in range(n)
    )
    return head + body + b"]}"


def test_memory_does_not_grow_with_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vics, "CHUNK", 256)
    monkeypatch.setattr(vics, "FAST_BYTES", 32 << 10)
    peaks = []
    for n in (1_000, 10_000):
        data = _synthetic(n)
        tracemalloc.start()
        try:
            count = sum(
                b.num_rows
                for b in VicsAdapter().read(
                    io.BytesIO(data), ReadContext(source="x", batch_size=256)
                )
            )
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert count == n
    # Ten times the records (about 780 kB more of JSON) and no more memory.
    assert peaks[1] < peaks[0] + 200_000, peaks


class Endless(io.RawIOBase):
    """A hash set of ``records`` records, made as it is read, that counts what was read."""

    def __init__(self, records: int) -> None:
        self.consumed = 0
        self._parts = self._generate(records)
        self._pending = b""

    def _generate(self, records: int) -> Iterator[bytes]:
        yield f'{{"@odata.context":"{DEFAULT}","value":['.encode()
        for i in range(records):
            yield (b"," if i else b"") + b'{"MediaID":%d,"MD5":"%032X"}' % (i, i)
        yield b"]}"

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = size if size >= 0 else 1 << 20
        while len(self._pending) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._pending += part
        data, self._pending = self._pending[:size], self._pending[size:]
        self.consumed += len(data)
        return data


def test_the_first_batch_comes_before_the_file_is_read() -> None:
    stream = Endless(10_000_000)  # about 550 MB of JSON, never made whole
    batches = VicsAdapter().read(stream, ReadContext(source="x", batch_size=1000))  # type: ignore[arg-type]
    first = next(batches)
    assert first.num_rows == 1000
    assert stream.consumed < 2_000_000


# --- sniffing and detection ----------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (hash_set(), True),
        (b"\xef\xbb\xbf  \r\n" + hash_set(), True),
        (hash_set().replace(b"/", b"\\/"), True),
        (hash_set(model=DEFAULT.upper()), True),
        (hash_set(model=DEFAULT.replace("2.0", "9.9")), True),  # read says why it is refused
        (b'{"@odata.context": "http://example.invalid/$metadata#Media", "value": []}', False),
        (b'{"note": "projectvic", "value": [], "Media": []}', False),
        (b'[{"@odata.context": "' + DEFAULT.encode() + b'"}]', False),
        (b"", False),
        (b"\xff\xfe", False),
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert VicsAdapter.sniff(head) is expected


def test_detection_gives_uk_files_to_caid_and_the_rest_to_vics() -> None:
    registry = default_registry()
    assert registry.detect(hash_set()) is VicsAdapter
    assert registry.detect(hash_set(model=f"{ROOT_20}/UK/$metadata#Cases")) is CaidAdapter
    assert registry.detect(hash_set(model=f"{ROOT_20}/uk/$metadata#Media")) is CaidAdapter
    assert registry.detect(hash_set(model=f"{ROOT_20}/US/$metadata#Cases")) is VicsAdapter


def test_the_model_url() -> None:
    model = parse_model(
        "odata.metadata", "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media"
    )
    assert isinstance(model, vics.VicsModel)
    assert (model.version, model.shape, model.profile, model.scheme) == (
        "1.2",
        "Media",
        None,
        "vics-us",
    )
    model = sniff_model(hash_set(model=f"{ROOT_20}/Canada/$metadata#cases"))
    assert isinstance(model, vics.VicsModel)
    assert (model.shape, model.profile, model.scheme) == ("Cases", "Canada", "vics-canada")
    assert parse_model("value", DEFAULT) == "'value' is not a VICS model key"


# --- the property: what a writer renders, the adapter reads back -----------------------


@dataclass
class Media:
    """One Media record as the test writes it, and what the adapter must read from it."""

    md5: str | None
    sha1: str | None
    sha256: str | None
    sha256_name: str
    size: int | None
    category: int | None
    flags: dict[str, bool | None]
    texts: dict[str, str | None]
    media_id: int | None
    photodna: list[str]
    file_name: str | None
    style: int = 0
    """How the optional values are spelled (strings or JSON types, null or absent)."""


FLAG_LABELS = {
    "VictimIdentified": "victim_identified",
    "OffenderIdentified": "offender_identified",
    "IsDistributed": "distributed",
    "IsPrecategorized": "precategorized",
    "IsSuspected": "suspected",
}
TEXT_LABELS = {"Series": "series", "Tags": "tags", "Comments": "comments", "DateUpdated": "updated"}
AWKWARD = st.text(
    st.one_of(
        st.sampled_from('"\\/[]{},:|\t\r\n é合成シリーズ𝄞\u2028'),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    min_size=1,
    max_size=20,
)
PHOTODNA = st.binary(min_size=144, max_size=144).map(lambda b: codecs.encode(b, "base64"))


@st.composite
def media_records(draw: st.DrawFn) -> Media:
    hashes = draw(
        st.fixed_dictionaries(
            {
                "md5": st.none() | hex_digests(Algorithm.MD5),
                "sha1": st.none() | hex_digests(Algorithm.SHA1),
                "sha256": st.none() | hex_digests(Algorithm.SHA256),
            }
        ).filter(lambda h: any(h.values()))
    )
    return Media(
        **hashes,
        sha256_name=draw(st.sampled_from(["SHA256", "SHA-256", "sha256"])),
        size=draw(st.none() | st.integers(0, 2**63 - 1)),
        category=draw(st.none() | st.integers(-1, 12)),
        flags={key: draw(st.none() | st.booleans()) for key in FLAG_LABELS},
        texts={key: draw(st.none() | AWKWARD) for key in TEXT_LABELS},
        media_id=draw(st.none() | st.integers(0, 2**40)),
        photodna=draw(
            st.lists(PHOTODNA.map(lambda b: b.decode().replace("\n", "")), max_size=2, unique=True)
        ),
        file_name=draw(st.none() | AWKWARD),
        style=draw(st.integers(0, 3)),
    )


@dataclass(frozen=True)
class Layout:
    model: str
    key: str
    cases: bool
    encoding: str
    lines: str
    """``minified``, ``per-line`` (a record a line) or ``pretty`` (tabs and CRLF)."""
    key_case: str
    version: str
    profile: str | None
    extra: dict[str, Any] = field(default_factory=dict)


LAYOUTS = st.builds(
    lambda model, cases, encoding, lines, key_case: Layout(
        model=model[1] + ("#Cases" if cases else "#Media"),
        key=model[0],
        cases=cases,
        encoding=encoding,
        lines=lines,
        key_case=key_case,
        version=model[2],
        profile=model[3],
    ),
    st.sampled_from(
        [
            (
                "odata.metadata",
                "http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml",
                "1.2",
                None,
            ),
            (
                "odata.metadata",
                "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml",
                "1.3",
                None,
            ),
            ("@odata.context", f"{ROOT_20}/Default/$metadata", "2.0", "Default"),
            ("@odata.context", f"{ROOT_20}/US/$metadata", "2.0", "US"),
            ("@odata.context", f"{ROOT_20}/UK/$metadata", "2.0", "UK"),
            ("@odata.context", f"{ROOT_20}/Australia/$metadata", "2.0", "Australia"),
        ]
    ),
    st.booleans(),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16"]),
    st.sampled_from(["minified", "per-line", "pretty"]),
    st.sampled_from(["as-is", "lower", "upper"]),
)


def _spell(key: str, key_case: str) -> str:
    return {"as-is": key, "lower": key.lower(), "upper": key.upper()}[key_case]


def render_media(media: Media, key_case: str) -> dict[str, Any]:
    """A Media object as a VICS writer might write it (values in one of four styles)."""
    record: dict[str, Any] = {}
    if media.media_id is not None:
        record["MediaID"] = media.media_id if media.style % 2 else str(media.media_id)
    if media.category is not None:
        record["Category"] = media.category if media.style < 2 else str(media.category)
    elif media.style == 1:
        record["Category"] = None
    for name, value in (("MD5", media.md5), ("SHA1", media.sha1)):
        if value is not None:
            record[name] = value
    if media.size is not None:
        record["MediaSize"] = media.size if media.style != 2 else str(media.size)
    for name, flag in media.flags.items():
        if flag is None:
            if media.style == 3:
                record[name] = None
        elif media.style in (0, 3):
            record[name] = flag
        else:
            record[name] = ["false", "true"][flag] if media.style == 1 else str(flag).upper()
    for name, text in media.texts.items():
        if text is not None:
            record[name] = text
    if media.photodna:
        record["PhotoDNA"] = "|".join(media.photodna)
    if media.sha256 is not None:
        record["AlternativeHashes"] = [{"HashName": media.sha256_name, "HashValue": media.sha256}]
    if media.file_name is not None:
        record["MediaFiles"] = [{"MD5": media.md5, "FileName": media.file_name}]
    return {_spell(key, key_case): value for key, value in record.items()}


def render(records: list[Media], layout: Layout) -> bytes:
    """A whole VICS file of ``records``; case exports put them in up to three cases."""
    items: list[Any] = [render_media(m, layout.key_case) for m in records]
    if layout.cases:
        thirds = [items[i::3] for i in range(3)]
        items = [
            {
                _spell("CaseNumber", layout.key_case): f"SYN-{i}",
                _spell("Media", layout.key_case): part,
            }
            for i, part in enumerate(thirds)
        ]
    key = _spell(layout.key, layout.key_case)
    value = _spell("value", layout.key_case)
    if layout.lines == "minified":
        text = json.dumps(
            {key: layout.model, value: items}, ensure_ascii=False, separators=(",", ":")
        )
    elif layout.lines == "per-line":
        body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
        text = f'{{"{key}": {json.dumps(layout.model)},\n"{value}": [\n{body}\n]}}\n'
    else:
        text = json.dumps({key: layout.model, value: items}, ensure_ascii=False, indent="\t")
        text = text.replace("\n", "\r\n")
    return text.encode(layout.encoding)


def expected_rows(records: list[Media], layout: Layout) -> list[dict[str, Any]]:
    """What the adapter must read from ``render(records, layout)``, in file order."""
    ordered = [(m, None) for m in records]
    if layout.cases:
        ordered = [(m, f"SYN-{i}") for i in range(3) for m in records[i::3]]
    rows = []
    scheme = {"Default": "vics-us", "US": "vics-us", None: "vics-us", "UK": "vics-uk"}.get(
        layout.profile, f"vics-{(layout.profile or '').lower()}"
    )
    for index, (media, case) in enumerate(ordered, start=1):
        found: dict[str, Any] = {"scheme": scheme, "vics_version": layout.version}
        if layout.profile is not None:
            found["vics_profile"] = layout.profile
        if media.category is not None:
            found["category"] = str(media.category)
            if layout.profile in ("UK", "Australia"):
                found["review"] = (
                    f"category code {media.category} is not mapped: "
                    f"no category table for profile {layout.profile} is configured"
                )
        for name, flag in media.flags.items():
            if flag is not None:
                found[FLAG_LABELS[name]] = flag
        for name, text in media.texts.items():
            found[TEXT_LABELS[name]] = text
        if media.photodna:
            found["perceptual"] = [f"photodna:{p}" for p in media.photodna]
        if media.media_id is not None:
            found["source_id"] = str(media.media_id)
        found["vics_case_number"] = case
        rows.append(
            {
                "line": index,
                "md5": media.md5,
                "sha1": media.sha1,
                "sha256": media.sha256,
                "size": media.size,
                "path": media.file_name if media.file_name and media.file_name.strip() else None,
                "labels": encode_labels(found),
            }
        )
    return rows


@given(records=st.lists(media_records(), min_size=1, max_size=8), layout=LAYOUTS)
@example(
    records=[
        Media(
            MD5[0],
            None,
            None,
            "SHA256",
            21,
            1,
            dict.fromkeys(FLAG_LABELS),
            dict.fromkeys(TEXT_LABELS),
            1,
            [],
            None,
        ),
    ],
    layout=Layout(DEFAULT, "@odata.context", False, "utf-16", "pretty", "as-is", "2.0", "Default"),
).via("UTF-16 with BOM, CRLF and tabs, upper-case hex")
@example(
    records=[
        Media(
            None,
            SHA1[1].lower(),
            SHA256[1],
            "SHA-256",
            0,
            0,
            dict.fromkeys(FLAG_LABELS, False),
            dict.fromkeys(TEXT_LABELS, '] } " ,'),
            None,
            [],
            "a.jpg",
            style=2,
        ),
    ],
    layout=Layout(
        f"{ROOT_20}/UK/$metadata#Cases",
        "@odata.context",
        True,
        "utf-8-sig",
        "per-line",
        "lower",
        "2.0",
        "UK",
    ),
).via("BOM, lower-case keys, a case export, a SHA-256 only in AlternativeHashes")
def test_what_a_writer_renders_reads_back(records: list[Media], layout: Layout) -> None:
    data = render(records, layout)
    batches, warnings, error = read_both(VicsAdapter, data, strict=True)
    assert error is None
    assert warnings == []
    rows = [row for batch, _ in batches for row in batch]
    assert rows == expected_rows(records, layout)
