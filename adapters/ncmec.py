"""NCMEC hash-sharing entries documents saved as files (FORMATS.md §3).

::

    <queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
      <images count="2" maxTimestamp="...">
        <image>
          <member id="9001">Synthetic ESP</member>
          <timestamp>2024-03-01T12:00:00Z</timestamp>
          <id>syn-img-1</id>
          <classification>B2</classification>
          <fingerprints><md5>...</md5><sha1>...</sha1><pdna>...</pdna></fingerprints>
          <feedback/>
        </image>
        <deletedImage>...</deletedImage>
      </images>
      <videos ...><video>...</video><deletedVideo>...</deletedVideo></videos>
      <paging><next>/v2/entries?...&amp;start=1001...</next></paging>
    </queryResult>

The root is ``queryResult`` in the hash-sharing v2 namespace or in none (ThreatExchange
strips it; saved copies may lack it). Each live ``image``/``video`` entry is one record:

* digests: fingerprint children named after an algorithm hashmatch matches (``md5``,
  ``sha1``, and a ``sha256``-like name if one turns up) go to their columns;
* ``perceptual``: every other fingerprint as ``"<tag>:<text>"`` (``pdna``, ``pdq``, a vendor's
  fingerprint), or ``"<tag>:link"`` for a link-only one (``tmk-pdqf``, ``videntifier``: an
  ``href`` and no text). Links are kept as a fact, never followed;
* ``scheme`` ``ncmec``; ``category`` the ``classification`` verbatim (none when missing; a
  code other than A1, A2, B1, B2 is kept with a ``review`` note); ``member`` (the member
  id, as text); ``member_name``; ``source_id`` ``"<member id>-<entry id>"`` (the entry id is
  unique per member only); ``updated`` (the ``timestamp`` verbatim); ``ncmec_media``
  (``image`` or ``video``); ``ncmec_feedback`` (``["affirmative:Md5", "negative:Sha1"]``)
  when the entry carries feedback.

Text values are kept as written, less surrounding whitespace. ``line`` is the line of
the document on which the entry's start tag begins (expat reports it for free).

What a file ingest does not do:

* tombstones (``deletedImage``/``deletedVideo``) yield no record and no warning. Their
  ``"<member id>-<entry id>"`` keys are kept in :attr:`NcmecXmlAdapter.tombstones` after a
  read, for exchange deltas to apply;
* an entry that appears twice (same member and id: a reclassification) yields two records
  and the core keeps both sets of labels. Entries are not in time order in a response, so
  a file alone cannot say which one is current; the exchange client decides that;
* the paging ``next`` link is recorded (:attr:`NcmecXmlAdapter.next_page`), never fetched.

Read with ``NcmecXmlAdapter(exchange=True)`` (what the exchange client,
:mod:`hashmatch_adapters.ncmec_api`, does with each page), two things change, because a
page is a set of changes to keyed entries rather than a list:

* a live entry with no md5, sha1 or sha256 fingerprint (perceptual fingerprints only)
  still yields a record, with null digests and its labels, and no warning: it is the
  entry's current version and must replace an earlier one that had digests;
* an entry (live or deleted) without a member id or an id cannot be keyed: it is skipped,
  with a warning that says so.

Each tombstone is also kept with its timestamp and line in
:attr:`NcmecXmlAdapter.deleted` (parallel to :attr:`NcmecXmlAdapter.tombstones`).

Warnings: an entry with no md5 or sha1 (nor sha256) fingerprint, which is skipped; an entry
without a member id or an id (read all the same); a fingerprint given twice with different
values (the first is kept).
Malformed XML cannot be read past: before the root element it means "not this format",
after it the read stops with a :class:`RecordError` at the line expat reports, whatever
``strict`` says, so that a broken document is never taken for a shorter list. DTD entity
declarations are refused (no entity expansion, no external entity is ever resolved).

The document is parsed by expat as a stream, 64 KiB at a time: memory stays constant
however long it is (no element tree is built).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar
from xml.parsers import expat

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.labels import Label, Scheme
from hashmatch.records import LabelValue
from hashmatch.textio import decode_head

from ._common import BatchAssembler, BatchBuffer, algorithm_column

__all__ = ["INDUSTRY_CODES", "NAMESPACE", "NcmecTombstone", "NcmecXmlAdapter"]

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
"""The XML namespace of hash-sharing API v2 documents."""

ROOT = "queryResult"
INDUSTRY_CODES = frozenset({"A1", "A2", "B1", "B2"})
"""NCMEC industry classification codes (FORMATS.md §3.3)."""

_MEDIA = {"image": "image", "video": "video", "deletedImage": "image", "deletedVideo": "video"}
_DELETED = frozenset({"deletedImage", "deletedVideo"})
_SECTIONS = frozenset({"images", "videos"})
_FEEDBACK_SUFFIX = "Feedback"
_CHUNK = 1 << 16
_SEPARATOR = " "
"""expat joins a namespace URI and a local name with this (a space is in neither)."""
_RECORD_COLUMNS = ("md5", "sha1", "sha256", "labels")

# What encode_labels writes, without building an encoder per row.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_SCHEME = Scheme.NCMEC.value


@dataclass(frozen=True, slots=True, kw_only=True)
class NcmecTombstone:
    """A ``deletedImage``/``deletedVideo`` entry: which entry was withdrawn, and when."""

    key: str
    """``"<member id>-<entry id>"`` (``?`` for a part that is missing, in a file read)."""
    timestamp: str | None
    """The ``timestamp`` text verbatim, or None when the entry has none."""
    line: int
    """The line on which the entry's start tag begins."""
    media: str
    """``image`` or ``video``."""


class _Entry:
    """What has been read of one entry so far."""

    __slots__ = (
        "classification",
        "digests",
        "entry_id",
        "feedback",
        "line",
        "media",
        "member",
        "member_name",
        "perceptual",
        "problems",
        "timestamp",
    )

    def __init__(self, media: str, line: int) -> None:
        self.media = media
        self.line = line
        self.member: str | None = None
        self.member_name: str | None = None
        self.timestamp: str | None = None
        self.entry_id: str | None = None
        self.classification: str | None = None
        self.digests: list[str | None] = [None, None, None]
        self.perceptual: list[str] = []
        self.feedback: list[str] = []
        self.problems: list[str] = []

    def key(self) -> str:
        """``"<member id>-<entry id>"``, as ThreatExchange keys entries."""
        return f"{self.member or '?'}-{self.entry_id or '?'}"

    def labels(self) -> str:
        """The entry's labels as canonical JSON (what :func:`encode_labels` gives)."""
        labels: dict[str, LabelValue] = {Label.SCHEME: _SCHEME, "ncmec_media": self.media}
        if self.classification:
            labels[Label.CATEGORY] = self.classification
            if self.classification not in INDUSTRY_CODES:
                labels[Label.REVIEW] = (
                    f"classification {self.classification!r} is not an NCMEC industry code "
                    "(A1, A2, B1, B2)"
                )
        if self.member:
            labels[Label.MEMBER] = self.member
            if self.entry_id:
                labels[Label.SOURCE_ID] = f"{self.member}-{self.entry_id}"
        if self.member_name:
            labels[Label.MEMBER_NAME] = self.member_name
        if self.timestamp:
            labels[Label.UPDATED] = self.timestamp
        if self.perceptual:
            labels[Label.PERCEPTUAL] = self.perceptual
        if self.feedback:
            labels["ncmec_feedback"] = self.feedback
        return _ENCODE(labels)


class NcmecXmlAdapter(FormatAdapter):
    """NCMEC hash-sharing v2 entries documents (``queryResult``) read from a file.

    After :meth:`read` has run to the end, :attr:`tombstones` holds the keys of the
    deleted entries (:attr:`deleted` the same with their timestamps), :attr:`next_page`
    the paging link and :attr:`max_timestamps` the ``maxTimestamp`` of each section, for
    an exchange client to use; a file ingest ignores them. ``exchange=True`` reads a page
    of changes for the exchange client (see the module docstring).
    """

    NAME: ClassVar[str] = "ncmec-xml"
    DESCRIPTION: ClassVar[str] = "NCMEC hash-sharing XML entries documents (md5, sha1; A1-B2)"
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})
    PRIORITY: ClassVar[int] = 20

    def __init__(self, *, exchange: bool = False) -> None:
        self.exchange = exchange
        """Read a page of changes for the exchange client (see the module docstring):
        keep live entries that have no digest, skip entries that cannot be keyed."""
        self.tombstones: list[str] = []
        """``"<member id>-<entry id>"`` of every ``deletedImage``/``deletedVideo`` read."""
        self.deleted: list[NcmecTombstone] = []
        """The same tombstones with their timestamps and lines, in the same order."""
        self.next_page: str | None = None
        """The ``paging/next`` link, unescaped (relative to the API), or None on a last page."""
        self.max_timestamps: dict[str, str] = {}
        """``maxTimestamp`` by section (``images``, ``videos``), verbatim."""

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first element is ``queryResult``, in the v2 namespace or in none."""
        text = decode_head(head).removeprefix("\ufeff")
        position = 0
        while (found := _PROLOG.match(text, position)) is not None and found.end() > position:
            position = found.end()
        start = _ROOT_TAG.match(text, position)
        if start is None:
            return False
        prefix, attributes = start.group(1), start.group(2) or ""
        declared = "xmlns" + (f":{prefix}" if prefix else "")
        for attribute in _ATTRIBUTE.finditer(attributes):
            if attribute.group(1) == declared:
                return attribute.group(3) == NAMESPACE
        return prefix is None

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per live entry that has a digest, in document order."""
        self.tombstones = []
        self.deleted = []
        self.next_page = None
        self.max_timestamps = {}
        buffer = BatchBuffer(_RECORD_COLUMNS)
        warnings: list[tuple[int, str]] = []
        parse = _parser(self, context.source, buffer, warnings)
        assembler = BatchAssembler(context)
        while True:
            chunk = stream.read(_CHUNK)
            parse(chunk)
            if len(buffer) or warnings:
                found = warnings.copy()
                warnings.clear()
                yield from assembler.add(buffer.flush(), found)
            if not chunk:
                break
        yield from assembler.finish()


# Sniffing: what may come before the root element, and the root's start tag.
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)?", re.DOTALL)
_ROOT_TAG = re.compile(r"<(?:([A-Za-z_][\w.\-]*):)?queryResult(?=[\s/>]|$)([^>]*)")
_ATTRIBUTE = re.compile(r"""([\w.:\-]+)\s*=\s*(["'])(.*?)\2""", re.DOTALL)


def _parser(
    adapter: NcmecXmlAdapter,
    source: str,
    buffer: BatchBuffer,
    warnings: list[tuple[int, str]],
) -> Callable[[bytes], None]:
    """A function that parses the document a chunk at a time (an empty chunk ends it),
    appending the records it completes to ``buffer`` and the warnings to ``warnings``.

    The expat handlers are closures over plain local variables: they run for every
    element of lists of millions of entries, where attribute look-ups add up.
    """
    parser = expat.ParserCreate(namespace_separator=_SEPARATOR)
    parser.buffer_text = True
    parser.buffer_size = _CHUNK
    names: dict[str, str] = {}
    text: list[str] = []
    collect, clear_text = text.append, text.clear
    columns = buffer.columns
    add_line, add_md5, add_sha1, add_sha256, add_labels = (
        columns[name].append for name in ("line", *_RECORD_COLUMNS)
    )
    tombstones, deleted_entries = adapter.tombstones, adapter.deleted
    exchange = adapter.exchange
    depth = 0
    root_seen = False
    entry: _Entry | None = None
    deleted = False
    entry_depth = -1
    text_depth = -1
    section = ""
    fingerprint = ""
    href: str | None = None

    def where() -> int:
        return int(parser.CurrentLineNumber)

    def local_name(name: str) -> str:
        namespace, _, local = name.rpartition(_SEPARATOR)
        if depth == 1:
            if local != ROOT:
                raise UnsupportedFormat(
                    f"the root element is <{local}>, not <{ROOT}>", source=source, line=where()
                )
            if namespace not in ("", NAMESPACE):
                raise UnsupportedFormat(
                    f"<{ROOT}> is in the namespace {namespace!r}, not {NAMESPACE!r}",
                    source=source,
                    line=where(),
                )
        names[name] = local
        return local

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, root_seen, entry, deleted, entry_depth, text_depth, section
        nonlocal fingerprint, href
        depth += 1
        local = names.get(name) or local_name(name)
        if entry is None:
            if depth == 1:
                root_seen = True
            elif local in _MEDIA:
                deleted = local in _DELETED
                entry = _Entry(_MEDIA[local], where())
                entry_depth = depth
            elif depth == 2 and local in _SECTIONS:
                stamp = attributes.get("maxTimestamp")
                if stamp is not None:
                    adapter.max_timestamps[local] = stamp
            elif depth == 3 and local == "next":
                text_depth = depth
                parser.CharacterDataHandler = collect
            return
        level = depth - entry_depth
        if level == 1:
            section = local
            if local in ("member", "timestamp", "id", "classification"):
                if local == "member":
                    entry.member = attributes.get("id")
                text_depth = depth
                parser.CharacterDataHandler = collect
        elif level == 2:
            if section == "fingerprints":
                fingerprint = local
                href = attributes.get("href")
                text_depth = depth
                parser.CharacterDataHandler = collect
            elif section == "feedback" and local.endswith(_FEEDBACK_SUFFIX):
                kind = local[: -len(_FEEDBACK_SUFFIX)]
                entry.feedback.append(f"{kind}:{attributes.get('type', '')}")

    def end(_: str) -> None:
        nonlocal depth, entry, text_depth
        if depth == text_depth:
            # Whitespace between elements is never handed to Python: the text handler
            # is set only while an element whose text is wanted is open.
            parser.CharacterDataHandler = None
            value = "".join(text).strip()
            clear_text()
            text_depth = -1
            if entry is None:
                adapter.next_page = value or None
            elif depth - entry_depth == 1:
                keep_field(entry, value)
            else:
                keep_fingerprint(entry, value)
        elif depth == entry_depth and entry is not None:
            finish(entry)
            entry = None
        depth -= 1

    def keep_field(entry: _Entry, value: str) -> None:
        # A field given twice keeps its first value.
        if section == "member":
            entry.member_name = entry.member_name or value
        elif section == "timestamp":
            entry.timestamp = entry.timestamp or value
        elif section == "id":
            entry.entry_id = entry.entry_id or value
        elif entry.classification is None:
            entry.classification = value or None

    def keep_fingerprint(entry: _Entry, value: str) -> None:
        column = algorithm_column(fingerprint)
        if column is not None:
            if not value:
                return
            kept = entry.digests[column]
            if kept is None:
                entry.digests[column] = value
            elif kept != value:
                entry.problems.append(f"has two {fingerprint} fingerprints; kept the first")
        elif value:
            entry.perceptual.append(f"{fingerprint}:{value}")
        elif href:
            entry.perceptual.append(f"{fingerprint}:link")

    def finish(entry: _Entry) -> None:
        described = f"entry {entry.key()}"
        if not (entry.member and entry.entry_id):
            kind = "deleted " if deleted else ""
            if exchange:
                reason = f"{kind}{described} has no member id or id: it cannot be keyed, skipped"
                warnings.append((entry.line, reason))
                return
            warnings.append((entry.line, f"{kind}{described} has no member id or id"))
        if deleted:
            tombstones.append(entry.key())
            deleted_entries.append(
                NcmecTombstone(
                    key=entry.key(), timestamp=entry.timestamp, line=entry.line, media=entry.media
                )
            )
            return
        warnings.extend((entry.line, f"{described} {problem}") for problem in entry.problems)
        md5, sha1, sha256 = entry.digests
        if md5 is None and sha1 is None and sha256 is None and not exchange:
            warnings.append((entry.line, f"{described} has no md5 or sha1 fingerprint"))
            return
        add_line(entry.line)
        add_md5(md5)
        add_sha1(sha1)
        add_sha256(sha256)
        add_labels(entry.labels())

    def refuse_entities(name: str, *_: object) -> None:
        # Declarations come before the root element: this is never a document to read.
        raise UnsupportedFormat(
            f"the document declares an entity ({name!r}): entities are not accepted",
            source=source,
            line=where(),
        )

    def parse(chunk: bytes) -> None:
        try:
            parser.Parse(chunk, not chunk)
        except expat.ExpatError as exc:
            reason = expat.errors.messages.get(exc.code, str(exc))
            if not root_seen:
                raise UnsupportedFormat(
                    f"not an XML document: {reason}", source=source, line=exc.lineno
                ) from None
            if not chunk:
                reason = f"the document ends before </{ROOT}> (truncated?): {reason}"
            else:
                reason = f"malformed XML, the document cannot be read past here: {reason}"
            raise RecordError(reason, source=source, line=exc.lineno) from None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = refuse_entities
    return parse
