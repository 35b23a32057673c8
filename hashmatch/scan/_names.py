"""How a file name found on disk becomes one line of text, and back.

A POSIX file name is any bytes but ``/`` and NUL: it may hold a newline, a carriage
return, other control characters or bytes that are not UTF-8. A manifest line must hold
the whole name on one line, in UTF-8, and a report must not let a name draw on the
reader's terminal or reorder itself on screen. :func:`escape_path` renders a name
deterministically, as a backslash escape that :func:`unescape_path` reverses exactly:

==============================================  ==========================
what the name holds                             rendered as
==============================================  ==========================
a backslash                                     ``\\\\``
tab, line feed, carriage return                 ``\\t``, ``\\n``, ``\\r``
other ASCII control characters and DEL          ``\\xNN`` (``\\x1b``)
a byte that is not part of valid UTF-8          ``\\xNN`` (``\\xff``): NN is 80 to ff
C1 controls, line and paragraph separators,     ``\\uNNNN`` (``\\u2028``, ``\\u202e``)
bidirectional formatting characters
everything else (valid UTF-8, printable)        itself
==============================================  ==========================

``\\xNN`` from 80 to ff is always one raw byte and ``\\uNNNN`` always a character, so the
two never collide. Hex digits are lower case. Names of printable ASCII without a
backslash (nearly all of them) come out unchanged; the price is that a name holding a
backslash shows it doubled.
"""

from __future__ import annotations

import re

__all__ = ["escape_path", "escape_text", "unescape_path"]

# Bytes that send a name down the slow path: ASCII controls, DEL, backslash, non-ASCII.
_PLAIN = re.compile(rb"[\x00-\x1f\x7f\\\x80-\xff]")

# Characters of the decoded text to escape. Lone surrogates U+DC80..U+DCFF are the bytes
# that were not UTF-8 (``surrogateescape``); other lone surrogates cannot be written as
# UTF-8 at all, so they are escaped too.
_SPECIAL = re.compile(
    "[\x00-\x1f\x7f-\x9f\\\\\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESCAPE = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|(.)|$)", re.DOTALL)
_UNNAMED = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def _render(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x80:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def escape_path(raw: bytes) -> str:
    """The one-line, UTF-8-safe rendering of the file name (or relative path) ``raw``."""
    if _PLAIN.search(raw) is None:
        return raw.decode("ascii")
    return escape_text(raw.decode("utf-8", "surrogateescape"))


def escape_text(text: str) -> str:
    """:func:`escape_path` for text that is already a ``str`` (a command line, a folder).

    Lone surrogates are taken as ``surrogateescape`` bytes, the way :func:`os.fsdecode`
    makes them.
    """
    return _SPECIAL.sub(_render, text)


def unescape_path(text: str) -> bytes:
    """The bytes of the name that :func:`escape_path` rendered as ``text``.

    Raises :class:`ValueError` for a backslash that starts no escape.
    """
    out = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        out += text[position : match.start()].encode("utf-8")
        position = match.end()
        byte, char, named = match.groups()
        if byte is not None:
            out.append(int(byte, 16))
        elif char is not None:
            out += chr(int(char, 16)).encode("utf-8", "surrogatepass")
        elif named is not None and named in _UNNAMED:
            out += _UNNAMED[named].encode("ascii")
        else:
            raise ValueError(f"not an escape at {match.start()}: {text[match.start() :][:8]!r}")
    out += text[position:].encode("utf-8")
    return bytes(out)
