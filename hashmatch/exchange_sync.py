"""Exchange fetches made durable: the page journal, and changes resolved into list entries.

A fetch (:meth:`hashmatch.service.Service.exchange_fetch`) writes every page an
:class:`~hashmatch.exchange.ExchangeClient` yields to a :class:`Journal` (one Parquet file per
page, written under a temporary name, synced and renamed) and then records in the catalog
how many pages are journalled and the client's cursor after the last one. A fetch killed at
any point therefore finds, on its next run, every page it recorded, and at most one page
more (written but not recorded), which it removes and fetches again.

When the whole range is journalled, :func:`resolve` keeps the last change of each key
(latest timestamp; between equal timestamps, the one fetched last) and :func:`merge` turns
the list version the exchange last loaded, plus those changes, into the rows of the next
version: an entry whose key changed is dropped from the old rows, and the key's latest
update, unless it is a tombstone, is added. Each entry's key is its ``source_id`` label.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hashmatch.errors import ConfigurationError, HashmatchError
from hashmatch.exchange import UPDATE_SCHEMA, ExchangeCredentials, ExchangePage
from hashmatch.labels import Label
from hashmatch.model import ListVersionInfo, RecordWarning
from hashmatch.records import RECORD_SCHEMA, decode_labels, encode_labels

__all__ = [
    "ExchangeAccess",
    "FetchOutcome",
    "FetchScheduler",
    "Journal",
    "Merge",
    "merge",
    "read_access",
    "resolve",
]

_LOG = logging.getLogger("hashmatch.exchange")
_PAGE = re.compile(r"page-(\d{8})\.parquet")
# Anchored on the "{" or "," before the name: a label called 'a"source_id' (which sorts
# first) holds the text '"source_id":"' too, but only after a backslash.
_SOURCE_ID = re.compile(r'[{,]"source_id":"(?P<id>(?:[^"\\]|\\.)*)"')
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False).encode


class Journal:
    """The pages of one exchange's fetch under way, in ``folder``, numbered from 0."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, number: int) -> Path:
        return self.folder / f"page-{number:08d}.parquet"

    def _numbers(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        found = (_PAGE.fullmatch(p.name) for p in self.folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m is not None)

    def write(self, number: int, page: ExchangePage) -> None:
        """Write ``page`` as page ``number``, durably, replacing any earlier one of that number."""
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self._path(number)
        partial = final.with_name(f".{final.name}.{os.getpid()}.partial")
        metadata = {
            b"sha256": page.sha256.encode(),
            b"source": page.source.encode(),
            b"warnings": json.dumps([[w.source, w.line, w.reason] for w in page.warnings]).encode(),
        }
        table = pa.Table.from_batches([page.updates], schema=UPDATE_SCHEMA)
        try:
            pq.write_table(table.replace_schema_metadata(metadata), partial)
            with open(partial, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _fsync_dir(self.folder)

    def trim(self, pages: int) -> None:
        """Remove every page numbered ``pages`` or more (written after the last recorded one)."""
        for number in self._numbers():
            if number >= pages:
                self._path(number).unlink(missing_ok=True)
        if self.folder.is_dir():
            for stray in self.folder.glob(".page-*.partial"):
                stray.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove every page."""
        self.trim(0)

    def tables(self, pages: int) -> Iterator[pa.Table]:
        """Pages 0 to ``pages`` - 1, in order; a missing page is an error."""
        for number in range(pages):
            path = self._path(number)
            if not path.is_file():
                raise ConfigurationError(
                    f"page {number} of the journal is missing: start a full fetch with --full",
                    source=str(self.folder),
                )
            yield pq.read_table(path, schema=UPDATE_SCHEMA)

    def digest(self, pages: int) -> str:
        """SHA-256 of the pages' response digests, one per line, in fetch order.

        What a fetch's list version records as its source SHA-256: it pins every response
        the version was made from.
        """
        lines = []
        for number in range(pages):
            metadata = pq.read_schema(self._path(number)).metadata or {}
            lines.append(metadata.get(b"sha256", b"").decode())
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def warnings(self, pages: int) -> list[tuple[str, int | None, str]]:
        """Every page's warnings, as (source, line, reason)."""
        found: list[tuple[str, int | None, str]] = []
        for number in range(pages):
            metadata = pq.read_schema(self._path(number)).metadata or {}
            for source, line, reason in json.loads(metadata.get(b"warnings", b"[]")):
                found.append((str(source), None if line is None else int(line), str(reason)))
        return found


def resolve(tables: Iterable[pa.Table]) -> pa.Table:
    """The last change of each key, in the order they are fetched: :data:`UPDATE_SCHEMA`.

    Last: the latest ``timestamp``; between changes of one key with the same timestamp, the
    one fetched last.
    """
    parts = [t for t in tables if t.num_rows]
    if not parts:
        return UPDATE_SCHEMA.empty_table()
    changes = pa.concat_tables(parts)
    changes = changes.append_column("order", pa.array(np.arange(changes.num_rows)))
    ranked = changes.sort_by([("timestamp", "ascending"), ("order", "ascending")])
    ranked = ranked.append_column("rank", pa.array(np.arange(ranked.num_rows)))
    last = ranked.group_by("key", use_threads=False).aggregate([("rank", "max")])
    winners = ranked.take(last.column("rank_max"))
    winners = winners.take(pc.sort_indices(winners.column("order")))
    return winners.select(UPDATE_SCHEMA.names)


@dataclass(frozen=True, slots=True, kw_only=True)
class Merge:
    """What :func:`merge` made of a version and the changes since it."""

    kept: list[pa.RecordBatch]
    """The earlier version's rows whose key did not change (:data:`ENTRY_SCHEMA`)."""
    records: pa.RecordBatch
    """The keys' latest updates that are not tombstones and carry a digest
    (:data:`RECORD_SCHEMA`; ``line`` is the row's position in :attr:`keys`, from 1)."""
    keys: list[str]
    """Every key that changed, in the order of :attr:`records`' lines."""
    updates: int
    """Keys whose latest change is an update (with or without a digest)."""
    tombstones: int
    """Keys whose latest change is a tombstone."""
    replaced: int
    """Rows of the earlier version dropped because their key changed."""


def merge(base: Iterable[pa.RecordBatch], latest: pa.Table) -> Merge:
    """Apply ``latest`` (from :func:`resolve`) to the rows ``base`` of the earlier version."""
    latest_rows = pa.RecordBatch.from_arrays(
        [column.combine_chunks() for column in latest.columns], schema=latest.schema
    )
    keys = [str(k) for k in latest_rows.column("key").to_pylist()]
    escaped = pa.array([_JSON_TEXT(k)[1:-1] for k in keys], pa.string())
    kept: list[pa.RecordBatch] = []
    replaced = 0
    for batch in base:
        ids = _source_ids(batch.column("labels"))
        gone = pc.fill_null(pc.is_in(ids, value_set=escaped), False)
        dropped = int(pc.sum(gone).as_py() or 0)
        replaced += dropped
        kept.append(batch.filter(pc.invert(gone)) if dropped else batch)
    deleted = latest_rows.column("deleted")
    live = latest_rows.filter(pc.invert(deleted))
    has_digest = pc.or_(
        pc.or_(live.column("md5").is_valid(), live.column("sha1").is_valid()),
        live.column("sha256").is_valid(),
    )
    lines = pa.array(np.arange(1, latest.num_rows + 1), pa.int64()).filter(pc.invert(deleted))
    rows = live.filter(has_digest)
    lines = lines.filter(has_digest)
    labels = _with_keys(rows.column("key").to_pylist(), rows.column("labels").to_pylist())
    records = pa.RecordBatch.from_arrays(
        [
            lines,
            rows.column("md5"),
            rows.column("sha1"),
            rows.column("sha256"),
            pa.nulls(rows.num_rows, pa.int64()),
            pa.nulls(rows.num_rows, pa.string()),
            pa.array(labels, pa.string()),
        ],
        schema=RECORD_SCHEMA,
    )
    tombstones = int(pc.sum(deleted).as_py() or 0)
    return Merge(
        kept=kept,
        records=records,
        keys=keys,
        updates=latest_rows.num_rows - tombstones,
        tombstones=tombstones,
        replaced=replaced,
    )


def _source_ids(labels: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each row's ``source_id`` label as JSON-escaped text (null where it has none)."""
    if isinstance(labels, pa.ChunkedArray):
        labels = labels.combine_chunks()
    found = pc.extract_regex(pc.fill_null(labels, ""), pattern=_SOURCE_ID.pattern)
    matched = pc.match_substring_regex(pc.fill_null(labels, ""), pattern=_SOURCE_ID.pattern)
    ids = pc.struct_field(found, [0]) if len(found) else pa.array([], pa.string())
    return pc.if_else(matched, ids, pa.nulls(len(labels), pa.string()))


def _with_keys(keys: list[str], labels: list[str | None]) -> list[str | None]:
    """Labels whose ``source_id`` is the row's key (set where a client left it out)."""
    out: list[str | None] = []
    for key, text in zip(keys, labels, strict=True):
        found = _SOURCE_ID.search(text or "")
        if found is not None and found.group("id") == _JSON_TEXT(key)[1:-1]:
            out.append(text)
            continue
        decoded = decode_labels(text)
        decoded[Label.SOURCE_ID] = key
        out.append(encode_labels(decoded))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchOutcome:
    """What one exchange fetch did."""

    exchange: str
    list_name: str
    version: ListVersionInfo | None
    """The list version it loaded; None when nothing had changed since the checkpoint."""
    since: datetime | None
    """Changes after this instant were fetched; None: the whole list (a full fetch)."""
    until: datetime
    """...up to this instant: the new checkpoint."""
    reason: str
    """``incremental``, or why the whole list was fetched."""
    resumed: bool
    """It went on from where an interrupted fetch stopped."""
    pages: int
    updates: int
    """Entries whose latest change is an update."""
    tombstones: int
    """Entries whose latest change is a deletion."""
    replaced: int
    """Rows of the previous version that these changes replaced or withdrew."""
    warnings: tuple[RecordWarning, ...] = ()
    """Entries the client skipped, with the request they were in."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeAccess:
    """Where an exchange is and who we are to it, as the operator configured it."""

    credentials: ExchangeCredentials
    api_root: str | None = None
    """The operator's API root, instead of the environment's own (a test server, a proxy)."""


def read_access(
    exchange: str,
    *,
    credentials_file: Path | None,
    username: str | None,
    password: str | None,
) -> ExchangeAccess:
    """The credentials (and API root) for ``exchange``: its table in the credentials file,
    else the settings' user name and password.

    The file is TOML, a table per exchange: ``[ncmec-industry]`` with ``username``,
    ``password`` and optionally ``api_root``. Like an SSH key, it must not be readable by
    group or others. Raises ConfigurationError when nothing is configured or the file is
    unusable; no message ever shows a password.
    """
    if credentials_file is not None and credentials_file.exists():
        mode = credentials_file.stat().st_mode
        if mode & 0o077:
            raise ConfigurationError(
                f"others can read the credentials file: chmod 600 {credentials_file}",
                source=str(credentials_file),
            )
        try:
            tables = tomllib.loads(credentials_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the credentials file: {exc.strerror}", source=str(credentials_file)
            ) from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            # The parser's message may quote the line, and the line may hold a password.
            where = getattr(exc, "lineno", None)
            raise ConfigurationError(
                "not a valid TOML file", source=str(credentials_file), line=where
            ) from None
        table = tables.get(exchange)
        if table is not None:
            return _access_from(exchange, table, credentials_file)
    if username and password:
        return ExchangeAccess(credentials=ExchangeCredentials(username=username, password=password))
    where = f" or a [{exchange}] table in {credentials_file}" if credentials_file else ""
    raise ConfigurationError(
        f"no credentials for exchange {exchange!r}: set HASHMATCH_EXCHANGE_USERNAME and "
        f"HASHMATCH_EXCHANGE_PASSWORD{where} (never on the command line)"
    )


def _access_from(exchange: str, table: object, path: Path) -> ExchangeAccess:
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"[{exchange}] is not a table", source=str(path))
    username, password, root = (table.get(k) for k in ("username", "password", "api_root"))
    if not (isinstance(username, str) and username and isinstance(password, str) and password):
        raise ConfigurationError(
            f"[{exchange}] needs a username and a password (text)", source=str(path)
        )
    if root is not None and not isinstance(root, str):
        raise ConfigurationError(f"[{exchange}] api_root must be text", source=str(path))
    unknown = sorted(set(table) - {"username", "password", "api_root"})
    if unknown:
        raise ConfigurationError(
            f"[{exchange}] has unknown keys: {', '.join(unknown)}", source=str(path)
        )
    return ExchangeAccess(
        credentials=ExchangeCredentials(username=username, password=password), api_root=root
    )


class FetchScheduler:
    """Fetches exchanges on a schedule, in a background thread (for ``hashmatch serve``).

    Each exchange is fetched when the scheduler starts and then every its interval after
    the previous fetch ended. A failure is logged (logger ``hashmatch.exchange``; messages
    never hold credentials) and tried again at the next turn: the journal keeps what was
    fetched. Fetches run one at a time.
    """

    def __init__(
        self,
        schedule: Mapping[str, timedelta],
        fetch: Callable[[str], FetchOutcome],
    ) -> None:
        self.schedule = dict(schedule)
        self._fetch = fetch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs: dict[str, int] = dict.fromkeys(self.schedule, 0)
        """Fetches attempted per exchange (for tests and status)."""

    def start(self) -> None:
        """Start the thread (nothing happens for an empty schedule)."""
        if self.schedule and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="hashmatch-exchange-scheduler", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop and wait for it (a fetch under way ends first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        due = dict.fromkeys(self.schedule, time.monotonic())
        while not self._stop.is_set():
            name = min(due, key=due.__getitem__)
            wait = due[name] - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            self.runs[name] += 1
            try:
                outcome = self._fetch(name)
            except HashmatchError as exc:
                _LOG.warning("exchange %s: fetch failed, tried again later: %s", name, exc)
            except Exception:
                _LOG.exception("exchange %s: fetch failed unexpectedly", name)
            else:
                loaded = (
                    "nothing changed"
                    if outcome.version is None
                    else f"list {outcome.list_name} version {outcome.version.number}"
                )
                _LOG.info(
                    "exchange %s: %d pages, %d updates, %d deletions: %s",
                    name,
                    outcome.pages,
                    outcome.updates,
                    outcome.tombstones,
                    loaded,
                )
            due[name] = time.monotonic() + self.schedule[name].total_seconds()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
