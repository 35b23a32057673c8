"""DFXML file manifests: fiwalk, md5deep/hashdeep ``-d``, bulk_extractor (FORMATS.md §6.2).

::

    <dfxml xmlns="http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
           version="1.2.0">
      <volume offset="1048576">
        <fileobject>
          <filename>Users/fixture/Pictures/a.jpg</filename>
          <filesize>21</filesize>
          <byte_runs>
            <byte_run file_offset="0" len="21"><hashdigest type="md5">...</hashdigest></byte_run>
          </byte_runs>
          <hashdigest type="md5">8ae3...ace1</hashdigest>
          <hashdigest type="SHA1">D20C...7DE6</hashdigest>
        </fileobject>
      </volume>
    </dfxml>

The root is ``dfxml`` or, in old fiwalk output, ``fiwalk``; in the DFXML namespace, in the
fiwalk one (``http://afflib.org/fiwalk/``) or in none (md5deep writes none). Every
``fileobject``, wherever it sits (under a ``volume``, or straight under the root as md5deep
writes them), is one record:

* ``path``: its ``filename`` verbatim, or null for an unallocated or orphan file that has
  none; such a file is read like any other, never dropped;
* ``size``: its ``filesize``;
* ``md5``, ``sha1``, ``sha256``: its *direct* ``hashdigest`` children whose ``type`` names
  one of them, in any case (``md5``, ``MD5``, ``SHA256``). Other types (``SHA512``,
  ``MD6``, ``OTHER``) are ignored, and so are the piece digests DFXML puts inside
  ``byte_runs/byte_run``: those hash one run of sectors, not the file;
* ``line``: the line on which the ``fileobject`` start tag begins.

Digest text is passed as written, less surrounding whitespace: the core checks it, so a
digest that is not hex makes its row ``invalid`` there, not a warning here. An empty
``hashdigest`` counts as none. Labels are null: a manifest describes files, it does not
grade them.

Warnings (the row is still read, with what it has): a ``filesize`` that is no byte count;
a file with no md5, sha1 or sha256 digest (its verdict is ``not_assessable``); an algorithm
given twice with different values (the first is kept). A directory with no digest (``name_type``
``d``, or fiwalk's ``meta_type`` 2) is no file: it yields no row and no warning. A
``fileobject`` nested in another (differential DFXML's ``delta:original_fileobject``)
belongs to the outer one and is not read.

Malformed or truncated XML before the first ``fileobject`` has been read means "not this
format" (:class:`UnsupportedFormat`); after it, the read stops with a warning at the line
expat reports (a :class:`RecordError` under ``strict``), keeping the rows read so far.
DTD entity declarations are refused, and no external entity is ever resolved.

The document is parsed by expat as a stream, 64 KiB at a time: memory stays flat however
many files the manifest lists. The driver and the sniffer are :mod:`._xml`'s, shared with
:mod:`hashmatch_adapters.ufed`.
"""

from __future__ import annotations

from typing import ClassVar
from xml.parsers import expat

from ._common import DIGEST_COLUMNS, BatchBuffer, algorithm_column, parse_size
from ._xml import (
    MANIFEST_COLUMNS,
    NAMESPACE_SEPARATOR,
    XML_CHUNK,
    XmlManifestAdapter,
    XmlProgress,
    check_root,
    entity_refuser,
    sniff_root,
)

__all__ = ["DFXML_NAMESPACE", "FIWALK_NAMESPACE", "DfxmlAdapter"]

DFXML_NAMESPACE = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
"""The namespace of DFXML documents (1.x, and 2.0-beta)."""
FIWALK_NAMESPACE = "http://afflib.org/fiwalk/"
"""The namespace of old fiwalk output (root ``fiwalk``)."""

_NAMESPACES = frozenset({DFXML_NAMESPACE, FIWALK_NAMESPACE, ""})
_ROOTS = frozenset({"dfxml", "fiwalk"})
_RECORD = "fileobject"
_FIELDS = frozenset({"filename", "filesize", "hashdigest", "name_type", "meta_type"})


class DfxmlAdapter(XmlManifestAdapter):
    """DFXML manifests (``dfxml`` or old ``fiwalk`` root): one record per ``fileobject``."""

    NAME: ClassVar[str] = "dfxml"
    DESCRIPTION: ClassVar[str] = (
        "DFXML file manifest (fiwalk, md5deep/hashdeep -d): filename, filesize, hashdigests"
    )
    RECORD: ClassVar[str] = _RECORD

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first element is ``dfxml`` or ``fiwalk``, in a DFXML namespace or in none."""
        return sniff_root(head, _ROOTS, _NAMESPACES)

    @staticmethod
    def make_parser(
        source: str, buffer: BatchBuffer, warnings: list[tuple[int, str]], progress: XmlProgress
    ) -> expat.XMLParserType:
        """See :func:`_parser`."""
        return _parser(source, buffer, warnings, progress)


class _FileObject:
    """What has been read of one ``fileobject`` so far."""

    __slots__ = ("digests", "directory", "ignored", "line", "path", "problems", "size")

    def __init__(self, line: int) -> None:
        self.line = line
        self.path: str | None = None
        self.size: int | None = None
        self.digests: list[str | None] = [None, None, None]
        self.ignored: list[str] = []
        self.directory = False
        self.problems: list[str] = []


def _parser(
    source: str, buffer: BatchBuffer, warnings: list[tuple[int, str]], progress: XmlProgress
) -> expat.XMLParserType:
    """An expat parser whose handlers append each ``fileobject`` read to ``buffer`` and the
    warnings about it to ``warnings``, and count it in ``progress``.

    The handlers are closures over plain local variables: they run for every element of
    manifests of millions of files (a dozen elements each), where attribute look-ups add up.
    """
    parser = expat.ParserCreate(namespace_separator=NAMESPACE_SEPARATOR)
    parser.buffer_text = True
    parser.buffer_size = XML_CHUNK
    names: dict[str, str] = {}
    text: list[str] = []
    collect, clear_text = text.append, text.clear
    columns = buffer.columns
    add_line, add_md5, add_sha1, add_sha256, add_size, add_path = (
        columns[name].append for name in ("line", *MANIFEST_COLUMNS)
    )
    depth = 0
    record: _FileObject | None = None
    record_depth = -1
    field = ""
    kind = ""

    def where() -> int:
        return int(parser.CurrentLineNumber)

    def local_name(name: str) -> str:
        namespace, _, local = name.rpartition(NAMESPACE_SEPARATOR)
        if depth == 1:
            check_root(local, namespace, _ROOTS, _NAMESPACES, source, where())
            progress.root = local
        # Elements of other vocabularies (dc:, delta:, a tool's own) are never DFXML fields.
        names[name] = local if namespace in _NAMESPACES else ""
        return names[name]

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, record, record_depth, field, kind
        depth += 1
        local = names.get(name)
        if local is None:
            local = local_name(name)
        if record is None:
            if local == _RECORD:
                record = _FileObject(where())
                record_depth = depth
        elif depth == record_depth + 1 and local in _FIELDS:
            # Only direct children: a byte_run's hashdigest is deeper, and never collected.
            field = local
            kind = attributes.get("type", "")
            parser.CharacterDataHandler = collect

    def end(_: str) -> None:
        nonlocal depth, record, field
        if field and depth == record_depth + 1 and record is not None:
            # Whitespace between elements is never handed to Python: the text handler is
            # set only while a field whose text is wanted is open.
            parser.CharacterDataHandler = None
            value = "".join(text)
            clear_text()
            keep(record, field, value)
            field = ""
        elif depth == record_depth and record is not None:
            finish(record)
            record = None
        depth -= 1

    def keep(record: _FileObject, field: str, value: str) -> None:
        if field == "hashdigest":
            keep_digest(record, value.strip())
        elif field == "filename":
            if record.path is None and value:
                record.path = value
        elif field == "filesize":
            try:
                record.size = parse_size(value)
            except ValueError as exc:
                record.problems.append(f"{exc}; read without a size")
        elif field == "name_type":
            record.directory = record.directory or value.strip() == "d"
        else:  # meta_type: fiwalk writes TSK's numbers, 2 for a directory
            record.directory = record.directory or value.strip() == "2"

    def keep_digest(record: _FileObject, value: str) -> None:
        column = algorithm_column(kind)
        if column is None:
            record.ignored.append(kind or "(no type)")
            return
        if not value:
            return
        kept = record.digests[column]
        if kept is None:
            record.digests[column] = value
        elif kept.lower() != value.lower():
            name = DIGEST_COLUMNS[column]
            record.problems.append(f"has two different {name} hashdigests; kept the first")

    def finish(record: _FileObject) -> None:
        progress.records += 1
        md5, sha1, sha256 = record.digests
        digestless = md5 is None and sha1 is None and sha256 is None
        if digestless and record.directory:
            return
        warnings.extend((record.line, f"fileobject {p}") for p in record.problems)
        if digestless:
            others = f" (only {', '.join(record.ignored)})" if record.ignored else ""
            warnings.append(
                (record.line, f"fileobject has no md5, sha1 or sha256 hashdigest{others}")
            )
        add_line(record.line)
        add_md5(md5)
        add_sha1(sha1)
        add_sha256(sha256)
        add_size(record.size)
        add_path(record.path)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity_refuser(parser, source)
    return parser


# --- shared with the UFED report adapter ------------------------------------------------
