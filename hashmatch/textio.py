"""Text decoding that every line-based adapter shares.

Sources are UTF-8, UTF-8 with a BOM, UTF-16 with a BOM, or CP1252 (NSRL 2.x, old Windows
tools); lines end in LF, CRLF, or nothing at all at the end of the file. Digests are ASCII
in every one of these encodings, so a line that is not valid UTF-8 is decoded as CP1252
rather than rejected: only names can hold the odd bytes.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["decode_head", "detect_bom", "iter_line_batches", "iter_lines"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def detect_bom(head: bytes) -> tuple[str | None, int]:
    """The encoding a byte-order mark announces and the mark's length, or (None, 0)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    return None, 0


def decode_head(head: bytes) -> str:
    """The first bytes of a file as text, for sniffing: BOM-aware, never raises.

    A UTF-16 head cut in the middle of a character loses only that character.
    """
    encoding, skip = detect_bom(head)
    if encoding is None:
        if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
            encoding, skip = "utf-16-le", 0
        else:
            encoding = "utf-8"
    return head[skip:].decode(encoding, errors="replace")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def iter_lines(stream: BinaryIO, *, separator: bytes = b"\n") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every line, 1-based, without its terminator.

    A trailing ``\\r`` is stripped, so CRLF files give the same text as LF ones; a final
    line without a terminator is yielded like any other. With ``separator=b"\\0"`` the
    records of ``md5sum -z`` style files are yielded instead (numbered from 1).
    """
    head = stream.read(4)
    encoding, skip = detect_bom(head)
    body = io.BufferedReader(_Prefixed(head[skip:], stream), buffer_size=1 << 20)
    if encoding in ("utf-16-le", "utf-16-be"):
        wrapper = io.TextIOWrapper(body, encoding=encoding, newline="")
        text_sep = separator.decode("ascii")
        number = 0
        pending = ""
        while chunk := wrapper.read(1 << 16):
            pending += chunk
            *complete, pending = pending.split(text_sep)
            for line in complete:
                number += 1
                yield number, line.removesuffix("\r")
        if pending:
            yield number + 1, pending.removesuffix("\r")
        return
    if separator == b"\n":
        first = True
        for number, raw in enumerate(body, start=1):
            text = _decode(raw)
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            yield number, text.removesuffix("\n").removesuffix("\r")
        return
    data_iter = _split_stream(body, separator)
    for number, raw in enumerate(data_iter, start=1):
        yield number, _decode(raw)


def iter_line_batches(
    stream: BinaryIO, *, batch_size: int = 65_536, chunk_bytes: int = 1 << 22
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(number of the first line, lines)`` with up to ``batch_size`` lines each.

    The same lines as :func:`iter_lines`, decoded by the same rules, but whole chunks are
    decoded and split at once: the way to read list files of hundreds of millions of lines.
    """
    head = stream.read(4)
    encoding, skip = detect_bom(head)
    if encoding in ("utf-16-le", "utf-16-be"):
        yield from _batched(iter_lines(_Prefixed(head, stream)), batch_size)  # type: ignore[arg-type]
        return
    number = 1
    pending = head[skip:]
    batch: list[str] = []
    first = True
    while True:
        chunk = stream.read(chunk_bytes)
        data = pending + chunk
        if chunk:
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data
                continue
            complete, pending = data[: cut + 1], data[cut + 1 :]
            lines = _decode_block(complete[:-1])
        else:
            if not data:
                break
            lines = _decode_block(data.removesuffix(b"\n"))
            pending = b""
        if first:
            lines[0] = lines[0].removeprefix("\ufeff")
            first = False
        batch.extend(lines)
        while len(batch) >= batch_size:
            yield number, batch[:batch_size]
            number += batch_size
            batch = batch[batch_size:]
        if not chunk:
            break
    if batch:
        yield number, batch


def _decode_block(block: bytes) -> list[str]:
    """Lines of a block of whole lines (no final terminator): LF split, CR stripped."""
    try:
        lines = block.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = [_decode(raw) for raw in block.split(b"\n")]
    if b"\r" in block:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


def _batched(
    numbered: Iterator[tuple[int, str]], batch_size: int
) -> Iterator[tuple[int, list[str]]]:
    batch: list[str] = []
    start = 1
    for number, line in numbered:
        if not batch:
            start = number
        batch.append(line)
        if len(batch) >= batch_size:
            yield start, batch
            batch = []
    if batch:
        yield start, batch


def _split_stream(stream: io.BufferedIOBase, separator: bytes) -> Iterator[bytes]:
    pending = b""
    while chunk := stream.read(1 << 16):
        pending += chunk
        *complete, pending = pending.split(separator)
        yield from complete
    if pending:
        yield pending


class _Prefixed(io.RawIOBase):
    """A binary stream that replays a few already-read bytes before the rest."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
