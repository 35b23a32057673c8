"""Digests: all three equal hashlib's, from one read of each file, or a reason for none."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from scan_reference import synthetic_bytes

from hashmatch.errors import ConfigurationError
from hashmatch.scan import (
    CHANGED,
    CHANGED_WHILE_READ,
    VANISHED,
    ScannedFile,
    plan_tree,
    scan_tree,
)

CHUNK = 4096


def expected(path: str, data: bytes) -> ScannedFile:
    return ScannedFile(
        path=path,
        size=len(data),
        md5=hashlib.md5(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
    )


SIZES = [1, 2047, 2048, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17, 300_000]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_digests_equal_hashlibs_across_chunk_boundaries(tmp_path: Path, workers: int) -> None:
    contents = {f"f{size:07d}.bin": synthetic_bytes(str(size), size) for size in SIZES}
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
    found = list(scan_tree(tmp_path, workers=workers, chunk_size=CHUNK))
    assert found == [expected(name, data) for name, data in sorted(contents.items())]


def test_a_file_larger_than_a_batch_hashes_like_hashlib(tmp_path: Path) -> None:
    data = synthetic_bytes("large", (9 << 20) + 5)  # two batches' worth, odd tail
    (tmp_path / "large.bin").write_bytes(data)
    (tmp_path / "small.bin").write_bytes(b"synthetic-fixture-001")
    found = list(scan_tree(tmp_path, workers=2))
    assert found == [expected("large.bin", data), expected("small.bin", b"synthetic-fixture-001")]


REAL_MD5 = hashlib.md5


class RecordingMd5:
    """hashlib's MD5, noting which thread fed it each chunk."""

    threads: ClassVar[list[str]] = []

    def __init__(self, *, usedforsecurity: bool = True) -> None:
        self._md5 = REAL_MD5(usedforsecurity=usedforsecurity)

    def update(self, data: Any) -> None:
        RecordingMd5.threads.append(threading.current_thread().name)
        self._md5.update(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


@pytest.mark.parametrize(("workers", "helped"), [(1, False), (2, True)])
def test_a_lone_large_file_has_its_md5_computed_beside_the_other_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, helped: bool
) -> None:
    data = synthetic_bytes("lone", 40 * CHUNK + 3)
    (tmp_path / "video.bin").write_bytes(data)
    RecordingMd5.threads.clear()
    monkeypatch.setattr(hashlib, "md5", RecordingMd5)
    found = list(scan_tree(tmp_path, workers=workers, chunk_size=CHUNK))
    monkeypatch.undo()
    assert found == [expected("video.bin", data)]
    assert len(RecordingMd5.threads) == 41
    on_helper = {name.startswith("hashmatch-scan-md5") for name in RecordingMd5.threads}
    assert on_helper == {helped}


def test_zero_length_files_are_hashed_like_any_other(tmp_path: Path) -> None:
    (tmp_path / "empty.bin").touch()
    [found] = scan_tree(tmp_path)
    assert found == expected("empty.bin", b"")
    assert found.md5 == "d41d8cd98f00b204e9800998ecf8427e"
    assert found.hashed


def test_every_byte_is_read_once_for_all_three_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = {"a.bin": 0, "b.bin": 10_000, "c.bin": 3 * CHUNK}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(synthetic_bytes(name, size))
    read: dict[int, int] = {}
    real_readv = os.readv
    lock = threading.Lock()

    def counting_readv(fd: int, buffers: Any) -> int:
        count = real_readv(fd, buffers)
        with lock:
            read[os.fstat(fd).st_ino] = read.get(os.fstat(fd).st_ino, 0) + count
        return count

    monkeypatch.setattr(os, "readv", counting_readv)
    found = list(scan_tree(tmp_path, workers=2, chunk_size=CHUNK))
    assert all(f.hashed for f in found)
    by_inode = {(tmp_path / name).stat().st_ino: size for name, size in sizes.items()}
    assert {ino: read.get(ino, 0) for ino in by_inode} == by_inode


def test_a_file_that_grows_while_read_gets_no_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "growing.log"
    target.write_bytes(synthetic_bytes("growing", 5 * CHUNK))
    (tmp_path / "steady.bin").write_bytes(b"synthetic-fixture-002")
    real_readv = os.readv
    appended = threading.Event()

    def appending_readv(fd: int, buffers: Any) -> int:
        if not appended.is_set() and os.fstat(fd).st_ino == target.stat().st_ino:
            appended.set()
            with target.open("ab") as writer:  # another program writing meanwhile
                writer.write(b"synthetic-fixture-more")
        return real_readv(fd, buffers)

    monkeypatch.setattr(os, "readv", appending_readv)
    found = list(scan_tree(tmp_path, chunk_size=CHUNK))
    assert found[0] == ScannedFile(path="growing.log", size=5 * CHUNK, reason=CHANGED_WHILE_READ)
    assert found[1] == expected("steady.bin", b"synthetic-fixture-002")


def test_a_file_rewritten_in_place_while_read_gets_no_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "edited.bin"
    target.write_bytes(synthetic_bytes("edited", 3 * CHUNK))
    real_readv = os.readv
    calls = 0

    def editing_readv(fd: int, buffers: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:  # same size, new bytes and a new mtime
            with target.open("r+b") as writer:
                writer.write(b"synthetic-fixture-edit")
            stamp = target.stat().st_mtime_ns + 5_000_000_000
            os.utime(target, ns=(stamp, stamp))
        return real_readv(fd, buffers)

    monkeypatch.setattr(os, "readv", editing_readv)
    [found] = scan_tree(tmp_path, chunk_size=CHUNK)
    assert found.reason == CHANGED_WHILE_READ
    assert found.md5 is None


def test_a_file_truncated_while_read_gets_no_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "shrinking.bin"
    target.write_bytes(synthetic_bytes("shrinking", 4 * CHUNK))
    real_readv = os.readv
    calls = 0

    def truncating_readv(fd: int, buffers: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            os.truncate(target, CHUNK + 10)
        return real_readv(fd, buffers)

    monkeypatch.setattr(os, "readv", truncating_readv)
    [found] = scan_tree(tmp_path, chunk_size=CHUNK)
    assert (found.size, found.reason, found.sha256) == (4 * CHUNK, CHANGED_WHILE_READ, None)


def test_files_that_vanish_or_are_replaced_after_the_walk_are_reported(tmp_path: Path) -> None:
    for name in ("gone.bin", "now-a-fifo.bin", "now-a-link.bin", "kept.bin"):
        (tmp_path / name).write_bytes(b"synthetic-fixture-003")
    plan = plan_tree(tmp_path)
    (tmp_path / "gone.bin").unlink()
    (tmp_path / "now-a-fifo.bin").unlink()
    os.mkfifo(tmp_path / "now-a-fifo.bin")  # opening it must not block the scan
    (tmp_path / "now-a-link.bin").unlink()
    (tmp_path / "now-a-link.bin").symlink_to(tmp_path / "kept.bin")
    found = list(scan_tree(plan))
    assert [(f.path, f.reason) for f in found] == [
        ("gone.bin", VANISHED),
        ("kept.bin", None),
        ("now-a-fifo.bin", CHANGED),
        ("now-a-link.bin", CHANGED),
    ]
    assert all(f.md5 is None for f in found if f.reason)


def test_a_plan_can_be_scanned_and_the_totals_reach_the_progress_display(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for n, name in enumerate(["a.bin", "sub/b.bin", "sub/c.bin"]):
        (tmp_path / name).write_bytes(synthetic_bytes(name, 1000 * (n + 1)))
    (tmp_path / "link").symlink_to("a.bin")
    calls: list[tuple[str, int, int]] = []

    class Recorder:
        def planned(self, files: int, bytes: int) -> None:
            calls.append(("planned", files, bytes))

        def advance(self, files: int, bytes: int) -> None:
            calls.append(("advance", files, bytes))

    plan = plan_tree(tmp_path)
    assert (plan.total_files, plan.total_bytes) == (4, 6000)
    found = list(scan_tree(plan, progress=Recorder()))
    assert [f.path for f in found] == [e.path for e in plan.entries]
    assert calls[0] == ("planned", 4, 6000)
    assert sum(c[1] for c in calls[1:]) == 4
    assert sum(c[2] for c in calls[1:]) == 6000


def test_nonsense_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="workers"):
        scan_tree(tmp_path, workers=0)
    with pytest.raises(ConfigurationError, match="chunk_size"):
        scan_tree(tmp_path, chunk_size=100)


def test_scanned_file_refuses_half_hashed_results() -> None:
    with pytest.raises(ValueError, match="all three digests"):
        ScannedFile(path="a.bin", size=1, md5="0" * 32)
    with pytest.raises(ValueError, match="no digests"):
        ScannedFile(path="a.bin", size=1, md5="0" * 32, reason="permission denied")
