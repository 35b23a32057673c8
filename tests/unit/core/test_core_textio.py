"""hashmatch.textio: lines out of every encoding and line ending a list or manifest arrives in."""

from __future__ import annotations

import codecs
import io

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.textio import decode_head, detect_bom, iter_lines


def lines_of(data: bytes, *, separator: bytes = b"\n") -> list[tuple[int, str]]:
    return list(iter_lines(io.BytesIO(data), separator=separator))


# -- examples, one per kind of file met in the wild ---------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"one\ntwo\n", ["one", "two"]),
        (b"one\r\ntwo\r\n", ["one", "two"]),
        (b"one\ntwo", ["one", "two"]),
        (b"one\r\ntwo", ["one", "two"]),
        (b"one\n\nthree\n", ["one", "", "three"]),
        (b"\n", [""]),
        (b"", []),
        (codecs.BOM_UTF8 + b"one\r\ntwo", ["one", "two"]),
        (codecs.BOM_UTF8 + "caf\u00e9\n".encode(), ["caf\u00e9"]),
        (codecs.BOM_UTF16_LE + "one\r\ntwo\r\n".encode("utf-16-le"), ["one", "two"]),
        (codecs.BOM_UTF16_LE + "one\ntwo".encode("utf-16-le"), ["one", "two"]),
        (codecs.BOM_UTF16_BE + "one\ntwo\n".encode("utf-16-be"), ["one", "two"]),
        (codecs.BOM_UTF16_LE + "\U0001f600 x\n".encode("utf-16-le"), ["\U0001f600 x"]),
        # CP1252 (NSRL 2.x, old Windows tools): not UTF-8, decoded rather than rejected
        (b"r\xe9sum\xe9\nna\xefve \x80\n", ["r\u00e9sum\u00e9", "na\u00efve \u20ac"]),
        # one line in CP1252 does not stop the next UTF-8 line from decoding as UTF-8
        (b"r\xe9sum\xe9\n" + "r\u00e9sum\u00e9".encode(), ["r\u00e9sum\u00e9", "r\u00e9sum\u00e9"]),
        # a second BOM after the first is not text either
        (codecs.BOM_UTF8 * 2 + b"one", ["one"]),
        # a stray CR inside a line is kept; only the terminator goes
        (b"a\rb\r\n", ["a\rb"]),
    ],
)
def test_iter_lines(data: bytes, expected: list[str]) -> None:
    assert lines_of(data) == list(enumerate(expected, start=1))


def test_line_numbers_are_one_based_and_count_blank_lines() -> None:
    assert lines_of(b"a\n\nb\n\n\nc") == [(1, "a"), (2, ""), (3, "b"), (4, ""), (5, ""), (6, "c")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\0b\0", ["a", "b"]),
        (b"a\0b", ["a", "b"]),
        (b"a\0\0b\0", ["a", "", "b"]),
        # names may hold newlines and CRs in md5sum -z output; they are kept
        (b"a\nb\0c\r\0", ["a\nb", "c\r"]),
        (codecs.BOM_UTF8 + b"a\0b\0", ["a", "b"]),
        (b"r\xe9sum\xe9\0", ["r\u00e9sum\u00e9"]),
        (codecs.BOM_UTF16_LE + "a\0b\0".encode("utf-16-le"), ["a", "b"]),
        (b"", []),
    ],
)
def test_nul_separated_records(data: bytes, expected: list[str]) -> None:
    assert lines_of(data, separator=b"\0") == list(enumerate(expected, start=1))


def test_a_long_file_streams_across_buffer_boundaries() -> None:
    lines = [f"{i:08d} " + "x" * (i % 97) for i in range(20_000)]
    for encoding, bom in (("utf-8", b""), ("utf-16-le", codecs.BOM_UTF16_LE)):
        data = bom + "\r\n".join(lines).encode(encoding)
        assert lines_of(data) == list(enumerate(lines, start=1))
    nul = "\0".join(lines).encode()
    assert lines_of(nul, separator=b"\0") == list(enumerate(lines, start=1))


def test_a_truncated_utf16_file_raises_a_unicode_error() -> None:
    # read_records turns this into an InputError naming the file; it must not pass silently
    with pytest.raises(UnicodeError):
        lines_of(codecs.BOM_UTF16_LE + "ab\n".encode("utf-16-le") + b"c")


def test_a_file_shorter_than_a_bom_is_text() -> None:
    assert lines_of(b"a") == [(1, "a")]
    assert lines_of(b"\xef\xbb") == [(1, "\u00ef\u00bb")]


# -- round trip: lines written in every encoding come back as they were ----------------------

# Characters that cannot start the first line: they would read as a byte-order mark.
_BOM_LIKE = "\ufeff\u00ef\u00fe\u00ff"
_UNICODE_LINE = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=12
)
# CP1252 text that is not also valid UTF-8: ASCII and letters encoded as 0xC0-0xFD.
_CP1252_LINE = st.text(
    st.sampled_from(
        "abcXYZ019 ,.*-_\t\"'"
        + "".join(c for c in map(chr, range(0xC0, 0xFE)) if c not in _BOM_LIKE)
    ),
    max_size=12,
)
_ENCODINGS = {
    "utf-8": (b"", "utf-8"),
    "utf-8-bom": (codecs.BOM_UTF8, "utf-8"),
    "utf-16-le": (codecs.BOM_UTF16_LE, "utf-16-le"),
    "utf-16-be": (codecs.BOM_UTF16_BE, "utf-16-be"),
    "cp1252": (b"", "cp1252"),
}


@st.composite
def encoded_files(draw: st.DrawFn) -> tuple[bytes, list[str], bytes]:
    name = draw(st.sampled_from(sorted(_ENCODINGS)))
    bom, encoding = _ENCODINGS[name]
    lines = draw(st.lists(_CP1252_LINE if name == "cp1252" else _UNICODE_LINE, max_size=8))
    if lines and lines[0][:1] in _BOM_LIKE:
        lines[0] = "x" + lines[0]
    separator = draw(st.sampled_from([b"\n", b"\n", b"\0"]))
    if separator == b"\0":
        lines = [line.replace("\0", "") for line in lines]
        terminator = "\0"
    else:
        terminator = draw(st.sampled_from(["\n", "\r\n"]))
    text = "".join(line + terminator for line in lines)
    if lines and lines[-1] and draw(st.booleans()):
        text = text.removesuffix(terminator)  # no terminator after the last line
    return bom + text.encode(encoding), lines, separator


@given(encoded_files())
@example((codecs.BOM_UTF8 + b"a\r\nB\r\n", ["a", "B"], b"\n"))
@example((codecs.BOM_UTF16_LE + "A\r\nb".encode("utf-16-le"), ["A", "b"], b"\n"))
@example((b"", [], b"\n"))
@example((b"\n", [""], b"\n"))
@example(("\u00e9t\u00e9\r\n".encode("cp1252"), ["\u00e9t\u00e9"], b"\n"))
def test_lines_round_trip_through_every_encoding(case: tuple[bytes, list[str], bytes]) -> None:
    data, lines, separator = case
    assert lines_of(data, separator=separator) == list(enumerate(lines, start=1))


# -- decode_head and detect_bom -----------------------------------------------------------


@given(st.binary(max_size=256))
@example(codecs.BOM_UTF16_LE + b"a")
@example(codecs.BOM_UTF16_BE + b"\xd8\x00")
@example(b"\xff\xfe\x00")
@example(b"")
def test_decode_head_never_raises(head: bytes) -> None:
    text = decode_head(head)
    assert isinstance(text, str)
    if head and detect_bom(head)[0] is None and head.isascii() and b"\0" not in head:
        assert text == head.decode("ascii")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"abc", "abc"),
        (codecs.BOM_UTF8 + b"abc", "abc"),
        (codecs.BOM_UTF16_LE + "abc".encode("utf-16-le"), "abc"),
        (codecs.BOM_UTF16_BE + "abc".encode("utf-16-be"), "abc"),
        # UTF-16 LE without a BOM (some Windows tools) is still recognised
        ("md5,name".encode("utf-16-le"), "md5,name"),
        # a UTF-16 head cut in the middle of a character loses only that character
        (codecs.BOM_UTF16_LE + "ab".encode("utf-16-le") + b"c", "ab\ufffd"),
        (b"r\xe9sum\xe9", "r\ufffdsum\ufffd"),
        (b"\0\0\0\0", "\0\0\0\0"),
    ],
)
def test_decode_head(head: bytes, expected: str) -> None:
    assert decode_head(head) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (codecs.BOM_UTF8 + b"x", ("utf-8", 3)),
        (codecs.BOM_UTF16_LE + b"x\0", ("utf-16-le", 2)),
        (codecs.BOM_UTF16_BE + b"\0x", ("utf-16-be", 2)),
        (b"x", (None, 0)),
        (b"", (None, 0)),
        (b"\xef\xbb", (None, 0)),
    ],
)
def test_detect_bom(head: bytes, expected: tuple[str | None, int]) -> None:
    assert detect_bom(head) == expected
