"""Writing scan results as a hashdeep ``HASHDEEP-1.0`` manifest (FORMATS.md §6.1).

::

    %%%% HASHDEEP-1.0
    %%%% size,md5,sha1,sha256,filename
    ## Invoked from: /cases/SYN-0001
    ## $ hashmatch scan evidence
    ##
    21,8ae3...,54586d...,4748...,a.bin
    ## not_assessable: permission denied<TAB>locked/b.bin
    21,d250...,3a1f20...,863f...,name, with commas.txt

hashdeep readers split a data line on its first four commas, so commas in names need no
care. Everything that is written is one line of UTF-8: paths, the folder and the command
line are rendered by :func:`hashmatch.scan.escape_path` (a newline in a name is ``\\n``,
a byte that is not UTF-8 is ``\\xNN``, a backslash is doubled). A file that was not hashed
gets a ``## not_assessable: <reason><TAB><path>`` comment line where its data line would
be, so the manifest accounts for every entry, in scan order, and hashdeep-compatible tools
still read it. Reasons and paths are escaped, so neither holds a tab: the line splits at
its one tab. hashmatch's own ``hashdeep`` reader turns these lines into ``not_assessable``
rows with their reason, so that checking the manifest again gives the scan's verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from hashmatch.scan._model import ScannedFile
from hashmatch.scan._names import escape_text

__all__ = ["MANIFEST_COLUMNS", "NOT_ASSESSABLE_PREFIX", "write_hashdeep_manifest"]

MANIFEST_COLUMNS = ("size", "md5", "sha1", "sha256", "filename")
NOT_ASSESSABLE_PREFIX = "## not_assessable: "
_HEADER_LINES = 5
_FLUSH_LINES = 4096


def write_hashdeep_manifest(
    files: Iterable[ScannedFile], handle: TextIO, *, invoked_from: str, command: str
) -> list[tuple[int, ScannedFile]]:
    """Write ``files`` to ``handle`` as a HASHDEEP-1.0 manifest, in the order given.

    ``invoked_from`` (the working folder) and ``command`` (the command line) fill
    hashdeep's two comment lines. ``handle`` should be a text stream that writes ``\\n``
    as is (``open(..., "w", encoding="utf-8", newline="\\n")``). Returns the 1-based line
    number and the file of every ``## not_assessable`` line, in order, so that each can be
    given its verdict at its line; the path there is the one written (escaped).
    """
    handle.write(
        f"%%%% HASHDEEP-1.0\n%%%% {','.join(MANIFEST_COLUMNS)}\n"
        f"## Invoked from: {escape_text(invoked_from)}\n## $ {escape_text(command)}\n##\n"
    )
    skipped: list[tuple[int, ScannedFile]] = []
    lines: list[str] = []
    append = lines.append
    number = _HEADER_LINES
    for found in files:
        number += 1
        if "\n" in found.path or "\r" in found.path:
            # The scanner escapes every path; an unescaped one would end the line early.
            raise ValueError(f"path is not escaped (see escape_path): {found.path!r}")
        # The reason may quote the operating system: escape it too.
        if found.reason is None:
            append(f"{found.size},{found.md5},{found.sha1},{found.sha256},{found.path}\n")
        else:
            append(f"{NOT_ASSESSABLE_PREFIX}{escape_text(found.reason)}\t{found.path}\n")
            skipped.append((number, found))
        if len(lines) >= _FLUSH_LINES:
            handle.writelines(lines)
            lines.clear()
    handle.writelines(lines)
    return skipped
