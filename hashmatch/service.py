"""The facade that the CLI and the web layer call: one method per thing a user does.

Data directory layout (``Settings.home``)::

    catalog.sqlite                 the catalog and verdict store (unless database_url is set)
    lists/<list>/<version>.parquet entries of each list version (immutable)
    snapshots/                     see :mod:`hashmatch.index.snapshot`
    reports/<run_id>.json          the report of each run made over HTTP (and its CSV and
                                   HTML renderings, once asked for)
    uploads/                       uploaded manifests and list files while they are read
    .lock                          held while lists change, so changes never interleave

How an ingest commits, so that a failure anywhere leaves the previous version serving:

1. the file is read, checked and written to a staging Parquet file;
2. the staging file gets its final, unique name (not yet referenced by the catalog);
3. a snapshot of the active versions with the new one in place is built beside the
   serving one (not yet published);
4. the catalog records the version and makes it active, in one transaction;
5. the new snapshot is published by an atomic switch.

A failure before 4 removes what 1 to 3 wrote. A crash between 4 and 5 leaves a catalog
that is ahead of the serving snapshot: the next time a snapshot is needed the mismatch is
seen and the snapshot is rebuilt and published.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import io
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch._version import __version__
from hashmatch.adapter import HEAD_BYTES, FormatAdapter, ReadContext, Role
from hashmatch.audit import (
    AuditAction,
    AuditEntry,
    AuditHead,
    AuditRecord,
    AuditVerification,
    verify_chain,
)
from hashmatch.bundle import BundleSource, sign_bundle, write_bundle
from hashmatch.config import Settings
from hashmatch.crosswalk import load_crosswalks
from hashmatch.digests import Algorithm
from hashmatch.errors import (
    Cancelled,
    ConfigurationError,
    Conflict,
    CursorRejected,
    InputError,
    NotFound,
    NotLicensed,
    NotReady,
    TooLarge,
    UnsupportedFormat,
)
from hashmatch.exchange import ExchangeClient, ExchangeConfig
from hashmatch.exchange_sync import FetchOutcome, Journal, merge, read_access, resolve
from hashmatch.index import ChainLink, Snapshot, SnapshotList, SnapshotSource, SnapshotStore
from hashmatch.index.shards import ShardSet, export_shards
from hashmatch.ingest.pipeline import (
    HashingReader,
    StagedVersion,
    choose_adapter,
    read_records,
    stage_entries,
    stage_list_file,
)
from hashmatch.ingest.versions import (
    ListDiff,
    chain_of,
    content_loaded_at,
    diff_versions,
    entries_of,
    version_entries,
)
from hashmatch.ingest.vetting import vet_source
from hashmatch.keys import ApiKey, hash_token, new_token, parse_roles, parse_token
from hashmatch.labels import Label
from hashmatch.match.live import LiveMatcher, Lookup, Serving
from hashmatch.match.matcher import VERDICT_SCHEMA, Matcher, join_reason
from hashmatch.match.perceptual import (
    ListFingerprint,
    PerceptualFile,
    PerceptualOutcome,
    match_perceptual,
)
from hashmatch.model import (
    ExchangeFetch,
    ExchangeState,
    Grading,
    ListInfo,
    ListPolicy,
    ListVersionInfo,
    Purpose,
    RecordWarning,
    RunInfo,
    RunInput,
    TrustedKey,
    UpdateMode,
    Verdict,
    Vetting,
)
from hashmatch.perceptual import LICENCE_FILE, PerceptualVendor, VendorLicence, load_licences
from hashmatch.records import decode_labels
from hashmatch.registry import AdapterRegistry, default_registry
from hashmatch.reports import (
    PERCEPTUAL_ROWS,
    REPORT_FORMAT,
    STATEMENT,
    ChargingSummary,
    Comparison,
    CountsSummary,
    ReportHeader,
    ReportInput,
    ReportRun,
    ToolInfo,
    charging_summary,
    compare_reports,
    count_verdicts,
    counts_summary,
    read_report_header,
    read_report_table,
    report_format,
    report_lists,
    report_mapping,
    report_perceptual,
    write_report,
)
from hashmatch.review import (
    QueueItem,
    grading_entries,
    group_gradings,
    review_queue,
    write_queue,
    write_vics_gradings,
)
from hashmatch.scaleout import BatchOutcome, connect, match_parquet
from hashmatch.scan import (
    ScanProgress,
    plan_tree,
    scan_tree,
    unescape_path,
    write_hashdeep_manifest,
)
from hashmatch.signing import key_id, load_private_key, load_public_key, sha256_file
from hashmatch.store import Catalog, VerdictRecord, open_catalog

__all__ = [
    "CheckResult",
    "Progress",
    "ScanResult",
    "Service",
    "VendorStatus",
    "installed_formats",
]


def installed_formats(role: Role | None = None) -> list[type[FormatAdapter]]:
    """The installed format adapters, in detection order; needs no data directory."""
    return default_registry().adapters(role)


_AUDIT_HEAD = "audit-head.json"
"""The last audit record's seq and hash, kept outside the database (see hashmatch.audit)."""

_LIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERDICT_CHUNK = 100_000


@dataclass(frozen=True, slots=True)
class Progress:
    """Callbacks a long operation reports through; the CLI draws them, tests ignore them."""

    bytes_read: Callable[[str, int, int], None] = lambda name, done, total: None
    """(file name, bytes read so far, file size)"""
    stage: Callable[[str], None] = lambda message: None
    """A new phase begins (building the snapshot, writing the report...)."""


_QUIET = Progress()


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """What a scan produced: its manifest, how many files it found and hashed, its check."""

    check: CheckResult
    manifest: Path
    files: int
    hashed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """What a check produced: the run record, the report header and every verdict row."""

    run: RunInfo
    header: ReportHeader
    verdicts: pa.Table
    report_path: Path | None
    warnings: tuple[str, ...] = ()
    """Things the examiner should know about the lists used (a list older than its policy
    allows, say); also in the report."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorStatus:
    """An installed perceptual vendor, and whether the licence file enables it here."""

    name: str
    description: str
    adapter_version: str
    fingerprint: str
    """The tag under which lists carry its hashes (``""``: it compares only on its own list)."""
    licensed: bool
    """Whether the licence file has its table with a non-empty key."""


class Service:
    """hashmatch's operations over one data directory and catalog."""

    def __init__(
        self,
        settings: Settings,
        *,
        catalog: Catalog | None = None,
        registry: AdapterRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.home = settings.home
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the data directory {self.home}: {exc}"
            ) from exc
        self.catalog = catalog if catalog is not None else open_catalog(settings.catalog_url)
        self.registry = registry if registry is not None else default_registry()
        self.snapshots = SnapshotStore(self.home / "snapshots")
        self._live: LiveMatcher | None = None
        self._live_lock = threading.Lock()
        self._pending: list[tuple[datetime, str, dict[str, Any]]] = []
        self._lookups: dict[tuple[str, str], _LookupSum] = {}
        self._pending_lock = threading.Lock()

    def close(self) -> None:
        """Release the catalog."""
        self.catalog.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise changes to lists and snapshots between processes."""
        with open(self.home / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- lists ------------------------------------------------------------------------

    def add_list(
        self, name: str, purpose: Purpose, description: str = "", *, operator: str | None = None
    ) -> ListInfo:
        """Create an empty list; raises Conflict if the name is taken.

        ``operator`` (default: the operator of the settings) is recorded as its creator.
        """
        if not _LIST_NAME.fullmatch(name):
            raise InputError(
                f"list name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.catalog.create_list(
            name=name,
            purpose=purpose,
            description=description,
            created_by=operator or self.settings.operator,
            created_at=datetime.now(UTC),
        )

    def lists(self) -> list[ListInfo]:
        """Every list, by name."""
        return self.catalog.lists()

    def versions(self, list_name: str) -> list[ListVersionInfo]:
        """Every version of a list, oldest first."""
        self.catalog.get_list(list_name)
        return self.catalog.versions(list_name)

    # -- ingest -----------------------------------------------------------------------

    def ingest(
        self,
        list_name: str,
        path: Path,
        *,
        fmt: str | None = None,
        strict: bool = False,
        mode: UpdateMode = UpdateMode.REPLACE,
        progress: Progress = _QUIET,
        operator: str | None = None,
    ) -> ListVersionInfo:
        """Load ``path`` as a new version of ``list_name`` and make it serve.

        ``mode`` ``replace`` loads the whole list; ``add`` and ``remove`` load a delta on
        top of the serving version (its entries are added, or its digests taken out). A
        delta is served through the snapshot's overlay without a full rebuild while the
        overlay stays under ``overlay_limit`` rows. ``path`` may be a list file in any
        installed format, or a hashmatch bundle folder.

        The source is vetted first: a signature beside it (``<file>.sig``, or a signed
        ``SHA256SUMS`` listing it) is checked against the list's trusted keys, and a
        checksum file beside it must agree. Raises NotFound for an unknown list,
        VettingError when vetting refuses the file, InputError subclasses for a file that
        cannot be read (``file:line: reason``), IngestError when nothing usable is in it.
        On any failure the previous version keeps serving and nothing new is left behind.
        ``operator`` (default: the operator of the settings) is recorded as who loaded it.
        """
        if mode is UpdateMode.ROLLBACK:
            raise InputError("a rollback loads no file: use rollback()")
        listed = self.catalog.get_list(list_name)
        if not path.exists():
            raise InputError("no such file", source=str(path))
        list_dir = self.home / "lists" / list_name
        with self._lock():
            self._sweep(list_dir)
            previous = self._active_version(list_name)
            if mode is UpdateMode.REMOVE and previous is None:
                raise InputError(f"list {list_name!r} has no version to remove entries from")
            source = vet_source(path, listed, self.catalog.trusted_keys(list_name))
            size = source.entries_path.stat().st_size
            staged = stage_list_file(
                source.entries_path,
                staging_dir=list_dir,
                registry=self.registry,
                fmt=source.fmt or fmt,
                strict=strict,
                batch_size=self.settings.batch_size,
                progress=lambda done: progress.bytes_read(path.name, done, size),
                options=self._adapter_options(),
            )
            try:
                vetting = source.finish(staged.source_sha256)
            except BaseException:
                staged.discard()
                raise
            version = self._load_staged(
                listed,
                dataclasses.replace(staged, source_name=source.name),
                mode=mode,
                previous=previous,
                vetting=vetting,
                progress=progress,
                operator=operator,
            )
        self._audit(AuditAction.INGEST, list_name, _ingest_details(version), operator=operator)
        return version

    def _load_staged(
        self,
        listed: ListInfo,
        staged: StagedVersion,
        *,
        mode: UpdateMode,
        previous: ListVersionInfo | None,
        vetting: Vetting,
        progress: Progress,
        operator: str | None,
        exchange: ExchangeState | None = None,
    ) -> ListVersionInfo:
        """Make ``staged`` the serving version of ``listed`` (the lock is held).

        The entries file is moved in, the snapshot built, the version (with ``exchange``'s
        new checkpoint, when a fetch loads it) committed in one transaction, and the
        snapshot published. On any failure before the commit nothing is left behind.
        """
        version_id = uuid.uuid4().hex
        final = self.home / "lists" / listed.name / f"{version_id}.parquet"
        try:
            os.replace(staged.path, final)
            version = ListVersionInfo(
                list_name=listed.name,
                number=self.catalog.next_version_number(listed.name),
                version_id=version_id,
                purpose=listed.purpose,
                source_name=staged.source_name,
                source_sha256=staged.source_sha256,
                adapter=staged.adapter,
                adapter_version=staged.adapter_version,
                loaded_by=operator or self.settings.operator,
                loaded_at=datetime.now(UTC),
                counts=staged.counts,
                warnings=staged.warnings,
                warning_count=staged.warning_count,
                entry_file=final.relative_to(self.home).as_posix(),
                active=True,
                mode=mode,
                base_version_id=(
                    previous.version_id
                    if previous is not None and mode is not UpdateMode.REPLACE
                    else None
                ),
                vetting=vetting,
            )
            progress.stage("building the snapshot")
            snapshot_id, versions = self._build_with(version, final)
            if exchange is None:
                self.catalog.add_version(version, activate=True)
            else:
                state = dataclasses.replace(exchange, version_id=version_id)
                self.catalog.add_exchange_version(version, state)
            self._record(snapshot_id, versions)
        except BaseException:
            final.unlink(missing_ok=True)
            staged.discard()
            raise
        self._publish(snapshot_id)
        return version

    def rollback(
        self,
        list_name: str,
        number: int,
        *,
        progress: Progress = _QUIET,
        operator: str | None = None,
    ) -> ListVersionInfo:
        """Serve again what version ``number`` of the list held, as a new version.

        History is never rewritten: the rollback is recorded as the list's next version,
        which names the version it restores. Conflict if that version already serves.
        ``operator`` (default: the operator of the settings) is recorded as who did it.
        """
        with self._lock():
            versions = self.catalog.versions(list_name)
            target = next((v for v in versions if v.number == number), None)
            if target is None:
                raise NotFound(f"list {list_name!r} has no version {number}")
            if target.active:
                raise Conflict(f"version {number} of list {list_name!r} is already serving")
            version = dataclasses.replace(
                target,
                number=self.catalog.next_version_number(list_name),
                version_id=uuid.uuid4().hex,
                loaded_by=operator or self.settings.operator,
                loaded_at=datetime.now(UTC),
                warnings=(),
                warning_count=0,
                active=True,
                mode=UpdateMode.ROLLBACK,
                base_version_id=target.version_id,
            )
            active = [v for v in self.catalog.active_versions() if v.list_name != list_name]
            progress.stage("building the snapshot")
            snapshot_id, ordered = self._build([*active, version])
            self.catalog.add_version(version, activate=True)
            self._record(snapshot_id, ordered)
            self._publish(snapshot_id)
        self._audit(
            AuditAction.ROLLBACK,
            list_name,
            {"version": version.number, "restores": number, "version_id": version.version_id},
            operator=operator,
        )
        return version

    def diff(self, list_name: str, old: int, new: int) -> ListDiff:
        """Compare two versions of a list digest by digest (any two, in either order)."""
        by_number = {v.number: v for v in self.versions(list_name)}
        for number in (old, new):
            if number not in by_number:
                raise NotFound(f"list {list_name!r} has no version {number}")
        return diff_versions(by_number[old], by_number[new], self.catalog.get_version, self.home)

    def export_bundle(
        self,
        list_name: str,
        out_dir: Path,
        *,
        number: int | None = None,
        strip_free_text: bool = False,
    ) -> Path:
        """Write a version of a list (default: the serving one) as a bundle folder.

        The bundle holds the version's entries with their labels verbatim, or without
        free text (series names, comments ...) when ``strip_free_text``; sign it with
        ``hashmatch bundle sign`` before sharing it.
        """
        listed = self.catalog.get_list(list_name)
        versions = self.catalog.versions(list_name)
        wanted = listed.active_version if number is None else number
        version = next((v for v in versions if v.number == wanted), None)
        if version is None:
            raise NotFound(
                f"list {list_name!r} has no version {wanted}"
                if wanted is not None
                else f"list {list_name!r} has no version yet"
            )
        made = write_bundle(
            out_dir,
            version_entries(version, self.catalog.get_version, self.home),
            list_name=list_name,
            purpose=listed.purpose,
            description=listed.description,
            created_by=self.settings.operator,
            source=BundleSource(
                name=version.source_name,
                sha256=version.source_sha256,
                adapter=version.adapter,
                adapter_version=version.adapter_version,
            ),
            strip_free_text=strip_free_text,
            version=version.number,
        )
        self._audit(
            AuditAction.EXPORT,
            list_name,
            {
                "what": "bundle",
                "version": version.number,
                "bundle": made.name,
                "strip_free_text": strip_free_text,
            },
        )
        return made

    def set_policy(
        self,
        list_name: str,
        *,
        require_signature: bool | None = None,
        max_age_days: int | Literal["unset"] | None = "unset",
    ) -> ListInfo:
        """Change what the list demands: a trusted signature, a maximum age (None: no limit).

        Requiring a signature needs at least one trusted key.
        """
        current = self.catalog.get_list(list_name).policy
        policy = ListPolicy(
            require_signature=(
                current.require_signature if require_signature is None else require_signature
            ),
            max_age_days=current.max_age_days if max_age_days == "unset" else max_age_days,
        )
        if policy.max_age_days is not None and policy.max_age_days < 1:
            raise InputError("a maximum age is at least one day")
        if policy.require_signature and not self.catalog.trusted_keys(list_name):
            raise InputError(
                f"list {list_name!r} trusts no publisher key yet: add one with "
                "'hashmatch lists trust' before requiring signatures"
            )
        info = self.catalog.set_policy(list_name, policy)
        self._audit(
            AuditAction.POLICY,
            list_name,
            {
                "require_signature": policy.require_signature,
                "max_age_days": policy.max_age_days,
            },
        )
        return info

    def trust_key(self, list_name: str, public_key: Path, publisher: str) -> TrustedKey:
        """Trust a publisher's Ed25519 public key (a PEM file) to sign the list's files."""
        self.catalog.get_list(list_name)
        if not publisher.strip():
            raise InputError("a publisher name is required")
        if not public_key.is_file():
            raise InputError("no such file", source=str(public_key))
        key = load_public_key(public_key)
        pem = public_key.read_bytes()
        trusted = TrustedKey(
            key_id=key_id(key),
            publisher=publisher.strip(),
            public_key=pem.decode("ascii").strip() + "\n",
            added_by=self.settings.operator,
            added_at=datetime.now(UTC),
        )
        self.catalog.add_trusted_key(list_name, trusted)
        self._audit(
            AuditAction.TRUST,
            list_name,
            {"trust": trusted.key_id, "publisher": trusted.publisher},
        )
        return trusted

    def untrust_key(self, list_name: str, key: str) -> None:
        """Stop trusting a key (by its id). A list that requires signatures keeps one key."""
        listed = self.catalog.get_list(list_name)
        keys = self.catalog.trusted_keys(list_name)
        if listed.policy.require_signature and [k.key_id for k in keys] == [key]:
            raise InputError(
                f"list {list_name!r} requires signatures and {key} is its only trusted key: "
                "trust another key first, or stop requiring signatures"
            )
        self.catalog.remove_trusted_key(list_name, key)
        self._audit(AuditAction.TRUST, list_name, {"untrust": key})

    def trusted_keys(self, list_name: str) -> list[TrustedKey]:
        """The publisher keys the list trusts."""
        return self.catalog.trusted_keys(list_name)

    def _active_version(self, list_name: str) -> ListVersionInfo | None:
        found = [v for v in self.catalog.versions(list_name) if v.active]
        return found[0] if found else None

    def _adapter_options(self) -> dict[str, str]:
        tables = self.settings.category_tables
        return {} if tables is None else {"category_tables": str(tables)}

    def _build_with(
        self, version: ListVersionInfo, entries: Path
    ) -> tuple[str, list[ListVersionInfo]]:
        """Build the snapshot that serves ``version`` in place of its list's active version.

        A delta on the serving snapshot's own version of the list becomes a delta snapshot
        (no full rebuild) while the overlay stays under ``overlay_limit`` rows; anything
        else is a full build beside the serving snapshot.
        """
        others = [v for v in self.catalog.active_versions() if v.list_name != version.list_name]
        ordered = sorted([*others, version], key=lambda v: v.list_name)
        delta = self._delta_base(version, ordered)
        if delta is not None:
            base_id, lists, slot = delta
            snapshot_id = self.snapshots.build_delta(
                base_id, lists, slot=slot, link=ChainLink(path=entries, mode=version.mode)
            )
            return snapshot_id, ordered
        lookup = self._lookup_with(version)
        return self.snapshots.build(self._sources(ordered, lookup)), ordered

    def _delta_base(
        self, version: ListVersionInfo, ordered: Sequence[ListVersionInfo]
    ) -> tuple[str, list[SnapshotList], int] | None:
        if version.mode not in (UpdateMode.ADD, UpdateMode.REMOVE):
            return None
        current = self.snapshots.current_id()
        if current is None or version.base_version_id is None:
            return None
        served, delta_rows = self.snapshots.describe(current)
        wanted = [v.version_id if v is not version else version.base_version_id for v in ordered]
        if [item.version_id for item in served] != wanted:
            return None
        if delta_rows + version.counts.entries > self.settings.overlay_limit:
            return None
        lookup = self._lookup_with(version)
        slot = next(i for i, v in enumerate(ordered) if v is version)
        lists = list(served)
        lists[slot] = self._snapshot_list(slot, version, lookup)
        return current, lists, slot

    def _lookup_with(self, *versions: ListVersionInfo) -> Callable[[str], ListVersionInfo]:
        """``catalog.get_version`` that also knows ``versions`` (maybe not yet stored)."""
        pending = {v.version_id: v for v in versions}

        def lookup(version_id: str) -> ListVersionInfo:
            found = pending.get(version_id)
            return found if found is not None else self.catalog.get_version(version_id)

        return lookup

    def _snapshot_list(
        self, slot: int, v: ListVersionInfo, lookup: Callable[[str], ListVersionInfo]
    ) -> SnapshotList:
        return SnapshotList(
            slot=slot,
            name=v.list_name,
            version=v.number,
            version_id=v.version_id,
            purpose=v.purpose,
            source_name=v.source_name,
            source_sha256=v.source_sha256,
            loaded_at=v.loaded_at,
            entries=entries_of(v, lookup),
        )

    def _sources(
        self, ordered: Sequence[ListVersionInfo], lookup: Callable[[str], ListVersionInfo]
    ) -> list[SnapshotSource]:
        return [
            SnapshotSource(
                list=self._snapshot_list(slot, v, lookup),
                chain=chain_of(v, lookup, self.home),
            )
            for slot, v in enumerate(ordered)
        ]

    def _sweep(self, list_dir: Path) -> None:
        """Remove what an ingest killed part-way left in a list folder (lock held).

        Staging files and entry files that no catalog version refers to are leftovers:
        the catalog is only written after they are complete.
        """
        if not list_dir.is_dir():
            return
        known = {self.home / v.entry_file for v in self.catalog.versions(list_dir.name)}
        for path in list_dir.iterdir():
            if path.suffix == ".parquet" and path not in known:
                path.unlink(missing_ok=True)

    # -- exchanges --------------------------------------------------------------------

    def exchanges(self) -> list[tuple[str, str, ExchangeState | None]]:
        """Every exchange the installed clients offer: name, description and its state."""
        out: list[tuple[str, str, ExchangeState | None]] = []
        for name in self.registry.exchange_names():
            client, environment = self.registry.exchange(name)
            described = f"{client.DESCRIPTION} ({environment})"
            out.append((name, described, self.catalog.exchange_state(name)))
        return out

    def exchange_fetch(
        self,
        name: str,
        *,
        list_name: str | None = None,
        full: bool = False,
        progress: Progress = _QUIET,
        operator: str | None = None,
    ) -> FetchOutcome:
        """Fetch the changes of exchange ``name`` and load them as a version of its list.

        The range is everything since the exchange's checkpoint, or everything at all (a
        full fetch) when there is no checkpoint, ``full`` is asked for, the checkpoint is
        older than ``exchange_stale_after_days``, the API root changed, or the list's
        serving version is no longer the one the exchange loaded. A fetch that was
        interrupted goes on from its last journalled page instead (unless ``full``).
        Every page is journalled before the next is asked for; the version and the new
        checkpoint are committed together, through the same path as a list file's ingest,
        and audited. The list (default: named after the exchange, purpose ``concern``) is
        created on the first fetch.

        Raises ConfigurationError (unknown exchange, no credentials, a list that requires
        signatures), Conflict (another fetch of it is under way), ExchangeError and its
        kinds (the journal is kept: the next fetch resumes).
        """
        client_cls, environment = self.registry.exchange(name)
        secret = self.settings.exchange_password
        access = read_access(
            name,
            credentials_file=self.settings.exchange_credentials_file,
            username=self.settings.exchange_username,
            password=None if secret is None else secret.get_secret_value(),
        )
        config = ExchangeConfig(
            name=name,
            environment=environment,
            api_root=access.api_root or client_cls.ENVIRONMENTS[environment],
            credentials=access.credentials,
            timeout=self.settings.exchange_timeout_seconds,
            retries=self.settings.exchange_retries,
            window=timedelta(hours=self.settings.exchange_window_hours),
            backoff=self.settings.exchange_backoff_seconds,
        )
        # The client checks its configuration (the API root, say) before anything is kept.
        client = client_cls(config)
        folder = self.home / "exchanges" / name
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(client), open(folder / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(f"a fetch of {name} is under way in another process") from None
            try:
                return self._exchange_fetch(
                    client, config, folder, list_name, full, progress, operator
                )
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _exchange_fetch(
        self,
        client: ExchangeClient,
        config: ExchangeConfig,
        folder: Path,
        list_name: str | None,
        full: bool,
        progress: Progress,
        operator: str | None,
    ) -> FetchOutcome:
        name = config.name
        state = self.catalog.exchange_state(name)
        client_cls = type(client)
        listed = self._exchange_list(name, client_cls, config.environment, state, list_name)
        if listed.policy.require_signature:
            raise ConfigurationError(
                f"list {listed.name!r} requires signed files, and an exchange fetch carries "
                "no signature: load it from another list, or stop requiring signatures"
            )
        journal = Journal(folder / "journal")
        fetch = None if state is None or full else state.fetch
        if fetch is not None and state is not None and state.api_root != config.api_root:
            fetch = None
        resumed = fetch is not None
        if fetch is None:
            journal.clear()
            now = datetime.now(UTC).replace(microsecond=0)
            since, reason = self._exchange_range(state, config.api_root, listed.name, now, full)
            fetch = ExchangeFetch(since=since, until=now, started_at=now, reason=reason)
        else:
            journal.trim(fetch.pages)
        state = ExchangeState(
            exchange=name,
            list_name=listed.name,
            api_root=config.api_root,
            checkpoint=None if state is None else state.checkpoint,
            version_id=None if state is None else state.version_id,
            fetch=fetch,
            updated_at=datetime.now(UTC),
        )
        self.catalog.save_exchange_state(state)
        if not fetch.complete:
            state = self._exchange_pages(client, journal, state, progress)
        return self._exchange_load(client_cls, listed, journal, state, resumed, progress, operator)

    def _exchange_list(
        self,
        name: str,
        client_cls: type[ExchangeClient],
        environment: str,
        state: ExchangeState | None,
        list_name: str | None,
    ) -> ListInfo:
        """The list the exchange loads, created (purpose ``concern``) on its first fetch."""
        if state is not None:
            if list_name is not None and list_name != state.list_name:
                raise Conflict(f"exchange {name} loads list {state.list_name!r}, not {list_name!r}")
            return self.catalog.get_list(state.list_name)
        target = list_name or name
        if any(item.name == target for item in self.catalog.lists()):
            return self.catalog.get_list(target)
        return self.add_list(
            target,
            Purpose.CONCERN,
            f"{client_cls.DESCRIPTION} ({environment}), from 'hashmatch exchange fetch {name}'",
        )

    def _exchange_range(
        self,
        state: ExchangeState | None,
        api_root: str,
        list_name: str,
        now: datetime,
        full: bool,
    ) -> tuple[datetime | None, str]:
        """Where a new fetch starts (None: from the beginning), and why."""
        if full:
            return None, "a full fetch was asked for"
        if state is None or state.checkpoint is None:
            return None, "the first fetch"
        if state.api_root != api_root:
            return None, f"the API root changed (the checkpoint is from {state.api_root})"
        active = self._active_version(list_name)
        if active is None or active.version_id != state.version_id:
            return None, "the list was changed since the last fetch (a rollback or a load)"
        stale = timedelta(days=self.settings.exchange_stale_after_days)
        if now - state.checkpoint > stale:
            return None, (
                f"the checkpoint ({state.checkpoint.isoformat()}) is older than "
                f"{self.settings.exchange_stale_after_days} days"
            )
        return state.checkpoint, "incremental"

    def _exchange_pages(
        self,
        client: ExchangeClient,
        journal: Journal,
        state: ExchangeState,
        progress: Progress,
    ) -> ExchangeState:
        """Journal the fetch's remaining pages, saving its progress after each one."""
        assert state.fetch is not None
        fetch = state.fetch
        restarted = False
        while not fetch.complete:
            try:
                pages = client.fetch(
                    since=fetch.through or fetch.since, until=fetch.until, resume=fetch.cursor
                )
                for page in pages:
                    journal.write(fetch.pages, page)
                    ended = page.fetched_through is not None
                    fetch = dataclasses.replace(
                        fetch,
                        pages=fetch.pages + 1,
                        cursor=page.cursor,
                        through=page.fetched_through or fetch.through,
                        pages_through=fetch.pages + 1 if ended else fetch.pages_through,
                        complete=page.cursor is None,
                    )
                    state = dataclasses.replace(state, fetch=fetch, updated_at=datetime.now(UTC))
                    self.catalog.save_exchange_state(state)
                    progress.stage(
                        f"{state.exchange}: page {fetch.pages}, {page.updates.num_rows} changes"
                    )
                if not fetch.complete:
                    fetch = dataclasses.replace(fetch, complete=True, cursor=None)
                    state = dataclasses.replace(state, fetch=fetch)
                    self.catalog.save_exchange_state(state)
            except CursorRejected:
                if restarted:
                    raise
                restarted = True
                journal.trim(fetch.pages_through)
                fetch = dataclasses.replace(fetch, pages=fetch.pages_through, cursor=None)
                state = dataclasses.replace(state, fetch=fetch, updated_at=datetime.now(UTC))
                self.catalog.save_exchange_state(state)
        return state

    def _exchange_load(
        self,
        client_cls: type[ExchangeClient],
        listed: ListInfo,
        journal: Journal,
        state: ExchangeState,
        resumed: bool,
        progress: Progress,
        operator: str | None,
    ) -> FetchOutcome:
        """Resolve the journalled changes and load them as the list's next version."""
        fetch = state.fetch
        assert fetch is not None
        progress.stage(f"{state.exchange}: applying {fetch.pages} pages of changes")
        latest = resolve(journal.tables(fetch.pages))
        digest = journal.digest(fetch.pages)
        base = (
            self.catalog.get_version(state.version_id)
            if fetch.since is not None and state.version_id is not None
            else None
        )
        merged = merge(
            () if base is None else version_entries(base, self.catalog.get_version, self.home),
            latest,
        )
        page_warnings = [
            RecordWarning(source=source, line=line, reason=reason)
            for source, line, reason in journal.warnings(fetch.pages)
        ]
        since = "the beginning" if fetch.since is None else fetch.since.isoformat()
        done = dataclasses.replace(
            state,
            checkpoint=fetch.until,
            fetch=None,
            updated_at=datetime.now(UTC),
        )
        version: ListVersionInfo | None = None
        if latest.num_rows or base is None:
            list_dir = self.home / "lists" / listed.name
            with self._lock():
                self._sweep(list_dir)
                staged = stage_entries(
                    kept=merged.kept,
                    records=[merged.records],
                    staging_dir=list_dir,
                    source_name=f"{state.exchange} changes from {since} to "
                    f"{fetch.until.isoformat()}",
                    source_sha256=digest,
                    source_bytes=0,
                    adapter=client_cls.NAME,
                    adapter_version=client_cls.VERSION,
                )
                warnings = page_warnings + [
                    dataclasses.replace(
                        w,
                        source=f"{state.exchange} entry {merged.keys[w.line - 1]}",
                        line=None,
                    )
                    if w.line is not None and 0 < w.line <= len(merged.keys)
                    else w
                    for w in staged.warnings
                ]
                staged = dataclasses.replace(
                    staged,
                    warnings=tuple(warnings[:200]),
                    warning_count=staged.warning_count + len(page_warnings),
                )
                version = self._load_staged(
                    listed,
                    staged,
                    mode=UpdateMode.REPLACE,
                    previous=None,
                    vetting=Vetting(),
                    progress=progress,
                    operator=operator,
                    exchange=done,
                )
            done = dataclasses.replace(done, version_id=version.version_id)
            self._audit(
                AuditAction.INGEST, listed.name, _ingest_details(version), operator=operator
            )
        else:
            self.catalog.save_exchange_state(done)
        journal.clear()
        outcome = FetchOutcome(
            exchange=state.exchange,
            list_name=listed.name,
            version=version,
            since=fetch.since,
            until=fetch.until,
            reason=fetch.reason,
            resumed=resumed,
            pages=fetch.pages,
            updates=merged.updates,
            tombstones=merged.tombstones,
            replaced=merged.replaced,
            warnings=tuple(page_warnings),
        )
        self._audit(
            AuditAction.EXCHANGE,
            state.exchange,
            {
                "list": listed.name,
                "api_root": state.api_root,
                "since": None if fetch.since is None else fetch.since.isoformat(),
                "until": fetch.until.isoformat(),
                "reason": fetch.reason,
                "resumed": resumed,
                "pages": fetch.pages,
                "source_sha256": digest,
                "updates": merged.updates,
                "tombstones": merged.tombstones,
                "version": None if version is None else version.number,
            },
            operator=operator,
        )
        return outcome

    # -- snapshots --------------------------------------------------------------------

    def snapshot(self, *, progress: Progress = _QUIET) -> Snapshot | None:
        """The serving snapshot, rebuilt first if the catalog has moved on since it was built.

        None when no list has a version yet.
        """
        active = self.catalog.active_versions()
        current = self.snapshots.open_current(threads=self.settings.lookup_threads)
        wanted = {v.version_id for v in active}
        if current is not None and {item.version_id for item in current.lists} == wanted:
            return current
        if not active:
            return None
        with self._lock():
            progress.stage("building the snapshot")
            self._publish(self._build_and_record(self.catalog.active_versions()))
        return self.snapshots.open_current(threads=self.settings.lookup_threads)

    def rebuild_snapshot(self, *, progress: Progress = _QUIET) -> Snapshot | None:
        """Build and publish a snapshot of the active versions, even if one is current."""
        with self._lock():
            active = self.catalog.active_versions()
            if not active:
                return None
            progress.stage("building the snapshot")
            self._publish(self._build_and_record(active))
        return self.snapshots.open_current(threads=self.settings.lookup_threads)

    # -- scale-out ----------------------------------------------------------------------

    def export_shards(self, out: Path, *, bits: int = 8, progress: Progress = _QUIET) -> ShardSet:
        """Write the serving snapshot as prefix shards into the new folder ``out``.

        Workers of a batch job (:meth:`batch`) map only the shards their rows need.
        """
        snapshot = self.snapshot(progress=progress)
        if snapshot is None:
            raise InputError("no list has been loaded yet: there is no snapshot to export")
        progress.stage(f"exporting snapshot {snapshot.id[:12]} as {2**bits} shards an algorithm")
        shards = export_shards(snapshot, out, bits=bits, progress=progress.stage)
        self._audit(
            AuditAction.EXPORT,
            f"shards:{snapshot.id}",
            {"snapshot": snapshot.id, "bits": bits, "keys": sum(shards.counts.values())},
        )
        return shards

    def batch(
        self,
        manifests: Sequence[Path],
        out: Path,
        *,
        shards: Path | None = None,
        scheduler: str | None = None,
        workers: int = 2,
        partitions: int | None = None,
        bits: int = 8,
        map_to: str | None = None,
        operator: str | None = None,
        progress: Progress = _QUIET,
    ) -> BatchOutcome:
        """Match Parquet manifests on a Dask cluster; verdicts go to ``out/part-*.parquet``.

        ``scheduler`` is a dask.distributed scheduler address (``tcp://host:8786``);
        without one, a local cluster of ``workers`` processes runs the job. ``shards`` is
        a shard folder every worker can read (``hashmatch snapshot shards``); without one,
        the serving snapshot is exported (once) under the data directory, which only
        workers on this machine can read. The audit trail records the job's counts, its
        snapshot and the manifests' names; no verdict row goes to the catalog (a batch of
        billions of rows is the Parquet files' job).
        """
        if map_to is not None:
            load_crosswalks().require_target(map_to)
        if shards is None:
            snapshot = self.snapshot(progress=progress)
            if snapshot is None:
                raise InputError("no list has been loaded yet: there is no snapshot to match")
            shards = self.home / "shards" / f"{snapshot.id}-{bits}"
            if not (shards / "shards.json").is_file():
                shutil.rmtree(shards, ignore_errors=True)
                self.export_shards(shards, bits=bits, progress=progress)
        if scheduler is None:
            progress.stage(f"starting a local Dask cluster of {workers} workers")
        with connect(scheduler, workers=workers) as client:
            outcome = match_parquet(
                manifests,
                shards,
                out,
                client=client,
                partitions=partitions,
                map_to=map_to,
                progress=progress.stage,
            )
        self._audit(
            AuditAction.BATCH,
            f"batch:{outcome.snapshot_id}",
            {
                "snapshot": outcome.snapshot_id,
                "inputs": [{"name": name, "rows": rows} for name, rows in outcome.inputs],
                "rows": outcome.rows,
                "counts": outcome.counts,
                "pieces": outcome.pieces,
                "partitions": outcome.partitions,
                "cluster": "local" if scheduler is None else "remote",
                "seconds": round(outcome.seconds, 3),
            },
            operator=operator,
        )
        return outcome

    def _build_and_record(self, versions: Sequence[ListVersionInfo]) -> str:
        snapshot_id, ordered = self._build(versions)
        self._record(snapshot_id, ordered)
        return snapshot_id

    def _build(self, versions: Sequence[ListVersionInfo]) -> tuple[str, list[ListVersionInfo]]:
        """Build (not publish) a snapshot of ``versions``; returns its id and the slot order."""
        ordered = sorted(versions, key=lambda v: v.list_name)
        lookup = self._lookup_with(*ordered)
        return self.snapshots.build(self._sources(ordered, lookup)), ordered

    def _record(self, snapshot_id: str, versions: Sequence[ListVersionInfo]) -> None:
        self.catalog.record_snapshot(
            snapshot_id,
            built_at=datetime.now(UTC),
            path=(self.snapshots.root / snapshot_id).relative_to(self.home).as_posix(),
            version_ids=[v.version_id for v in versions],
        )

    def _publish(self, snapshot_id: str) -> None:
        self.snapshots.publish(snapshot_id)
        self.snapshots.cleanup()
        if self._live is not None:
            # this process serves what it has just published from its next request on
            self._live.expire()

    # -- check ------------------------------------------------------------------------

    def check(
        self,
        manifests: Sequence[Path],
        *,
        case_ref: str,
        fmt: str | None = None,
        report: Path | None = None,
        operator: str | None = None,
        strict: bool = False,
        map_to: str | None = None,
        crosswalks: Sequence[Path] = (),
        origins: Sequence[str | None] = (),
        progress: Progress = _QUIET,
        run_id: str | None = None,
        perceptual: str | None = None,
        files_root: Path | None = None,
        paths_escaped: bool = False,
    ) -> CheckResult:
        """Match every row of ``manifests`` against the serving snapshot.

        Every row gets one verdict, in input order; a row the adapter could not read
        becomes ``invalid`` with its reason (or fails the run under ``strict``). The run
        and its verdicts go to the store; the report, if asked for, to ``report``.

        ``map_to`` adds to each match a category in that scheme as a crosswalk suggests
        it (the shipped ones, and ``crosswalks`` files over them), beside the original.
        ``origins`` says where each manifest came from, as the examiner states it (one
        value for all, or one per manifest). ``operator`` (default: the operator of the
        settings) is recorded as who ran it, in the run, its report and the audit trail.
        ``run_id`` (default: a new UUID) lets a caller name the report after the run.

        ``perceptual`` names a licensed perceptual vendor (NotLicensed without a licence,
        checked before any row is read). Its results are leads, reported apart: they never
        change a verdict, a count or the stored verdicts. It hashes the files of the
        ``unknown`` rows, each found at its manifest path: absolute, or relative to
        ``files_root``; ``paths_escaped`` says the paths are escaped as ``hashmatch scan``
        writes them. Files are opened read-only, and nothing is written near them.
        """
        if not manifests:
            raise InputError("no manifest given")
        licensed = self._vendor_licence(perceptual) if perceptual is not None else None
        if files_root is not None:
            if licensed is None:
                raise InputError("a folder of files is only read for perceptual matching")
            if not files_root.is_dir():
                raise InputError("not a folder", source=str(files_root))
        if len(origins) not in (0, 1, len(manifests)):
            raise InputError(
                f"give one origin for all manifests or one per manifest ({len(manifests)}), "
                f"not {len(origins)}"
            )
        origin_of = list(origins) * len(manifests) if len(origins) == 1 else list(origins)
        if not case_ref.strip():
            raise InputError("a case reference is required (--case)")
        if report is not None:
            report_format(report)
        for path in manifests:
            if not path.is_file():
                raise InputError("no such file", source=str(path))
        walks = load_crosswalks(crosswalks) if (map_to or crosswalks) else None
        if map_to and walks is not None:
            walks.require_target(map_to)
        adapters = [choose_adapter(self.registry, p, fmt, Role.MANIFEST) for p in manifests]
        snapshot = self.snapshot(progress=progress)
        if snapshot is None:
            raise InputError(
                "no list has been loaded yet: add one with 'hashmatch lists add' and load it "
                "with 'hashmatch ingest'"
            )
        matcher = Matcher(snapshot, map_to=map_to, crosswalks=walks)
        started = datetime.now(UTC)
        warnings = self.stale_lists(snapshot, now=started)
        run = RunInfo(
            run_id=run_id or uuid.uuid4().hex,
            case_ref=case_ref,
            operator=operator or self.settings.operator,
            started_at=started,
            tool_version=__version__,
            snapshot_id=snapshot.id,
            algorithms=tuple(a.value for a in Algorithm),
            inputs=(),
        )
        batches: list[pa.RecordBatch] = []
        inputs: list[RunInput] = []
        for number, (path, adapter_cls) in enumerate(zip(manifests, adapters, strict=True)):
            size = path.stat().st_size
            context = ReadContext(
                source=path.name,
                strict=strict,
                batch_size=self.settings.batch_size,
                keep_warnings=2**62,
                path=path,
                options=self._adapter_options(),
            )
            read: list[pa.RecordBatch] = []
            with open(path, "rb") as raw:
                reader = HashingReader(
                    raw, functools.partial(_report_bytes, progress, path.name, size)
                )
                stream = io.BufferedReader(reader, buffer_size=1 << 20)
                for parsed in read_records(adapter_cls(), stream, context):
                    read.append(matcher.match(parsed, input_no=number))
                sha256 = reader.finish()
            if context.warnings:
                read = _apply_warnings(read, number, context)
            if context.notes:
                read = _apply_notes(read, context.notes)
            rows = sum(b.num_rows for b in read)
            batches.extend(read)
            inputs.append(
                RunInput(
                    name=path.name,
                    sha256=sha256,
                    format=adapter_cls.NAME,
                    rows=rows,
                    origin=origin_of[number] if origin_of else None,
                )
            )
        table = pa.Table.from_batches(batches, schema=VERDICT_SCHEMA)
        if any(b.num_rows for b in batches[1:]) and not _in_input_order(table):
            table = table.sort_by([("input", "ascending"), ("line", "ascending")])
        outcome = (
            self._perceptual(
                *licensed,
                table=table,
                snapshot=snapshot,
                files_root=files_root,
                paths_escaped=paths_escaped,
                progress=progress,
            )
            if licensed is not None
            else None
        )
        progress.stage("recording verdicts")
        counts = count_verdicts(table)
        run = dataclasses.replace(run, inputs=tuple(inputs))
        self.catalog.add_run(run)
        self._store_verdicts(run.run_id, table)
        finished = datetime.now(UTC)
        totals = {v: c.total for v, c in counts.by_verdict.items()} | {"total": counts.total.total}
        self.catalog.finish_run(run.run_id, finished_at=finished, counts=totals)
        run = self.catalog.get_run(run.run_id)
        header = ReportHeader(
            schema=REPORT_FORMAT,
            run=ReportRun(
                run_id=run.run_id,
                case_ref=run.case_ref,
                operator=run.operator,
                started_at=run.started_at,
                finished_at=finished,
                tool=ToolInfo(name="hashmatch", version=__version__),
                algorithms=list(run.algorithms),
                snapshot_id=snapshot.id,
                snapshot_built_at=snapshot.built_at,
                inputs=[
                    ReportInput(
                        name=i.name, sha256=i.sha256, format=i.format, rows=i.rows, origin=i.origin
                    )
                    for i in inputs
                ],
                lists=report_lists(
                    snapshot.lists,
                    {
                        i.version_id: self.catalog.get_version(i.version_id).vetting
                        for i in snapshot.lists
                    },
                ),
            ),
            statement=list(STATEMENT),
            counts=counts,
            mapping=(
                report_mapping(walks, map_to, table) if map_to and walks is not None else None
            ),
            warnings=list(warnings),
            perceptual=report_perceptual(outcome, table),
        )
        self._audit(
            AuditAction.RUN,
            run.run_id,
            {
                "case_ref": run.case_ref,
                "snapshot_id": snapshot.id,
                "inputs": [
                    {"sha256": i.sha256, "format": i.format, "rows": i.rows} for i in inputs
                ],
                "counts": totals,
                **({} if outcome is None else {"perceptual": _perceptual_audit(outcome)}),
            },
            operator=run.operator,
        )
        if report is not None:
            progress.stage("writing the report")
            write_report(report, header, table)
            self._audit(
                AuditAction.REPORT,
                run.run_id,
                {"report": report.name, "sha256": sha256_file(report)[0]},
                operator=run.operator,
            )
        return CheckResult(
            run=run, header=header, verdicts=table, report_path=report, warnings=warnings
        )

    def scan(
        self,
        root: Path,
        *,
        case_ref: str,
        manifest: Path,
        report: Path | None = None,
        operator: str | None = None,
        map_to: str | None = None,
        crosswalks: Sequence[Path] = (),
        origin: str = "local-scan",
        workers: int | None = None,
        progress: Progress = _QUIET,
        scan_progress: ScanProgress | None = None,
        cancel: threading.Event | None = None,
        perceptual: str | None = None,
    ) -> ScanResult:
        """Hash every file under ``root`` (MD5, SHA-1 and SHA-256 in one read), then check it.

        The evidence is opened read-only and nothing is written under ``root``: the
        hashdeep manifest of what was hashed goes to ``manifest`` (so the run can be
        reproduced with ``check``), written under a temporary name and renamed when the
        scan is complete. Files that could not be hashed (unreadable, special files,
        symbolic links, directories that cannot be listed) are listed in the manifest as
        comments and become ``not_assessable`` rows with their reason; zero-length files
        are hashed and are ``not_assessable`` as in any manifest. Raises Cancelled, and
        keeps nothing, when ``cancel`` is set before the scan has finished.

        ``perceptual`` names a licensed perceptual vendor (checked before anything is
        hashed): the files of the ``unknown`` rows are then hashed through it, from the
        evidence folder, read-only, as :meth:`check` does.
        """
        if not case_ref.strip():
            raise InputError("a case reference is required (--case)")
        if perceptual is not None:
            self._vendor_licence(perceptual)
        if not root.is_dir():
            raise InputError("not a folder to scan", source=str(root))
        evidence = root.resolve()
        for output in (manifest, report):
            if output is not None and output.resolve().is_relative_to(evidence):
                raise InputError(
                    "would write into the evidence folder: choose a place outside it",
                    source=str(output),
                )
        if report is not None:
            report_format(report)
        if manifest.exists():
            raise Conflict(
                "exists already: a scan never overwrites a manifest", source=str(manifest)
            )
        manifest.parent.mkdir(parents=True, exist_ok=True)
        partial = manifest.with_name(f".{manifest.name}.{os.getpid()}.partial")
        try:
            with open(partial, "w", encoding="utf-8", newline="\n") as handle:
                plan = plan_tree(evidence)
                skipped = write_hashdeep_manifest(
                    scan_tree(plan, workers=workers, progress=scan_progress, cancel=cancel),
                    handle,
                    invoked_from=str(evidence),
                    command=f"hashmatch scan {evidence} --case {case_ref}",
                )
                if cancel is not None and cancel.is_set():
                    raise Cancelled("the scan was stopped before it finished", source=str(root))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, manifest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        result = self.check(
            [manifest],
            case_ref=case_ref,
            fmt="hashdeep",
            report=report,
            operator=operator,
            map_to=map_to,
            crosswalks=crosswalks,
            origins=[origin],
            progress=progress,
            perceptual=perceptual,
            files_root=evidence if perceptual is not None else None,
            paths_escaped=True,
        )
        files = len(plan.entries)
        return ScanResult(check=result, manifest=manifest, files=files, hashed=files - len(skipped))

    # -- perceptual vendors -------------------------------------------------------------

    def perceptual_vendors(self) -> list[VendorStatus]:
        """The installed perceptual vendors, by name, and whether each is licensed here.

        ConfigurationError when the licence file is refused (readable by others, say).
        """
        licences = self._licences()
        return [
            VendorStatus(
                name=vendor.NAME,
                description=vendor.DESCRIPTION,
                adapter_version=vendor.VERSION,
                fingerprint=vendor.FINGERPRINT,
                licensed=bool(getattr(licences.get(vendor.NAME), "key", "")),
            )
            for vendor in self.registry.vendors()
        ]

    def _licence_file(self) -> tuple[Path, bool]:
        """The licence file in force, and whether a setting named it."""
        named = self.settings.perceptual_licences
        return (named, True) if named is not None else (self.home / LICENCE_FILE, False)

    def _licences(self) -> dict[str, VendorLicence]:
        """The licences of the licence file; none when the default file does not exist."""
        path, named = self._licence_file()
        if not named and not path.exists():
            return {}
        return load_licences(path)

    def _vendor_licence(self, name: str) -> tuple[type[PerceptualVendor], VendorLicence]:
        """The vendor ``name`` and its licence; NotLicensed, saying what to put where, if
        the licence file has no table with a key for it."""
        vendor = self.registry.vendor(name)
        path, _ = self._licence_file()
        licence = self._licences().get(name)
        if licence is None or not licence.key:
            found = (
                "has no key"
                if licence is not None
                else ("has no table for it" if path.exists() else "does not exist")
            )
            raise NotLicensed(
                f"perceptual vendor {name!r} is not licensed here: the licence file {path} "
                f'{found}. Put a [{name}] table in it with key = "<your licence key>" (and '
                "the endpoint, library or options the vendor's documentation asks for), make "
                f"it readable by you only (chmod 600 {path}), or name another file with "
                "HASHMATCH_PERCEPTUAL_LICENCES"
            )
        return vendor, licence

    def _perceptual(
        self,
        vendor_cls: type[PerceptualVendor],
        licence: VendorLicence,
        *,
        table: pa.Table,
        snapshot: Snapshot,
        files_root: Path | None,
        paths_escaped: bool,
        progress: Progress,
    ) -> PerceptualOutcome:
        """The perceptual part of a run: the ``unknown`` rows' files through the vendor."""
        files = _perceptual_files(table, files_root, escaped=paths_escaped)
        label = f"perceptual hashing via {vendor_cls.NAME}"
        progress.stage(label)
        vendor = vendor_cls(licence)
        try:
            return match_perceptual(
                vendor,
                files,
                lambda: self._list_fingerprints(
                    snapshot, (vendor.FINGERPRINT, *vendor.FINGERPRINT_ALIASES)
                ),
                progress=lambda done, total: progress.bytes_read(label, done, total),
            )
        finally:
            vendor.close()

    def _list_fingerprints(self, snapshot: Snapshot, tags: Sequence[str]) -> list[ListFingerprint]:
        """The entries of the snapshot's list versions whose ``perceptual`` label holds a
        fingerprint under one of ``tags`` (``<tag>:<hash>``); read once per run, and only
        those rows are decoded."""
        prefixes = tuple(f"{tag}:" for tag in tags if tag)
        # the label is canonical JSON: a fingerprint's text starts '"<tag>:'
        needles = [json.dumps(prefix)[:-1] for prefix in prefixes]
        found: list[ListFingerprint] = []
        for item in snapshot.lists:
            version = self.catalog.get_version(item.version_id)
            for batch in version_entries(version, self.catalog.get_version, self.home):
                labels = batch.column("labels")
                hit = pa.array([False] * batch.num_rows, pa.bool_())
                for needle in needles:
                    hit = pc.or_(hit, pc.fill_null(pc.match_substring(labels, needle), False))
                if not pc.any(hit).as_py():
                    continue
                for row in batch.filter(hit).to_pylist():
                    labels = decode_labels(row["labels"])
                    carried = labels.get(Label.PERCEPTUAL.value)
                    carried = [carried] if isinstance(carried, str) else carried or []
                    values = tuple(
                        v.partition(":")[2]
                        for v in carried
                        if isinstance(v, str) and v.startswith(prefixes)
                    )
                    if values:
                        found.append(
                            ListFingerprint(
                                list_name=item.name,
                                list_version=item.version,
                                entry=_entry_name(labels, row),
                                values=values,
                                labels=labels,
                            )
                        )
        return found

    def compare(self, report_a: Path, report_b: Path, *, limit: int = 1000) -> Comparison:
        """Whether two runs (their JSON reports) agree, or exactly where they differ."""
        return compare_reports(report_a, report_b, limit=limit)

    def summarise(
        self, report: Path | ReportHeader, kind: Literal["charging", "counts"]
    ) -> ChargingSummary | CountsSummary:
        """The charging summary or the PII-free counts of a run, from its JSON report."""
        header = report if isinstance(report, ReportHeader) else read_report_header(report)
        return charging_summary(header) if kind == "charging" else counts_summary(header)

    # -- review queue and gradings ----------------------------------------------------

    def review_queue(self, report: Path) -> Iterator[QueueItem]:
        """The ``unknown`` files of a run (path, size, digests), from its JSON report."""
        return review_queue(report)

    def write_review_queue(self, report: Path, out: Path) -> list[QueueItem]:
        """Write a run's review queue to ``out`` (``.csv`` or ``.json``) for a viewer."""
        items = list(review_queue(report))
        write_queue(out, items)
        return items

    def grade(
        self,
        digests: dict[Algorithm, str],
        *,
        scheme: str,
        category: str,
        flags: Sequence[str] = (),
        reviewer: str | None = None,
        case_ref: str | None = None,
        run_id: str | None = None,
        note: str | None = None,
        size: int | None = None,
        progress: Progress = _QUIET,
        operator: str | None = None,
    ) -> list[Grading]:
        """Record a reviewer's grading of one file (by each of its digests), and feed it to
        the local gradings list, so the next run marks the file ``known`` with the reviewer
        as the source. A re-grading supersedes the earlier one (kept in the history).
        ``operator`` (default: the operator of the settings) is who the audit trail names,
        and the reviewer when none is given.
        """
        if not digests:
            raise InputError("a grading needs at least one digest of the file")
        at = datetime.now(UTC)
        made = [
            Grading(
                algorithm=algorithm,
                digest=digest,
                scheme=scheme,
                category=category,
                flags=tuple(flags),
                reviewer=reviewer or operator or self.settings.operator,
                graded_at=at,
                case_ref=case_ref,
                run_id=run_id,
                note=note,
                size=size,
            )
            for algorithm, digest in digests.items()
        ]
        name = self.settings.gradings_list
        if name not in {info.name for info in self.catalog.lists()}:
            self.add_list(
                name,
                Purpose.CONCERN,
                "reviewers' gradings (hashmatch review grade)",
                operator=operator,
            )
        graded = {(g.algorithm, g.digest) for g in self.catalog.latest_gradings()}
        regraded = [g for g in made if (g.algorithm, g.digest) in graded]
        with tempfile.TemporaryDirectory(dir=self.home, prefix=".grading-") as work:
            if regraded:
                gone = Path(work) / "regraded.txt"
                gone.write_text("".join(f"{g.digest}\n" for g in regraded), encoding="ascii")
                self.ingest(
                    name,
                    gone,
                    fmt="bare",
                    mode=UpdateMode.REMOVE,
                    progress=progress,
                    operator=operator,
                )
            bundle = write_bundle(
                Path(work) / "grading.hmbundle",
                [grading_entries(made)],
                list_name=name,
                purpose=Purpose.CONCERN,
                description="reviewers' gradings",
                created_by=made[0].reviewer,
            )
            for grading in made:
                self.catalog.add_grading(grading)
            self.ingest(name, bundle, mode=UpdateMode.ADD, progress=progress, operator=operator)
        for grading in made:
            self._audit(
                AuditAction.GRADING,
                f"{grading.algorithm.value}:{grading.digest}",
                {
                    "grading_id": grading.grading_id,
                    "scheme": grading.scheme,
                    "category": grading.category,
                    "flags": list(grading.flags),
                    "reviewer": grading.reviewer,
                    "case_ref": grading.case_ref,
                    "run_id": grading.run_id,
                    "regraded": grading in regraded,
                },
                operator=operator,
            )
        return made

    def gradings(self, *, latest: bool = True) -> list[Grading]:
        """Reviewers' gradings: the newest of each digest, or (``latest=False``) all."""
        return self.catalog.latest_gradings() if latest else self.catalog.gradings()

    def export_gradings(
        self,
        out: Path,
        *,
        fmt: Literal["vics", "bundle"],
        scheme: str | None = None,
        key: Path | None = None,
        publisher: str | None = None,
    ) -> int:
        """Export the newest gradings for submission to a national database.

        ``vics``: a VICS 2.0 hash set of one scheme (``vics-us`` or ``vics-uk``) at ``out``.
        ``bundle``: a hashmatch bundle folder, signed with ``key`` when given. Paths, case
        references, run ids and notes are left out of both. Returns how many files went out.
        """
        latest = self.catalog.latest_gradings()
        if scheme is not None:
            latest = [g for g in latest if g.scheme == scheme]
        if not latest:
            raise InputError("no gradings to export" + (f" in scheme {scheme}" if scheme else ""))
        files = group_gradings(latest)
        if fmt == "vics":
            schemes = sorted({g.scheme for g in latest})
            if len(schemes) != 1:
                raise InputError(
                    f"a VICS file holds one scheme; the gradings use {', '.join(schemes)}: "
                    "choose one with --scheme"
                )
            count = write_vics_gradings(out, files, scheme=schemes[0])
        else:
            write_bundle(
                out,
                [grading_entries(latest, for_export=True)],
                list_name=self.settings.gradings_list,
                purpose=Purpose.CONCERN,
                description="reviewers' gradings",
                created_by=self.settings.operator,
                strip_free_text=True,
            )
            if key is not None:
                if not publisher:
                    raise InputError("signing a bundle needs --publisher")
                sign_bundle(out, load_private_key(key), publisher)
            count = len(files)
        self._audit(
            AuditAction.EXPORT,
            self.settings.gradings_list,
            {
                "what": f"gradings as {fmt}",
                "files": count,
                "out": out.name,
                "signed": key is not None,
            },
        )
        return count

    # -- API keys ---------------------------------------------------------------------

    def create_key(
        self, name: str, roles: Iterable[str], *, operator: str | None = None
    ) -> tuple[ApiKey, str]:
        """Create an API key with ``roles``; returns it and its token, which is never kept.

        Hand the token to the key's holder at once: the catalog keeps only its hash, so it
        cannot be shown again (a lost token means revoking the key and creating another).
        The audit record names the key, its name and roles, never the token or its hash.
        InputError if the name is blank or a role unknown; ``operator`` (default: the
        operator of the settings) is recorded as its creator.
        """
        creator = operator or self.settings.operator
        key_id, token = new_token()
        key = ApiKey(
            key_id=key_id,
            name=name,
            roles=parse_roles(roles),
            created_at=datetime.now(UTC),
            created_by=creator,
        )
        self.catalog.add_api_key(key, token_hash=hash_token(token))
        self._audit(AuditAction.KEY, key.key_id, _key_details(key, "created"), operator=creator)
        return key, token

    def revoke_key(self, key_id: str, *, operator: str | None = None) -> ApiKey:
        """Revoke a key: its token stops authenticating at once. NotFound, or Conflict if
        it is revoked already. The key stays listed, with the time it was revoked."""
        key = self.catalog.revoke_api_key(key_id, at=datetime.now(UTC))
        self._audit(AuditAction.KEY, key.key_id, _key_details(key, "revoked"), operator=operator)
        return key

    def keys(self) -> list[ApiKey]:
        """Every API key, revoked ones included, oldest first (tokens are never kept)."""
        return self.catalog.api_keys()

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key a token belongs to; None if it is malformed, unknown or revoked.

        Cheap enough for every request: a format check, one SHA-256 and one lookup by an
        index. Malformed tokens never reach the catalog.
        """
        try:
            key_id = parse_token(token)
        except InputError:
            return None
        key = self.catalog.api_key_for(hash_token(token))
        if key is None or not key.active or key.key_id != key_id:
            return None
        return key

    # -- audit trail ------------------------------------------------------------------

    def _audit(
        self,
        action: AuditAction,
        subject: str,
        details: dict[str, Any],
        *,
        operator: str | None = None,
    ) -> AuditRecord:
        """Append to the audit chain, then rewrite the head file beside the catalog."""
        record = self.catalog.append_audit(
            at=datetime.now(UTC),
            actor=operator or self.settings.operator,
            action=action.value,
            subject=subject,
            details=details,
        )
        self._write_head(record)
        return record

    def _write_head(self, record: AuditRecord) -> None:
        """Move the head file on to ``record``, never back.

        Processes (and threads, and replicas sharing the data directory) append and then
        write the head: under a lock, a record older than the head already written is
        left, and each write goes through a temporary file of its own, so that a reader
        sees the old head or the new one, never half of one.
        """
        head = self.home / _AUDIT_HEAD
        with open(self.home / ".audit-head.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    written = int(json.loads(head.read_text(encoding="utf-8"))["seq"])
                except (OSError, ValueError, KeyError, TypeError):
                    written = 0  # none yet, or unreadable: this write repairs it
                if written >= record.seq:
                    return
                handle, name = tempfile.mkstemp(dir=self.home, prefix=f".{head.name}.")
                with os.fdopen(handle, "w", encoding="utf-8") as temporary:
                    temporary.write(json.dumps({"seq": record.seq, "hash": record.hash}) + "\n")
                os.replace(name, head)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def audit_records(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        """The audit trail, oldest first."""
        return self.catalog.audit_records(since_seq=since_seq, limit=limit)

    def audit_verify(self) -> AuditVerification:
        """Check the whole audit chain, and its end against the head file."""
        head_path = self.home / _AUDIT_HEAD
        head: AuditHead | None = None
        if head_path.exists():
            try:
                raw = json.loads(head_path.read_text(encoding="utf-8"))
                head = AuditHead(seq=int(raw["seq"]), hash=str(raw["hash"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"unreadable audit head: {exc}", source=str(head_path)) from None
        return verify_chain(self.catalog.audit_records(), head=head)

    def stale_lists(self, snapshot: Snapshot, *, now: datetime) -> tuple[str, ...]:
        """A warning for each list in ``snapshot`` older than its policy's maximum age.

        Age is counted from when the newest file behind the serving version was loaded
        (a rollback does not make old content young).
        """
        warnings = []
        policies = {info.name: info.policy for info in self.catalog.lists()}
        for item in snapshot.lists:
            limit = policies.get(item.name, ListPolicy()).max_age_days
            if limit is None:
                continue
            version = self.catalog.get_version(item.version_id)
            loaded = content_loaded_at(version, self.catalog.get_version)
            age = now - loaded
            if age > timedelta(days=limit):
                warnings.append(
                    f"list {item.name} version {item.version} is stale: its content was loaded "
                    f"{age.days} days ago ({loaded:%Y-%m-%d}), and its policy allows {limit}; "
                    "load a current release"
                )
        return tuple(warnings)

    def _store_verdicts(self, run_id: str, table: pa.Table) -> None:
        keep_paths = self.settings.record_paths
        row = 0
        for batch in table.to_batches(max_chunksize=_VERDICT_CHUNK):
            n = batch.num_rows
            # Verdict(...) once per distinct value, not once per row: it is a slow call
            coded = batch.column("verdict").dictionary_encode()
            members = np.array([Verdict(v) for v in coded.dictionary.to_pylist()], dtype=object)
            verdicts = members[coded.indices.to_numpy(zero_copy_only=False)].tolist()
            paths = batch.column("path").to_pylist() if keep_paths else [None] * n
            records = [
                VerdictRecord(row=number, verdict=verdict, reason=reason, labels=labels, path=path)
                for number, verdict, reason, labels, path in zip(
                    range(row, row + n),
                    verdicts,
                    batch.column("reason").to_pylist(),
                    batch.column("matches").to_pylist(),
                    paths,
                    strict=True,
                )
            ]
            self.catalog.add_verdicts(run_id, records)
            row += n

    # -- runs -------------------------------------------------------------------------

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        return self.catalog.runs()

    def run(self, run_id: str) -> RunInfo:
        """One run by id (a unique prefix of at least 6 characters is enough)."""
        try:
            return self.catalog.get_run(run_id)
        except NotFound:
            if len(run_id) < 6:
                raise
            found = [r for r in self.catalog.runs() if r.run_id.startswith(run_id)]
            if len(found) == 1:
                return found[0]
            raise

    # -- serving (the HTTP API) ---------------------------------------------------------

    def live(self) -> LiveMatcher:
        """The serving snapshot for a long-running process, followed as it is republished."""
        with self._live_lock:
            if self._live is None:
                self._live = LiveMatcher(
                    self.snapshots,
                    threads=self.settings.lookup_threads,
                    poll_seconds=self.settings.snapshot_poll_seconds,
                )
            return self._live

    def serving(self) -> Serving:
        """What a request matches against; NotReady before any snapshot is published."""
        serving = self.live().current()
        if serving is None:
            raise NotReady(
                "no list has been loaded yet, so there is nothing to match against: a curator "
                "loads one first"
            )
        return serving

    def ready(self) -> Serving:
        """What a readiness probe checks: the catalog answers and a snapshot is served.

        StoreError if the catalog does not answer, NotReady if nothing is served yet.
        """
        self.catalog.snapshot_ids()
        return self.serving()

    def prepare_serving(self) -> Snapshot | None:
        """Make sure the published snapshot is the catalog's (rebuilt if an ingest was cut
        short between its commit and its publish); a server calls this as it starts."""
        return self.snapshot()

    def lookup(self, algorithm: Algorithm, digest: str) -> Lookup:
        """The verdict on one hex digest against the serving snapshot."""
        return self.serving().lookup(algorithm, digest)

    def match_items(self, items: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
        """Verdicts for a batch of items (see :meth:`Serving.match`), in order."""
        if items.num_rows > self.settings.api_max_items:
            raise TooLarge(
                f"{items.num_rows} items in one request; at most {self.settings.api_max_items} "
                "(HASHMATCH_API_MAX_ITEMS)"
            )
        return self.serving().match(items)

    def note_matches(
        self,
        *,
        kind: str,
        actor: str,
        snapshot_id: str,
        counts: dict[str, int],
        matched: Sequence[str] = (),
    ) -> None:
        """Keep what ``audit_matches`` says of one match request, for the next flush.

        ``counts`` are items per verdict; ``matched`` the digests that matched (kept only
        under ``audit_matches = matched``, with the key that asked). A bulk request gets a
        record of its own; single lookups (``kind == "lookup"``), which come by the
        thousand a second, are summed into one record per key and snapshot per flush,
        with how many there were. Records are buffered and appended in one go by
        :meth:`flush_match_audit`, so that a request never waits on the audit chain.
        """
        mode = self.settings.audit_matches
        if mode == "none":
            return
        who = actor if mode == "matched" else "api"
        now = datetime.now(UTC)
        with self._pending_lock:
            if kind != "lookup":
                details: dict[str, Any] = {
                    "request": kind,
                    "requests": 1,
                    "snapshot_id": snapshot_id,
                    "items": sum(counts.values()),
                    "counts": dict(sorted(counts.items())),
                }
                if mode == "matched":
                    details["matched"] = sorted(set(matched))
                self._pending.append((now, who, details))
                return
            summed = self._lookups.get((who, snapshot_id))
            if summed is None:
                summed = self._lookups[who, snapshot_id] = _LookupSum(first=now, last=now)
            summed.add(now, counts, matched if mode == "matched" else ())

    def flush_match_audit(self) -> int:
        """Append the buffered match records to the audit trail; returns how many.

        The append is all or nothing: if the database fails (unreachable for a moment,
        say), the records go back to the front of the buffer, in order, for the next flush,
        and the error is raised.
        """
        with self._pending_lock:
            pending, self._pending = self._pending, []
            lookups, self._lookups = self._lookups, {}
            pending += [
                (summed.last, who, summed.details(snapshot_id, matched=who != "api"))
                for (who, snapshot_id), summed in lookups.items()
            ]
        if not pending:
            return 0
        action = AuditAction.MATCH.value
        entries = [
            AuditEntry(at=at, actor=who, action=action, subject="", details=details)
            for at, who, details in pending
        ]
        try:
            records = self.catalog.append_audit_many(entries)
        except ValueError:
            raise  # records the chain refuses would be refused again: not kept for a retry
        except BaseException:
            with self._pending_lock:
                self._pending[:0] = pending
            raise
        self._write_head(records[-1])
        return len(records)

    # -- HTTP uploads and reports -------------------------------------------------------

    @contextlib.contextmanager
    def upload(self, name: str) -> Iterator[Path]:
        """A fresh path under ``uploads/`` in the data directory for one uploaded file.

        The file is named after the last component of ``name`` (what a run or a list
        version records as the source's name). Its folder is removed on exit, whatever
        happened: an upload is read once and never kept.
        """
        uploads = self.home / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=uploads, prefix=".upload-"))
        try:
            yield folder / _upload_name(name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def check_upload(
        self,
        manifest: Path,
        *,
        case_ref: str,
        fmt: str | None = None,
        origin: str | None = None,
        strict: bool = False,
        operator: str | None = None,
    ) -> CheckResult:
        """:meth:`check` one uploaded manifest, keeping its JSON report for :meth:`run_report`.

        The upload must be recognised as a manifest by an installed adapter, whatever
        ``fmt`` names (UnsupportedFormat otherwise: file content is never accepted). The
        report is kept as ``reports/<run_id>.json`` in the data directory; like every
        report, it holds the paths the manifest lists. NotReady before any list is loaded.
        """
        self._refuse_content(manifest, fmt, Role.MANIFEST, "manifest")
        if not self.catalog.active_versions():
            raise NotReady(
                "no list has been loaded yet, so there is nothing to check against: a curator "
                "loads one first"
            )
        run_id = uuid.uuid4().hex
        return self.check(
            [manifest],
            case_ref=case_ref,
            fmt=fmt,
            report=self._kept_report(run_id, "json"),
            operator=operator,
            strict=strict,
            origins=[origin] if origin else (),
            run_id=run_id,
        )

    def ingest_upload(
        self,
        list_name: str,
        path: Path,
        *,
        fmt: str | None = None,
        mode: UpdateMode = UpdateMode.REPLACE,
        strict: bool = False,
        operator: str | None = None,
    ) -> ListVersionInfo:
        """:meth:`ingest` one uploaded list file, once an installed list adapter recognises
        it (UnsupportedFormat otherwise, whatever ``fmt`` names)."""
        self.catalog.get_list(list_name)
        self._refuse_content(path, fmt, Role.LIST, "list file")
        return self.ingest(list_name, path, fmt=fmt, strict=strict, mode=mode, operator=operator)

    def list_info(self, name: str) -> ListInfo:
        """One list by name; NotFound if there is none."""
        return self.catalog.get_list(name)

    def run_report(
        self, run_id: str, fmt: Literal["json", "csv", "html"], *, operator: str | None = None
    ) -> Path:
        """The report of a run made by :meth:`check_upload`, as a file in ``fmt``.

        The JSON report is the one the run wrote; CSV and HTML are rendered from it the
        first time they are asked for (and audited, as a report the run wrote is), then
        kept beside it. NotFound for an unknown run, or a run whose report is not kept
        here (a CLI run's report is wherever its examiner wrote it).
        """
        run = self.run(run_id)
        kept = self._kept_report(run.run_id, "json")
        if not kept.is_file():
            raise NotFound(
                f"run {run.run_id} has no report kept in the data directory: only runs "
                "submitted through the HTTP API keep one"
            )
        if fmt == "json":
            return kept
        rendered = self._kept_report(run.run_id, fmt)
        if rendered.is_file():
            return rendered
        with tempfile.TemporaryDirectory(dir=kept.parent, prefix=".render-") as work:
            made = Path(work) / rendered.name
            write_report(made, read_report_header(kept), read_report_table(kept))
            digest = sha256_file(made)[0]
            os.replace(made, rendered)
        self._audit(
            AuditAction.REPORT,
            run.run_id,
            {"report": rendered.name, "sha256": digest, "rendered_from": kept.name},
            operator=operator,
        )
        return rendered

    def _kept_report(self, run_id: str, fmt: str) -> Path:
        return self.home / "reports" / f"{run_id}.{fmt}"

    def _refuse_content(self, path: Path, fmt: str | None, role: Role, what: str) -> None:
        """UnsupportedFormat unless an adapter of ``role`` recognises the file's head."""
        if fmt:
            choose_adapter(self.registry, path, fmt, role)  # a known format, for this role
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
        if not head.strip():
            raise UnsupportedFormat(f"the {what} is empty", source=path.name)
        try:
            self.registry.detect(head, role=role)
        except UnsupportedFormat:
            known = ", ".join(self.registry.names(role))
            raise UnsupportedFormat(
                f"not a {what} in any installed format (known: {known}); hashmatch takes "
                "digests and metadata, never file content",
                source=path.name,
            ) from None


@dataclass(slots=True)
class _LookupSum:
    """Single lookups of one key on one snapshot since the last flush of the audit buffer."""

    first: datetime
    last: datetime
    requests: int = 0
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    matched: set[str] = dataclasses.field(default_factory=set)

    def add(self, at: datetime, counts: dict[str, int], matched: Sequence[str]) -> None:
        self.last = at
        self.requests += 1
        for verdict, n in counts.items():
            self.counts[verdict] = self.counts.get(verdict, 0) + n
        self.matched.update(matched)

    def details(self, snapshot_id: str, *, matched: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request": "lookup",
            "requests": self.requests,
            "snapshot_id": snapshot_id,
            "items": sum(self.counts.values()),
            "counts": dict(sorted(self.counts.items())),
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
        }
        if matched:
            out["matched"] = sorted(self.matched)
        return out


def _ingest_details(version: ListVersionInfo) -> dict[str, Any]:
    """What the audit trail keeps of a loaded list version."""
    return {
        "version": version.number,
        "version_id": version.version_id,
        "mode": version.mode.value,
        "source_name": version.source_name,
        "source_sha256": version.source_sha256,
        "adapter": f"{version.adapter} {version.adapter_version}",
        "entries": version.counts.entries,
        "signature": version.vetting.signature,
    }


def _key_details(key: ApiKey, event: str) -> dict[str, Any]:
    """What the audit trail says of a key: never its token, nor the token's hash."""
    roles = [role.value for role in key.roles]
    return {"event": event, "key_id": key.key_id, "name": key.name, "roles": roles}


def _report_bytes(progress: Progress, name: str, total: int, done: int) -> None:
    progress.bytes_read(name, done, total)


_FILE_NOT_AVAILABLE = "file not available"


def _local_file(text: str | None, root: Path | None, *, escaped: bool) -> tuple[Path | None, str]:
    """Where the file a row names is on this machine, or why it is not to be read.

    Absolute paths are taken as they are; relative ones under ``root``, which they may not
    leave. Only regular files are read: a symbolic link is not followed.
    """
    if not text:
        return None, "no path in the manifest"
    name = text
    if escaped:
        try:
            name = os.fsdecode(unescape_path(text))
        except ValueError:
            return None, "path not readable"
    path = Path(name)
    if not path.is_absolute():
        if root is None:
            return None, "relative path, and no folder of files given"
        path = root / path
        if not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root)):
            return None, "path leads out of the folder of files"
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return None, _FILE_NOT_AVAILABLE
    if stat.S_ISLNK(info.st_mode):
        return None, "symbolic link: not followed"
    if not stat.S_ISREG(info.st_mode):
        return None, "not a regular file"
    return path, ""


def _perceptual_files(table: pa.Table, root: Path | None, *, escaped: bool) -> list[PerceptualFile]:
    """The rows a perceptual vendor considers (``unknown``: the review queue), with their
    files on this machine when they are there."""
    chosen = table.filter(pc.equal(table.column("verdict"), PERCEPTUAL_ROWS))
    files = []
    for number, line, text in zip(
        chosen.column("input").to_pylist(),
        chosen.column("line").to_pylist(),
        chosen.column("path").to_pylist(),
        strict=True,
    ):
        path, reason = _local_file(text, root, escaped=escaped)
        size = 0
        if path is not None:
            with contextlib.suppress(OSError):
                size = path.stat().st_size
        files.append(
            PerceptualFile(input=number, line=line, path=path, size=size, reason=reason or None)
        )
    return files


def _entry_name(labels: dict[str, Any], row: dict[str, Any]) -> str:
    """How a report names a list entry: its ``source_id`` label, else its strongest digest."""
    source_id = labels.get(Label.SOURCE_ID.value)
    if isinstance(source_id, str | int) and not isinstance(source_id, bool) and str(source_id):
        return str(source_id)
    for algorithm in (Algorithm.SHA256, Algorithm.SHA1, Algorithm.MD5):
        value = row.get(algorithm.value)
        if value:
            return f"{algorithm.value}:{bytes(value).hex()}"
    return f"line {row.get('line')}"


def _perceptual_audit(outcome: PerceptualOutcome) -> dict[str, Any]:
    """What the audit trail keeps of a run's perceptual part: the vendor and counts only
    (no path, no hash, no key)."""
    return {
        "vendor": outcome.vendor,
        "vendor_version": outcome.vendor_version,
        "adapter_version": outcome.adapter_version,
        "max_distance": outcome.max_distance,
        "rows": PERCEPTUAL_ROWS,
        "considered": outcome.considered,
        "hashed": outcome.hashed,
        "not_hashed": sum(outcome.not_hashed.values()),
        "similar_files": outcome.similar_files,
        "results": len(outcome.results),
        "stopped": outcome.stopped is not None,
    }


def _upload_name(name: str) -> str:
    """The last component of an uploaded file's name, printable; ``upload`` if none."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(char for char in base if char.isprintable()).strip()[:200]
    return base if base not in ("", ".", "..") else "upload"


def _apply_warnings(
    batches: list[pa.RecordBatch], input_no: int, context: ReadContext
) -> list[pa.RecordBatch]:
    """Give every warning of one manifest its place, so that each row has one verdict.

    A warning about a record the adapter skipped becomes an ``invalid`` row of its own; a
    warning about a record the adapter repaired and yielded (an unreadable size, say) is
    added to that row's reason, and its verdict stands.
    """
    table = pa.Table.from_batches(batches, schema=VERDICT_SCHEMA)
    lines = table.column("line").to_numpy()
    by_line: dict[int, list[str]] = {}
    skipped: list[RecordWarning] = []
    yielded = set(lines[np.isin(lines, [w.line for w in context.warnings if w.line])].tolist())
    for warning in context.warnings:
        if warning.line is not None and warning.line in yielded:
            by_line.setdefault(warning.line, []).append(warning.reason)
        else:
            skipped.append(warning)
    if by_line:
        reasons = table.column("reason").to_pylist()
        for row in np.flatnonzero(np.isin(lines, list(by_line))).tolist():
            reasons[row] = join_reason(reasons[row], "; ".join(by_line[int(lines[row])]))
        table = table.set_column(
            table.schema.get_field_index("reason"), "reason", pa.array(reasons, pa.string())
        )
    out: list[pa.RecordBatch] = table.to_batches()
    if skipped:
        out.append(_unreadable_rows(input_no, skipped))
    return out


def _in_input_order(table: pa.Table) -> bool:
    """Whether the rows are already by input, then line (then the stable sort would keep
    them as they are, and can be skipped)."""
    step_input = np.diff(table.column("input").to_numpy())
    step_line = np.diff(table.column("line").to_numpy())
    return bool(np.all((step_input > 0) | ((step_input == 0) & (step_line >= 0))))


def _apply_notes(batches: list[pa.RecordBatch], notes: dict[int, str]) -> list[pa.RecordBatch]:
    """Give the rows an adapter noted (a file a scan could not hash) their reason."""
    table = pa.Table.from_batches(batches, schema=VERDICT_SCHEMA)
    lines = table.column("line").to_pylist()
    reasons = table.column("reason").to_pylist()
    for row, line in enumerate(lines):
        note = notes.get(line)
        if note is not None:
            reasons[row] = note
    index = table.schema.get_field_index("reason")
    out: list[pa.RecordBatch] = table.set_column(
        index, "reason", pa.array(reasons, pa.string())
    ).to_batches()
    return out


def _unreadable_rows(input_no: int, warnings: list[RecordWarning]) -> pa.RecordBatch:
    """``invalid`` rows for the records an adapter could not read (it warned instead)."""
    n = len(warnings)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([input_no] * n, pa.int32()),
            pa.array([w.line or 0 for w in warnings], pa.int64()),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.int64()),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.array([Verdict.INVALID.value] * n, pa.string()),
            pa.array([w.reason for w in warnings], pa.string()),
            pa.nulls(n, pa.string()),
        ],
        schema=VERDICT_SCHEMA,
    )
