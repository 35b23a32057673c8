"""Exchange states in the catalog: the contract on every catalog, and the fetch's JSON form.

The contract tests run on both catalogs (and PostgreSQL when HASHMATCH_TEST_POSTGRES_URL is
set). What matters to a user: a fetch's list version and the checkpoint that says what it
holds are stored together or not at all, so an interrupted or failed load never leaves a
checkpoint that claims changes the serving version does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.errors import Conflict, NotFound
from hashmatch.model import ExchangeFetch, ExchangeState, ListVersionInfo, Purpose
from hashmatch.store import Catalog

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
VersionFactory = Callable[..., ListVersionInfo]  # the make_version fixture (conftest.py)


def _create(catalog: Catalog, name: str = "ncmec-test") -> None:
    catalog.create_list(
        name=name,
        purpose=Purpose.CONCERN,
        description=f"synthetic list {name}",
        created_by="curator",
        created_at=T0,
    )


def _fetch(**overrides: object) -> ExchangeFetch:
    fields: dict[str, object] = {
        "since": T0 - timedelta(days=1),
        "until": T0,
        "started_at": T0,
        "reason": "incremental",
        "pages": 3,
        "cursor": {"from": "2025-02-28T12:00:00+00:00", "next": "/v2/entries?page=4"},
        "through": T0 - timedelta(hours=12),
        "pages_through": 2,
        "complete": False,
    }
    fields.update(overrides)
    return ExchangeFetch(**fields)  # type: ignore[arg-type]


def _state(**overrides: object) -> ExchangeState:
    fields: dict[str, object] = {
        "exchange": "fakex-test",
        "list_name": "ncmec-test",
        "api_root": "https://exchange.invalid/api",
        "checkpoint": T0 - timedelta(days=1),
        "version_id": "ncmec-test-v1",
        "fetch": _fetch(),
        "updated_at": T0,
    }
    fields.update(overrides)
    return ExchangeState(**fields)  # type: ignore[arg-type]


# The contract


def test_an_exchange_never_saved_has_no_state(catalog: Catalog) -> None:
    assert catalog.exchange_state("fakex-test") is None
    _create(catalog)
    catalog.save_exchange_state(_state())
    assert catalog.exchange_state("fakex-other") is None


def test_a_saved_state_is_read_back_whole(catalog: Catalog) -> None:
    _create(catalog)
    state = _state()
    catalog.save_exchange_state(state)
    assert catalog.exchange_state("fakex-test") == state


def test_a_first_state_without_checkpoint_or_fetch_is_kept(catalog: Catalog) -> None:
    _create(catalog)
    state = _state(checkpoint=None, version_id=None, fetch=None)
    catalog.save_exchange_state(state)
    assert catalog.exchange_state("fakex-test") == state


def test_saving_again_replaces_the_state(catalog: Catalog) -> None:
    _create(catalog)
    _create(catalog, "other-list")
    catalog.save_exchange_state(_state())
    later = _state(
        list_name="other-list",
        api_root="https://mirror.invalid/api",
        checkpoint=T0,
        version_id="ncmec-test-v2",
        fetch=None,
        updated_at=T0 + timedelta(minutes=5),
    )
    catalog.save_exchange_state(later)
    assert catalog.exchange_state("fakex-test") == later


def test_states_of_two_exchanges_are_kept_apart(catalog: Catalog) -> None:
    _create(catalog)
    first = _state()
    second = _state(exchange="fakex-other", checkpoint=T0, fetch=None)
    catalog.save_exchange_state(first)
    catalog.save_exchange_state(second)
    assert catalog.exchange_state("fakex-test") == first
    assert catalog.exchange_state("fakex-other") == second


def test_a_fetch_under_way_round_trips_through_the_catalog(catalog: Catalog) -> None:
    _create(catalog)
    odd = {"next": '/v2/entries?from=2025&q="é"\\x', "window": "3", "empty": ""}
    for fetch in [
        _fetch(cursor=odd),
        _fetch(since=None, cursor=None, through=None, pages=0, pages_through=0),
        _fetch(complete=True, cursor=None, pages=7, pages_through=7, through=T0),
        _fetch(reason="the checkpoint (2025-01-01T00:00:00+00:00) is older than 30 days"),
    ]:
        catalog.save_exchange_state(_state(fetch=fetch))
        found = catalog.exchange_state("fakex-test")
        assert found is not None
        assert found.fetch == fetch


def test_saving_a_state_for_an_unknown_list_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        catalog.save_exchange_state(_state())
    assert catalog.exchange_state("fakex-test") is None


@pytest.mark.parametrize("field", ["checkpoint", "updated_at"])
def test_naive_times_are_refused_and_nothing_is_stored(catalog: Catalog, field: str) -> None:
    _create(catalog)
    kept = _state()
    catalog.save_exchange_state(kept)
    naive = {field: datetime(2025, 3, 1, 12, 0)}
    with pytest.raises(ValueError, match=field):
        catalog.save_exchange_state(_state(version_id="changed", **naive))
    assert catalog.exchange_state("fakex-test") == kept


def test_times_come_back_in_utc(catalog: Catalog) -> None:
    _create(catalog)
    catalog.save_exchange_state(
        _state(checkpoint=T0.astimezone(PLUS_TWO), updated_at=T0.astimezone(PLUS_TWO))
    )
    found = catalog.exchange_state("fakex-test")
    assert found is not None
    assert found.checkpoint == T0
    assert found.updated_at == T0
    assert found.checkpoint is not None
    assert found.checkpoint.utcoffset() == timedelta(0)
    assert found.updated_at.utcoffset() == timedelta(0)


# add_exchange_version: the version and the checkpoint together, or neither


def test_add_exchange_version_stores_both_and_serves_the_version(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog)
    catalog.add_version(make_version("ncmec-test", 1), activate=True)
    version = make_version("ncmec-test", 2)
    state = _state(version_id=version.version_id, checkpoint=T0, fetch=None)
    catalog.add_exchange_version(version, state)
    assert catalog.exchange_state("fakex-test") == state
    assert [v.version_id for v in catalog.active_versions()] == [version.version_id]
    assert [(v.number, v.active) for v in catalog.versions("ncmec-test")] == [
        (1, False),
        (2, True),
    ]
    assert catalog.get_list("ncmec-test").active_version == 2


def test_add_exchange_version_makes_a_first_state(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog)
    version = make_version("ncmec-test", 1)
    state = _state(version_id=version.version_id, fetch=None)
    catalog.add_exchange_version(version, state)
    assert catalog.exchange_state("fakex-test") == state
    assert catalog.get_version(version.version_id).active


def test_a_conflicting_version_number_keeps_the_old_state_and_version(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog)
    first = make_version("ncmec-test", 1)
    before = _state(version_id=first.version_id, fetch=_fetch(complete=True, cursor=None))
    catalog.add_exchange_version(first, before)
    clash = make_version("ncmec-test", 1, version_id="ncmec-test-other")
    after = _state(version_id=clash.version_id, checkpoint=T0, fetch=None)
    with pytest.raises(Conflict):
        catalog.add_exchange_version(clash, after)
    assert catalog.exchange_state("fakex-test") == before
    assert [v.version_id for v in catalog.versions("ncmec-test")] == [first.version_id]
    assert catalog.get_version(first.version_id).active


def test_a_conflicting_version_id_keeps_the_old_state(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog)
    first = make_version("ncmec-test", 1)
    before = _state(version_id=first.version_id)
    catalog.add_exchange_version(first, before)
    clash = make_version("ncmec-test", 2, version_id=first.version_id)
    with pytest.raises(Conflict):
        catalog.add_exchange_version(clash, _state(checkpoint=T0, fetch=None))
    assert catalog.exchange_state("fakex-test") == before
    assert [v.number for v in catalog.versions("ncmec-test")] == [1]


def test_a_naive_time_in_the_state_adds_no_version(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog)
    first = make_version("ncmec-test", 1)
    before = _state(version_id=first.version_id)
    catalog.add_exchange_version(first, before)
    second = make_version("ncmec-test", 2)
    with pytest.raises(ValueError, match="checkpoint"):
        catalog.add_exchange_version(
            second, _state(version_id=second.version_id, checkpoint=datetime(2025, 3, 2))
        )
    assert catalog.exchange_state("fakex-test") == before
    assert [v.number for v in catalog.versions("ncmec-test")] == [1]
    assert catalog.get_version(first.version_id).active


def test_add_exchange_version_for_an_unknown_list_stores_nothing(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    with pytest.raises(NotFound):
        catalog.add_exchange_version(make_version("ncmec-test", 1), _state())
    assert catalog.exchange_state("fakex-test") is None
    assert catalog.active_versions() == []


def test_a_state_naming_another_list_than_the_version_stores_nothing(
    catalog: Catalog, make_version: VersionFactory
) -> None:
    _create(catalog)
    with pytest.raises(NotFound):
        catalog.add_exchange_version(make_version("ncmec-test", 1), _state(list_name="nowhere"))
    assert catalog.exchange_state("fakex-test") is None
    assert catalog.versions("ncmec-test") == []


# ExchangeFetch as JSON (how the catalog keeps a fetch under way)

_instants = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, PLUS_TWO, timezone(timedelta(hours=-5, minutes=-30))]),
)
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@given(
    since=st.none() | _instants,
    until=_instants,
    started_at=_instants,
    reason=_text,
    pages=st.integers(0, 10**6),
    cursor=st.none() | st.dictionaries(_text, _text, max_size=4),
    through=st.none() | _instants,
    pages_through=st.integers(0, 10**6),
    complete=st.booleans(),
)
@example(
    since=None,
    until=T0,
    started_at=T0,
    reason="",
    pages=0,
    cursor={},
    through=None,
    pages_through=0,
    complete=False,
)
@example(
    since=T0,
    until=T0,
    started_at=T0,
    reason='quote " backslash \\ é \u2028',
    pages=1,
    cursor={'"': "\\", "next": "/v2/entries?from=a&to=b"},
    through=T0,
    pages_through=1,
    complete=True,
)
def test_a_fetch_round_trips_through_json(
    since: datetime | None,
    until: datetime,
    started_at: datetime,
    reason: str,
    pages: int,
    cursor: dict[str, str] | None,
    through: datetime | None,
    pages_through: int,
    complete: bool,
) -> None:
    fetch = ExchangeFetch(
        since=since,
        until=until,
        started_at=started_at,
        reason=reason,
        pages=pages,
        cursor=cursor,
        through=through,
        pages_through=pages_through,
        complete=complete,
    )
    back = ExchangeFetch.from_json(fetch.as_json())
    assert back == fetch
    assert back.as_json() == fetch.as_json()
    for before, after in [(since, back.since), (until, back.until), (through, back.through)]:
        assert (before is None) == (after is None)
        if before is not None and after is not None:
            assert after.utcoffset() == before.utcoffset()
