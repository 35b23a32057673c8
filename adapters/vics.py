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

Reading streams through ijson whatever the file's size: memory holds one chunk of
:data:`CHUNK` records and one batch. Files are UTF-8, UTF-8 with a BOM or UTF-16 (with a
BOM, or told by its zero bytes), transcoded to UTF-8 as they are read. A hash set whose
``value`` key appears in the first 64 KiB is read by ijson's C item builder
(:meth:`VicsAdapter.read`); case exports, and hash sets where it does not, are read from
ijson's parse events, as :meth:`VicsAdapter.read_by_event`, the reference twin, reads every
file. Either way each chunk's records are read a field at a time across the chunk, and
both give the same batches and warnings.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import ijson  # type: ignore[import-untyped]
import pyarrow as pa
import pyarrow.compute as pc

from hashmatch.adapter import HEAD_BYTES, FormatAdapter, ReadContext, Role
from hashmatch.errors import ConfigurationError, RecordError, UnsupportedFormat
from hashmatch.labels import Label, Scheme
from hashmatch.records import RECORD_SCHEMA
from hashmatch.textio import decode_head, detect_bom

from ._common import MAX_SIZE, BatchAssembler, parse_size

__all__ = [
    "TABLE_FORMAT",
    "CategoryTable",
    "VicsAdapter",
    "VicsModel",
    "default_table_folder",
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


def _kind(value: object) -> str:
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
                yield _CaseProblem(f"case {position} is {_kind(value)}, not a case object")
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
    raise ValueError(f"{_kind(value)}, not text")


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


def _get(mapping: dict[str, Any], key: str) -> Any:
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
        name, digest = _get(mapping, "HashName"), _get(mapping, "HashValue")
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
_OPEN, _CLOSE = pa.scalar("{"), pa.scalar("}")
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
            problems.append((at[j], order, f"{name} is {_kind(value)}, not text"))
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


class _MediaChunks:
    """Turns chunks of Media records into record batches, reading each field across a
    chunk at once, and says which records and fields are bad."""

    def __init__(self, model: VicsModel, table: CategoryTable | None, context: ReadContext) -> None:
        self._context = context
        self._model = model
        self._table = table
        constants = {
            Label.SCHEME.value: model.scheme,
            "vics_version": model.version,
            "vics_profile": model.profile,
        }
        self._constants = {
            key: pa.scalar(f"{encode_basestring(key)}:{encode_basestring(value)}")
            for key, value in constants.items()
            if value
        }
        names = _LABELS if table is None else (*_LABELS, table.label_key, "category_table")
        self._prefixes = {name: pa.scalar(f"{encode_basestring(name)}:") for name in names}

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
                    reason = f"a Media record must be a JSON object, not {_kind(record)}"
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
                    problems.append((at[j], _PHOTODNA, f"PhotoDNA is {_kind(value)}, not text"))
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
        return self._batch(lines, md5, sha1, sha256, sizes, paths, labels), warnings

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
        lines: list[int],
        md5: list[str | None],
        sha1: list[str | None],
        sha256: list[str | None],
        sizes: list[Any],
        paths: list[str | None],
        labels: list[list[str | None]],
    ) -> pa.RecordBatch:
        """A record batch of the columns; the label pieces joined into JSON objects."""
        pieces: dict[str, Any] = dict(self._constants)
        for (name, prefix), values in zip(self._prefixes.items(), labels, strict=True):
            if values.count(None) != len(values):
                array = pa.array(values, pa.string())
                pieces[name] = pc.binary_join_element_wise(prefix, array, "")
        # Sorted keys, no spaces, null pieces left out: as encode_labels() writes them.
        joined = pc.binary_join_element_wise(
            *(pieces[key] for key in sorted(pieces)), ",", null_handling="skip"
        )
        objects = pc.binary_join_element_wise(_OPEN, joined, _CLOSE, "")
        if isinstance(objects, pa.Scalar):
            objects = pa.array([objects.as_py()] * len(lines), pa.string())
        arrays = [
            pa.array(lines, pa.int64()),
            pa.array(md5, pa.string()),
            pa.array(sha1, pa.string()),
            pa.array(sha256, pa.string()),
            pa.array(sizes, pa.int64()),
            pa.array(paths, pa.string()),
            objects,
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=RECORD_SCHEMA)


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
        kind = name.upper().replace("-", "").replace("_", "").replace(" ", "")
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
                name = _get(entry, "FileName")
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
# The adapter


def read_vics(
    stream: BinaryIO, context: ReadContext, *, by_event: bool = False, uk_only: bool = False
) -> Iterator[pa.RecordBatch]:
    """Record batches from a VICS file: the reader of :class:`VicsAdapter` and the CAID
    adapter. ``by_event`` reads every file from parse events; ``uk_only`` refuses files
    that are not 2.0 UK profile (CAID's)."""
    source = _Utf8Source(stream)
    head = source.read(HEAD_BYTES)
    if not head.strip():
        raise UnsupportedFormat("the file is empty", source=context.source, line=1)
    source.unread(head)
    walker: _EventWalker | None = None
    try:
        header = None if by_event else _scan_head(head)
        if header is None or header.model.shape != "Media":
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
    chunks = _MediaChunks(model, table, context)
    assembler = BatchAssembler(context)
    if walker is None:
        # zip() draws the count before the record, so the count tells where ijson broke.
        counter = itertools.count(1)
        numbered = zip(counter, ijson.items(source, f"{header.value_key}.item"), strict=False)
        first = 1
        try:
            while pairs := list(itertools.islice(numbered, CHUNK)):
                records = [record for _, record in pairs]
                yield from assembler.add(*chunks.read(first, records))
                first += len(records)
        except ijson.JSONError as exc:
            index = next(counter) - 1
            raise RecordError(_json_reason(exc, index), source=context.source, line=index) from None
    else:
        yield from _read_events(walker, chunks, assembler, context)
    yield from assembler.finish()


def _read_events(
    walker: _EventWalker, chunks: _MediaChunks, assembler: BatchAssembler, context: ReadContext
) -> Iterator[pa.RecordBatch]:
    """The batches of the records a walker finds, a chunk at a time."""
    index = 0
    records: list[object] = []
    cases: list[str | None] = []
    try:
        for found in walker.records():
            if isinstance(found, _CaseProblem):
                if records:
                    yield from assembler.add(*chunks.read(index - len(records) + 1, records, cases))
                    records, cases = [], []
                if index == 0:
                    raise UnsupportedFormat(found.reason, source=context.source, line=1)
                yield from assembler.add(_NO_ROWS, [(index + 1, found.reason)])
                continue
            index += 1
            records.append(found)
            cases.append(walker.case_number)
            if len(records) >= CHUNK:
                yield from assembler.add(*chunks.read(index - len(records) + 1, records, cases))
                records, cases = [], []
    except ijson.JSONError as exc:
        raise RecordError(
            _json_reason(exc, index + 1), source=context.source, line=index + 1
        ) from None
    if records:
        yield from assembler.add(*chunks.read(index - len(records) + 1, records, cases))


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
        """Yield one record per Media record with a digest (``line``: its record index)."""
        return read_vics(stream, context)

    def read_by_event(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """What :meth:`read` yields, always built from ijson's parse events: its reference
        twin (slower; the tests hold :meth:`read` to it)."""
        return read_vics(stream, context, by_event=True)
