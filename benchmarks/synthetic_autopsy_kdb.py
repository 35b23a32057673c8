"""Synthetic Autopsy / TSK ``.kdb`` hash databases for the ingest benchmark (seeded).

:func:`write_synthetic` creates TSK's schema (FORMATS.md §5.5) and ``n`` ``hashes`` rows of
random MD5 BLOBs (one in ten with a SHA-1, one in twenty with a SHA-256), one file name
per hash plus a second name on one hash in ten, and a comment on one hash in seven
(a shared comment on most of them, as a set imported with one comment has). Rows go in
the order TSK adds them: hash first, then its name. Nothing in it is real list data.

    python benchmarks/synthetic_autopsy_kdb.py out.kdb --rows 1000000 --seed 1
"""

from __future__ import annotations

import argparse
import random
import sqlite3
from pathlib import Path

__all__ = ["SCHEMA", "write_synthetic"]

SCHEMA = (
    "CREATE TABLE db_properties (name TEXT NOT NULL, value TEXT);"
    "INSERT INTO db_properties (name, value) VALUES ('Schema Version', '1');"
    "CREATE TABLE hashes (id INTEGER PRIMARY KEY AUTOINCREMENT, md5 BINARY(16) UNIQUE, "
    "sha1 BINARY(20), sha2_256 BINARY(32));"
    "CREATE TABLE file_names (name TEXT NOT NULL, hash_id INTEGER NOT NULL, "
    "PRIMARY KEY(name, hash_id));"
    "CREATE TABLE comments (comment TEXT NOT NULL, hash_id INTEGER NOT NULL, "
    "PRIMARY KEY(comment, hash_id));"
)
_CHUNK = 100_000


def write_synthetic(path: Path, n: int, seed: int) -> None:
    """Write a ``.kdb`` of ``n`` hashes to ``path`` (replacing it)."""
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA page_size = 4096")
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.executescript(SCHEMA)
        for start in range(1, n + 1, _CHUNK):
            ids = range(start, min(start + _CHUNK, n + 1))
            connection.executemany(
                "INSERT INTO hashes (id, md5, sha1, sha2_256) VALUES (?, ?, ?, ?)",
                (
                    (
                        i,
                        rng.randbytes(16),
                        rng.randbytes(20) if i % 10 == 0 else None,
                        rng.randbytes(32) if i % 20 == 0 else None,
                    )
                    for i in ids
                ),
            )
            connection.executemany(
                "INSERT INTO file_names (name, hash_id) VALUES (?, ?)",
                ((f"synthetic/file-{i:07d}.bin", i) for i in ids),
            )
            connection.executemany(
                "INSERT INTO file_names (name, hash_id) VALUES (?, ?)",
                ((f"synthetic/copy-{i:07d}.bin", i) for i in ids if i % 10 == 3),
            )
            connection.executemany(
                "INSERT INTO comments (comment, hash_id) VALUES (?, ?)",
                (
                    ("imported from synthetic set" if i % 5 else f"note {i}", i)
                    for i in ids
                    if i % 7 == 0
                ),
            )
        # TSK's second index on md5 is built once at the end, in one sort.
        connection.execute("CREATE INDEX md5_index ON hashes(md5)")
        connection.commit()
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    """Write one synthetic database from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    write_synthetic(args.path, args.rows, args.seed)


if __name__ == "__main__":
    main()
