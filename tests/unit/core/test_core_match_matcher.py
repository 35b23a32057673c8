"""hashmatch.match.matcher: one verdict per row, by the rules of the module docstring.

The snapshot (``conftest.py``) has a concern list and a benign list of synthetic digests;
the mapping tests at the end build their own, whose labels name their category schemes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.crosswalk import load_crosswalks
from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.errors import InputError
from hashmatch.index import Snapshot, SnapshotList, SnapshotSource, SnapshotStore
from hashmatch.ingest.parse import parse_batch
from hashmatch.match.matcher import VERDICT_SCHEMA, VERDICTS, Matcher
from hashmatch.model import Purpose, Verdict
from hashmatch.records import ENTRY_SCHEMA, encode_labels, make_batch

ZERO_LENGTH = "zero-length file digest: it matches nothing, so the file cannot be assessed"


def hexof(algorithm: str, name: str) -> str:
    return hashlib.new(algorithm, f"synthetic-fixture-{name}".encode()).hexdigest()


def match(snapshot: Snapshot, rows: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    columns: dict[str, list[Any]] = {"line": [row.get("line", i + 1) for i, row in enumerate(rows)]}
    for name in ("md5", "sha1", "sha256", "path", "size"):
        columns[name] = [row.get(name) for row in rows]
    batch = Matcher(snapshot).match(parse_batch(make_batch(columns)), **kwargs)
    assert batch.schema == VERDICT_SCHEMA
    return batch.to_pylist()


def matches_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    assert row["matches"] is not None
    return json.loads(row["matches"])


CONCERN_001 = {
    "list": "concern-list",
    "version": 2,
    "purpose": "concern",
    "labels": {"category": "A", "series": "s-1"},
}


def test_a_digest_on_a_concern_list_is_known_with_its_labels(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"md5": hexof("md5", "001"), "path": "a/b.jpg", "size": 10}])
    assert row["verdict"] == Verdict.KNOWN
    assert row["reason"] is None
    assert matches_of(row) == [{**CONCERN_001, "matched_on": ["md5"]}]
    assert (row["path"], row["size"], row["line"], row["input"]) == ("a/b.jpg", 10, 1, 0)


def test_a_match_on_two_algorithms_names_both(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"md5": hexof("md5", "001"), "sha256": hexof("sha256", "001")}])
    assert row["verdict"] == Verdict.KNOWN
    assert matches_of(row) == [{**CONCERN_001, "matched_on": ["md5", "sha256"]}]


def test_a_label_of_zero_is_shown_not_dropped(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"sha1": hexof("sha1", "sha1").upper()}])
    assert row["verdict"] == Verdict.KNOWN
    assert matches_of(row)[0]["labels"] == {"category": 0}


def test_a_digest_only_on_a_benign_list_is_known_benign(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"md5": hexof("md5", "benign")}])
    assert row["verdict"] == Verdict.KNOWN_BENIGN
    assert matches_of(row) == [
        {
            "list": "benign-list",
            "version": 1,
            "purpose": "benign",
            "matched_on": ["md5"],
            "labels": {},
        }
    ]


def test_on_both_lists_is_known_and_names_both_lists(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"md5": hexof("md5", "both"), "sha1": hexof("sha1", "both")}])
    assert row["verdict"] == Verdict.KNOWN
    assert matches_of(row) == [
        {
            "list": "concern-list",
            "version": 2,
            "purpose": "concern",
            "matched_on": ["md5"],
            "labels": {"category": "B"},
        },
        {
            "list": "benign-list",
            "version": 1,
            "purpose": "benign",
            "matched_on": ["md5", "sha1"],
            "labels": {"product": "Synthetic Suite"},
        },
    ]


def test_a_concern_match_on_one_algorithm_outweighs_a_benign_match_on_another(
    snapshot: Snapshot,
) -> None:
    [row] = match(snapshot, [{"md5": hexof("md5", "001"), "sha256": hexof("sha256", "other")}])
    assert row["verdict"] == Verdict.KNOWN
    assert [(m["list"], m["matched_on"]) for m in matches_of(row)] == [
        ("concern-list", ["md5"]),
        ("benign-list", ["sha256"]),
    ]


def test_a_digest_on_no_list_is_unknown(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"md5": hexof("md5", "not-listed"), "sha1": hexof("sha1", "no")}])
    assert row["verdict"] == Verdict.UNKNOWN
    assert row["reason"] is None
    assert row["matches"] is None


def test_a_row_without_a_digest_is_not_assessable(snapshot: Snapshot) -> None:
    rows = match(snapshot, [{"path": "locked.zip"}, {"md5": "", "sha1": "   "}])
    for row in rows:
        assert row["verdict"] == Verdict.NOT_ASSESSABLE
        assert row["reason"] == "no digest given"
        assert row["matches"] is None


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_the_zero_length_file_digest_is_not_assessable_even_when_listed(
    snapshot: Snapshot, algorithm: Algorithm
) -> None:
    # the concern list holds the empty md5: that match must mean nothing
    [row] = match(snapshot, [{algorithm.value: EMPTY_FILE_DIGESTS[algorithm].hex().upper()}])
    assert row["verdict"] == Verdict.NOT_ASSESSABLE
    assert row["reason"] == ZERO_LENGTH
    assert row["matches"] is None
    assert row[algorithm.value] == EMPTY_FILE_DIGESTS[algorithm].hex()


def test_a_zero_length_digest_beside_a_usable_one_does_not_hide_the_match(
    snapshot: Snapshot,
) -> None:
    [row] = match(
        snapshot, [{"md5": EMPTY_FILE_DIGESTS[Algorithm.MD5].hex(), "sha1": hexof("sha1", "both")}]
    )
    assert row["verdict"] == Verdict.KNOWN_BENIGN
    assert [m["matched_on"] for m in matches_of(row)] == [["sha1"]]


def test_a_malformed_value_makes_the_row_invalid_with_every_reason(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"md5": hexof("md5", "001"), "sha1": "xyz", "sha256": "  abc "}])
    assert row["verdict"] == Verdict.INVALID
    assert row["reason"] == (
        "sha1 digest is not hex or base64: 'xyz'; sha256 digest must have 64 hex digits, got 3"
    )
    # the md5 matched a concern list, but a malformed row is not matched
    assert row["matches"] is None
    assert row["md5"] == hexof("md5", "001")
    assert row["sha1"] == "xyz"
    assert row["sha256"] == "abc"


def test_a_malformed_value_beside_a_zero_length_digest_is_invalid(snapshot: Snapshot) -> None:
    [row] = match(snapshot, [{"md5": EMPTY_FILE_DIGESTS[Algorithm.MD5].hex(), "sha1": "nothex"}])
    assert row["verdict"] == Verdict.INVALID
    assert row["reason"] == "sha1 digest is not hex or base64: 'nothex'"


def test_digests_are_shown_as_lower_case_hex(snapshot: Snapshot) -> None:
    raw = bytes.fromhex(hexof("md5", "001"))
    rows = match(
        snapshot,
        [
            {"md5": hexof("md5", "001").upper()},
            {"md5": base64.b64encode(raw).decode()},
            {"md5": f'  "*{hexof("md5", "001")}" '},
        ],
    )
    for row in rows:
        assert row["md5"] == hexof("md5", "001")
        assert row["verdict"] == Verdict.KNOWN
        assert row["sha1"] is None
        assert row["sha256"] is None


def test_output_order_is_input_order_and_input_no_is_kept(snapshot: Snapshot) -> None:
    rows = [
        {"line": 10, "md5": hexof("md5", "benign")},
        {"line": 11, "md5": "bad"},
        {"line": 12, "md5": hexof("md5", "001")},
        {"line": 13},
        {"line": 14, "md5": hexof("md5", "nowhere")},
        {"line": 15, "md5": EMPTY_FILE_DIGESTS[Algorithm.MD5].hex()},
        {"line": 16, "md5": hexof("md5", "benign")},
    ]
    out = match(snapshot, rows, input_no=3)
    assert [r["line"] for r in out] == [10, 11, 12, 13, 14, 15, 16]
    assert [r["input"] for r in out] == [3] * 7
    assert [r["verdict"] for r in out] == [
        "known_benign",
        "invalid",
        "known",
        "not_assessable",
        "unknown",
        "not_assessable",
        "known_benign",
    ]


def test_an_empty_batch_gives_no_verdicts(snapshot: Snapshot) -> None:
    assert match(snapshot, []) == []


def test_a_sliced_batch_is_matched_from_its_own_first_row(snapshot: Snapshot) -> None:
    batch = make_batch(
        {
            "line": [1, 2, 3, 4],
            "md5": [None, hexof("md5", "001"), hexof("md5", "benign"), "bad"],
        }
    ).slice(1)
    out = Matcher(snapshot).match(parse_batch(batch)).to_pylist()
    assert [(r["line"], r["verdict"]) for r in out] == [
        (2, "known"),
        (3, "known_benign"),
        (4, "invalid"),
    ]


def test_one_matcher_gives_the_same_answer_twice(snapshot: Snapshot) -> None:
    matcher = Matcher(snapshot)
    batch = parse_batch(
        make_batch({"line": [1, 2], "md5": [hexof("md5", "both"), hexof("md5", "001")]})
    )
    first = matcher.match(batch)
    assert matcher.match(batch).equals(first)


def test_verdicts_are_the_domain_verdicts() -> None:
    assert {v.value for v in VERDICTS} == {
        "known",
        "known_benign",
        "unknown",
        "not_assessable",
        "invalid",
    }


_ROW_KINDS = {
    "known": ({"md5": hexof("md5", "001")}, Verdict.KNOWN),
    "benign": ({"md5": hexof("md5", "benign")}, Verdict.KNOWN_BENIGN),
    "both": ({"md5": hexof("md5", "both")}, Verdict.KNOWN),
    "unknown": ({"sha256": hexof("sha256", "nowhere")}, Verdict.UNKNOWN),
    "none": ({}, Verdict.NOT_ASSESSABLE),
    "empty": ({"sha1": EMPTY_FILE_DIGESTS[Algorithm.SHA1].hex()}, Verdict.NOT_ASSESSABLE),
    "invalid": ({"md5": hexof("md5", "001"), "sha1": "q"}, Verdict.INVALID),
}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(_ROW_KINDS)), max_size=30))
def test_every_row_gets_exactly_one_verdict_in_input_order(
    snapshot: Snapshot, kinds: list[str]
) -> None:
    rows = [{**_ROW_KINDS[kind][0], "line": 100 + i} for i, kind in enumerate(kinds)]
    out = match(snapshot, rows)
    assert [r["line"] for r in out] == [row["line"] for row in rows]
    assert [r["verdict"] for r in out] == [_ROW_KINDS[kind][1].value for kind in kinds]


def test_the_verdict_column_is_plain_strings(snapshot: Snapshot) -> None:
    batch = Matcher(snapshot).match(parse_batch(make_batch({"line": [1], "md5": ["bad"]})))
    assert batch.column("verdict").type == pa.string()


# -- mapping categories on request (--map-to) ----------------------------------------------

LABELLED: dict[str, dict[str, Any]] = {
    "ncmec-a1": {"scheme": "ncmec", "category": "A1", "member": "7", "series": "s \u00e9"},
    "vics-2": {"scheme": "vics-us", "category": "2", "victim_identified": True},
    "caid-7": {
        "scheme": "vics-uk",
        "category": "7",
        "category_table": "UK@2026-01",
        "uk_category": "A",
    },
    "uk-b": {"scheme": "uk", "category": "B"},
    "no-category": {"series": "s-9"},
}


def labelled_snapshot(root: Path) -> Snapshot:
    """A concern list of the labels above, a second concern list, and a benign list."""

    def entries(name: str, rows: dict[str, dict[str, Any] | None]) -> Path:
        path = root / f"{name}.parquet"
        columns: dict[str, list[Any]] = {field.name: [] for field in ENTRY_SCHEMA}
        for line, (digest, labels) in enumerate(rows.items(), start=1):
            row = {
                "line": line,
                "md5": hashlib.md5(f"synthetic-fixture-{digest}".encode()).digest(),
                "labels": encode_labels(labels),
            }
            for field in ENTRY_SCHEMA:
                columns[field.name].append(row.get(field.name))
        pq.write_table(pa.Table.from_pydict(columns, schema=ENTRY_SCHEMA), path)
        return path

    def listed(slot: int, name: str, purpose: Purpose, entries: int) -> SnapshotList:
        return SnapshotList(
            slot=slot,
            name=name,
            version=slot + 1,
            version_id=f"{name}-version",
            purpose=purpose,
            source_name=f"{name}.json",
            source_sha256=hashlib.sha256(name.encode()).hexdigest(),
            loaded_at=datetime(2024, 5, 1, tzinfo=UTC),
            entries=entries,
        )

    concern: dict[str, dict[str, Any] | None] = dict(LABELLED)
    store = SnapshotStore(root / "snapshots")
    snapshot_id = store.build(
        [
            SnapshotSource.full(
                listed(0, "benign-list", Purpose.BENIGN, 2),
                entries("benign", {"nsrl": {"product": ["Suite 1"]}, "uk-b": None}),
            ),
            SnapshotSource.full(
                listed(1, "graded-list", Purpose.CONCERN, len(concern)),
                entries("graded", concern),
            ),
            SnapshotSource.full(
                listed(2, "other-list", Purpose.CONCERN, 1),
                entries(
                    "other", {"ncmec-a1": {"scheme": "vics-us", "category": 1, "decoy": False}}
                ),
            ),
        ]
    )
    return store.open(snapshot_id)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return labelled_snapshot(tmp_path_factory.mktemp("graded-snapshot"))


GRADED_ROWS = [
    {"md5": hexof("md5", name)}
    for name in ("ncmec-a1", "vics-2", "caid-7", "uk-b", "no-category", "nsrl", "nowhere")
] + [{"md5": "bad"}, {}]


def graded_rows(snapshot: Snapshot, **kwargs: Any) -> list[dict[str, Any]]:
    columns: dict[str, list[Any]] = {"line": list(range(1, len(GRADED_ROWS) + 1))}
    columns["md5"] = [row.get("md5") for row in GRADED_ROWS]
    rows: list[dict[str, Any]] = (
        Matcher(snapshot, **kwargs).match(parse_batch(make_batch(columns))).to_pylist()
    )
    return rows


def test_without_map_to_no_match_is_mapped(graded: Snapshot) -> None:
    for row in graded_rows(graded):
        assert '"mapped"' not in (row["matches"] or "")


def test_map_to_adds_the_suggestion_beside_the_labels(graded: Snapshot) -> None:
    rows = graded_rows(graded, map_to="uk")
    assert [r["verdict"] for r in rows] == [
        "known",
        "known",
        "known",
        "known",
        "known",
        "known_benign",
        "unknown",
        "invalid",
        "not_assessable",
    ]
    ncmec, vics, caid, uk, no_category, nsrl = (matches_of(r) for r in rows[:6])
    assert [(m["list"], m["labels"], m["mapped"]) for m in ncmec] == [
        (
            "graded-list",
            LABELLED["ncmec-a1"],
            {"scheme": "uk", "category": ["A", "B"], "crosswalk": "ncmec-to-uk@1"},
        ),
        (
            "other-list",
            {"scheme": "vics-us", "category": 1, "decoy": False},
            {"scheme": "uk", "category": ["A", "B", "C"], "crosswalk": "vics-us-to-uk@1"},
        ),
    ]
    assert vics[0]["mapped"] == {
        "scheme": "uk",
        "category": [],
        "crosswalk": "vics-us-to-uk@1",
        "review": "vics-us 2 has no equivalent in uk",
    }
    assert caid[0]["mapped"] == {
        "scheme": "uk",
        "category": ["A"],
        "crosswalk": "category-table UK@2026-01",
    }
    # the digest is on the benign list too: only the graded match has a category to map
    assert [(m["list"], m.get("mapped")) for m in uk] == [
        ("graded-list", {"scheme": "uk", "category": ["B"], "crosswalk": "identity"}),
        ("benign-list", None),
    ]
    assert "mapped" not in no_category[0]
    assert "mapped" not in nsrl[0]
    assert [r["matches"] for r in rows[6:]] == [None, None, None]


def test_mapping_leaves_labels_and_verdicts_byte_identical(graded: Snapshot) -> None:
    plain = graded_rows(graded)
    for target in ("uk", "hashmatch-disposition", "vics-us"):
        mapped = graded_rows(graded, map_to=target)
        for before, after in zip(plain, mapped, strict=True):
            assert {k: v for k, v in after.items() if k != "matches"} == {
                k: v for k, v in before.items() if k != "matches"
            }
            if before["matches"] is None:
                assert after["matches"] is None
                continue
            items = json.loads(after["matches"])
            for item in items:
                # each labels object is written exactly as without mapping
                labels = json.dumps(
                    item["labels"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
                )
                assert f'"labels":{labels}' in before["matches"]
                assert f'"labels":{labels}' in after["matches"]
                item.pop("mapped", None)
            canonical = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            assert canonical == before["matches"]


def test_a_disposition_can_be_asked_for(graded: Snapshot) -> None:
    rows = graded_rows(graded, map_to="hashmatch-disposition")
    assert [m["mapped"]["category"] for m in matches_of(rows[0])] == [["alert"], ["alert"]]
    assert matches_of(rows[1])[0]["mapped"]["category"] == ["alert"]
    assert matches_of(rows[2])[0]["mapped"] == {
        "scheme": "hashmatch-disposition",
        "category": [],
        "review": "no crosswalk from vics-uk to hashmatch-disposition",
    }


def test_an_unknown_target_is_refused_before_any_row_is_matched(graded: Snapshot) -> None:
    with pytest.raises(InputError) as caught:
        Matcher(graded, map_to="scotland")
    assert caught.value.reason == (
        "no crosswalk maps to 'scotland'; available targets: hashmatch-disposition, uk, vics-us"
    )


def test_the_matcher_uses_the_crosswalks_it_is_given(graded: Snapshot, tmp_path: Path) -> None:
    own = tmp_path / "ncmec-to-uk.json"
    own.write_text(
        json.dumps(
            {
                "format": "hashmatch-crosswalk/1",
                "from": "ncmec",
                "to": "uk",
                "version": "7",
                "title": "local",
                "map": {"A1": ["A"]},
            }
        ),
        "utf-8",
    )
    matcher = Matcher(graded, map_to="uk", crosswalks=load_crosswalks([own]))
    assert matcher.map_to == "uk"
    batch = parse_batch(make_batch({"line": [1], "md5": [hexof("md5", "ncmec-a1")]}))
    [row] = matcher.match(batch).to_pylist()
    assert matches_of(row)[0]["mapped"] == {
        "scheme": "uk",
        "category": ["A"],
        "crosswalk": "ncmec-to-uk@7",
    }
