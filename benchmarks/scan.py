"""Local scan benchmark: hashmatch's hasher beside hashdeep and a naive Python loop.

Seeded and synthetic: the script writes a tree of random bytes into a temporary folder
(``--total-mib`` in all, 1 GiB by default): many small files of 1 to 64 KiB (a quarter of
the bytes, or ``--small-files`` of them), some medium ones of 1 to 8 MiB (another quarter,
or ``--medium-files``), and large ones of 64 to 160 MiB for the rest, scattered at random
over folders of about 200 files each, so that large files turn up anywhere in the scan
order. It reads the whole tree once to warm the page cache, then times, in an order that
rotates with each of ``--repeats`` rounds:

* ``hashdeep``: ``hashdeep -c md5,sha1,sha256 -r -l <tree>`` (its default: one thread
  per core), output to /dev/null; skipped, and said so, when hashdeep is not installed;
* ``hashmatch``: :func:`hashmatch.scan.scan_tree` (walk included) into
  :func:`hashmatch.scan.write_hashdeep_manifest`, written to /dev/null;
* ``hashmatch_processes``: the same batches hashed on a process pool instead of threads,
  the alternative the design weighed (``--no-processes`` leaves it out);
* ``baseline_naive``: one thread, ``hashlib.file_digest`` once per algorithm (three
  reads of every file), what a short script would do.

Figures are medians of the rounds: files/s, MiB/s, and CPU seconds (all threads and child
processes), which say more than wall time on a busy host. ``ratios.hashmatch_over_hashdeep``
is hashdeep's median time over hashmatch's (above 1: hashmatch is faster). After the timed
rounds, every digest of every file is checked against hashdeep's output and the naive
loop's.

    python benchmarks/scan.py                          # about 1 GiB
    python benchmarks/scan.py --total-mib 256 --repeats 5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine

from hashmatch.scan import (
    DEFAULT_CHUNK_SIZE,
    ScannedFile,
    ScanPlan,
    default_workers,
    plan_tree,
    scan_tree,
    write_hashdeep_manifest,
)
from hashmatch.scan._hash import Hasher
from hashmatch.scan._scan import _batches

KIB, MIB = 1 << 10, 1 << 20
HASHDEEP = "hashdeep"
FILES_PER_FOLDER = 200


def _draw(
    rng: np.random.Generator, count: int | None, quota: int, low: int, high: int
) -> list[int]:
    """``count`` sizes in [low, high], or as many as fill ``quota`` (the last one clipped)."""
    sizes: list[int] = []
    total = 0
    while (len(sizes) < count) if count is not None else (total < quota):
        size = int(rng.integers(low, high + 1))
        if count is None:
            size = min(size, quota - total)
        sizes.append(size)
        total += size
    return sizes


def build_tree(
    root: Path,
    *,
    seed: int,
    total_mib: float,
    small_files: int | None = None,
    medium_files: int | None = None,
    small_kib: tuple[int, int] = (1, 64),
    medium_mib: tuple[int, int] = (1, 8),
    large_mib: tuple[int, int] = (64, 160),
) -> dict[str, Any]:
    """Write the synthetic tree under ``root``; what it holds.

    Small and medium files take a quarter of ``total_mib`` each (or are ``small_files``
    and ``medium_files`` in number), large files the rest of the budget.
    """
    rng = np.random.default_rng(seed)
    budget = int(total_mib * MIB)
    small = _draw(rng, small_files, budget // 4, small_kib[0] * KIB, small_kib[1] * KIB)
    medium = _draw(rng, medium_files, budget // 4, medium_mib[0] * MIB, medium_mib[1] * MIB)
    rest = max(0, budget - sum(small) - sum(medium))
    large = _draw(rng, None, rest, large_mib[0] * MIB, large_mib[1] * MIB)
    sizes = small + medium + large
    folders = max(1, len(sizes) // FILES_PER_FOLDER)
    placement = rng.integers(0, folders, size=len(sizes)).tolist()
    for index in rng.permutation(len(sizes)).tolist():
        folder = root / f"d{placement[index]:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:06d}.bin").write_bytes(rng.bytes(sizes[index]))
    return {
        "files": len(sizes),
        "bytes": sum(sizes),
        "mib": round(sum(sizes) / MIB, 1),
        "folders": folders,
        "small_files": len(small),
        "medium_files": len(medium),
        "large_files": len(large),
    }


def warm(root: Path) -> None:
    """Read every file once, so that every contender reads from the page cache."""
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                while handle.read(4 * MIB):
                    pass


def hashdeep_version() -> str | None:
    """hashdeep's version, or None when it is not installed."""
    if shutil.which(HASHDEEP) is None:
        return None
    done = subprocess.run([HASHDEEP, "-V"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip()


def hashdeep_command(tree: Path) -> list[str]:
    return [HASHDEEP, "-c", "md5,sha1,sha256", "-r", "-l", tree.name]


def run_hashdeep(tree: Path) -> int:
    """hashdeep over the tree, its output thrown away; the files it hashed are not known."""
    subprocess.run(hashdeep_command(tree), cwd=tree.parent, stdout=subprocess.DEVNULL, check=True)
    return 0


def run_hashmatch(tree: Path, workers: int) -> int:
    """The scan as ``hashmatch scan`` runs it: walk, hash, write the manifest."""
    with open(os.devnull, "w", encoding="utf-8") as sink:
        write_hashdeep_manifest(
            scan_tree(tree, workers=workers), sink, invoked_from=str(tree), command="benchmark"
        )
    return 0


_CHILD: dict[str, Hasher] = {}


def _hash_in_child(root: str, entries: Any) -> list[ScannedFile] | None:
    """A process-pool task: hash one batch, opening the root once per process."""
    hasher = _CHILD.get(root)
    if hasher is None:
        base_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        hasher = _CHILD[root] = Hasher(base_fd, DEFAULT_CHUNK_SIZE, lambda: False)
    return hasher.hash_batch(entries)


def scan_with_processes(plan: ScanPlan, workers: int) -> Iterator[ScannedFile]:
    """The same batches as :func:`scan_tree`, hashed on a process pool: the alternative."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [
            pool.submit(_hash_in_child, str(plan.root), entries)
            for entries, _ in _batches(plan.entries)
        ]
        for future in futures:
            yield from future.result() or []


def run_processes(tree: Path, workers: int) -> int:
    with open(os.devnull, "w", encoding="utf-8") as sink:
        write_hashdeep_manifest(
            scan_with_processes(plan_tree(tree), workers),
            sink,
            invoked_from=str(tree),
            command="benchmark",
        )
    return 0


def naive_digests(tree: Path) -> dict[str, tuple[int, str, str, str]]:
    """The short-script way: one thread, one ``hashlib.file_digest`` pass per algorithm."""
    found = {}
    for folder, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            digests = []
            for algorithm in ("md5", "sha1", "sha256"):
                with open(path, "rb") as handle:
                    digests.append(hashlib.file_digest(handle, algorithm).hexdigest())
            relative = os.path.relpath(path, tree)
            found[relative] = (os.path.getsize(path), digests[0], digests[1], digests[2])
    return found


def cpu_seconds() -> float:
    """CPU time so far of this process (all threads) and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def summary(seconds: list[float], cpu: list[float], files: int, size: int) -> dict[str, Any]:
    """Median figures of one contender's rounds."""
    wall = statistics.median(seconds)
    return {
        "seconds": [round(s, 3) for s in seconds],
        "median_seconds": round(wall, 3),
        "files_per_second": round(files / wall),
        "mib_per_second": round(size / MIB / wall, 1),
        "median_cpu_seconds": round(statistics.median(cpu), 3),
        "mib_per_cpu_second": round(size / MIB / statistics.median(cpu), 1),
    }


def check_digests(tree: Path, hashdeep: bool) -> tuple[dict[str, bool | None], str]:
    """Whether hashmatch's digests equal hashdeep's and the naive loop's, file by file; and
    one digest over every file's name and digests (equal seeds give equal trees)."""
    ours = {f.path: (f.size, f.md5, f.sha1, f.sha256) for f in scan_tree(tree) if f.reason is None}
    tree_sha256 = hashlib.sha256(repr(sorted(ours.items())).encode()).hexdigest()
    agree: dict[str, bool | None] = {"naive": ours == naive_digests(tree), "hashdeep": None}
    if hashdeep:
        text = subprocess.run(
            hashdeep_command(tree), cwd=tree.parent, capture_output=True, text=True, check=True
        ).stdout
        theirs = {}
        for line in text.splitlines():
            if line.startswith(("%", "#")) or not line:
                continue
            size, md5, sha1, sha256, name = line.split(",", 4)
            theirs[name.removeprefix(tree.name + "/")] = (int(size), md5, sha1, sha256)
        agree["hashdeep"] = ours == theirs
    return agree, tree_sha256


def bench(args: argparse.Namespace, tree: Path) -> dict[str, Any]:
    """Build, warm, time the contenders in rotating order, check the digests."""
    shape = build_tree(
        tree,
        seed=args.seed,
        total_mib=args.total_mib,
        small_files=args.small_files,
        medium_files=args.medium_files,
        small_kib=tuple(args.small_kib),
        medium_mib=tuple(args.medium_mib),
        large_mib=tuple(args.large_mib),
    )
    warm(tree)
    version = hashdeep_version()
    workers = args.workers or default_workers()
    contenders: dict[str, Callable[[], int]] = {
        "hashmatch": lambda: run_hashmatch(tree, workers),
        "baseline_naive": lambda: len(naive_digests(tree)),
    }
    if version is not None:
        contenders["hashdeep"] = lambda: run_hashdeep(tree)
    if args.processes:
        contenders["hashmatch_processes"] = lambda: run_processes(tree, workers)
    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            cpu_before = cpu_seconds()
            started = time.perf_counter()
            contenders[name]()
            seconds[name].append(time.perf_counter() - started)
            cpu[name].append(cpu_seconds() - cpu_before)
    results: dict[str, Any] = {
        name: summary(seconds[name], cpu[name], shape["files"], shape["bytes"]) for name in names
    }
    results["hashmatch"]["threads"] = workers
    if "hashmatch_processes" in results:
        results["hashmatch_processes"]["processes"] = workers
    if version is None:
        results["hashdeep"] = {"available": False, "reason": "hashdeep is not installed"}
    else:
        results["hashdeep"].update(
            available=True, version=version, command=" ".join(hashdeep_command(tree))
        )

    def ratio(slow: str, fast: str) -> float | None:
        if "median_seconds" not in results.get(slow, {}) or fast not in results:
            return None
        return round(float(results[slow]["median_seconds"] / results[fast]["median_seconds"]), 2)

    ratios = {
        "hashmatch_over_hashdeep": ratio("hashdeep", "hashmatch"),
        "hashmatch_over_naive": ratio("baseline_naive", "hashmatch"),
        "threads_over_processes": ratio("hashmatch_processes", "hashmatch"),
    }
    agree, shape["tree_sha256"] = check_digests(tree, version is not None)
    return {
        "tree": shape,
        "results": results,
        "ratios": ratios,
        "meets_target": (
            None
            if ratios["hashmatch_over_hashdeep"] is None
            else ratios["hashmatch_over_hashdeep"] >= 1.0
        ),
        "digests_agree": agree,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, run the benchmark, print its JSON report and return it."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--total-mib", type=float, default=1024, help="bytes in the tree, MiB")
    parser.add_argument("--small-files", type=int, default=None, help="instead of a quarter")
    parser.add_argument("--medium-files", type=int, default=None, help="instead of a quarter")
    parser.add_argument("--small-kib", type=int, nargs=2, default=[1, 64], metavar=("MIN", "MAX"))
    parser.add_argument("--medium-mib", type=int, nargs=2, default=[1, 8], metavar=("MIN", "MAX"))
    parser.add_argument("--large-mib", type=int, nargs=2, default=[64, 160], metavar=("MIN", "MAX"))
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds")
    parser.add_argument("--workers", type=int, default=None, help="hashmatch threads (cores)")
    parser.add_argument(
        "--no-processes", dest="processes", action="store_false", help="skip the process pool"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the tree is written")
    args = parser.parse_args(argv)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="hashmatch-scan-bench-", dir=args.workdir) as tmp:
        measured = bench(args, Path(tmp) / "tree")
    report = {
        "benchmark": "scan",
        "when": started,
        "machine": machine(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "target": "hashmatch at least as fast as hashdeep -c md5,sha1,sha256 -r on one tree",
        **measured,
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return report


if __name__ == "__main__":
    main()
