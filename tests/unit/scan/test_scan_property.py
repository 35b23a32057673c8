"""Random small trees: the threaded scanner agrees with its plain reference twin, and its
manifest reads back through the hashdeep adapter unchanged."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pyarrow as pa
from hashmatch_adapters.hashdeep import HashdeepAdapter
from hypothesis import example, given
from hypothesis import strategies as st
from scan_reference import reference_scan

from hashmatch.adapter import ReadContext
from hashmatch.records import RECORD_SCHEMA
from hashmatch.scan import scan_tree, unescape_path, write_hashdeep_manifest

names = st.binary(min_size=1, max_size=12).filter(
    lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b"..")
)
kinds = st.sampled_from(["file", "file", "file", "empty", "link"])
contents = st.binary(max_size=5000) | st.integers(0, 3 * 4096 + 1).map(lambda n: b"\xa5" * n)
trees = st.lists(st.tuples(st.lists(names, max_size=2), names, kinds, contents), max_size=12)

Tree = list[tuple[list[bytes], bytes, str, bytes]]


def build(root: bytes, tree: Tree) -> None:
    """Create the tree; an entry whose place is taken (or whose folder is a file) is left out."""
    for folders, name, kind, data in tree:
        parent = root
        for folder in folders:
            parent += b"/" + folder
            if not os.path.lexists(parent):
                os.mkdir(parent)
            elif os.path.islink(parent) or not os.path.isdir(parent):
                break  # a file is there; and never build through a link (it may lead out)
        else:
            path = parent + b"/" + name
            if not os.path.lexists(path):
                make(path, kind, data)


def make(path: bytes, kind: str, data: bytes) -> None:
    """One file or symbolic link of the tree."""
    if kind == "link":
        os.symlink(b"../" + os.path.basename(path), path)
    else:
        with open(path, "wb") as out:
            out.write(b"" if kind == "empty" else data)


@given(trees)
@example([])
@example([([b"dir"], b"\xef\xbb\xbfbom", "file", b"synthetic-fixture-009")])
@example([([], b"crlf\r\n", "file", b"a\r\nb"), ([], b"CRLF\r\n", "empty", b"")])
@example([([b"a", b"b"], b"deep", "file", b"\xa5" * 8193), ([b"a"], b"link", "link", b"")])
@example([([], b"\x01", "link", b""), ([b"\x01", b"\x01"], b"\x01", "file", b"")])
@example([([], b"\x01", "file", b""), ([b"\x01", b"\x01"], b"\x01", "file", b"")])
@example([([], b"ABCDEF0123", "file", b"upper-case hex name"), ([], b"\xff\xfe", "file", b"x")])
def test_the_scanner_agrees_with_its_reference_twin(tree: Tree) -> None:
    with tempfile.TemporaryDirectory(prefix="hashmatch-scan-prop-") as folder:
        root = os.fsencode(folder) + b"/tree"
        os.mkdir(root)
        build(root, tree)
        found = list(scan_tree(Path(os.fsdecode(root)), workers=2, chunk_size=4096))
        assert found == reference_scan(Path(os.fsdecode(root)))

    out = io.StringIO(newline="\n")
    skipped = write_hashdeep_manifest(found, out, invoked_from=folder, command="scan tree")
    context = ReadContext(source="manifest.txt")
    batches = HashdeepAdapter().read(io.BytesIO(out.getvalue().encode("utf-8")), context)
    rows = pa.Table.from_batches(list(batches), schema=RECORD_SCHEMA).to_pylist()
    # every file is a row, in scan order; one not hashed has no digest, and its reason
    assert [(r["path"], r["size"], r["md5"], r["sha1"], r["sha256"]) for r in rows] == [
        (f.path, f.size, f.md5, f.sha1, f.sha256) if f.hashed else (f.path, None, "", "", "")
        for f in found
    ]
    assert [f for _, f in skipped] == [f for f in found if not f.hashed]
    assert context.notes == {line: f.reason for line, f in skipped}
    assert context.warning_count == 0
    for f in found:
        assert b"\n" not in f.path.encode("utf-8")
        assert unescape_path(f.path).split(b"/")[-1] in {name for _, name, _, _ in tree}
