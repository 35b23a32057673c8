"""hashdeep manifests: the ``HASHDEEP-1.0`` file format (FORMATS.md §6.1).

::

    %%%% HASHDEEP-1.0
    %%%% size,md5,sha256,filename
    ## Invoked from: /cases/SYN-0001
    21,8ae3...ace1,4748...f62c,evidence/a.bin

The second header line names the columns: ``size`` first, ``filename`` last, digests in
between in any subset and order (``md5``, ``sha1``/``sha-1``, ``sha256``/``sha-256``,
``tiger``, ``whirlpool``, and whatever reimplementations add). Columns hashmatch does not
match are ignored. Data lines are unquoted CSV whose *last* field, the file name, may
itself hold commas: a line is split on its first N-1 commas only. ``#`` lines are
comments (hashdeep writes ``## Invoked from:``, ``## $ command`` or ``## C:\\>command``,
and a bare ``##``). A second header block (two manifests concatenated) replaces the
column list from where it appears.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

import pyarrow as pa

from hashmatch.adapter import FormatAdapter, ReadContext
from hashmatch.errors import UnsupportedFormat
from hashmatch.textio import iter_lines

from ._common import DIGEST_COLUMNS, BatchBuffer, algorithm_column, head_lines

__all__ = ["HashdeepAdapter"]

MAGIC = "%%%% HASHDEEP-1.0"
_PREFIX = "%%%%"

# Names hashdeep and its reimplementations write for the algorithms hashmatch matches.
# Anything else (tiger, whirlpool, sha512, blake3...) is a column to skip.
_KNOWN_DIGESTS = frozenset({"md5", "sha1", "sha-1", "sha256", "sha-256"})


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the fields of a data line are, from a ``%%%% size,...,filename`` line."""

    fields: int
    size: int | None
    digests: tuple[tuple[str, int], ...]
    """(record column, field index) of each digest the file has: md5, sha1, sha256."""


def _parse_layout(line: str) -> _Layout | str:
    """The column layout a ``%%%%`` column line declares, or why it declares none."""
    names = [name.strip().lower() for name in line[len(_PREFIX) :].split(",")]
    if len(names) < 2 or names[-1] != "filename":
        return f"the column line must end with 'filename': {line[:80]!r}"
    if "filename" in names[:-1]:
        return "the column line names 'filename' twice"
    digests: list[int | None] = [None, None, None]
    for index, name in enumerate(names[:-1]):
        if name in _KNOWN_DIGESTS:
            column = algorithm_column(name)
            if column is not None and digests[column] is None:
                digests[column] = index
    if digests == [None, None, None]:
        return f"no md5, sha1 or sha256 column in {line[:80]!r}"
    size = names.index("size") if "size" in names else None
    present = tuple(
        (name, at) for name, at in zip(DIGEST_COLUMNS, digests, strict=True) if at is not None
    )
    return _Layout(fields=len(names), size=size, digests=present)


class HashdeepAdapter(FormatAdapter):
    """hashdeep's ``HASHDEEP-1.0`` manifests: size, digests and file name per line.

    The header is what makes a file this format, so a missing or malformed header is
    :class:`UnsupportedFormat`; after it, a data line with the wrong number of fields or
    a size that is not a number is a warning.
    """

    NAME: ClassVar[str] = "hashdeep"
    DESCRIPTION: ClassVar[str] = "hashdeep HASHDEEP-1.0 manifest (size, digests, filename)"
    PRIORITY: ClassVar[int] = 10

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """The first non-blank line is ``%%%% HASHDEEP-1.0``."""
        lines, _ = head_lines(head)
        for line in lines:
            if line.strip():
                return line.strip() == MAGIC
        return False

    def read(self, stream: BinaryIO, context: ReadContext) -> Iterator[pa.RecordBatch]:
        """Yield one record per data line, with ``size``, digests and ``path``."""
        lines = iter_lines(stream)
        layout: _Layout | None = self._read_header(lines, context.source)
        batch_size = context.batch_size
        while layout is not None:
            # One pass per header block: a second block may name other columns.
            buffer = BatchBuffer(("size", "path", *(name for name, _ in layout.digests)))
            columns = buffer.columns
            numbers = columns["line"]
            add_number, add_size, add_path = (
                numbers.append,
                columns["size"].append,
                columns["path"].append,
            )
            # Up to three digest columns; absent ones write to a scratch list, so that the
            # per-line work has no loop (the scratch list is cleared with each batch).
            scratch: list[str] = []
            adders = [columns[name].append for name, _ in layout.digests]
            at = [at for _, at in layout.digests]
            while len(adders) < 3:
                adders.append(scratch.append)
                at.append(0)
            add_a, add_b, add_c = adders
            at_a, at_b, at_c = at
            splits, size_at = layout.fields - 1, layout.size
            next_layout: _Layout | None = None
            for number, line in lines:
                if line[:1] in "#%":  # also true for an empty line
                    if line.startswith(_PREFIX) and line.rstrip() != MAGIC:
                        found = _parse_layout(line)
                        if not isinstance(found, str):
                            next_layout = found
                            break
                        context.warn(number, f"ignored a column line: {found}")
                    if line[:1] != "%" or line.startswith(_PREFIX):
                        continue
                parts = line.split(",", splits)
                if len(parts) <= splits:
                    if line and not line.isspace():
                        context.warn(number, f"expected {splits + 1} fields, got {len(parts)}")
                    continue
                size: int | None = None
                if size_at is not None:
                    try:
                        size = int(parts[size_at])
                    except ValueError:
                        context.warn(number, f"size is not a number: {parts[size_at][:40]!r}")
                add_number(number)
                add_size(size)
                add_path(parts[splits])
                # Passed as found: the core trims whitespace and reads "" as "no digest".
                add_a(parts[at_a])
                add_b(parts[at_b])
                add_c(parts[at_c])
                if len(numbers) >= batch_size:
                    scratch.clear()
                    yield buffer.flush()
            if numbers:
                yield buffer.flush()
            layout = next_layout

    @staticmethod
    def _read_header(lines: Iterator[tuple[int, str]], source: str) -> _Layout:
        """Consume the two header lines (comments and blank lines may come between)."""
        seen_magic = False
        for number, line in lines:
            text = line.strip()
            if not text or (seen_magic and text.startswith("#")):
                continue
            if not seen_magic:
                if text != MAGIC:
                    raise UnsupportedFormat(
                        f"expected {MAGIC!r}, got {text[:60]!r}", source=source, line=number
                    )
                seen_magic = True
                continue
            if not text.startswith(_PREFIX):
                raise UnsupportedFormat(
                    "a data line before the '%%%% size,...,filename' column line",
                    source=source,
                    line=number,
                )
            layout = _parse_layout(text)
            if isinstance(layout, str):
                raise UnsupportedFormat(layout, source=source, line=number)
            return layout
        raise UnsupportedFormat(
            "no HASHDEEP-1.0 header" if not seen_magic else "no column line after the header",
            source=source,
        )
