"""The Catalog contract, run against both implementations: every method and every error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hashmatch.errors import Conflict, NotFound
from hashmatch.model import (
    ListInfo,
    ListPolicy,
    ListVersionInfo,
    Purpose,
    RunInfo,
    TrustedKey,
    UpdateMode,
    Verdict,
    Vetting,
)
from hashmatch.store import Catalog, VerdictRecord

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
VersionFactory = Callable[..., ListVersionInfo]  # the make_version fixture (conftest.py)
RunFactory = Callable[..., RunInfo]  # the make_run fixture (conftest.py)


def _create(catalog: Catalog, name: str, **overrides: object) -> ListInfo:
    fields: dict[str, object] = {
        "name": name,
        "purpose": Purpose.CONCERN,
        "description": f"synthetic list {name}",
        "created_by": "curator",
        "created_at": T0,
    }
    fields.update(overrides)
    return catalog.create_list(**fields)  # type: ignore[arg-type]


# Lists


def test_create_list_returns_what_get_list_and_lists_give(catalog: Catalog) -> None:
    created = _create(catalog, "caid", purpose=Purpose.CONCERN, description="graded")
    assert created == ListInfo(
        name="caid",
        purpose=Purpose.CONCERN,
        description="graded",
        created_by="curator",
        created_at=T0,
        active_version=None,
    )
    assert catalog.get_list("caid") == created
    assert catalog.lists() == [created]


def test_lists_are_sorted_by_name_in_code_point_order(catalog: Catalog) -> None:
    for name in ["nsrl", "Zeta", "émile", "caid", "a b"]:
        _create(catalog, name)
    assert [info.name for info in catalog.lists()] == ["Zeta", "a b", "caid", "nsrl", "émile"]


def test_lists_is_empty_for_a_new_catalog(catalog: Catalog) -> None:
    assert catalog.lists() == []


def test_create_list_twice_is_a_conflict_and_keeps_the_first(catalog: Catalog) -> None:
    first = _create(catalog, "caid", purpose=Purpose.CONCERN)
    with pytest.raises(Conflict, match="caid"):
        _create(catalog, "caid", purpose=Purpose.BENIGN, description="other")
    assert catalog.lists() == [first]


def test_get_list_of_an_unknown_name_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.get_list("nope")


def test_naive_datetimes_are_refused_and_nothing_is_stored(
    catalog: Catalog, make_version: VersionFactory, make_run: RunFactory
) -> None:
    naive = datetime(2025, 1, 1, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        _create(catalog, "caid", created_at=naive)
    assert catalog.lists() == []
    _create(catalog, "caid")
    with pytest.raises(ValueError, match="naive"):
        catalog.add_version(make_version("caid", 1, loaded_at=naive))
    assert catalog.versions("caid") == []
    with pytest.raises(ValueError, match="naive"):
        catalog.add_run(make_run("r1", started_at=naive))
    assert catalog.runs() == []


# Versions


def test_next_version_number_starts_at_one_and_follows_the_highest(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    assert catalog.next_version_number("caid") == 1
    catalog.add_version(make_version("caid", 1))
    assert catalog.next_version_number("caid") == 2
    catalog.add_version(make_version("caid", 5))
    assert catalog.next_version_number("caid") == 6


def test_version_numbers_are_per_list(catalog: Catalog, make_version: VersionFactory) -> None:
    _create(catalog, "caid")
    _create(catalog, "nsrl", purpose=Purpose.BENIGN)
    catalog.add_version(make_version("caid", 1))
    catalog.add_version(make_version("nsrl", 1, purpose=Purpose.BENIGN))
    assert catalog.next_version_number("caid") == 2
    assert catalog.next_version_number("nsrl") == 2


def test_next_version_number_of_an_unknown_list_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.next_version_number("nope")


def test_get_version_gives_back_every_field(catalog: Catalog, make_version: VersionFactory) -> None:
    _create(catalog, "caid")
    version = make_version("caid", 1)
    catalog.add_version(version)
    assert catalog.get_version("caid-v1") == replace(version, active=True)


def test_add_version_activates_it_and_deactivates_the_previous(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    catalog.add_version(make_version("caid", 1))
    assert catalog.get_list("caid").active_version == 1
    catalog.add_version(make_version("caid", 2))
    assert catalog.get_list("caid").active_version == 2
    assert [(v.number, v.active) for v in catalog.versions("caid")] == [(1, False), (2, True)]
    assert [v.version_id for v in catalog.active_versions()] == ["caid-v2"]
    assert catalog.get_version("caid-v1").active is False


def test_add_version_without_activate_keeps_the_active_one(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    catalog.add_version(make_version("caid", 1), activate=False)
    assert catalog.get_list("caid").active_version is None
    assert catalog.active_versions() == []
    catalog.add_version(make_version("caid", 2))
    catalog.add_version(make_version("caid", 3), activate=False)
    assert catalog.get_list("caid").active_version == 2
    assert [(v.number, v.active) for v in catalog.versions("caid")] == [
        (1, False),
        (2, True),
        (3, False),
    ]


def test_the_active_flag_of_the_argument_is_ignored(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    catalog.add_version(make_version("caid", 1, active=True), activate=False)
    assert catalog.get_version("caid-v1").active is False


def test_a_duplicate_number_is_a_conflict_and_the_active_version_still_serves(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    catalog.add_version(make_version("caid", 1))
    catalog.add_version(make_version("caid", 2))
    before = catalog.versions("caid")
    with pytest.raises(Conflict, match="caid"):
        catalog.add_version(make_version("caid", 2, version_id="another-id"))
    assert catalog.versions("caid") == before
    assert catalog.get_list("caid").active_version == 2
    assert [v.version_id for v in catalog.active_versions()] == ["caid-v2"]
    with pytest.raises(NotFound):
        catalog.get_version("another-id")


def test_a_duplicate_version_id_is_a_conflict_even_in_another_list(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    _create(catalog, "other")
    catalog.add_version(make_version("caid", 1, version_id="same"))
    with pytest.raises(Conflict, match="same"):
        catalog.add_version(make_version("other", 1, version_id="same"))
    assert catalog.versions("other") == []
    assert catalog.get_list("other").active_version is None
    assert catalog.get_version("same").list_name == "caid"


def test_add_version_to_an_unknown_list_is_not_found(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.add_version(make_version("nope", 1))
    with pytest.raises(NotFound):
        catalog.get_version("nope-v1")


def test_versions_of_an_unknown_list_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.versions("nope")


def test_versions_come_by_number_whatever_the_insert_order(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    for number in (3, 1, 10, 2):
        catalog.add_version(make_version("caid", number), activate=False)
    assert [v.number for v in catalog.versions("caid")] == [1, 2, 3, 10]


def test_get_version_of_an_unknown_id_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.get_version("nope")


def test_active_versions_are_sorted_by_list_name(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    for name in ("vics", "caid", "nsrl", "idle"):
        _create(catalog, name)
        if name != "idle":
            catalog.add_version(make_version(name, 1))
    assert [v.list_name for v in catalog.active_versions()] == ["caid", "nsrl", "vics"]


# Snapshots


def test_record_snapshot_is_idempotent_and_ids_come_oldest_first(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "caid")
    catalog.add_version(make_version("caid", 1))
    assert catalog.snapshot_ids() == []
    catalog.record_snapshot("s-late", built_at=T0 + timedelta(hours=1), path="p2", version_ids=[])
    catalog.record_snapshot("s-b", built_at=T0, path="p1", version_ids=["caid-v1"])
    catalog.record_snapshot("s-a", built_at=T0, path="p1", version_ids=["caid-v1"])
    catalog.record_snapshot("s-b", built_at=T0, path="p1", version_ids=["caid-v1"])
    catalog.record_snapshot("s-late", built_at=T0 - timedelta(days=9), path="x", version_ids=[])
    assert catalog.snapshot_ids() == ["s-a", "s-b", "s-late"]


def test_a_snapshot_of_unknown_versions_is_not_found_and_not_recorded(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="ghost"):
        catalog.record_snapshot("s1", built_at=T0, path="p", version_ids=["ghost"])
    assert catalog.snapshot_ids() == []


# Runs


def test_add_run_and_get_run_round_trip_every_field(catalog: Catalog, make_run: RunFactory) -> None:
    run = make_run("r1", finished_at=T0 + timedelta(seconds=5), counts={"known": 1, "total": 1})
    catalog.add_run(run)
    assert catalog.get_run("r1") == run
    assert catalog.runs() == [run]


def test_add_run_twice_is_a_conflict_and_keeps_the_first(
    catalog: Catalog, make_run: RunFactory
) -> None:
    first = make_run("r1")
    catalog.add_run(first)
    with pytest.raises(Conflict, match="r1"):
        catalog.add_run(make_run("r1", case_ref="CASE-0002"))
    assert catalog.runs() == [first]


def test_get_run_of_an_unknown_id_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.get_run("nope")


def test_finish_run_records_end_and_counts_once(catalog: Catalog, make_run: RunFactory) -> None:
    catalog.add_run(make_run("r1"))
    assert catalog.get_run("r1").finished_at is None
    assert catalog.get_run("r1").counts == {}
    end = T0 + timedelta(minutes=3, microseconds=7)
    catalog.finish_run("r1", finished_at=end, counts={"unknown": 2, "known": 1, "total": 3})
    finished = catalog.get_run("r1")
    assert finished.finished_at == end
    assert finished.counts == {"unknown": 2, "known": 1, "total": 3}
    with pytest.raises(Conflict, match="r1"):
        catalog.finish_run("r1", finished_at=end + timedelta(hours=1), counts={})
    assert catalog.get_run("r1") == finished


def test_counts_keyed_by_verdict_come_back_with_plain_string_keys(
    catalog: Catalog, make_run: RunFactory
) -> None:
    catalog.add_run(make_run("r1", counts={Verdict.UNKNOWN: 0}))
    assert [type(key) for key in catalog.get_run("r1").counts] == [str]
    catalog.finish_run("r1", finished_at=T0, counts={Verdict.KNOWN: 2, "total": 2})
    counts = catalog.get_run("r1").counts
    assert counts == {"known": 2, "total": 2}
    assert {type(key) for key in counts} == {str}


def test_finish_run_of_an_unknown_id_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.finish_run("nope", finished_at=T0, counts={})


def test_runs_come_newest_first_then_by_id_descending(
    catalog: Catalog, make_run: RunFactory
) -> None:
    catalog.add_run(make_run("old", started_at=T0 - timedelta(days=1)))
    catalog.add_run(make_run("new-a", started_at=T0))
    catalog.add_run(make_run("newest", started_at=T0 + timedelta(microseconds=1)))
    catalog.add_run(make_run("new-b", started_at=T0))
    assert [run.run_id for run in catalog.runs()] == ["newest", "new-b", "new-a", "old"]


def test_changing_returned_counts_does_not_change_the_store(
    catalog: Catalog, make_run: RunFactory
) -> None:
    counts = {"total": 0}
    catalog.add_run(make_run("r1", counts=counts))
    counts["total"] = 99
    catalog.get_run("r1").counts["total"] = 42
    catalog.runs()[0].counts["total"] = 42
    assert catalog.get_run("r1").counts == {"total": 0}


# Verdicts


def _record(row: int, verdict: Verdict = Verdict.UNKNOWN, **fields: str | None) -> VerdictRecord:
    return VerdictRecord(row=row, verdict=verdict, **fields)  # type: ignore[arg-type]


def test_verdicts_round_trip_every_field_in_row_order(
    catalog: Catalog, make_run: RunFactory
) -> None:
    catalog.add_run(make_run("r1"))
    later = [
        _record(3, Verdict.INVALID, reason="wrong length for md5", path="/evidence/é x.jpg"),
        _record(2, Verdict.NOT_ASSESSABLE, reason="zero-length file"),
    ]
    earlier = [
        _record(0, Verdict.KNOWN, labels='{"caid":{"category":"C"}}', path="a.jpg"),
        _record(1, Verdict.KNOWN_BENIGN, labels='{"nsrl":{}}'),
    ]
    catalog.add_verdicts("r1", later)
    catalog.add_verdicts("r1", earlier)
    catalog.add_verdicts("r1", [])
    assert catalog.verdicts("r1") == [*earlier, *reversed(later)]


def test_verdicts_of_runs_are_kept_apart(catalog: Catalog, make_run: RunFactory) -> None:
    catalog.add_run(make_run("r1"))
    catalog.add_run(make_run("r2"))
    catalog.add_verdicts("r1", [_record(0, Verdict.KNOWN)])
    catalog.add_verdicts("r2", [_record(0, Verdict.UNKNOWN), _record(1)])
    assert catalog.verdicts("r1") == [_record(0, Verdict.KNOWN)]
    assert catalog.verdicts("r2") == [_record(0), _record(1)]


def test_verdicts_of_an_unknown_run_are_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound, match="nope"):
        catalog.add_verdicts("nope", [_record(0)])
    with pytest.raises(NotFound, match="nope"):
        catalog.add_verdicts("nope", [])
    with pytest.raises(NotFound, match="nope"):
        catalog.verdicts("nope")


def test_a_row_stored_twice_is_a_conflict_and_the_chunk_is_not_stored(
    catalog: Catalog, make_run: RunFactory
) -> None:
    catalog.add_run(make_run("r1"))
    catalog.add_verdicts("r1", [_record(0), _record(1)])
    with pytest.raises(Conflict, match="r1"):
        catalog.add_verdicts("r1", [_record(2), _record(1, Verdict.KNOWN)])
    with pytest.raises(Conflict, match="r1"):
        catalog.add_verdicts("r1", [_record(5), _record(6), _record(5)])
    assert catalog.verdicts("r1") == [_record(0), _record(1)]


def test_a_verdict_that_is_not_a_verdict_is_refused(catalog: Catalog, make_run: RunFactory) -> None:
    catalog.add_run(make_run("r1"))
    with pytest.raises(ValueError, match="clean"):
        catalog.add_verdicts("r1", [_record(0), _record(1, "clean")])  # type: ignore[arg-type]
    assert catalog.verdicts("r1") == []


@pytest.mark.slow
def test_200k_verdicts_in_two_chunks_read_back_in_order(
    catalog: Catalog, make_run: RunFactory
) -> None:
    catalog.add_run(make_run("big"))
    verdicts = list(Verdict)
    rows = [
        VerdictRecord(
            row=i,
            verdict=verdicts[i % len(verdicts)],
            reason="unreadable" if i % 7 == 0 else None,
            labels='{"synthetic":{"category":"1"}}' if i % 5 == 0 else None,
            path=f"dir/synthetic-fixture-{i:06d}" if i % 3 == 0 else None,
        )
        for i in range(200_000)
    ]
    catalog.add_verdicts("big", rows[100_000:])
    catalog.add_verdicts("big", rows[:100_000])
    assert catalog.verdicts("big") == rows


# Datetimes


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=14))),
        datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_datetimes_round_trip_to_the_microsecond_as_utc(
    catalog: Catalog, make_version: VersionFactory, make_run: RunFactory, moment: datetime
) -> None:
    created = _create(catalog, "caid", created_at=moment)
    catalog.add_version(make_version("caid", 1, loaded_at=moment))
    catalog.add_run(make_run("r1", started_at=moment))
    catalog.finish_run("r1", finished_at=moment, counts={})
    seen: list[datetime] = [
        created.created_at,
        catalog.get_list("caid").created_at,
        catalog.get_version("caid-v1").loaded_at,
        catalog.get_run("r1").started_at,
        _finished(catalog.get_run("r1")),
    ]
    for value in seen:
        assert value == moment
        assert value.tzinfo is UTC
        assert value.utcoffset() == timedelta(0)
        assert (value.replace(tzinfo=None), value.microsecond) == (
            moment.astimezone(UTC).replace(tzinfo=None),
            moment.microsecond,
        )


def _finished(run: RunInfo) -> datetime:
    assert run.finished_at is not None
    return run.finished_at


# Policies, trusted keys, and how versions were made


def _key(key_id: str, publisher: str = "Synthetic Publisher") -> TrustedKey:
    return TrustedKey(
        key_id=key_id,
        publisher=publisher,
        public_key=f"-----BEGIN PUBLIC KEY-----\n{key_id}\n-----END PUBLIC KEY-----\n",
        added_by="curator",
        added_at=T0,
    )


def test_a_new_list_has_the_default_policy(catalog: Catalog) -> None:
    assert _create(catalog, "a").policy == ListPolicy()
    assert catalog.get_list("a").policy == ListPolicy()


def test_set_policy_is_kept_and_returned(catalog: Catalog) -> None:
    _create(catalog, "a")
    _create(catalog, "b")
    policy = ListPolicy(require_signature=True, max_age_days=30)
    assert catalog.set_policy("a", policy).policy == policy
    assert catalog.get_list("a").policy == policy
    assert catalog.get_list("b").policy == ListPolicy()
    assert catalog.set_policy("a", ListPolicy()).policy == ListPolicy()


def test_set_policy_of_an_unknown_list_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        catalog.set_policy("nope", ListPolicy(require_signature=True))


def test_trusted_keys_are_per_list_sorted_and_removable(catalog: Catalog) -> None:
    _create(catalog, "a")
    _create(catalog, "b")
    catalog.add_trusted_key("a", _key("ed25519:bbbb"))
    catalog.add_trusted_key("a", _key("ed25519:aaaa", "Other"))
    catalog.add_trusted_key("b", _key("ed25519:cccc"))
    assert [k.key_id for k in catalog.trusted_keys("a")] == ["ed25519:aaaa", "ed25519:bbbb"]
    assert catalog.trusted_keys("a")[0] == _key("ed25519:aaaa", "Other")
    catalog.remove_trusted_key("a", "ed25519:aaaa")
    assert [k.key_id for k in catalog.trusted_keys("a")] == ["ed25519:bbbb"]
    assert [k.key_id for k in catalog.trusted_keys("b")] == ["ed25519:cccc"]


def test_trusting_a_key_twice_is_a_conflict(catalog: Catalog) -> None:
    _create(catalog, "a")
    catalog.add_trusted_key("a", _key("ed25519:aaaa"))
    with pytest.raises(Conflict):
        catalog.add_trusted_key("a", _key("ed25519:aaaa", "Impostor"))
    assert catalog.trusted_keys("a") == [_key("ed25519:aaaa")]


def test_unknown_keys_and_lists_are_not_found(catalog: Catalog) -> None:
    _create(catalog, "a")
    with pytest.raises(NotFound):
        catalog.remove_trusted_key("a", "ed25519:none")
    with pytest.raises(NotFound):
        catalog.trusted_keys("nope")
    with pytest.raises(NotFound):
        catalog.add_trusted_key("nope", _key("ed25519:aaaa"))


def test_mode_base_and_vetting_of_a_version_round_trip(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog, "a")
    catalog.add_version(make_version("a", 1))
    vetting = Vetting(
        signature="valid",
        signed_by="Synthetic Publisher (ed25519:aaaa)",
        signed_at="2025-03-01T12:00:00+00:00",
        signature_file="list.md5.sig",
        checksum="match",
        checksum_file="SHA256SUMS",
    )
    delta = make_version("a", 2, mode=UpdateMode.ADD, base_version_id="a-v1", vetting=vetting)
    catalog.add_version(delta)
    stored = catalog.get_version("a-v2")
    assert stored == replace(delta, active=True)
    assert stored.mode is UpdateMode.ADD
    assert catalog.get_version("a-v1").mode is UpdateMode.REPLACE
    assert catalog.get_version("a-v1").vetting == Vetting()
