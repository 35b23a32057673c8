"""Stopping a scan (Ctrl-C sets the event; a consumer may stop reading): prompt, and clean."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scan_reference import scan_threads, synthetic_bytes

from hashmatch.scan import scan_tree

CHUNK = 4096
SLOW_READ_SECONDS = 0.001


@pytest.fixture(name="slow_disk")
def _slow_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read takes a few milliseconds, as on a slow evidence drive."""
    real_readv = os.readv

    def slow_readv(fd: int, buffers: Any) -> int:
        time.sleep(SLOW_READ_SECONDS)
        return real_readv(fd, buffers)

    monkeypatch.setattr(os, "readv", slow_readv)


def many_files(root: Path, count: int = 2000) -> None:
    for n in range(count):
        (root / f"f{n:05d}.bin").write_bytes(synthetic_bytes(str(n), 100))


def test_setting_the_event_stops_the_scan_and_its_threads(tmp_path: Path, slow_disk: None) -> None:
    many_files(tmp_path)
    cancel = threading.Event()
    seen = []
    started = time.monotonic()
    for found in scan_tree(tmp_path, workers=2, cancel=cancel):
        seen.append(found.path)
        if len(seen) == 10:
            cancel.set()
    assert time.monotonic() - started < 3  # 2000 slow files would take 4 s and more
    assert seen == [f"f{n:05d}.bin" for n in range(10)]  # a prefix, nothing after the stop
    assert scan_threads() == []


def test_cancelling_from_another_thread_interrupts_a_large_file(
    tmp_path: Path, slow_disk: None
) -> None:
    # 5000 chunks at 1 ms each: 5 s and more if the worker did not stop between chunks.
    (tmp_path / "large.img").write_bytes(synthetic_bytes("large", 5000 * CHUNK))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    assert list(scan_tree(tmp_path, cancel=cancel, chunk_size=CHUNK)) == []
    assert time.monotonic() - started < 2
    assert scan_threads() == []


def test_closing_the_iterator_stops_the_workers(tmp_path: Path, slow_disk: None) -> None:
    many_files(tmp_path, 600)
    results = scan_tree(tmp_path, workers=2)
    first = next(results)
    assert first.path == "f00000.bin"
    assert scan_threads(), "the workers should be running ahead"
    started = time.monotonic()
    results.close()  # what a `break` out of a for loop does
    assert time.monotonic() - started < 2
    assert scan_threads() == []


def test_breaking_out_of_a_loop_leaves_no_thread(tmp_path: Path, slow_disk: None) -> None:
    many_files(tmp_path, 600)
    for n, _ in enumerate(scan_tree(tmp_path, workers=3)):
        if n == 3:
            break
    assert scan_threads() == []


def test_an_event_set_before_the_start_yields_nothing(tmp_path: Path) -> None:
    many_files(tmp_path, 5)
    cancel = threading.Event()
    cancel.set()
    assert list(scan_tree(tmp_path, cancel=cancel)) == []
    assert scan_threads() == []


def test_a_complete_scan_leaves_no_thread(tmp_path: Path) -> None:
    many_files(tmp_path, 50)
    assert len(list(scan_tree(tmp_path, workers=4))) == 50
    assert scan_threads() == []
