"""hashmatch.exchange_sync: the page journal, resolving changes, merging them, credentials.

What a user would notice: a list version made from an exchange's changes holds exactly the
entries the exchange holds (the property test holds :func:`resolve` and :func:`merge` to a
plain dict that applies the changes one by one), a fetch killed mid-way finds its journal as
it recorded it, and a password never shows in any message.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.errors import ConfigurationError
from hashmatch.exchange import UPDATE_SCHEMA, ExchangeCredentials, ExchangePage
from hashmatch.exchange_sync import Journal, merge, read_access, resolve
from hashmatch.model import RecordWarning
from hashmatch.records import ENTRY_SCHEMA, decode_labels, encode_labels

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
PASSWORD = "pw-Synthetic-9f3Kq!"  # synthetic: the tests look for it

ODD_KEYS = ['q"uote', "back\\slash", "émile-✓", "line\u2028sep", "tab\tnew\nline", "k1", "k10"]
"""Keys that JSON escapes, or that are prefixes of each other."""

Change = tuple[str, int, str, int, str]
"""(key, seconds after T0, kind: ``update``/``bare``/``tombstone``, md5 number, category)."""


def md5(n: int) -> str:
    return hashlib.md5(f"synthetic-fixture-{n:03d}".encode()).hexdigest()


def updates(rows: Sequence[Change], *, with_keys: bool = True) -> pa.Table:
    """An UPDATE_SCHEMA table of changes; ``bare`` is an update without digests."""
    columns: dict[str, list[Any]] = {name: [] for name in UPDATE_SCHEMA.names}
    for key, seconds, kind, number, category in rows:
        labels = {"category": category, **({"source_id": key} if with_keys else {})}
        columns["key"].append(key)
        columns["timestamp"].append(T0 + timedelta(seconds=seconds))
        columns["deleted"].append(kind == "tombstone")
        columns["md5"].append(md5(number) if kind == "update" else None)
        columns["sha1"].append(None)
        columns["sha256"].append(None)
        columns["labels"].append(None if kind == "tombstone" else encode_labels(labels))
    return pa.Table.from_pydict(columns, schema=UPDATE_SCHEMA)


def page(rows: Sequence[Change], **overrides: Any) -> ExchangePage:
    table = updates(rows)
    batch = (
        table.combine_chunks().to_batches()[0]
        if table.num_rows
        else pa.RecordBatch.from_pylist([], schema=UPDATE_SCHEMA)
    )
    fields: dict[str, Any] = {"updates": batch, "cursor": {"next": "2"}, "sha256": "ab" * 32}
    fields.update(overrides)
    return ExchangePage(**fields)


def base_rows(rows: Sequence[tuple[str | None, int, str]]) -> pa.RecordBatch:
    """ENTRY_SCHEMA rows of an earlier version: (key or None, md5 number, category)."""
    columns: dict[str, list[Any]] = {name: [] for name in ENTRY_SCHEMA.names}
    for line, (key, number, category) in enumerate(rows, 1):
        labels: dict[str, Any] = {"category": category}
        if key is not None:
            labels["source_id"] = key
        columns["line"].append(line)
        columns["md5"].append(bytes.fromhex(md5(number)))
        columns["sha1"].append(None)
        columns["sha256"].append(None)
        columns["size"].append(None)
        columns["name"].append(None)
        columns["labels"].append(encode_labels(labels))
    return pa.RecordBatch.from_pydict(columns, schema=ENTRY_SCHEMA)


Row = tuple[str | None, str, str]
"""(source_id, md5 hex, category) of one row of a version."""


def merged_rows(base: Sequence[pa.RecordBatch], latest: pa.Table) -> list[Row]:
    """The rows of the version :func:`merge` makes, sorted."""
    result = merge(base, latest)
    rows: list[Row] = []
    for batch in result.kept:
        for item in batch.to_pylist():
            labels = decode_labels(item["labels"])
            rows.append((labels.get("source_id"), item["md5"].hex(), labels["category"]))
    for item in result.records.to_pylist():
        labels = decode_labels(item["labels"])
        rows.append((labels.get("source_id"), item["md5"].lower(), labels["category"]))
    return sorted(rows, key=repr)


# resolve


def keys_and_md5(table: pa.Table) -> list[tuple[str, str | None, bool]]:
    return list(
        zip(
            table.column("key").to_pylist(),
            table.column("md5").to_pylist(),
            table.column("deleted").to_pylist(),
            strict=True,
        )
    )


def test_the_latest_timestamp_wins_whatever_the_fetch_order() -> None:
    latest = resolve(
        [updates([("a", 20, "update", 2, "A1"), ("b", 5, "update", 3, "A1")]),
         updates([("a", 10, "update", 1, "A1"), ("b", 6, "update", 4, "A1")])]
    )  # fmt: skip
    assert keys_and_md5(latest) == [("a", md5(2), False), ("b", md5(4), False)]
    assert latest.schema.remove_metadata() == UPDATE_SCHEMA.remove_metadata()


def test_between_equal_timestamps_the_change_fetched_last_wins() -> None:
    within_a_page = resolve([updates([("a", 5, "update", 1, "A1"), ("a", 5, "update", 2, "B1")])])
    assert keys_and_md5(within_a_page) == [("a", md5(2), False)]
    across_pages = resolve(
        [updates([("a", 5, "update", 3, "A1")]), updates([("a", 5, "update", 4, "A2")])]
    )
    assert keys_and_md5(across_pages) == [("a", md5(4), False)]


def test_a_tombstone_after_an_update_withdraws_and_an_update_after_it_restores() -> None:
    withdrawn = resolve([updates([("a", 1, "update", 1, "A1"), ("a", 2, "tombstone", 0, "")])])
    assert keys_and_md5(withdrawn) == [("a", None, True)]
    restored = resolve(
        [updates([("a", 2, "tombstone", 0, "")]), updates([("a", 3, "update", 5, "B2")])]
    )
    assert keys_and_md5(restored) == [("a", md5(5), False)]
    late_tombstone = resolve(
        [updates([("a", 9, "tombstone", 0, "")]), updates([("a", 3, "update", 5, "B2")])]
    )
    assert keys_and_md5(late_tombstone) == [("a", None, True)]


def test_winners_come_in_the_order_they_were_fetched() -> None:
    latest = resolve(
        [updates([("c", 1, "update", 1, "A1"), ("a", 1, "update", 2, "A1")]),
         updates([("b", 0, "update", 3, "A1"), ("c", 2, "update", 4, "A1")])]
    )  # fmt: skip
    assert latest.column("key").to_pylist() == ["a", "b", "c"]


def test_nothing_fetched_resolves_to_no_changes() -> None:
    assert resolve([]).num_rows == 0
    empty = resolve([updates([]), updates([])])
    assert empty.num_rows == 0
    assert empty.schema.names == UPDATE_SCHEMA.names


# merge


def test_merge_keeps_unchanged_keys_and_replaces_changed_ones() -> None:
    base = [base_rows([("a", 1, "A1"), ("b", 2, "A2"), ("c", 3, "B1")])]
    latest = resolve([updates([("b", 1, "update", 20, "B2"), ("d", 1, "update", 4, "A1")])])
    result = merge(base, latest)
    assert (result.updates, result.tombstones, result.replaced) == (2, 0, 1)
    assert result.keys == ["b", "d"]
    assert merged_rows(base, latest) == sorted(
        [("a", md5(1), "A1"), ("c", md5(3), "B1"), ("b", md5(20), "B2"), ("d", md5(4), "A1")],
        key=repr,
    )


def test_tombstones_and_updates_without_digests_withdraw_their_key() -> None:
    base = [base_rows([("a", 1, "A1"), ("b", 2, "A2"), ("c", 3, "B1")])]
    latest = resolve([updates([("a", 1, "tombstone", 0, ""), ("b", 1, "bare", 0, "A2")])])
    result = merge(base, latest)
    assert (result.updates, result.tombstones, result.replaced) == (1, 1, 2)
    assert result.records.num_rows == 0
    assert merged_rows(base, latest) == [("c", md5(3), "B1")]


def test_a_tombstone_for_an_unknown_key_changes_nothing() -> None:
    base = [base_rows([("a", 1, "A1")])]
    latest = resolve([updates([("zz", 1, "tombstone", 0, "")])])
    assert merge(base, latest).replaced == 0
    assert merged_rows(base, latest) == [("a", md5(1), "A1")]


def test_a_digest_shared_by_two_keys_stays_under_the_other_key() -> None:
    base = [base_rows([("a", 7, "A1"), ("b", 7, "B2")])]
    latest = resolve([updates([("a", 1, "tombstone", 0, "")])])
    assert merged_rows(base, latest) == [("b", md5(7), "B2")]


def test_rows_without_a_source_id_are_kept() -> None:
    base = [base_rows([(None, 1, "A1"), ("a", 2, "A2")])]
    latest = resolve([updates([("a", 1, "tombstone", 0, "")])])
    assert merged_rows(base, latest) == [(None, md5(1), "A1")]


def test_every_row_of_a_key_is_dropped_across_batches() -> None:
    base = [base_rows([("a", 1, "A1"), ("b", 2, "A1")]), base_rows([("a", 3, "A2")])]
    latest = resolve([updates([("a", 1, "update", 9, "B1")])])
    assert merge(base, latest).replaced == 2
    assert merged_rows(base, latest) == sorted([("b", md5(2), "A1"), ("a", md5(9), "B1")], key=repr)


@pytest.mark.parametrize("key", ODD_KEYS)
def test_keys_with_characters_json_escapes_are_matched_exactly(key: str) -> None:
    others = [k for k in ODD_KEYS if k != key]
    base = [base_rows([(k, n, "A1") for n, k in enumerate(ODD_KEYS)])]
    latest = resolve([updates([(key, 1, "update", 99, "B2")])])
    result = merge(base, latest)
    assert result.replaced == 1
    rows = merged_rows(base, latest)
    assert (key, md5(99), "B2") in rows
    assert sorted(r[0] or "" for r in rows) == sorted([*others, key])


def test_updates_get_their_key_as_source_id_when_the_client_left_it_out() -> None:
    latest = resolve([updates([('é"k', 1, "update", 1, "A1")], with_keys=False)])
    result = merge([], latest)
    assert decode_labels(result.records.column("labels")[0].as_py()) == {
        "category": "A1",
        "source_id": 'é"k',
    }
    # ...and the next merge finds the row by that key.
    stored = base_rows([('é"k', 1, "A1")])
    again = merge([stored], resolve([updates([('é"k', 2, "tombstone", 0, "")])]))
    assert again.replaced == 1


def test_a_source_id_the_client_got_wrong_is_set_to_the_key() -> None:
    wrong = updates([("right", 1, "update", 1, "A1")]).set_column(
        UPDATE_SCHEMA.get_field_index("labels"),
        UPDATE_SCHEMA.field("labels"),
        pa.array([encode_labels({"category": "A1", "source_id": "wrong"})]),
    )
    result = merge([], resolve([wrong]))
    assert decode_labels(result.records.column("labels")[0].as_py())["source_id"] == "right"


def test_a_label_named_like_source_id_does_not_hide_the_key() -> None:
    """A label whose name ends in ``"source_id`` sorts first in canonical JSON."""
    labels = encode_labels({'a"source_id': "decoy", "source_id": "real"})
    assert labels is not None
    assert labels.index("decoy") < labels.index('"real"')
    batch = base_rows([("real", 1, "A1")])
    batch = batch.set_column(
        ENTRY_SCHEMA.get_field_index("labels"), ENTRY_SCHEMA.field("labels"), pa.array([labels])
    )
    withdrawn = merge([batch], resolve([updates([("real", 1, "tombstone", 0, "")])]))
    assert withdrawn.replaced == 1
    decoy = merge([batch], resolve([updates([("decoy", 1, "tombstone", 0, "")])]))
    assert decoy.replaced == 0


# resolve + merge against a plain dict that applies the changes one by one

_KEYS = st.sampled_from(["a", "b", "c", *ODD_KEYS])
_changes = st.lists(
    st.tuples(
        _KEYS,
        st.integers(0, 4),
        st.sampled_from(["update", "update", "bare", "tombstone"]),
        st.integers(1, 6),
        st.sampled_from(["A1", "A2", "B1", "B2"]),
    ),
    max_size=30,
)
_base = st.lists(
    st.tuples(st.none() | _KEYS, st.integers(1, 6), st.sampled_from(["A1", "A2", "B1", "B2"])),
    max_size=12,
)


def reference(base: Sequence[tuple[str | None, int, str]], changes: Sequence[Change]) -> list[Row]:
    """What the next version holds: the base's rows, then each change in (time, fetch) order."""
    by_key: dict[str | None, list[Row]] = {}
    for key, number, category in base:
        by_key.setdefault(key, []).append((key, md5(number), category))
    ordered = sorted(enumerate(changes), key=lambda item: (item[1][1], item[0]))
    for _, (key, _seconds, kind, number, category) in ordered:
        by_key[key] = [(key, md5(number), category)] if kind == "update" else []
    return sorted((row for rows in by_key.values() for row in rows), key=repr)


@given(
    base=_base,
    changes=_changes,
    cuts=st.lists(st.integers(0, 30), max_size=5),
    with_keys=st.booleans(),
)
@example(
    base=[("a", 1, "A1"), ("b", 1, "A2")],
    changes=[("a", 1, "tombstone", 1, "A1"), ("a", 1, "update", 2, "B1")],
    cuts=[1],
    with_keys=True,
)
@example(
    base=[('q"uote', 1, "A1")],
    changes=[('q"uote', 3, "update", 2, "B1"), ('q"uote', 2, "tombstone", 1, "A1")],
    cuts=[1],
    with_keys=False,
)
def test_resolve_and_merge_apply_changes_like_a_dict(
    base: list[tuple[str | None, int, str]],
    changes: list[Change],
    cuts: list[int],
    with_keys: bool,
) -> None:
    bounds = [0, *sorted(min(c, len(changes)) for c in cuts), len(changes)]
    pages = [
        updates(changes[start:end], with_keys=with_keys)
        for start, end in itertools.pairwise(bounds)
    ]
    base_batches = [base_rows(base[: len(base) // 2]), base_rows(base[len(base) // 2 :])]
    latest = resolve(pages)
    assert merged_rows(base_batches, latest) == reference(base, changes)
    result = merge(base_batches, latest)
    last: dict[str, str] = {}
    for _, (key, _seconds, kind, _n, _c) in sorted(
        enumerate(changes), key=lambda item: (item[1][1], item[0])
    ):
        last[key] = kind
    assert result.tombstones == sum(kind == "tombstone" for kind in last.values())
    assert result.updates == len(last) - result.tombstones
    assert sorted(result.keys) == sorted(last)


# The journal


def test_pages_are_read_back_in_order_with_their_digest_and_warnings(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    warning = RecordWarning(source="GET /v2/entries?page=2", line=7, reason="bad md5")
    journal.write(0, page([("a", 1, "update", 1, "A1")], sha256="01" * 32))
    journal.write(1, page([], sha256="02" * 32, source="GET /v2/entries?page=2"))
    journal.write(2, page([("b", 2, "tombstone", 0, "")], sha256="03" * 32, warnings=(warning,)))
    tables = list(journal.tables(3))
    assert [t.column("key").to_pylist() for t in tables] == [["a"], [], ["b"]]
    assert all(t.schema.names == UPDATE_SCHEMA.names for t in tables)
    expected = hashlib.sha256("\n".join(["01" * 32, "02" * 32, "03" * 32]).encode()).hexdigest()
    assert journal.digest(3) == expected
    assert journal.digest(2) != expected
    assert journal.warnings(3) == [("GET /v2/entries?page=2", 7, "bad md5")]


def test_a_warning_without_a_line_keeps_none(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    warning = RecordWarning(source="GET /v2/entries", line=None, reason="clock skew")
    journal.write(0, page([], warnings=(warning,)))
    assert journal.warnings(1) == [("GET /v2/entries", None, "clock skew")]


def test_writing_a_page_again_replaces_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    journal.write(0, page([("a", 1, "update", 1, "A1")]))
    journal.write(0, page([("b", 1, "update", 2, "A1")]))
    assert [t.column("key").to_pylist() for t in journal.tables(1)] == [["b"]]


def test_trim_removes_pages_written_past_the_recorded_count(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    for number in range(4):
        journal.write(number, page([(f"k{number}", 1, "update", 1, "A1")]))
    (journal.folder / "page-00000009.parquet").write_bytes(b"half-written")
    journal.trim(2)
    assert sorted(p.name for p in journal.folder.iterdir()) == [
        "page-00000000.parquet",
        "page-00000001.parquet",
    ]
    assert [t.column("key").to_pylist() for t in journal.tables(2)] == [["k0"], ["k1"]]
    with pytest.raises(ConfigurationError, match="page 2 of the journal is missing"):
        list(journal.tables(3))


def test_partial_files_are_ignored_and_swept(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    journal.write(0, page([("a", 1, "update", 1, "A1")]))
    stray = journal.folder / ".page-00000001.parquet.4242.partial"
    stray.write_bytes(b"not parquet")
    assert [t.num_rows for t in journal.tables(1)] == [1]
    journal.trim(1)
    assert not stray.exists()
    assert (journal.folder / "page-00000000.parquet").exists()


def test_a_write_that_fails_leaves_neither_page_nor_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "journal")
    journal.write(0, page([("a", 1, "update", 1, "A1")]))

    def refuse(src: object, dst: object) -> None:
        raise OSError("disk full (synthetic)")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        journal.write(1, page([("b", 1, "update", 1, "A1")]))
    monkeypatch.undo()
    assert sorted(p.name for p in journal.folder.iterdir()) == ["page-00000000.parquet"]


def test_clear_removes_every_page_and_a_missing_folder_is_empty(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    journal.clear()  # no folder yet: nothing to do
    journal.write(0, page([]))
    journal.write(1, page([]))
    journal.clear()
    assert list(journal.folder.iterdir()) == []
    assert list(journal.tables(0)) == []


def test_the_journal_keeps_what_the_page_sent(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    journal.write(0, page([("a", 3, "update", 1, "A1")], source="GET /v2/entries?from=x"))
    metadata = pq.read_schema(journal.folder / "page-00000000.parquet").metadata or {}
    assert metadata[b"source"] == b"GET /v2/entries?from=x"
    table = next(journal.tables(1))
    assert table.column("timestamp").to_pylist() == [T0 + timedelta(seconds=3)]
    assert decode_labels(table.column("labels")[0].as_py()) == {"category": "A1", "source_id": "a"}


# read_access


def credentials_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "exchange-credentials.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_the_exchanges_table_in_the_file_wins_over_the_settings(tmp_path: Path) -> None:
    path = credentials_file(
        tmp_path,
        f'[fakex-test]\nusername = "member-1"\npassword = "{PASSWORD}"\n'
        'api_root = "https://mirror.invalid/api"\n\n'
        '[fakex-other]\nusername = "member-2"\npassword = "other"\n',
    )
    access = read_access("fakex-test", credentials_file=path, username="env-user", password="env")
    assert access.credentials == ExchangeCredentials(username="member-1", password=PASSWORD)
    assert access.api_root == "https://mirror.invalid/api"
    other = read_access("fakex-other", credentials_file=path, username=None, password=None)
    assert other.credentials.username == "member-2"
    assert other.api_root is None


@pytest.mark.parametrize("present", [True, False])
def test_the_settings_are_used_when_the_file_has_no_table_for_the_exchange(
    tmp_path: Path, present: bool
) -> None:
    path = (
        credentials_file(tmp_path, '[fakex-other]\nusername = "u"\npassword = "p"\n')
        if present
        else tmp_path / "absent.toml"
    )
    access = read_access("fakex-test", credentials_file=path, username="env", password=PASSWORD)
    assert access.credentials == ExchangeCredentials(username="env", password=PASSWORD)
    assert access.api_root is None
    assert read_access("fakex-test", credentials_file=None, username="env", password="x")


@pytest.mark.parametrize(("username", "password"), [(None, None), ("env", None), (None, "pw")])
def test_no_credentials_is_a_configuration_error_naming_the_settings(
    tmp_path: Path, username: str | None, password: str | None
) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigurationError) as caught:
        read_access("fakex-test", credentials_file=path, username=username, password=password)
    message = str(caught.value)
    assert "HASHMATCH_EXCHANGE_USERNAME" in message
    assert "[fakex-test]" in message
    assert "command line" in message


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = credentials_file(
        tmp_path, f'[fakex-test]\nusername = "u"\npassword = "{PASSWORD}"\n', mode
    )
    with pytest.raises(ConfigurationError, match="chmod 600") as caught:
        read_access("fakex-test", credentials_file=path, username="env", password="env")
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f'[fakex-test]\nusername = "u"\npassword = {PASSWORD}\n', "not a valid TOML file"),
        (f'[fakex-test]\nusername = "u"\npassword = "{PASSWORD}\n', "not a valid TOML file"),
        (f'[fakex-test]\npassword = "{PASSWORD}"\n', "needs a username and a password"),
        ('[fakex-test]\nusername = "u"\npassword = ""\n', "needs a username and a password"),
        ('[fakex-test]\nusername = "u"\npassword = 12345\n', "needs a username and a password"),
        (f'[fakex-test]\nusername = "u"\npasword = "{PASSWORD}"\n', "needs a username"),
        (
            f'[fakex-test]\nusername = "u"\npassword = "p"\nsecret = "{PASSWORD}"\n',
            "unknown keys: secret",
        ),
        ('[fakex-test]\nusername = "u"\npassword = "p"\napi_root = 443\n', "api_root must be text"),
        (f'fakex-test = "{PASSWORD}"\n', "is not a table"),
    ],
)
def test_a_bad_file_says_what_is_wrong_and_never_shows_the_password(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = credentials_file(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        read_access("fakex-test", credentials_file=path, username="env", password="env")
    message = str(caught.value)
    assert reason in message
    assert str(path) in message
    assert PASSWORD not in message
    assert "12345" not in message
    chained = caught.value.__cause__ or caught.value.__context__
    assert chained is None or PASSWORD not in str(chained)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "exchange-credentials.toml"
    path.write_bytes(b'[fakex-test]\nusername = "u"\npassword = "\xff\xfe"\n')
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="not a valid TOML file"):
        read_access("fakex-test", credentials_file=path, username=None, password=None)


def test_credentials_never_print_their_password() -> None:
    credentials = ExchangeCredentials(username="member-1", password=PASSWORD)
    for text in (
        repr(credentials),
        str(credentials),
        f"{credentials}",
        json.dumps(str(credentials)),
    ):
        assert PASSWORD not in text
        assert "member-1" in text


def test_a_credentials_file_that_cannot_be_read_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "exchange-credentials.toml"
    folder.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError, match="cannot read the credentials file") as caught:
        read_access("fakex-test", credentials_file=folder, username=None, password=None)
    assert caught.value.source == str(folder)
