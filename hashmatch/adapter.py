"""The extension point for file formats: :class:`FormatAdapter`, and what it reads with.

An adapter is a small class with a stable ``NAME``, a cheap :meth:`FormatAdapter.sniff`
over the first bytes of a file, and a streaming :meth:`FormatAdapter.read` that yields
:data:`hashmatch.records.RECORD_SCHEMA` batches. Rules every adapter keeps:

* a bad *first* record means "not this format": raise :class:`UnsupportedFormat`;
* a bad *later* record is reported with :meth:`ReadContext.warn` (source, line, reason)
  and reading goes on; under ``strict`` that call raises :class:`RecordError` instead;
* never read a whole file into memory: lists reach hundreds of millions of rows.

Adapters register through the ``hashmatch.adapters`` entry-point group (built-ins too);
see :mod:`hashmatch.registry`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.errors import RecordError
from hashmatch.model import RecordWarning

__all__ = ["FormatAdapter", "ReadContext", "RecordNote", "Role"]

HEAD_BYTES = 64 * 1024
"""How much of a file :meth:`FormatAdapter.sniff` is shown."""


class Role(enum.StrEnum):
    """What an adapter's files can be used as."""

    LIST = "list"
    MANIFEST = "manifest"


class RecordNote(str):
    """A reason given with a record that is no fault of the file: why a manifest row has no
    digest (a scan could not read the file, say). Passed to :meth:`ReadContext.warn` like a
    warning, it becomes the row's reason instead, and never an error, even under ``strict``.
    """

    __slots__ = ()


@dataclass(slots=True)
class ReadContext:
    """What a read needs besides the bytes: where they came from, and where warnings go."""

    source: str
    """Name used in messages (the file name as given)."""
    strict: bool = False
    """Turn every warning into a :class:`RecordError`."""
    batch_size: int = 65_536
    """Rows per yielded batch (the last may be shorter)."""
    keep_warnings: int = 200
    """How many warnings to keep verbatim; all are counted."""
    path: Path | None = None
    """The file being read, when it is one: formats that need random access (SQLite,
    companion files beside a list) open it themselves. The stream is still the file's
    bytes, and whatever the adapter does not read of it is read afterwards to hash it."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Settings an administrator gives a format (``category_tables``: the folder of
    per-profile category tables), by name."""
    warnings: list[RecordWarning] = field(default_factory=list)
    warning_count: int = 0
    notes: dict[int, str] = field(default_factory=dict)
    """The :class:`RecordNote` reasons given, by line."""

    def warn(self, line: int | None, reason: str) -> None:
        """Record a skipped or repaired record; raise instead under ``strict``.

        A :class:`RecordNote` is kept in :attr:`notes` instead: it is no warning.
        """
        if isinstance(reason, RecordNote):
            if line is not None:
                self.notes[line] = str(reason)
            return
        if self.strict:
            raise RecordError(reason, source=self.source, line=line)
        self.warning_count += 1
        if len(self.warnings) < self.keep_warnings:
            self.warnings.append(RecordWarning(source=self.source, line=line, reason=reason))


class FormatAdapter(ABC):
    """Reads one file format into record batches (lists and manifests alike).

    Subclasses set ``NAME`` (stable once released: scripts pass it to ``--format``),
    ``DESCRIPTION`` (one line for ``hashmatch formats``), and may set ``PRIORITY``
    (lower is tried first by auto-detection; specific formats before generic ones),
    ``VERSION`` (recorded with every list version it loads) and ``ROLES``.
    """

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str]
    VERSION: ClassVar[str] = "1"
    PRIORITY: ClassVar[int] = 100
    ROLES: ClassVar[frozenset[Role]] = frozenset({Role.LIST, Role.MANIFEST})

    @classmethod
    @abstractmethod
    def sniff(cls, head: bytes) -> bool:
        """Whether ``head`` (the first bytes of a file, up to 64 KiB) looks like this format.

        Cheap and side-effect free; must not raise.
        """

    @abstractmethod
    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield record batches from ``stream``, in file order.

        Raises :class:`hashmatch.errors.UnsupportedFormat` when the first record is not of
        this format, and :class:`hashmatch.errors.RecordError` for a bad later record
        under ``context.strict``.
        """
