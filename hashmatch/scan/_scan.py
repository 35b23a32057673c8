"""Scanning a tree: walk it, hash its files on a pool of threads, yield results in order.

Files are grouped into batches (many small files per task, a large file alone) so that the
per-task cost of the pool stays small next to the hashing. Batches are submitted well
ahead of the one whose results are yielded next, so that a worker busy with one large file
does not leave the other cores idle; the results of at most :data:`_AHEAD_FILES` files wait
to be yielded, which bounds memory whatever the size of the tree.

Threads, not processes: hashlib releases the GIL while it hashes 2 KiB or more. On the
2-core development machine, ``benchmarks/scan.py`` measured a process pool over the same
batches take 0.91 to 1.03 times as long as threads on its 1 GiB tree (the same, within
the host's noise), with more CPU time, and 1.8 times as long on 20,000 files of 1 to
2 KiB (``--small-files 20000 --small-kib 1 2``), where sending the results back costs
more than hashing; and threads stop between two chunks of a file the moment they are
asked to.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from hashmatch.errors import ConfigurationError, InputError
from hashmatch.scan._hash import Hasher
from hashmatch.scan._model import PlannedEntry, ScannedFile, ScanPlan, ScanProgress
from hashmatch.scan._walk import open_read_only, plan_tree, reason_for_error

__all__ = ["DEFAULT_CHUNK_SIZE", "default_workers", "scan_tree"]

DEFAULT_CHUNK_SIZE = 1 << 20
"""Bytes per read: large enough that the GIL is released for nearly all hashing, small
enough to stay in the CPU cache while three digests run over it."""
_MIN_CHUNK_SIZE = 1 << 12
_BATCH_BYTES = 4 << 20
"""A task holds files up to this many bytes in all (or one larger file)."""
_BATCH_FILES = 256
_SPLIT_CHUNKS = 8
"""Files of at least this many chunks get their MD5 on a helper thread (see Hasher)."""
_AHEAD_FILES = 1 << 16
"""At most this many files are submitted beyond the next result to yield."""


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _batches(entries: Sequence[PlannedEntry]) -> Iterator[tuple[Sequence[PlannedEntry], int]]:
    """Consecutive runs of entries to hash as one task, with their planned bytes."""
    start, size = 0, 0
    for index, entry in enumerate(entries):
        if entry.reason is None and entry.size:
            size += entry.size
        if size >= _BATCH_BYTES or index + 1 - start >= _BATCH_FILES:
            yield entries[start : index + 1], size
            start, size = index + 1, 0
    if start < len(entries):
        yield entries[start:], size


def scan_tree(
    root: Path | ScanPlan,
    *,
    workers: int | None = None,
    progress: ScanProgress | None = None,
    cancel: threading.Event | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Generator[ScannedFile, None, None]:
    """Hash every regular file below ``root`` and yield one :class:`ScannedFile` per entry.

    ``root`` is a folder (or a single file) to walk now, or the :class:`ScanPlan` that
    :func:`plan_tree` made of it. The walk happens when this function is called, so a
    missing root raises :class:`InputError` here; the hashing happens as the returned
    iterator is consumed, on ``workers`` threads (default: one per core), and results come
    in the plan's order whatever order the workers finish in.

    ``progress`` hears the totals once and then each completed batch, in the consuming
    thread. When ``cancel`` is set, or when the consumer closes the iterator (``break``
    out of a ``for`` loop, or ``close()``), workers stop within one chunk of work, the
    iterator ends, and no thread of the scan is left running once it has. A cancelled scan
    just ends early: the caller who set ``cancel`` knows the results are incomplete.
    Every file yielded before that is complete.
    """
    if chunk_size < _MIN_CHUNK_SIZE:
        raise ConfigurationError(f"chunk_size must be at least {_MIN_CHUNK_SIZE} bytes")
    if workers is not None and workers < 1:
        raise ConfigurationError("workers must be at least 1")
    plan = root if isinstance(root, ScanPlan) else plan_tree(root)
    return _scan(plan, workers or default_workers(), progress, cancel, chunk_size)


def _scan(
    plan: ScanPlan,
    workers: int,
    progress: ScanProgress | None,
    cancel: threading.Event | None,
    chunk_size: int,
) -> Generator[ScannedFile, None, None]:
    """The generator behind :func:`scan_tree`."""
    stop = threading.Event()
    if cancel is None:
        stopped = stop.is_set
    else:

        def stopped() -> bool:
            return stop.is_set() or cancel.is_set()

    if progress is not None:
        progress.planned(plan.total_files, plan.total_bytes)
    if not plan.entries or stopped():
        return
    try:
        base_fd = open_read_only(plan.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise InputError(
            f"the folder cannot be opened: {reason_for_error(error)}", source=str(plan.root)
        ) from None
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hashmatch-scan")
    helper = None
    if workers > 1:
        helper = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hashmatch-scan-md5")
    hasher = Hasher(
        base_fd,
        chunk_size,
        stopped,
        helper=helper,
        split_bytes=_SPLIT_CHUNKS * chunk_size,
        workers=workers,
    )
    pending: deque[tuple[Future[list[ScannedFile] | None], int, int]] = deque()
    batches = _batches(plan.entries)
    ahead = 0
    try:

        def submit() -> None:
            nonlocal ahead
            while ahead < _AHEAD_FILES:
                batch = next(batches, None)
                if batch is None:
                    return
                entries, size = batch
                pending.append((pool.submit(hasher.hash_batch, entries), len(entries), size))
                ahead += len(entries)

        submit()
        while pending:
            future, count, size = pending.popleft()
            results = future.result()
            ahead -= count
            if results is None or stopped():
                return
            submit()
            if progress is not None:
                progress.advance(count, size)
            for result in results:
                yield result
                if stopped():
                    return
    finally:
        # Also reached when the consumer closes the generator (GeneratorExit at a yield)
        # or an exception (KeyboardInterrupt) comes through: stop the workers, drop the
        # queued batches, and wait for the running ones, which stop within one chunk.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if helper is not None:  # after the workers: they may wait on it until they stop
            helper.shutdown(wait=True)
        os.close(base_fd)
