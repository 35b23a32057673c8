"""Value types that cross layers: verdicts, list purposes, warnings, catalog records.

All are frozen, keyword-only dataclasses: the core, the store, the CLI and the web layer
pass these (or Arrow tables), never loose dicts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "IngestCounts",
    "ListInfo",
    "ListVersionInfo",
    "Purpose",
    "RecordWarning",
    "RunInfo",
    "RunInput",
    "Verdict",
]


class Verdict(enum.StrEnum):
    """The one verdict each input row gets (DOMAIN.md)."""

    KNOWN = "known"
    """On one or more lists of material of concern."""
    KNOWN_BENIGN = "known_benign"
    """Only on lists of known ordinary files: "known software", never "safe"."""
    UNKNOWN = "unknown"
    """On no loaded list: the human review queue. Never "clean"."""
    NOT_ASSESSABLE = "not_assessable"
    """No usable digest: missing, unreadable, or the digest of a zero-length file."""
    INVALID = "invalid"
    """The input row itself is malformed; the reason says why."""


class Purpose(enum.StrEnum):
    """What a list holds."""

    CONCERN = "concern"
    """Material of concern: a match gives the verdict ``known``."""
    BENIGN = "benign"
    """Known ordinary files (NSRL and the like): a match alone gives ``known_benign``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordWarning:
    """A record that was skipped or repaired, with where it was and why."""

    source: str
    line: int | None
    reason: str

    def render(self) -> str:
        """``source:line: reason``."""
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestCounts:
    """What an ingest read, kept and dropped."""

    rows: int
    """Records the adapter yielded."""
    entries: int
    """Records kept (with at least one valid digest)."""
    md5: int = 0
    sha1: int = 0
    sha256: int = 0
    """Distinct digests per algorithm in the new version."""
    invalid: int = 0
    """Records dropped or digests discarded because a value was malformed."""
    empty_file: int = 0
    """Zero-length-file digests dropped (they would match every empty file)."""
    duplicates: int = 0
    """Records whose digest was already in the version (kept, with their provenance)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListInfo:
    """A named list as the catalog knows it."""

    name: str
    purpose: Purpose
    description: str = ""
    created_at: datetime
    created_by: str
    active_version: int | None = None
    """The number of the version that serves, or None before the first ingest."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListVersionInfo:
    """One immutable load of a list."""

    list_name: str
    number: int
    """1, 2, 3 ... within the list."""
    version_id: str
    """Globally unique id (a UUID hex string)."""
    purpose: Purpose
    source_name: str
    """The file name as given (no directories are recorded)."""
    source_sha256: str
    adapter: str
    adapter_version: str
    loaded_by: str
    loaded_at: datetime
    counts: IngestCounts
    warnings: tuple[RecordWarning, ...] = ()
    """The first warnings (at most a few hundred are kept); ``warning_count`` has them all."""
    warning_count: int = 0
    entry_file: str
    """Path of the entries Parquet file, relative to the data directory."""
    active: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInput:
    """One manifest read by a run, identified by its content digest."""

    name: str
    """The file name as given (no directories)."""
    sha256: str
    format: str
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """One check of manifests against a snapshot."""

    run_id: str
    case_ref: str
    operator: str
    started_at: datetime
    finished_at: datetime | None = None
    tool_version: str
    snapshot_id: str
    algorithms: tuple[str, ...] = ()
    inputs: tuple[RunInput, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    """Rows per verdict, plus ``total``."""
