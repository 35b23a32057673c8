"""Project VIC VICS JSON: hash sets and case exports of data models 1.2, 1.3 and 2.0.

FORMATS.md §1. A VICS file is one OData-style JSON object whose model key names the data
model, its version, its regional profile (2.0) and its shape::

    {"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media",
     "value": [{"MediaID": 1, "Category": 0, "MD5": "8AE3...ACE1", "MediaSize": 21}, ...]}

* model key ``odata.metadata`` (1.x) or ``@odata.context`` (2.0), matched without regard to
  case; its value must name ``ProjectVic/DataModels/<version>.xml`` (1.2, 1.3 or 2.0, any
  case), in 2.0 followed by ``/<profile>/$metadata``, and end in ``#Media`` (a hash set:
  ``value`` is the array of Media records) or ``#Cases`` (a case export: ``value`` is an
  array of cases, each with a ``Media`` array). Anything else is :class:`UnsupportedFormat`.
  The model key must come before ``value``; other root keys are skipped.
* every key, of the root, a case or a Media record, is matched without regard to case.
* per Media record: ``MD5`` and ``SHA1`` (text, passed on for the core to check), a
  SHA-256 from ``SHA256`` or from any nested array of ``HashName``/``HashValue`` pairs
  (``AlternativeHashes``) named ``SHA256``/``SHA-256``; ``MediaSize`` as a number or text;
  the first ``MediaFiles`` ``FileName`` (else ``FileName``, else the base name of
  ``RelativeFilePath``) as the record's ``path``. A record with none of MD5, SHA1 and
  SHA-256 is skipped with a warning.

``line`` is the **1-based index of the Media record in the file** (in a case export,
counted across all cases), not a text line: JSON distributions are often one line. Warnings
say ``record N`` and the MediaID where there is one.

Labels per record (the shared vocabulary of :mod:`hashmatch.labels`, plus ``vics_*`` keys)::

    {"scheme": "vics-us", "category": "1", "victim_identified": true,
     "series": "Synthetic Series", "perceptual": ["photodna:2YqY..."], "source_id": "2",
     "updated": "2024-05-01T10:00:00.0000Z", "vics_version": "2.0", "vics_profile": "Default"}

* ``scheme``: ``vics-us`` for 1.x and for the 2.0 ``Default`` and ``US`` profiles,
  ``vics-uk`` for 2.0 ``UK``, ``vics-<profile in lower case>`` for any other profile.
* ``category``: the ``Category`` code verbatim as text (``1`` and ``"1"`` both give "1");
  absent or null gives no category. Nothing is inferred from a 0 or a missing code.
* booleans ``victim_identified``, ``offender_identified``, ``distributed``
  (IsDistributed), ``precategorized``, ``suspected`` (IsSuspected), from JSON booleans or
  the strings true/false in any case; null is "not said".
* free text verbatim: ``series``, ``tags`` (an array of texts stays a list),
  ``comments``, ``updated`` (DateUpdated, never parsed, so an odd timestamp never fails a
  record or warns); ``source_id`` is the MediaID as text.
* ``perceptual``: PhotoDNA values (the Media field, or an ``AlternativeHashes`` pair) as
  ``photodna:<value>``, kept verbatim and never put in a digest column.
* ``vics_version``, ``vics_profile`` (2.0 only, verbatim) and, in case exports,
  ``vics_case_number`` (when ``CaseNumber`` comes before the case's ``Media``).

Category codes of profiles whose scheme is not public (every 2.0 profile but ``Default``
and ``US``: ``UK`` is CAID's) go through the administrator's per-profile category table,
described in :mod:`hashmatch_adapters.caid`: a mapped code adds ``<scheme>_category`` and
``category_table``; an unmapped one, or a profile with no table, adds ``review``.

Malformed values of a later record (a MediaSize that is no byte count, a Category that is
no integer, a flag that is neither true nor false, a digest that is not text) are warnings
and the field is dropped; an unreadable Category also adds ``review``. A first record that
is not a Media object with a digest means "not this format"; so does a root that is not a
VICS root. The JSON itself must be well formed: a file that is cut short or broken cannot
be read on, and is a :class:`RecordError` (strict or not) saying after which record.

Reading streams whatever the file's size. Files are UTF-8, UTF-8 with a BOM or UTF-16
(with a BOM, or told by its zero bytes), transcoded to UTF-8 as they are read.

* The reference, :meth:`VicsAdapter.read_by_event`, builds every record from ijson's parse
  events and reads :data:`CHUNK` records at a time, a field at a time across the chunk.
  Case exports, and hash sets whose ``value`` key is not in the first 64 KiB, are always
  read so.
* The fast path, :meth:`VicsAdapter.read` on a hash set, reads the ``value`` array
  :data:`FAST_BYTES` at a time (:class:`_FastReader`): it cuts the bytes after the last
  whole record, has Arrow's JSON reader parse them (in a worker thread, while the previous
  group's rows are made and consumed) and reads Arrow's columns
  (:meth:`_MediaChunks.arrow_rows`), each distinct flag, code or series once. Records Arrow
  cannot read as ijson does (a key in other case, a fraction, a date Arrow would take for a
  timestamp, an escape...) are read from ijson's items; bytes that are not JSON go back to
  the reference reader from the last record let through, which fails where it would have.
  Rows and warnings wait (:class:`_Committer`) until the reference would have let them
  through, so both give the same batches, warnings and errors, and the tests hold them to
  it. Memory holds two groups of bytes, their parse and one batch.

The ``vics-case`` adapter (:mod:`hashmatch_adapters.vics_case`) reads the same files as
manifests, one row per file, through the ``expand`` hook of :func:`read_vics`.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeAlias

import ijson  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from hashmatch.adapter import HEAD_BYTES, FormatAdapter, ReadContext, Role
from hashmatch.errors import ConfigurationError, RecordError, UnsupportedFormat
from hashmatch.labels import Label, Scheme
from hashmatch.records import RECORD_SCHEMA
from hashmatch.textio import decode_head, detect_bom

from ._common import MAX_SIZE, BatchAssembler, parse_size

__all__ = [
    "TABLE_FORMAT",
    "CategoryTable",
    "Expand",
    "VicsAdapter",
    "VicsModel",
    "default_table_folder",
    "get_any_case",
    "json_kind",
    "load_category_table",
    "parse_category_table",
    "parse_model",
    "read_vics",
    "sniff_model",
]

MODEL_KEYS = frozenset({"odata.metadata", "@odata.context"})
VERSIONS = ("1.2", "1.3", "2.0")
PUBLIC_PROFILES = frozenset({"default", "us"})
"""2.0 profiles whose category codes are the public Project VIC US scheme."""

TABLE_FORMAT = "hashmatch-category-table/1"
TABLE_OPTION = "category_tables"
"""The :attr:`ReadContext.options` key naming the folder of category tables."""

_MODEL_URL = re.compile(
    r"/projectvic/datamodels/(?P<version>[0-9]+\.[0-9]+)\.xml"
    r"(?:/(?P<profile>[^/#$?]+)/\$metadata)?#(?P<shape>[a-z]+)\s*",
    re.IGNORECASE,
)
_HEAD_MODEL = re.compile(
    r'"(odata\.metadata|@odata\.context)"\s*:\s*"((?:[^"\\]|\\.){0,2000})"', re.IGNORECASE
)
_SCHEME_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_PATH_SPLIT = re.compile(r"[\\/]")

# Media keys as the data model spells them: a record spelled so is read as it is, any other
# spelling is first mapped onto these (keys are case-insensitive in the wild).
_MEDIA_KEYS = (
    "MediaID",
    "Category",
    "MD5",
    "SHA1",
    "SHA256",
    "PhotoDNA",
    "MediaSize",
    "DateUpdated",
    "VictimIdentified",
    "OffenderIdentified",
    "IsDistributed",
    "IsPrecategorized",
    "PrecategorizationSource",
    "IsSuspected",
    "Series",
    "Tags",
    "Comments",
    "RelativeFilePath",
    "FileName",
    "MimeType",
    "Exifs",
    "MediaFiles",
    "AlternativeHashes",
)
_CANONICAL = frozenset(_MEDIA_KEYS)
_BY_LOWER = {key.lower(): key for key in _MEDIA_KEYS}
_SHA256_NAMES = frozenset({"SHA256", "SHA2256"})

# Label values go into the row's JSON already encoded, the way json.dumps(ensure_ascii=False)
# encodes them, so that a batch's label objects are joined column-wise by Arrow.
_TRUE, _FALSE = "true", "false"


@dataclass(frozen=True, kw_only=True, slots=True)
class VicsModel:
    """What a VICS file's model key says: data-model version, shape, regional profile."""

    key: str
    """The model key as written (``odata.metadata`` or ``@odata.context``)."""
    url: str
    version: str
    """``1.2``, ``1.3`` or ``2.0``."""
    shape: str
    """``Media`` (a hash set) or ``Cases`` (a case export)."""
    profile: str | None
    """The 2.0 regional profile as written (``Default``, ``US``, ``UK``...); None in 1.x."""

    @property
    def scheme(self) -> str:
        """The category scheme of this model's ``Category`` codes."""
        if self.profile is None or self.profile.lower() in PUBLIC_PROFILES:
            return Scheme.VICS_US.value
        if self.profile.lower() == "uk":
            return Scheme.VICS_UK.value
        return f"vics-{self.profile.lower()}"

    @property
    def needs_table(self) -> bool:
        """Whether codes are only read through an administrator's category table."""
        return self.profile is not None and self.profile.lower() not in PUBLIC_PROFILES

    @property
    def is_uk(self) -> bool:
        """A CAID file: data model 2.0, UK profile."""
        return self.version == "2.0" and (self.profile or "").lower() == "uk"


def parse_model(key: str, url: object) -> VicsModel | str:
    """The model a root's model key and value name, or why they name none we read."""
    if key.lower() not in MODEL_KEYS:
        return f"{key!r} is not a VICS model key"
    if not isinstance(url, str):
        return f"the model key {key!r} holds no URL"
    found = _MODEL_URL.search(url)
    if found is None or found.end() != len(url):
        return f"not a ProjectVic DataModels URL: {url[:200]!r}"
    version, profile, shape = found.group("version", "profile", "shape")
    if version not in VERSIONS:
        return f"VICS data model {version} is not supported (only {', '.join(VERSIONS)})"
    if shape.lower() not in ("media", "cases"):
        return f"the model names #{shape}, neither #Media nor #Cases"
    if version == "2.0" and profile is None:
        return f"the 2.0 model URL names no regional profile: {url[:200]!r}"
    if version != "2.0" and profile is not None:
        return f"a {version} model URL with a profile is not one we know: {url[:200]!r}"
    return VicsModel(
        key=key,
        url=url,
        version=version,
        shape="Media" if shape.lower() == "media" else "Cases",
        profile=profile,
    )


def sniff_model(head: bytes) -> VicsModel | str | None:
    """The model of a file from its first bytes: None when it is not a JSON object with a
    ProjectVic DataModels model key, the reason when that model is one we do not read."""
    text = decode_head(head).lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return None
    found = _HEAD_MODEL.search(text)
    if found is None:
        return None
    try:
        url = json.loads(f'"{found.group(2)}"')
    except ValueError:
        return None
    if "projectvic/datamodels/" not in url.lower():
        return None
    return parse_model(found.group(1), url)


# ---------------------------------------------------------------------------------------
# Category tables


@dataclass(frozen=True, kw_only=True, slots=True)
class CategoryTable:
    """An administrator's table of one profile's category codes (format in the caid module)."""

    profile: str
    version: str
    scheme: str
    """The scheme the mapped labels belong to (``uk``): the label key is ``<scheme>_category``."""
    codes: Mapping[str, str]
    """Raw code text, as the source writes it, to its label in :attr:`scheme`."""
    source: str
    """Where the table was read from (for messages)."""

    @property
    def label_key(self) -> str:
        """The label key a mapped code goes to."""
        return f"{self.scheme}_category"

    @property
    def reference(self) -> str:
        """``<profile>@<version>``: which table mapped a record."""
        return f"{self.profile}@{self.version}"


def parse_category_table(data: bytes, source: str, profile: str | None = None) -> CategoryTable:
    """A category table from its file's bytes; :class:`ConfigurationError` naming ``source``
    and the reason when it is malformed (or is not ``profile``'s table)."""

    def bad(reason: str) -> ConfigurationError:
        return ConfigurationError(f"malformed category table: {reason}", source=source)

    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise bad("the table must be a JSON object")
    if document.get("format") != TABLE_FORMAT:
        raise bad(f"'format' must be {TABLE_FORMAT!r}, not {document.get('format')!r}")
    texts = {}
    for key in ("profile", "version", "scheme"):
        value = document.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad(f"{key!r} must be non-empty text, not {value!r}")
        texts[key] = value
    if not _SCHEME_NAME.fullmatch(texts["scheme"]):
        raise bad(f"'scheme' must be a lower-case name like 'uk', not {texts['scheme']!r}")
    if profile is not None and texts["profile"].lower() != profile.lower():
        raise bad(f"it is the table of profile {texts['profile']!r}, not {profile!r}")
    codes = document.get("codes")
    if not isinstance(codes, dict) or not codes:
        raise bad("'codes' must be a non-empty object of code: label")
    for code, label in codes.items():
        if not code.strip() or not isinstance(label, str) or not label.strip():
            raise bad(f"code {code!r} must map to non-empty text, not {label!r}")
    return CategoryTable(
        profile=texts["profile"],
        version=texts["version"],
        scheme=texts["scheme"],
        codes=dict(codes),
        source=source,
    )


def default_table_folder() -> Traversable:
    """The folder shipped with hashmatch (``hashmatch/data/category-tables``)."""
    return resources.files("hashmatch") / "data" / "category-tables"


def load_category_table(profile: str, options: Mapping[str, str]) -> CategoryTable | None:
    """``profile``'s table: ``<folder>/<profile>.json`` (the name's case does not matter) in
    the folder ``options["category_tables"]`` names, else in the shipped folder; None when
    there is none."""
    configured = options.get(TABLE_OPTION)
    folder: Traversable
    if configured:
        folder = Path(configured)
        if not folder.is_dir():
            raise ConfigurationError(
                f"the {TABLE_OPTION} folder {configured!r} is not a folder", source=configured
            )
    else:
        folder = default_table_folder()
        if not folder.is_dir():
            return None
    wanted = f"{profile.lower()}.json"
    found = [entry for entry in folder.iterdir() if entry.name.lower() == wanted]
    if not found:
        return None
    if len(found) > 1:
        names = ", ".join(sorted(entry.name for entry in found))
        raise ConfigurationError(f"more than one category table for profile {profile}: {names}")
    table = found[0]
    source = str(table)
    return parse_category_table(table.read_bytes(), source, profile)


# ---------------------------------------------------------------------------------------
# Bytes to UTF-8 JSON text


class _Utf8Source:
    """A stream's bytes as UTF-8, for ijson: BOM dropped, UTF-16 transcoded as it is read.

    Bytes read ahead (to sniff the model) can be handed back with :meth:`unread`.
    """

    __slots__ = ("_decoder", "_eof", "_pending", "_raw")

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        first = b""
        while len(first) < 4:
            more = raw.read(4 - len(first))
            if not more:
                break
            first += more
        encoding, skip = detect_bom(first)
        if encoding is None and len(first) == 4:
            # No BOM: JSON text starts with ASCII, so zero bytes tell UTF-16 and its order.
            if first[0] and not first[1] and not first[3]:
                encoding = "utf-16-le"
            elif not first[0] and first[1] and not first[2]:
                encoding = "utf-16-be"
        self._decoder: codecs.IncrementalDecoder | None = None
        if encoding is not None and encoding != "utf-8":
            self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._eof = False
        self._pending = self._transcode(first[skip:])

    def _transcode(self, data: bytes, final: bool = False) -> bytes:
        if self._decoder is None:
            return data
        return self._decoder.decode(data, final).encode("utf-8")

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of UTF-8 (all that is left for a negative size)."""
        if size == 0:
            return b""
        if self._decoder is None and not self._pending:
            return self._raw.read(size)
        want = size if size > 0 else 1 << 62
        while len(self._pending) < want and not self._eof:
            chunk = self._raw.read(max(want - len(self._pending), 1 << 16) if size > 0 else -1)
            if not chunk:
                self._eof = True
                self._pending += self._transcode(b"", final=True)
                break
            self._pending += self._transcode(chunk)
        out, self._pending = self._pending[:want], self._pending[want:]
        return out

    def unread(self, data: bytes) -> None:
        """Hand back bytes read ahead: they are read again first."""
        self._pending = data + self._pending


# ---------------------------------------------------------------------------------------
# The JSON structure, from parse events


class _NotVics(Exception):
    """The root of the document is not a VICS root we read (turned into UnsupportedFormat)."""


@dataclass(frozen=True, slots=True)
class _Header:
    model: VicsModel
    value_key: str
    """The root key holding the records, as spelled in the file."""


@dataclass(frozen=True, slots=True)
class _CaseProblem:
    """An entry of a case export's ``value`` that is no case, or a case with no Media array."""

    reason: str


def json_kind(value: object) -> str:
    """What a JSON value is, for messages: ``an object``, ``text``, ``a number``..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


class _EventWalker:
    """Walks a VICS document's ijson ``basic_parse`` events: the root and model first
    (:meth:`header`), then every Media record as a Python object (:meth:`records`).

    The keys of the root and of cases are matched without regard to case. While a case
    export is walked, :attr:`case_number` is the number of the case being read.
    """

    def __init__(self, events: Iterator[tuple[str, Any]]) -> None:
        self._events = events
        self.case_number: str | None = None
        self._header: _Header | None = None

    def _next(self) -> tuple[str, Any]:
        try:
            return next(self._events)
        except StopIteration:
            raise ijson.IncompleteJSONError("premature EOF") from None

    def header(self) -> _Header:
        """Read up to the start of the records array; :class:`_NotVics` if that fails."""
        event, _ = self._next()
        if event != "start_map":
            raise _NotVics("the file is not a JSON object")
        model: VicsModel | None = None
        while True:
            event, key = self._next()
            if event == "end_map":
                if model is None:
                    raise _NotVics("no VICS model key (odata.metadata or @odata.context)")
                raise _NotVics("the VICS root has no 'value' array")
            lower = key.lower()
            if lower in MODEL_KEYS and model is None:
                event, url = self._next()
                if event in ("start_map", "start_array"):
                    self._skip(event)
                    url = None
                parsed = parse_model(key, url)
                if isinstance(parsed, str):
                    raise _NotVics(parsed)
                model = parsed
            elif lower == "value":
                if model is None:
                    raise _NotVics("'value' comes before the model key")
                event, _ = self._next()
                if event != "start_array":
                    raise _NotVics("'value' is not an array")
                self._header = _Header(model, key)
                return self._header
            else:
                self._skip(self._next()[0])

    def resume(self, header: _Header, *, after_comma: bool) -> None:
        """Take up the records of a hash set where the fast path left them: the events are
        those of :data:`_ARRAY_OPEN` (and ``0,`` when ``after_comma``), then the file's."""
        for _ in range(4 if after_comma else 3):
            self._next()
        self._header = header

    def records(self) -> Iterator[object]:
        """Every Media record (any JSON value) and :class:`_CaseProblem`, in file order."""
        assert self._header is not None, "header() first"
        value_key = self._header.value_key
        cases = self._header.model.shape == "Cases"
        while True:
            yield from self._case_records() if cases else self._array_items()
            # After the array: the rest of the root. A second array under the same key
            # holds records too (ijson's items() reads it so).
            while True:
                event, key = self._next()
                if event == "end_map":
                    try:
                        next(self._events)
                    except StopIteration:
                        return
                    raise ijson.IncompleteJSONError("trailing garbage")
                event, _ = self._next()
                if key == value_key and event == "start_array":
                    break
                self._skip(event)

    def _array_items(self) -> Iterator[object]:
        """The elements of the array whose ``start_array`` was just read."""
        while True:
            event, value = self._next()
            if event == "end_array":
                return
            yield self._build(event, value)

    def _case_records(self) -> Iterator[object]:
        position = 0
        while True:
            event, value = self._next()
            if event == "end_array":
                return
            position += 1
            if event != "start_map":
                self._skip(event)
                yield _CaseProblem(f"case {position} is {json_kind(value)}, not a case object")
                continue
            self.case_number = None
            media = False
            while True:
                event, key = self._next()
                if event == "end_map":
                    break
                lower = key.lower()
                event, value = self._next()
                media = media or lower == "media"
                if lower == "media" and event == "start_array":
                    yield from self._array_items()
                elif lower == "media" and event != "null":
                    self._skip(event)
                    yield _CaseProblem(f"the Media of case {position} is not an array")
                elif lower == "casenumber" and event in ("string", "number"):
                    self.case_number = str(value)
                else:
                    self._skip(event)
            if not media:
                # Most likely a Media record in a file whose model says #Cases.
                yield _CaseProblem(f"case {position} has no Media array")

    def _build(self, event: str, value: Any) -> Any:
        """The JSON value that starts with ``event`` (as ijson's item builder makes it)."""
        if event == "start_map":
            built: dict[str, Any] = {}
            while True:
                event, key = self._next()
                if event == "end_map":
                    return built
                built[key] = self._build(*self._next())
        if event == "start_array":
            items: list[Any] = []
            while True:
                event, value = self._next()
                if event == "end_array":
                    return items
                items.append(self._build(event, value))
        return value

    def _skip(self, event: str) -> None:
        """Skip the value that starts with ``event``."""
        if event not in ("start_map", "start_array"):
            return
        depth = 1
        while depth:
            event, _ = self._next()
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1


def _scan_head(head: bytes) -> _Header | None:
    """The header from the first bytes alone; None when they end before ``value`` starts
    (or break off as JSON: the full read then says where)."""
    walker = _EventWalker(ijson.basic_parse(io.BytesIO(head)))
    try:
        return walker.header()
    except ijson.JSONError:
        return None


_WHITESPACE = re.compile(r"[ \t\r\n]*")


def _array_start(head: bytes, value_key: str) -> int | None:
    """The offset in ``head`` just after the ``[`` that opens the records array, found by
    walking the root's keys (``head`` is known to reach that far: :func:`_scan_head` read
    it); None when the walk fails, and the records are then read from parse events."""
    # Latin-1 keeps byte offsets, and every JSON structural character is ASCII.
    text = head.decode("latin-1")
    decoder = json.JSONDecoder()
    at = _WHITESPACE.match(text).end()  # type: ignore[union-attr]
    if text[at : at + 1] != "{":
        return None
    at += 1
    try:
        while True:
            at = _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at : at + 1] != '"':
                return None
            end = json.decoder.scanstring(text, at + 1)[1]  # type: ignore[attr-defined]
            key = json.loads(head[at:end])
            at = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
            if text[at : at + 1] != ":":
                return None
            at = _WHITESPACE.match(text, at + 1).end()  # type: ignore[union-attr]
            if key == value_key:
                return at + 1 if text[at : at + 1] == "[" else None
            at = decoder.raw_decode(text, at)[1]
            at = _WHITESPACE.match(text, at).end()  # type: ignore[union-attr]
            if text[at : at + 1] != ",":
                return None
            at += 1
    except ValueError:
        return None


def _json_reason(exc: Exception, index: int) -> str:
    """What ijson's error says, and after which record (``index`` is the one being read),
    without the file text it quotes."""
    message = exc.args[0] if exc.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    lines = str(message).strip().splitlines()
    first = lines[0] if lines else "malformed JSON"
    after = f"after record {index - 1}" if index > 1 else "before the first record"
    if "premature EOF" in first:
        return f"the file is truncated: it ends {after}, inside the JSON"
    return f"malformed JSON {after}: {first}"


# ---------------------------------------------------------------------------------------
# Media records to rows


def _text(value: object) -> str | None:
    """A scalar as text (None for null or ""); :class:`ValueError` for an object or array."""
    if value.__class__ is str:
        return value or None
    if value is None:
        return None
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    if isinstance(value, int | Decimal | float):
        return str(value)
    raise ValueError(f"{json_kind(value)}, not text")


def _flag(value: object) -> str | None:
    """A flag as JSON text (true/false), None when not said; :class:`ValueError` otherwise."""
    if value is None:
        return None
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in (_TRUE, _FALSE):
            return lowered
        if not lowered:
            return None
    raise ValueError("neither true nor false: " + _shown(value))


def _shown(value: object) -> str:
    """A value as a short JSON text, for messages."""
    if isinstance(value, Decimal):
        return str(value)[:40]
    return json.dumps(value, default=str, ensure_ascii=False)[:40]


def get_any_case(mapping: dict[str, Any], key: str) -> Any:
    """``mapping[key]`` with the key in any case."""
    if key in mapping:
        return mapping[key]
    lower = key.lower()
    for name, value in mapping.items():
        if name.lower() == lower:
            return value
    return None


def _hash_pairs(value: object, found: list[tuple[str, str]], depth: int = 0) -> None:
    """Collect every ``HashName``/``HashValue`` pair (keys in any case) nested in ``value``."""
    if depth > 8:
        return
    if value.__class__ is list:
        for item in value:
            if item.__class__ is dict or item.__class__ is list:
                _hash_pairs(item, found, depth + 1)
        return
    mapping: dict[str, Any] = value  # type: ignore[assignment]
    name = mapping.get("HashName")
    digest = mapping.get("HashValue")
    if name is None or digest is None:
        name, digest = get_any_case(mapping, "HashName"), get_any_case(mapping, "HashValue")
    if name.__class__ is str and digest.__class__ is str:
        found.append((name, digest))
    for item in mapping.values():
        if item.__class__ is dict or item.__class__ is list:
            _hash_pairs(item, found, depth + 1)


# Label columns a chunk fills, in this order; a category table's two follow them.
_LABELS = (
    Label.CATEGORY.value,
    Label.REVIEW.value,
    Label.VICTIM_IDENTIFIED.value,
    Label.OFFENDER_IDENTIFIED.value,
    Label.DISTRIBUTED.value,
    Label.PRECATEGORIZED.value,
    Label.SUSPECTED.value,
    Label.SERIES.value,
    Label.TAGS.value,
    Label.COMMENTS.value,
    Label.UPDATED.value,
    Label.PERCEPTUAL.value,
    Label.SOURCE_ID.value,
    "vics_case_number",
)
_FLAGS = (
    "VictimIdentified",
    "OffenderIdentified",
    "IsDistributed",
    "IsPrecategorized",
    "IsSuspected",
)
"""The Media flags, in the order of their labels in ``_LABELS``."""
_FREE_TEXTS = ("Series", "Tags", "Comments")
_FLAG_LABELS, _TEXT_LABELS = _LABELS[2:7], _LABELS[7:10]
# Only records with one of these keys (or unknown ones) need a search for nested hash
# pairs; only those with one of the path keys have a file name.
_CONTAINERS = ("AlternativeHashes", "MediaFiles", "Exifs")
_PATH_KEYS = ("MediaFiles", "FileName", "RelativeFilePath")
_STR_OR_NONE = frozenset({str, type(None)})
_INT_OR_NONE = frozenset({int, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})
_FLAG_KINDS = frozenset({bool, str, type(None)})
# How flags are spelled (not to be used on ints: 1 and True are one key).
_FLAG_TEXTS: dict[object, str | None] = {None: None, True: _TRUE, False: _FALSE, "": None}
for _word in (_TRUE, _FALSE):
    _FLAG_TEXTS.update(dict.fromkeys((_word, _word.upper(), _word.title()), _word))
_NO_ROWS = pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA)

CHUNK = 4096
"""Media records read at a time: each field is then read across the chunk at once."""

# A record's problems are reported in this order.
_NOT_AN_OBJECT, _MD5, _SHA1, _SHA256, _NO_DIGEST, _PHOTODNA, _PAIRS, _SIZE, _CATEGORY = range(9)
_FIRST_FLAG, _FIRST_TEXT = 10, 20
_FATAL = frozenset({_NOT_AN_OBJECT, _NO_DIGEST})
"""Problems that cost the record; in the file's first record, "not this format"."""
_KEPT_WHEN_SKIPPED = frozenset({_NOT_AN_OBJECT, _MD5, _SHA1, _SHA256, _NO_DIGEST})

_Problem = tuple[int, int, str]
"""(position in the chunk, order in the record, reason) of a bad record or field."""


def _respelled(media: dict[str, Any]) -> dict[str, Any]:
    """A Media object with its keys spelled as the data model spells them."""
    return {_BY_LOWER.get(key.lower(), key): value for key, value in media.items()}


def _photodna_values(text: str) -> list[str]:
    """The values of a PhotoDNA field: writers keep room for several, split by ``|``,
    commas or white space (str methods: a regular expression is slow on 192 characters)."""
    return text.replace("|", " ").replace(",", " ").split()


def _json_list(items: list[str]) -> str | None:
    """Texts as an encoded JSON array (empty ones and repeats dropped); None if none is left."""
    kept = dict.fromkeys(encode_basestring(item) for item in items if item)
    return f"[{','.join(kept)}]" if kept else None


def _digests(
    values: list[Any], at: Sequence[int], name: str, order: int, problems: list[_Problem]
) -> list[str | None]:
    """A digest field: its texts (None for null or empty), a problem for anything else."""
    if set(map(type, values)) <= _STR_OR_NONE:
        return [value or None for value in values]
    texts: list[str | None] = []
    for j, value in enumerate(values):
        if value is None or value.__class__ is str:
            texts.append(value or None)
        else:
            problems.append((at[j], order, f"{name} is {json_kind(value)}, not text"))
            texts.append(None)
    return texts


def _flags(
    values: list[Any], at: Sequence[int], name: str, order: int, problems: list[_Problem]
) -> list[str | None]:
    """A flag field as encoded labels (true, false or None)."""
    if values.count(None) == len(values):
        return values
    kinds = set(map(type, values))
    if kinds <= _BOOL_OR_NONE:
        return [None if value is None else _TRUE if value else _FALSE for value in values]
    if kinds <= _FLAG_KINDS:
        try:
            return [_FLAG_TEXTS[value] for value in values]
        except KeyError:
            pass  # some other spelling, or no flag at all: value by value
    flags: list[str | None] = []
    for j, value in enumerate(values):
        try:
            flags.append(_flag(value))
        except ValueError as exc:
            problems.append((at[j], order, f"{name} is {exc}"))
            flags.append(None)
    return flags


def _free_texts(
    values: list[Any], at: Sequence[int], name: str, order: int, problems: list[_Problem]
) -> list[str | None]:
    """A text field as encoded labels; a problem for an object or array, but ``Tags`` may
    be an array of texts and an odd ``DateUpdated`` is kept as its JSON."""
    if values.count(None) == len(values):
        return values
    kinds = set(map(type, values))
    if kinds <= _STR_OR_NONE:
        return [encode_basestring(value) if value else None for value in values]
    if kinds <= _INT_OR_NONE:
        return [None if value is None else f'"{value}"' for value in values]
    encoded: list[str | None] = []
    for j, value in enumerate(values):
        if name == "Tags" and value.__class__ is list:
            if all(item.__class__ is str for item in value):
                encoded.append(_json_list(value))
                continue
            problems.append((at[j], order, "Tags is an array of something other than text"))
            encoded.append(None)
            continue
        try:
            text = _text(value)
        except ValueError as exc:
            text = None
            if name == "DateUpdated":
                # An odd DateUpdated never costs a record, nor a warning.
                text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
            else:
                problems.append((at[j], order, f"{name} is {exc}"))
        encoded.append(None if text is None else encode_basestring(text))
    return encoded


def _size(value: object) -> int | None:
    """MediaSize in bytes, from a number or its text; :class:`ValueError` if it is none."""
    size: int | None = -1
    if value.__class__ is int:
        size = value
    elif isinstance(value, str):
        try:
            size = parse_size(value)
        except ValueError:
            size = -1
    elif isinstance(value, Decimal) and value == value.to_integral_value():
        size = int(value)
    if size is not None and not 0 <= size <= MAX_SIZE:
        raise ValueError(f"MediaSize is not a byte count: {_shown(value)}")
    return size


def _category(value: object) -> str | None:
    """The Category code as text (None for null or empty); :class:`ValueError` if it is no
    integer."""
    if value is None:
        return None
    if value.__class__ is int:
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _INTEGER.fullmatch(text):
            return text
    raise ValueError(_shown(value))


Expand: TypeAlias = Callable[
    [list[dict[str, Any]], pa.RecordBatch], tuple[pa.RecordBatch, list[tuple[int, str]]]
]
"""What ``read_vics(expand=...)`` calls on each chunk's rows before they are let through:
with the Media objects the rows were read from (one per row, in row order, their keys
spelled as the data model spells them) and the rows (``line``: each one's record index).
It returns the rows to yield instead, still in record order, and warnings about them as
``(record index, reason)`` in record order (the vics-case adapter: one row per file)."""


class _MediaChunks:
    """Turns chunks of Media records into record batches, reading each field across a
    chunk at once, and says which records and fields are bad."""

    def __init__(
        self,
        model: VicsModel,
        table: CategoryTable | None,
        context: ReadContext,
        expand: Expand | None = None,
    ) -> None:
        self._context = context
        self._model = model
        self._table = table
        self._expand = expand
        constants = {
            Label.SCHEME.value: model.scheme,
            "vics_version": model.version,
            "vics_profile": model.profile,
        }
        self._constants = {
            key: _Wrap.of(key)(encode_basestring(value))
            for key, value in constants.items()
            if value
        }
        names = _LABELS if table is None else (*_LABELS, table.label_key, "category_table")
        self._wraps = {name: _Wrap.of(name) for name in names}

    def rows(
        self, first: int, records: Sequence[object], cases: Sequence[str | None] | None = None
    ) -> _Rows:
        """:meth:`read`, with a bad first record of the file kept for later (as the
        :class:`UnsupportedFormat` to raise when the rows are let through)."""
        last = first + len(records) - 1
        try:
            batch, warnings = self.read(first, records, cases)
        except UnsupportedFormat as exc:
            return _Rows(first=first, last=last, batch=_NO_ROWS, warnings=[], fatal=exc)
        return _Rows(first=first, last=last, batch=batch, warnings=warnings, fatal=None)

    def read(
        self, first: int, records: Sequence[object], cases: Sequence[str | None] | None = None
    ) -> tuple[pa.RecordBatch, list[tuple[int, str]]]:
        """The rows of ``records``, the Media records from index ``first`` on (``cases``:
        the case number of each), and the warnings about them as ``(index, reason)``.

        Raises :class:`UnsupportedFormat` when the file's first record is no Media object
        with a digest.
        """
        problems: list[_Problem] = []
        at: Sequence[int] = range(len(records))
        objects: list[dict[str, Any]] = records  # type: ignore[assignment]
        if records and set(map(type, records)) != {dict}:
            at = [j for j, record in enumerate(records) if record.__class__ is dict]
            for j, record in enumerate(records):
                if record.__class__ is not dict:
                    reason = f"a Media record must be a JSON object, not {json_kind(record)}"
                    problems.append((j, _NOT_AN_OBJECT, reason))
            objects = [records[j] for j in at]  # type: ignore[misc]
        present = set().union(*objects)
        if not present <= _CANONICAL:
            objects = [
                media if media.keys() <= _CANONICAL else _respelled(media) for media in objects
            ]
            present = set().union(*objects)
        nothing = [None] * len(objects)

        def field(name: str) -> list[Any]:
            if name not in present:
                return nothing.copy()
            return list(map(dict.get, objects, itertools.repeat(name)))

        def having(names: Iterable[str]) -> list[int]:
            """Positions of the objects that have any of ``names``."""
            found: set[int] = set()
            for name in present.intersection(names):
                found.update(j for j, value in enumerate(field(name)) if value is not None)
            return sorted(found)

        md5 = _digests(field("MD5"), at, "MD5", _MD5, problems)
        sha1 = _digests(field("SHA1"), at, "SHA1", _SHA1, problems)
        sha256 = _digests(field("SHA256"), at, "SHA256", _SHA256, problems)
        photodna: dict[int, list[str]] = {}
        values = field("PhotoDNA")
        if values.count(None) != len(values):
            for j in [j for j, value in enumerate(values) if value is not None]:
                value = values[j]
                if isinstance(value, str):
                    photodna[j] = _photodna_values(value)
                else:
                    problems.append((at[j], _PHOTODNA, f"PhotoDNA is {json_kind(value)}, not text"))
        # Hash pairs can hide under the containers of the model, or under any unknown key.
        unknown = present - _CANONICAL
        for j in range(len(objects)) if unknown else having(_CONTAINERS):
            found = photodna.setdefault(j, [])
            sha256[j] = _harvest(objects[j], sha256[j], found, at[j], problems)
        skipped: list[int] = []
        if None in md5:
            skipped = [
                j
                for j, (a, b, c) in enumerate(zip(md5, sha1, sha256, strict=True))
                if a is None and b is None and c is None
            ]
        for j in skipped:
            problems.append((at[j], _NO_DIGEST, "no MD5, SHA1 or SHA-256"))

        sizes = field("MediaSize")
        if not (set(map(type, sizes)) <= _INT_OR_NONE and _in_range(sizes)):
            for j, value in enumerate(sizes):
                try:
                    sizes[j] = None if value is None else _size(value)
                except ValueError as exc:
                    problems.append((at[j], _SIZE, str(exc)))
                    sizes[j] = None
        category, review, mapped = self._categories(field("Category"), at, problems)
        labels = [category, review]
        for order, name in enumerate(_FLAGS, start=_FIRST_FLAG):
            labels.append(_flags(field(name), at, name, order, problems))
        for order, name in enumerate(_FREE_TEXTS, start=_FIRST_TEXT):
            labels.append(_free_texts(field(name), at, name, order, problems))
        labels.append(_free_texts(field("DateUpdated"), at, "DateUpdated", 0, problems))
        perceptual: list[str | None] = [None] * len(objects)
        for j, found in photodna.items():
            perceptual[j] = _json_list([f"photodna:{value}" for value in found if value])
        labels.append(perceptual)
        media_ids = field("MediaID")
        labels.append(_free_texts(media_ids, at, "MediaID", 0, []))
        if cases is None:
            labels.append([None] * len(objects))
        else:
            numbers = [cases[j] for j in at]
            labels.append([None if n is None else encode_basestring(n) for n in numbers])
        labels.extend(mapped)
        paths: list[str | None] = [None] * len(objects)
        for j in having(_PATH_KEYS):
            paths[j] = _path(objects[j])
        lines = [first + j for j in at]
        warnings = self._warnings(first, problems, media_ids, at, {at[j] for j in skipped})
        if skipped:
            kept = [j for j in range(len(objects)) if md5[j] or sha1[j] or sha256[j]]
            lines = [lines[j] for j in kept]
            md5, sha1, sha256, paths = ([c[j] for j in kept] for c in (md5, sha1, sha256, paths))
            sizes = [sizes[j] for j in kept]
            labels = [[column[j] for j in kept] for column in labels]
            objects = [objects[j] for j in kept]
        pieces = {
            name: pa.array(list(map(wrap, values)), pa.string())
            for (name, wrap), values in zip(self._wraps.items(), labels, strict=True)
            if values.count(None) != len(values)
        }
        batch = self._batch(lines, md5, sha1, sha256, sizes, paths, pieces)
        if self._expand is None:
            return batch, warnings
        batch, more = self._expand(objects, batch)
        # Stable: a record's own warnings first, then what the expansion says about it.
        return batch, sorted(warnings + more, key=lambda warning: warning[0]) if more else warnings

    def arrow_rows(self, first: int, media: pa.StructArray, plain: bool) -> _Rows | None:
        """What :meth:`rows` makes of the same records, from Arrow's parse of them (a
        struct array, a row a record), a column at a time; None when the records hold
        something that only the dict reader reads right (a key in other spelling or
        unknown, a number with a fraction, a date Arrow took for a timestamp, nested
        values whose order Arrow's struct loses). ``plain``: no string has an escape."""
        n = len(media)
        if media.null_count or not _arrow_readable(media.type):
            return None
        columns: dict[str, pa.Array] = {
            field.name: column
            for field, column in zip(media.type, media.flatten(), strict=True)
            if not pa.types.is_null(field.type) and column.null_count != n
        }
        pairs = _arrow_hash_pairs(columns)
        if pairs is None:
            return None
        problems: list[_Problem] = []
        wraps = self._wraps
        md5 = _arrow_digests(columns.get("MD5"), n)
        sha1 = _arrow_digests(columns.get("SHA1"), n)
        sha256 = _arrow_digests(columns.get("SHA256"), n)
        extra_photodna: dict[int, list[str]] = {}
        if len(pairs[0]):
            sha256 = _arrow_pairs(pairs, sha256, extra_photodna, problems)
        missing = pc.and_(pc.and_(md5.is_null(), sha1.is_null()), sha256.is_null())
        skipped = np.flatnonzero(missing.to_numpy(zero_copy_only=False)).tolist()
        for j in skipped:
            problems.append((j, _NO_DIGEST, "no MD5, SHA1 or SHA-256"))
        sizes = _arrow_sizes(columns.get("MediaSize"), n, problems)
        found: dict[str, Piece | None] = self._arrow_categories(
            columns.get("Category"), n, problems
        )
        for order, name in enumerate(_FLAGS, start=_FIRST_FLAG):
            label = _FLAG_LABELS[order - _FIRST_FLAG]
            found[label] = _arrow_flags(columns.get(name), name, order, problems, wraps[label])
        for order, name in enumerate(_FREE_TEXTS, start=_FIRST_TEXT):
            label = _TEXT_LABELS[order - _FIRST_TEXT]
            found[label] = _arrow_free_texts(
                columns.get(name), name, order, problems, plain, wraps[label]
            )
        found[Label.UPDATED.value] = _arrow_free_texts(
            columns.get("DateUpdated"), "DateUpdated", 0, [], plain, wraps[Label.UPDATED.value]
        )
        found[Label.PERCEPTUAL.value] = _arrow_perceptual(
            columns.get("PhotoDNA"), n, extra_photodna, wraps[Label.PERCEPTUAL.value]
        )
        found[Label.SOURCE_ID.value] = _arrow_free_texts(
            columns.get("MediaID"), "MediaID", 0, [], plain, wraps[Label.SOURCE_ID.value]
        )
        pieces = {name: piece for name, piece in found.items() if piece is not None}
        paths = _arrow_paths(columns, n)
        lines = pa.array(np.arange(first, first + n, dtype=np.int64))
        last = first + n - 1
        try:
            ids = columns["MediaID"].to_pylist() if problems and "MediaID" in columns else []
            warnings = self._warnings(first, problems, ids or [None] * n, range(n), set(skipped))
        except UnsupportedFormat as exc:
            return _Rows(first=first, last=last, batch=_NO_ROWS, warnings=[], fatal=exc)
        if skipped:
            keep = pc.invert(missing)
            lines, md5, sha1, sha256, sizes, paths = (
                column.filter(keep) for column in (lines, md5, sha1, sha256, sizes, paths)
            )
            pieces = {name: _filtered(piece, keep) for name, piece in pieces.items()}
        batch = self._batch(lines, md5, sha1, sha256, sizes, paths, pieces)
        return _Rows(first=first, last=last, batch=batch, warnings=warnings, fatal=None)

    def _arrow_categories(
        self, column: pa.Array | None, n: int, problems: list[_Problem]
    ) -> dict[str, Piece | None]:
        """The pieces of :meth:`_categories` from an Arrow column, by label name: each
        distinct value is read once."""
        wraps = self._wraps
        codes: pa.Array | None = None
        reviews: pa.Array | None = None
        review = wraps[Label.REVIEW.value]
        if column is not None and pa.types.is_int64(column.type):
            codes = pc.cast(column, pa.string())
        elif column is not None:
            distinct = column.dictionary_encode()
            values: list[str | None] = []
            bad: dict[int, str] = {}
            for k, value in enumerate(distinct.dictionary.to_pylist()):
                try:
                    values.append(_category(value))
                except ValueError as exc:
                    values.append(None)
                    bad[k] = str(exc)
            codes = pa.array(values, pa.string()).take(distinct.indices)
            if bad:
                texts: list[str | None] = [None] * n
                for j, k in _rows_of(distinct.indices, bad):
                    problems.append((j, _CATEGORY, f"Category is not an integer code: {bad[k]}"))
                    reason = f"the source's Category is unreadable: {bad[k]}"
                    texts[j] = review(encode_basestring(reason))
                reviews = pa.array(texts, pa.string())
        found: dict[str, Piece | None] = {Label.CATEGORY.value: None}
        if codes is not None:
            # A code is digits with an optional sign: nothing to escape.
            found[Label.CATEGORY.value] = wraps[Label.CATEGORY.value].enclose(codes, '"', '"')
        if self._model.needs_table and codes is not None:
            table = self._table
            distinct = codes.dictionary_encode()
            code_reviews: list[str | None] = []
            labels: list[str | None] = []
            for code in distinct.dictionary.to_pylist():
                text, label = self._table_entry(code)
                code_reviews.append(review(text))
                if table is not None:
                    labels.append(wraps[table.label_key](label))
            by_code = pa.array(code_reviews, pa.string()).take(distinct.indices)
            reviews = by_code if reviews is None else pc.coalesce(reviews, by_code)
            if table is not None:
                mapped = pa.array(labels, pa.string()).take(distinct.indices)
                reference = pa.scalar(wraps["category_table"](encode_basestring(table.reference)))
                found[table.label_key] = mapped
                found["category_table"] = pc.if_else(mapped.is_null(), _NO_TEXT, reference)
        found[Label.REVIEW.value] = reviews
        return found

    def _table_entry(self, code: str) -> tuple[str | None, str | None]:
        """The encoded review and mapped label of a code of a profile that needs a table."""
        table = self._table
        if table is None:
            return (
                encode_basestring(
                    f"category code {code} is not mapped: no category table for profile "
                    f"{self._model.profile} is configured"
                ),
                None,
            )
        label = table.codes.get(code)
        if label is not None:
            return None, encode_basestring(label)
        profile = (self._model.profile or "").lower()
        return (
            encode_basestring(
                f"category code {code} is not in the {profile} category table {table.version}"
            ),
            None,
        )

    def _categories(
        self, values: list[Any], at: Sequence[int], problems: list[_Problem]
    ) -> tuple[list[str | None], list[str | None], list[list[str | None]]]:
        """The encoded category and review labels, and the table's two label columns."""
        reviews: list[str | None] = [None] * len(values)
        if set(map(type, values)) <= _INT_OR_NONE:
            codes: list[str | None] = [None if v is None else str(v) for v in values]
        else:
            codes = []
            for j, value in enumerate(values):
                try:
                    codes.append(_category(value))
                except ValueError as exc:
                    codes.append(None)
                    problems.append((at[j], _CATEGORY, f"Category is not an integer code: {exc}"))
                    reviews[j] = encode_basestring(f"the source's Category is unreadable: {exc}")
        # A code is digits with an optional sign: nothing to escape.
        encoded = [None if code is None else f'"{code}"' for code in codes]
        if not self._model.needs_table:
            return encoded, reviews, []
        if self._table is None:
            for j, code in enumerate(codes):
                if code is not None:
                    reviews[j] = encode_basestring(
                        f"category code {code} is not mapped: no category table for profile "
                        f"{self._model.profile} is configured"
                    )
            return encoded, reviews, []
        table = self._table
        found = [None if code is None else table.codes.get(code) for code in codes]
        profile = (self._model.profile or "").lower()
        for j, code in enumerate(codes):
            if code is not None and found[j] is None:
                reviews[j] = encode_basestring(
                    f"category code {code} is not in the {profile} category table {table.version}"
                )
        reference = encode_basestring(table.reference)
        mapped = [None if label is None else encode_basestring(label) for label in found]
        references = [None if label is None else reference for label in found]
        return encoded, reviews, [mapped, references]

    def _warnings(
        self,
        first: int,
        problems: list[_Problem],
        media_ids: list[Any],
        at: Sequence[int],
        skipped: set[int],
    ) -> list[tuple[int, str]]:
        """The problems as ``(index, reason)`` in record and field order; a skipped record
        tells only why. A bad first record of the file is :class:`UnsupportedFormat`."""
        if not problems:
            return []
        ids = dict(zip(at, media_ids, strict=True))
        warnings = []
        for position, order, reason in sorted(problems):
            if position in skipped and order not in _KEPT_WHEN_SKIPPED:
                continue
            index = first + position
            where = f"record {index}"
            media_id = ids.get(position)
            if media_id is not None and not isinstance(media_id, dict | list):
                where += f" (MediaID {str(media_id)[:40]})"
            if index == 1 and order in _FATAL:
                raise UnsupportedFormat(f"{where}: {reason}", source=self._context.source, line=1)
            warnings.append((index, f"{where}: {reason}"))
        return warnings

    def _batch(
        self,
        lines: Column,
        md5: Column,
        sha1: Column,
        sha256: Column,
        sizes: Column,
        paths: Column,
        pieces: Mapping[str, Piece],
    ) -> pa.RecordBatch:
        """A record batch of the columns (lists or Arrow arrays) and of the labels' pieces
        (see :class:`_Wrap`) joined into objects."""
        every: dict[str, Piece | str] = {**self._constants, **pieces}
        # Sorted keys, no spaces, null pieces left out: as encode_labels() writes them.
        parts: list[pa.Array | str] = ["{"]
        for key in sorted(every):
            piece = every[key]
            parts.extend(piece if isinstance(piece, tuple) else (piece,))
        parts.append("}")
        # Texts side by side are one argument: the join costs by the argument.
        merged: list[pa.Array | pa.Scalar] = []
        for is_text, group in itertools.groupby(parts, key=lambda part: isinstance(part, str)):
            if is_text:
                merged.append(pa.scalar("".join(group)))
            else:
                merged.extend(group)
        objects = pc.binary_join_element_wise(*merged, "", null_handling="skip")
        if isinstance(objects, pa.Scalar):
            objects = pa.array([objects.as_py()] * len(lines), pa.string())
        arrays = [
            _array(lines, pa.int64()),
            _array(md5, pa.string()),
            _array(sha1, pa.string()),
            _array(sha256, pa.string()),
            _array(sizes, pa.int64()),
            _array(paths, pa.string()),
            objects,
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=RECORD_SCHEMA)


Column: TypeAlias = "pa.Array | list[Any]"
"""A column of a chunk: read field by field from dicts (a list) or from Arrow (an array)."""
Piece: TypeAlias = "pa.Array | tuple[str, pa.Array, str]"
"""A label's part of the labels objects: texts (null where a record has no such label) or,
when every record has it, the text before each of an array's texts and the text after."""


def _array(values: Column, kind: pa.DataType) -> pa.Array:
    return values if isinstance(values, pa.Array) else pa.array(values, kind)


def _filtered(piece: Piece, keep: pa.Array) -> Piece:
    if isinstance(piece, tuple):
        return piece[0], piece[1].filter(keep), piece[2]
    return piece.filter(keep)


@dataclass(frozen=True, slots=True)
class _Wrap:
    """What turns a label's encoded value into its piece of the labels object: the key
    before it and a comma on the side that lets the sorted pieces be joined with nothing
    between them (``scheme``, always there, has none: pieces before it end with a comma,
    pieces after it begin with one)."""

    before: str
    after: str

    @classmethod
    def of(cls, name: str) -> _Wrap:
        """The wrap of label ``name``."""
        key = encode_basestring(name)
        if name == Label.SCHEME.value:
            return cls(f"{key}:", "")
        if name < Label.SCHEME.value:
            return cls(f"{key}:", ",")
        return cls(f",{key}:", "")

    def __call__(self, value: str | None) -> str | None:
        return None if value is None else f"{self.before}{value}{self.after}"

    def enclose(self, texts: pa.Array, open_: str, close: str) -> Piece:
        """The pieces of the values ``open_ + text + close`` (null for a null text)."""
        before, after = self.before + open_, close + self.after
        if not texts.null_count:
            return before, texts, after
        if texts.null_count * 2 > len(texts):
            # Few records have the label: join their texts only.
            valid = texts.is_valid()
            joined = pc.binary_join_element_wise(before, texts.filter(valid), after, "")
            return pc.replace_with_mask(pa.nulls(len(texts), pa.string()), valid, joined)
        return pc.binary_join_element_wise(before, texts, after, "")


def _in_range(sizes: list[int | None]) -> bool:
    """Whether every size given is a byte count that fits a record."""
    present = [size for size in sizes if size is not None]
    return not present or (min(present) >= 0 and max(present) <= MAX_SIZE)


def _harvest(
    media: dict[str, Any],
    sha256: str | None,
    photodna: list[str],
    position: int,
    problems: list[_Problem],
) -> str | None:
    """The record's SHA-256, given or from nested HashName/HashValue pairs; PhotoDNA values
    found among the pairs are added to ``photodna``."""
    pairs: list[tuple[str, str]] = []
    for value in media.values():
        if value.__class__ is list or value.__class__ is dict:
            _hash_pairs(value, pairs)
    for name, found in pairs:
        kind = _pair_kind(name)
        if kind in _SHA256_NAMES and found:
            if sha256 is None:
                sha256 = found
            elif sha256.lower() != found.lower():
                reason = f"a second, different SHA-256 was ignored: {found[:70]!r}"
                problems.append((position, _PAIRS, reason))
        elif kind == "PHOTODNA":
            photodna.extend(_photodna_values(found))
    return sha256


def _path(media: dict[str, Any]) -> str | None:
    """The record's file name: the first MediaFiles FileName, else FileName, else the base
    name of RelativeFilePath."""
    files = media.get("MediaFiles")
    if isinstance(files, list):
        for entry in files:
            if entry.__class__ is dict:
                name = get_any_case(entry, "FileName")
                if isinstance(name, str) and name.strip():
                    return name
    name = media.get("FileName")
    if isinstance(name, str) and name.strip():
        return name
    relative = media.get("RelativeFilePath")
    if isinstance(relative, str) and relative.strip():
        return _PATH_SPLIT.split(relative.strip())[-1] or None
    return None


# ---------------------------------------------------------------------------------------
# Media records to rows, from Arrow's columns (the fast path)

_NO_TEXT = pa.scalar(None, pa.string())
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
"""What encode_basestring escapes (RE2 syntax)."""
_ONE_PHOTODNA = r"^[A-Za-z0-9+/=]+$"
"""A PhotoDNA field that is one value with nothing to escape: base64 text."""
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_UNESCAPED = bytes(b for b in range(256) if b >= 0x20 and b not in b'"\\')
"""Bytes that encode_basestring leaves as they are (UTF-8 sequences included)."""


def _pair_kind(name: str) -> str:
    """A hash pair's ``HashName`` as compared: upper case without ``-``, ``_`` or spaces."""
    return name.upper().replace("-", "").replace("_", "").replace(" ", "")


def _is_scalar(kind: pa.DataType) -> bool:
    """An Arrow type whose values Python gets as ijson gives them (no float, no timestamp)."""
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_int64(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def _nested_readable(kind: pa.DataType) -> bool:
    """Whether nested values come out of Arrow as the dict reader has them, as far as hash
    pairs and file names are read: scalars, lists, and objects whose keys differ in more
    than case (a struct has every key of the column) with at most one nested value (the
    order of an object's keys is lost)."""
    if _is_scalar(kind):
        return True
    if pa.types.is_list(kind):
        return _nested_readable(kind.value_type)
    if pa.types.is_struct(kind):
        names = {field.name.lower() for field in kind}
        nested = [field for field in kind if not _is_scalar(field.type)]
        return (
            len(names) == kind.num_fields
            and len(nested) <= 1
            and all(_nested_readable(field.type) for field in nested)
        )
    return False


def _arrow_readable(kind: pa.StructType) -> bool:
    """Whether records of this type are read from Arrow's columns: every key as the data
    model spells it, every value of a type the columns are read from."""
    names = {field.name for field in kind}
    if len(names) != kind.num_fields or not names <= _CANONICAL:
        return False
    for field in kind:
        value = field.type
        if field.name in _CONTAINERS:
            readable = _nested_readable(value)
        elif field.name == "Tags":
            readable = _is_scalar(value) or (
                pa.types.is_list(value) and _is_scalar(value.value_type)
            )
        else:
            readable = _is_scalar(value)
        if not readable:
            return False
    return True


def _rows_of(indices: pa.Array, wanted: Mapping[int, object]) -> list[tuple[int, int]]:
    """``(row, index)`` of the rows of a dictionary-encoded column whose index is wanted."""
    found = pc.fill_null(indices, -1).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(np.isin(found, list(wanted)))
    return [(int(j), int(found[j])) for j in rows]


def _made_of(column: pa.Array, allowed: bytes) -> bool:
    """Whether the texts of a string column hold no byte but ``allowed`` ones (read from
    its data buffer at once: cheaper than any kernel that looks at each text)."""
    buffers = column.buffers()
    if buffers[2] is None:
        return True
    offsets = np.frombuffer(buffers[1], dtype=np.int32)
    first, last = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    return not bytes(memoryview(buffers[2])[first:last]).translate(None, allowed)


def _arrow_digests(column: pa.Array | None, n: int) -> pa.Array:
    """A digest field's texts (null for null or empty; Arrow's parse made it text)."""
    if column is None:
        return pa.nulls(n, pa.string())
    empty = pc.equal(column, "")
    if pc.any(empty).as_py():
        return pc.if_else(empty, _NO_TEXT, column)
    return column


def _arrow_texts(column: pa.Array, plain: bool, wrap: _Wrap) -> Piece:
    """Texts as pieces of encoded JSON strings (null for null or empty), as
    encode_basestring writes them."""
    empty = pc.equal(column, "")
    if pc.any(empty).as_py():
        column = pc.if_else(empty, _NO_TEXT, column)
    if plain or _made_of(column, _UNESCAPED):
        return wrap.enclose(column, '"', '"')
    encoded = pc.binary_join_element_wise(wrap.before + '"', column, '"' + wrap.after, "")
    odd = pc.fill_null(pc.match_substring_regex(column, _NEEDS_ESCAPE), False)
    if not pc.any(odd).as_py():
        return encoded
    texts = [wrap(encode_basestring(text)) for text in column.filter(odd).to_pylist()]
    return pc.replace_with_mask(encoded, odd, pa.array(texts, pa.string()))


def _arrow_free_texts(
    column: pa.Array | None,
    name: str,
    order: int,
    problems: list[_Problem],
    plain: bool,
    wrap: _Wrap,
) -> Piece | None:
    """The pieces of :func:`_free_texts` of an Arrow column."""
    if column is None:
        return None
    if pa.types.is_string(column.type):
        return _arrow_texts(column, plain, wrap)
    if pa.types.is_int64(column.type):
        return wrap.enclose(pc.cast(column, pa.string()), '"', '"')
    values = _free_texts(column.to_pylist(), range(len(column)), name, order, problems)
    return pa.array(list(map(wrap, values)), pa.string())


def _arrow_flags(
    column: pa.Array | None, name: str, order: int, problems: list[_Problem], wrap: _Wrap
) -> pa.Array | None:
    """The pieces of :func:`_flags` of an Arrow column: each distinct value read once."""
    if column is None:
        return None
    if pa.types.is_boolean(column.type):
        return pc.if_else(column, pa.scalar(wrap(_TRUE)), pa.scalar(wrap(_FALSE)))
    distinct = column.dictionary_encode()
    flags: list[str | None] = []
    bad: dict[int, str] = {}
    for k, value in enumerate(distinct.dictionary.to_pylist()):
        try:
            flags.append(wrap(_flag(value)))
        except ValueError as exc:
            flags.append(None)
            bad[k] = f"{name} is {exc}"
    for j, k in _rows_of(distinct.indices, bad) if bad else ():
        problems.append((j, order, bad[k]))
    return pa.array(flags, pa.string()).take(distinct.indices)


def _arrow_sizes(column: pa.Array | None, n: int, problems: list[_Problem]) -> pa.Array:
    """MediaSize of an Arrow column: byte counts, null (and a problem) for the rest."""
    if column is None:
        return pa.nulls(n, pa.int64())
    if pa.types.is_int64(column.type):
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None or (low >= 0 and high <= MAX_SIZE):
            return column
        bad = pc.fill_null(pc.or_(pc.less(column, 0), pc.greater(column, MAX_SIZE)), False)
        rows = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
        for j, value in zip(rows.tolist(), column.take(rows).to_pylist(), strict=True):
            problems.append((j, _SIZE, f"MediaSize is not a byte count: {_shown(value)}"))
        return pc.if_else(bad, pa.scalar(None, pa.int64()), column)
    sizes: list[int | None] = []
    for j, value in enumerate(column.to_pylist()):
        try:
            sizes.append(None if value is None else _size(value))
        except ValueError as exc:
            problems.append((j, _SIZE, str(exc)))
            sizes.append(None)
    return pa.array(sizes, pa.int64())


def _arrow_perceptual(
    column: pa.Array | None, n: int, extra: dict[int, list[str]], wrap: _Wrap
) -> Piece | None:
    """The perceptual label's pieces: the PhotoDNA field's values, then the hash pairs'."""
    if column is None and not extra:
        return None
    piece: Piece = pa.nulls(n, pa.string())
    odd: set[int] = set(extra)
    if column is not None:
        single = column
        if _made_of(column, _BASE64):
            # Each text is one value, or empty: no value.
            empty = pc.equal(column, "")
            if pc.any(empty).as_py():
                single = pc.if_else(empty, _NO_TEXT, column)
        else:
            one = pc.match_substring_regex(column, _ONE_PHOTODNA)
            others = pc.and_(column.is_valid(), pc.invert(pc.fill_null(one, False)))
            odd.update(np.flatnonzero(others.to_numpy(zero_copy_only=False)).tolist())
            single = pc.if_else(one, column, _NO_TEXT)
        piece = wrap.enclose(single, '["photodna:', '"]')
    if not odd:
        return piece
    encoded = pc.binary_join_element_wise(*piece, "") if isinstance(piece, tuple) else piece
    rows = sorted(odd)
    texts = [None] * len(rows) if column is None else column.take(rows).to_pylist()
    found: list[str | None] = []
    for j, text in zip(rows, texts, strict=True):
        values = [] if text is None else _photodna_values(text)
        values.extend(extra.get(j, ()))
        found.append(wrap(_json_list([f"photodna:{value}" for value in values if value])))
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(encoded, pa.array(mask), pa.array(found, pa.string()))


_Pairs: TypeAlias = "tuple[npt.NDArray[np.int64], pa.Array, pa.Array]"
"""Hash pairs of a chunk's records: the row, HashName and HashValue of each, in file order."""


_NO_PAIRS: _Pairs = (
    np.zeros(0, dtype=np.int64),
    pa.array([], pa.string()),
    pa.array([], pa.string()),
)


def _arrow_pairs(
    pairs: _Pairs,
    sha256: pa.Array,
    photodna: dict[int, list[str]],
    problems: list[_Problem],
) -> pa.Array:
    """The SHA-256 column with what the records' hash pairs add (as :func:`_harvest`
    does); PhotoDNA values found among the pairs are put in ``photodna``."""
    rows, names, values = pairs
    distinct = names.dictionary_encode()
    kinds = [_pair_kind(name) for name in distinct.dictionary.to_pylist()]
    codes = distinct.indices.to_numpy()
    of_photodna = np.array([kind == "PHOTODNA" for kind in kinds], dtype=bool)[codes]
    if of_photodna.any():
        found = values.filter(pa.array(of_photodna)).to_pylist()
        for j, value in zip(rows[of_photodna].tolist(), found, strict=True):
            photodna.setdefault(j, []).extend(_photodna_values(value))
    of_sha256 = np.array([kind in _SHA256_NAMES for kind in kinds], dtype=bool)[codes]
    of_sha256 &= pc.not_equal(values, "").to_numpy(zero_copy_only=False)
    if not of_sha256.any():
        return sha256
    at, found = rows[of_sha256], values.filter(pa.array(of_sha256))
    distinct_rows, first, counts = np.unique(at, return_index=True, return_counts=True)
    given = sha256.is_valid().to_numpy(zero_copy_only=False)[distinct_rows]
    # The usual record: one SHA-256 pair and no SHA256 field.
    plain = (counts == 1) & ~given
    mask = np.zeros(len(sha256), dtype=bool)
    mask[distinct_rows[plain]] = True
    sha256 = pc.replace_with_mask(sha256, pa.array(mask), found.take(first[plain]))
    others = distinct_rows[~plain]
    if not len(others):
        return sha256
    current = dict(zip(others.tolist(), sha256.take(others).to_pylist(), strict=True))
    chosen = np.isin(at, others)
    for j, value in zip(
        at[chosen].tolist(), found.filter(pa.array(chosen)).to_pylist(), strict=True
    ):
        if current[j] is None:
            current[j] = value
        elif current[j].lower() != value.lower():
            reason = f"a second, different SHA-256 was ignored: {value[:70]!r}"
            problems.append((j, _PAIRS, reason))
    mask[:] = False
    mask[others] = True
    return pc.replace_with_mask(sha256, pa.array(mask), pa.array(list(current.values())))


def _arrow_hash_pairs(columns: Mapping[str, pa.Array]) -> _Pairs | None:
    """The hash pairs in the records' containers; None when a record has pairs in two
    containers (Arrow lost which comes first)."""
    found = [
        pairs
        for name in _CONTAINERS
        if name in columns and len((pairs := _container_pairs(columns[name]))[0])
    ]
    if len(found) < 2:
        return found[0] if found else _NO_PAIRS
    rows = [np.unique(pairs[0]) for pairs in found]
    if len(np.unique(np.concatenate(rows))) != sum(map(len, rows)):
        return None
    order = np.argsort(np.concatenate([pairs[0] for pairs in found]), kind="stable")
    return (
        np.concatenate([pairs[0] for pairs in found])[order],
        pa.concat_arrays([pairs[1] for pairs in found]).take(order),
        pa.concat_arrays([pairs[2] for pairs in found]).take(order),
    )


def _container_pairs(column: pa.Array) -> _Pairs:
    """The hash pairs of one container column (as :func:`_hash_pairs` finds them)."""
    kind = column.type
    entries: pa.Array | None = None
    parents: pa.Array | None = None
    if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
        entries, parents = pc.list_flatten(column), pc.list_parent_indices(column)
    elif pa.types.is_struct(kind):
        entries = column
    if entries is not None and all(_is_scalar(field.type) for field in entries.type):
        # Objects of scalars, the usual AlternativeHashes: each has one pair or none.
        fields = {field.name.lower(): k for k, field in enumerate(entries.type)}
        if "hashname" not in fields or "hashvalue" not in fields:
            return _NO_PAIRS
        parts = entries.flatten()
        names, values = parts[fields["hashname"]], parts[fields["hashvalue"]]
        if not (pa.types.is_string(names.type) and pa.types.is_string(values.type)):
            return _NO_PAIRS
        both = pc.and_(names.is_valid(), values.is_valid())
        positions = np.flatnonzero(both.to_numpy(zero_copy_only=False))
        rows = positions if parents is None else parents.to_numpy()[positions]
        return rows.astype(np.int64), names.take(positions), values.take(positions)
    found: list[tuple[int, str, str]] = []
    for j, value in enumerate(column.to_pylist()):
        if value.__class__ is list or value.__class__ is dict:
            pairs: list[tuple[str, str]] = []
            _hash_pairs(value, pairs)
            found.extend((j, name, digest) for name, digest in pairs)
    if not found:
        return _NO_PAIRS
    rows, names, values = zip(*found, strict=True)
    return (
        np.array(rows, dtype=np.int64),
        pa.array(names, pa.string()),
        pa.array(values, pa.string()),
    )


def _arrow_paths(columns: Mapping[str, pa.Array], n: int) -> pa.Array:
    """The file name of each record (:func:`_path`)."""
    present = [name for name in _PATH_KEYS if name in columns]
    paths = pa.nulls(n, pa.string())
    if not present:
        return paths
    having = columns[present[0]].is_valid()
    for name in present[1:]:
        having = pc.or_(having, columns[name].is_valid())
    rows = np.flatnonzero(having.to_numpy(zero_copy_only=False))
    values = {name: columns[name].take(rows).to_pylist() for name in present}
    names = [_path({name: values[name][k] for name in present}) for k in range(len(rows))]
    return pc.replace_with_mask(paths, having, pa.array(names, pa.string()))


# ---------------------------------------------------------------------------------------
# Letting rows through when the reference reader would


@dataclass(frozen=True, kw_only=True, slots=True)
class _Rows:
    """The rows and warnings of the Media records ``first`` to ``last`` (file indexes),
    read but not yet let through; ``fatal`` when the file's first record is bad."""

    first: int
    last: int
    batch: pa.RecordBatch
    warnings: list[tuple[int, str]]
    fatal: UnsupportedFormat | None

    def split(self, through: int) -> tuple[_Rows, _Rows]:
        """The rows of records up to ``through``, and the rest."""
        lines = self.batch.column("line").to_numpy()
        cut = int(np.searchsorted(lines, through, side="right"))
        early = [warning for warning in self.warnings if warning[0] <= through]
        return (
            _Rows(
                first=self.first,
                last=through,
                batch=self.batch.slice(0, cut),
                warnings=early,
                fatal=self.fatal,
            ),
            _Rows(
                first=through + 1,
                last=self.last,
                batch=self.batch.slice(cut),
                warnings=self.warnings[len(early) :],
                fatal=None,
            ),
        )


class _Committer:
    """Lets rows and warnings through to the batches in the order, and at the moments, of
    the reference reader, which reads :data:`CHUNK` records before it handles them.

    The fast path reads further ahead: what it found about records beyond the last whole
    chunk waits here, so that a file that breaks off, or a bad first record, ends the read
    after the same batches and warnings as the reference.
    """

    def __init__(self, assembler: BatchAssembler) -> None:
        self.assembler = assembler
        self._waiting: list[_Rows] = []
        self.done = 0
        """Index of the last record let through."""
        self.read = 0
        """Index of the last record read."""

    def add(self, rows: _Rows) -> None:
        """Rows of the records after those already read."""
        self._waiting.append(rows)
        self.read = rows.last

    def commit(self, through: int | None = None) -> Iterator[pa.RecordBatch]:
        """Let through what was found about the records up to ``through`` (all: None)."""
        through = self.read if through is None else through
        while self._waiting and self._waiting[0].first <= through:
            rows = self._waiting.pop(0)
            if rows.last > through:
                rows, rest = rows.split(through)
                self._waiting.insert(0, rest)
            if rows.fatal is not None:
                raise rows.fatal
            yield from self.assembler.add(rows.batch, rows.warnings)
        self.done = max(self.done, through)

    def commit_chunks(self) -> Iterator[pa.RecordBatch]:
        """Let through the whole chunks of :data:`CHUNK` records read so far."""
        yield from self.commit(self.read - self.read % CHUNK)

    def discard(self) -> None:
        """Forget what waits (the records are read again)."""
        self._waiting.clear()
        self.read = self.done


# ---------------------------------------------------------------------------------------
# The fast path: a hash set's records parsed by Arrow, a few MiB at a time

FAST_BYTES = 4 << 20
"""Bytes of a hash set's records read and parsed at a time (the first reads are smaller,
so that the first batch comes early)."""
_FIRST_BYTES = 256 << 10
_WINDOW = 64 << 10
"""Bytes at the end of a read in which the last whole record is looked for."""
_MAX_READS = 8
"""Reads of :data:`FAST_BYTES` without one whole record after which the reference reads on."""
_ARRAY_OPEN = b'{"v":['
"""What goes before records for a parser: an object whose ``v`` holds them."""
_SEPARATOR = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*(?=\{)")
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
_SCAN_TABLE = bytes(
    {ord('"'): 1, ord("{"): 2, ord("["): 2, ord("}"): 3, ord("]"): 3, ord("\\"): 4}.get(b, 0)
    for b in range(256)
)
_STRING_FIELDS = (
    "MD5",
    "SHA1",
    "SHA256",
    "PhotoDNA",
    "DateUpdated",
    "Series",
    "Comments",
    "FileName",
    "RelativeFilePath",
    "MimeType",
    "PrecategorizationSource",
)
"""Fields Arrow must read as text: it would make timestamps of ISO dates if it guessed."""
_PARSE_OPTIONS = pj.ParseOptions(
    explicit_schema=pa.schema(
        [("v", pa.list_(pa.struct([(name, pa.string()) for name in _STRING_FIELDS])))]
    ),
    unexpected_field_behavior="infer",
)


def _read_full(source: _Utf8Source, size: int, carry: bytes | memoryview = b"") -> bytes:
    """``carry`` and then ``size`` bytes of the source (fewer only at its end), as one."""
    parts = [carry]
    got = 0
    while got < size:
        part = source.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _record_ends(data: bytes, start: int, stop: int) -> tuple[list[int], int]:
    """Where the records of ``data[start:stop]`` end (just after each ``}`` that closes
    one), reading from ``start``, a record boundary; and where the array ends (the first
    ``]`` or ``}`` below the records' level), or ``stop``. Exact for well-formed JSON."""
    codes = np.frombuffer(data[start:stop].translate(_SCAN_TABLE), dtype=np.uint8)
    at = np.flatnonzero(codes)
    kinds = codes[at]
    quote = kinds == 1
    slashes = at[kinds == 4]
    if len(slashes):
        # A quote is escaped by an odd run of backslashes right before it.
        begins = np.ones(len(slashes), dtype=bool)
        begins[1:] = slashes[1:] != slashes[:-1] + 1
        first = slashes[begins]
        last = slashes[np.append(np.flatnonzero(begins)[1:], len(slashes)) - 1]
        escaped = last[(last - first) % 2 == 0] + 1
        quote &= ~np.isin(at, escaped)
    inside = (np.cumsum(quote) - quote) % 2 == 1
    keep = ((kinds == 2) | (kinds == 3)) & ~inside
    positions = at[keep]
    steps = np.where(kinds[keep] == 2, 1, -1)
    depth = np.cumsum(steps)
    below = np.flatnonzero(depth < 0)
    end = len(codes) if not len(below) else int(positions[below[0]])
    ends = positions[(depth == 0) & (steps < 0)] + 1
    return (ends[ends <= end] + start).tolist(), end + start


def _cut(data: bytes, start: int, key: re.Pattern[bytes] | None) -> tuple[int, int] | None:
    """``(end, after)``: ``data[start:end]`` is whole records and ``data[after:]`` begins
    with the next record's ``{``; None when no record ends in ``data``.

    ``data[start:]`` begins at a record. The records' level is known there only, and
    scanning all of it costs more than parsing it: the scan starts instead in the last
    :data:`_WINDOW` bytes, at the ``{`` of an object that begins with ``key`` (the first
    record's first key): a record, unless the scan finds that it is nested, and then at the
    next one. A record larger than the window can deceive it; the parser then refuses the
    cut records, and the reference reads them.
    """
    size = len(data)
    if key is not None and size - start > _WINDOW:
        found = key.search(data, size - _WINDOW)
        while found is not None:
            ends, stop = _record_ends(data, found.start(), size)
            if stop == size:
                cut = _last_cut(data, ends)
                if cut is not None:
                    return cut
                break
            found = key.search(data, stop)
    ends, _ = _record_ends(data, start, size)
    return _last_cut(data, ends)


def _last_cut(data: bytes, ends: list[int]) -> tuple[int, int] | None:
    for end in reversed(ends[-4:]):
        separator = _SEPARATOR.match(data, end)
        if separator is not None:
            return end, separator.end()
    return None


def _has_null(kind: pa.DataType) -> bool:
    """Whether a type is or holds Arrow's null type (of values that were all null)."""
    if pa.types.is_null(kind):
        return True
    if pa.types.is_list(kind):
        return _has_null(kind.value_type)
    return pa.types.is_struct(kind) and any(_has_null(field.type) for field in kind)


def _learned(media: pa.StructType) -> pj.ParseOptions:
    """Parse options that type every field as ``media`` has it (Arrow parses faster when
    it need not infer); fields once all null are left to inference."""
    fields = [field for field in media if not _has_null(field.type)]
    schema = pa.schema([("v", pa.list_(pa.struct(fields)))])
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")


def _arrow_media(group: _Group, options: pj.ParseOptions) -> pa.StructArray | None:
    """A group's records parsed by Arrow; None when it refuses them."""
    data = group.wrapped()
    if len(data) >= 1 << 31:
        return None
    try:
        table = pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=options,
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != 1 or table.num_columns != 1:
        return None
    column = table.column(0)
    if column.num_chunks != 1 or not pa.types.is_list(column.type):
        return None
    media = column.chunk(0).flatten()
    if not pa.types.is_struct(media.type) or "\ufffd" in str(media.type):
        # Arrow replaces bytes that are no UTF-8 in keys (or the key said so): ijson knows.
        return None
    try:
        # Nor does it check strings with escapes: a wrong byte there must fail as in ijson.
        media.validate(full=True)
    except pa.ArrowInvalid:
        return None
    return media


@dataclass(frozen=True, slots=True)
class _Group:
    """Whole records read by the fast path: ``data[begin:end]``, the bytes of records and
    the separators between them; ``data[begin:after]`` runs on to the next group."""

    data: bytes
    begin: int
    end: int
    after: int
    after_comma: bool
    """Whether the group follows a comma (else the ``[`` that opens the array)."""
    tail: bytes | None = None
    """For the array's last group: what follows its ``]`` when it is more than ``}``."""
    last: bool = False

    def wrapped(self) -> bytes:
        """The records as a JSON document: an object whose ``v`` is their array."""
        return b"".join((_ARRAY_OPEN, memoryview(self.data)[self.begin : self.end], b"]}"))

    def raw(self) -> memoryview:
        """The file's bytes from the group's first record to the next group."""
        return memoryview(self.data)[self.begin : self.after]

    def has_records(self) -> bool:
        """Whether the group holds more than white space."""
        return _NOT_SPACE.search(self.data, self.begin, self.end) is not None


class _FastReader:
    """Reads a hash set's ``value`` array a few MiB at a time: cuts the bytes after a whole
    record, has Arrow parse them, reads the columns (:meth:`_MediaChunks.arrow_rows`).

    Arrow parses the next group in a worker thread (it lets go of the interpreter lock)
    while the current group's rows are made and consumed. Records Arrow refuses, or whose
    values only the dict reader reads right, are parsed by ijson as the reference parses
    them. Bytes that are no JSON, or that end before the array, go back to the reference
    reader from the last record let through: it reads them again, and fails where it would
    have failed alone.
    """

    def __init__(
        self,
        source: _Utf8Source,
        header: _Header,
        chunks: _MediaChunks,
        committer: _Committer,
        context: ReadContext,
    ) -> None:
        self._source = source
        self._header = header
        self._chunks = chunks
        self._committer = committer
        self._context = context
        self._data = b""
        """Bytes read: the next group begins at ``_start``."""
        self._start = 0
        self._after_comma = False
        self._eof = False
        self._size = min(FAST_BYTES, _FIRST_BYTES)
        self._key: re.Pattern[bytes] | None = None
        self._options = _PARSE_OPTIONS
        """Arrow's parse options: the types of the last records parsed, once there are."""
        self._kept: list[tuple[int, int, _Group]] = []
        """``(first, last, group)`` of groups read whose records are not all let through
        (``last`` is ``first - 1`` until the group is parsed)."""

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The batches of the records, then of the root's rest."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vics-parse") as pool:
            yield from self._batches(pool)

    def _batches(self, pool: ThreadPoolExecutor) -> Iterator[pa.RecordBatch]:
        index = 0
        group = self._next_group()
        parsing = None if group is None else pool.submit(_arrow_media, group, self._options)
        while group is not None and parsing is not None:
            # Cut the next group and have it parsed while this one's rows are made.
            following = None if group.last else self._next_group()
            ahead = None
            if following is not None:
                ahead = pool.submit(_arrow_media, following, self._options)
            self._kept.append((index + 1, index, group))
            rows = self._rows(index + 1, group, parsing.result()) if group.has_records() else None
            if rows is None and group.has_records():
                yield from self._reread([] if following is None else [following])
                return
            if rows is not None:
                index = rows.last
                self._kept[-1] = (rows.first, rows.last, group)
                self._committer.add(rows)
            yield from self._committer.commit_chunks()
            if group.last:
                yield from self._finish(group, index)
                return
            done = self._committer.done
            self._kept = [kept for kept in self._kept if kept[1] > done or kept[0] > kept[1]]
            group, parsing = following, ahead
        yield from self._reread([])

    def _finish(self, group: _Group, index: int) -> Iterator[pa.RecordBatch]:
        """After the array's last group: the rest of the root, if it is more than ``}``."""
        if group.tail is None:
            yield from self._committer.commit()
            return
        walker = _EventWalker(ijson.basic_parse(io.BytesIO(_ARRAY_OPEN + b"]" + group.tail)))
        walker.resume(self._header, after_comma=False)
        yield from _read_events(walker, self._chunks, self._committer, self._context, index)

    def _rows(self, first: int, group: _Group, media: pa.StructArray | None) -> _Rows | None:
        """The rows of a group; None when it is no JSON (or not cut where records end)."""
        if media is None and self._options is not _PARSE_OPTIONS:
            # Types changed since the last group: parse again, inferring them.
            self._options = _PARSE_OPTIONS
            media = _arrow_media(group, self._options)
        if media is not None and self._options is _PARSE_OPTIONS:
            self._options = _learned(media.type)
        if media is not None:
            plain = group.data.find(b"\\", group.begin, group.end) < 0
            rows = self._chunks.arrow_rows(first, media, plain)
            if rows is not None:
                return rows
        # Only the elements of the array, not what may follow it in bytes cut wrong.
        if _record_ends(group.data, group.begin, group.end)[1] != group.end:
            return None
        try:
            records = list(ijson.items(io.BytesIO(group.wrapped()), "v.item"))
        except (ijson.JSONError, ValueError):
            return None
        return self._chunks.rows(first, records)

    def _next_group(self) -> _Group | None:
        """The next bytes of whole records; None when the reference must read on."""
        # Called only while the file has more: the group that ends it is the last.
        for _ in range(_MAX_READS):
            carry = memoryview(self._data)[self._start :]
            more = _read_full(self._source, self._size, carry)
            self._eof = len(more) < len(carry) + self._size
            self._data, self._start = more, 0
            if self._key is None:
                self._key = _first_key(self._data, self._start)
            if self._eof:
                return self._last_group()
            cut = _cut(self._data, self._start, self._key)
            if cut is not None:
                end, after = cut
                group = _Group(self._data, self._start, end, after, self._after_comma)
                self._start = after
                self._after_comma = True
                self._size = min(2 * self._size, FAST_BYTES)
                return group
        return None

    def _last_group(self) -> _Group | None:
        """The records left when the file has been read to its end, and what follows."""
        data, start = self._data, self._start
        trimmed = data.rstrip(b" \t\r\n")
        if trimmed.endswith(b"}"):
            inner = trimmed[:-1].rstrip(b" \t\r\n")
            if inner.endswith(b"]") and len(inner) > start:
                end = len(inner) - 1
                return _Group(data, start, end, len(data), self._after_comma, last=True)
        _, stop = _record_ends(data, start, len(data))
        if stop < len(data) and data[stop : stop + 1] == b"]":
            tail = data[stop + 1 :]
            return _Group(data, start, stop, len(data), self._after_comma, tail, last=True)
        return None

    def _reread(self, ahead: list[_Group]) -> Iterator[pa.RecordBatch]:
        """The reference reader takes over from the first record not let through (``ahead``:
        a group cut after the kept ones, not parsed)."""
        self._committer.discard()
        done = self._committer.done
        kept = [(first, group) for first, last, group in self._kept if last > done or first > last]
        if kept:
            first, after_comma = kept[0][0], kept[0][1].after_comma
        else:
            first, after_comma = done + 1, self._after_comma
        groups = [group for _, group in kept] + ahead
        held = [group.raw() for group in groups]
        if not (groups and groups[-1].last):
            # The bytes after the groups (a last group holds them all).
            held.append(memoryview(self._data)[self._start :])
        prefix = _ARRAY_OPEN + (b"0," if after_comma else b"")
        replay = _Replay(b"".join((prefix, *held)), self._source)
        walker = _EventWalker(ijson.basic_parse(replay))
        walker.resume(self._header, after_comma=after_comma)
        yield from _read_events(walker, self._chunks, self._committer, self._context, first - 1)


def _first_key(data: bytes, start: int) -> re.Pattern[bytes] | None:
    """A pattern of the start of a record, from the first record's first key (when it is
    plain: no escape in it)."""
    found = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"([^"\\]{1,100})"').match(data, start)
    if found is None:
        return None
    return re.compile(rb'\{[ \t\r\n]*"' + re.escape(found.group(1)) + rb'"[ \t\r\n]*:')


class _Replay:
    """Bytes held in memory, then the rest of the source: the stream ijson reads again."""

    def __init__(self, held: bytes, source: _Utf8Source) -> None:
        self._held = held
        self._source = source

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (the held ones first)."""
        if not self._held:
            return self._source.read(size)
        if size < 0:
            out, self._held = self._held + self._source.read(), b""
        else:
            out, self._held = self._held[:size], self._held[size:]
        return out


# ---------------------------------------------------------------------------------------
# The adapter


def read_vics(
    stream: BinaryIO,
    context: ReadContext,
    *,
    by_event: bool = False,
    uk_only: bool = False,
    expand: Expand | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches from a VICS file: the reader of :class:`VicsAdapter`, of the CAID
    adapter and of the vics-case adapter. ``by_event`` reads every file from parse
    events; ``uk_only`` refuses files that are not 2.0 UK profile (CAID's); ``expand``
    rewrites each chunk's rows (see :data:`Expand`), and implies ``by_event``."""
    by_event = by_event or expand is not None
    source = _Utf8Source(stream)
    head = _read_full(source, HEAD_BYTES)
    if not head.strip():
        raise UnsupportedFormat("the file is empty", source=context.source, line=1)
    source.unread(head)
    walker: _EventWalker | None = None
    start: int | None = None
    try:
        header = None if by_event else _scan_head(head)
        if header is not None and header.model.shape == "Media":
            start = _array_start(head, header.value_key)
        if header is None or start is None:
            walker = _EventWalker(ijson.basic_parse(source))
            header = walker.header()
    except _NotVics as exc:
        raise UnsupportedFormat(str(exc), source=context.source, line=1) from None
    except ijson.JSONError as exc:
        reason = f"not a VICS file: {_json_reason(exc, 1)}"
        raise UnsupportedFormat(reason, source=context.source, line=1) from None
    model = header.model
    if uk_only and not model.is_uk:
        raise UnsupportedFormat(
            f"not a CAID file (VICS 2.0, UK profile): the model is {model.url!r}",
            source=context.source,
            line=1,
        )
    table = None
    if model.needs_table and model.profile is not None:
        table = load_category_table(model.profile, context.options)
    chunks = _MediaChunks(model, table, context, expand)
    committer = _Committer(BatchAssembler(context))
    if walker is None and start is not None:
        _read_full(source, start)
        yield from _FastReader(source, header, chunks, committer, context).batches()
    else:
        assert walker is not None
        yield from _read_events(walker, chunks, committer, context)
    yield from committer.assembler.finish()


def _read_events(
    walker: _EventWalker,
    chunks: _MediaChunks,
    committer: _Committer,
    context: ReadContext,
    index: int = 0,
) -> Iterator[pa.RecordBatch]:
    """The batches of the records a walker finds, a chunk at a time. The walker's first
    record has index ``index + 1``; those up to the last one let through are passed over
    (the fast path read them)."""
    records: list[object] = []
    cases: list[str | None] = []
    skip = committer.done
    try:
        for found in walker.records():
            if isinstance(found, _CaseProblem):
                if records:
                    committer.add(chunks.rows(index - len(records) + 1, records, cases))
                    records, cases = [], []
                yield from committer.commit()
                if index == 0:
                    raise UnsupportedFormat(found.reason, source=context.source, line=1)
                yield from committer.assembler.add(_NO_ROWS, [(index + 1, found.reason)])
                continue
            index += 1
            if index <= skip:
                continue
            records.append(found)
            cases.append(walker.case_number)
            if index - committer.done >= CHUNK:
                committer.add(chunks.rows(index - len(records) + 1, records, cases))
                records, cases = [], []
                yield from committer.commit()
    except ijson.JSONError as exc:
        raise RecordError(
            _json_reason(exc, index + 1), source=context.source, line=index + 1
        ) from None
    if records:
        committer.add(chunks.rows(index - len(records) + 1, records, cases))
    yield from committer.commit()


class VicsAdapter(FormatAdapter):
    """Project VIC VICS JSON hash sets and case exports (data models 1.2, 1.3 and 2.0).

    Reads every profile; a 2.0 UK profile file is CAID's, which the ``caid`` adapter (tried
    first by detection) reads the same way.
    """

    NAME: ClassVar[str] = "vics"
    DESCRIPTION: ClassVar[str] = "Project VIC VICS JSON hash sets and case exports (1.2, 1.3, 2.0)"
    PRIORITY: ClassVar[int] = 6
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST})

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """A JSON object whose model key names a ProjectVic DataModels URL."""
        try:
            return sniff_model(head) is not None
        except Exception:
            return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per Media record with a digest (``line``: its record index);
        a hash set's records are parsed by Arrow (the fast path)."""
        return read_vics(stream, context)

    def read_by_event(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, always built from ijson's parse events: its reference
        twin (slower; the tests hold :meth:`read` to it)."""
        return read_vics(stream, context, by_event=True)
