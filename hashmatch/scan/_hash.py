"""Hashing planned entries: MD5, SHA-1 and SHA-256 from one read of each file.

This is the hot loop of a scan, run by worker threads: it avoids ``pathlib`` and file
objects, opens by ``os.open`` relative to a descriptor of the root, and reads with
``os.readv`` into one buffer per thread that is reused for every chunk of every file.
hashlib releases the GIL for updates of 2 KiB or more, so threads hash on every core.

Evidence is opened ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK`` (plus ``O_NOATIME`` where the
kernel allows it): never for writing, never through a symbolic link, and never blocking
on a FIFO that replaced a file after the walk. A file is hashed only if it is still a
regular file when opened (the walk may be minutes old), and its digests are kept only if
nothing moved while it was read: the size and the modification and change times from
``fstat`` before the first read and after the last, and the bytes read, must all agree.
Otherwise the file is reported as ``changed while being read`` with no digests (its bytes
belong to no single state of the file). Reading stops once the size from the first
``fstat`` has been read: if the second ``fstat`` still gives that size and those times,
that was the whole file, and the read that would confirm the end of the file (one system
call per file) is saved. A file that grows meanwhile is read no further than one chunk
past its first size.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from hashmatch.scan._model import CHANGED, CHANGED_WHILE_READ, PlannedEntry, ScannedFile
from hashmatch.scan._names import escape_path
from hashmatch.scan._walk import open_read_only, reason_for_error

__all__ = ["Hasher"]

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Hasher:
    """Hashes batches of planned entries below one root; safe to share between threads.

    ``stopped`` is polled between files and between chunks of a file: once it returns
    True, :meth:`hash_batch` gives up and returns None within one chunk's work.

    With a ``helper`` executor, files of ``split_bytes`` or more have their MD5 computed
    on a helper thread while the worker computes SHA-1 and SHA-256 over the same chunk,
    whenever fewer than ``workers`` threads are hashing: one large file then keeps two
    cores busy where it would otherwise leave the others idle, at the end of a scan or in
    a tree of a few large videos.
    """

    __slots__ = (
        "_base_fd",
        "_busy",
        "_busy_lock",
        "_chunk_size",
        "_helper",
        "_local",
        "_split_bytes",
        "_stopped",
        "_workers",
    )

    def __init__(
        self,
        base_fd: int,
        chunk_size: int,
        stopped: Callable[[], bool],
        *,
        helper: Executor | None = None,
        split_bytes: int = 0,
        workers: int = 1,
    ) -> None:
        self._base_fd = base_fd
        self._chunk_size = chunk_size
        self._stopped = stopped
        self._helper = helper
        self._split_bytes = split_bytes
        self._workers = workers
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._local = threading.local()

    def _buffer(self) -> tuple[list[bytearray], memoryview]:
        """This thread's read buffer (as ``os.readv`` wants it) and a view of it."""
        local = self._local
        try:
            found: tuple[list[bytearray], memoryview] = local.buffer
        except AttributeError:
            buffer = bytearray(self._chunk_size)
            found = local.buffer = ([buffer], memoryview(buffer))
        return found

    def hash_batch(self, entries: Sequence[PlannedEntry]) -> list[ScannedFile] | None:
        """One result per entry, in order; None if the scan was stopped meanwhile."""
        with self._busy_lock:
            self._busy += 1
        try:
            return self._hash_batch(entries)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _hash_batch(self, entries: Sequence[PlannedEntry]) -> list[ScannedFile] | None:
        buffers, view = self._buffer()
        stopped = self._stopped
        results: list[ScannedFile] = []
        append = results.append
        for entry in entries:
            if stopped():
                return None
            if entry.reason is not None:
                append(
                    ScannedFile(path=escape_path(entry.raw), size=entry.size, reason=entry.reason)
                )
                continue
            found = self._hash_file(entry.raw, buffers, view)
            if found is None:
                return None
            append(found)
        return results

    def _hash_file(
        self, raw: bytes, buffers: list[bytearray], view: memoryview
    ) -> ScannedFile | None:
        """The digests of one regular file, why it has none, or None when stopped."""
        path = escape_path(raw)
        try:
            fd = open_read_only(raw, _FILE_FLAGS, dir_fd=self._base_fd)
        except OSError as error:
            # ELOOP: O_NOFOLLOW met a symbolic link where the walk saw a regular file.
            reason = CHANGED if error.errno == errno.ELOOP else reason_for_error(error)
            return ScannedFile(path=path, size=None, reason=reason)
        size: int | None = None
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                return ScannedFile(path=path, size=None, reason=CHANGED)
            size = before.st_size
            md5 = hashlib.md5(usedforsecurity=False)
            sha1 = hashlib.sha1(usedforsecurity=False)
            sha256 = hashlib.sha256(usedforsecurity=False)
            capacity = len(view)
            total = 0
            readv, stopped = os.readv, self._stopped
            helper = self._helper if size >= self._split_bytes else None
            while total < size:
                count = readv(fd, buffers)
                if not count:
                    break
                total += count
                chunk = view if count == capacity else view[:count]
                # Only while a worker is idle: when all are busy, splitting makes threads
                # wait for each other and costs more than it gives (measured).
                if helper is None or self._busy >= self._workers:
                    md5.update(chunk)
                    sha1.update(chunk)
                    sha256.update(chunk)
                else:
                    # MD5 takes as long as SHA-1 and SHA-256 together: run it beside them.
                    # The buffer is not read into again until the helper is done with it.
                    md5_done = helper.submit(md5.update, chunk)
                    sha1.update(chunk)
                    sha256.update(chunk)
                    md5_done.result()
                if count == capacity and stopped():
                    return None
            after = os.fstat(fd)
        except OSError as error:
            return ScannedFile(path=path, size=size, reason=reason_for_error(error))
        finally:
            os.close(fd)
        if (
            total != size
            or after.st_size != size
            or after.st_mtime_ns != before.st_mtime_ns
            or after.st_ctime_ns != before.st_ctime_ns
        ):
            return ScannedFile(path=path, size=size, reason=CHANGED_WHILE_READ)
        return ScannedFile(
            path=path,
            size=size,
            md5=md5.hexdigest(),
            sha1=sha1.hexdigest(),
            sha256=sha256.hexdigest(),
        )
