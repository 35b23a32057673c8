"""md5sum / sha1sum / sha256sum output: every line form, names kept exactly, sniffing."""

from __future__ import annotations

import base64
import codecs
import hashlib
import random
from collections.abc import Callable
from typing import Any

import pytest
from hashmatch_adapters.md5sum import Md5sumAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, hex_digests

from hashmatch.adapter import HEAD_BYTES
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]


def digests(row: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    return row["md5"], row["sha1"], row["sha256"]


def test_text_and_binary_mode_lines(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, context = read(Md5sumAdapter, fixture_bytes("md5sum/valid.md5"))
    assert [(r["line"], r["md5"], r["path"]) for r in rows] == [
        (2, MD5[0], "fixtures/one.bin"),
        (3, MD5[1], "fixtures/two.bin"),
        (4, MD5[2], "fixtures/dir with spaces/three.bin"),
        (6, MD5[3], "fixtures/four.bin"),
        (7, MD5[4], "fixtures/five.bin"),
    ]
    assert all(r["sha1"] is None and r["sha256"] is None and r["size"] is None for r in rows)
    assert context.warning_count == 0


def test_bsd_tag_lines_name_the_algorithm(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(Md5sumAdapter, fixture_bytes("md5sum/bsd-tags.txt"))
    assert [(r["line"], digests(r), r["path"]) for r in rows] == [
        (1, (MD5[0], None, None), "fixtures/one.bin"),
        (2, (None, SHA1[1], None), "fixtures/two.bin"),
        (3, (None, None, SHA256[2]), "fixtures/three.bin"),
        (4, (None, None, SHA256[3]), "fixtures/four (copy).bin"),
        # cksum --base64: passed through as found, the core decodes it.
        (5, (None, None, base64.b64encode(bytes.fromhex(SHA256[4])).decode()), "fixtures/five.bin"),
        # The last ") = " ends the name.
        (6, (MD5[0], None, None), "odd) = name.bin"),
    ]


def test_gnu_escaped_names_are_unescaped(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(Md5sumAdapter, fixture_bytes("md5sum/escaped-names.md5"))
    assert [(r["md5"], r["path"]) for r in rows] == [
        (MD5[0], "dir/new\nline.bin"),
        (MD5[1], "back\\slash.bin"),
        (MD5[2], "carriage\rreturn.bin"),
        (MD5[3], "tagged\\name\n.bin"),
        # No leading backslash: the name is taken literally.
        (MD5[4], "plain\\name.bin"),
    ]


def test_an_escape_gnu_does_not_write_is_kept(read: Reader) -> None:
    rows, _ = read(Md5sumAdapter, f"\\{MD5[0]}  a\\tb\\".encode())
    assert rows[0]["path"] == "a\\tb\\"


def test_hash_only_lines_beside_named_ones(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("md5sum/hash-only.md5")
    rows, _ = read(Md5sumAdapter, data)
    assert [(digests(r), r["path"]) for r in rows] == [
        ((MD5[0], None, None), None),
        ((None, SHA1[1], None), None),
        ((None, None, SHA256[2]), "fixtures/three.bin"),
        ((MD5[3], None, None), None),
    ]
    assert Md5sumAdapter.sniff(data)


def test_crlf_without_a_final_newline_leaks_no_carriage_return(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(Md5sumAdapter, fixture_bytes("md5sum/crlf.sha256"))
    assert [(r["line"], r["sha256"], r["path"]) for r in rows] == [
        (1, SHA256[0], "evidence/a b.bin"),
        (2, SHA256[1], "evidence/c.bin"),
        (3, SHA256[2], "evidence/d.bin"),
    ]


def test_mixed_case_hex_is_passed_through_as_found(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, _ = read(Md5sumAdapter, fixture_bytes("md5sum/mixed-case.sha1"))
    assert [r["sha1"] for r in rows] == [
        SHA1[0],
        SHA1[1].upper(),
        SHA1[2][:20].upper() + SHA1[2][20:],
    ]


def test_utf16_with_bom(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(Md5sumAdapter, fixture_bytes("md5sum/utf16.sha256"))
    assert [(r["sha256"], r["path"]) for r in rows] == [
        (SHA256[0], "café/ünïcode.bin"),
        (SHA256[1], "plain.bin"),
    ]


def test_bad_later_lines_are_warned_about_one_by_one(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(Md5sumAdapter, fixture_bytes("md5sum/corrupt-later.md5"))
    # Wrong characters of the right length are the core's to reject; so is the empty file.
    assert [(r["line"], r["md5"]) for r in rows] == [
        (1, MD5[0]),
        (3, "z" * 32),
        (6, "d41d8cd98f00b204e9800998ecf8427e"),
        (8, MD5[4]),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (2, f"31 hex digits is no md5, sha1 or sha256 digest: {MD5[1][:31]!r}"),
        (4, "empty digest"),
        (5, "unsupported algorithm 'SHA512'"),
        (7, "not a digest: 'not'"),
    ]


def test_strict_stops_at_the_first_bad_line(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    with pytest.raises(RecordError, match=r"^test-input:2: 31 hex digits"):
        read(Md5sumAdapter, fixture_bytes("md5sum/corrupt-later.md5"), strict=True)


def test_a_bad_first_line_means_not_md5sum(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(Md5sumAdapter, fixture_bytes("md5sum/corrupt-first.md5"))
    assert raised.value.line == 2
    assert "not a digest: 'checksums'" in raised.value.reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"{MD5[0]}\tname with space.bin", ("md5", MD5[0], "name with space.bin")),
        (f"{MD5[0]}\tname.bin", ("md5", MD5[0], "name.bin")),
        (f"{MD5[0]} name.bin", ("md5", MD5[0], "name.bin")),  # BSD md5 -r
        (f"{MD5[0]}  *star.bin", ("md5", MD5[0], "*star.bin")),  # text mode, name starts "*"
        (f"{MD5[0]}   lead.bin", ("md5", MD5[0], " lead.bin")),
        (f"{MD5[0]}  trail.bin ", ("md5", MD5[0], "trail.bin ")),
        (f"{MD5[0]}   ", ("md5", MD5[0], None)),
        (f"{MD5[0]} (paren).bin", ("md5", MD5[0], "(paren).bin")),
        (
            f"{base64.b64encode(bytes.fromhex(SHA1[0])).decode()}  untagged-b64.bin",
            ("sha1", base64.b64encode(bytes.fromhex(SHA1[0])).decode(), "untagged-b64.bin"),
        ),
        (f"sha256 (lower tag) = {SHA256[0]}", ("sha256", SHA256[0], "lower tag")),
        (f"SHA1 (padded) =   {SHA1[0]}  ", ("sha1", SHA1[0], "padded")),
    ],
)
def test_other_line_forms(read: Reader, line: str, expected: tuple[str, str, str | None]) -> None:
    column, value, name = expected
    rows, context = read(Md5sumAdapter, f"{line}\n".encode())
    assert rows[0][column] == value
    assert rows[0]["path"] == name
    assert context.warning_count == 0


def test_md5deep_placeholders_are_named_rows_without_a_digest(read: Reader) -> None:
    data = f"{MD5[0]}  small.bin\n{'*' * 32}  big.bin\n".encode()
    rows, context = read(Md5sumAdapter, data)
    assert [(digests(r), r["path"]) for r in rows] == [
        ((MD5[0], None, None), "small.bin"),
        ((None, None, None), "big.bin"),
    ]
    assert context.warning_count == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("MD5 (no closing paren = abc", "BSD tag line without ') = '"),
        ("BLAKE2b (x) = abc", "unsupported algorithm 'BLAKE2b'"),
        ("XYZ (no tag close", "not a digest: 'XYZ'"),
        ("  indented", "line does not start with a digest"),
        (f"{MD5[0][:-1]}  short.bin", "31 hex digits"),
    ],
)
def test_bad_line_reasons(read: Reader, line: str, reason: str) -> None:
    rows, context = read(Md5sumAdapter, f"{MD5[0]}  ok.bin\n{line}\n".encode())
    assert len(rows) == 1
    assert context.warnings[0].line == 2
    assert context.warnings[0].reason.startswith(reason)


def test_comments_blank_and_whitespace_lines_are_skipped(read: Reader) -> None:
    data = f"# comment\n\n   \n\t\n{MD5[0]}  a.bin\n#{MD5[1]}  b.bin\n".encode()
    rows, context = read(Md5sumAdapter, data)
    assert [(r["line"], r["path"]) for r in rows] == [(5, "a.bin")]
    assert context.warning_count == 0


def test_only_comments_yield_nothing(read: Reader) -> None:
    rows, _ = read(Md5sumAdapter, b"# nothing here\n\n")
    assert rows == []


class TestSniff:
    """What md5sum claims and what it leaves to other adapters."""

    def test_bare_digests_only_are_left_to_the_bare_adapter(self) -> None:
        assert not Md5sumAdapter.sniff(f"{MD5[0]}\n{SHA1[1]}\n".encode())

    def test_a_named_line_after_bare_ones_is_enough(self) -> None:
        assert Md5sumAdapter.sniff(f"{MD5[0]}\n{SHA1[1]}  b.bin\n".encode())

    def test_a_bsd_tag_line_is_enough(self) -> None:
        assert Md5sumAdapter.sniff(f"# c\nSHA256 (x) = {SHA256[0]}\n".encode())

    def test_a_bad_first_line_is_not_md5sum(self) -> None:
        assert not Md5sumAdapter.sniff(f"hello world\n{MD5[0]}  a.bin\n".encode())

    def test_untagged_values_must_be_hex_to_sniff(self) -> None:
        assert not Md5sumAdapter.sniff(f"{'z' * 32}  a.bin\n".encode())

    def test_later_garbage_does_not_spoil_detection(self) -> None:
        assert Md5sumAdapter.sniff(f"{MD5[0]}\nnot a line\n{MD5[1]}  b.bin\n".encode())

    @pytest.mark.parametrize(
        "head",
        [
            b"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n",
            b"MD5,Path\n",
            f'"Algorithm","Hash","Path"\n"MD5","{MD5[0]}","a"\n'.encode(),
            f"{MD5[0]},a.bin\n".encode(),
            b"",
            b"\n\n# only comments\n",
        ],
    )
    def test_other_formats_are_not_md5sum(self, head: bytes) -> None:
        assert not Md5sumAdapter.sniff(head)

    def test_a_line_cut_by_the_head_limit_is_ignored(self) -> None:
        line = f"{SHA256[0]}  evidence/{'x' * 40}.bin\n".encode()
        head = (line * (HEAD_BYTES // len(line) + 1))[:HEAD_BYTES]
        assert not head.endswith(b"\n")
        assert Md5sumAdapter.sniff(head)
        # Cut inside the very first line: that alone is no evidence either way.
        assert not Md5sumAdapter.sniff(line[:20])

    def test_utf16_and_bom_heads(self) -> None:
        text = f"{SHA256[0]} *a.bin\r\n"
        assert Md5sumAdapter.sniff(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
        assert Md5sumAdapter.sniff(codecs.BOM_UTF8 + text.encode())


# --- round trip -------------------------------------------------------------------------

TAGS = {Algorithm.MD5: ["MD5"], Algorithm.SHA1: ["SHA1"], Algorithm.SHA256: ["SHA256", "SHA2-256"]}


@st.composite
def md5sum_rows(draw: st.DrawFn) -> tuple[Algorithm, str, str | None, str, str]:
    """(algorithm, digest, name or None, form, tag) for one md5sum line."""
    algorithm = draw(st.sampled_from(list(Algorithm)))
    digest = draw(hex_digests(algorithm))
    name = draw(
        st.none()
        | file_names(newlines=True, carriage_returns=True).filter(lambda n: not n.isspace())
    )
    form = draw(st.sampled_from(["text", "binary", "tag"]))
    tag = draw(st.sampled_from(TAGS[algorithm]))
    return algorithm, digest, name, form, tag


def render(rows: list[tuple[Algorithm, str, str | None, str, str]]) -> list[str]:
    """md5sum lines as GNU coreutils writes them (escaping names with \\, LF or CR)."""
    lines = []
    for _, digest, name, form, tag in rows:
        if name is None:
            lines.append(digest)
            continue
        escape = any(c in name for c in "\\\n\r")
        shown = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
        prefix = "\\" if escape else ""
        if form == "tag":
            lines.append(f"{prefix}{tag} ({shown if escape else name}) = {digest}")
        else:
            mark = "*" if form == "binary" else " "
            lines.append(f"{prefix}{digest} {mark}{shown if escape else name}")
    return lines


@given(
    rows=st.lists(md5sum_rows(), max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    final_newline=st.booleans(),
)
@example(rows=[], newline="\n", bom=False, final_newline=False)
@example(
    rows=[(Algorithm.MD5, MD5[0].upper(), "a b.bin", "binary", "MD5")],
    newline="\r\n",
    bom=True,
    final_newline=False,
)
@example(
    rows=[(Algorithm.SHA256, SHA256[0], "x\r", "text", "SHA256")],
    newline="\r\n",
    bom=False,
    final_newline=True,
)
def test_round_trip(
    read: Reader,
    rows: list[tuple[Algorithm, str, str | None, str, str]],
    newline: str,
    bom: bool,
    final_newline: bool,
) -> None:
    text = newline.join(render(rows)) + (newline if final_newline and rows else "")
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    parsed, context = read(Md5sumAdapter, data)
    assert context.warning_count == 0
    expected = [
        {"line": i, "algorithm": algorithm.value, "digest": digest, "path": name}
        for i, (algorithm, digest, name, _, _) in enumerate(rows, start=1)
    ]
    assert [
        {
            "line": r["line"],
            "algorithm": next(a.value for a in Algorithm if r[a.value] is not None),
            "digest": next(r[a.value] for a in Algorithm if r[a.value] is not None),
            "path": r["path"],
        }
        for r in parsed
    ] == expected


# --- the chunked reader against its line-at-a-time twin ---------------------------------

Twins = Callable[..., tuple[dict[str, Any], dict[str, Any]]]

ODD_LINES = [
    "",
    "   ",
    "\t",
    "# a comment",
    "#" + MD5[0] + "  commented.bin",
    f"MD5 (tagged.bin) = {MD5[0]}",
    f"\\SHA256 (new\\nline) = {SHA256[0]}",
    f"SHA512 (x) = {MD5[0]}",
    "MD5 (no closing paren = abc",
    f"{'*' * 32}  big.bin",
    f"\\{MD5[1]}  back\\\\slash",
    f"{MD5[2]}\tname with space.bin",
    "hello world",
    "caf\u00e9  x",
]
SEPARATORS = ["", " ", "  ", " *", "  *", "   ", "\t", " \t"]
"""What may come between a digest and its name: every line form, and near misses."""


@st.composite
def md5sum_lines(draw: st.DrawFn) -> str:
    """Lines of an md5sum file: mostly the usual forms, with every kind of line the fast
    path leaves to the per-line rule."""
    kind = draw(st.integers(0, 9))
    if kind == 9:
        return draw(
            st.sampled_from(ODD_LINES)
            | st.text(max_size=80).filter(lambda t: "\n" not in t and "\r" not in t)
        )
    digest = draw(hex_digests())
    if kind == 8:
        digest = draw(st.sampled_from([digest[:-1], digest + "a", "z" * 32, "\\" + digest]))
    name = draw(
        st.sampled_from(["", " ", "*", "\u00a0x", "\u00e9t\u00e9.bin", " lead", "x\u3000"])
        | file_names()
    )
    return digest + draw(st.sampled_from(SEPARATORS)) + name


@given(
    lines=st.lists(md5sum_lines(), max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    final_newline=st.booleans(),
    strict=st.booleans(),
    batch_size=st.sampled_from([1, 2, 3, 7, 65_536]),
    keep_warnings=st.sampled_from([1, 200]),
)
@example(
    lines=[f"{MD5[0]}  a", "x", "", f"{SHA1[0]} *b", "zz", SHA256[0], f"{MD5[1]} c d"],
    newline="\n",
    encoding="utf-8",
    final_newline=True,
    strict=False,
    batch_size=2,
    keep_warnings=200,
)
@example(
    lines=["x", f"{MD5[0]}  a"],
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
    data = (newline.join(lines) + (newline if final_newline else "")).encode(encoding)
    fast, reference = twins(
        Md5sumAdapter, data, strict=strict, batch_size=batch_size, keep_warnings=keep_warnings
    )
    assert fast == reference


@pytest.mark.parametrize("batch_size", [3, 64, 1000, 65_536])
def test_read_agrees_with_the_line_by_line_reader_on_a_long_mixture(
    twins: Twins, batch_size: int
) -> None:
    rng = random.Random(batch_size)
    digests = MD5 + SHA1 + SHA256
    lines = [
        rng.choice(ODD_LINES)
        if rng.random() < 0.1
        else rng.choice(digests) + rng.choice(SEPARATORS) + f"synthetic/file-{n:06d}.bin"
        for n in range(3000)
    ]
    lines[0] = f"{MD5[0]}  first.bin"  # a good first line, so that the whole file is read
    data = ("\n".join(lines) + "\n").encode() + b"caf\xe9  x\n" + MD5[1].encode()
    fast, reference = twins(Md5sumAdapter, data, batch_size=batch_size)
    assert fast == reference
    assert reference["warning_count"] > 0
    assert sum(rows for rows, _, _ in reference["batches"]) > 2000
