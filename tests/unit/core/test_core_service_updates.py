"""hashmatch.service: list updates (add, remove, rollback, diff) and what serves after each.

Every delta must serve exactly what a full rebuild of the same versions serves: the
property test drives random sequences of loads against a plain dict model of the list.
Uses the in-memory catalog; the SQL store is covered in tests/integration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.errors import Conflict, InputError, NotFound
from hashmatch.index import MISS, Snapshot
from hashmatch.model import Purpose, UpdateMode
from hashmatch.records import decode_labels
from hashmatch.service import Service


def md5(n: int) -> str:
    return hashlib.md5(f"synthetic-fixture-{n:03d}".encode()).hexdigest()


def write_csv(path: Path, rows: list[tuple[int, str]]) -> Path:
    """A CSV list of (fixture number, category) rows."""
    lines = ["md5,category"] + [f"{md5(n)},{category}" for n, category in rows]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def write_md5(path: Path, numbers: list[int]) -> Path:
    path.write_text("".join(f"{md5(n)}  f{n}.bin\n" for n in numbers), "utf-8")
    return path


def served(snapshot: Snapshot, numbers: range) -> dict[int, set[str]]:
    """What the snapshot gives each fixture digest: the set of label texts (empty: miss)."""
    out: dict[int, set[str]] = {}
    for n in numbers:
        set_id = snapshot.index.lookup(Algorithm.MD5, bytes.fromhex(md5(n)))
        if set_id != MISS:
            out[n] = {m.labels or "" for m in snapshot.index.label_set(set_id)}
    return out


def make_service(tmp_path: Path, **overrides: object) -> Service:
    settings = Settings(
        home=tmp_path / "home", operator="tester", database_url="memory://", **overrides
    )
    return Service(settings)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with make_service(tmp_path) as service:
        service.add_list("c", Purpose.CONCERN)
        yield service


def test_add_and_remove_serve_through_a_delta_snapshot(service: Service, tmp_path: Path) -> None:
    service.ingest("c", write_md5(tmp_path / "v1.md5", list(range(1, 21))))
    full = service.snapshot()
    assert full is not None
    assert full.base_id is None
    v2 = service.ingest("c", write_md5(tmp_path / "v2.md5", [21, 22]), mode=UpdateMode.ADD)
    v3 = service.ingest("c", write_md5(tmp_path / "v3.md5", [1, 2, 99]), mode=UpdateMode.REMOVE)
    assert (v2.mode, v3.mode) == (UpdateMode.ADD, UpdateMode.REMOVE)
    assert v3.base_version_id == v2.version_id
    snap = service.snapshot()
    assert snap is not None
    assert snap.base_id == full.id  # no full rebuild: one hop to the last full snapshot
    assert snap.delta_rows == 5
    assert set(served(snap, range(1, 100))) == set(range(3, 23))
    assert [item.version for item in snap.lists] == [3]
    assert snap.lists[0].entries == 20 + 2 - 3
    rebuilt = service.rebuild_snapshot()
    assert rebuilt is not None
    assert rebuilt.base_id is None
    assert served(rebuilt, range(1, 100)) == served(snap, range(1, 100))


def test_a_delta_past_the_overlay_limit_is_a_full_rebuild(tmp_path: Path) -> None:
    with make_service(tmp_path, overlay_limit=1) as service:
        service.add_list("c", Purpose.CONCERN)
        service.ingest("c", write_md5(tmp_path / "v1.md5", [1, 2, 3]))
        service.ingest("c", write_md5(tmp_path / "v2.md5", [4, 5]), mode=UpdateMode.ADD)
        snap = service.snapshot()
        assert snap is not None
        assert snap.base_id is None
        assert set(served(snap, range(1, 10))) == {1, 2, 3, 4, 5}


def test_a_delta_snapshot_survives_another_list_changing(service: Service, tmp_path: Path) -> None:
    service.add_list("b", Purpose.BENIGN)
    service.ingest("c", write_md5(tmp_path / "c1.md5", [1, 2]))
    service.ingest("b", write_md5(tmp_path / "b1.md5", [3]))
    service.ingest("c", write_md5(tmp_path / "c2.md5", [4]), mode=UpdateMode.ADD)
    service.ingest("b", write_md5(tmp_path / "b2.md5", [5]))  # a full build again
    snap = service.snapshot()
    assert snap is not None
    assert set(served(snap, range(1, 10))) == {1, 2, 4, 5}
    assert [(item.name, item.version) for item in snap.lists] == [("b", 2), ("c", 2)]


def test_remove_from_a_list_without_versions_is_refused(service: Service, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no version to remove"):
        service.ingest("c", write_md5(tmp_path / "r.md5", [1]), mode=UpdateMode.REMOVE)
    assert service.versions("c") == []


def test_add_to_an_empty_list_starts_it(service: Service, tmp_path: Path) -> None:
    version = service.ingest("c", write_md5(tmp_path / "a.md5", [1]), mode=UpdateMode.ADD)
    assert version.base_version_id is None
    snap = service.snapshot()
    assert snap is not None
    assert set(served(snap, range(1, 5))) == {1}


def test_an_added_digest_keeps_the_labels_it_had_and_gains_the_new_ones(
    service: Service, tmp_path: Path
) -> None:
    service.ingest("c", write_csv(tmp_path / "v1.csv", [(1, "A"), (2, "B")]))
    service.ingest("c", write_csv(tmp_path / "v2.csv", [(1, "C")]), mode=UpdateMode.ADD)
    snap = service.snapshot()
    assert snap is not None
    labels = served(snap, range(1, 3))
    assert {decode_labels(t)["category"] for t in labels[1]} == {"A", "C"}
    assert {decode_labels(t)["category"] for t in labels[2]} == {"B"}


def test_rollback_serves_the_old_content_as_a_new_version(service: Service, tmp_path: Path) -> None:
    service.ingest("c", write_md5(tmp_path / "v1.md5", [1, 2]))
    service.ingest("c", write_md5(tmp_path / "v2.md5", [3]))
    rolled = service.rollback("c", 1)
    assert (rolled.number, rolled.mode) == (3, UpdateMode.ROLLBACK)
    assert rolled.base_version_id == service.versions("c")[0].version_id
    assert rolled.loaded_by == "tester"
    snap = service.snapshot()
    assert snap is not None
    assert set(served(snap, range(1, 5))) == {1, 2}
    assert [v.active for v in service.versions("c")] == [False, False, True]
    with pytest.raises(Conflict, match="already serving"):
        service.rollback("c", 3)
    with pytest.raises(NotFound):
        service.rollback("c", 9)
    service.rollback("c", 2)  # rolling forward is another rollback
    snap = service.snapshot()
    assert snap is not None
    assert set(served(snap, range(1, 5))) == {3}


def test_rollback_of_a_delta_version_restores_its_whole_chain(
    service: Service, tmp_path: Path
) -> None:
    service.ingest("c", write_md5(tmp_path / "v1.md5", [1, 2]))
    service.ingest("c", write_md5(tmp_path / "v2.md5", [3]), mode=UpdateMode.ADD)
    service.ingest("c", write_md5(tmp_path / "v3.md5", [1]), mode=UpdateMode.REMOVE)
    service.ingest("c", write_md5(tmp_path / "v4.md5", [7]))
    service.rollback("c", 3)
    snap = service.snapshot()
    assert snap is not None
    assert set(served(snap, range(1, 9))) == {2, 3}


def test_diff_counts_added_removed_and_relabelled(service: Service, tmp_path: Path) -> None:
    service.ingest("c", write_csv(tmp_path / "v1.csv", [(1, "A"), (2, "B"), (3, "C")]))
    service.ingest("c", write_csv(tmp_path / "v2.csv", [(2, "B"), (3, "A"), (4, "C")]))
    diff = service.diff("c", 1, 2)
    assert diff.counts["md5"] == {"added": 1, "removed": 1, "relabelled": 1}
    assert diff.counts["sha1"] == {"added": 0, "removed": 0, "relabelled": 0}
    rows = {row["digest"]: row for row in diff.changes.to_pylist()}
    assert rows[md5(4)]["change"] == "added"
    assert rows[md5(1)]["change"] == "removed"
    assert rows[md5(3)]["change"] == "relabelled"
    assert json.loads(rows[md5(3)]["labels_before"]) == [{"category": "C"}]
    assert json.loads(rows[md5(3)]["labels_after"]) == [{"category": "A"}]
    assert md5(2) not in rows
    backwards = service.diff("c", 2, 1)
    assert backwards.counts["md5"] == {"added": 1, "removed": 1, "relabelled": 1}
    with pytest.raises(NotFound):
        service.diff("c", 1, 7)


def test_a_list_older_than_its_policy_allows_makes_check_warn(
    service: Service, tmp_path: Path
) -> None:
    service.ingest("c", write_md5(tmp_path / "v1.md5", [1]))
    snap = service.snapshot()
    assert snap is not None
    now = datetime.now(UTC)
    assert service.stale_lists(snap, now=now + timedelta(days=400)) == ()
    service.set_policy("c", max_age_days=30)
    assert service.stale_lists(snap, now=now + timedelta(days=29)) == ()
    (warning,) = service.stale_lists(snap, now=now + timedelta(days=31))
    assert "list c version 1 is stale" in warning
    assert "allows 30" in warning
    manifest = write_md5(tmp_path / "m.md5", [1])
    assert service.check([manifest], case_ref="C-1").warnings == ()
    service.set_policy("c", max_age_days=None)
    assert service.catalog.get_list("c").policy.max_age_days is None
    with pytest.raises(InputError, match="at least one day"):
        service.set_policy("c", max_age_days=0)


# -- the property: deltas serve what a full rebuild serves ---------------------------------

UNIVERSE = 12
operation = st.tuples(
    st.sampled_from([UpdateMode.REPLACE, UpdateMode.ADD, UpdateMode.REMOVE]),
    st.lists(
        st.tuples(st.integers(1, UNIVERSE), st.sampled_from(["A", "B", "C"])),
        min_size=1,
        max_size=6,
    ),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(operation, min_size=1, max_size=6))
def test_any_sequence_of_loads_serves_what_a_model_of_the_list_says(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[UpdateMode, list[tuple[int, str]]]]
) -> None:
    tmp_path = tmp_path_factory.mktemp("ops")
    model: dict[int, set[str]] = {}
    with make_service(tmp_path) as service:
        service.add_list("c", Purpose.CONCERN)
        loaded = False
        for step, (mode, rows) in enumerate(ops):
            if mode is UpdateMode.REMOVE and not loaded:
                continue
            service.ingest("c", write_csv(tmp_path / f"{step}.csv", rows), mode=mode)
            loaded = True
            if mode is UpdateMode.REPLACE:
                model = {}
            for n, category in rows:
                if mode is UpdateMode.REMOVE:
                    model.pop(n, None)
                else:
                    model.setdefault(n, set()).add(
                        json.dumps({"category": category}, separators=(",", ":"))
                    )
            snap = service.snapshot()
            assert snap is not None
            assert served(snap, range(1, UNIVERSE + 1)) == model
        if loaded:
            rebuilt = service.rebuild_snapshot()
            assert rebuilt is not None
            assert served(rebuilt, range(1, UNIVERSE + 1)) == model


def test_export_writes_a_version_as_a_bundle_that_loads_the_same(
    service: Service, tmp_path: Path
) -> None:
    service.ingest("c", write_csv(tmp_path / "v1.csv", [(1, "A"), (2, "B"), (3, "C")]))
    service.ingest("c", write_csv(tmp_path / "v2.csv", [(4, "A")]), mode=UpdateMode.ADD)
    service.ingest("c", write_md5(tmp_path / "v3.md5", [2]), mode=UpdateMode.REMOVE)
    bundle = service.export_bundle("c", tmp_path / "c.hmbundle")
    service.add_list("copy", Purpose.CONCERN)
    copied = service.ingest("copy", bundle)
    assert copied.counts.entries == 3
    snap = service.snapshot()
    assert snap is not None
    slots = {item.name: item.slot for item in snap.lists}
    by_list: dict[str, set[int]] = {"c": set(), "copy": set()}
    for n, texts in served(snap, range(1, 6)).items():
        set_id = snap.index.lookup(Algorithm.MD5, bytes.fromhex(md5(n)))
        for member in snap.index.label_set(set_id):
            by_list["c" if member.slot == slots["c"] else "copy"].add(n)
        assert texts
    assert by_list == {"c": {1, 3, 4}, "copy": {1, 3, 4}}
    older = service.export_bundle("c", tmp_path / "v1.hmbundle", number=1)
    service.add_list("v1", Purpose.CONCERN)
    assert service.ingest("v1", older).counts.entries == 3
    with pytest.raises(NotFound):
        service.export_bundle("c", tmp_path / "none.hmbundle", number=9)
