"""At scale: a 1 M-line hashdeep manifest against a 10 M-entry list gives a correct report.

Everything is generated from a seed: random digests for the list, and a manifest in which
known rows, empty files and malformed rows are planted at known lines.
"""

from __future__ import annotations

import binascii
import json
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from hashmatch.config import Settings
from hashmatch.model import Purpose
from hashmatch.service import Service

ROOT = Path(__file__).resolve().parents[2]
LIST_ENTRIES = 10_000_000
MANIFEST_ROWS = 1_000_000
KNOWN_ROWS = 10_000


def hex_lines(digests: np.ndarray) -> list[bytes]:
    text = binascii.hexlify(digests.tobytes())
    width = digests.shape[1] * 2
    return [text[i : i + width] for i in range(0, len(text), width)]


@pytest.mark.slow
def test_million_line_manifest_against_ten_million_entries(tmp_path: Path) -> None:
    rng = np.random.default_rng(20261122)
    keys = rng.integers(0, 256, size=(LIST_ENTRIES, 16), dtype=np.uint8)
    listing = tmp_path / "known.txt"
    with open(listing, "wb") as handle:
        for start in range(0, LIST_ENTRIES, 1_000_000):
            handle.write(b"\n".join(hex_lines(keys[start : start + 1_000_000])) + b"\n")

    rows = rng.integers(0, 256, size=(MANIFEST_ROWS, 16), dtype=np.uint8)
    known_at = rng.choice(MANIFEST_ROWS, KNOWN_ROWS, replace=False)
    rows[known_at] = keys[rng.choice(LIST_ENTRIES, KNOWN_ROWS, replace=False)]
    digests = hex_lines(rows)
    empty_at, invalid_at = (
        set(range(7, MANIFEST_ROWS, 100_003)),
        set(range(11, MANIFEST_ROWS, 99_991)),
    )
    known_set = set(known_at.tolist())
    empty_at -= known_set
    invalid_at -= known_set | empty_at
    for i in empty_at:
        digests[i] = b"d41d8cd98f00b204e9800998ecf8427e"
    for i in invalid_at:
        digests[i] = digests[i][:31] + b"g"
    manifest = tmp_path / "device.hashdeep"
    with open(manifest, "wb") as handle:
        handle.write(b"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n## $ hashdeep -c md5 -r ev\n")
        handle.write(b"".join(b"21,%s,ev/f%07d.bin\n" % (d, i) for i, d in enumerate(digests)))

    with Service(Settings(home=tmp_path / "home", operator="scale")) as service:
        service.add_list("big", Purpose.CONCERN)
        started = time.perf_counter()
        version = service.ingest("big", listing)
        ingest_seconds = time.perf_counter() - started
        assert version.counts.entries == LIST_ENTRIES
        assert version.counts.md5 == len(np.unique(keys.view("V16")))
        report = tmp_path / "out.json"
        started = time.perf_counter()
        result = service.check([manifest], case_ref="SCALE-1", report=report)
        check_seconds = time.perf_counter() - started
    print(f"\ningest 10M: {ingest_seconds:.1f} s; check 1M with JSON report: {check_seconds:.1f} s")

    first_data_line = 4
    verdicts = result.verdicts.column("verdict").to_numpy(zero_copy_only=False)
    lines = result.verdicts.column("line").to_numpy()
    assert len(verdicts) == MANIFEST_ROWS
    assert (lines == np.arange(MANIFEST_ROWS) + first_data_line).all()
    expected = np.full(MANIFEST_ROWS, "unknown", dtype=object)
    expected[known_at] = "known"
    expected[sorted(empty_at)] = "not_assessable"
    expected[sorted(invalid_at)] = "invalid"
    assert (verdicts == expected).all()

    data = json.loads(report.read_text())
    assert data["counts"]["by_verdict"]["known"]["total"] == KNOWN_ROWS
    assert data["counts"]["by_verdict"]["not_assessable"]["total"] == len(empty_at)
    assert data["counts"]["by_verdict"]["invalid"]["total"] == len(invalid_at)
    assert data["counts"]["review_queue"] == MANIFEST_ROWS - KNOWN_ROWS - len(empty_at) - len(
        invalid_at
    )
    assert len(data["rows"]) == MANIFEST_ROWS
    sample = dict(data, rows=data["rows"][:2000])
    jsonschema.validate(sample, json.loads((ROOT / "schemas" / "report.schema.json").read_text()))
    row = data["rows"][int(known_at[0])]
    assert row["verdict"] == "known"
    assert row["matches"][0]["list"] == "big"
