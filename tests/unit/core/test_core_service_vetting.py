"""hashmatch.service: vetting list sources (signatures, trusted keys, checksums, bundles).

A refused file leaves the previous version serving and adds nothing. Keys are generated
per test; every digest is of a ``synthetic-fixture-...`` string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.bundle import bundle_from_list_file
from hashmatch.config import Settings
from hashmatch.errors import Conflict, InputError, NotFound, VettingError
from hashmatch.model import Purpose
from hashmatch.registry import default_registry
from hashmatch.service import Service
from hashmatch.signing import generate_keypair, load_private_key, sign_file


def md5(n: int) -> str:
    return hashlib.md5(f"synthetic-fixture-{n:03d}".encode()).hexdigest()


def listing(path: Path, numbers: list[int]) -> Path:
    path.write_text("".join(f"{md5(n)}  f{n}.bin\n" for n in numbers), "utf-8")
    return path


def sign(path: Path, stem: Path, publisher: str = "Synthetic Unit") -> Path:
    return sign_file(path, load_private_key(stem.with_name(stem.name + ".key")), publisher)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(home=tmp_path / "home", operator="curator", database_url="memory://")
    with Service(settings) as service:
        service.add_list("c", Purpose.CONCERN)
        yield service


@pytest.fixture
def publisher(tmp_path: Path) -> Path:
    stem = tmp_path / "keys" / "unit"
    stem.parent.mkdir()
    generate_keypair(stem, "Synthetic Unit")
    return stem


def trusted(service: Service, stem: Path) -> str:
    key = service.trust_key("c", stem.with_name(stem.name + ".pub"), "Synthetic Unit")
    service.set_policy("c", require_signature=True)
    return key.key_id


def serving(service: Service) -> int | None:
    return service.catalog.get_list("c").active_version


def test_requiring_a_signature_needs_a_trusted_key(service: Service) -> None:
    with pytest.raises(InputError, match="trusts no publisher key"):
        service.set_policy("c", require_signature=True)
    assert service.catalog.get_list("c").policy.require_signature is False


def test_a_signed_file_is_accepted_and_says_who_signed_it(
    service: Service, publisher: Path, tmp_path: Path
) -> None:
    key_id = trusted(service, publisher)
    source = listing(tmp_path / "v1.md5", [1, 2])
    sign(source, publisher)
    version = service.ingest("c", source)
    assert version.vetting.signature == "valid"
    assert version.vetting.signed_by == f"Synthetic Unit ({key_id})"
    assert version.vetting.signature_file == "v1.md5.sig"
    assert service.catalog.get_version(version.version_id).vetting == version.vetting


@pytest.mark.parametrize("case", ["unsigned", "untrusted", "tampered"])
def test_a_list_that_requires_a_signature_refuses_anything_else(
    service: Service, publisher: Path, tmp_path: Path, case: str
) -> None:
    trusted(service, publisher)
    service.ingest("c", sign(listing(tmp_path / "v1.md5", [1]), publisher).with_suffix(""))
    source = listing(tmp_path / "v2.md5", [2, 3])
    if case == "untrusted":
        stranger = tmp_path / "keys" / "stranger"
        generate_keypair(stranger, "Stranger")
        sign(source, stranger, "Stranger")
    elif case == "tampered":
        sign(source, publisher)
        listing(source, [2, 4])  # changed after signing
    with pytest.raises(VettingError) as caught:
        service.ingest("c", source)
    message = caught.value.render()
    assert message.startswith("v2.md5")
    assert "requires a trusted signature" in message or "changed after signing" in message
    assert serving(service) == 1
    assert [v.number for v in service.versions("c")] == [1]
    assert list((service.home / "lists" / "c").glob(".staging-*")) == []


def test_a_tampered_signed_file_is_refused_even_where_signatures_are_optional(
    service: Service, publisher: Path, tmp_path: Path
) -> None:
    service.trust_key("c", publisher.with_name("unit.pub"), "Synthetic Unit")
    source = listing(tmp_path / "v1.md5", [1])
    sign(source, publisher)
    listing(source, [9])
    with pytest.raises(VettingError, match="changed after signing"):
        service.ingest("c", source)
    assert service.versions("c") == []


def test_unsigned_files_load_where_signatures_are_optional(
    service: Service, tmp_path: Path
) -> None:
    version = service.ingest("c", listing(tmp_path / "v1.md5", [1]))
    assert version.vetting.signature == "unsigned"
    assert version.vetting.signed_by is None


def test_a_checksum_file_beside_the_list_must_agree(service: Service, tmp_path: Path) -> None:
    folder = tmp_path / "release"
    folder.mkdir()
    source = listing(folder / "list.md5", [1, 2])
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  list.md5\n", "utf-8")
    version = service.ingest("c", source)
    assert (version.vetting.checksum, version.vetting.checksum_file) == ("match", "SHA256SUMS")
    (folder / "SHA256SUMS").write_text(f"{'0' * 64}  list.md5\n", "utf-8")
    with pytest.raises(VettingError, match="SHA256SUMS"):
        service.ingest("c", source)
    assert [v.number for v in service.versions("c")] == [1]


def test_a_signed_checksum_file_vouches_for_the_list_it_names(
    service: Service, publisher: Path, tmp_path: Path
) -> None:
    trusted(service, publisher)
    folder = tmp_path / "release"
    folder.mkdir()
    source = listing(folder / "NSRLFile.md5", [1, 2])
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    sums = folder / "SHA256SUMS"
    sums.write_text(f"{digest} *NSRLFile.md5\n", "utf-8")
    sign(sums, publisher)
    version = service.ingest("c", source)
    assert version.vetting.signature == "valid"
    assert version.vetting.signature_file == "SHA256SUMS.sig"
    assert version.vetting.checksum == "match"


def test_a_signed_bundle_loads_and_a_changed_one_is_refused(
    service: Service, publisher: Path, tmp_path: Path
) -> None:
    trusted(service, publisher)
    bundle = tmp_path / "c-v1.hmbundle"
    bundle_from_list_file(
        listing(tmp_path / "src.md5", [1, 2, 3]),
        bundle,
        registry=default_registry(),
        list_name="c",
        purpose=Purpose.CONCERN,
        created_by="publisher",
    )
    with pytest.raises(VettingError, match="requires a trusted signature"):
        service.ingest("c", bundle)
    sign(bundle / "manifest.json", publisher)
    version = service.ingest("c", bundle)
    assert (version.adapter, version.source_name) == ("hashmatch-bundle", "c-v1.hmbundle")
    assert version.vetting.signature == "valid"
    assert version.counts.entries == 3
    entries = bundle / "entries.parquet"
    entries.write_bytes(entries.read_bytes() + b"\0")
    with pytest.raises(VettingError):
        service.ingest("c", bundle)
    assert [v.number for v in service.versions("c")] == [1]


def test_a_bundle_for_a_list_of_the_other_purpose_is_refused(
    service: Service, tmp_path: Path
) -> None:
    bundle = tmp_path / "benign.hmbundle"
    bundle_from_list_file(
        listing(tmp_path / "src.md5", [1]),
        bundle,
        registry=default_registry(),
        list_name="nsrl",
        purpose=Purpose.BENIGN,
        created_by="publisher",
    )
    with pytest.raises(VettingError, match="benign list"):
        service.ingest("c", bundle)


def test_trusted_keys_are_managed_per_list(
    service: Service, publisher: Path, tmp_path: Path
) -> None:
    key_id = trusted(service, publisher)
    assert [k.key_id for k in service.trusted_keys("c")] == [key_id]
    with pytest.raises(Conflict):
        service.trust_key("c", publisher.with_name("unit.pub"), "Again")
    with pytest.raises(InputError, match="only trusted key"):
        service.untrust_key("c", key_id)
    service.set_policy("c", require_signature=False)
    service.untrust_key("c", key_id)
    assert service.trusted_keys("c") == []
    with pytest.raises(NotFound):
        service.untrust_key("c", key_id)
    with pytest.raises(InputError, match="private key"):
        service.trust_key("c", publisher.with_name("unit.key"), "Oops")
    with pytest.raises(InputError, match="no such file"):
        service.trust_key("c", tmp_path / "missing.pub", "Nobody")


def test_a_folder_that_is_no_bundle_is_bad_input_not_a_refusal(
    service: Service, tmp_path: Path
) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    with pytest.raises(InputError, match="not a list file") as caught:
        service.ingest("c", folder)
    assert not isinstance(caught.value, VettingError)
