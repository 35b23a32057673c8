"""hashmatch.match.live: following the published snapshot without failing a request.

Each test builds real snapshots through a :class:`Service` on the in-memory catalog (the
SQL stores are covered in tests/integration) and drives a :class:`LiveMatcher` over its
snapshot folder: republishing under threads of lookups and batch matches, a snapshot
removed between reading the pointer and opening it, a request that outlives the files
of the snapshot it began on, and the poll interval.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.errors import NotFound, SnapshotError
from hashmatch.index import Snapshot, SnapshotStore
from hashmatch.match.live import LiveMatcher
from hashmatch.model import Purpose, UpdateMode, Verdict
from hashmatch.service import Service

LIST = "concern-list"
SPAN = 240
"""Fixture numbers 0 .. SPAN - 1: the digests the tests ask about."""


def md5(n: int) -> str:
    return hashlib.md5(f"synthetic-fixture-{n:03d}".encode()).hexdigest()


def write_md5(path: Path, numbers: range | list[int]) -> Path:
    path.write_text("".join(f"{md5(n)}  f{n}.bin\n" for n in numbers), "utf-8")
    return path


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """A data directory whose one concern list holds fixtures 0..99, published."""
    settings = Settings(
        home=tmp_path / "home",
        operator="tester",
        database_url="memory://",
        snapshot_poll_seconds=0.0,
    )
    with Service(settings) as svc:
        svc.add_list(LIST, Purpose.CONCERN)
        svc.ingest(LIST, write_md5(tmp_path / "v1.md5", range(100)))
        yield svc


def _items(numbers: list[int]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"id": [f"item-{n}" for n in numbers], "md5": [md5(n) for n in numbers]}
    )


# Republishing under load


def test_lookups_and_batches_never_fail_while_new_snapshots_are_published(
    service: Service, tmp_path: Path
) -> None:
    """Every answer is the one its snapshot gives, whichever snapshot that was.

    One thread publishes add and remove deltas and full replaces (each publish also
    cleans old snapshots up); three threads look up single digests and match batches
    meanwhile, through one LiveMatcher that polls the pointer on every request.
    """
    live = LiveMatcher(service.snapshots, poll_seconds=0.0)
    expected: dict[str, frozenset[int]] = {}
    first = service.snapshots.current_id()
    assert first is not None
    expected[first] = frozenset(range(100))
    steps: list[tuple[UpdateMode, range | list[int]]] = [
        (UpdateMode.ADD, range(100, 140)),
        (UpdateMode.REMOVE, range(0, 30)),
        (UpdateMode.REPLACE, range(60, 200)),
        (UpdateMode.ADD, [3, 5, 7, 230, 231]),
        (UpdateMode.REMOVE, range(150, 200)),
        (UpdateMode.REPLACE, range(0, SPAN, 2)),
        (UpdateMode.ADD, range(1, 41, 2)),
    ]
    answers: list[tuple[str, dict[int, str]]] = []
    failures: list[BaseException] = []
    done = threading.Event()
    answers_lock = threading.Lock()

    def publish() -> None:
        model = set(range(100))  # what the list holds, by the plain set arithmetic
        try:
            for step, (mode, numbers) in enumerate(steps):
                time.sleep(0.05)
                path = write_md5(tmp_path / f"step-{step}.md5", numbers)
                service.ingest(LIST, path, mode=mode)
                if mode is UpdateMode.ADD:
                    model |= set(numbers)
                elif mode is UpdateMode.REMOVE:
                    model -= set(numbers)
                else:
                    model = set(numbers)
                current = service.snapshots.current_id()
                assert current is not None
                assert current not in expected
                expected[current] = frozenset(model)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    def look_up(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not done.is_set():
                serving_answers: dict[str, dict[int, str]] = {}
                for n in rng.sample(range(SPAN), 20):
                    serving = live.current()
                    assert serving is not None
                    answer = serving.lookup(Algorithm.MD5, md5(n))
                    serving_answers.setdefault(answer.snapshot_id, {})[n] = answer.verdict.value
                with answers_lock:
                    answers.extend(serving_answers.items())
        except BaseException as exc:
            failures.append(exc)

    def match(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not done.is_set():
                numbers = rng.sample(range(SPAN), 120)
                serving = live.current()
                assert serving is not None
                batch = serving.match(_items(numbers))
                assert batch.column("id").to_pylist() == [f"item-{n}" for n in numbers]
                snapshot_id = batch.schema.metadata[b"snapshot_id"].decode()
                verdicts = batch.column("verdict").to_pylist()
                with answers_lock:
                    answers.append((snapshot_id, dict(zip(numbers, verdicts, strict=True))))
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=publish),
        threading.Thread(target=look_up, args=(1,)),
        threading.Thread(target=look_up, args=(2,)),
        threading.Thread(target=match, args=(3,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []

    seen = {snapshot_id for snapshot_id, _ in answers}
    assert seen <= expected.keys(), "an answer came from a snapshot that was never published"
    assert len(seen) >= 3, f"the readers saw only {len(seen)} snapshots: no switch observed"
    assert live.switches >= len(seen) - 1
    for snapshot_id, verdicts in answers:
        known = expected[snapshot_id]
        wrong = {n: v for n, v in verdicts.items() if v != ("known" if n in known else "unknown")}
        assert wrong == {}, f"answers inconsistent with snapshot {snapshot_id}: {wrong}"
    # after the last publish, the next request is answered from it
    final = service.snapshots.current_id()
    assert final is not None
    serving = live.current()
    assert serving is not None
    assert serving.snapshot.id == final
    assert serving.lookup(Algorithm.MD5, md5(1)).verdict is Verdict.KNOWN
    assert serving.lookup(Algorithm.MD5, md5(41)).verdict is Verdict.UNKNOWN


def test_the_service_follows_a_publish_made_by_another_service(
    service: Service, tmp_path: Path
) -> None:
    """A server's Service sees an ingest made through another Service (another process)."""
    before = service.lookup(Algorithm.MD5, md5(150))
    assert before.verdict is Verdict.UNKNOWN
    with Service(service.settings, catalog=service.catalog) as curator:
        curator.ingest(LIST, write_md5(tmp_path / "more.md5", [150]), mode=UpdateMode.ADD)
    after = service.lookup(Algorithm.MD5, md5(150))
    assert after.verdict is Verdict.KNOWN
    assert after.snapshot_id != before.snapshot_id
    assert service.live().switches == 1


# The pointer and the files on disk


class _Racing(SnapshotStore):
    """A snapshot folder in which, the first time ``victim`` is about to be opened, another
    publish lands and cleanup removes ``victim``: what happens when two publishes follow
    each other between a worker's reading of the pointer and its opening of the snapshot."""

    def __init__(self, root: Path, *, victim: str, then: str) -> None:
        super().__init__(root)
        self.victim = victim
        self.then = then
        self.opened: list[str] = []

    def open(self, snapshot_id: str, *, threads: int = 1) -> Snapshot:
        self.opened.append(snapshot_id)
        if snapshot_id == self.victim and self.opened.count(snapshot_id) == 1:
            self.publish(self.then)
            self.cleanup(keep=1)
            assert not (self.root / self.victim).exists()
        return super().open(snapshot_id, threads=threads)


def _three_snapshots(service: Service, tmp_path: Path) -> tuple[str, str, str]:
    """Publish two more full versions; returns the ids of all three (oldest first)."""
    first = service.snapshots.current_id()
    service.ingest(LIST, write_md5(tmp_path / "v2.md5", range(100, 200)))
    second = service.snapshots.current_id()
    service.ingest(LIST, write_md5(tmp_path / "v3.md5", range(200, SPAN)))
    third = service.snapshots.current_id()
    assert first is not None
    assert second is not None
    assert third is not None
    assert len({first, second, third}) == 3
    return first, second, third


def test_a_snapshot_removed_before_it_is_opened_is_skipped_for_the_newer_one(
    service: Service, tmp_path: Path
) -> None:
    _first, second, third = _three_snapshots(service, tmp_path)
    service.snapshots.publish(second)
    racing = _Racing(service.snapshots.root, victim=second, then=third)
    live = LiveMatcher(racing, poll_seconds=0.0)
    serving = live.current()  # reads "second", which is gone by the time it opens it
    assert serving is not None
    assert racing.opened == [second, third]
    assert serving.snapshot.id == third
    assert serving.lookup(Algorithm.MD5, md5(220)).verdict is Verdict.KNOWN
    assert serving.lookup(Algorithm.MD5, md5(150)).verdict is Verdict.UNKNOWN


def test_a_request_finishes_on_its_snapshot_after_cleanup_removed_the_files(
    service: Service, tmp_path: Path
) -> None:
    live = LiveMatcher(service.snapshots, poll_seconds=0.0)
    serving = live.current()  # a request begins on the first snapshot ...
    assert serving is not None
    old = serving.snapshot.id
    _three_snapshots(service, tmp_path)  # ... two publishes later, its folder is removed
    assert not (service.snapshots.root / old).exists()
    assert serving.lookup(Algorithm.MD5, md5(5)).verdict is Verdict.KNOWN
    batch = serving.match(_items([5, 150, 220]))
    assert batch.column("verdict").to_pylist() == ["known", "unknown", "unknown"]
    newer = live.current()
    assert newer is not None
    assert newer.lookup(Algorithm.MD5, md5(5)).verdict is Verdict.UNKNOWN
    assert newer.lookup(Algorithm.MD5, md5(220)).verdict is Verdict.KNOWN


def test_a_pointer_that_cannot_be_followed_leaves_the_serving_snapshot_in_place(
    service: Service,
) -> None:
    live = LiveMatcher(service.snapshots, poll_seconds=0.0)
    serving = live.current()
    assert serving is not None
    _pointer(service).write_text('{"id": "no-such-snapshot"}', "utf-8")
    again = live.current()
    assert again is serving
    assert live.switches == 0


def test_a_fresh_process_with_a_dangling_pointer_is_a_snapshot_error(
    service: Service,
) -> None:
    _pointer(service).write_text('{"id": "no-such-snapshot"}', "utf-8")
    with pytest.raises(SnapshotError, match="cannot open the published snapshot"):
        LiveMatcher(service.snapshots).current()


def _pointer(service: Service) -> Path:
    """The pointer file of the snapshot folder (whatever its name)."""
    current = service.snapshots.current_id()
    for path in service.snapshots.root.iterdir():
        if path.is_file() and current is not None and current in path.read_text("utf-8"):
            return path
    raise NotFound("no pointer file")


def test_the_pointer_is_read_at_most_once_per_poll_interval(
    service: Service, tmp_path: Path
) -> None:
    now = [0.0]
    live = LiveMatcher(service.snapshots, poll_seconds=0.5, clock=lambda: now[0])
    serving = live.current()
    assert serving is not None
    service.ingest(LIST, write_md5(tmp_path / "v2.md5", range(100, 200)))
    now[0] = 0.4
    assert live.current() is serving  # within the interval: the old one still serves
    now[0] = 0.6
    newer = live.current()
    assert newer is not None
    assert newer is not serving
    assert newer.lookup(Algorithm.MD5, md5(150)).verdict is Verdict.KNOWN
    assert live.switches == 1
