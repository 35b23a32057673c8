"""Lookup against the peers: hashmatch beside a Python set, SQLite, DuckDB, hfind and hashdeep.

Seeded and synthetic. The parent process draws ``--entries`` random 16-byte keys (MD5
width) and ``--repeats`` batches of ``--queries`` random digests of which ``--hit-rate``
are keys, once, into ``.npy`` files; then every engine runs in a child process of its own
(``peers.py --child ENGINE --work DIR``), on the same keys and the same queries, under a
memory cap (``RLIMIT_AS``, 85 % of the RAM by default, inherited by the tools it starts)
and a time limit per engine (``--timeout``). An engine that is not installed, runs out
of time or memory, or fails becomes a ``status`` in the report; it never stops the run.

    python benchmarks/peers.py                        # 10 M entries, 1 M-digest batches
    python benchmarks/peers.py --entries 100000000    # the DESIGN.md scale
    python benchmarks/peers.py --entries 1000000 --engines hashmatch,python-set,sqlite

The engines, and how fair each comparison is:

* ``hashmatch``: the snapshot is built through the path an ingest uses (entries Parquet ->
  ``SnapshotStore.build`` -> ``Snapshot.open``); batch lookups on 1 and ``--threads``
  threads (``lookups_per_second`` is the better), and ``--single`` single lookups.
* ``python-set`` (the baseline): a ``set`` of 16-byte ``bytes``. It has nothing on disk,
  so its load is its build from the keys' ``.npy``; the batches are turned into lists of
  ``bytes`` before the clock starts, so only the membership tests are timed.
* ``sqlite``: the standard library's ``sqlite3``, a file database holding
  ``known(k BLOB PRIMARY KEY) WITHOUT ROWID`` (a B-tree), filled in key order in one
  transaction; a batch is loaded into a TEMP table and joined (``count(*)``), the load
  included in the time. A general database, with its default settings.
* ``duckdb``: a file database whose table is made from an Arrow table of BLOBs; a batch
  is an Arrow table registered and joined. A hash join: every batch scans the whole table,
  on all cores. A general (analytical) database, with its default settings.
* ``hfind`` (The Sleuth Kit): the list as an md5sum text file, indexed with
  ``hfind -i md5sum``; a batch is ``hfind -f QUERIES LIST``, one binary search over the
  sorted text index on disk per query, answered through the OS page cache. It is slow,
  so it gets the first ``--slow-queries`` digests of each batch (``queries_used``).
* ``hashdeep``: it matches files, not digests, so its workload is a tree of ``--files``
  files of 64 random bytes written by the benchmark; the MD5s of ``--hit-rate`` of them
  are planted among the keys (for every engine), so ``hashdeep -c md5 -m -k KNOWN -r
  TREE`` has hits. It has no index: every run parses the known file (its
  ``load_seconds``, a run on an empty folder); its rate is files/s with that load taken
  off (median of the differences of paired runs), and includes hashing the files (on all
  cores); ``hash_only_files_per_second`` is the same tree hashed with no known list. The
  load is long and noisy next to 20,000 small files (already at 1 M keys): when the
  tree's cost is within the loads' spread, ``rate_reliable`` is false and the rate is left
  out of the ratios; raise ``--files`` for a steadier rate. Negative matching (``-x``)
  loads and looks up the same way, so it costs the same; only ``-m`` is measured.

Figures per engine: ``build_seconds`` (making its index or database from the keys; for
hashmatch and hfind, from their list file, whose writing is ``list_write_seconds``),
``load_seconds`` (from what is on disk to the first answer, warm page cache),
``lookups_per_second`` (median over the batches; for hfind and hashdeep without the
process's load), ``hits`` against ``expected_hits`` (``agrees``), ``bytes_per_entry_memory``
(resident memory the engine added by its load and first answer; hashmatch's mapped arrays
are read through once after the load so that they count in full; for hfind and hashdeep,
the tool's peak over the same tool's on a one-line list; files the engine reads through
the OS page cache do not count; what a 1 M-digest batch adds on top, working memory that
does not grow with the list, is ``rss_growth_after_lookups_mib``), ``bytes_per_entry_disk``
(what it keeps on disk to answer), ``status`` (ok, missing, timeout, out_of_memory,
failed) with ``detail``, ``child_peak_rss_gib`` (the child process's high-water mark) and,
for hfind and hashdeep, ``tool_peak_rss_mib`` (the tool's). ``ratios``
divide each engine's lookup rate and memory by the Python set's, measured in the same run.
The host may be noisy: compare the ratios rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from _machine import machine
from lookup import rss_bytes, write_entries

WIDTH = 16
ENGINES = ("hashmatch", "python-set", "sqlite", "duckdb", "hfind", "hashdeep")
BASELINE = "python-set"
FILE_BYTES = 64
CHUNK = 4_000_000
TEXT_CHUNK = 1_000_000
# hashdeep's exit status is a bit mask: 1 = known hashes unused, 2 = inputs unmatched.
HASHDEEP_OK = {0, 1, 2, 3}
MEMORY_WORDS = ("out of memory", "memoryerror", "bad_alloc", "cannot allocate memory")


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data: drawn once by the parent, read by every child ------------------------------------


def draw_queries(
    rng: np.random.Generator, keys: np.ndarray[Any, Any], size: int, hit_rate: float
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """A batch of random digests of which ``hit_rate`` are keys, and where those are."""
    batch = rng.integers(0, 256, size=(size, WIDTH), dtype=np.uint8)
    hits = min(int(size * hit_rate), len(keys))
    where = np.sort(rng.choice(size, hits, replace=False))
    batch[where] = keys.take(rng.choice(len(keys), hits, replace=False), axis=0)
    return batch, where


def prepare(params: dict[str, Any], data: Path) -> None:
    """Keys, query batches, hit positions and the hashdeep tree's contents, as ``.npy``."""
    rng = np.random.default_rng(params["seed"])
    n = params["entries"]
    keys = rng.integers(0, 256, size=(n, WIDTH), dtype=np.uint8)
    # hashdeep's files: their MD5s for a share of them are planted among the keys, so the
    # key set is the same for every engine whichever engines run.
    files = rng.integers(0, 256, size=(params["files"], FILE_BYTES), dtype=np.uint8)
    planted = np.sort(rng.choice(len(files), params["planted"], replace=False))
    digests = [hashlib.md5(files[i].tobytes()).digest() for i in planted.tolist()]
    at = rng.choice(n, len(digests), replace=False)
    if digests:
        keys[at] = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, WIDTH)
    np.save(data / "keys.npy", keys)
    np.save(data / "files.npy", files)
    np.save(data / "planted.npy", planted)
    for r in range(params["repeats"]):
        batch, where = draw_queries(rng, keys, params["queries"], params["hit_rate"])
        np.save(data / f"queries-{r}.npy", batch)
        np.save(data / f"hits-{r}.npy", where)


def load_batches(work: Path, params: dict[str, Any]) -> list[np.ndarray[Any, Any]]:
    return [np.load(work / "data" / f"queries-{r}.npy") for r in range(params["repeats"])]


def expected_hits(work: Path, params: dict[str, Any], used: int) -> list[int]:
    """Keys among the first ``used`` digests of each batch, from how they were drawn."""
    return [
        int((np.load(work / "data" / f"hits-{r}.npy") < used).sum())
        for r in range(params["repeats"])
    ]


def hex_rows(rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """(n, 16) bytes -> (n, 32) lowercase hex characters (``bytes.hex`` does it in C)."""
    text = np.ascontiguousarray(rows).tobytes().hex().encode("ascii")
    return np.frombuffer(text, dtype=np.uint8).reshape(len(rows), 2 * WIDTH)


def write_lines(
    handle: Any, keys: np.ndarray[Any, Any], *, prefix: bytes = b"", middle: bytes | None = None
) -> None:
    """One line per key, ``<prefix><hex><middle><i>`` (no name when ``middle`` is None).

    Whole chunks are laid out in a byte matrix (one width per count of digits of ``i``)
    and written at once, not a Python loop per line.
    """
    for start in range(0, len(keys), TEXT_CHUNK):
        chunk = keys[start : start + TEXT_CHUNK]
        hexed = hex_rows(chunk)
        if middle is None:
            out = np.empty((len(chunk), len(prefix) + 2 * WIDTH + 1), dtype=np.uint8)
            out[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
            out[:, len(prefix) : -1] = hexed
            out[:, -1] = ord("\n")
            handle.write(out.tobytes())
            continue
        stop = start + len(chunk)
        low = start
        while low < stop:
            digits = len(str(low))
            high = min(stop, 10**digits)
            numbers = np.arange(low, high, dtype=np.int32 if high < 2**31 else np.int64)
            head = len(prefix) + 2 * WIDTH + len(middle)
            out = np.empty((high - low, head + digits + 1), dtype=np.uint8)
            out[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
            out[:, len(prefix) : len(prefix) + 2 * WIDTH] = hexed[low - start : high - start]
            out[:, len(prefix) + 2 * WIDTH : head] = np.frombuffer(middle, dtype=np.uint8)
            powers = 10 ** np.arange(digits - 1, -1, -1, dtype=numbers.dtype)
            out[:, head:-1] = (numbers[:, None] // powers) % 10 + ord("0")
            out[:, -1] = ord("\n")
            handle.write(out.tobytes())
            low = high


# -- measuring helpers -----------------------------------------------------------------------


class Missing(Exception):
    """The engine's tool is not installed."""


class ToolFailed(Exception):
    """An external tool exited badly."""


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def size_of(*paths: Path) -> int:
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        elif path.exists():
            total += path.stat().st_size
    return total


def peak_rss(pid: int | str = "self") -> int:
    """The high-water mark of a process's resident memory since its last exec (VmHWM).

    Not ``ru_maxrss``: on Linux that carries over the forking parent's high-water mark
    into the exec'd child, so a small tool started from a large Python process would
    report the Python process's size.
    """
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def run_tool(
    command: list[str], *, out: Path, ok: set[int] | None = None, cwd: Path | None = None
) -> tuple[float, int]:
    """Run a tool to completion: (wall seconds, its peak resident bytes).

    A thread polls the tool's VmHWM (a high-water mark, so only growth in the last few
    milliseconds before it exits can be missed) every millisecond for the first tenth of a
    second, then every 10 ms, while this one waits.
    """
    env = {**os.environ, "TMPDIR": str(out.parent), "LC_ALL": "C"}
    errors = out.with_suffix(".stderr")
    peak = [0]
    done = threading.Event()

    def poll(pid: int) -> None:
        polls = 0
        while not done.is_set():
            with contextlib.suppress(OSError, ValueError):
                peak[0] = max(peak[0], peak_rss(pid))
            polls += 1
            done.wait(0.001 if polls < 100 else 0.01)

    with open(out, "wb") as stdout, open(errors, "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=cwd, env=env)
        poller = threading.Thread(target=poll, args=(process.pid,), daemon=True)
        poller.start()
        _, status, _ = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        poller.join()
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    said = errors.read_text(errors="replace")
    if code not in (ok or {0}) or any(word in said.lower() for word in MEMORY_WORDS):
        # hashdeep, out of memory, says so and carries on with the hashes it has read.
        raise ToolFailed(f"{Path(command[0]).name} exited {code}: {said[-400:].strip()}")
    return seconds, peak[0]


class Child:
    """One engine's figures, saved after every step so a crash or timeout keeps them."""

    def __init__(self, engine: str, work: Path) -> None:
        self.engine = engine
        self.work = work
        self.params: dict[str, Any] = json.loads((work / "params.json").read_text())
        self.dir = work / engine
        self.dir.mkdir(exist_ok=True)
        self.result: dict[str, Any] = {"status": "running", "entries": self.params["entries"]}
        self.path = work / "results" / f"{engine}.json"

    def set(self, **figures: Any) -> None:
        self.result.update(figures)
        self.path.write_text(json.dumps(self.result, indent=1))

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        log(f"{self.engine}: {name.removesuffix('_seconds').replace('_', ' ')} ...")
        started = time.perf_counter()
        yield
        self.set(**{name: round(time.perf_counter() - started, 4)})

    def per_entry(self, nbytes: float) -> float:
        return round(max(0.0, nbytes) / self.params["entries"], 2)

    def check_hits(self, hits: list[int], expected: list[int]) -> None:
        self.set(
            hits=hits[0],
            expected_hits=expected[0],
            hits_per_batch=hits,
            agrees=hits == expected and self.result.get("agrees", True),
        )
        if hits != expected:
            log(f"{self.engine}: hits {hits} disagree with the expected {expected}")

    def lookups(self, lookup: Callable[[int], int], used: int) -> list[float]:
        """Time ``lookup(batch)`` over every batch; record rate inputs and hits."""
        times, hits = [], []
        for r in range(self.params["repeats"]):
            started = time.perf_counter()
            hits.append(lookup(r))
            times.append(time.perf_counter() - started)
        self.check_hits(hits, expected_hits(self.work, self.params, used))
        self.set(queries_used=used, batch_seconds=[round(t, 4) for t in times])
        return times

    def memory(self, before: int, after_load: int) -> None:
        gc.collect()
        after_lookups = rss_bytes()
        self.set(
            rss_growth_after_load_mib=round((after_load - before) / 2**20, 1),
            rss_growth_after_lookups_mib=round((after_lookups - before) / 2**20, 1),
            bytes_per_entry_memory=self.per_entry(after_load - before),
        )


# -- the engines (each runs in its own child process) -----------------------------------------


def run_hashmatch(c: Child) -> None:
    from hashmatch.digests import Algorithm
    from hashmatch.index import ChainLink, Snapshot, SnapshotList, SnapshotSource, SnapshotStore
    from hashmatch.model import Purpose

    p = c.params
    c.set(
        notes="snapshot built via entries Parquet -> SnapshotStore.build -> Snapshot.open; "
        "build_seconds is SnapshotStore.build, list_write_seconds the Parquet; memory counts "
        "the whole mapped index, read through once after the load"
    )
    keys = np.load(c.work / "data" / "keys.npy")
    entries = c.dir / "entries.parquet"
    with c.timed("list_write_seconds"):
        write_entries(entries, keys)
    del keys
    gc.collect()
    store = SnapshotStore(c.dir / "snapshots")
    source = SnapshotSource(
        list=SnapshotList(
            slot=0,
            name="peers",
            version=1,
            version_id="peers-v1",
            purpose=Purpose.CONCERN,
            source_name="synthetic",
            source_sha256="0" * 64,
            loaded_at=datetime.now(UTC),
            entries=p["entries"],
        ),
        chain=(ChainLink(path=entries),),
    )
    with c.timed("build_seconds"):
        snapshot_id = store.build([source])
    store.publish(snapshot_id)
    c.set(
        bytes_per_entry_disk=c.per_entry(size_of(store.root / snapshot_id)),
        entries_parquet_bytes_per_entry=c.per_entry(size_of(entries)),
    )
    batches = load_batches(c.work, p)
    singles = [bytes(row) for row in batches[0][: p["single"]]]
    gc.collect()
    before = rss_bytes()
    with c.timed("load_seconds"):
        snapshot = Snapshot.open(store.root / snapshot_id, threads=1)
        snapshot.index.lookup(Algorithm.MD5, singles[0])
    index = snapshot.index
    table = index.tables()[Algorithm.MD5]
    assert table is not None
    for array in (table.padded_hi, table.rest, table.values, table.directory):
        flat = np.asarray(array).reshape(-1).view(np.uint8)
        int(flat[:: os.sysconf("SC_PAGE_SIZE")].sum())  # fault every page in
    after_load = rss_bytes()
    c.set(index_bytes_per_entry=c.per_entry(table.nbytes))
    best = 0.0
    for threads in sorted({1, p["threads"]}):
        index.threads = threads
        times = c.lookups(
            lambda r: int((index.lookup_batch(Algorithm.MD5, batches[r]) >= 0).sum()),
            p["queries"],
        )
        rate = p["queries"] / median(times)
        best = max(best, rate)
        suffix = "thread" if threads == 1 else "threads"
        c.set(**{f"batch_lookups_per_second_{threads}_{suffix}": round(rate)})
    c.set(
        lookups_per_second=round(best),
        lookups_per_second_1_thread=c.result["batch_lookups_per_second_1_thread"],
    )
    times = []
    for _ in range(3):
        started = time.perf_counter()
        for digest in singles:
            index.lookup(Algorithm.MD5, digest)
        times.append(time.perf_counter() - started)
    c.set(single_lookups_per_second=round(len(singles) / median(times)))
    c.memory(before, after_load)


def run_python_set(c: Child) -> None:
    p = c.params
    c.set(
        notes="nothing on disk: load_seconds and build_seconds are both its build from the "
        "keys .npy (np.load + set of 16-byte bytes); batches are converted to lists of bytes "
        "before timing",
        bytes_per_entry_disk=None,
    )
    listed = [list(map(bytes, batch)) for batch in load_batches(c.work, p)]
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    log("python-set: build from the keys .npy ...")
    keys = np.load(c.work / "data" / "keys.npy", mmap_mode="r")
    table = set(map(bytes, keys))
    _ = listed[0][0] in table
    seconds = round(time.perf_counter() - started, 4)
    del keys
    gc.collect()
    after_load = rss_bytes()
    c.set(build_seconds=seconds, load_seconds=seconds)
    times = c.lookups(lambda r: sum(1 for d in listed[r] if d in table), p["queries"])
    c.set(lookups_per_second=round(p["queries"] / median(times)))
    c.memory(before, after_load)


def sorted_keys(keys: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    words = keys.view(">u8")
    order = np.lexsort((words[:, 1], words[:, 0]))
    return keys.take(order, axis=0)


def run_sqlite(c: Child) -> None:
    p = c.params
    path = c.dir / "known.sqlite"
    c.set(
        notes="sqlite3 defaults; WITHOUT ROWID B-tree on the key; a batch = insert into a TEMP "
        "table + SELECT count(*) FROM q JOIN known USING(k), both timed; reads the file "
        "through the OS page cache (not counted in memory)",
        sqlite_version=sqlite3.sqlite_version,
    )
    keys = np.load(c.work / "data" / "keys.npy")
    with c.timed("build_seconds"):
        ordered = sorted_keys(keys)
        del keys
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE known(k BLOB PRIMARY KEY) WITHOUT ROWID")
        with con:
            for start in range(0, len(ordered), 1_000_000):
                data = ordered[start : start + 1_000_000].tobytes()
                con.executemany(
                    "INSERT INTO known VALUES (?)",
                    [(data[i : i + WIDTH],) for i in range(0, len(data), WIDTH)],
                )
        con.close()
    del ordered
    c.set(bytes_per_entry_disk=c.per_entry(size_of(path)))
    rows = [[(bytes(row),) for row in batch] for batch in load_batches(c.work, p)]
    gc.collect()
    before = rss_bytes()
    with c.timed("load_seconds"):
        con = sqlite3.connect(path)
        con.execute("SELECT 1 FROM known WHERE k = ?", rows[0][0]).fetchall()
    after_load = rss_bytes()

    def lookup(r: int) -> int:
        con.execute("CREATE TEMP TABLE q(k BLOB)")
        con.executemany("INSERT INTO q VALUES (?)", rows[r])
        (hits,) = con.execute("SELECT count(*) FROM q JOIN known USING(k)").fetchone()
        con.execute("DROP TABLE q")
        return int(hits)

    times = c.lookups(lookup, p["queries"])
    c.set(lookups_per_second=round(p["queries"] / median(times)))
    c.memory(before, after_load)
    con.close()


def binary_table(rows: np.ndarray[Any, Any]) -> pa.Table:
    """An Arrow table with one BLOB column ``k`` (variable-width binary, as DuckDB reads)."""
    chunks = []
    for start in range(0, len(rows), CHUNK):
        part = np.ascontiguousarray(rows[start : start + CHUNK])
        offsets = np.arange(0, (len(part) + 1) * WIDTH, WIDTH, dtype=np.int32)
        chunks.append(
            pa.Array.from_buffers(
                pa.binary(), len(part), [None, pa.py_buffer(offsets), pa.py_buffer(part)]
            )
        )
    return pa.table({"k": pa.chunked_array(chunks, type=pa.binary())})


def run_duckdb(c: Child) -> None:
    try:
        import duckdb
    except ImportError as exc:
        raise Missing("the duckdb module is not installed") from exc
    p = c.params
    path = c.dir / "known.duckdb"
    c.set(
        notes="duckdb defaults (all cores); table from an Arrow table of BLOBs, no index; a "
        "batch = a registered Arrow table joined to it (a hash join scanning the table)",
        duckdb_version=duckdb.__version__,
    )
    keys = np.load(c.work / "data" / "keys.npy")
    with c.timed("build_seconds"):
        source = binary_table(keys)
        con = duckdb.connect(str(path))
        con.register("source", source)
        con.execute("CREATE TABLE known AS SELECT k FROM source")
        con.unregister("source")
        con.execute("CHECKPOINT")
        con.close()
    del keys, source
    gc.collect()
    c.set(bytes_per_entry_disk=c.per_entry(size_of(path, path.with_suffix(".duckdb.wal"))))
    batches = load_batches(c.work, p)
    tables = [binary_table(batch) for batch in batches]
    first = bytes(batches[0][0])
    del batches
    gc.collect()
    before = rss_bytes()
    with c.timed("load_seconds"):
        con = duckdb.connect(str(path))
        con.execute("SELECT count(*) FROM known WHERE k = ?", [first]).fetchall()
    after_load = rss_bytes()
    c.set(threads=int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))

    def lookup(r: int) -> int:
        con.register("q", tables[r])
        ((hits,),) = con.execute("SELECT count(*) FROM q JOIN known USING(k)").fetchall()
        con.unregister("q")
        return int(hits)

    times = c.lookups(lookup, p["queries"])
    c.set(lookups_per_second=round(p["queries"] / median(times)))
    c.memory(before, after_load)
    con.close()


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Missing(
            f"{name} is not installed (Debian: apt-get install "
            f"{'sleuthkit' if name == 'hfind' else 'hashdeep'})"
        )
    return path


def run_hfind(c: Child) -> None:
    hfind = tool("hfind")
    p = c.params
    used = min(p["slow_queries"], p["queries"])
    listing = c.dir / "known.md5"
    c.set(
        notes="md5sum text list indexed by hfind -i md5sum (a sorted text index on disk, "
        "binary-searched per query through the OS page cache); a batch = one "
        "`hfind -f QUERIES LIST` process, rate without the process's load; memory = its "
        "peak RSS over hfind's on a one-line list",
        queries_used=used,
    )
    keys = np.load(c.work / "data" / "keys.npy")
    with c.timed("list_write_seconds"), open(listing, "wb") as handle:
        write_lines(handle, keys, middle=b"  synthetic-")
    with c.timed("build_seconds"):
        run_tool([hfind, "-i", "md5sum", str(listing)], out=c.dir / "index.out")
    tiny = c.dir / "tiny.md5"
    with open(tiny, "wb") as handle:
        write_lines(handle, keys[:1], middle=b"  synthetic-")
    del keys
    run_tool([hfind, "-i", "md5sum", str(tiny)], out=c.dir / "tiny-index.out")
    c.set(bytes_per_entry_disk=c.per_entry(size_of(*c.dir.glob("known.md5*"))))
    batches = load_batches(c.work, p)
    files = []
    for r, batch in enumerate(batches):
        files.append(c.dir / f"queries-{r}.txt")
        with open(files[-1], "wb") as handle:
            write_lines(handle, batch[:used])
    one = bytes(batches[0][0]).hex()
    del batches
    loads = [run_tool([hfind, str(listing), one], out=c.dir / "one.out") for _ in range(3)]
    load = median([seconds for seconds, _ in loads])
    base_peak = max(
        run_tool([hfind, "-f", str(files[0]), str(tiny)], out=c.dir / "tiny.out")[1]
        for _ in range(3)
    )
    c.set(load_seconds=round(load, 4))
    peaks = []

    def lookup(r: int) -> int:
        out = c.dir / f"found-{r}.out"
        _, peak = run_tool([hfind, "-f", str(files[r]), str(listing)], out=out)
        peaks.append(peak)
        found = set()
        for line in out.read_bytes().splitlines():
            digest, _, name = line.partition(b"\t")
            if name.strip() and name.strip() != b"Hash Not Found":
                found.add(digest.lower())
        return len(found)

    times = c.lookups(lookup, used)
    c.set(
        lookups_per_second=round(used / max(median(times) - load, 1e-6)),
        bytes_per_entry_memory=c.per_entry(max(peaks) - base_peak),
        tool_peak_rss_mib=round(max(peaks) / 2**20, 1),
    )


def run_hashdeep(c: Child) -> None:
    hashdeep = tool("hashdeep")
    p = c.params
    files = np.load(c.work / "data" / "files.npy")
    tree, empty = c.dir / "tree", c.dir / "empty"
    empty.mkdir(exist_ok=True)
    for i, content in enumerate(files):
        folder = tree / f"{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{i:07d}.bin").write_bytes(content.tobytes())
    c.set(
        notes="matches files, not digests: the workload is a tree of small files (hashed on "
        "all cores) with planted hits; no index, the known file is parsed on every run "
        "(load_seconds = a run on an empty folder, build_seconds = writing the known file); "
        "rate = files/s without that load (at large lists the load's noise can swamp the "
        "tree's cost: see hash_only_files_per_second, or raise --files); -x (negative "
        "matching) costs the same; memory = peak RSS loading the list over hashdeep's on a "
        "one-line list",
        files=len(files),
        queries_used=len(files),
    )
    known = c.dir / "known.hashdeep"
    header = (
        b"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
        b"## Invoked from: /synthetic\n## $ benchmarks/peers.py (synthetic list)\n##\n"
    )
    keys = np.load(c.work / "data" / "keys.npy")
    with c.timed("list_write_seconds"), open(known, "wb") as handle:
        handle.write(header)
        write_lines(handle, keys, prefix=b"%d," % FILE_BYTES, middle=b",synthetic-")
    tiny = c.dir / "tiny.hashdeep"
    with open(tiny, "wb") as handle:
        handle.write(header)
        write_lines(handle, keys[:1], prefix=b"%d," % FILE_BYTES, middle=b",synthetic-")
    del keys
    c.set(
        build_seconds=c.result["list_write_seconds"],
        bytes_per_entry_disk=c.per_entry(size_of(known)),
    )

    def match(known_file: Path, folder: Path, out: Path) -> tuple[float, int]:
        command = [hashdeep, "-c", "md5", "-m", "-k", str(known_file), "-r", str(folder)]
        return run_tool(command, out=out, ok=HASHDEEP_OK)

    base_peak = max(match(tiny, empty, c.dir / "tiny.out")[1] for _ in range(3))
    # Each round: a run on the empty folder (the load), then one on the tree; the rate is
    # the tree's files over the median difference of the pairs.
    loads, trees, hits, peaks = [], [], [], []
    for r in range(p["repeats"]):
        log(f"hashdeep: round {r + 1}: load (a run on an empty folder), then the tree ...")
        seconds, peak = match(known, empty, c.dir / "empty.out")
        loads.append(seconds)
        peaks.append(peak)
        out = c.dir / f"found-{r}.out"
        trees.append(match(known, tree, out)[0])
        hits.append(sum(1 for line in out.read_bytes().splitlines() if line.strip()))
        c.set(load_seconds=round(median(loads), 4), tree_seconds=[round(t, 4) for t in trees])
    c.check_hits(hits, [p["planted"]] * p["repeats"])
    lookup = median([t - load for t, load in zip(trees, loads, strict=True)])
    spread = max(loads) - min(loads)
    c.set(
        load_seconds_each=[round(t, 4) for t in loads],
        lookup_seconds=round(lookup, 4),
        lookups_per_second=round(len(files) / lookup) if lookup > 0 else None,
        # The rate is a small difference of two large times: trust it only when the tree's
        # cost stands out of the load's own run-to-run spread.
        rate_reliable=bool(lookup > 0 and lookup > spread),
        bytes_per_entry_memory=c.per_entry(max(peaks) - base_peak),
        tool_peak_rss_mib=round(max(peaks) / 2**20, 1),
    )
    if not c.result["rate_reliable"]:
        c.set(
            rate_note=f"the tree's cost ({lookup:.3f} s) is within the load's run-to-run "
            f"spread ({spread:.3f} s): the rate is noise (left out of the ratios); see "
            "hash_only_files_per_second, or raise --files"
        )
    # What hashing the tree costs hashdeep without a known list, for scale: at large lists
    # the load's run-to-run noise can exceed the tree's whole cost.
    seconds, _ = run_tool([hashdeep, "-c", "md5", "-r", str(tree)], out=c.dir / "hash.out")
    c.set(
        hash_only_seconds=round(seconds, 4), hash_only_files_per_second=round(len(files) / seconds)
    )


RUNNERS: dict[str, Callable[[Child], None]] = {
    "hashmatch": run_hashmatch,
    "python-set": run_python_set,
    "sqlite": run_sqlite,
    "duckdb": run_duckdb,
    "hfind": run_hfind,
    "hashdeep": run_hashdeep,
}


def is_memory_error(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or any(w in str(exc).lower() for w in MEMORY_WORDS)


def child_main(engine: str, work: Path) -> int:
    c = Child(engine, work)
    try:
        RUNNERS[engine](c)
    except Missing as exc:
        c.set(status="missing", detail=str(exc))
    except BaseException as exc:
        status = "out_of_memory" if is_memory_error(exc) else "failed"
        c.set(status=status, detail=f"{type(exc).__name__}: {exc}"[:1000])
    else:
        c.set(status="ok")
    finally:
        c.set(child_peak_rss_gib=round(peak_rss() / 2**30, 3))
    return 0


# -- the parent: one child per engine, each under a time limit and a memory cap -----------------


def run_child(engine: str, work: Path, timeout: float, cap: int) -> dict[str, Any]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    command = [sys.executable, str(Path(__file__).resolve()), "--child", engine]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--work", str(work)],
        stdout=sys.stderr,
        preexec_fn=limit,  # noqa: PLW1509 - the parent starts no threads
        start_new_session=True,
    )
    timed_out = False
    try:
        while True:
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                _, status, _ = os.wait4(process.pid, 0)
                break
            time.sleep(0.1)
    except BaseException:
        # Interrupted: the child is in a session of its own, so it would not hear of it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    path = work / "results" / f"{engine}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if timed_out:
        result.update(status="timeout", detail=f"stopped after the {timeout:g} s limit")
    elif code < 0:
        name = signal.Signals(-code).name
        result.update(
            status="out_of_memory" if -code == signal.SIGKILL else "failed",
            detail=f"the child was killed by {name}"
            + (" (the kernel's OOM killer, most likely)" if -code == signal.SIGKILL else ""),
        )
    elif code != 0 or result.get("status") in (None, "running"):
        result.update(status="failed", detail=result.get("detail") or f"the child exited {code}")
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def ratios(engines: dict[str, dict[str, Any]]) -> dict[str, float]:
    base = engines.get(BASELINE, {})
    out: dict[str, float] = {}
    if base.get("status") != "ok":
        return out
    for name, figures in engines.items():
        if name == BASELINE or figures.get("status") != "ok":
            continue
        reliable = figures.get("rate_reliable", True)
        if reliable and figures.get("lookups_per_second") and base.get("lookups_per_second"):
            rate = figures["lookups_per_second"] / base["lookups_per_second"]
            out[f"{name}_lookups_vs_python_set"] = round(rate, 3)
        if figures.get("lookups_per_second_1_thread") and base.get("lookups_per_second"):
            rate = figures["lookups_per_second_1_thread"] / base["lookups_per_second"]
            out[f"{name}_1_thread_lookups_vs_python_set"] = round(rate, 3)
        if figures.get("bytes_per_entry_memory") is not None and base.get("bytes_per_entry_memory"):
            memory = figures["bytes_per_entry_memory"] / base["bytes_per_entry_memory"]
            out[f"{name}_memory_vs_python_set"] = round(memory, 4)
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    add = parser.add_argument
    add("--entries", type=int, default=10_000_000, help="keys in the list (default 10 M)")
    add("--queries", type=int, default=1_000_000, help="digests per batch (default 1 M)")
    add("--hit-rate", type=float, default=0.01, help="share of queries that are keys")
    add("--seed", type=int, default=1)
    add("--repeats", type=int, default=3, help="batches timed per engine")
    add("--engines", default=",".join(ENGINES), help="comma list (default: all)")
    add("--threads", type=int, default=2, help="hashmatch's batch threads, besides 1")
    add("--single", type=int, default=200_000, help="hashmatch single lookups timed")
    add("--slow-queries", type=int, default=100_000, help="digests per batch given to hfind")
    add("--files", type=int, default=20_000, help="files in hashdeep's tree")
    add("--timeout", type=float, default=1800, help="seconds per engine (default 1800)")
    add(
        "--memory-cap-gib",
        type=float,
        default=round(0.85 * memory / 2**30, 1),
        help="address-space cap per engine (default 85 %% of the RAM)",
    )
    add("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    add("--keep", action="store_true", help="keep the work folder's files")
    add("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engines {unknown}; choose among {', '.join(ENGINES)}")
    args.engine_list = engines
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        return child_main(args.child, args.work)
    wall = time.perf_counter()
    made = args.work is None
    work = Path(tempfile.mkdtemp(prefix="hashmatch-peers-")) if made else args.work
    work.mkdir(parents=True, exist_ok=True)
    params = {
        "entries": args.entries,
        "queries": args.queries,
        "hit_rate": args.hit_rate,
        "seed": args.seed,
        "repeats": args.repeats,
        "engines": args.engine_list,
        "threads": args.threads,
        "single": min(args.single, args.queries),
        "slow_queries": min(args.slow_queries, args.queries),
        "files": args.files,
        "file_bytes": FILE_BYTES,
        "planted": min(round(args.files * args.hit_rate), args.entries),
        "timeout": args.timeout,
        "memory_cap_gib": args.memory_cap_gib,
    }
    try:
        (work / "data").mkdir(exist_ok=True)
        (work / "results").mkdir(exist_ok=True)
        (work / "params.json").write_text(json.dumps(params))
        log(f"drawing {args.entries:,} keys and {args.repeats} x {args.queries:,} queries")
        started = time.perf_counter()
        prepare(params, work / "data")
        prepare_seconds = time.perf_counter() - started
        gc.collect()
        engines: dict[str, dict[str, Any]] = {}
        for engine in args.engine_list:
            log(f"{engine}: starting")
            cap = int(args.memory_cap_gib * 2**30)
            engines[engine] = run_child(engine, work, args.timeout, cap)
            log(f"{engine}: {engines[engine]['status']} in {engines[engine]['wall_seconds']} s")
            if not args.keep:
                shutil.rmtree(work / engine, ignore_errors=True)
    finally:
        if not args.keep:
            if made:
                shutil.rmtree(work, ignore_errors=True)
            else:
                for name in ("data", "results", "params.json", *ENGINES):
                    target = work / name
                    if target.is_dir():
                        shutil.rmtree(target, ignore_errors=True)
                    else:
                        target.unlink(missing_ok=True)
    report = {
        "benchmark": "peers",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": params,
        "engines": engines,
        "ratios": ratios(engines),
        "baseline": BASELINE,
        "prepare_seconds": round(prepare_seconds, 2),
        "wall_seconds": round(time.perf_counter() - wall, 2),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
