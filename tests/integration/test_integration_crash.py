"""Nothing is lost or half-committed: failed ingests, killed builds, crashes between steps."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hashmatch.config import Settings
from hashmatch.errors import RecordError, StoreError
from hashmatch.index import SnapshotStore
from hashmatch.model import Purpose, UpdateMode, Verdict
from hashmatch.service import Service


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def md5sum_file(path: Path, names: list[str]) -> Path:
    path.write_text("".join(f"{md5(n)}  {n}\n" for n in names))
    return path


@pytest.fixture
def service(tmp_path: Path):
    with Service(Settings(home=tmp_path / "home", operator="tester")) as svc:
        svc.add_list("l", Purpose.CONCERN)
        yield svc


def verdicts(service: Service, tmp_path: Path, names: list[str]) -> list[str]:
    manifest = md5sum_file(tmp_path / "manifest.md5sum", names)
    result = service.check([manifest], case_ref="C")
    return result.verdicts.column("verdict").to_pylist()


def leftovers(home: Path) -> list[str]:
    found = [p.name for p in (home / "lists").rglob(".staging-*")]
    found += [p.name for p in (home / "snapshots").glob(".building-*")]
    return found


def test_failed_strict_ingest_leaves_previous_version_serving(service, tmp_path) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))
    bad = tmp_path / "v2.md5sum"
    bad.write_text(f"{md5('synthetic-b')}  b\nnot-a-digest  c\n")
    with pytest.raises(RecordError) as caught:
        service.ingest("l", bad, strict=True)
    assert caught.value.render().startswith("v2.md5sum:2:")
    assert [v.number for v in service.versions("l")] == [1]
    assert verdicts(service, tmp_path, ["synthetic-a", "synthetic-b"]) == ["known", "unknown"]
    assert leftovers(service.home) == []
    assert len(list((service.home / "lists" / "l").glob("*.parquet"))) == 1


def test_failed_snapshot_build_commits_nothing(service, tmp_path, monkeypatch) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))

    def broken(self, sources, *, progress=None):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(SnapshotStore, "build", broken)
    with pytest.raises(OSError, match="simulated"):
        service.ingest("l", md5sum_file(tmp_path / "v2.md5sum", ["synthetic-b"]))
    monkeypatch.undo()
    assert [v.number for v in service.versions("l")] == [1]
    assert len(list((service.home / "lists" / "l").glob("*.parquet"))) == 1
    assert verdicts(service, tmp_path, ["synthetic-a", "synthetic-b"]) == ["known", "unknown"]


def test_failed_catalog_commit_leaves_previous_snapshot(service, tmp_path, monkeypatch) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))
    serving = service.snapshots.current_id()

    def broken(version, *, activate=True):
        raise StoreError("database is locked (simulated)")

    monkeypatch.setattr(service.catalog, "add_version", broken)
    with pytest.raises(StoreError):
        service.ingest("l", md5sum_file(tmp_path / "v2.md5sum", ["synthetic-b"]))
    monkeypatch.undo()
    assert service.snapshots.current_id() == serving
    assert len(list((service.home / "lists" / "l").glob("*.parquet"))) == 1
    assert verdicts(service, tmp_path, ["synthetic-a", "synthetic-b"]) == ["known", "unknown"]


def test_crash_between_commit_and_publish_is_repaired(service, tmp_path, monkeypatch) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))
    old = service.snapshots.current_id()

    def crash(snapshot_id):
        raise KeyboardInterrupt  # the process dies after the catalog committed

    monkeypatch.setattr(service, "_publish", crash)
    with pytest.raises(KeyboardInterrupt):
        service.ingest("l", md5sum_file(tmp_path / "v2.md5sum", ["synthetic-b"]))
    monkeypatch.undo()
    assert service.snapshots.current_id() == old  # still the old one on disk
    # The catalog says v2 serves; the next use sees the mismatch and rebuilds.
    assert verdicts(service, tmp_path, ["synthetic-a", "synthetic-b"]) == ["unknown", "known"]
    assert service.snapshots.current_id() != old


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import hashmatch.index.sorted_array as sa
    from hashmatch.config import Settings
    from hashmatch.service import Service

    home, source, marker = map(Path, sys.argv[1:4])

    def freeze(path, sets):
        # The key arrays are on disk; the label sets and the manifest are not.
        marker.write_text("building")
        time.sleep(120)

    sa._save_sets = freeze
    with Service(Settings(home=home, operator="child")) as service:
        service.ingest("l", source)
    """
)


def test_killed_build_leaves_previous_snapshot_serving(service, tmp_path) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))
    serving = service.snapshots.current_id()
    source = md5sum_file(tmp_path / "v2.md5sum", [f"synthetic-{i}" for i in range(5000)])
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(service.home), str(source), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.05)
        building = list((service.home / "snapshots").glob(".building-*"))
        assert building, "a build in progress has its own folder"
        assert any(p.suffix == ".npy" for p in building[0].iterdir())
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    # The killed build changed nothing that serves.
    assert service.snapshots.current_id() == serving
    assert [v.number for v in service.versions("l")] == [1]
    with Service(Settings(home=service.home, operator="after")) as fresh:
        assert fresh.snapshot().id == serving
        assert verdicts(fresh, tmp_path, ["synthetic-a", "synthetic-7"]) == ["known", "unknown"]
        # The next ingest sweeps what the killed one left, and succeeds.
        fresh.ingest("l", source)
        assert leftovers(fresh.home) == []
        assert len(list((fresh.home / "lists" / "l").glob("*.parquet"))) == 2
        assert verdicts(fresh, tmp_path, ["synthetic-a", "synthetic-7"]) == ["unknown", "known"]


def test_verdict_store_keeps_no_paths_unless_asked(tmp_path) -> None:
    names = ["synthetic-a", "synthetic-b"]
    for record_paths in (False, True):
        home = tmp_path / f"home-{record_paths}"
        with Service(Settings(home=home, record_paths=record_paths)) as svc:
            svc.add_list("l", Purpose.CONCERN)
            svc.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))
            result = svc.check([md5sum_file(tmp_path / "m.md5sum", names)], case_ref="C")
            stored = svc.catalog.verdicts(result.run.run_id)
        assert [r.verdict for r in stored] == [Verdict.KNOWN, Verdict.UNKNOWN]
        assert [r.path for r in stored] == (names if record_paths else [None, None])
        assert stored[0].labels is not None
        assert '"list":"l"' in stored[0].labels


def test_unreadable_manifest_rows_become_invalid_in_place(service, tmp_path) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))
    manifest = tmp_path / "m.hashdeep"
    manifest.write_text(
        "%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
        f"21,{md5('synthetic-a')},a\n"
        "this line has no fields\n"
        f"21,{md5('synthetic-z')},z\n"
    )
    result = service.check([manifest], case_ref="C")
    table = result.verdicts
    assert table.column("verdict").to_pylist() == ["known", "invalid", "unknown"]
    assert table.column("line").to_pylist() == [3, 4, 5]
    assert table.column("reason")[1].as_py()


def test_list_of_only_empty_file_digests_is_refused(service, tmp_path) -> None:
    empty = tmp_path / "empty.md5sum"
    empty.write_text("d41d8cd98f00b204e9800998ecf8427e  empty.txt\n")
    with pytest.raises(Exception, match="no usable digest"):
        service.ingest("l", empty)
    assert service.versions("l") == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "m.hashdeep",
            "%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
            f"99999999999999999999999,{md5('synthetic-a')},a\n21,{md5('synthetic-b')},b\n",
        ),
        (
            "m.csv",
            f"MD5,Size\n{md5('synthetic-a')},99999999999999999999999\n{md5('synthetic-b')},21\n",
        ),
    ],
)
def test_a_size_too_large_for_int64_is_a_warning_not_a_crash(service, tmp_path, name, text) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a"]))
    manifest = tmp_path / name
    manifest.write_text(text)
    table = service.check([manifest], case_ref="C").verdicts
    assert table.column("verdict").to_pylist() == ["known", "unknown"]
    assert table.column("size").to_pylist() == [None, 21]
    assert "out of range" in table.column("reason")[0].as_py()


# -- a real process killed at every stage of an ingest -----------------------------------

FROZEN_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hashmatch.config import Settings
    from hashmatch.model import UpdateMode
    from hashmatch.service import Service
    import hashmatch.index.snapshot as snapshot_module
    import hashmatch.ingest.pipeline as pipeline
    import hashmatch.service as service_module

    home, source, marker, point, mode = sys.argv[1:6]
    marker = Path(marker)

    def frozen(original):
        def wrapper(*args, **kwargs):
            marker.write_text(point)
            time.sleep(120)
            return original(*args, **kwargs)
        return wrapper

    if point == "staging":  # rows written to the staging file, counts not yet taken
        pipeline._final_counts = frozen(pipeline._final_counts)
    elif point == "delta-snapshot":  # the delta snapshot half-written beside the serving one
        snapshot_module._write_durably = frozen(snapshot_module._write_durably)
    elif point == "after-commit":  # the catalog committed, the snapshot not yet published
        service_module.Service._publish = frozen(service_module.Service._publish)
    with Service(Settings(home=Path(home), operator="child")) as service:
        service.ingest("l", Path(source), mode=UpdateMode(mode))
    """
)


def _kill_child_at(home: Path, source: Path, marker: Path, point: str, mode: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", FROZEN_CHILD, str(home), str(source), str(marker), point, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, f"the child never reached {point}"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize(
    ("point", "mode", "committed"),
    [
        ("staging", "replace", False),
        ("staging", "add", False),
        ("delta-snapshot", "add", False),
        ("delta-snapshot", "remove", False),
        ("after-commit", "add", True),
        ("after-commit", "replace", True),
    ],
)
def test_an_ingest_killed_at_any_stage_commits_all_or_nothing(
    service, tmp_path, point: str, mode: str, committed: bool
) -> None:
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", ["synthetic-a", "synthetic-b"]))
    serving = service.snapshots.current_id()
    names = ["synthetic-b"] if mode == "remove" else ["synthetic-c"]
    source = md5sum_file(tmp_path / "v2.md5sum", names)
    _kill_child_at(service.home, source, tmp_path / "marker", point, mode)
    probe = ["synthetic-a", "synthetic-b", "synthetic-c"]
    before = ["known", "known", "unknown"]
    after = {
        "replace": ["unknown", "unknown", "known"],
        "add": ["known", "known", "known"],
        "remove": ["known", "unknown", "unknown"],
    }[mode]
    assert service.snapshots.current_id() == serving  # what served never changed under us
    with Service(Settings(home=service.home, operator="after")) as fresh:
        numbers = [v.number for v in fresh.versions("l")]
        assert numbers == ([1, 2] if committed else [1])
        # Nothing half-committed: the version is wholly there (and now serves) or absent.
        assert verdicts(fresh, tmp_path, probe) == (after if committed else before)
        # A re-run succeeds, sweeps the leftovers, and serves the update.
        again = fresh.ingest("l", source, mode=UpdateMode(mode))
        assert again.number == numbers[-1] + 1
        assert leftovers(fresh.home) == []
        assert verdicts(fresh, tmp_path, probe) == after
        entry_files = {fresh.home / v.entry_file for v in fresh.versions("l")}
        assert set((fresh.home / "lists" / "l").glob("*.parquet")) == entry_files


KILLED_ANYWHERE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hashmatch.config import Settings
    from hashmatch.model import UpdateMode
    from hashmatch.service import Service

    home, source, mode = sys.argv[1:4]
    Path(home, "started").write_text("")
    with Service(Settings(home=Path(home), operator="child")) as service:
        service.ingest("l", Path(source), mode=UpdateMode(mode))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["replace", "add"])
def test_an_ingest_killed_at_random_moments_never_serves_half_an_update(
    service, tmp_path, mode: str
) -> None:
    import random

    rng = random.Random(20261122)
    base = [f"synthetic-{i}" for i in range(3)]
    service.ingest("l", md5sum_file(tmp_path / "v1.md5sum", base))
    update = [f"synthetic-u{i}" for i in range(40_000)]
    source = md5sum_file(tmp_path / "v2.md5sum", update)
    probe = [base[0], update[0], update[-1]]
    after = {"replace": ["unknown", "known", "known"], "add": ["known", "known", "known"]}[mode]
    outcomes = []
    for _ in range(6):
        count = len(service.versions("l"))
        started = service.home / "started"
        started.unlink(missing_ok=True)
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_ANYWHERE, str(service.home), str(source), mode],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not started.exists() and child.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 2.0))
        child.kill()
        child.wait(timeout=30)
        with Service(Settings(home=service.home, operator="after")) as fresh:
            committed = len(fresh.versions("l")) == count + 1
            assert len(fresh.versions("l")) in (count, count + 1)
            outcomes.append(committed)
            before = ["known", "unknown", "unknown"]
            assert verdicts(fresh, tmp_path, probe) == (after if committed else before)
            if committed:
                fresh.rollback("l", 1)  # back to the base content for the next round
    with Service(Settings(home=service.home, operator="after")) as fresh:
        fresh.ingest("l", source, mode=UpdateMode(mode))
        assert leftovers(fresh.home) == []
        assert verdicts(fresh, tmp_path, probe) == after
