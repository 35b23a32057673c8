"""The walk: deterministic order, and every entry accounted for (links, FIFOs, locked folders)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from scan_reference import run_unprivileged, synthetic_bytes, world_readable_folder

from hashmatch.errors import InputError
from hashmatch.scan import (
    DEVICE,
    FIFO,
    PERMISSION_DENIED,
    SOCKET,
    SYMLINK,
    plan_tree,
    scan_tree,
)


def scanned(root: Path | str) -> list[tuple[str, str | None]]:
    return [(f.path, f.reason) for f in scan_tree(Path(root))]


def make(root: Path, raw: bytes, data: bytes = b"synthetic-fixture-004") -> None:
    full = os.fsencode(root) + b"/" + raw
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as out:
        out.write(data)


def test_names_sort_bytewise_in_each_folder_depth_first(tmp_path: Path) -> None:
    for raw in [b"b", b"a/z", b"a/y/x", b"a-c", b"B", "ä".encode(), b"\xff", b"a/.hidden"]:
        make(tmp_path, raw)
    (tmp_path / "empty-folder").mkdir()
    assert [path for path, _ in scanned(tmp_path)] == [
        "B",
        "a/.hidden",
        "a/y/x",
        "a/z",  # a folder's contents come where its name sorts: before "a-c"
        "a-c",
        "b",
        "ä",
        "\\xff",
    ]


def test_the_order_does_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    for n in range(300):
        make(tmp_path, f"d{n % 7}/f{n:04d}".encode(), synthetic_bytes(str(n), n * 37))
    orders = [[f.path for f in scan_tree(tmp_path, workers=w)] for w in (1, 2, 5)]
    assert orders[0] == orders[1] == orders[2]
    assert orders[0] == sorted(orders[0])  # these names sort the same either way


def test_symbolic_links_are_recorded_and_never_followed(tmp_path: Path) -> None:
    make(tmp_path, b"real/file.bin")
    (tmp_path / "to-file").symlink_to(tmp_path / "real" / "file.bin")
    (tmp_path / "to-folder").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to("loop")
    found = list(scan_tree(tmp_path))
    assert [(f.path, f.size, f.reason) for f in found] == [
        ("dangling", None, SYMLINK),
        ("loop", None, SYMLINK),
        ("real/file.bin", 21, None),
        ("to-file", None, SYMLINK),
        ("to-folder", None, SYMLINK),
    ]


def test_a_root_given_as_a_symbolic_link_is_followed(tmp_path: Path) -> None:
    make(tmp_path, b"real/file.bin")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert scanned(tmp_path / "link") == [("file.bin", None)]


def test_fifos_and_sockets_are_recorded_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")  # opening it for reading would block forever
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(tmp_path / "sock"))
        assert scanned(tmp_path) == [("pipe", FIFO), ("sock", SOCKET)]
    finally:
        listener.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may create device nodes")
def test_device_files_are_recorded_without_being_opened(tmp_path: Path) -> None:
    os.mknod(tmp_path / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    found = list(scan_tree(tmp_path))
    assert [(f.path, f.size, f.reason) for f in found] == [("null", None, DEVICE)]


def test_unreadable_files_and_unlistable_folders_are_counted_not_skipped() -> None:
    # As root, permissions do not bind: the scan then runs in a child that became nobody.
    with world_readable_folder() as root:
        make(root, b"a-readable.bin")
        make(root, b"b-locked.bin")
        (root / "b-locked.bin").chmod(0o000)
        make(root, b"c-locked-folder/inside.bin")
        (root / "c-locked-folder").chmod(0o000)
        make(root, b"d-list-only/one.bin")
        make(root, b"d-list-only/sub/two.bin")
        (root / "d-list-only").chmod(0o644)  # names can be read, entries not reached
        make(root, b"e-after.bin")

        def scan() -> list[list[object]]:
            return [[f.path, f.size, f.reason, f.md5] for f in scan_tree(root)]

        found = run_unprivileged(scan)
    denied = f"directory could not be listed: {PERMISSION_DENIED}"
    assert [row[:3] for row in found] == [
        ["a-readable.bin", 21, None],
        ["b-locked.bin", None, PERMISSION_DENIED],
        ["c-locked-folder", None, denied],
        ["d-list-only/one.bin", None, PERMISSION_DENIED],
        ["d-list-only/sub", None, denied],
        ["e-after.bin", 21, None],
    ]
    assert found[0][3] == found[5][3] is not None  # O_NOATIME refused to nobody: read anyway


def test_a_root_that_does_not_exist_or_is_special_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder") as missing:
        scan_tree(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(missing.value)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match=r"special file \(FIFO\)"):
        plan_tree(tmp_path / "pipe")


def test_a_single_file_root_scans_that_file_by_its_name(tmp_path: Path) -> None:
    make(tmp_path, b"evidence.img", b"synthetic-fixture-005")
    plan = plan_tree(tmp_path / "evidence.img")
    assert plan.root == tmp_path
    assert scanned(tmp_path / "evidence.img") == [("evidence.img", None)]


def test_an_empty_folder_yields_nothing(tmp_path: Path) -> None:
    plan = plan_tree(tmp_path)
    assert (plan.entries, plan.total_files, plan.total_bytes) == ((), 0, 0)
    assert list(scan_tree(plan)) == []
