"""The local hasher: MD5, SHA-1 and SHA-256 of every file in a folder, from one read each.

Runs on the examiner's machine (the only part of hashmatch that ever reads file content,
and it keeps nothing but digests). It never writes into the tree it scans, opens
evidence read-only without following symbolic links, and accounts for every entry: a file
it cannot hash (unreadable, a FIFO, a symbolic link, changed while being read...) is
yielded with the reason, for the service to give a not_assessable verdict.

* :func:`plan_tree` walks a folder once: entries in scan order, and the totals;
* :func:`scan_tree` hashes them on a thread pool and yields :class:`ScannedFile` results
  in that order, reporting to a :class:`ScanProgress`, stoppable through an event;
* :func:`write_hashdeep_manifest` writes the results as a HASHDEEP-1.0 manifest;
* :func:`escape_path` / :func:`unescape_path`: how a name with a newline or bytes that
  are not UTF-8 is rendered on one line, and back.
"""

from hashmatch.scan._manifest import (
    MANIFEST_COLUMNS,
    NOT_ASSESSABLE_PREFIX,
    write_hashdeep_manifest,
)
from hashmatch.scan._model import (
    CHANGED,
    CHANGED_WHILE_READ,
    DEVICE,
    FIFO,
    PERMISSION_DENIED,
    SOCKET,
    SYMLINK,
    UNKNOWN_TYPE,
    VANISHED,
    PlannedEntry,
    ScannedFile,
    ScanPlan,
    ScanProgress,
)
from hashmatch.scan._names import escape_path, escape_text, unescape_path
from hashmatch.scan._scan import DEFAULT_CHUNK_SIZE, default_workers, scan_tree
from hashmatch.scan._walk import plan_tree

__all__ = [
    "CHANGED",
    "CHANGED_WHILE_READ",
    "DEFAULT_CHUNK_SIZE",
    "DEVICE",
    "FIFO",
    "MANIFEST_COLUMNS",
    "NOT_ASSESSABLE_PREFIX",
    "PERMISSION_DENIED",
    "SOCKET",
    "SYMLINK",
    "UNKNOWN_TYPE",
    "VANISHED",
    "PlannedEntry",
    "ScanPlan",
    "ScanProgress",
    "ScannedFile",
    "default_workers",
    "escape_path",
    "escape_text",
    "plan_tree",
    "scan_tree",
    "unescape_path",
    "write_hashdeep_manifest",
]
