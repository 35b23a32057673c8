"""Walking an evidence tree once, read-only, into a :class:`ScanPlan`.

The order is deterministic: names sorted bytewise in each directory (what ``LC_ALL=C
sort`` gives), depth first, a directory's contents right where its name sorts. Symbolic
links are never followed (below the root), and nothing that is not a regular file is ever
opened: a FIFO would block, a device could be a whole disk. Every entry the walk meets
becomes exactly one planned entry; a directory that cannot be listed becomes one entry
with the reason, so nothing is skipped silently.

Directories are opened with ``O_NOATIME`` where the kernel allows it, so that listing
them does not touch their access times either; everything is opened relative to a
descriptor of the root.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from hashmatch.errors import InputError
from hashmatch.scan._model import (
    DEVICE,
    FIFO,
    PERMISSION_DENIED,
    SOCKET,
    SYMLINK,
    UNKNOWN_TYPE,
    VANISHED,
    PlannedEntry,
    ScanPlan,
)

__all__ = ["open_read_only", "plan_tree", "reason_for_error"]

_NOATIME: int = getattr(os, "O_NOATIME", 0)
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_read_only(
    path: bytes | str | os.PathLike[str], flags: int, *, dir_fd: int | None = None
) -> int:
    """``os.open`` with ``O_NOATIME`` added when the kernel permits it.

    Only the file's owner (or a holder of CAP_FOWNER) may ask for ``O_NOATIME``; anyone
    else gets EPERM, and then the file is opened without it. ``flags`` must not ask for
    writing: this module never does.
    """
    if _NOATIME:
        try:
            return os.open(path, flags | _NOATIME, dir_fd=dir_fd)
        except PermissionError as error:
            if error.errno != errno.EPERM:
                raise
    return os.open(path, flags, dir_fd=dir_fd)


def reason_for_error(error: OSError) -> str:
    """The words a report shows for an ``OSError`` met while walking or reading."""
    if error.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return VANISHED
    return f"unreadable: {error.strerror or os.strerror(error.errno or 0)}"


def _type_reason(mode: int) -> str:
    """Why an entry of this (non-regular, non-directory) type is not hashed."""
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISFIFO(mode):
        return FIFO
    if stat.S_ISSOCK(mode):
        return SOCKET
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return DEVICE
    return UNKNOWN_TYPE


def _entry(raw: bytes, entry: os.DirEntry[str]) -> tuple[PlannedEntry, bool]:
    """What the walk records for one directory entry, and whether to descend into it."""
    try:
        if entry.is_symlink():
            return PlannedEntry(raw, None, SYMLINK), False
        if entry.is_dir(follow_symlinks=False):
            return PlannedEntry(raw, None, None), True
        info = entry.stat(follow_symlinks=False)
    except OSError as error:
        return PlannedEntry(raw, None, reason_for_error(error)), False
    if stat.S_ISREG(info.st_mode):
        return PlannedEntry(raw, info.st_size, None), False
    if stat.S_ISDIR(info.st_mode):  # d_type said otherwise: it was replaced meanwhile
        return PlannedEntry(raw, None, None), True
    return PlannedEntry(raw, None, _type_reason(info.st_mode)), False


def _list(base_fd: int, raw: bytes) -> tuple[list[tuple[PlannedEntry, bool]], str | None]:
    """The entries of directory ``raw`` (relative to ``base_fd``; ``b"."`` for the root),
    sorted, and why listing failed (None when it did not).

    Entries read before a failure are kept: they exist, and each is accounted for.
    """
    children: list[tuple[PlannedEntry, bool]] = []
    prefix = b"" if raw == b"." else raw + b"/"
    try:
        fd = open_read_only(raw, _DIRECTORY_FLAGS, dir_fd=base_fd)
    except OSError as error:
        return children, reason_for_error(error)
    failure: str | None = None
    try:
        # scandir(fd) works on a duplicate and stats relative to it; names come as str
        # (surrogateescape), which os.fsencode turns back into the exact bytes.
        with os.scandir(fd) as found:
            for entry in found:
                children.append(_entry(prefix + os.fsencode(entry.name), entry))
    except OSError as error:
        failure = reason_for_error(error)
    finally:
        os.close(fd)
    children.sort(key=lambda child: child[0].raw)
    return children, failure


def _walk(base_fd: int) -> Iterator[PlannedEntry]:
    """Every entry below the root, in scan order (directories only when unlistable)."""
    children, failure = _list(base_fd, b".")
    if failure is not None:
        raise InputError(f"the folder cannot be listed: {failure}")
    stack = [iter(children)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        entry, is_directory = child
        if not is_directory:
            yield entry
            continue
        children, failure = _list(base_fd, entry.raw)
        if failure is not None:
            yield entry._replace(reason=f"directory could not be listed: {failure}")
        stack.append(iter(children))


def plan_tree(root: Path) -> ScanPlan:
    """Walk ``root`` once and return its entries in scan order, with the totals.

    ``root`` itself is followed if it is a symbolic link (it is what the user named);
    nothing below it is. A regular file as ``root`` plans that one file, named by its
    real name, relative to its real parent folder. Raises :class:`InputError` when
    ``root`` does not exist, is neither a folder nor a regular file, or cannot be listed.
    """
    source = str(root)
    try:
        info = os.stat(root)
    except FileNotFoundError:
        raise InputError("no such file or folder", source=source) from None
    except OSError as error:
        raise InputError(f"cannot be scanned: {reason_for_error(error)}", source=source) from None
    if stat.S_ISREG(info.st_mode):
        real = Path(os.path.realpath(root))
        entry = PlannedEntry(os.fsencode(real.name), info.st_size, None)
        return ScanPlan(root=real.parent, entries=(entry,), total_files=1, total_bytes=info.st_size)
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"cannot be scanned: {_type_reason(info.st_mode)}", source=source)
    try:
        base_fd = open_read_only(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise InputError(
            f"the folder cannot be opened: {reason_for_error(error)}", source=source
        ) from None
    try:
        try:
            entries = tuple(_walk(base_fd))
        except InputError as error:
            raise InputError(error.reason, source=source) from None
    finally:
        os.close(base_fd)
    total = sum(entry.size for entry in entries if entry.size is not None and entry.reason is None)
    return ScanPlan(
        root=root.absolute(), entries=entries, total_files=len(entries), total_bytes=total
    )
