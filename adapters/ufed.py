"""Cellebrite UFED / Physical Analyzer reports: ``report.xml`` (FORMATS.md §6.8).

::

    <project xmlns="http://pa.cellebrite.com/report/2.0" id="syn" name="Synthetic">
      <decodedData>...chats, contacts, attachments: not read...</decodedData>
      <taggedFiles>
        <file fs="Synthetic Phone" path="/private/var/mobile/Media/DCIM/IMG_0001.JPG"
              size="21" id="..." deleted="Intact">
          <metadata section="File">
            <item name="Local Path"><![CDATA[files\\Image\\IMG_0001.JPG]]></item>
            <item name="SHA256"><![CDATA[]]></item>
            <item name="MD5"><![CDATA[8ae3352be594f4c2fc4b7d527a79ace1]]></item>
          </metadata>
        </file>
      </taggedFiles>
    </project>

The root is ``project`` in the report 2.0 namespace (or in none, for a copy that lost it).
Each ``file`` of ``taggedFiles`` is one record; the artefacts under ``decodedData`` are
not files and are skipped whole. Of a file:

* ``path``: its ``path`` attribute verbatim, or when that is missing or empty the ``Local
  Path`` item (a backslashed path inside the ``.ufdr`` zip), or null;
* ``size``: its ``size`` attribute;
* ``md5``, ``sha1``, ``sha256``: the items of its ``metadata section="File"`` named after
  one of them (``MD5``, ``SHA1``, ``SHA256``), as written less surrounding whitespace.
  Physical Analyzer often writes the ``SHA256`` item empty: an empty item is a missing
  digest, not an error;
* ``line``: the line on which the ``file`` start tag begins.

Labels are null. A ``deleted`` state (``Intact``, ``Deleted``) would be a natural label,
but a manifest row's labels reach no verdict or report (the matcher shows the labels of
the *lists* a file matched), and "labels" there mean a source's grading: a file's own
state would be lost, or misread as one.

Warnings (the row is still read, with what it has): a ``size`` that is no byte count; a
file with no MD5, SHA1 or SHA256 value (its verdict is ``not_assessable``); an algorithm
given twice with different values (the first is kept). Broken XML, entities and streaming
are handled as for DFXML (:mod:`hashmatch_adapters.dfxml`, whose driver this module
shares): before the first ``file`` it means "not this format", after it a warning at
expat's line ends the read. A ``.ufdr`` archive is not read: give its ``report.xml``.
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

__all__ = ["NAMESPACE", "UfedReportAdapter"]

NAMESPACE = "http://pa.cellebrite.com/report/2.0"
"""The XML namespace of Physical Analyzer ``report.xml`` files."""

ROOT = "project"
_ROOTS = frozenset({ROOT})
_READ_NAMESPACES = frozenset({NAMESPACE, ""})
# A bare <project> is far too common (Maven, MSBuild...) to be taken for a report unasked.
_SNIFF_NAMESPACES = frozenset({NAMESPACE})
_FILES = "taggedFiles"
_RECORD = "file"
_LOCAL_PATH = "Local Path"


class UfedReportAdapter(XmlManifestAdapter):
    """Cellebrite UFED / Physical Analyzer ``report.xml``: one record per tagged ``file``."""

    NAME: ClassVar[str] = "ufed-xml"
    DESCRIPTION: ClassVar[str] = (
        "Cellebrite UFED / Physical Analyzer report.xml (tagged files: path, size, MD5, SHA256)"
    )
    RECORD: ClassVar[str] = _RECORD

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first element is ``project`` in the report 2.0 namespace."""
        return sniff_root(head, _ROOTS, _SNIFF_NAMESPACES)

    @staticmethod
    def make_parser(
        source: str, buffer: BatchBuffer, warnings: list[tuple[int, str]], progress: XmlProgress
    ) -> expat.XMLParserType:
        """See :func:`_parser`."""
        return _parser(source, buffer, warnings, progress)


class _File:
    """What has been read of one tagged ``file`` so far."""

    __slots__ = ("digests", "line", "local_path", "path", "problems", "size")

    def __init__(self, line: int, path: str | None, size: int | None) -> None:
        self.line = line
        self.path = path
        self.size = size
        self.local_path: str | None = None
        self.digests: list[str | None] = [None, None, None]
        self.problems: list[str] = []


def _parser(
    source: str, buffer: BatchBuffer, warnings: list[tuple[int, str]], progress: XmlProgress
) -> expat.XMLParserType:
    """An expat parser whose handlers append each tagged file read to ``buffer`` and the
    warnings about it to ``warnings``, and count it in ``progress``.

    ``decodedData`` (chats, contacts, locations...) is most of a report's elements: they
    cost one depth count each here, and their text is never collected.
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
    in_files = False
    record: _File | None = None
    record_depth = -1
    file_section = False
    item = ""
    item_depth = -1

    def where() -> int:
        return int(parser.CurrentLineNumber)

    def local_name(name: str) -> str:
        namespace, _, local = name.rpartition(NAMESPACE_SEPARATOR)
        if depth == 1:
            check_root(local, namespace, _ROOTS, _READ_NAMESPACES, source, where())
            progress.root = local
        names[name] = local if namespace in _READ_NAMESPACES else ""
        return names[name]

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, in_files, record, record_depth, file_section, item, item_depth
        depth += 1
        local = names.get(name)
        if local is None:
            local = local_name(name)
        if record is None:
            if depth == 2:
                in_files = local == _FILES
            elif depth == 3 and in_files and local == _RECORD:
                record = start_file(attributes)
                record_depth = depth
            return
        level = depth - record_depth
        if level == 1 and local == "metadata":
            file_section = attributes.get("section") == "File"
        elif level == 2 and file_section and local == "item":
            item = attributes.get("name", "")
            item_depth = depth
            parser.CharacterDataHandler = collect

    def start_file(attributes: dict[str, str]) -> _File:
        problems = []
        size = None
        try:
            size = parse_size(attributes.get("size", ""))
        except ValueError as exc:
            problems.append(f"{exc}; read without a size")
        found = _File(where(), attributes.get("path") or None, size)
        found.problems = problems
        return found

    def end(_: str) -> None:
        nonlocal depth, record, file_section, item_depth
        if depth == item_depth and record is not None:
            # Whitespace between elements is never handed to Python: the text handler is
            # set only while an item of a File section is open.
            parser.CharacterDataHandler = None
            value = "".join(text)
            clear_text()
            item_depth = -1
            keep(record, value)
        elif depth == record_depth and record is not None:
            finish(record)
            record = None
        elif record is not None and depth == record_depth + 1:
            file_section = False
        depth -= 1

    def keep(record: _File, value: str) -> None:
        if item == _LOCAL_PATH:
            if record.local_path is None and value:
                record.local_path = value
            return
        column = algorithm_column(item)
        value = value.strip()
        if column is None or not value:
            return
        kept = record.digests[column]
        if kept is None:
            record.digests[column] = value
        elif kept.lower() != value.lower():
            name = DIGEST_COLUMNS[column]
            record.problems.append(f"has two different {name} values; kept the first")

    def finish(record: _File) -> None:
        progress.records += 1
        md5, sha1, sha256 = record.digests
        warnings.extend((record.line, f"file {p}") for p in record.problems)
        if md5 is None and sha1 is None and sha256 is None:
            warnings.append((record.line, "file has no MD5, SHA1 or SHA256 value"))
        add_line(record.line)
        add_md5(md5)
        add_sha1(sha1)
        add_sha256(sha256)
        add_size(record.size)
        add_path(record.path or record.local_path)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity_refuser(parser, source)
    return parser
