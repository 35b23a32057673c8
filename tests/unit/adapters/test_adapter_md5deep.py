"""md5deep / sha1deep / sha256deep output: sizes, triage, times, commas, placeholders."""

from __future__ import annotations

import codecs
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hashmatch_adapters import md5deep
from hashmatch_adapters.md5deep import Md5deepAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import file_names, file_sizes, hex_digests

from hashmatch.adapter import HEAD_BYTES, Role
from hashmatch.digests import Algorithm
from hashmatch.errors import RecordError, UnsupportedFormat
from hashmatch.registry import default_registry

Reader = Callable[..., tuple[list[dict[str, Any]], Any]]

SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).hexdigest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).hexdigest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).hexdigest() for s in SOURCES]
LONG = (b"synthetic-fixture-006" * 40)[:700]
TREE = [
    (SOURCES[0], "evidence/a.bin"),
    (b"", "evidence/empty.bin"),
    (SOURCES[1], "evidence/name with spaces, and commas.txt"),
    (SOURCES[2], "evidence/sub/c.bin"),
    (LONG, "evidence/long.bin"),
    (SOURCES[3], "evidence/dir, with commas/d e.bin"),
]
"""The synthetic tree the md5deep fixtures list, in their order (gen_vendor_csv.py)."""


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["line"], row["md5"], row["sha1"], row["sha256"], row["size"], row["path"]


def tree_rows(algorithm: str, *, sized: bool) -> list[tuple[Any, ...]]:
    """The rows a listing of :data:`TREE` should read as."""
    rows = []
    for line, (data, name) in enumerate(TREE, start=1):
        digests = {a.value: None for a in Algorithm}
        digests[algorithm] = hashlib.new(algorithm, data).hexdigest()
        size = len(data) if sized else None
        rows.append((line, digests["md5"], digests["sha1"], digests["sha256"], size, name))
    return rows


@pytest.mark.parametrize(
    ("fixture", "algorithm", "sized"),
    [
        ("valid.txt", "md5", True),  # md5deep -z
        ("size-asterisk.sha256", "sha256", True),  # sha256deep -z -k
        ("csv.md5", "md5", False),  # md5deep -c
        ("csv-size-time.sha1", "sha1", True),  # sha1deep -c -z -t
        ("triage.md5", "md5", True),  # md5deep -Z
        ("triage-size-asterisk.sha256", "sha256", True),  # sha256deep -Z -z -k
        ("time.sha1", "sha1", False),  # sha1deep -t
    ],
)
def test_each_output_form_reads_as_the_tree_it_lists(
    read: Reader, fixture_bytes: Callable[[str], bytes], fixture: str, algorithm: str, sized: bool
) -> None:
    data = fixture_bytes(f"md5deep/{fixture}")
    rows, context = read(Md5deepAdapter, data)
    assert [cells(r) for r in rows] == tree_rows(algorithm, sized=sized)
    assert context.warning_count == 0
    assert default_registry().detect(data[:HEAD_BYTES]) is Md5deepAdapter


def test_triage_reads_the_whole_file_digest_never_the_512_byte_one(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    data = fixture_bytes("md5deep/triage.md5")
    first_block = hashlib.md5(LONG[:512]).hexdigest()
    assert first_block.encode() in data  # the fixture does carry it
    rows, _ = read(Md5deepAdapter, data)
    long_row = next(r for r in rows if r["path"] == "evidence/long.bin")
    assert long_row["md5"] == hashlib.md5(LONG).hexdigest()
    assert first_block not in {r["md5"] for r in rows}


def test_files_not_hashed_are_named_rows_without_digest_or_size(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(Md5deepAdapter, fixture_bytes("md5deep/threshold.md5"))
    assert [cells(r) for r in rows] == [
        (1, MD5[0], None, None, 21, "evidence/a.bin"),
        # md5deep -I -z writes size 0 for a file it skipped: that is not its size.
        (2, None, None, None, None, "evidence/long.bin"),
        (3, MD5[1], None, None, 21, "evidence/b.bin"),
        (4, None, None, None, None, "evidence/long.bin"),  # -Z: no triage fields at all
        (5, MD5[2], None, None, None, "evidence/c.bin"),
        (6, None, None, None, None, "evidence/long.bin"),
    ]
    assert context.warning_count == 0


def test_standard_input_has_no_name(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    rows, _ = read(Md5deepAdapter, fixture_bytes("md5deep/stdin.md5"))
    assert [cells(r) for r in rows] == [(1, MD5[0], None, None, 21, None)]


def test_utf16_crlf_windows_output(read: Reader, fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("md5deep/windows-utf16.txt")
    assert data.startswith(codecs.BOM_UTF16_LE)
    rows, _ = read(Md5deepAdapter, data)
    assert [cells(r) for r in rows] == [
        (1, None, None, SHA256[0], 21, "C:\\Evidence\\SYN-0001\\a.bin"),
        (2, None, None, SHA256[1], 21, "C:\\Evidence\\SYN-0001\\caf\u00e9.bin"),
    ]


def test_bad_later_lines_and_merged_error_messages(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(Md5deepAdapter, fixture_bytes("md5deep/corrupt-later.txt"))
    assert [cells(r) for r in rows] == [
        (2, MD5[0], None, None, 21, "evidence/a.bin"),
        # Not hex: passed on as found, for the core to report as invalid.
        (5, "z" * 32, None, None, 21, "evidence/not-hex.bin"),
        # A size past int64 is reported, and the digest still read.
        (6, MD5[2], None, None, None, "evidence/huge.bin"),
        (9, MD5[4], None, None, 21, "evidence/e.bin"),
    ]
    assert [(w.line, w.reason) for w in context.warnings] == [
        (1, "an md5deep error message: 'evidence/locked.bin: Permission denied'"),
        (3, "an md5deep error message: 'evidence/sub: Is a directory'"),
        (4, "mixes the comma (-c) and space separators"),
        (6, "size is out of range: '10000000000000000000'"),
        # md5sum's one-space form is no md5deep form.
        (7, "unexpected text after the digest: ' evidence/one-space.bin'"),
        (8, "an md5deep error message: 'md5deep: evidence/gone.bin: No such file or directory'"),
    ]


def test_strict_stops_at_the_first_bad_line(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    with pytest.raises(RecordError) as raised:
        read(Md5deepAdapter, fixture_bytes("md5deep/corrupt.txt"), strict=True)
    assert raised.value.render() == (
        "test-input:2: 31 hex digits is no md5, sha1 or sha256 digest: "
        "'d2504396cf387b78901922b22f3f31f'"
    )


def test_a_bad_later_line_is_skipped_with_a_warning(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    rows, context = read(Md5deepAdapter, fixture_bytes("md5deep/corrupt.txt"))
    assert [r["line"] for r in rows] == [1, 3]
    assert [w.line for w in context.warnings] == [2]


def test_a_bad_first_line_means_not_md5deep(
    read: Reader, fixture_bytes: Callable[[str], bytes]
) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        read(Md5deepAdapter, fixture_bytes("md5deep/corrupt-first.txt"), source="x.txt")
    assert raised.value.render() == "x.txt:1: not an md5deep line: not a digest: 'Checksums'"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"21\t{MD5[0]}\t{SHA256[0]}\tx", "differ in length"),
        (f"{MD5[0]},2024:01:02:03:04:05  x", "mixes the comma (-c) and space separators"),
        (f"{MD5[0]} x", "unexpected text after the digest: ' x'"),
        (f"{MD5[0]}:x", "not a digest"),
        ("        21  ", "no digest where one was expected"),
        (f"{MD5[0]}0  x", "33 hex digits is no md5"),
    ],
)
def test_bad_line_reasons(read: Reader, line: str, reason: str) -> None:
    rows, context = read(Md5deepAdapter, f"{MD5[1]},ok.bin\n{line}\n".encode())
    assert len(rows) == 1
    assert context.warnings[0].line == 2
    assert reason in context.warnings[0].reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # md5deep -q -z: no name, the line ends in two spaces
        (f"        21  {MD5[0]}  ", (MD5[0], 21, None)),
        # sizes of more than ten digits push the columns right
        (f"12345678901  {MD5[0]}  big.bin", (MD5[0], 12345678901, "big.bin")),
        # -c -t: the name keeps its commas
        (f"{MD5[0]},2024:01:02:03:04:05,a,b.bin", (MD5[0], None, "a,b.bin")),
        # -Z -t: the time, then a tab before the name
        (f"21\t{MD5[1]}\t{MD5[0]} 2024:01:02:03:04:05\ta.bin", (MD5[0], 21, "a.bin")),
        # -Z -c
        (f"21\t{MD5[1]}\t{MD5[0]},a b.bin", (MD5[0], 21, "a b.bin")),
        # a tab inside a triage name stays in it
        (f"21\t{MD5[0]}\t{MD5[0]}\ttab\there.bin", (MD5[0], 21, "tab\there.bin")),
        # leading spaces of a name are the name's
        (f"        21  {MD5[0]}    two spaces.bin", (MD5[0], 21, "  two spaces.bin")),
        # piecewise (-p): the offset stays in the name
        (f"{MD5[0]},big.bin offset 0-511", (MD5[0], None, "big.bin offset 0-511")),
        # upper-case hex is passed on as found
        (f"        21  {MD5[0].upper()} *a.bin", (MD5[0].upper(), 21, "a.bin")),
    ],
)
def test_other_line_forms(read: Reader, line: str, expected: tuple[Any, ...]) -> None:
    rows, context = read(Md5deepAdapter, f"{line}\n".encode())
    assert (rows[0]["md5"], rows[0]["size"], rows[0]["path"]) == expected
    assert context.warning_count == 0


def test_comments_and_blank_lines_are_skipped(read: Reader) -> None:
    data = f"# listing of SYN-0001\n\n   \n        21  {MD5[0]}  a.bin\n".encode()
    rows, _ = read(Md5deepAdapter, data)
    assert [(r["line"], r["path"]) for r in rows] == [(4, "a.bin")]


def test_error_messages_before_the_first_record_are_warnings(read: Reader) -> None:
    data = f"/x: Permission denied\n        21  {MD5[0]}  a.bin\n".encode()
    rows, context = read(Md5deepAdapter, data)
    assert [r["line"] for r in rows] == [2]
    assert [w.line for w in context.warnings] == [1]


def test_it_reads_manifests_only() -> None:
    registry = default_registry()
    assert "md5deep" in registry.names(Role.MANIFEST)
    assert "md5deep" not in registry.names(Role.LIST)


class TestSniff:
    """Claim only what md5deep alone writes; plain lines stay md5sum's."""

    @pytest.mark.parametrize(
        "head",
        [
            f"        21  {MD5[0]}  a.bin\n".encode(),
            f"{SHA1[0]},a.bin\n".encode(),
            f"21\t{MD5[0]}\t{MD5[0]}\ta.bin\n".encode(),
            f"\t{'*' * 32}\ta.bin\n21\t{MD5[0]}\t{MD5[0]}\tb.bin\n".encode(),
            f"{SHA256[0]} 2024:01:02:03:04:05  a.bin\n".encode(),
            f"# note\n{MD5[0]}  plain.bin\n        21  {MD5[1]} *b.bin\n".encode(),
            f"a.bin: Permission denied\n{MD5[0]},a.bin\n".encode(),
            codecs.BOM_UTF16_LE + f"        21  {MD5[0]}  a\r\n".encode("utf-16-le"),
            f"        21  {MD5[0]}".encode(),  # standard input, no final newline
        ],
    )
    def test_md5deep_forms(self, head: bytes) -> None:
        assert Md5deepAdapter.sniff(head)

    @pytest.mark.parametrize(
        "head",
        [
            b"",
            f"{MD5[0]}  a.bin\n{MD5[1]} *b.bin\n".encode(),  # md5sum, and plain md5deep
            f"{MD5[0]}\n{SHA1[1]}\n".encode(),  # bare
            f"{MD5[0]}  \n".encode(),  # md5deep -q: bare digests
            f"MD5 (a.bin) = {MD5[0]}\n".encode(),
            b"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n21,abc,a\n",
            b"MD5,SHA1,Path\n",
            f"MD5,Path\n{MD5[0]},a.bin\n".encode(),
            f"{'z' * 32},a.bin\n".encode(),  # not hex
            f"hello\n{MD5[0]},a.bin\n".encode(),
            b'{"value": []}',
        ],
    )
    def test_other_formats(self, head: bytes) -> None:
        assert not Md5deepAdapter.sniff(head)

    def test_a_line_cut_by_the_head_limit_is_ignored(self) -> None:
        line = f"{'z' * 32},a.bin\n".encode()
        head = f"{MD5[0]},a.bin\n".encode() + line
        assert Md5deepAdapter.sniff(head[:-5])


# --- the real tools ---------------------------------------------------------------------

TOOLS = {"md5deep": "md5", "sha1deep": "sha1", "sha256deep": "sha256"}


@pytest.mark.skipif(shutil.which("md5deep") is None, reason="md5deep is not installed")
@pytest.mark.parametrize(
    "options",
    [["-z"], ["-c"], ["-Z"], ["-t"], ["-z", "-k"], ["-c", "-z", "-t"], ["-Z", "-z", "-k"]],
    ids=" ".join,
)
@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_what_the_installed_tool_writes(
    read: Reader, tmp_path: Path, tool: str, options: list[str]
) -> None:
    for data, name in TREE:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    output = subprocess.run(
        [tool, *options, "-l", "-r", "evidence"],
        cwd=tmp_path,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert default_registry().detect(output[:HEAD_BYTES]) is Md5deepAdapter
    rows, context = read(Md5deepAdapter, output, strict=True)
    sized = "-z" in options or "-Z" in options
    algorithm = TOOLS[tool]
    # md5deep's own order depends on the directory walk: compare by name.
    expected = {row[-1]: row[1:] for row in tree_rows(algorithm, sized=sized)}
    assert {r["path"]: cells(r)[1:] for r in rows} == expected
    assert len(rows) == len(TREE)
    assert context.warning_count == 0


# --- round trip --------------------------------------------------------------------------

Entry = tuple[Algorithm, str | None, str | None, int, str]
"""(algorithm, digest or None for a file not hashed, name or None, size, 512-byte digest)."""


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    """One file of a listing: now and then one the tool did not hash, or standard input."""
    algorithm = draw(st.sampled_from(list(Algorithm)))
    digest = None if draw(st.integers(0, 9)) == 0 else draw(hex_digests(algorithm))
    # A -c name that starts with a time and a comma reads as -c -t output: the line
    # cannot say otherwise (see the module docstring), so such names are left out.
    names = file_names().filter(lambda name: not re.match(r"[0-9]{4}:", name))
    name = None if draw(st.integers(0, 9)) == 0 else draw(names)
    return algorithm, digest, name, draw(file_sizes()), draw(hex_digests(algorithm))


def render(
    entry: Entry, *, sized: bool, triaged: bool, timed: bool, csv: bool, asterisk: bool
) -> str:
    """One line as md5deep 4.4 writes it (display.cpp ``md5deep_display_hash``), written
    out again here so that the test does not trust the fixture generator."""
    algorithm, digest, name, size, first_block = entry
    line = ""
    if triaged:
        line += "\t" if digest is None else f"{size}\t{first_block}\t"
    if sized:
        line += f"{0 if digest is None else size:>10}" + (", " if csv else "  ")
    line += digest if digest is not None else "*" * algorithm.hex_length
    if name is None:
        return line
    if timed:
        line += ("," if csv else " ") + "2024:01:02:03:04:05"
    separator = "," if csv else " *" if asterisk else "\t" if triaged else "  "
    return line + separator + name


OPTIONS = st.fixed_dictionaries(
    {
        "sized": st.booleans(),
        "triaged": st.booleans(),
        "timed": st.booleans(),
        "csv": st.booleans(),
        "asterisk": st.booleans(),
    }
)


@given(
    rows=st.lists(entries(), max_size=6),
    options=OPTIONS,
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    final_newline=st.booleans(),
)
@example(  # empty
    rows=[],
    options={"sized": True, "triaged": False, "timed": False, "csv": False, "asterisk": False},
    newline="\n",
    encoding="utf-8",
    final_newline=False,
)
@example(  # BOM, CRLF, upper-case hex, no final newline
    rows=[(Algorithm.SHA256, SHA256[0].upper(), "a b, c.bin", 21, SHA256[0].upper())],
    options={"sized": True, "triaged": False, "timed": False, "csv": False, "asterisk": True},
    newline="\r\n",
    encoding="utf-8-sig",
    final_newline=False,
)
@example(  # triage with a file not hashed, UTF-16
    rows=[
        (Algorithm.MD5, None, "big.bin", 700, MD5[1]),
        (Algorithm.MD5, MD5[0], "a\tb.bin", 21, MD5[1]),
    ],
    options={"sized": False, "triaged": True, "timed": True, "csv": False, "asterisk": False},
    newline="\r\n",
    encoding="utf-16",
    final_newline=True,
)
def test_round_trip(
    read: Reader,
    rows: list[Entry],
    options: dict[str, bool],
    newline: str,
    encoding: str,
    final_newline: bool,
) -> None:
    lines = [render(entry, **options) for entry in rows]
    text = newline.join(lines) + (newline if final_newline and lines else "")
    data = text.encode(encoding)
    parsed, context = read(Md5deepAdapter, data)
    assert context.warning_count == 0
    expected = []
    for number, (algorithm, digest, name, size, _) in enumerate(rows, start=1):
        row: dict[str, Any] = {a.value: None for a in Algorithm}
        row[algorithm.value] = digest
        shows_size = options["sized"] or options["triaged"]
        row |= {
            "line": number,
            "size": size if shows_size and digest is not None else None,
            "path": name,
            "labels": None,
        }
        expected.append(row)
    assert parsed == expected
    distinctive = any(
        options["sized"]
        or options["triaged"]
        or (name is not None and (options["timed"] or options["csv"]))
        for _, _, name, _, _ in rows
    )
    assert Md5deepAdapter.sniff(data[:HEAD_BYTES]) == distinctive


# --- the one-expression reader against the piece-by-piece rule ---------------------------

PIECES = {
    "triage": ["", "\t", f"21\t{MD5[1]}\t", f"0\t{SHA1[1]}\t", f"21\t{MD5[1][:31]}\t", "x\t"],
    "size": ["", "        21  ", "21, ", "   0  ", f"{2**63}  ", "9" * 21 + "  ", "1 ", " 21  "],
    "digest": [
        MD5[0],
        MD5[0].upper(),
        SHA1[0],
        SHA256[0],
        "*" * 32,
        MD5[0][:31],
        "#" + MD5[0][1:],
        "zz",
        "",
    ],
    "time": ["", " 2024:01:02:03:04:05", ",2024:01:02:03:04:05", " 2024:01:02", ",x"],
    "separator": ["", "  ", " *", ",", "\t", " ", "   ", " * "],
}


@given(
    pieces=st.fixed_dictionaries({key: st.sampled_from(values) for key, values in PIECES.items()}),
    name=st.sampled_from(["", " ", ",x", "*x", "2024:01:02:03:04:05,x", "\tx", "# x"])
    | file_names(),
)
@example(pieces=dict.fromkeys(PIECES, ""), name="")
@example(
    pieces={"triage": "", "size": "", "digest": "#" + MD5[0][1:], "time": "", "separator": "  "},
    name="x",
)
@example(
    pieces={
        "triage": "",
        "size": "",
        "digest": MD5[0],
        "time": ",2024:01:02:03:04:05",
        "separator": "",
    },
    name="X",  # ",<time>X": no separator after the time, so not -c -t output
)
def test_the_quick_reader_agrees_with_the_rule(pieces: dict[str, str], name: str) -> None:
    line = "".join(pieces[key] for key in PIECES) + name
    quick = md5deep._quick(line)
    if quick is None:
        return  # left to _parse_line: nothing to compare
    parsed = md5deep._parse_line(line)
    assert not isinstance(parsed, str), parsed
    assert parsed.warning is None
    assert quick == (parsed.column, parsed.digest, parsed.size, parsed.name, parsed.distinctive)


def test_the_quick_reader_takes_the_usual_lines(fixture_bytes: Callable[[str], bytes]) -> None:
    for fixture in ("valid.txt", "csv.md5", "triage.md5", "time.sha1"):
        text = fixture_bytes(f"md5deep/{fixture}").decode()
        assert all(md5deep._quick(line) for line in text.splitlines()), fixture
