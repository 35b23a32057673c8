"""The HASHDEEP-1.0 manifest a scan writes: hashdeep's layout, read back by our own adapter."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pyarrow as pa
import pytest
from hashmatch_adapters.hashdeep import HashdeepAdapter
from scan_reference import reference_scan

import hashmatch.scan as scan_package
from hashmatch.adapter import ReadContext
from hashmatch.records import RECORD_SCHEMA
from hashmatch.scan import (
    FIFO,
    SYMLINK,
    ScannedFile,
    scan_tree,
    unescape_path,
    write_hashdeep_manifest,
)

ODD_NAMES = [
    b"plain.bin",
    b"name, with commas.txt",
    b"a,b,c",
    b"line\nbreak.bin",
    b"carriage\rreturn.bin",
    b"crlf\r\n",
    b"latin1-\xe9t\xe9.txt",
    "café.txt".encode(),
    b"back\\slash\\n.bin",
    b" leading and trailing space ",
    b"#not-a-comment",
    b"%%%% HASHDEEP-1.0",
]


def write(files: list[ScannedFile]) -> tuple[str, list[tuple[int, ScannedFile]]]:
    out = io.StringIO(newline="\n")
    skipped = write_hashdeep_manifest(
        files, out, invoked_from="/cases/SYN-0001", command="hashmatch scan evidence"
    )
    return out.getvalue(), skipped


def read_back(text: str) -> tuple[list[dict[str, object]], ReadContext]:
    context = ReadContext(source="manifest.txt")
    data = text.encode("utf-8")
    assert HashdeepAdapter.sniff(data[:65536])
    batches = list(HashdeepAdapter().read(io.BytesIO(data), context))
    return pa.Table.from_batches(batches, schema=RECORD_SCHEMA).to_pylist(), context


def test_the_header_is_hashdeeps_with_all_three_digests() -> None:
    text, skipped = write([])
    assert text == (
        "%%%% HASHDEEP-1.0\n"
        "%%%% size,md5,sha1,sha256,filename\n"
        "## Invoked from: /cases/SYN-0001\n"
        "## $ hashmatch scan evidence\n"
        "##\n"
    )
    assert skipped == []


def test_odd_names_round_trip_through_the_hashdeep_adapter(tmp_path: Path) -> None:
    for n, raw in enumerate(ODD_NAMES):
        with open(os.fsencode(tmp_path) + b"/" + raw, "wb") as out:
            out.write(f"synthetic-fixture-{n:03d}".encode())
    found = list(scan_tree(tmp_path))
    assert found == reference_scan(tmp_path)
    text, skipped = write(found)
    assert skipped == []
    assert len(text.splitlines()) == 5 + len(ODD_NAMES)  # one line per file, whatever its name

    rows, context = read_back(text)
    assert context.warning_count == 0
    assert [(r["line"], r["size"], r["md5"], r["sha1"], r["sha256"], r["path"]) for r in rows] == [
        (6 + n, f.size, f.md5, f.sha1, f.sha256, f.path) for n, f in enumerate(found)
    ]
    # The escaped names lead back to the exact bytes on disk.
    assert sorted(unescape_path(str(r["path"])) for r in rows) == sorted(ODD_NAMES)


def test_files_without_digests_get_a_comment_line_each_in_scan_order(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"synthetic-fixture-007")
    os.mkfifo(tmp_path / "b-pipe")
    (tmp_path / "c-link").symlink_to("a.bin")
    with open(os.fsencode(tmp_path) + b"/d-odd\nlink", "wb"):
        pass
    os.unlink(os.fsencode(tmp_path) + b"/d-odd\nlink")
    os.symlink("a.bin", os.fsencode(tmp_path) + b"/d-odd\nlink")
    (tmp_path / "e.bin").write_bytes(b"synthetic-fixture-008")
    found = list(scan_tree(tmp_path))
    text, skipped = write(found)
    lines = text.splitlines()
    assert lines[5:] == [
        f"21,{found[0].md5},{found[0].sha1},{found[0].sha256},a.bin",
        f"## not_assessable: {FIFO}\tb-pipe",
        f"## not_assessable: {SYMLINK}\tc-link",
        f"## not_assessable: {SYMLINK}\td-odd\\nlink",
        f"21,{found[4].md5},{found[4].sha1},{found[4].sha256},e.bin",
    ]
    assert [(number, f.path) for number, f in skipped] == [
        (7, "b-pipe"),
        (8, "c-link"),
        (9, "d-odd\\nlink"),
    ]
    assert all(lines[number - 1].endswith(f.path) for number, f in skipped)
    rows, context = read_back(text)
    # each comment is a row without digests, its reason a note (never a warning)
    assert [(r["line"], r["path"], r["md5"]) for r in rows[1:4]] == [
        (7, "b-pipe", ""),
        (8, "c-link", ""),
        (9, "d-odd\\nlink", ""),
    ]
    assert [r["line"] for r in rows] == [6, 7, 8, 9, 10]
    assert context.warning_count == 0
    assert context.notes == {7: FIFO, 8: SYMLINK, 9: SYMLINK}


def test_a_newline_in_the_command_line_cannot_break_the_header() -> None:
    out = io.StringIO(newline="\n")
    write_hashdeep_manifest([], out, invoked_from="/cases/a\nb", command="scan 'x\ny'")
    assert out.getvalue().splitlines()[2:4] == [
        "## Invoked from: /cases/a\\nb",
        "## $ scan 'x\\ny'",
    ]


def test_an_unescaped_path_is_refused_rather_than_written() -> None:
    bad = ScannedFile(path="a\nb", size=0, md5="0" * 32, sha1="0" * 40, sha256="0" * 64)
    with pytest.raises(ValueError, match="not escaped"):
        write([bad])


def isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each sorted (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2), name


def test_the_public_api_is_pinned_and_sorted() -> None:
    assert scan_package.__all__ == sorted(scan_package.__all__, key=isort_style)
    assert set(scan_package.__all__) == {
        "CHANGED",
        "CHANGED_WHILE_READ",
        "DEFAULT_CHUNK_SIZE",
        "DEVICE",
        "FIFO",
        "MANIFEST_COLUMNS",
        "NOT_ASSESSABLE_PREFIX",
        "PERMISSION_DENIED",
        "SOCKET",
        "SYMLINK",
        "UNKNOWN_TYPE",
        "VANISHED",
        "PlannedEntry",
        "ScanPlan",
        "ScanProgress",
        "ScannedFile",
        "default_workers",
        "escape_path",
        "escape_text",
        "plan_tree",
        "scan_tree",
        "unescape_path",
        "write_hashdeep_manifest",
    }
    for name in scan_package.__all__:
        assert getattr(scan_package, name) is not None
