"""A synthetic demo: two lists and a device manifest made of digests of made-up strings.

Nothing here is, or is derived from, real material: every digest is the MD5 or SHA-256 of
a string such as ``synthetic-demo-concern-000001``. The manifest names files that do not
exist; only their digests are written.
"""

from __future__ import annotations

import csv
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DemoFiles", "write_demo_files"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoFiles:
    """The files the demo wrote, and what the check of the manifest should find."""

    concern_list: Path
    benign_list: Path
    manifest: Path
    expected: dict[str, int]
    """Rows per verdict that a correct check reports."""


def _digests(text: str) -> tuple[str, str]:
    data = text.encode()
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


def write_demo_files(
    directory: Path, *, entries: int = 10_000, files: int = 1_000, seed: int = 1
) -> DemoFiles:
    """Write ``known.csv`` (concern), ``benign.hashdeep`` and ``device.hashdeep`` in ``directory``.

    The manifest holds ``files`` rows: about 5 % on the concern list (some also on the
    benign list), 40 % on the benign list only, one zero-length file, one malformed
    digest, one copy of a known file under a second path, and the rest unknown.
    """
    if files < 20:
        raise ValueError("the demo manifest needs at least 20 files")
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    concern = [_digests(f"synthetic-demo-concern-{i:06d}") for i in range(entries)]
    benign = [_digests(f"synthetic-demo-benign-{i:06d}") for i in range(entries)]
    categories = ("demo-1", "demo-2", "demo-3")

    concern_path = directory / "known.csv"
    with open(concern_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["MD5", "SHA256", "Category"])
        for i, (md5, sha256) in enumerate(concern):
            writer.writerow([md5.upper(), sha256.upper(), categories[i % 3]])

    benign_path = directory / "benign.hashdeep"
    with open(benign_path, "w", encoding="utf-8") as handle:
        handle.write("%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n")
        handle.write("## Invoked from: /synthetic/software\n")
        for i, (md5, sha256) in enumerate(benign):
            handle.write(f"{1000 + i},{md5},{sha256},/synthetic/software/lib{i:06d}.so\n")
        # A software file that is also on the concern list: its verdict must be "known".
        handle.write(f"21,{concern[0][0]},{concern[0][1]},/synthetic/software/shared.bin\n")

    expected = {"known": 0, "known_benign": 0, "unknown": 0, "not_assessable": 0, "invalid": 0}
    rows: list[tuple[int, str, str, str]] = []
    known_count = max(2, files // 20)
    benign_count = files * 2 // 5
    for i in range(known_count):
        md5, sha256 = concern[rng.randrange(entries) if i > 1 else i]
        rows.append((21, md5, sha256, f"evidence/DCIM/IMG_{i:04d}.jpg"))
        expected["known"] += 1
    md5, sha256 = concern[1]
    rows.append((21, md5, sha256, "evidence/Downloads/copy of IMG_0001.jpg"))
    expected["known"] += 1
    for i in range(benign_count):
        md5, sha256 = benign[rng.randrange(entries)]
        rows.append((4096, md5, sha256, f"evidence/Program Files/app/lib{i:05d}.dll"))
        expected["known_benign"] += 1
    rows.append(
        (
            0,
            "d41d8cd98f00b204e9800998ecf8427e",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "evidence/empty.txt",
        )
    )
    expected["not_assessable"] += 1
    rows.append((21, "not-a-digest", "", "evidence/broken, with comma.bin"))
    expected["invalid"] += 1
    while len(rows) < files:
        md5, sha256 = _digests(f"synthetic-demo-device-{len(rows):06d}")
        rows.append((2048, md5, sha256, f"evidence/Pictures/photo_{len(rows):05d}.jpg"))
        expected["unknown"] += 1
    rng.shuffle(rows)

    manifest_path = directory / "device.hashdeep"
    with open(manifest_path, "w", encoding="utf-8") as handle:
        handle.write("%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n")
        handle.write(
            "## Invoked from: /cases/DEMO-1\n## $ hashdeep -c md5,sha256 -r evidence\n##\n"
        )
        for size, md5, sha256, name in rows:
            handle.write(f"{size},{md5},{sha256},{name}\n")
    return DemoFiles(
        concern_list=concern_path,
        benign_list=benign_path,
        manifest=manifest_path,
        expected=expected,
    )
