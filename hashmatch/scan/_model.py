"""What a scan yields per file, what it plans before hashing, and who watches it progress."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from hashmatch.scan._names import escape_path

__all__ = [
    "CHANGED",
    "CHANGED_WHILE_READ",
    "DEVICE",
    "FIFO",
    "PERMISSION_DENIED",
    "SOCKET",
    "SYMLINK",
    "UNKNOWN_TYPE",
    "VANISHED",
    "PlannedEntry",
    "ScanPlan",
    "ScanProgress",
    "ScannedFile",
]

# Why a file was not hashed. The report shows these words to an examiner verbatim; the
# service turns every one of them into a not_assessable verdict.
PERMISSION_DENIED = "permission denied"
SYMLINK = "symbolic link, not followed"
FIFO = "special file (FIFO)"
SOCKET = "special file (socket)"
DEVICE = "device file"
UNKNOWN_TYPE = "special file (unknown type)"
VANISHED = "vanished during the scan"
CHANGED = "replaced during the scan"
"""The path held a regular file when the tree was walked, and something else (another
type, a symbolic link) when it was opened."""
CHANGED_WHILE_READ = "changed while being read"
"""Size, mtime or ctime moved between opening and closing, or the bytes read were not the
size: the digests would belong to no state the file was ever in, so none is given."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScannedFile:
    """One file of a scanned tree: its digests, or why it has none.

    Either ``reason`` is None and ``size`` and the three digests are set (a zero-length
    file too: the matcher, not the scanner, decides it cannot be assessed), or ``reason``
    says why the file was not hashed and the digests are None.
    """

    path: str
    """Relative to the scanned root, ``/`` separators, never absolute; rendered by
    :func:`hashmatch.scan.escape_path` (newlines, control characters and bytes that are
    not UTF-8 are backslash escapes), so it always fits on one line of UTF-8."""
    size: int | None
    """``st_size`` of a regular file; None for anything else and when ``stat`` failed."""
    md5: str | None = None
    """Lower-case hex; None when not hashed. Likewise ``sha1`` and ``sha256``."""
    sha1: str | None = None
    sha256: str | None = None
    reason: str | None = None
    """Why the file was not hashed (``permission denied``, ``symbolic link, not
    followed``...); None when it was."""

    def __post_init__(self) -> None:
        hashed = (self.md5, self.sha1, self.sha256, self.size)
        if self.reason is None and None in hashed:
            raise ValueError(f"{self.path}: a hashed file needs a size and all three digests")
        if self.reason is not None and (self.md5, self.sha1, self.sha256) != (None, None, None):
            raise ValueError(f"{self.path}: a file that was not hashed has no digests")

    @property
    def hashed(self) -> bool:
        """True when the digests are set."""
        return self.reason is None


class ScanProgress(Protocol):
    """What a progress display implements (the CLI's progress bar).

    Both methods are called from the thread that iterates :func:`scan_tree`, never from
    a worker, so an implementation need not be thread-safe.
    """

    # ``bytes`` shadows the builtin inside these two methods only: the CLI's names.
    def planned(self, files: int, bytes: int) -> None:
        """Called once, after the walk: how many entries will be yielded, and how many
        bytes of regular files they hold."""

    def advance(self, files: int, bytes: int) -> None:
        """Called as results arrive: entries done since the last call, and their bytes."""


class PlannedEntry(NamedTuple):
    """One entry of a :class:`ScanPlan`: a tuple, because a plan may hold millions."""

    raw: bytes
    """Path relative to the plan's root, as the file system spells it."""
    size: int | None
    """``st_size`` when the walk saw a regular file; None otherwise."""
    reason: str | None
    """Why the walk already knows this entry will not be hashed; None for a regular file."""

    @property
    def path(self) -> str:
        """The path as :class:`ScannedFile` and manifests show it (escaped)."""
        return escape_path(self.raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanPlan:
    """The result of walking a tree once: its entries in scan order, and the totals.

    ``entries`` are in the order :func:`scan_tree` yields them: names sorted bytewise in
    each directory, a directory's contents right where its name sorts (depth first).
    """

    root: Path
    """The directory that entry paths are relative to (a file's parent when a single
    file was planned)."""
    entries: tuple[PlannedEntry, ...]
    total_files: int
    """Entries the scan will yield, hashed or not."""
    total_bytes: int
    """Sum of the sizes of the regular files among them: what the scan reads."""
