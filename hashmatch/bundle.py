"""hashmatch's own list distribution format: a bundle folder a publisher can sign.

A bundle is a folder, by convention ``<name>.hmbundle/``, holding

* ``entries.parquet``: the list's entries, in :data:`hashmatch.records.ENTRY_SCHEMA`
  (binary digests, the entry's file name, its labels as canonical JSON), zstd-compressed,
  with the schema metadata ``{"schema": "hashmatch-entries/1"}``;
* ``manifest.json``: what the entries are (see ``schemas/bundle-manifest.schema.json``):
  the list's name and purpose, who made the bundle and when, the entries file's SHA-256,
  size, row count and distinct digests, the label schemes used, whether free text was
  stripped, and where the entries came from;
* optionally ``manifest.json.sig``: the detached signature of the manifest
  (:func:`hashmatch.signing.sign_file`). The manifest pins the entries file by its
  SHA-256, so one signature vouches for the whole bundle.

:func:`write_bundle` builds a bundle from entry batches (atomically: the folder appears
complete or not at all), :func:`bundle_from_list_file` from a list file in any format
hashmatch reads, :func:`open_bundle` reads one back and checks the entries file against
the manifest, and :func:`verify_bundle` also checks the manifest's signature. Loading a
bundle into a list is the service's job: it verifies, then stages ``entries.parquet``
with the ``hashmatch-bundle`` adapter.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hashmatch._version import __version__
from hashmatch.digests import Algorithm, digest_matrix
from hashmatch.errors import BundleError, Conflict, InputError
from hashmatch.ingest.pipeline import count_distinct, stage_list_file
from hashmatch.labels import Label
from hashmatch.labels import strip_free_text as strip_labels
from hashmatch.model import IngestCounts, Purpose, RecordWarning
from hashmatch.records import ENTRY_SCHEMA, decode_labels, encode_labels
from hashmatch.registry import AdapterRegistry
from hashmatch.signing import SignatureCheck, sha256_file, sign_file, verify_file

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_SUFFIX",
    "ENTRIES_FILE",
    "ENTRIES_SCHEMA_NAME",
    "MANIFEST_FILE",
    "Bundle",
    "BundleBuild",
    "BundleEntries",
    "BundleError",
    "BundleManifest",
    "BundleSource",
    "DigestCounts",
    "bundle_from_list_file",
    "open_bundle",
    "sign_bundle",
    "verify_bundle",
    "write_bundle",
]

BUNDLE_FORMAT = "hashmatch-bundle/1"
"""The manifest's ``format``."""
BUNDLE_SUFFIX = ".hmbundle"
"""The conventional suffix of a bundle folder."""
MANIFEST_FILE = "manifest.json"
ENTRIES_FILE = "entries.parquet"
ENTRIES_SCHEMA_NAME = ENTRY_SCHEMA.metadata[b"schema"].decode()
"""What the entries file's schema metadata says it is (``hashmatch-entries/1``)."""

_MAX_MANIFEST_BYTES = 1 << 20
_LIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""The service's rule for list names."""
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# -- the manifest -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleSource:
    """The list file a bundle's entries were read from."""

    name: str
    """Its file name (no directories)."""
    sha256: str
    adapter: str
    """The format it was read as (an adapter ``NAME``)."""
    adapter_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestCounts:
    """Distinct digests per algorithm."""

    md5: int
    sha1: int
    sha256: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleEntries:
    """The entries file as the manifest pins it."""

    file: str
    sha256: str
    """SHA-256 of the file's bytes."""
    bytes: int
    rows: int
    distinct: DigestCounts


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleManifest:
    """What ``manifest.json`` says, typed; :meth:`to_json` and :meth:`from_json` convert."""

    list_name: str
    purpose: Purpose
    description: str
    created_at: datetime
    created_by: str
    tool_version: str
    entries: BundleEntries
    free_text_stripped: bool
    """Whether free-text labels (series names, comments ...) were removed."""
    label_schemes: tuple[str, ...]
    """The distinct ``scheme`` label values of the entries, sorted."""
    source: BundleSource | None
    version: int | None = None
    """The publisher's version number of the list, if it gives one."""

    def to_json(self) -> dict[str, Any]:
        """The manifest document (as ``schemas/bundle-manifest.schema.json`` describes)."""
        return {
            "format": BUNDLE_FORMAT,
            "list": {
                "name": self.list_name,
                "purpose": self.purpose.value,
                "description": self.description,
            },
            "created_at": self.created_at.astimezone(UTC).strftime(_TIME_FORMAT),
            "created_by": self.created_by,
            "tool_version": self.tool_version,
            "entries": {
                "file": self.entries.file,
                "sha256": self.entries.sha256,
                "bytes": self.entries.bytes,
                "rows": self.entries.rows,
                "distinct": {
                    "md5": self.entries.distinct.md5,
                    "sha1": self.entries.distinct.sha1,
                    "sha256": self.entries.distinct.sha256,
                },
            },
            "free_text_stripped": self.free_text_stripped,
            "label_schemes": list(self.label_schemes),
            "source": None
            if self.source is None
            else {
                "name": self.source.name,
                "sha256": self.source.sha256,
                "adapter": self.source.adapter,
                "adapter_version": self.source.adapter_version,
            },
            "version": self.version,
        }

    @classmethod
    def from_json(cls, document: object) -> BundleManifest:
        """The manifest in ``document``; :class:`BundleError` names the first bad field."""
        root = _Fields(document, "")
        fmt = root.text("format")
        if fmt != BUNDLE_FORMAT:
            raise BundleError(f"format is {fmt!r}; this hashmatch reads {BUNDLE_FORMAT!r}")
        root.only(
            "format",
            "list",
            "created_at",
            "created_by",
            "tool_version",
            "entries",
            "free_text_stripped",
            "label_schemes",
            "source",
            "version",
        )
        listed = root.object("list")
        listed.only("name", "purpose", "description")
        name = listed.text("name")
        if not _LIST_NAME.fullmatch(name):
            raise BundleError(f"list.name {name!r} is not a list name")
        try:
            purpose = Purpose(listed.text("purpose"))
        except ValueError:
            raise BundleError("list.purpose is neither 'concern' nor 'benign'") from None
        entries = root.object("entries")
        entries.only("file", "sha256", "bytes", "rows", "distinct")
        if entries.text("file") != ENTRIES_FILE:
            raise BundleError(f"entries.file must be {ENTRIES_FILE!r}")
        distinct = entries.object("distinct")
        distinct.only("md5", "sha1", "sha256")
        source = None
        if root.value("source") is not None:
            given = root.object("source")
            given.only("name", "sha256", "adapter", "adapter_version")
            source = BundleSource(
                name=given.text("name"),
                sha256=given.sha256("sha256"),
                adapter=given.text("adapter"),
                adapter_version=given.text("adapter_version"),
            )
        version = root.value("version", required=False)
        if version is not None:
            version = root.count("version")
            if version < 1:
                raise BundleError("version must be 1 or more")
        schemes = root.value("label_schemes")
        if not isinstance(schemes, list) or not all(isinstance(s, str) for s in schemes):
            raise BundleError("label_schemes is not a list of texts")
        stripped = root.value("free_text_stripped")
        if not isinstance(stripped, bool):
            raise BundleError("free_text_stripped is not true or false")
        return cls(
            list_name=name,
            purpose=purpose,
            description=listed.text("description", empty=True),
            created_at=root.time("created_at"),
            created_by=root.text("created_by"),
            tool_version=root.text("tool_version"),
            entries=BundleEntries(
                file=ENTRIES_FILE,
                sha256=entries.sha256("sha256"),
                bytes=entries.count("bytes"),
                rows=entries.count("rows"),
                distinct=DigestCounts(
                    md5=distinct.count("md5"),
                    sha1=distinct.count("sha1"),
                    sha256=distinct.count("sha256"),
                ),
            ),
            free_text_stripped=stripped,
            label_schemes=tuple(schemes),
            source=source,
            version=version,
        )


class _Fields:
    """Typed access to one JSON object of the manifest, with errors naming the field."""

    __slots__ = ("_document", "_prefix")

    def __init__(self, document: object, prefix: str) -> None:
        if not isinstance(document, dict):
            raise BundleError(f"{prefix.rstrip('.') or 'the manifest'} is not a JSON object")
        self._document: dict[str, Any] = document
        self._prefix = prefix

    def only(self, *names: str) -> None:
        extra = sorted(set(self._document) - set(names))
        if extra:
            raise BundleError("unexpected field " + ", ".join(self._prefix + k for k in extra))

    def value(self, name: str, *, required: bool = True) -> Any:
        if name not in self._document and required:
            raise BundleError(f"{self._prefix}{name} is missing")
        return self._document.get(name)

    def object(self, name: str) -> _Fields:
        return _Fields(self.value(name), f"{self._prefix}{name}.")

    def text(self, name: str, *, empty: bool = False) -> str:
        value = self.value(name)
        if not isinstance(value, str) or not (value or empty):
            raise BundleError(f"{self._prefix}{name} is not a non-empty text")
        return value

    def count(self, name: str) -> int:
        value = self.value(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BundleError(f"{self._prefix}{name} is not a count")
        return value

    def sha256(self, name: str) -> str:
        value = self.text(name)
        if not _SHA256_HEX.fullmatch(value):
            raise BundleError(f"{self._prefix}{name} is not 64 lower-case hex digits")
        return value

    def time(self, name: str) -> datetime:
        try:
            value = datetime.fromisoformat(self.text(name))
        except ValueError:
            raise BundleError(f"{self._prefix}{name} is not an ISO-8601 time") from None
        if value.tzinfo is None:
            raise BundleError(f"{self._prefix}{name} has no time zone")
        return value.astimezone(UTC)


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """An opened bundle whose entries file is the one its manifest pins."""

    path: Path
    """The bundle folder."""
    manifest: BundleManifest
    manifest_path: Path
    manifest_sha256: str
    """SHA-256 of the manifest bytes that were read (what a signature vouches for)."""
    entries_path: Path


def open_bundle(path: Path) -> Bundle:
    """Open the bundle folder ``path`` (or its ``manifest.json``) and check its entries.

    Raises :class:`BundleError` when the manifest is missing or malformed, or when the
    entries file's size, SHA-256 or row count differs from what the manifest says.
    """
    folder, manifest_path = _locate(path)
    return _open(folder, manifest_path, _read_manifest(manifest_path))


def verify_bundle(
    path: Path, trusted: Mapping[str, Ed25519PublicKey]
) -> tuple[Bundle, SignatureCheck]:
    """Open the bundle at ``path`` and check the signature of its manifest.

    The manifest is read once: the bytes that are parsed are the bytes whose signature
    is checked. The signature status is returned, not raised (see
    :func:`hashmatch.signing.require_trusted`); a broken bundle raises
    :class:`BundleError` as with :func:`open_bundle`.
    """
    folder, manifest_path = _locate(path)
    raw = _read_manifest(manifest_path)
    check = verify_file(
        manifest_path, trusted, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw)
    )
    return _open(folder, manifest_path, raw), check


def sign_bundle(path: Path, private_key: Ed25519PrivateKey, publisher: str) -> Path:
    """Sign the manifest of the bundle at ``path``; return the signature file written.

    The bundle is opened first, so a manifest is only signed while the entries file is
    the one it pins.
    """
    bundle = open_bundle(path)
    return sign_file(bundle.manifest_path, private_key, publisher)


def _locate(path: Path) -> tuple[Path, Path]:
    folder = path.parent if path.name == MANIFEST_FILE and path.is_file() else path
    manifest_path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise BundleError(
            "not a bundle: a bundle is a folder with a manifest.json", source=str(path)
        )
    if not manifest_path.is_file():
        raise BundleError(f"not a bundle: no {MANIFEST_FILE} in it", source=str(path))
    return folder, manifest_path


def _read_manifest(manifest_path: Path) -> bytes:
    with open(manifest_path, "rb") as handle:
        raw = handle.read(_MAX_MANIFEST_BYTES + 1)
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise BundleError(
            f"larger than {_MAX_MANIFEST_BYTES} bytes: not a manifest", source=MANIFEST_FILE
        )
    return raw


def _open(folder: Path, manifest_path: Path, raw: bytes) -> Bundle:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"not JSON: {exc}", source=MANIFEST_FILE) from None
    try:
        manifest = BundleManifest.from_json(document)
    except BundleError as exc:
        raise BundleError(exc.reason, source=MANIFEST_FILE) from None
    entries_path = folder / manifest.entries.file
    _check_entries(entries_path, manifest.entries)
    return Bundle(
        path=folder,
        manifest=manifest,
        manifest_path=manifest_path,
        manifest_sha256=hashlib.sha256(raw).hexdigest(),
        entries_path=entries_path,
    )


def _check_entries(path: Path, pinned: BundleEntries) -> None:
    name = path.name
    changed = "the entries changed after the bundle was made"
    try:
        sha256, size = sha256_file(path)
    except FileNotFoundError:
        raise BundleError(f"missing: the manifest names {name}", source=name) from None
    if size != pinned.bytes:
        raise BundleError(f"{size} bytes, the manifest says {pinned.bytes}: {changed}", source=name)
    if sha256 != pinned.sha256:
        raise BundleError(
            f"SHA-256 {sha256} differs from the manifest's {pinned.sha256}: {changed}",
            source=name,
        )
    try:
        rows = pq.read_metadata(path).num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise BundleError(f"not a Parquet file: {exc}", source=name) from None
    if rows != pinned.rows:
        raise BundleError(f"{rows} rows, the manifest says {pinned.rows}", source=name)


# -- writing ------------------------------------------------------------------------------


def write_bundle(
    out_dir: Path,
    batches: Iterable[pa.RecordBatch],
    *,
    list_name: str,
    purpose: Purpose,
    description: str = "",
    created_by: str,
    source: BundleSource | None = None,
    strip_free_text: bool = False,
    version: int | None = None,
    created_at: datetime | None = None,
) -> Path:
    """Write the bundle folder ``out_dir`` from :data:`ENTRY_SCHEMA` batches; return it.

    The bundle is built in a hidden sibling folder and renamed into place, so it appears
    complete or not at all; nothing is left behind on failure. Raises :class:`Conflict`
    when ``out_dir`` exists, :class:`BundleError` when there is no entry, and
    :class:`ValueError` for batches that are not entries (a caller's mistake).
    """
    _check_arguments(list_name=list_name, created_by=created_by, version=version)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # The empty folder reserves the name (mkdir fails if it exists, even if it appeared a
    # moment ago); the finished bundle is renamed over it, which POSIX allows for an
    # empty folder and refuses for one that is not.
    try:
        out_dir.mkdir()
    except FileExistsError:
        raise Conflict(
            "exists already: hashmatch never overwrites a bundle", source=str(out_dir)
        ) from None
    building = out_dir.with_name(f".{out_dir.name}.partial-{uuid.uuid4().hex[:12]}")
    try:
        building.mkdir()
        entries_path = building / ENTRIES_FILE
        rows, schemes = _write_entries(entries_path, batches, strip=strip_free_text)
        if rows == 0:
            raise BundleError("no entries to bundle", source=out_dir.name)
        _fsync(entries_path)
        sha256, size = sha256_file(entries_path)
        manifest = BundleManifest(
            list_name=list_name,
            purpose=purpose,
            description=description,
            created_at=created_at or datetime.now(UTC).replace(microsecond=0),
            created_by=created_by.strip(),
            tool_version=__version__,
            entries=BundleEntries(
                file=ENTRIES_FILE,
                sha256=sha256,
                bytes=size,
                rows=rows,
                distinct=_distinct(entries_path),
            ),
            free_text_stripped=strip_free_text,
            label_schemes=tuple(sorted(schemes)),
            source=source,
            version=version,
        )
        text = json.dumps(manifest.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
        (building / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")
        _fsync(building / MANIFEST_FILE)
        _fsync(building)
        os.rename(building, out_dir)
        _fsync(out_dir.parent)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        with contextlib.suppress(OSError):
            out_dir.rmdir()  # only our empty reservation; never a bundle
        raise
    return out_dir


def _check_arguments(*, list_name: str, created_by: str, version: int | None) -> None:
    if not _LIST_NAME.fullmatch(list_name):
        raise InputError(
            f"{list_name!r} is not a list name (letters, digits, '.', '_', '-'; "
            "at most 64, starting with a letter or digit)"
        )
    if not created_by.strip():
        raise InputError("created_by is required (who made the bundle)")
    if version is not None and version < 1:
        raise InputError("a list version number is 1 or more")


def _write_entries(
    path: Path, batches: Iterable[pa.RecordBatch], *, strip: bool
) -> tuple[int, set[str]]:
    """Write the entries file; return its row count and the label schemes seen."""
    rows = 0
    schemes: set[str] = set()
    with pq.ParquetWriter(path, ENTRY_SCHEMA, compression="zstd") as writer:
        for batch in batches:
            if not batch.schema.equals(ENTRY_SCHEMA):
                raise ValueError(f"bundle entries must have ENTRY_SCHEMA, not {batch.schema}")
            if not batch.num_rows:
                continue
            _require_digests(batch)
            labels = _labels(batch.column("labels"), schemes, strip=strip)
            at = batch.schema.get_field_index("labels")
            writer.write_batch(batch.set_column(at, ENTRY_SCHEMA.field(at), labels))
            rows += batch.num_rows
    return rows, schemes


def _require_digests(batch: pa.RecordBatch) -> None:
    present = pc.or_(
        pc.or_(pc.is_valid(batch.column("md5")), pc.is_valid(batch.column("sha1"))),
        pc.is_valid(batch.column("sha256")),
    )
    if not pc.all(present).as_py():
        row = pc.index(present, False).as_py()
        line = batch.column("line")[row].as_py()
        raise ValueError(f"the entry of line {line} has no digest")


def _labels(labels: pa.Array, schemes: set[str], *, strip: bool) -> pa.Array:
    """Collect the ``scheme`` values of ``labels``; strip free text from them if asked.

    Each distinct labels text is decoded once: lists repeat a few label sets millions of
    times.
    """
    distinct = pc.unique(labels).drop_null()
    replaced: list[str | None] = []
    for text in distinct.to_pylist():
        try:
            decoded = decode_labels(text)
        except ValueError:
            raise ValueError(f"labels are not a JSON object: {text[:80]!r}") from None
        scheme = decoded.get(Label.SCHEME)
        if isinstance(scheme, str) and scheme:
            schemes.add(scheme)
        if strip:
            replaced.append(encode_labels(strip_labels(decoded)))
    if not strip or not len(distinct):
        return labels
    where = pc.index_in(labels, value_set=distinct, skip_nulls=True)
    return pa.array(replaced, pa.string()).take(where)


def _distinct(path: Path) -> DigestCounts:
    """Distinct digests per algorithm, read back one column at a time."""
    entries = pq.ParquetFile(path)
    counts: dict[Algorithm, int] = {}
    for algorithm in Algorithm:
        column = entries.read(columns=[algorithm.value]).column(0).drop_null()
        counts[algorithm] = count_distinct(digest_matrix(column)) if len(column) else 0
    return DigestCounts(
        md5=counts[Algorithm.MD5], sha1=counts[Algorithm.SHA1], sha256=counts[Algorithm.SHA256]
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- from a list file ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleBuild:
    """A bundle made from a list file, and what reading that file found."""

    bundle: Bundle
    counts: IngestCounts
    warnings: tuple[RecordWarning, ...]
    """The first warnings (malformed records skipped); ``warning_count`` has them all."""
    warning_count: int


def bundle_from_list_file(
    source_file: Path,
    out_dir: Path,
    *,
    registry: AdapterRegistry,
    fmt: str | None = None,
    list_name: str,
    purpose: Purpose,
    description: str = "",
    created_by: str,
    strip_free_text: bool = False,
    version: int | None = None,
    strict: bool = False,
    batch_size: int = 262_144,
) -> BundleBuild:
    """Read ``source_file`` (any list format hashmatch reads) and write it as a bundle.

    The file is read exactly as ``hashmatch ingest`` reads it (the same adapter choice,
    digest checks and dropped records), so a bundle holds what a load would have held.
    """
    _check_arguments(list_name=list_name, created_by=created_by, version=version)
    if out_dir.exists():  # checked again, atomically, by write_bundle
        raise Conflict("exists already: hashmatch never overwrites a bundle", source=str(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".hashmatch-bundle-", dir=out_dir.parent) as tmp:
        staged = stage_list_file(
            source_file,
            staging_dir=Path(tmp),
            registry=registry,
            fmt=fmt,
            strict=strict,
            batch_size=batch_size,
        )
        with pq.ParquetFile(staged.path) as staged_file:
            write_bundle(
                out_dir,
                staged_file.iter_batches(batch_size=batch_size),
                list_name=list_name,
                purpose=purpose,
                description=description,
                created_by=created_by,
                source=BundleSource(
                    name=staged.source_name,
                    sha256=staged.source_sha256,
                    adapter=staged.adapter,
                    adapter_version=staged.adapter_version,
                ),
                strip_free_text=strip_free_text,
                version=version,
            )
    return BundleBuild(
        bundle=open_bundle(out_dir),
        counts=staged.counts,
        warnings=staged.warnings,
        warning_count=staged.warning_count,
    )
