"""The NCMEC hash-sharing exchange client against the fake NCMEC server: windows, paging,
tombstones, cursors and resuming, retries and failures, and what it must never do."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hashmatch_adapters.ncmec import NcmecXmlAdapter
from hashmatch_adapters.ncmec_api import NcmecExchangeClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ncmec_server import FakeEntry, FakeNcmec, synthetic_entries, synthetic_entry

from hashmatch.adapter import ReadContext
from hashmatch.errors import (
    ConfigurationError,
    CursorRejected,
    ExchangeAuthError,
    ExchangeError,
)
from hashmatch.exchange import (
    UPDATE_SCHEMA,
    ExchangeConfig,
    ExchangeCredentials,
    ExchangePage,
)
from hashmatch.registry import AdapterRegistry

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
FAST = {"backoff": 0.001, "timeout": 5.0, "retries": 3}
MakeClient = Callable[..., NcmecExchangeClient]


@pytest.fixture(name="fake")
def _fake() -> Iterator[FakeNcmec]:
    with FakeNcmec(page_size=4, seed=7) as fake:
        yield fake


@pytest.fixture(name="make_client")
def _make_client(fake: FakeNcmec) -> Iterator[MakeClient]:
    """Build clients for ``fake`` (``password=``, ``api_root=`` and config fields to
    override); every one is closed afterwards."""
    made: list[NcmecExchangeClient] = []

    def make(**overrides: Any) -> NcmecExchangeClient:
        client = NcmecExchangeClient(config(fake, **overrides))
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            client.close()


def config(fake: FakeNcmec, **overrides: Any) -> ExchangeConfig:
    password = overrides.pop("password", fake.password)
    fields: dict[str, Any] = {
        "name": "ncmec-industry",
        "environment": "industry",
        "api_root": fake.url,
        "credentials": ExchangeCredentials(username=fake.username, password=password),
        **FAST,
        **overrides,
    }
    return ExchangeConfig(**fields)


def rows(pages: list[ExchangePage]) -> list[dict[str, Any]]:
    return [row for page in pages for row in page.updates.to_pylist()]


def resolve(rows_in_fetch_order: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the core does with a fetch: per key the latest change, the one fetched last
    among equal timestamps; tombstones remove the key."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows_in_fetch_order:
        kept = latest.get(row["key"])
        if kept is None or row["timestamp"] >= kept["timestamp"]:
            latest[row["key"]] = row
    return {key: row for key, row in latest.items() if not row["deleted"]}


def summary(entry: FakeEntry) -> tuple[str | None, str | None, str | None]:
    return entry.md5, entry.sha1, entry.classification


def row_summary(row: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    return row["md5"], row["sha1"], json.loads(row["labels"]).get("category")


def seeded_entries(count: int, *, start: datetime = T0, end: datetime = T0 + DAY, seed: int = 1):
    return synthetic_entries(random.Random(seed), count, start=start, end=end)


# --- the exchanges it offers --------------------------------------------------------------


def test_the_environments_are_ncmecs_and_registered() -> None:
    registry = AdapterRegistry.from_entry_points()
    assert [n for n in registry.exchange_names() if n.startswith("ncmec-")] == [
        "ncmec-exploitative",
        "ncmec-exploitative-test",
        "ncmec-industry",
        "ncmec-industry-test",
        "ncmec-ngo",
        "ncmec-ngo-test",
    ]
    assert registry.exchange("ncmec-industry") == (NcmecExchangeClient, "industry")
    roots = NcmecExchangeClient.ENVIRONMENTS
    assert roots["industry"] == "https://report.cybertip.org/hashsharing"
    assert roots["industry-test"] == "https://exttest.cybertip.org/hashsharing"
    assert all(url.startswith("https://") for url in roots.values())


# --- windows and pages ----------------------------------------------------------------------


def test_a_full_fetch_is_one_window_from_1970_paged_to_its_end(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.put(*seeded_entries(10))
    until = T0 + 2 * DAY
    pages = list(make_client().fetch(since=None, until=until))

    assert [page.updates.num_rows for page in pages] == [4, 4, 2]
    assert [page.fetched_through for page in pages] == [None, None, until]
    assert [page.cursor is None for page in pages] == [False, False, True]
    first = fake.entries_requests()[0]
    assert first.params == {"from": "1970-01-01T00:00:00Z", "to": "2024-03-03T00:00:00Z"}
    assert [r.params.get("start") for r in fake.entries_requests()] == [None, "5", "9"]
    assert {row["key"] for row in rows(pages)} == set(fake.expected_state())
    for page in pages:
        assert page.updates.schema.equals(UPDATE_SCHEMA)
        assert page.source.startswith("GET /hashsharing/v2/entries?from=1970-01-01T00")


def test_an_incremental_fetch_asks_for_consecutive_windows(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.put(*seeded_entries(12, end=T0 + 3 * DAY))
    pages = list(make_client(window=DAY).fetch(since=T0, until=T0 + 2 * DAY + timedelta(hours=12)))

    windows = [(r.params["from"], r.params["to"]) for r in fake.entries_requests()]
    assert sorted(set(windows)) == [
        ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"),
        ("2024-03-02T00:00:00Z", "2024-03-03T00:00:00Z"),
        ("2024-03-03T00:00:00Z", "2024-03-03T12:00:00Z"),
    ]
    ends = [page.fetched_through for page in pages if page.fetched_through is not None]
    assert ends == [T0 + DAY, T0 + 2 * DAY, T0 + 2 * DAY + timedelta(hours=12)]
    # Every page but the last of the fetch has a cursor, the ends of windows included.
    assert [page.cursor is None for page in pages] == [False] * (len(pages) - 1) + [True]
    assert pages[-1].fetched_through is not None
    want = {e.key for e in fake.entries if T0 <= e.timestamp <= T0 + 2 * DAY + timedelta(hours=12)}
    assert {row["key"] for row in rows(pages)} == want


def test_nothing_is_asked_for_an_empty_range(fake: FakeNcmec, make_client: MakeClient) -> None:
    assert list(make_client().fetch(since=T0, until=T0)) == []
    assert fake.requests == []


def test_entries_arrive_out_of_time_order_and_are_all_kept(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.put(*seeded_entries(30, seed=3))
    pages = list(make_client().fetch(since=None, until=T0 + DAY))
    stamps = [row["timestamp"] for row in rows(pages)]

    assert stamps != sorted(stamps), "the fake is meant to serve entries shuffled"
    assert len(stamps) == 30
    # A page's maxTimestamp never cuts the window short: the later pages hold older entries.
    assert min(stamps[4:]) < max(stamps[:4])
    assert set(resolve(rows(pages))) == set(fake.expected_state())


def test_a_second_holding_more_entries_than_a_page_is_paged_through(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    rng = random.Random(5)
    moment = T0 + timedelta(hours=5, minutes=17, seconds=3)
    same_second = [synthetic_entry(rng, timestamp=moment, entry_id=f"syn-{n}") for n in range(25)]
    fake.put(*same_second)
    pages = list(make_client(window=timedelta(hours=1)).fetch(since=T0, until=T0 + DAY))

    keys = [row["key"] for row in rows(pages)]
    assert sorted(keys) == sorted(e.key for e in same_second)
    in_that_window = [p for p in pages if "T05%3A00%3A00Z&to=2024-03-01T06" in p.source]
    assert len(in_that_window) == 7  # 25 entries, 4 a page


# --- what a page holds ----------------------------------------------------------------------


def test_updates_tombstones_and_perceptual_only_entries(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    exact = FakeEntry(
        member="9001",
        entry_id="syn-img-1",
        timestamp=T0 + timedelta(hours=1),
        classification="A2",
        md5=hashlib.md5(b"synthetic-fixture-001").hexdigest(),
        sha1=hashlib.sha1(b"synthetic-fixture-001").hexdigest(),
        perceptual=(("pdna", "synthetic-pdna-01"),),
        member_name="Synthetic ESP",
    )
    video = FakeEntry(
        member="9002",
        entry_id="syn-vid-1",
        timestamp=T0 + timedelta(hours=2),
        media="video",
        md5=hashlib.md5(b"synthetic-fixture-002").hexdigest(),
        perceptual=(("tmk-pdqf", ""),),
        member_name="Synthetic NGO",
    )
    perceptual_only = FakeEntry(
        member="9003",
        entry_id="syn-img-2",
        timestamp=T0 + timedelta(hours=3),
        classification="B1",
        perceptual=(("pdq", "ab" * 32),),
        member_name="Synthetic Platform",
    )
    gone = FakeEntry(member="9001", entry_id="syn-img-0", timestamp=T0, md5="0" * 32)
    fake.put(exact, video, perceptual_only, gone)
    fake.delete("9001-syn-img-0", at=T0 + timedelta(hours=4))
    by_key = {row["key"]: row for row in rows(list(make_client().fetch(since=T0, until=T0 + DAY)))}

    assert by_key["9001-syn-img-1"] == {
        "key": "9001-syn-img-1",
        "timestamp": T0 + timedelta(hours=1),
        "deleted": False,
        "md5": exact.md5,
        "sha1": exact.sha1,
        "sha256": None,
        "labels": by_key["9001-syn-img-1"]["labels"],
    }
    labels = json.loads(by_key["9001-syn-img-1"]["labels"])
    assert labels["category"] == "A2"
    assert labels["source_id"] == "9001-syn-img-1"
    assert labels["perceptual"] == ["pdna:synthetic-pdna-01"]
    assert json.loads(by_key["9002-syn-vid-1"]["labels"])["perceptual"] == ["tmk-pdqf:link"]
    assert by_key["9002-syn-vid-1"]["sha1"] is None
    # Only perceptual fingerprints: still the entry's current version, with null digests.
    only = by_key["9003-syn-img-2"]
    assert (only["deleted"], only["md5"], only["sha1"]) == (False, None, None)
    assert json.loads(only["labels"])["perceptual"] == ["pdq:" + "ab" * 32]
    assert by_key["9001-syn-img-0"] == {
        "key": "9001-syn-img-0",
        "timestamp": T0 + timedelta(hours=4),
        "deleted": True,
        "md5": None,
        "sha1": None,
        "sha256": None,
        "labels": None,
    }
    assert by_key["9001-syn-img-0"]["timestamp"].utcoffset() == timedelta(0)


def test_labels_are_the_file_adapters_verbatim(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.put(*seeded_entries(6, seed=11))
    page = next(make_client().fetch(since=None, until=T0 + DAY))
    body = fake_body(fake, page)
    assert hashlib.sha256(body).hexdigest() == page.sha256
    adapter = NcmecXmlAdapter()
    file_rows = [
        row
        for batch in adapter.read(io.BytesIO(body), ReadContext(source="page.xml"))
        for row in batch.to_pylist()
    ]
    by_md5 = {row["md5"]: row["labels"] for row in file_rows}
    for row in page.updates.to_pylist():
        if row["md5"] is not None:
            assert row["labels"] == by_md5[row["md5"]]


def fake_body(fake: FakeNcmec, page: ExchangePage) -> bytes:
    """The body the fake served for ``page``, asked for again (paging is stable)."""
    with NcmecExchangeClient(config(fake)) as client:
        url = fake.origin + page.source.removeprefix("GET ")
        return client._get(url, page.source, resumed=False)


def test_entries_that_cannot_be_keyed_or_dated_are_skipped_with_warnings(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    rng = random.Random(2)
    good = synthetic_entry(rng, timestamp=T0, entry_id="syn-good")
    no_member = FakeEntry(member=None, entry_id="syn-x", timestamp=T0, md5="1" * 32)
    no_id = FakeEntry(member="9001", entry_id=None, timestamp=T0, md5="2" * 32)
    bad_time = FakeEntry(
        member="9001", entry_id="syn-y", timestamp=T0, md5="3" * 32, timestamp_text="yesterday"
    )
    fake.page_size = 10
    fake.put(good, no_member, no_id, bad_time)
    (page,) = list(make_client().fetch(since=None, until=T0 + DAY))

    assert [row["key"] for row in page.updates.to_pylist()] == [good.key]
    reasons = sorted(w.reason for w in page.warnings)
    assert len(reasons) == 3
    assert sum("cannot be keyed" in r for r in reasons) == 2
    assert any("'yesterday' cannot be read" in r for r in reasons)
    assert all(w.source == page.source and (w.line or 0) > 2 for w in page.warnings)


def test_rows_keep_document_order(fake: FakeNcmec, make_client: MakeClient) -> None:
    """One key changed twice in a second on one page: the change written last is the one
    that wins among equal timestamps, so the rows must keep the document's order."""
    live = FakeEntry(member="9001", entry_id="syn-1", timestamp=T0, md5="4" * 32)
    other = FakeEntry(member="9002", entry_id="syn-2", timestamp=T0, md5="5" * 32)
    body = (
        '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images count="4">\n'
        f"{live.tombstone(T0).render()}\n{live.render()}\n{other.render()}\n"
        f"{other.tombstone(T0).render()}\n</images></queryResult>"
    ).encode()
    fake.serve_next(body)
    (page,) = list(make_client().fetch(since=None, until=T0 + DAY))
    assert [(r["key"], r["deleted"]) for r in page.updates.to_pylist()] == [
        ("9001-syn-1", True),
        ("9001-syn-1", False),
        ("9002-syn-2", False),
        ("9002-syn-2", True),
    ]
    assert set(resolve(page.updates.to_pylist())) == {"9001-syn-1"}


def test_the_file_adapter_keeps_tombstone_times_and_its_file_rules() -> None:
    """``deleted`` runs parallel to ``tombstones``; without ``exchange`` an entry with no
    digest is still a warning, and one with no id is still read."""
    gone = FakeEntry(member="9001", entry_id="syn-0", timestamp=T0, md5="6" * 32)
    no_id = FakeEntry(member="9001", entry_id=None, timestamp=T0, md5="7" * 32)
    only = FakeEntry(member="9002", entry_id="syn-3", timestamp=T0, perceptual=(("pdq", "c" * 64),))
    body = (
        '<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images>\n'
        f"{gone.tombstone(T0 + DAY).render()}\n{no_id.render()}\n{only.render()}\n"
        "</images></queryResult>"
    ).encode()
    adapter = NcmecXmlAdapter()
    context = ReadContext(source="entries.xml")
    file_rows = [r for b in adapter.read(io.BytesIO(body), context) for r in b.to_pylist()]
    assert [r["md5"] for r in file_rows] == ["7" * 32]
    assert adapter.tombstones == ["9001-syn-0"]
    assert [(d.key, d.timestamp, d.line, d.media) for d in adapter.deleted] == [
        ("9001-syn-0", "2024-03-02T00:00:00Z", 2, "image")
    ]
    assert sorted(w.reason for w in context.warnings) == [
        "entry 9001-? has no member id or id",
        "entry 9002-syn-3 has no md5 or sha1 fingerprint",
    ]


# --- cursors and resuming ---------------------------------------------------------------------


def test_resuming_from_any_cursor_gives_exactly_the_remaining_pages(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.put(*seeded_entries(30, end=T0 + 3 * DAY, seed=4))
    until = T0 + 3 * DAY
    client = make_client(window=DAY)
    pages = list(client.fetch(since=T0, until=until))
    assert len(pages) >= 7

    def seen(page: ExchangePage) -> tuple[Any, ...]:
        return (page.source, page.updates.to_pylist(), page.fetched_through, page.cursor)

    for index, page in enumerate(pages[:-1]):
        assert page.cursor is not None
        json.dumps(page.cursor)  # JSON-able, as the journal stores it
        resumed = list(make_client(window=DAY).fetch(since=T0, until=until, resume=page.cursor))
        assert [seen(p) for p in resumed] == [seen(p) for p in pages[index + 1 :]], index


def test_a_refused_paging_link_on_resume_is_a_rejected_cursor(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.put(*seeded_entries(10))
    first = next(make_client().fetch(since=None, until=T0 + DAY))
    assert first.cursor is not None
    assert first.cursor["next"]
    for status in (410, 404, 400):
        fake.expire_paging(status)
        with pytest.raises(CursorRejected, match=f"HTTP {status}"):
            list(make_client().fetch(since=None, until=T0 + DAY, resume=first.cursor))


@pytest.mark.parametrize(
    "cursor",
    [
        {"from": "2024-03-01T00:00:00+00:00", "to": "2024-03-02T00:00:00+00:00"},
        {"from": "yesterday", "to": "2024-03-02T00:00:00+00:00", "next": ""},
        {"from": "2024-03-01T00:00:00+00:00", "to": "2024-03-09T00:00:00+00:00", "next": ""},
        {
            "from": "2024-03-01T00:00:00+00:00",
            "to": "2024-03-02T00:00:00+00:00",
            "next": "https://elsewhere.example/hashsharing/v2/entries?start=5",
        },
    ],
    ids=["missing-next", "bad-time", "beyond-until", "other-host"],
)
def test_a_cursor_that_is_not_ours_is_rejected(
    fake: FakeNcmec, make_client: MakeClient, cursor: dict[str, str]
) -> None:
    with pytest.raises(CursorRejected):
        list(make_client().fetch(since=T0, until=T0 + DAY, resume=cursor))
    assert fake.requests == []


def test_a_bad_request_that_is_not_a_resume_is_no_rejected_cursor(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.fail_next(1, 400)
    with pytest.raises(ExchangeError, match="HTTP 400") as raised:
        list(make_client().fetch(since=None, until=T0 + DAY))
    assert not isinstance(raised.value, CursorRejected)
    assert len(fake.requests) == 1


# --- retries and failures -----------------------------------------------------------------------


def test_server_errors_and_rate_limits_are_retried_with_back_off(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.put(*seeded_entries(6))
    fake.fail_next(1, 500)
    fake.fail_next(1, 503)
    fake.fail_next(1, 429, retry_after="7")
    client = make_client(retries=3, backoff=0.5)
    waits: list[float] = []
    client._sleep = waits.append
    pages = list(client.fetch(since=None, until=T0 + DAY))

    assert waits == [0.5, 1.0, 7.0]  # back-off doubles; Retry-After is honoured
    assert [r.status for r in fake.requests][:4] == [500, 503, 429, 200]
    assert {row["key"] for row in rows(pages)} == set(fake.expected_state())


def test_a_long_retry_after_is_capped(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.fail_next(1, 429, retry_after="86400")
    client = make_client()
    waits: list[float] = []
    client._sleep = waits.append
    list(client.fetch(since=None, until=T0 + DAY))
    assert waits == [300.0]


def test_it_gives_up_after_the_retries(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.fail_next(4, 503)
    with pytest.raises(ExchangeError, match=r"gave up after 4 attempts.*HTTP 503") as raised:
        list(make_client(retries=3).fetch(since=None, until=T0 + DAY))
    assert raised.value.source is not None
    assert raised.value.source.startswith("GET /hashsharing/v2/entries?from=1970-01-01")
    assert len(fake.requests) == 4


def test_a_time_out_is_retried(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.put(*seeded_entries(3))
    fake.delay_next(1, seconds=3.0)
    pages = list(make_client(timeout=0.3).fetch(since=None, until=T0 + DAY))
    assert {row["key"] for row in rows(pages)} == set(fake.expected_state())


def test_time_outs_to_the_end_give_up(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.delay_next(2, seconds=3.0)
    with pytest.raises(ExchangeError, match=r"no answer within 0\.2 s"):
        list(make_client(timeout=0.2, retries=1).fetch(since=None, until=T0 + DAY))


def test_a_dropped_connection_is_retried(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.put(*seeded_entries(5))
    fake.close_next(2)
    pages = list(make_client().fetch(since=None, until=T0 + DAY))
    assert [r.status for r in fake.requests][:3] == [0, 0, 200]
    assert {row["key"] for row in rows(pages)} == set(fake.expected_state())


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_fail_at_once(
    fake: FakeNcmec, make_client: MakeClient, status: int
) -> None:
    if status == 401:
        client = make_client(password="synthetic-wrong-password")
    else:
        fake.fail_next(1, 403)
        client = make_client()
    with pytest.raises(ExchangeAuthError, match=f"HTTP {status}"):
        list(client.fetch(since=None, until=T0 + DAY))
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "body",
    [b"<html><body>maintenance</body></html>", b"not xml at all", b"<queryResult><images>"],
    ids=["html", "text", "truncated"],
)
def test_a_body_that_is_no_entries_document_names_the_request(
    fake: FakeNcmec, make_client: MakeClient, body: bytes
) -> None:
    fake.garbage_next(1, body)
    with pytest.raises(ExchangeError, match="not an NCMEC entries document") as raised:
        list(make_client().fetch(since=None, until=T0 + DAY))
    assert "GET /hashsharing/v2/entries?from=" in str(raised.value)
    assert len(fake.requests) == 1


def test_entity_declarations_are_refused(fake: FakeNcmec, make_client: MakeClient) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaa">]><queryResult>&a;</queryResult>'
    fake.garbage_next(1, bomb)
    with pytest.raises(ExchangeError, match="entit"):
        list(make_client().fetch(since=None, until=T0 + DAY))


def test_paging_that_does_not_advance_is_an_error(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.put(*seeded_entries(10))
    client = make_client()
    pages = client.fetch(since=None, until=T0 + DAY)
    first = next(pages)
    assert first.cursor is not None
    loop = (
        b'<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><paging><next>'
        + first.cursor["next"].replace("&", "&amp;").encode()
        + b"</next></paging></queryResult>"
    )
    fake.serve_next(loop)
    with pytest.raises(ExchangeError, match="paging does not advance"):
        list(pages)


# --- security -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base",
    [
        lambda fake: "http://elsewhere.example/hashsharing",
        lambda fake: "//elsewhere.example/hashsharing",
        lambda fake: fake.url.replace("http://", "https://"),
        lambda fake: f"http://127.0.0.1:{fake.port + 1}/hashsharing",
        lambda fake: f"http://localhost:{fake.port}/hashsharing",
        lambda fake: f"http://user:pw@127.0.0.1:{fake.port}/hashsharing",
        lambda fake: fake.origin + "/elsewhere",
        lambda fake: "/..",
        lambda fake: "/%2e%2e",
    ],
    ids=[
        "host",
        "scheme-relative",
        "scheme",
        "port",
        "other-name",
        "userinfo",
        "outside-root",
        "dot-dot",
        "escaped-dot-dot",
    ],
)
def test_a_next_link_off_the_api_root_is_never_followed(
    fake: FakeNcmec, make_client: MakeClient, base: Callable[[FakeNcmec], str]
) -> None:
    fake.put(*seeded_entries(10))
    fake.link_base = base(fake)
    with pytest.raises(ExchangeError, match="refusing the paging link"):
        list(make_client().fetch(since=None, until=T0 + DAY))
    assert len(fake.requests) == 1


def test_an_absolute_next_link_on_the_api_root_is_followed(
    fake: FakeNcmec, make_client: MakeClient
) -> None:
    fake.put(*seeded_entries(10))
    fake.link_base = fake.url
    pages = list(make_client().fetch(since=None, until=T0 + DAY))
    assert len(pages) == 3
    assert {row["key"] for row in rows(pages)} == set(fake.expected_state())


@pytest.mark.parametrize(
    "root",
    [
        "http://report.example/hashsharing",
        "http://10.0.0.1/hashsharing",
        "ftp://report.example/hashsharing",
        "https:///hashsharing",
        "https://report.example/hashsharing?x=1",
        "not a url",
    ],
)
def test_an_unusable_api_root_is_refused(fake: FakeNcmec, root: str) -> None:
    with pytest.raises(ConfigurationError):
        NcmecExchangeClient(config(fake, api_root=root))


def test_an_api_root_with_credentials_is_refused_without_showing_them(fake: FakeNcmec) -> None:
    with pytest.raises(ConfigurationError) as raised:
        NcmecExchangeClient(config(fake, api_root="https://someone:hunter2-synthetic@h.example/x"))
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "root",
    ["http://127.0.0.1:9/hashsharing", "http://localhost:9/x/", "http://[::1]:9/x", "https://h/x"],
)
def test_https_and_loopback_roots_are_accepted(fake: FakeNcmec, root: str) -> None:
    NcmecExchangeClient(config(fake, api_root=root)).close()


def test_missing_credentials_are_a_configuration_error(fake: FakeNcmec) -> None:
    with pytest.raises(ConfigurationError):
        NcmecExchangeClient(config(fake, password=""))


@pytest.mark.parametrize(
    "overrides",
    [{"window": timedelta(0)}, {"timeout": 0.0}, {"retries": -1}, {"backoff": -1.0}],
    ids=["window", "timeout", "retries", "backoff"],
)
def test_unusable_patience_settings_are_refused(fake: FakeNcmec, overrides: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        NcmecExchangeClient(config(fake, **overrides))


def test_an_oversized_body_is_refused(
    fake: FakeNcmec, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.put(*seeded_entries(4))
    monkeypatch.setattr("hashmatch_adapters.ncmec_api._MAX_BODY", 1000)
    with pytest.raises(ExchangeError, match="not an entries page"):
        list(make_client().fetch(since=None, until=T0 + DAY))
    assert len(fake.requests) == 1


def test_the_password_appears_in_no_log_error_or_repr(
    fake: FakeNcmec, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "hashmatch_adapters"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake.put(*seeded_entries(6))
    secrets = [fake.password, "synthetic-wrong-password"]
    fake.fail_next(1, 503)
    fake.close_next(1)
    client = make_client(backoff=0.001)
    list(client.fetch(since=None, until=T0 + DAY))
    wrong = make_client(password="synthetic-wrong-password")
    errors: list[BaseException] = []
    with pytest.raises(ExchangeAuthError) as refused:
        list(wrong.fetch(since=None, until=T0 + DAY))
    errors.append(refused.value)
    fake.fail_next(5, 503)
    with pytest.raises(ExchangeError) as gave_up:
        list(client.fetch(since=None, until=T0 + DAY))
    errors.append(gave_up.value)
    fake.link_base = "http://elsewhere.example/hashsharing"
    with pytest.raises(ExchangeError) as refused_link:
        list(client.fetch(since=None, until=T0 + DAY))
    errors.append(refused_link.value)

    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in caplog.records
    )
    assert "httpx" in {record.name for record in caplog.records}  # the loggers were heard
    shown = [
        logged,
        repr(client),
        str(client),
        repr(client.config),
        repr(wrong),
        *(str(e) for e in errors),
        *(repr(e) for e in errors),
    ]
    for secret in secrets:
        header = base64.b64encode(f"{fake.username}:{secret}".encode()).decode()
        for text in shown:
            assert secret not in text
            assert header not in text
    assert "Authorization" not in repr(fake.requests)


# --- status, and the fake itself ------------------------------------------------------------------


def test_status_names_the_member(fake: FakeNcmec, make_client: MakeClient) -> None:
    status = make_client().status()
    assert (status.member_id, status.member_name) == ("9001", "Synthetic ESP")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<status/>", "names no member"),
        (b"<status><member", "not XML"),
        (b'<!DOCTYPE s [<!ENTITY a "b">]><status/>', "declares an entity"),
    ],
)
def test_a_status_that_names_nobody_is_an_error(
    fake: FakeNcmec, make_client: MakeClient, body: bytes, message: str
) -> None:
    fake.serve_next(body)
    with pytest.raises(ExchangeError, match=message):
        make_client().status()


def test_a_hung_request_waits_for_release(fake: FakeNcmec, make_client: MakeClient) -> None:
    fake.put(*seeded_entries(10))
    fake.hang_on(2)
    client = make_client(timeout=10.0)
    done: list[int] = []
    worker = threading.Thread(
        target=lambda: done.append(len(list(client.fetch(since=None, until=T0 + DAY))))
    )
    worker.start()
    try:
        assert fake.hanging.wait(5)
        worker.join(0.2)
        assert worker.is_alive()
        assert not done
        assert len(fake.entries_requests()) == 1  # the second is the one held
    finally:
        fake.release()
        worker.join(10)
    assert done == [3]


def test_expected_state_applies_updates_and_deletions(fake: FakeNcmec) -> None:
    one, two, three = seeded_entries(3)
    fake.put(one, two, three)
    newer = FakeEntry(
        member=one.member, entry_id=one.entry_id, timestamp=T0 + 2 * DAY, md5="a" * 32
    )
    fake.put(newer)
    fake.delete(two.key, at=T0 + 2 * DAY)
    assert fake.expected_state() == {one.key: newer, three.key: three}
    with pytest.raises(KeyError):
        fake.delete("9999-nothing", at=T0)


# --- the property: whatever the entries, pages and windows, nothing is lost -----------------------


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(0, 30),
    changes=st.integers(0, 12),
    page_size=st.integers(1, 7),
    window_hours=st.integers(6, 72),
    cut=st.floats(0, 1),
)
def test_fetches_resolve_to_the_servers_state(
    seed: int, count: int, changes: int, page_size: int, window_hours: int, cut: float
) -> None:
    """A full fetch, changes, then an incremental fetch interrupted and resumed: the rows
    resolved by key (latest timestamp wins) are the server's live entries."""
    rng = random.Random(seed)
    first_until = T0 + 3 * DAY
    second_until = first_until + 2 * DAY
    with FakeNcmec(page_size=page_size, seed=seed) as fake:
        entries = synthetic_entries(rng, count, start=T0, end=first_until)
        fake.put(*entries)
        settings_ = config(fake, window=timedelta(hours=window_hours))
        with NcmecExchangeClient(settings_) as client:
            fetched = rows(list(client.fetch(since=None, until=first_until)))
        for _ in range(changes):
            at = first_until + timedelta(seconds=rng.randint(0, int(2 * DAY.total_seconds())))
            live = [e for e in fake.entries if not e.deleted]
            roll = rng.random()
            if live and roll < 0.4:
                fake.delete(rng.choice(live).key, at=at)
            elif live and roll < 0.8:
                old = rng.choice(live)
                fake.put(
                    synthetic_entry(rng, timestamp=at, member=old.member, entry_id=old.entry_id)
                )
            else:
                fake.put(synthetic_entry(rng, timestamp=at))
        with NcmecExchangeClient(settings_) as client:
            pages = list(client.fetch(since=first_until, until=second_until))
        stop = int(cut * len(pages))
        if 0 < stop < len(pages):
            cursor = pages[stop - 1].cursor
            assert cursor is not None
            with NcmecExchangeClient(settings_) as client:
                pages = pages[:stop] + list(
                    client.fetch(since=first_until, until=second_until, resume=cursor)
                )
        assert pages[-1].cursor is None
        assert pages[-1].fetched_through == second_until
        resolved = resolve(fetched + rows(pages))
        expected = fake.expected_state()
        assert {k: row_summary(r) for k, r in resolved.items()} == {
            k: summary(e) for k, e in expected.items()
        }
