"""Synthetic Project VIC VICS 2.0 hash sets for the ingest benchmark (all random, seeded).

:func:`write_synthetic` writes a minified 2.0 ``Default`` profile hash set (``#Media``) of
``n`` records, as national programmes distribute them: upper-case hex digests, SHA-1 on
most records, string flags, a ``DateUpdated`` in Clees4All's 7-digit form, a random
PhotoDNA-shaped value (base64 of 144 random bytes: not a real PhotoDNA) on some records and
an ``AlternativeHashes`` SHA-256 on others. The file is written a block of records at a
time, so ``n`` can be far larger than memory would hold as one string.

    python benchmarks/synthetic_vics.py out.json 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import base64
import json
import random
from pathlib import Path

__all__ = ["write_synthetic"]

MODEL = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
_BLOCK = 10_000
_SERIES = ["Synthetic Series A", 'Synthetic "B", part ] }', "合成シリーズ"]


def _record(rng: random.Random, media_id: int) -> str:
    md5 = rng.randbytes(16).hex().upper()
    fields = [f'"MediaID":{media_id}', f'"Category":{rng.randrange(5)}', f'"MD5":"{md5}"']
    if rng.random() < 0.7:
        fields.append(f'"SHA1":"{rng.randbytes(20).hex().upper()}"')
    fields.append(f'"MediaSize":{rng.randrange(1, 1 << 24)}')
    fields.append(f'"DateUpdated":"2024-05-{rng.randrange(1, 29):02d}T10:00:00.0000000Z"')
    fields.append('"IsPrecategorized":"false"')
    if rng.random() < 0.1:
        fields.append('"VictimIdentified":"true"')
    if rng.random() < 0.05:
        fields.append(f'"Series":{json.dumps(rng.choice(_SERIES), ensure_ascii=False)}')
    if rng.random() < 0.2:
        photodna = base64.b64encode(rng.randbytes(144)).decode("ascii")
        fields.append(f'"PhotoDNA":"{photodna}"')
    if rng.random() < 0.2:
        sha256 = rng.randbytes(32).hex().upper()
        fields.append(
            f'"AlternativeHashes":[{{"MD5":"{md5}","HashName":"SHA256","HashValue":"{sha256}"}}]'
        )
    return "{" + ",".join(fields) + "}"


def write_synthetic(path: Path, n: int, seed: int) -> None:
    """Write a minified VICS 2.0 Default hash set of ``n`` random Media records to ``path``."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(f'{{"@odata.context":"{MODEL}","value":[')
        for start in range(0, n, _BLOCK):
            block = [_record(rng, i + 1) for i in range(start, min(start + _BLOCK, n))]
            out.write(("," if start else "") + ",".join(block))
        out.write("]}")


def main() -> None:
    """Write one synthetic file from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    write_synthetic(args.path, args.n, args.seed)


if __name__ == "__main__":
    main()
