"""Value types that cross layers: verdicts, list purposes, warnings, catalog records.

All are frozen, keyword-only dataclasses: the core, the store, the CLI and the web layer
pass these (or Arrow tables), never loose dicts.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hashmatch.errors import DigestError, InputError
from hashmatch.labels import BOOLEAN_FLAGS, Scheme

if TYPE_CHECKING:
    from hashmatch.digests import Algorithm

__all__ = [
    "ExchangeFetch",
    "ExchangeState",
    "Grading",
    "IngestCounts",
    "ListInfo",
    "ListPolicy",
    "ListVersionInfo",
    "Purpose",
    "RecordWarning",
    "RunInfo",
    "RunInput",
    "TrustedKey",
    "UpdateMode",
    "Verdict",
    "Vetting",
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


class UpdateMode(enum.StrEnum):
    """How a list version was made from the file it was loaded from."""

    REPLACE = "replace"
    """The file is the whole list."""
    ADD = "add"
    """The file's entries are added to the previous version's (a delta)."""
    REMOVE = "remove"
    """The file's digests are taken out of the previous version (a delta)."""
    ROLLBACK = "rollback"
    """No file: the list goes back to what an earlier version held."""


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
class ListPolicy:
    """What a list demands of the files loaded into it, and of its own age."""

    require_signature: bool = False
    """Refuse any file without a valid signature by one of the list's trusted keys."""
    max_age_days: int | None = None
    """How old the serving version may be before ``check`` warns; None: no limit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedKey:
    """A publisher's public key that a list trusts to sign its files."""

    key_id: str
    """``ed25519:`` and 16 hex digits of the SHA-256 of the raw public key."""
    publisher: str
    public_key: str
    """The key as PEM text."""
    added_by: str
    added_at: datetime


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
    policy: ListPolicy = field(default_factory=ListPolicy)


@dataclass(frozen=True, slots=True, kw_only=True)
class Vetting:
    """What was checked about a list version's source before it was accepted."""

    signature: str = "unsigned"
    """``valid``, ``unsigned``, ``untrusted`` or ``invalid`` (only ``valid`` and
    ``unsigned`` can be accepted, and ``unsigned`` only where the list allows it)."""
    signed_by: str | None = None
    """The trusted key's id and publisher, as ``publisher (key id)``."""
    signed_at: str | None = None
    signature_file: str | None = None
    """The name of the file whose signature vouched for the source (``x.sig``, or a signed
    ``SHA256SUMS`` that lists the source)."""
    checksum: str | None = None
    """``match`` or ``not_listed`` when a checksum file was beside the source, else None."""
    checksum_file: str | None = None


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
    mode: UpdateMode = UpdateMode.REPLACE
    base_version_id: str | None = None
    """For a delta, the version it changes; for a rollback, the version it restores."""
    vetting: Vetting = field(default_factory=Vetting)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInput:
    """One manifest read by a run, identified by its content digest."""

    name: str
    """The file name as given (no directories)."""
    sha256: str
    format: str
    rows: int
    origin: str | None = None
    """Where the manifest came from, as the examiner states it (``device-image``,
    ``cloud-return``, ``provider-production``, or their own words); None when not stated."""


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


_UUID_HEX = re.compile(r"[0-9a-f]{32}")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Grading:
    """A reviewer's grading of one digest: a category in a named scheme, and flags.

    A later grading of the same (algorithm, digest) supersedes an earlier one, which stays
    in the history. Construction checks and normalises every field against the label
    vocabulary of :mod:`hashmatch.labels`: ``scheme`` must be a :class:`~hashmatch.labels.Scheme`
    value, each flag one of :data:`~hashmatch.labels.BOOLEAN_FLAGS` (kept sorted, once
    each), ``digest`` hex of the algorithm's length (kept lower-case), and not the digest
    of the zero-length file (which would grade every empty file). ``category`` is kept
    verbatim: the vocabulary has no list of each scheme's codes. InputError (DigestError
    for the digest) says what is wrong; a naive ``graded_at`` is a ValueError, as in the
    store.
    """

    grading_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """A UUID as 32 lower-case hex digits."""
    algorithm: Algorithm
    digest: str
    """Lower-case hex."""
    scheme: str
    """The category scheme: ``uk``, ``vics-us``, ``ncmec`` ... (a ``Scheme`` value)."""
    category: str
    """The category code as the reviewer gave it, verbatim (``A``, ``1``, ``B2``)."""
    flags: tuple[str, ...] = ()
    """Flag names from ``BOOLEAN_FLAGS`` that hold for the file, sorted."""
    reviewer: str
    graded_at: datetime
    """When it was graded, in UTC."""
    case_ref: str | None = None
    run_id: str | None = None
    """The run whose review queue the digest came from, if any (not checked to exist)."""
    note: str | None = None
    """Free text, kept in the catalog and stripped on export."""
    size: int | None = None
    """The file's size in bytes, when known."""

    def __post_init__(self) -> None:
        from hashmatch.digests import (  # noqa: PLC0415 - keeps numpy out of light imports
            Algorithm,
            is_empty_file_digest,
        )

        algorithm = (
            self.algorithm
            if isinstance(self.algorithm, Algorithm)
            else Algorithm.parse(_text(self.algorithm, "algorithm"))
        )
        digest = _text(self.digest, "digest").lower()
        if len(digest) != algorithm.hex_length or not _HEX.fullmatch(digest):
            raise DigestError(
                f"a grading's {algorithm.value} digest must be {algorithm.hex_length} hex "
                f"digits, got {self.digest[:80]!r}"
            )
        if is_empty_file_digest(algorithm, bytes.fromhex(digest)):
            raise DigestError(
                f"{digest} is the {algorithm.value} of a zero-length file, which cannot be "
                "graded (it would grade every empty file)"
            )
        if not _UUID_HEX.fullmatch(_text(self.grading_id, "grading_id")):
            raise InputError(
                f"grading_id must be a UUID as 32 lower-case hex digits, got {self.grading_id!r}"
            )
        scheme = _text(self.scheme, "scheme")
        if scheme not in {s.value for s in Scheme}:
            known = ", ".join(s.value for s in Scheme)
            raise InputError(f"unknown category scheme {scheme!r} (expected one of {known})")
        category = _text(self.category, "category")
        if not category.strip():
            raise InputError("a grading needs a category")
        flags = _flags(self.flags)
        if not _text(self.reviewer, "reviewer").strip():
            raise InputError("a grading needs the reviewer's name")
        if self.graded_at.tzinfo is None or self.graded_at.utcoffset() is None:
            raise ValueError(
                f"graded_at must be timezone-aware, got naive {self.graded_at.isoformat()}"
            )
        for name in ("case_ref", "run_id", "note"):
            value = getattr(self, name)
            if value is not None:
                _text(value, name)
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0
        ):
            raise InputError(f"size must be a whole number of bytes, got {self.size!r}")
        # Frozen: normalised values go in through object.__setattr__, once, here.
        object.__setattr__(self, "algorithm", algorithm)
        object.__setattr__(self, "digest", digest)
        object.__setattr__(self, "scheme", scheme)
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "graded_at", self.graded_at.astimezone(UTC))


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise InputError(f"{name} holds a NUL character")
    return str(value)


def _flags(flags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(flags, str):
        raise InputError(f"flags must be a list of flag names, got the text {flags!r}")
    names = {_text(flag, "a flag") for flag in flags}
    unknown = sorted(names - BOOLEAN_FLAGS)
    if unknown:
        known = ", ".join(sorted(BOOLEAN_FLAGS))
        raise InputError(f"unknown flag {', '.join(map(repr, unknown))} (known flags: {known})")
    return tuple(sorted(names))


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeFetch:
    """An exchange fetch under way: the range it asks for, and how far it has got.

    Saved after every page written to the journal, so that a fetch that was interrupted
    (a network error, a killed process) goes on from its last page.
    """

    since: datetime | None
    """Changes after this instant are fetched; None: everything (a full fetch)."""
    until: datetime
    """Changes up to this instant (when the fetch began)."""
    started_at: datetime
    reason: str
    """Why this range: ``"incremental"``, or why a full fetch was needed."""
    pages: int = 0
    """Pages written to the journal so far."""
    cursor: Mapping[str, str] | None = None
    """The client's cursor after the last journalled page (None: start of the range)."""
    through: datetime | None = None
    """The end of the last time window fetched whole."""
    pages_through: int = 0
    """Pages journalled up to :attr:`through`."""
    complete: bool = False
    """Every page is journalled; only loading the list version remains."""

    def as_json(self) -> str:
        """The fetch as JSON text (how the catalog keeps it)."""
        return json.dumps(
            {
                "since": None if self.since is None else self.since.isoformat(),
                "until": self.until.isoformat(),
                "started_at": self.started_at.isoformat(),
                "reason": self.reason,
                "pages": self.pages,
                "cursor": None if self.cursor is None else dict(self.cursor),
                "through": None if self.through is None else self.through.isoformat(),
                "pages_through": self.pages_through,
                "complete": self.complete,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ExchangeFetch:
        """The fetch :meth:`as_json` wrote."""
        data = json.loads(text)

        def instant(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        until = datetime.fromisoformat(data["until"])
        started = datetime.fromisoformat(data["started_at"])
        cursor = data.get("cursor")
        return cls(
            since=instant(data.get("since")),
            until=until,
            started_at=started,
            reason=str(data.get("reason", "")),
            pages=int(data.get("pages", 0)),
            cursor=None if cursor is None else {str(k): str(v) for k, v in cursor.items()},
            through=instant(data.get("through")),
            pages_through=int(data.get("pages_through", 0)),
            complete=bool(data.get("complete", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeState:
    """What hashmatch keeps of one exchange between fetches."""

    exchange: str
    """``<client>-<environment>`` (``ncmec-industry``)."""
    list_name: str
    """The list its fetches load versions of."""
    api_root: str
    """Where the checkpoint was fetched from: another root means a full fetch."""
    checkpoint: datetime | None = None
    """Every change up to this instant is in :attr:`version_id`; None before the first."""
    version_id: str | None = None
    """The list version the last completed fetch loaded (or found unchanged)."""
    fetch: ExchangeFetch | None = None
    """A fetch under way (or interrupted), if any."""
    updated_at: datetime
