"""A synthetic demo: two lists and a device manifest made of digests of made-up strings.

Nothing here is, or is derived from, real material: every digest is the MD5 or SHA-256 of
a string such as ``synthetic-demo-concern-000001``. The manifest names files that do not
exist; only their digests are written.
"""

from __future__ import annotations

import hashlib
import json
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


_VICS_CONTEXT = (
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
)
_NSRL_HEADER = (
    '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"'
)


def write_demo_files(
    directory: Path, *, entries: int = 10_000, files: int = 1_000, seed: int = 1
) -> DemoFiles:
    """Write ``known.json`` (concern, a VICS 2.0 hash set), ``NSRLFile.txt`` with its
    ``NSRLProd.txt`` (benign, NSRL RDS 2.x) and ``device.hashdeep`` in ``directory``.

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

    concern_path = directory / "known.json"
    with open(concern_path, "w", encoding="utf-8") as handle:
        handle.write(f'{{"@odata.context":"{_VICS_CONTEXT}","value":[')
        for i, (md5, sha256) in enumerate(concern):
            media = {
                "MediaID": i + 1,
                "Category": 1 + i % 3,
                "MD5": md5.upper(),
                "MediaSize": 21,
                "IsDistributed": "true" if i % 2 else "false",
                "VictimIdentified": i % 5 == 0,
                "Series": f"Synthetic Demo Series {i % 4}" if i % 7 == 0 else None,
                "AlternativeHashes": [{"HashName": "SHA256", "HashValue": sha256.upper()}],
            }
            text = json.dumps({k: v for k, v in media.items() if v is not None})
            handle.write(("," if i else "") + text)
        handle.write("]}")

    benign_path = directory / "NSRLFile.txt"
    sha1 = [
        hashlib.sha1(f"synthetic-demo-benign-{i:06d}".encode()).hexdigest() for i in range(entries)
    ]
    with open(benign_path, "w", encoding="cp1252", newline="\r\n") as handle:
        handle.write(_NSRL_HEADER + "\n")
        for i, (md5, _) in enumerate(benign):
            name = f"lib{i:06d}.so"
            handle.write(
                f'"{sha1[i].upper()}","{md5.upper()}","00000000","{name}",{1000 + i},'
                f'{190001 + i % 2},"0",""\n'
            )
        # A software file that is also on the concern list: its verdict must be "known".
        shared = hashlib.sha1(b"synthetic-demo-concern-000000").hexdigest().upper()
        handle.write(
            f'"{shared}","{concern[0][0].upper()}","00000000","shared.bin",21,190001,"0",""\n'
        )
    with open(directory / "NSRLProd.txt", "w", encoding="cp1252", newline="\r\n") as handle:
        handle.write(
            '"ProductCode","ProductName","ProductVersion","OpSystemCode","MfgCode",'
            '"Language","ApplicationType"\n'
        )
        handle.write('190001,"Synthetic Office Suite","1.0","0","0","English","Office"\n')
        handle.write('190002,"Synthetic Media Player","2.3","0","0","English","Media"\n')

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
