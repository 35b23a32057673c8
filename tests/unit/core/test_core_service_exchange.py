"""hashmatch.service: exchange fetches, end to end against an in-memory exchange.

``FakeExchange`` is a test double of :class:`~hashmatch.exchange.ExchangeClient`: it serves a
shared model (a list of changes with timestamps, in an order that is not time order) in
time windows of ``exchange_window_hours``, pages of ``page_size`` changes, honours resume
cursors, and can fail after a number of pages (:class:`ExchangeError`) or refuse a cursor
(:class:`CursorRejected`). Every fetch must end with a list version that holds exactly the
model's live entries, however it was interrupted, and no password may reach a file, a
message or the audit trail.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.errors import ConfigurationError, Conflict, CursorRejected, ExchangeError
from hashmatch.exchange import UPDATE_SCHEMA, ExchangeClient, ExchangeConfig, ExchangePage
from hashmatch.exchange_sync import FetchOutcome
from hashmatch.ingest.versions import version_entries
from hashmatch.model import ListPolicy, ListVersionInfo, Purpose, Verdict
from hashmatch.records import decode_labels, encode_labels
from hashmatch.registry import AdapterRegistry, default_registry
from hashmatch.service import Service

EXCHANGE = "fakex-test"
ROOT = "https://fakex.invalid/api"
PASSWORD = "pw-Synthetic-7Hq2!x"  # synthetic: the tests look for it
ODD_KEY = 'member-9-q"uote\\é'

Row = tuple[str, str, str]
"""(source_id, md5 hex, category) of one entry of a list version."""


def md5(n: int) -> str:
    return hashlib.md5(f"synthetic-fixture-{n:03d}".encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# The exchange double


@dataclass(frozen=True, slots=True)
class Change:
    """One change the exchange publishes: an update (digest may be None) or a tombstone."""

    key: str
    at: datetime
    deleted: bool = False
    md5: str | None = None
    category: str = "A1"


@dataclass(frozen=True, slots=True)
class Call:
    """What one ``fetch`` was asked for."""

    since: datetime | None
    until: datetime
    resume: dict[str, str] | None
    api_root: str
    username: str


@dataclass
class World:
    """The exchange's content and script, shared by every client instance of a test."""

    epoch: datetime
    """Where a full fetch starts."""
    changes: list[Change] = field(default_factory=list)
    """In the order the exchange serves them."""
    page_size: int = 2
    calls: list[Call] = field(default_factory=list)
    yielded: list[dict[str, str] | None] = field(default_factory=list)
    """The cursor of every page served, in order."""
    fail_after: int | None = None
    """Raise ExchangeError instead of the page after this many pages (in one call), once."""
    reject_resume: bool = False
    """Raise CursorRejected when asked to resume."""

    def add(self, key: str, at: datetime, n: int | None = None, category: str = "A1") -> None:
        self.changes.append(
            Change(key=key, at=at, md5=None if n is None else md5(n), category=category)
        )

    def delete(self, key: str, at: datetime) -> None:
        self.changes.append(Change(key=key, at=at, deleted=True))

    def live(self) -> list[Row]:
        """The entries the exchange holds now: each key's last change, if it has a digest."""
        last: dict[str, Change] = {}
        for _, change in sorted(enumerate(self.changes), key=lambda item: (item[1].at, item[0])):
            last[change.key] = change
        return sorted(
            (c.key, c.md5, c.category) for c in last.values() if not c.deleted and c.md5 is not None
        )

    def pages(self, start: datetime, end: datetime, inclusive: bool) -> list[list[Change]]:
        chosen = [
            c
            for c in self.changes
            if (start <= c.at if inclusive else start < c.at) and c.at <= end
        ]
        size = self.page_size
        return [chosen[i : i + size] for i in range(0, len(chosen), size)] or [[]]


def _windows(start: datetime, until: datetime, width: timedelta) -> list[tuple[datetime, datetime]]:
    found = []
    while start < until:
        found.append((start, min(start + width, until)))
        start = found[-1][1]
    return found or [(start, until)]


def _batch(changes: list[Change]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [
            {
                "key": c.key,
                "timestamp": c.at,
                "deleted": c.deleted,
                "md5": c.md5,
                "sha1": None,
                "sha256": None,
                "labels": None
                if c.deleted
                else encode_labels({"source_id": c.key, "category": c.category}),
            }
            for c in changes
        ],
        schema=UPDATE_SCHEMA,
    )


class FakeExchange(ExchangeClient):
    """Serves :attr:`world` (set by the ``world`` fixture) as an exchange would."""

    NAME = "fakex"
    DESCRIPTION = "Scripted synthetic exchange"
    VERSION = "7"
    ENVIRONMENTS: ClassVar[Mapping[str, str]] = {"test": ROOT}
    world: ClassVar[World]

    def __init__(self, config: ExchangeConfig) -> None:
        super().__init__(config)
        self.closed = False

    def fetch(
        self,
        *,
        since: datetime | None,
        until: datetime,
        resume: Mapping[str, str] | None = None,
    ) -> Iterator[ExchangePage]:
        world = self.world
        world.calls.append(
            Call(
                since=since,
                until=until,
                resume=None if resume is None else dict(resume),
                api_root=self.config.api_root,
                username=self.config.credentials.username,
            )
        )
        return self._pages(world, since, until, resume)

    def _pages(
        self,
        world: World,
        since: datetime | None,
        until: datetime,
        resume: Mapping[str, str] | None,
    ) -> Iterator[ExchangePage]:
        width = self.config.window
        if resume is not None:
            if world.reject_resume:
                raise CursorRejected("the paging link has expired (synthetic)", source="fakex")
            start = datetime.fromisoformat(resume["from"])
            end = datetime.fromisoformat(resume["to"])
            plan = [(start, end, resume["inclusive"] == "1", int(resume["page"]))]
            if end < until:
                plan += [(s, e, False, 0) for s, e in _windows(end, until, width)]
        else:
            first = world.epoch if since is None else since
            plan = [(s, e, i == 0, 0) for i, (s, e) in enumerate(_windows(first, until, width))]
        served = 0
        for index, (start, end, inclusive, first_page) in enumerate(plan):
            chunks = world.pages(start, end, inclusive)
            for number in range(first_page, len(chunks)):
                if world.fail_after is not None and served == world.fail_after:
                    world.fail_after = None
                    raise ExchangeError("connection reset by peer (synthetic)", source="fakex")
                ends = number == len(chunks) - 1
                cursor = (
                    None
                    if ends and index == len(plan) - 1
                    else {
                        "from": start.isoformat(),
                        "to": end.isoformat(),
                        "inclusive": "1" if inclusive else "0",
                        "page": str(number + 1),
                    }
                )
                body = json.dumps([dataclasses.astuple(c) for c in chunks[number]], default=str)
                world.yielded.append(cursor)
                served += 1
                yield ExchangePage(
                    updates=_batch(chunks[number]),
                    cursor=cursor,
                    fetched_through=end if ends else None,
                    source=f"GET /entries?from={start.isoformat()}&page={number}",
                    sha256=hashlib.sha256(body.encode()).hexdigest(),
                )

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    """A model with entries over three days, served out of time order.

    Windows of 24 h from ``epoch``: 3 changes, 4 changes, 4 changes, none: 7 pages of 2.
    Live: e-1 (its later change), e-2, e-3, e-5 and e-6 (one digest), the odd key, e-8;
    e-4 is withdrawn (its tombstone is served before the update it follows), e-7 has no
    digest.
    """
    epoch = now() - timedelta(hours=72, seconds=10)
    model = World(epoch=epoch)

    def h(hours: int) -> datetime:
        return epoch + timedelta(hours=hours)

    model.add("e-2", h(2), 2, "A2")
    model.add("e-1", h(50), 1, "A1")
    model.add("e-3", h(30), 3, "B1")
    model.add("e-1", h(10), 4, "B2")
    model.delete("e-4", h(61))
    model.add("e-4", h(60), 5, "B2")
    model.add("e-5", h(26), 7, "A1")
    model.add("e-6", h(27), 7, "B2")
    model.add("e-7", h(5), None, "A1")
    model.add(ODD_KEY, h(40), 8, "A2")
    model.add("e-8", h(71), 9, "B1")
    monkeypatch.setattr(FakeExchange, "world", model, raising=False)
    return model


@pytest.fixture(scope="module")
def registry() -> AdapterRegistry:
    """The installed plug-ins and the double."""
    installed = default_registry()
    return AdapterRegistry(
        [*installed.adapters(), *installed.exchanges(), *installed.vendors(), FakeExchange]
    )


class Services:
    """Opens services over data directories under ``tmp_path`` and closes them all."""

    def __init__(self, tmp_path: Path, registry: AdapterRegistry) -> None:
        self.tmp_path = tmp_path
        self.registry = registry
        self.opened: list[Service] = []

    def open(self, home: str = "home", **overrides: Any) -> Service:
        fields: dict[str, Any] = {
            "home": self.tmp_path / home,
            "operator": "tester",
            "exchange_username": "member-1",
            "exchange_password": PASSWORD,
            "exchange_credentials": self.tmp_path / "no-credentials.toml",
            "exchange_window_hours": 24.0,
        }
        fields.update(overrides)
        service = Service(Settings(**fields), registry=self.registry)
        self.opened.append(service)
        return service


@pytest.fixture
def services(tmp_path: Path, registry: AdapterRegistry) -> Iterator[Services]:
    made = Services(tmp_path, registry)
    try:
        yield made
    finally:
        for service in made.opened:
            service.close()


@pytest.fixture
def service(services: Services) -> Service:
    return services.open()


def version_rows(service: Service, version: ListVersionInfo) -> list[Row]:
    rows: list[Row] = []
    for batch in version_entries(version, service.catalog.get_version, service.home):
        for item in batch.to_pylist():
            labels = decode_labels(item["labels"])
            rows.append((labels["source_id"], item["md5"].hex(), labels["category"]))
    return sorted(rows)


def serving_rows(service: Service) -> list[Row]:
    """The rows of the list version that serves for the exchange's list."""
    active = [v for v in service.catalog.active_versions() if v.list_name == EXCHANGE]
    assert len(active) == 1
    return version_rows(service, active[0])


def journal_pages(service: Service) -> list[str]:
    folder = service.home / "exchanges" / EXCHANGE / "journal"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def assert_no_password_in_files(root: Path) -> None:
    checked = 0
    for path in root.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
            checked += 1
    assert checked


def fetched(service: Service, **options: Any) -> FetchOutcome:
    outcome = service.exchange_fetch(EXCHANGE, **options)
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.fetch is None
    assert state.checkpoint == outcome.until
    assert journal_pages(service) == []
    return outcome


# First and incremental fetches


def test_the_first_fetch_is_full_and_creates_the_list(service: Service, world: World) -> None:
    outcome = fetched(service)
    assert (outcome.reason, outcome.since, outcome.resumed) == ("the first fetch", None, False)
    assert (outcome.exchange, outcome.list_name) == (EXCHANGE, EXCHANGE)
    assert outcome.pages == 7
    assert (outcome.updates, outcome.tombstones) == (8, 1)
    listed = service.catalog.get_list(EXCHANGE)
    assert listed.purpose is Purpose.CONCERN
    assert "Scripted synthetic exchange (test)" in listed.description
    assert outcome.version is not None
    assert outcome.version.number == 1
    assert (outcome.version.adapter, outcome.version.adapter_version) == ("fakex", "7")
    assert version_rows(service, outcome.version) == world.live()
    assert outcome.version.counts.entries == len(world.live())
    assert [(c.since, c.resume, c.api_root, c.username) for c in world.calls] == [
        (None, None, ROOT, "member-1")
    ]
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert (state.api_root, state.version_id) == (ROOT, outcome.version.version_id)
    names = [(name, state is not None) for name, _, state in service.exchanges()]
    assert (EXCHANGE, True) in names


def test_lookups_give_the_exchanges_labels(service: Service, world: World) -> None:
    fetched(service)
    known = service.lookup(Algorithm.MD5, md5(1))
    assert known.verdict is Verdict.KNOWN
    assert known.matches is not None
    assert '"source_id":"e-1"' in known.matches
    for withdrawn in (md5(4), md5(5)):  # e-1's older digest; e-4's digest (tombstoned)
        assert service.lookup(Algorithm.MD5, withdrawn).verdict is Verdict.UNKNOWN


def test_a_second_fetch_applies_updates_and_tombstones_incrementally(
    service: Service, world: World
) -> None:
    first = fetched(service)
    stamp = now()
    world.add("e-2", stamp, 20, "B1")  # an update
    world.delete("e-5", stamp)  # shares its digest with e-6
    world.delete("e-3", stamp)
    world.add("e-9", stamp, 21, "A1")
    world.add(ODD_KEY, stamp, None, "A2")  # an update without digests withdraws the entry
    world.delete("never-loaded", stamp)
    second = fetched(service)
    assert (second.reason, second.since, second.resumed) == ("incremental", first.until, False)
    assert world.calls[-1].since == first.until
    assert world.calls[-1].resume is None
    assert (second.updates, second.tombstones, second.replaced) == (3, 3, 4)
    assert second.version is not None
    assert second.version.number == 2
    assert version_rows(service, second.version) == world.live()
    shared = service.lookup(Algorithm.MD5, md5(7))
    assert shared.verdict is Verdict.KNOWN
    assert shared.matches is not None
    assert '"source_id":"e-6"' in shared.matches
    assert '"source_id":"e-5"' not in shared.matches
    assert service.lookup(Algorithm.MD5, md5(3)).verdict is Verdict.UNKNOWN
    assert service.lookup(Algorithm.MD5, md5(21)).verdict is Verdict.KNOWN


def test_changes_at_the_checkpoint_fetched_again_are_not_duplicated(
    service: Service, world: World
) -> None:
    fetched(service)
    stamp = now()
    world.add("e-10", stamp, 30, "A1")
    fetched(service)
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    # A checkpoint in the second of e-10's change: the next fetch is served e-10 again.
    service.catalog.save_exchange_state(dataclasses.replace(state, checkpoint=stamp))
    world.add("e-11", now(), 31, "A1")
    third = fetched(service)
    assert (third.updates, third.replaced) == (2, 1)
    assert third.version is not None
    rows = version_rows(service, third.version)
    assert rows == world.live()
    assert len(rows) == len(set(rows))


def test_no_change_loads_no_version_but_moves_the_checkpoint(
    service: Service, world: World
) -> None:
    first = fetched(service)
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    earlier = first.until - timedelta(hours=1)
    service.catalog.save_exchange_state(dataclasses.replace(state, checkpoint=earlier))
    second = fetched(service)
    assert second.version is None
    assert (second.reason, second.since, second.pages) == ("incremental", earlier, 1)
    assert (second.updates, second.tombstones) == (0, 0)
    assert second.until > earlier
    assert [v.number for v in service.versions(EXCHANGE)] == [1]
    after = service.catalog.exchange_state(EXCHANGE)
    assert after is not None
    assert after.version_id == state.version_id
    actions = [r.action for r in service.audit_records()]
    assert actions.count("exchange") == 2
    assert actions.count("ingest") == 1


def test_a_bad_digest_is_a_warning_naming_the_entry(service: Service, world: World) -> None:
    world.changes.append(Change(key="bad-1", at=world.epoch, md5="not-hex", category="A1"))
    outcome = fetched(service)
    assert outcome.version is not None
    assert outcome.version.warning_count >= 1
    assert any(w.source == f"{EXCHANGE} entry bad-1" for w in outcome.version.warnings)
    assert version_rows(service, outcome.version) == [r for r in world.live() if r[0] != "bad-1"]


# Interruptions


def test_an_interrupted_fetch_keeps_its_journal_and_the_previous_version(
    service: Service, world: World
) -> None:
    first = fetched(service)
    before = serving_rows(service)
    stamp = now()
    for n in range(5):
        world.add(f"new-{n}", stamp, 40 + n, "B2")
    world.delete("e-1", stamp)
    world.fail_after = 2
    with pytest.raises(ExchangeError, match="connection reset"):
        service.exchange_fetch(EXCHANGE)
    assert journal_pages(service) == ["page-00000000.parquet", "page-00000001.parquet"]
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.fetch is not None
    cursor = world.yielded[-1]
    assert cursor is not None
    assert (state.fetch.pages, state.fetch.cursor) == (2, cursor)
    assert state.checkpoint == first.until
    assert serving_rows(service) == before
    assert service.lookup(Algorithm.MD5, md5(1)).verdict is Verdict.KNOWN
    assert service.lookup(Algorithm.MD5, md5(40)).verdict is Verdict.UNKNOWN
    assert_no_password_in_files(service.home)

    resumed = fetched(service)
    assert world.calls[-1].resume == cursor
    assert (resumed.resumed, resumed.reason, resumed.pages) == (True, "incremental", 3)
    assert resumed.version is not None
    assert resumed.version.number == 2
    assert version_rows(service, resumed.version) == world.live()
    assert service.lookup(Algorithm.MD5, md5(1)).verdict is Verdict.UNKNOWN
    assert service.lookup(Algorithm.MD5, md5(44)).verdict is Verdict.KNOWN


def test_a_resumed_full_fetch_ends_as_an_uninterrupted_one(
    services: Services, world: World
) -> None:
    reference = fetched(services.open("reference"))
    world.calls.clear()
    world.yielded.clear()
    service = services.open()
    world.fail_after = 3  # window 1 (2 pages) and the first page of window 2
    with pytest.raises(ExchangeError):
        service.exchange_fetch(EXCHANGE)
    assert len(journal_pages(service)) == 3
    assert service.catalog.active_versions() == []
    outcome = fetched(service)
    assert world.calls[-1].resume == world.yielded[2]
    assert (outcome.resumed, outcome.reason, outcome.pages) == (True, "the first fetch", 7)
    assert outcome.version is not None
    assert reference.version is not None
    assert version_rows(service, outcome.version) == world.live()
    assert outcome.version.source_sha256 == reference.version.source_sha256
    assert outcome.version.counts == reference.version.counts


class Killed(BaseException):
    """The process died here (raised where a kill would stop it)."""


def test_a_fetch_killed_after_writing_a_page_it_did_not_record_resumes(
    service: Service, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    save = service.catalog.save_exchange_state

    def killed_at_page_4(state: Any) -> None:
        if state.fetch is not None and state.fetch.pages == 4:
            raise Killed
        save(state)

    with monkeypatch.context() as patched:
        patched.setattr(service.catalog, "save_exchange_state", killed_at_page_4)
        with pytest.raises(Killed):
            service.exchange_fetch(EXCHANGE)
    assert len(journal_pages(service)) == 4  # the fourth page is written, not recorded
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.fetch is not None
    assert state.fetch.pages == 3
    outcome = fetched(service)
    assert world.calls[-1].resume == world.yielded[2]
    assert outcome.pages == 7
    assert outcome.version is not None
    assert version_rows(service, outcome.version) == world.live()


def test_a_fetch_killed_before_its_version_was_committed_loads_without_fetching(
    service: Service, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*args: Any) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(service.catalog, "add_exchange_version", killed)
        with pytest.raises(Killed):
            service.exchange_fetch(EXCHANGE)
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.fetch is not None
    assert state.fetch.complete
    assert state.checkpoint is None
    assert service.catalog.active_versions() == []
    calls = len(world.calls)
    outcome = fetched(service)
    assert len(world.calls) == calls
    assert (outcome.resumed, outcome.pages) == (True, 7)
    assert outcome.version is not None
    assert version_rows(service, outcome.version) == world.live()
    assert [v.number for v in service.versions(EXCHANGE)] == [1]
    parquet = sorted((service.home / "lists" / EXCHANGE).glob("*.parquet"))
    assert [p.stem for p in parquet] == [outcome.version.version_id]


def test_a_rejected_cursor_restarts_from_the_last_completed_window(
    services: Services, world: World
) -> None:
    reference = fetched(services.open("reference"))
    world.calls.clear()
    world.yielded.clear()
    service = services.open()
    world.fail_after = 3
    with pytest.raises(ExchangeError):
        service.exchange_fetch(EXCHANGE)
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.fetch is not None
    through = world.epoch + timedelta(hours=24)
    assert (state.fetch.through, state.fetch.pages_through) == (through, 2)
    world.reject_resume = True
    outcome = fetched(service)
    rejected, restarted = world.calls[-2:]
    assert rejected.resume == world.yielded[2]
    assert (restarted.since, restarted.resume) == (through, None)
    assert (outcome.resumed, outcome.pages) == (True, 7)
    assert outcome.version is not None
    assert reference.version is not None
    assert version_rows(service, outcome.version) == world.live()
    assert outcome.version.source_sha256 == reference.version.source_sha256


def test_a_restart_after_a_rejected_cursor_can_itself_be_resumed(
    service: Service, world: World
) -> None:
    world.fail_after = 3
    with pytest.raises(ExchangeError):
        service.exchange_fetch(EXCHANGE)
    world.reject_resume = True
    world.fail_after = 1  # the restart from window 2 fails after one page
    with pytest.raises(ExchangeError, match="connection reset"):
        service.exchange_fetch(EXCHANGE)
    assert world.calls[-1].resume is None
    cursor = world.yielded[-1]
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.fetch is not None
    assert (state.fetch.pages, state.fetch.pages_through) == (3, 2)
    assert len(journal_pages(service)) == 3
    world.reject_resume = False
    outcome = fetched(service)
    assert world.calls[-1].resume == cursor
    assert outcome.pages == 7
    assert outcome.version is not None
    assert version_rows(service, outcome.version) == world.live()


def test_a_journal_lost_under_an_interrupted_fetch_asks_for_a_full_fetch(
    service: Service, world: World
) -> None:
    world.fail_after = 3
    with pytest.raises(ExchangeError):
        service.exchange_fetch(EXCHANGE)
    for page in (service.home / "exchanges" / EXCHANGE / "journal").iterdir():
        page.unlink()
    with pytest.raises(ConfigurationError, match="--full"):
        service.exchange_fetch(EXCHANGE)
    assert service.catalog.active_versions() == []
    outcome = fetched(service, full=True)
    assert outcome.version is not None
    assert version_rows(service, outcome.version) == world.live()


# Full fetches forced


def test_a_stale_checkpoint_forces_a_full_fetch(services: Services, world: World) -> None:
    service = services.open(exchange_stale_after_days=1)
    fetched(service)
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.checkpoint is not None
    old = state.checkpoint - timedelta(days=2)
    service.catalog.save_exchange_state(dataclasses.replace(state, checkpoint=old))
    world.delete("e-2", now())
    outcome = fetched(service)
    assert outcome.since is None
    assert outcome.reason == f"the checkpoint ({old.isoformat()}) is older than 1 days"
    assert world.calls[-1].since is None
    assert outcome.version is not None
    assert version_rows(service, outcome.version) == world.live()


def test_a_new_api_root_forces_a_full_fetch(
    services: Services, world: World, tmp_path: Path
) -> None:
    credentials = tmp_path / "exchange-credentials.toml"
    service = services.open(exchange_credentials=credentials)
    fetched(service)
    credentials.write_text(
        f'[{EXCHANGE}]\nusername = "member-2"\npassword = "{PASSWORD}"\n'
        'api_root = "https://mirror.invalid/api"\n',
        encoding="utf-8",
    )
    credentials.chmod(0o600)
    world.add("e-12", now(), 50, "A2")
    outcome = fetched(service)
    assert outcome.since is None
    assert outcome.reason == f"the API root changed (the checkpoint is from {ROOT})"
    last = world.calls[-1]
    assert (last.since, last.api_root, last.username) == (
        None,
        "https://mirror.invalid/api",
        "member-2",
    )
    assert outcome.version is not None
    assert version_rows(service, outcome.version) == world.live()
    state = service.catalog.exchange_state(EXCHANGE)
    assert state is not None
    assert state.api_root == "https://mirror.invalid/api"


def test_an_interrupted_fetch_from_another_api_root_starts_afresh(
    services: Services, world: World, tmp_path: Path
) -> None:
    credentials = tmp_path / "exchange-credentials.toml"
    service = services.open(exchange_credentials=credentials)
    world.fail_after = 3
    with pytest.raises(ExchangeError):
        service.exchange_fetch(EXCHANGE)
    credentials.write_text(
        f'[{EXCHANGE}]\nusername = "u"\npassword = "p"\napi_root = "https://mirror.invalid/a"\n',
        encoding="utf-8",
    )
    credentials.chmod(0o600)
    outcome = fetched(service)
    assert (world.calls[-1].since, world.calls[-1].resume) == (None, None)
    assert (outcome.resumed, outcome.pages) == (False, 7)
    assert outcome.version is not None
    assert version_rows(service, outcome.version) == world.live()


def test_a_list_rolled_back_by_a_curator_forces_a_full_fetch(
    service: Service, world: World
) -> None:
    fetched(service)
    world.add("e-13", now(), 60, "B1")
    fetched(service)
    service.rollback(EXCHANGE, 1)
    assert serving_rows(service) != world.live()
    outcome = fetched(service)
    assert outcome.since is None
    assert outcome.reason == "the list was changed since the last fetch (a rollback or a load)"
    assert outcome.version is not None
    assert outcome.version.number == 4
    assert serving_rows(service) == world.live()


def test_full_asked_for_drops_an_interrupted_fetch(service: Service, world: World) -> None:
    fetched(service)
    world.add("e-14", now(), 61, "B1")
    world.fail_after = 0
    with pytest.raises(ExchangeError):
        service.exchange_fetch(EXCHANGE)
    outcome = fetched(service, full=True)
    assert (outcome.since, outcome.resumed) == (None, False)
    assert outcome.reason == "a full fetch was asked for"
    assert serving_rows(service) == world.live()


# Refusals


def test_a_list_that_requires_signatures_is_refused(service: Service, world: World) -> None:
    service.add_list(EXCHANGE, Purpose.CONCERN)
    service.catalog.set_policy(EXCHANGE, ListPolicy(require_signature=True))
    with pytest.raises(ConfigurationError, match="requires signed files"):
        service.exchange_fetch(EXCHANGE)
    assert world.calls == []
    assert service.versions(EXCHANGE) == []


def test_a_second_fetch_under_way_is_a_conflict(service: Service, world: World) -> None:
    folder = service.home / "exchanges" / EXCHANGE
    folder.mkdir(parents=True)
    with open(folder / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with pytest.raises(Conflict, match="under way"):
                service.exchange_fetch(EXCHANGE)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    assert world.calls == []
    assert service.catalog.exchange_state(EXCHANGE) is None
    assert fetched(service).version is not None  # the lock is free again


def test_the_list_of_an_exchange_is_fixed_by_its_first_fetch(
    service: Service, world: World
) -> None:
    first = fetched(service, list_name="ncmec-mirror")
    assert first.list_name == "ncmec-mirror"
    assert [item.name for item in service.lists()] == ["ncmec-mirror"]
    with pytest.raises(Conflict, match="ncmec-mirror"):
        service.exchange_fetch(EXCHANGE, list_name="elsewhere")
    assert fetched(service).list_name == "ncmec-mirror"


def test_no_credentials_is_a_configuration_error(services: Services, world: World) -> None:
    service = services.open(exchange_username=None, exchange_password=None)
    with pytest.raises(ConfigurationError, match="no credentials"):
        service.exchange_fetch(EXCHANGE)
    assert world.calls == []


def test_an_unknown_exchange_is_a_configuration_error(service: Service) -> None:
    with pytest.raises(ConfigurationError, match="unknown exchange 'fakex-nowhere'"):
        service.exchange_fetch("fakex-nowhere")


# What is recorded


def test_the_audit_trail_records_the_fetch_and_the_ingest_and_no_password(
    service: Service, world: World
) -> None:
    world.fail_after = 2
    with pytest.raises(ExchangeError) as caught:
        service.exchange_fetch(EXCHANGE)
    assert PASSWORD not in str(caught.value)
    outcome = fetched(service)
    assert outcome.version is not None
    records = service.audit_records()
    by_action = {r.action: r for r in records}
    assert {"exchange", "ingest"} <= set(by_action)
    exchange = by_action["exchange"]
    assert exchange.subject == EXCHANGE
    assert exchange.details["list"] == EXCHANGE
    assert exchange.details["resumed"] is True
    assert exchange.details["pages"] == 7
    assert exchange.details["version"] == 1
    assert exchange.details["source_sha256"] == outcome.version.source_sha256
    assert by_action["ingest"].subject == EXCHANGE
    assert by_action["ingest"].details["version_id"] == outcome.version.version_id
    for record in records:
        dumped = json.dumps(dataclasses.asdict(record), default=str)
        assert PASSWORD not in dumped
    assert service.audit_verify().ok
    assert_no_password_in_files(service.home)
    state = service.catalog.exchange_state(EXCHANGE)
    assert PASSWORD not in repr(state)
    assert PASSWORD not in repr(outcome)
