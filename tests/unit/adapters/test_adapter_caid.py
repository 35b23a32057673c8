"""UK CAID exports: VICS 2.0 UK profile, category codes only through a configured table."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hashmatch_adapters.caid import CaidAdapter
from hashmatch_adapters.vics import VicsAdapter, default_table_folder

from hashmatch.adapter import ReadContext
from hashmatch.errors import ConfigurationError, InputError, RecordError, UnsupportedFormat
from hashmatch.records import decode_labels

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]
Load = Callable[[str], bytes]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest().upper() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest().upper() for s in SOURCES]
ROOT_20 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
UK_LABELS = {"scheme": "vics-uk", "vics_version": "2.0", "vics_profile": "UK"}
NO_TABLE = "is not mapped: no category table for profile UK is configured"

TABLE = {
    "format": "hashmatch-category-table/1",
    "profile": "UK",
    "version": "2026-01",
    "scheme": "uk",
    "codes": {"1": "synthetic-A", "2": "synthetic-B", "3": "synthetic-C"},
}


def rows_of(
    adapter: type[CaidAdapter] | type[VicsAdapter], data: bytes, **options: str
) -> tuple[list[dict[str, Any]], ReadContext]:
    context = ReadContext(source="caid.json", options=options)
    batches = list(adapter().read(io.BytesIO(data), context))
    return pa.Table.from_batches(batches).to_pylist() if batches else [], context


def labels(row: dict[str, Any]) -> dict[str, Any]:
    return decode_labels(row["labels"])


@pytest.fixture(name="tables")
def _tables(tmp_path: Path) -> Path:
    """A folder with the synthetic UK table (its codes are made up, as all test data)."""
    (tmp_path / "uk.json").write_text(json.dumps(TABLE), encoding="utf-8")
    return tmp_path


def test_the_valid_case_export_without_a_table(read: Reader, fixture_bytes: Load) -> None:
    rows, context = read(CaidAdapter, fixture_bytes("caid/valid.json"), strict=True)
    assert context.warning_count == 0
    assert [(r["line"], r["md5"], r["sha1"], r["size"], r["path"]) for r in rows] == [
        (1, MD5[3], SHA1[3], 21, "img_0001.jpg"),
        (2, MD5[0], SHA1[0], 21, "8ae3352b.jpg"),
        (3, MD5[1], None, 21, None),
        (4, MD5[2], None, 21, None),
    ]
    case = {**UK_LABELS, "vics_case_number": "SYN-0001"}
    assert [labels(r) for r in rows] == [
        {**case, "source_id": "1", "updated": "2024-01-02T03:04:05.123+01:00Z"},
        {**case, "source_id": "2", "category": "1", "review": f"category code 1 {NO_TABLE}",
         "victim_identified": True, "distributed": True},
        {**case, "source_id": "3", "category": "2", "review": f"category code 2 {NO_TABLE}",
         "series": "Synthetic UK series", "updated": "2024-01-02T03:04:05.1234567Z"},
        {**case, "source_id": "4", "category": "3", "review": f"category code 3 {NO_TABLE}"},
    ]  # fmt: skip


def test_utf16_output_of_older_exporters_reads_the_same(fixture_bytes: Load) -> None:
    assert (
        rows_of(CaidAdapter, fixture_bytes("caid/utf16.json"))[0]
        == (rows_of(CaidAdapter, fixture_bytes("caid/valid.json"))[0])
    )


def test_codes_go_through_the_table_and_the_raw_code_stays(
    fixture_bytes: Load, tables: Path
) -> None:
    rows, context = rows_of(
        CaidAdapter, fixture_bytes("caid/unmapped.json"), category_tables=str(tables)
    )
    assert context.warning_count == 0
    assert [labels(r) for r in rows] == [
        {**UK_LABELS, "source_id": "1", "category": "1", "uk_category": "synthetic-A",
         "category_table": "UK@2026-01"},
        {**UK_LABELS, "source_id": "2", "category": "99",
         "review": "category code 99 is not in the uk category table 2026-01"},
        {**UK_LABELS, "source_id": "3", "category": "2", "uk_category": "synthetic-B",
         "category_table": "UK@2026-01"},
        {**UK_LABELS, "source_id": "4"},
    ]  # fmt: skip


def test_no_table_flags_every_code_for_review(fixture_bytes: Load) -> None:
    rows, _ = rows_of(CaidAdapter, fixture_bytes("caid/unmapped.json"))
    assert [labels(r).get("review") for r in rows] == [
        f"category code 1 {NO_TABLE}",
        f"category code 99 {NO_TABLE}",
        f"category code 2 {NO_TABLE}",
        None,
    ]
    assert not any("uk_category" in labels(r) for r in rows)


def test_the_shipped_folder_holds_no_table() -> None:
    folder = default_table_folder()
    names = {entry.name for entry in folder.iterdir()}
    assert "README.md" in names
    assert not [name for name in names if name.endswith(".json")]


def test_vics_reads_a_uk_file_exactly_as_caid_does(fixture_bytes: Load, tables: Path) -> None:
    for name in ("valid.json", "unmapped.json", "corrupt.json"):
        data = fixture_bytes(f"caid/{name}")
        caid, _ = rows_of(CaidAdapter, data, category_tables=str(tables))
        assert caid == rows_of(VicsAdapter, data, category_tables=str(tables))[0]


def test_the_table_file_name_is_matched_in_any_case(fixture_bytes: Load, tmp_path: Path) -> None:
    (tmp_path / "UK.JSON").write_text(json.dumps(TABLE), encoding="utf-8-sig")
    rows, _ = rows_of(
        CaidAdapter, fixture_bytes("caid/unmapped.json"), category_tables=str(tmp_path)
    )
    assert labels(rows[0])["uk_category"] == "synthetic-A"


def test_other_profiles_use_their_own_table(tmp_path: Path) -> None:
    table = {**TABLE, "profile": "Australia", "scheme": "au", "codes": {"5": "au-five"}}
    (tmp_path / "australia.json").write_text(json.dumps(table), encoding="utf-8")
    model = f"{ROOT_20}/Australia/$metadata#Media"
    data = json.dumps({"@odata.context": model, "value": [{"MD5": MD5[0], "Category": 5}]})
    rows, _ = rows_of(VicsAdapter, data.encode(), category_tables=str(tmp_path))
    assert labels(rows[0]) == {
        "scheme": "vics-australia",
        "category": "5",
        "au_category": "au-five",
        "category_table": "Australia@2026-01",
        "vics_version": "2.0",
        "vics_profile": "Australia",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not JSON"),
        ("[]", "the table must be a JSON object"),
        (json.dumps({**TABLE, "format": "other/1"}), "'format' must be"),
        (json.dumps({**TABLE, "version": ""}), "'version' must be non-empty text"),
        (json.dumps({**TABLE, "profile": "US"}), "it is the table of profile 'US', not 'UK'"),
        (json.dumps({**TABLE, "scheme": "UK Scheme"}), "'scheme' must be a lower-case name"),
        (json.dumps({**TABLE, "codes": {}}), "'codes' must be a non-empty object"),
        (json.dumps({**TABLE, "codes": {"1": 1}}), "code '1' must map to non-empty text"),
        (json.dumps({**TABLE, "codes": {" ": "x"}}), "code ' ' must map to non-empty text"),
    ],
)
def test_a_malformed_table_is_an_error_naming_the_file(
    fixture_bytes: Load, tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "uk.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as raised:
        rows_of(CaidAdapter, fixture_bytes("caid/valid.json"), category_tables=str(tmp_path))
    assert isinstance(raised.value, InputError)
    assert raised.value.source == str(path)
    assert raised.value.reason.startswith(f"malformed category table: {reason}")


def test_a_configured_folder_that_does_not_exist(fixture_bytes: Load, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    with pytest.raises(ConfigurationError, match="is not a folder"):
        rows_of(CaidAdapter, fixture_bytes("caid/valid.json"), category_tables=missing)


def test_two_tables_for_one_profile_are_refused(fixture_bytes: Load, tmp_path: Path) -> None:
    (tmp_path / "uk.json").write_text(json.dumps(TABLE), encoding="utf-8")
    (tmp_path / "Uk.json").write_text(json.dumps(TABLE), encoding="utf-8")
    if len(list(tmp_path.iterdir())) < 2:
        pytest.skip("the file system does not tell names apart by case")
    with pytest.raises(ConfigurationError, match="more than one category table"):
        rows_of(CaidAdapter, fixture_bytes("caid/valid.json"), category_tables=str(tmp_path))


def test_files_of_other_profiles_are_not_caid(fixture_bytes: Load) -> None:
    data = fixture_bytes("vics/valid.json")
    assert not CaidAdapter.sniff(data)
    with pytest.raises(UnsupportedFormat, match=r"not a CAID file \(VICS 2.0, UK profile\)"):
        rows_of(CaidAdapter, data)
    assert CaidAdapter.sniff(fixture_bytes("caid/valid.json"))
    assert CaidAdapter.sniff(fixture_bytes("caid/utf16.json"))
    assert not CaidAdapter.sniff(fixture_bytes("vics/case-us-2.0.json"))
    assert not CaidAdapter.sniff(fixture_bytes("vics/nist-1.2.json"))


def test_bad_later_records_warn_and_strict_stops(read: Reader, fixture_bytes: Load) -> None:
    rows, context = read(CaidAdapter, fixture_bytes("caid/corrupt.json"))
    assert [r["line"] for r in rows] == [1, 3, 4]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, "record 2 (MediaID 5): no MD5, SHA1 or SHA-256"),
        (3, 'record 3 (MediaID 6): MediaSize is not a byte count: "21 bytes"'),
        (3, "record 3 (MediaID 6): Category is not an integer code: [1]"),
    ]
    assert labels(rows[1])["review"] == "the source's Category is unreadable: [1]"
    with pytest.raises(RecordError) as raised:
        read(CaidAdapter, fixture_bytes("caid/corrupt.json"), strict=True)
    assert raised.value.line == 2


def test_a_first_record_that_is_no_media_means_not_caid(fixture_bytes: Load) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        rows_of(CaidAdapter, fixture_bytes("caid/corrupt-first.json"))
    assert raised.value.line == 1
    assert raised.value.reason == "record 1: a Media record must be a JSON object, not text"
