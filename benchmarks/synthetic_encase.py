"""Synthetic EnCase legacy ``.hash`` sets for the ingest benchmark (seeded).

:func:`write_synthetic` writes the 1152-byte header (signature, version 1, the record
count, the set name "Synthetic Benchmark Set" in UTF-16LE) and ``n`` 18-byte records of
random MD5 bytes and two zero bytes (FORMATS.md §5.1), a million records at a time.
Nothing in it is real list data.

    python benchmarks/synthetic_encase.py out.hash --records 2000000 --seed 1
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

__all__ = ["write_synthetic"]

_MAGIC = b"HASH\r\n\xff\x00"
_HEADER_SIZE = 0x480
_NAME = "Synthetic Benchmark Set"
_CHUNK = 1 << 20


def write_synthetic(path: Path, n: int, seed: int) -> None:
    """Write an EnCase hash set of ``n`` random MD5 records to ``path``."""
    rng = np.random.default_rng(seed)
    header = bytearray(_HEADER_SIZE)
    header[:8] = _MAGIC
    struct.pack_into("<II", header, 0x08, 1, 0)
    struct.pack_into("<I", header, 0x10, n)
    name = _NAME.encode("utf-16-le")
    header[0x408 : 0x408 + len(name)] = name
    with open(path, "wb") as out:
        out.write(header)
        for start in range(0, n, _CHUNK):
            count = min(_CHUNK, n - start)
            records = np.zeros((count, 18), dtype=np.uint8)
            records[:, :16] = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
            out.write(records.tobytes())


def main(argv: list[str] | None = None) -> None:
    """Write one synthetic hash set from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    write_synthetic(args.path, args.records, args.seed)


if __name__ == "__main__":
    main()
