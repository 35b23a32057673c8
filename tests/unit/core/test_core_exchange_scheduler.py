"""FetchScheduler: fetches at start and then every interval, one at a time, and keeps going
after a failure (logged without anything secret)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from hashmatch.errors import ExchangeError
from hashmatch.exchange_sync import FetchOutcome, FetchScheduler


def _outcome(name: str) -> FetchOutcome:
    return FetchOutcome(
        exchange=name,
        list_name=name,
        version=None,
        since=None,
        until=datetime(2024, 3, 1, tzinfo=UTC),
        reason="incremental",
        resumed=False,
        pages=1,
        updates=0,
        tombstones=0,
        replaced=0,
    )


def test_every_exchange_is_fetched_at_start_then_on_its_interval() -> None:
    calls: list[str] = []
    both = threading.Event()

    def fetch(name: str) -> FetchOutcome:
        calls.append(name)
        if len(calls) >= 2:
            both.set()
        return _outcome(name)

    scheduler = FetchScheduler(
        {"ncmec-industry": timedelta(hours=1), "ncmec-ngo": timedelta(hours=6)}, fetch
    )
    scheduler.start()
    try:
        assert both.wait(10)
    finally:
        scheduler.stop(10)
    assert sorted(calls) == ["ncmec-industry", "ncmec-ngo"]  # once each, not again yet


def test_the_interval_is_counted_from_the_end_of_the_last_fetch() -> None:
    starts: list[float] = []
    third = threading.Event()

    def fetch(name: str) -> FetchOutcome:
        starts.append(time.monotonic())
        time.sleep(0.2)  # the fetch takes 0.2 s
        if len(starts) == 3:
            third.set()
        return _outcome(name)

    scheduler = FetchScheduler({"ncmec-industry": timedelta(seconds=0.3)}, fetch)
    scheduler.start()
    try:
        assert third.wait(10)
    finally:
        scheduler.stop(10)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= 0.5 for gap in gaps), gaps  # 0.2 s of fetch + 0.3 s of interval


def test_a_failed_fetch_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    again = threading.Event()

    def fetch(name: str) -> FetchOutcome:
        if not scheduler.runs[name] > 1:
            raise ExchangeError("GET /v2/entries: HTTP 503 after 5 retries")
        again.set()
        return _outcome(name)

    scheduler = FetchScheduler({"ncmec-industry": timedelta(seconds=0.05)}, fetch)
    with caplog.at_level(logging.INFO, logger="hashmatch.exchange"):
        scheduler.start()
        try:
            assert again.wait(10)
        finally:
            scheduler.stop(10)
    assert scheduler.runs["ncmec-industry"] >= 2
    assert "fetch failed, tried again later" in caplog.text
    assert "HTTP 503" in caplog.text


def test_an_empty_schedule_starts_nothing() -> None:
    scheduler = FetchScheduler({}, _outcome)
    scheduler.start()
    scheduler.stop(1)
    assert scheduler.runs == {}
