"""Bare digest lists: one digest per line, the algorithm told by its length."""

from __future__ import annotations

import codecs
import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest
from hashmatch_adapters.bare import BareDigestAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import algorithm_hex

from hashmatch.adapter import HEAD_BYTES
from hashmatch.digests import Algorithm
from hashmatch.errors import UnsupportedFormat

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]


def cells(row: dict[str, Any]) -> tuple[int, str | None, str | None, str | None]:
    return row["line"], row["md5"], row["sha1"], row["sha256"]


def test_digests_go_to_the_column_their_length_says(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(BareDigestAdapter, fixture_bytes("bare/valid.txt"))
    assert [cells(r) for r in rows] == [
        *((n + 2, MD5[n], None, None) for n in range(5)),
        (8, None, SHA1[0], None),
        (9, None, None, SHA256[0]),
    ]
    assert all(r["path"] is None and r["size"] is None for r in rows)
    assert context.warning_count == 0


def test_bom_crlf_and_no_final_newline(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(BareDigestAdapter, fixture_bytes("bare/crlf-bom.txt"))
    assert [cells(r) for r in rows] == [
        (1, MD5[0].upper(), None, None),
        (2, MD5[1].upper(), None, None),
        (3, None, None, SHA256[2].upper()),
    ]


def test_utf16_with_bom(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(BareDigestAdapter, fixture_bytes("bare/utf16.txt"))
    assert [cells(r) for r in rows] == [
        (1, MD5[0], None, None),
        (2, None, SHA1[1], None),
        (3, None, None, SHA256[2]),
    ]


def test_mixed_case_and_surrounding_whitespace(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(BareDigestAdapter, fixture_bytes("bare/mixed-case.txt"))
    assert [r["md5"] for r in rows] == [
        MD5[0],
        MD5[1].upper(),
        MD5[2][:16].upper() + MD5[2][16:],
    ]


def test_bad_later_lines(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(BareDigestAdapter, fixture_bytes("bare/corrupt-later.txt"))
    assert [cells(r) for r in rows] == [
        (1, MD5[0], None, None),
        (4, "z" * 32, None, None),  # the core rejects non-hex; the length places it
        (7, MD5[4], None, None),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, f"31 hex digits is no md5, sha1 or sha256 digest: {MD5[1][:31]!r}"),
        (3, f"33 hex digits is no md5, sha1 or sha256 digest: {MD5[2] + '0'!r}"),
        (5, "expected one digest per line, got 'not a digest!'"),
    ]


def test_a_named_line_is_not_a_bare_digest(read: Reader) -> None:
    _, context = read(BareDigestAdapter, f"{MD5[0]}\n{MD5[1]}  a.bin\n".encode())
    assert context.warnings[0].line == 2
    assert context.warnings[0].reason.startswith("expected one digest per line")


def test_a_bad_first_line_means_not_bare(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(BareDigestAdapter, fixture_bytes("bare/corrupt-first.txt"))
    assert raised.value.line == 2


def test_base64_values_are_read_though_not_sniffed(read: Reader) -> None:
    value = "R0h7DYuJyYX0r7ebOX0rvcn9EmHityP9MMlENb2a9iw="
    rows, _ = read(BareDigestAdapter, f"{value}\n".encode())
    assert rows[0]["sha256"] == value
    assert not BareDigestAdapter.sniff(f"{value}\n".encode())


class TestSniff:
    """Every data line of the head must be one hex digest."""

    def test_comments_and_blank_lines_are_allowed(self) -> None:
        assert BareDigestAdapter.sniff(f"# list\n\n{MD5[0]}\n  {SHA1[0]}  \n".encode())

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            b"# only a comment\n",
            f"{MD5[0]}  a.bin\n".encode(),
            f"{MD5[0]}\n{MD5[1][:31]}\n{MD5[2]}\n".encode(),
            f"{'z' * 32}\n".encode(),
            b"MD5\n",
        ],
    )
    def test_anything_else_is_not_bare(self, head: bytes) -> None:
        assert not BareDigestAdapter.sniff(head)

    def test_a_line_cut_by_the_head_limit_is_ignored(self) -> None:
        line = f"{SHA256[0]}\n".encode()
        head = (line * (HEAD_BYTES // len(line) + 1))[:HEAD_BYTES]
        assert not head.endswith(b"\n")
        assert BareDigestAdapter.sniff(head)

    def test_a_complete_last_line_without_newline_counts(self) -> None:
        assert BareDigestAdapter.sniff(MD5[0].encode())
        assert not BareDigestAdapter.sniff(MD5[0][:20].encode())

    def test_utf16(self) -> None:
        assert BareDigestAdapter.sniff(codecs.BOM_UTF16_LE + f"{MD5[0]}\r\n".encode("utf-16-le"))


@given(
    rows=st.lists(algorithm_hex(), max_size=10),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    final_newline=st.booleans(),
    padding=st.sampled_from(["", " ", "\t", "  "]),
)
@example(rows=[], newline="\n", encoding="utf-8", final_newline=False, padding="")
@example(
    rows=[(Algorithm.SHA1, SHA1[0].upper())],
    newline="\r\n",
    encoding="utf-8-sig",
    final_newline=False,
    padding="",
)
def test_round_trip(
    read: Reader,
    rows: list[tuple[Algorithm, str]],
    newline: str,
    encoding: str,
    final_newline: bool,
    padding: str,
) -> None:
    text = newline.join(f"{padding}{digest}{padding}" for _, digest in rows)
    data = (text + (newline if final_newline else "")).encode(encoding)
    parsed, context = read(BareDigestAdapter, data)
    assert context.warning_count == 0
    assert [(r["line"], r[a.value]) for r, (a, _) in zip(parsed, rows, strict=True)] == [
        (i, digest) for i, (_, digest) in enumerate(rows, start=1)
    ]


# --- the chunked reader against its line-at-a-time twin ---------------------------------

Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

ODD_LINES = [
    "",
    "   ",
    "\t",
    "# a comment",
    "  # an indented comment",
    f"  {MD5[0]}",
    f"{SHA1[0]}\t",
    f"\u00a0{MD5[1]}",  # Unicode whitespace, which str.strip removes
    f"{MD5[2]}\u3000",
    f"{MD5[0][:-1]}",
    f"{MD5[0]}0",
    "z" * 32,
    "R0h7DYuJyYX0r7ebOX0rvcn9EmHityP9MMlENb2a9iw=",
    f"{MD5[3]}  a.bin",
    f"{MD5[4][:16]} {MD5[4][16:]}",
    "caf\u00e9",
    f"\u00e9{MD5[0][1:]}",
]


PADDING = ["", " ", "  ", "\t", "\u00a0", "\x1c", "\u3000", "#"]
"""What may come before or after a digest: whitespace by every definition, a comment mark."""


def bare_lines() -> st.SearchStrategy[str]:
    """Lines of a bare list: mostly digests, with every kind of line the fast path leaves
    to the per-line rule."""
    digests = algorithm_hex().map(lambda pair: pair[1])
    return st.one_of(
        digests,
        digests,
        st.tuples(st.sampled_from(PADDING), digests, st.sampled_from(PADDING)).map("".join),
        st.sampled_from(ODD_LINES),
        st.text(max_size=70).filter(lambda t: "\n" not in t and "\r" not in t),
    )


@given(
    lines=st.lists(bare_lines(), max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    final_newline=st.booleans(),
    strict=st.booleans(),
    batch_size=st.sampled_from([1, 2, 3, 7, 65_536]),
    keep_warnings=st.sampled_from([1, 200]),
)
@example(
    lines=[MD5[0], "x", "", MD5[1], "zz", SHA256[0]],
    newline="\n",
    encoding="utf-8",
    final_newline=True,
    strict=False,
    batch_size=2,
    keep_warnings=200,
)
@example(
    lines=["x", MD5[0]],
    newline="\r\n",
    encoding="utf-8",
    final_newline=False,
    strict=False,
    batch_size=65_536,
    keep_warnings=200,
)
def test_read_agrees_with_the_line_by_line_reader(
    twins: Twins,
    lines: list[str],
    newline: str,
    encoding: str,
    final_newline: bool,
    strict: bool,
    batch_size: int,
    keep_warnings: int,
) -> None:
    text = newline.join(lines) + (newline if final_newline else "")
    data = text.encode(encoding)
    fast, reference = twins(
        BareDigestAdapter, data, strict=strict, batch_size=batch_size, keep_warnings=keep_warnings
    )
    assert fast == reference


@pytest.mark.parametrize("batch_size", [3, 64, 1000, 65_536])
def test_read_agrees_with_the_line_by_line_reader_on_a_long_mixture(
    twins: Twins, batch_size: int
) -> None:
    rng = random.Random(batch_size)
    lines = [
        rng.choice(ODD_LINES) if rng.random() < 0.1 else rng.choice(MD5 + SHA1 + SHA256)
        for _ in range(3000)
    ]
    lines[0] = MD5[0]  # a good first line, so that the whole file is read
    data = ("\n".join(lines) + "\n").encode() + b"caf\xe9\n" + MD5[1].encode()
    fast, reference = twins(BareDigestAdapter, data, batch_size=batch_size)
    assert fast == reference
    assert reference["warning_count"] > 0
    assert sum(rows for rows, _, _ in reference["batches"]) > 2000
