"""Every list format round-trips through a signed bundle: same entries, same labels.

For each list adapter's ``valid`` fixture: the entries a direct load stages, and the
entries a load of the same file made into a bundle (created, signed, verified, loaded)
stages, must be equal row for row; and the signature must vouch for the bundle.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hashmatch.adapter import Role
from hashmatch.bundle import bundle_from_list_file, verify_bundle
from hashmatch.ingest.pipeline import stage_list_file
from hashmatch.model import Purpose
from hashmatch.registry import default_registry
from hashmatch.signing import generate_keypair, load_private_key, load_public_key, sign_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "adapters"
LIST_FORMATS = [
    a.NAME for a in default_registry().adapters(Role.LIST) if a.NAME != "hashmatch-bundle"
]


def _entries(path: Path, tmp_path: Path, fmt: str | None) -> list[dict[str, object]]:
    staged = stage_list_file(
        path, staging_dir=tmp_path / "staging", registry=default_registry(), fmt=fmt
    )
    try:
        rows = pq.read_table(staged.path).drop_columns(["line"]).to_pylist()
    finally:
        staged.discard()
    return rows


@pytest.mark.parametrize("fmt", LIST_FORMATS)
def test_a_list_round_trips_through_a_signed_bundle(fmt: str, tmp_path: Path) -> None:
    (valid,) = sorted((FIXTURES / fmt).glob("valid.*"))
    direct = _entries(valid, tmp_path, fmt)
    stem = tmp_path / "publisher"
    pair = generate_keypair(stem, "Synthetic Publisher")
    bundle = tmp_path / f"{fmt}.hmbundle"
    bundle_from_list_file(
        valid,
        bundle,
        registry=default_registry(),
        fmt=fmt,
        list_name="roundtrip",
        purpose=Purpose.CONCERN,
        created_by="publisher",
    )
    sign_file(bundle / "manifest.json", load_private_key(pair.private_path), "Synthetic Publisher")
    opened, check = verify_bundle(bundle, {pair.key_id: load_public_key(pair.public_path)})
    assert check.valid, check.reason
    assert opened.manifest.entries.rows == len(direct)
    assert _entries(opened.entries_path, tmp_path, "hashmatch-bundle") == direct
