"""Synthetic NIST NSRL lists for the ingest benchmarks, and a timing of the two NSRL adapters.

:func:`write_synthetic` writes an RDS 2.x ``NSRLFile.txt`` (form 2 header, CRLF, sorted by
SHA-1, each file listed once per product it ships in, a few names with commas or CP1252
bytes) with an ``NSRLProd.txt`` beside it; :func:`write_synthetic_rdsv3` writes an RDSv3
*minimal* SQLite database (``FILE``, ``PKG``, ``VERSION``, the ``DISTINCT_HASH`` view). Both
are seeded; every digest is random and every name and product made up.

Run as a script to time the adapters on ``--rows`` rows of each (records/s, median of
``--repeats``) next to a baseline in the same run: ``pyarrow.csv.read_csv`` of the text file,
and a plain ``sqlite3`` ``fetchmany`` loop over the database's ``FILE`` table::

    python benchmarks/synthetic_nsrl.py --rows 2000000
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hashmatch.adapter import FormatAdapter, ReadContext

HEADER = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"'
PROD_HEADER = (
    '"ProductCode","ProductName","ProductVersion","OpSystemCode","MfgCode","Language",'
    '"ApplicationType"'
)
PRODUCTS = 2_000
"""Distinct product codes (real sets have tens of thousands; a chunk sees a few hundred)."""
FIRST_PRODUCT = 190_001

MINIMAL_SCHEMA = """
CREATE TABLE FILE (
  sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR NOT NULL,
  file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, package_id INTEGER NOT NULL,
  CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size,
  package_id));
CREATE TABLE MFG (manufacturer_id INTEGER NOT NULL, name VARCHAR NOT NULL,
  CONSTRAINT PK_MFG__MFG PRIMARY KEY (manufacturer_id));
CREATE TABLE OS (operating_system_id INTEGER NOT NULL, name VARCHAR NOT NULL,
  version VARCHAR NOT NULL, manufacturer_id INTEGER NOT NULL,
  CONSTRAINT PK_OS__OS PRIMARY KEY (operating_system_id, manufacturer_id));
CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL,
  operating_system_id INTEGER NOT NULL, manufacturer_id INTEGER NOT NULL,
  language VARCHAR NOT NULL, application_type VARCHAR NOT NULL,
  CONSTRAINT PK_PKG__PKG PRIMARY KEY (package_id, operating_system_id, manufacturer_id,
  language, application_type));
CREATE TABLE VERSION (version VARCHAR UNIQUE NOT NULL, build_set VARCHAR NOT NULL,
  build_date TIMESTAMP, release_date TIMESTAMP NOT NULL, description VARCHAR NOT NULL);
CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE;
"""
"""The RDSv3 minimal schema (FORMATS.md §4.2), as NIST's ``schema.sql`` has it."""

_EXTENSIONS = ("dll", "exe", "sys", "txt", "png", "xml", "mui", "js", "h", "cab")


def _hex(rng: np.random.Generator, n: int, width: int) -> list[str]:
    """``n`` random digests of ``width`` bytes as UPPER-case hex (NSRL's case)."""
    text = rng.bytes(n * width).hex().upper()
    step = 2 * width
    return [text[i : i + step] for i in range(0, len(text), step)]


def _files(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """How many distinct files ``n`` rows hold, and per row: which file, its product code."""
    # One row per (file, product): most files ship in one product, some in two or three.
    copies = rng.choice([1, 1, 1, 1, 2, 2, 3], size=n)
    owner = np.repeat(np.arange(n), copies)[:n]
    # A file's copies are in different products (the RDSv3 primary key needs that too).
    copy = np.arange(n) - np.searchsorted(owner, owner)
    files = int(owner[-1]) + 1 if n else 0
    base = rng.integers(0, PRODUCTS, size=files)[owner]
    products = FIRST_PRODUCT + (base + 7 * copy) % PRODUCTS
    names = []
    for i, kind in enumerate(rng.integers(0, 1000, size=files).tolist()):
        extension = _EXTENSIONS[i % len(_EXTENSIONS)]
        if kind == 0:
            names.append(f"r\u00e9sum\u00e9-{i}.{extension}")  # CP1252 byte 0xE9
        elif kind < 10:
            names.append(f"file, part {i}.{extension}")
        else:
            names.append(f"file-{i:07d}.{extension}")
    return owner, names, products


def write_synthetic(path: Path, n: int, seed: int) -> None:
    """An RDS 2.x ``NSRLFile.txt`` of ``n`` data rows at ``path``, ``NSRLProd.txt`` beside it.

    Form 2 header, CRLF line ends, CP1252 text; rows sorted by SHA-1 and repeated once per
    product, as NIST ships them.
    """
    rng = np.random.default_rng(seed)
    owner, names, products = _files(rng, n)
    files = len(names)
    sha1 = sorted(_hex(rng, files, 20))
    md5 = _hex(rng, files, 16)
    crc = _hex(rng, files, 4)
    sizes = rng.integers(0, 1 << 26, size=files).tolist()
    with open(path, "w", encoding="cp1252", newline="\r\n") as out:
        out.write(HEADER + "\n")
        for at, product in zip(owner.tolist(), products.tolist(), strict=True):
            out.write(
                f'"{sha1[at]}","{md5[at]}","{crc[at]}","{names[at]}",{sizes[at]},{product},"0",""\n'
            )
    with open(path.parent / "NSRLProd.txt", "w", encoding="cp1252", newline="\r\n") as out:
        out.write(PROD_HEADER + "\n")
        for code in range(FIRST_PRODUCT, FIRST_PRODUCT + PRODUCTS):
            version = f"{code % 13}.{code % 7}"
            out.write(f'{code},"Synthetic Product {code}","{version}","189","1","English",""\n')
            if code % 10 == 0:
                # Real NSRLProd.txt repeats a code once per operating system it ships for.
                out.write(f'{code},"Synthetic Product {code}","{version}","190","1","English",""\n')


def write_synthetic_rdsv3(path: Path, n: int, seed: int) -> None:
    """An RDSv3 minimal database of ``n`` ``FILE`` rows at ``path`` (replaced if it exists)."""
    rng = np.random.default_rng(seed)
    owner, names, products = _files(rng, n)
    files = len(names)
    sha256 = _hex(rng, files, 32)
    sha1 = _hex(rng, files, 20)
    md5 = _hex(rng, files, 16)
    crc = _hex(rng, files, 4)
    sizes = rng.integers(0, 1 << 26, size=files).tolist()
    rows = sorted(
        (sha256[at], sha1[at], md5[at], crc[at], names[at], sizes[at], product)
        for at, product in zip(owner.tolist(), products.tolist(), strict=True)
    )
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.executescript(MINIMAL_SCHEMA)
        # Rows in primary-key order: the key's index then grows at its end only.
        connection.executemany("INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        connection.executemany(
            "INSERT INTO PKG VALUES (?, ?, ?, 189, 1, 'English', '')",
            [
                (code, f"Synthetic Product {code}", f"{code % 13}.{code % 7}")
                for code in range(FIRST_PRODUCT, FIRST_PRODUCT + PRODUCTS)
            ],
        )
        connection.execute(
            "INSERT INTO VERSION VALUES ('2099.01.1', 'modern minimal', '2099-01-01', "
            "'2099-01-01', 'synthetic')"
        )
        connection.commit()
    finally:
        connection.close()


def _read(adapter: type[FormatAdapter], path: Path) -> int:
    """Every record ``adapter`` yields from ``path`` (a clean file); the count."""
    context = ReadContext(source=path.name, batch_size=262_144, path=path)
    rows = 0
    with open(path, "rb") as raw:
        for batch in adapter().read(io.BufferedReader(raw, buffer_size=1 << 20), context):
            rows += batch.num_rows
    if context.warning_count:
        raise AssertionError(f"{adapter.NAME}: {context.warning_count} warnings on a clean file")
    return rows


def _pyarrow_csv(path: Path) -> int:
    """``pyarrow.csv.read_csv`` of the whole text file (no product names, no checks)."""
    import pyarrow.csv

    options = pyarrow.csv.ReadOptions(encoding="cp1252", block_size=1 << 22)
    return int(pyarrow.csv.read_csv(path, read_options=options).num_rows)


def _sqlite_fetch(path: Path) -> int:
    """A bare ``sqlite3`` ``fetchmany`` loop over the columns the adapter reads."""
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        cursor = connection.execute(
            "SELECT sha256, sha1, md5, file_size, package_id, file_name FROM FILE"
        )
        rows = 0
        while batch := cursor.fetchmany(65_536):
            rows += len(batch)
        return rows
    finally:
        connection.close()


def _timed(repeats: int, run: Callable[[], int]) -> tuple[int, list[float]]:
    seconds = []
    count = 0
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        count = run()
        seconds.append(time.perf_counter() - started)
    return count, seconds


def _rate(count: int, seconds: list[float]) -> int:
    return round(count / statistics.median(seconds))


def main(argv: list[str] | None = None) -> int:
    """Write both synthetic lists, time the adapters and the baselines, print JSON."""
    from _machine import machine
    from hashmatch_adapters.nsrl import NsrlRdsAdapter
    from hashmatch_adapters.rdsv3 import Rdsv3Adapter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, object] = {
        "benchmark": "nsrl-ingest",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "rows": args.rows,
        "seed": args.seed,
    }
    with tempfile.TemporaryDirectory(prefix="hashmatch-nsrl-") as folder:
        text = Path(folder) / "NSRLFile.txt"
        write_synthetic(text, args.rows, args.seed)
        count, adapter_s = _timed(args.repeats, lambda: _read(NsrlRdsAdapter, text))
        baseline, csv_s = _timed(args.repeats, lambda: _pyarrow_csv(text))
        if count != args.rows or baseline != args.rows:
            raise AssertionError(f"nsrl: {count} records, {baseline} csv rows of {args.rows}")
        results["nsrl"] = {
            "adapter_records_per_second": _rate(count, adapter_s),
            "pyarrow_csv_rows_per_second": _rate(count, csv_s),
            "adapter_seconds": [round(s, 3) for s in adapter_s],
            "pyarrow_csv_seconds": [round(s, 3) for s in csv_s],
        }
        database = Path(folder) / "RDS_synthetic_minimal.db"
        write_synthetic_rdsv3(database, args.rows, args.seed)
        count, adapter_s = _timed(args.repeats, lambda: _read(Rdsv3Adapter, database))
        baseline, fetch_s = _timed(args.repeats, lambda: _sqlite_fetch(database))
        if count != args.rows or baseline != args.rows:
            raise AssertionError(f"rdsv3: {count} records, {baseline} fetched of {args.rows}")
        results["nsrl-rdsv3"] = {
            "adapter_records_per_second": _rate(count, adapter_s),
            "sqlite3_fetchmany_rows_per_second": _rate(count, fetch_s),
            "adapter_seconds": [round(s, 3) for s in adapter_s],
            "sqlite3_fetchmany_seconds": [round(s, 3) for s in fetch_s],
        }
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
