"""The reference twin of :func:`hashmatch.scan.scan_tree`, and helpers the scan tests share.

The twin is written to be checked by eye: a recursive walk with ``sorted(os.listdir())``
on bytes, ``os.lstat`` for the type, ``open().read()`` and one ``hashlib`` call per
algorithm. It knows the regular-file, directory and symbolic-link cases (what the
property test generates); the special cases have tests of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hashmatch.scan import SYMLINK, ScannedFile, escape_path


def reference_scan(root: Path) -> list[ScannedFile]:
    """What scanning ``root`` must yield, found the slow and obvious way."""
    found: list[ScannedFile] = []

    def visit(folder: bytes, prefix: bytes) -> None:
        for name in sorted(os.listdir(folder)):
            full = folder + b"/" + name
            relative = prefix + name
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                found.append(ScannedFile(path=escape_path(relative), size=None, reason=SYMLINK))
            elif stat.S_ISDIR(info.st_mode):
                visit(full, relative + b"/")
            else:
                with open(full, "rb") as handle:
                    data = handle.read()
                found.append(
                    ScannedFile(
                        path=escape_path(relative),
                        size=len(data),
                        md5=hashlib.md5(data).hexdigest(),
                        sha1=hashlib.sha1(data).hexdigest(),
                        sha256=hashlib.sha256(data).hexdigest(),
                    )
                )

    visit(os.fsencode(root), b"")
    return found


def scan_threads() -> list[threading.Thread]:
    """The scan's worker threads that are alive now."""
    return [t for t in threading.enumerate() if t.name.startswith("hashmatch-scan")]


def synthetic_bytes(label: str, size: int) -> bytes:
    """``size`` bytes that repeat the digest of a synthetic label (never real content)."""
    block = hashlib.sha256(f"synthetic-fixture-{label}".encode()).digest()
    return (block * (size // len(block) + 1))[:size]


NOBODY = 65534


@contextmanager
def world_readable_folder() -> Iterator[Path]:
    """A fresh folder that an unprivileged user can reach (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="hashmatch-scan-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for dirpath, dirnames, _ in os.walk(folder):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755, follow_symlinks=False)
        shutil.rmtree(folder)


def run_unprivileged(function: Callable[[], Any]) -> Any:
    """``function()`` run as a user whom file permissions apply to; its result via JSON.

    As root, permission bits do not stop reading (CAP_DAC_OVERRIDE), so the call runs in
    a forked child that has dropped to ``nobody``; otherwise it runs here.
    """
    if os.geteuid() != 0:
        return json.loads(json.dumps(function()))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = json.dumps({"result": function()})
        except BaseException as error:  # reported to the parent, which fails the test
            payload = json.dumps({"error": repr(error)})
            status = 1
        with os.fdopen(write_end, "w") as out:
            out.write(payload)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    message = json.loads(text)
    if "error" in message:
        raise AssertionError(f"in the unprivileged child: {message['error']}")
    return message["result"]
