"""The facade that the CLI and the web layer call: one method per thing a user does.

Data directory layout (``Settings.home``)::

    catalog.sqlite                 the catalog and verdict store (unless database_url is set)
    lists/<list>/<version>.parquet entries of each list version (immutable)
    snapshots/                     see :mod:`hashmatch.index.snapshot`
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
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import pyarrow as pa

from hashmatch._version import __version__
from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.bundle import BundleSource, write_bundle
from hashmatch.config import Settings
from hashmatch.crosswalk import load_crosswalks
from hashmatch.digests import Algorithm
from hashmatch.errors import ConfigurationError, Conflict, InputError, NotFound
from hashmatch.index import ChainLink, Snapshot, SnapshotList, SnapshotSource, SnapshotStore
from hashmatch.ingest.pipeline import HashingReader, choose_adapter, read_records, stage_list_file
from hashmatch.ingest.versions import (
    ListDiff,
    chain_of,
    content_loaded_at,
    diff_versions,
    entries_of,
    version_entries,
)
from hashmatch.ingest.vetting import vet_source
from hashmatch.match.matcher import VERDICT_SCHEMA, Matcher
from hashmatch.model import (
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
)
from hashmatch.registry import AdapterRegistry, default_registry
from hashmatch.reports import (
    REPORT_FORMAT,
    STATEMENT,
    ReportHeader,
    ReportInput,
    ReportRun,
    ToolInfo,
    count_verdicts,
    report_format,
    report_lists,
    report_mapping,
    write_report,
)
from hashmatch.signing import key_id, load_public_key
from hashmatch.store import Catalog, VerdictRecord, open_catalog

__all__ = ["CheckResult", "Progress", "Service", "installed_formats"]


def installed_formats(role: Role | None = None) -> list[type[FormatAdapter]]:
    """The installed format adapters, in detection order; needs no data directory."""
    return default_registry().adapters(role)


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
class CheckResult:
    """What a check produced: the run record, the report header and every verdict row."""

    run: RunInfo
    header: ReportHeader
    verdicts: pa.Table
    report_path: Path | None
    warnings: tuple[str, ...] = ()
    """Things the examiner should know about the lists used (a list older than its policy
    allows, say); also in the report."""


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

    def add_list(self, name: str, purpose: Purpose, description: str = "") -> ListInfo:
        """Create an empty list; raises Conflict if the name is taken."""
        if not _LIST_NAME.fullmatch(name):
            raise InputError(
                f"list name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.catalog.create_list(
            name=name,
            purpose=purpose,
            description=description,
            created_by=self.settings.operator,
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
            version_id = uuid.uuid4().hex
            final = list_dir / f"{version_id}.parquet"
            try:
                vetting = source.finish(staged.source_sha256)
                os.replace(staged.path, final)
                version = ListVersionInfo(
                    list_name=list_name,
                    number=self.catalog.next_version_number(list_name),
                    version_id=version_id,
                    purpose=listed.purpose,
                    source_name=source.name,
                    source_sha256=staged.source_sha256,
                    adapter=staged.adapter,
                    adapter_version=staged.adapter_version,
                    loaded_by=self.settings.operator,
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
                self.catalog.add_version(version, activate=True)
                self._record(snapshot_id, versions)
            except BaseException:
                final.unlink(missing_ok=True)
                staged.discard()
                raise
            self._publish(snapshot_id)
        return version

    def rollback(
        self, list_name: str, number: int, *, progress: Progress = _QUIET
    ) -> ListVersionInfo:
        """Serve again what version ``number`` of the list held, as a new version.

        History is never rewritten: the rollback is recorded as the list's next version,
        which names the version it restores. Conflict if that version already serves.
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
                loaded_by=self.settings.operator,
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
        return write_bundle(
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
        return self.catalog.set_policy(list_name, policy)

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
        progress: Progress = _QUIET,
    ) -> CheckResult:
        """Match every row of ``manifests`` against the serving snapshot.

        Every row gets one verdict, in input order; a row the adapter could not read
        becomes ``invalid`` with its reason (or fails the run under ``strict``). The run
        and its verdicts go to the store; the report, if asked for, to ``report``.

        ``map_to`` adds to each match a category in that scheme as a crosswalk suggests
        it (the shipped ones, and ``crosswalks`` files over them), beside the original.
        """
        if not manifests:
            raise InputError("no manifest given")
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
            run_id=uuid.uuid4().hex,
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
            rows = sum(b.num_rows for b in read)
            batches.extend(read)
            inputs.append(
                RunInput(name=path.name, sha256=sha256, format=adapter_cls.NAME, rows=rows)
            )
        table = pa.Table.from_batches(batches, schema=VERDICT_SCHEMA)
        if any(b.num_rows for b in batches[1:]):
            table = table.sort_by([("input", "ascending"), ("line", "ascending")])
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
                    ReportInput(name=i.name, sha256=i.sha256, format=i.format, rows=i.rows)
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
        )
        if report is not None:
            progress.stage("writing the report")
            write_report(report, header, table)
        return CheckResult(
            run=run, header=header, verdicts=table, report_path=report, warnings=warnings
        )

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
            verdicts = batch.column("verdict").to_pylist()
            reasons = batch.column("reason").to_pylist()
            labels = batch.column("matches").to_pylist()
            paths = batch.column("path").to_pylist() if keep_paths else [None] * batch.num_rows
            records = [
                VerdictRecord(
                    row=row + i,
                    verdict=Verdict(verdicts[i]),
                    reason=reasons[i],
                    labels=labels[i],
                    path=paths[i],
                )
                for i in range(batch.num_rows)
            ]
            self.catalog.add_verdicts(run_id, records)
            row += batch.num_rows

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


def _report_bytes(progress: Progress, name: str, total: int, done: int) -> None:
    progress.bytes_read(name, done, total)


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
            notes = "; ".join(by_line[int(lines[row])])
            reasons[row] = f"{reasons[row]}; {notes}" if reasons[row] else notes
        table = table.set_column(
            table.schema.get_field_index("reason"), "reason", pa.array(reasons, pa.string())
        )
    out: list[pa.RecordBatch] = table.to_batches()
    if skipped:
        out.append(_unreadable_rows(input_no, skipped))
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
