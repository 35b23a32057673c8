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
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa

from hashmatch._version import __version__
from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.config import Settings
from hashmatch.digests import Algorithm
from hashmatch.errors import ConfigurationError, InputError, NotFound
from hashmatch.index import Snapshot, SnapshotList, SnapshotSource, SnapshotStore
from hashmatch.ingest.pipeline import HashingReader, choose_adapter, read_records, stage_list_file
from hashmatch.match.matcher import VERDICT_SCHEMA, Matcher
from hashmatch.model import (
    ListInfo,
    ListVersionInfo,
    Purpose,
    RecordWarning,
    RunInfo,
    RunInput,
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
    write_report,
)
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
        progress: Progress = _QUIET,
    ) -> ListVersionInfo:
        """Load ``path`` as a new version of ``list_name`` and make it serve.

        Raises NotFound for an unknown list, InputError subclasses for a file that cannot
        be read (``file:line: reason``), IngestError when nothing usable is in it. On any
        failure the previous version keeps serving and nothing new is left behind.
        """
        listed = self.catalog.get_list(list_name)
        if not path.is_file():
            raise InputError("no such file", source=str(path))
        size = path.stat().st_size
        list_dir = self.home / "lists" / list_name
        with self._lock():
            self._sweep(list_dir)
            staged = stage_list_file(
                path,
                staging_dir=list_dir,
                registry=self.registry,
                fmt=fmt,
                strict=strict,
                batch_size=self.settings.batch_size,
                progress=lambda done: progress.bytes_read(path.name, done, size),
            )
            version_id = uuid.uuid4().hex
            final = list_dir / f"{version_id}.parquet"
            try:
                os.replace(staged.path, final)
                version = ListVersionInfo(
                    list_name=list_name,
                    number=self.catalog.next_version_number(list_name),
                    version_id=version_id,
                    purpose=listed.purpose,
                    source_name=staged.source_name,
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
                )
                active = [v for v in self.catalog.active_versions() if v.list_name != list_name]
                progress.stage("building the snapshot")
                snapshot_id, versions = self._build([*active, version])
                self.catalog.add_version(version, activate=True)
                self._record(snapshot_id, versions)
            except BaseException:
                final.unlink(missing_ok=True)
                staged.discard()
                raise
            self._publish(snapshot_id)
        return version

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
        sources = [
            SnapshotSource(
                list=SnapshotList(
                    slot=slot,
                    name=v.list_name,
                    version=v.number,
                    version_id=v.version_id,
                    purpose=v.purpose,
                    source_name=v.source_name,
                    source_sha256=v.source_sha256,
                    loaded_at=v.loaded_at,
                    entries=v.counts.entries,
                ),
                entries_path=self.home / v.entry_file,
            )
            for slot, v in enumerate(ordered)
        ]
        return self.snapshots.build(sources), ordered

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
        progress: Progress = _QUIET,
    ) -> CheckResult:
        """Match every row of ``manifests`` against the serving snapshot.

        Every row gets one verdict, in input order; a row the adapter could not read
        becomes ``invalid`` with its reason (or fails the run under ``strict``). The run
        and its verdicts go to the store; the report, if asked for, to ``report``.
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
        adapters = [choose_adapter(self.registry, p, fmt, Role.MANIFEST) for p in manifests]
        snapshot = self.snapshot(progress=progress)
        if snapshot is None:
            raise InputError(
                "no list has been loaded yet: add one with 'hashmatch lists add' and load it "
                "with 'hashmatch ingest'"
            )
        matcher = Matcher(snapshot)
        started = datetime.now(UTC)
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
                lists=report_lists(snapshot.lists),
            ),
            statement=list(STATEMENT),
            counts=counts,
        )
        if report is not None:
            progress.stage("writing the report")
            write_report(report, header, table)
        return CheckResult(run=run, header=header, verdicts=table, report_path=report)

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
