"""What the XML manifest adapters share: a streaming expat driver, root checks, a sniffer.

:mod:`hashmatch_adapters.dfxml` and :mod:`hashmatch_adapters.ufed` differ only in their
element handlers. Both feed the document to expat 64 KiB at a time
(:func:`stream_records`), refuse entity declarations (:func:`entity_refuser`), check the
root element (:func:`check_root`) and recognise their files by the root element and its
namespace (:func:`sniff_root`).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar
from xml.parsers import expat

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext, Role
from hashmatch.errors import UnsupportedFormat
from hashmatch.textio import decode_head

from ._common import BatchAssembler, BatchBuffer

__all__ = [
    "MANIFEST_COLUMNS",
    "NAMESPACE_SEPARATOR",
    "XML_CHUNK",
    "XmlManifestAdapter",
    "XmlProgress",
    "check_root",
    "entity_refuser",
    "sniff_root",
    "stream_records",
]

XML_CHUNK = 1 << 16
"""Bytes fed to expat at a time (and its buffer size)."""
NAMESPACE_SEPARATOR = " "
"""expat joins a namespace URI and a local name with this (a space is in neither)."""
MANIFEST_COLUMNS = ("md5", "sha1", "sha256", "size", "path")
"""The record columns an XML manifest fills."""


@dataclass(slots=True)
class XmlProgress:
    """How far a parse has got: whether the decision "this is the format" can be taken."""

    root: str = ""
    """The root element's name, once it has been seen and accepted."""
    records: int = 0
    """How many records have been read to their end tag."""


def check_root(
    local: str,
    namespace: str,
    roots: frozenset[str],
    namespaces: frozenset[str],
    source: str,
    line: int,
) -> None:
    """Raise :class:`UnsupportedFormat` unless the root element is one of ``roots`` in one of
    ``namespaces`` (``""`` for none)."""
    expected = " or ".join(f"<{r}>" for r in sorted(roots))
    if local not in roots:
        raise UnsupportedFormat(
            f"the root element is <{local}>, not {expected}", source=source, line=line
        )
    if namespace not in namespaces:
        known = ", ".join(repr(n) for n in sorted(namespaces) if n)
        raise UnsupportedFormat(
            f"<{local}> is in the namespace {namespace!r}, not {known}", source=source, line=line
        )


def entity_refuser(parser: expat.XMLParserType, source: str) -> Callable[..., None]:
    """An ``EntityDeclHandler`` that refuses every entity declaration (billion laughs)."""

    def refuse(name: str, *_: object) -> None:
        # Declarations come before the root element: this is never a document to read.
        raise UnsupportedFormat(
            f"the document declares an entity ({name!r}): entities are not accepted",
            source=source,
            line=int(parser.CurrentLineNumber),
        )

    return refuse


def stream_records(
    stream: BinaryIO,
    context: ReadContext,
    parser: expat.XMLParserType,
    buffer: BatchBuffer,
    warnings: list[tuple[int, str]],
    progress: XmlProgress,
    *,
    record: str,
) -> Iterator[pa.RecordBatch]:
    """Feed ``stream`` to ``parser`` 64 KiB at a time, yielding the rows its handlers put in
    ``buffer`` and issuing the warnings they put in ``warnings``, in line order.

    Malformed XML before the first ``record`` element has been read means the file is not
    this format; after it, it is a warning at expat's line and the read stops there.
    """
    assembler = BatchAssembler(context)
    while True:
        chunk = stream.read(XML_CHUNK)
        broken = False
        try:
            parser.Parse(chunk, not chunk)
        except expat.ExpatError as exc:
            reason = expat.errors.messages.get(exc.code, str(exc))
            if not progress.root:
                raise UnsupportedFormat(
                    f"not an XML document: {reason}", source=context.source, line=exc.lineno
                ) from None
            if not progress.records:
                raise UnsupportedFormat(
                    f"malformed XML before the first <{record}> was read: {reason}",
                    source=context.source,
                    line=exc.lineno,
                ) from None
            if not chunk:
                reason = f"the document ends before </{progress.root}> (truncated?): {reason}"
            else:
                reason = f"malformed XML, the document cannot be read past here: {reason}"
            warnings.append((exc.lineno, f"{reason}; the rest of the file was not read"))
            broken = True
        if len(buffer) or warnings:
            found = warnings.copy()
            warnings.clear()
            yield from assembler.add(buffer.flush(), found)
        if broken or not chunk:
            break
    yield from assembler.finish()


# Sniffing: what may come before the root element, the root's start tag, its attributes.
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)?", re.DOTALL)
_ROOT_TAG = re.compile(r"<(?:([A-Za-z_][\w.\-]*):)?([A-Za-z_][\w.\-]*)(?=[\s/>]|$)([^>]*)")
_ATTRIBUTE = re.compile(r"""([\w.:\-]+)\s*=\s*(["'])(.*?)\2""", re.DOTALL)


def sniff_root(head: bytes, roots: frozenset[str], namespaces: frozenset[str]) -> bool:
    """Whether the first element of ``head`` is one of ``roots`` in one of ``namespaces``
    (an undeclared default namespace counts as ``""``). Never raises."""
    text = decode_head(head).removeprefix("\ufeff")
    position = 0
    while (found := _PROLOG.match(text, position)) is not None and found.end() > position:
        position = found.end()
    start = _ROOT_TAG.match(text, position)
    if start is None or start.group(2) not in roots:
        return False
    prefix, attributes = start.group(1), start.group(3)
    declared = "xmlns" + (f":{prefix}" if prefix else "")
    for attribute in _ATTRIBUTE.finditer(attributes):
        if attribute.group(1) == declared:
            return attribute.group(3) in namespaces
    return prefix is None and "" in namespaces


class XmlManifestAdapter(FormatAdapter):
    """An XML manifest format: one record per ``RECORD`` element, read by the parser that
    :meth:`make_parser` builds, streamed by :func:`stream_records`."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.MANIFEST})
    # Before the delimited-text adapters: an XML head is no CSV, but it is text.
    PRIORITY: ClassVar[int] = 20
    RECORD: ClassVar[str]
    """The element each record is read from (for messages about the first one)."""

    @staticmethod
    @abstractmethod
    def make_parser(
        source: str, buffer: BatchBuffer, warnings: list[tuple[int, str]], progress: XmlProgress
    ) -> expat.XMLParserType:
        """An expat parser whose handlers append each record read to ``buffer`` (its
        :data:`MANIFEST_COLUMNS`) and the warnings about it to ``warnings``, and count it in
        ``progress``."""

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per ``RECORD`` element, in file order."""
        buffer = BatchBuffer(MANIFEST_COLUMNS)
        warnings: list[tuple[int, str]] = []
        progress = XmlProgress()
        parser = self.make_parser(context.source, buffer, warnings, progress)
        yield from stream_records(
            stream, context, parser, buffer, warnings, progress, record=self.RECORD
        )
