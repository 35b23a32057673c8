"""Names on one line: how a newline, a control character or a non-UTF-8 byte is rendered."""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.scan import escape_path, escape_text, unescape_path


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"evidence/a.bin", "evidence/a.bin"),
        (b"name, with commas.txt", "name, with commas.txt"),
        (b"line\nbreak.bin", "line\\nbreak.bin"),
        (b"carriage\rreturn.bin", "carriage\\rreturn.bin"),
        (b"tab\there", "tab\\there"),
        (b"back\\slash", "back\\\\slash"),
        (b"esc\x1b[31m", "esc\\x1b[31m"),
        (b"del\x7f", "del\\x7f"),
        (b"latin1-\xe9t\xe9.txt", "latin1-\\xe9t\\xe9.txt"),
        ("café.txt".encode(), "café.txt"),
        ("日本語.bin".encode(), "日本語.bin"),
        ("sep\u2028ara\u2029tor".encode(), "sep\\u2028ara\\u2029tor"),
        ("right-to-left\u202egpj.exe".encode(), "right-to-left\\u202egpj.exe"),
        ("c1\u0085control".encode(), "c1\\u0085control"),
        (b"\xc2", "\\xc2"),  # a UTF-8 sequence cut short
        (b"\xed\xb2\x80", "\\xed\\xb2\\x80"),  # an encoded surrogate is not UTF-8
        (b"", ""),
    ],
)
def test_names_render_on_one_printable_line_and_back(raw: bytes, shown: str) -> None:
    assert escape_path(raw) == shown
    assert unescape_path(shown) == raw
    assert shown.isprintable() or shown == ""
    shown.encode("utf-8")  # never a lone surrogate


def test_escape_text_treats_surrogate_escapes_as_the_bytes_they_stand_for() -> None:
    assert escape_text(os.fsdecode(b"a\xffb")) == "a\\xffb"
    assert escape_text("cd /cases\nrm -rf") == "cd /cases\\nrm -rf"


@pytest.mark.parametrize("text", ["trailing\\", "\\q", "\\x4", "\\u12", "\\X41"])
def test_a_backslash_that_starts_no_escape_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an escape"):
        unescape_path(text)


@given(st.binary(max_size=40))
@example(b"\\n")  # a real backslash then n: must not come back as a newline
@example(b"\\x41")
@example(b"\xef\xbb\xbfbom.txt")
@example(b"crlf\r\n")
@example(b"\xc2\x85")
def test_every_byte_string_round_trips(raw: bytes) -> None:
    shown = escape_path(raw)
    assert unescape_path(shown) == raw
    assert "\n" not in shown
    assert "\r" not in shown
    assert len(shown.splitlines()) <= 1
    shown.encode("utf-8")
