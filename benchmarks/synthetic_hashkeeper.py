"""Synthetic HashKeeper ``.hsh`` sets for the ingest benchmark (seeded).

:func:`write_synthetic` writes the HashKeeper header and ``n`` CRLF rows (FORMATS.md §5.2):
sequential file ids, a handful of hashset ids, quoted names (some with commas), Windows
directories (some empty), quoted upper-case random MD5s, sizes, dates and times, and a
comment on about one row in twenty. Nothing in it is real list data.

    python benchmarks/synthetic_hashkeeper.py out.hsh --rows 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

__all__ = ["HEADER", "write_synthetic"]

HEADER = (
    '"file_id","hashset_id","file_name","directory","hash","file_size","date_modified",'
    '"time_modified","time_zone","comments","date_accessed","time_accessed"'
)
_DIRECTORIES = ["", "C:\\Windows\\System32", "C:\\Program Files\\Synthetic", "D:\\Images\\2024"]
_COMMENT_SHARE = 0.05
_COMMA_SHARE = 0.02


def write_synthetic(path: Path, n: int, seed: int) -> None:
    """Write a HashKeeper set of ``n`` rows to ``path``."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        rows = []
        for number in range(1, n + 1):
            name = (
                f"file, {number:07d}.bin" if rng.random() < _COMMA_SHARE else f"f{number:07d}.dll"
            )
            directory = rng.choice(_DIRECTORIES)
            quoted_directory = f'"{directory}"' if directory else ""
            comment = f'"synthetic note {number % 97}"' if rng.random() < _COMMENT_SHARE else ""
            day = 1 + number % 28
            rows.append(
                f'{number},{100 + number % 5},"{name}",{quoted_directory},'
                f'"{rng.randbytes(16).hex().upper()}",{rng.randrange(1, 1 << 30)},'
                f'03/{day:02d}/2024,10:{number % 60:02d}:00,"UTC",{comment},'
                f"03/{day:02d}/2024,11:00:00\r\n"
            )
            if len(rows) >= 65_536:
                out.write("".join(rows))
                rows = []
        out.write("".join(rows))


def main(argv: list[str] | None = None) -> None:
    """Write one synthetic hash set from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    write_synthetic(args.path, args.rows, args.seed)


if __name__ == "__main__":
    main()
