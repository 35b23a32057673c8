"""hashmatch_adapters.testvendor: the test suite's perceptual vendor (NOT an image hash).

Every file is synthetic text made here. The SimHash is checked against its definition
(one 4-byte sequence gives that sequence's BLAKE2b), pinned on a synthetic string, and held
to the properties the engine relies on: a few changed bytes move it a few bits, unrelated
content moves it far, and the distance is a metric.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from hashmatch_adapters.testvendor import TestVendor, simhash
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.errors import ConfigurationError, FileNotHashable, NotLicensed
from hashmatch.perceptual import PerceptualVendor, VendorLicence
from hashmatch.registry import default_registry

KEY = "synthetic-licence-key-7f3a"


def vendor(**options: str) -> TestVendor:
    return TestVendor(VendorLicence(vendor="test-vendor", key=KEY, options=options))


def text(n: int = 80) -> bytes:
    return "".join(f"synthetic-fixture-{i:03d} line of text\n" for i in range(n)).encode()


def changed(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


# -- the hash -------------------------------------------------------------------------------


def test_one_four_byte_sequence_hashes_to_its_blake2b() -> None:
    assert simhash(b"abcd") == hashlib.blake2b(b"abcd", digest_size=8).hexdigest()


def test_the_hash_is_pinned_on_a_synthetic_string() -> None:
    # a change of algorithm must come with a new version ("simhash-64/2")
    assert simhash(b"synthetic-fixture-001") == "0ef8262452222829"
    assert vendor().version == "simhash-64/1"


def test_a_near_copy_is_a_few_bits_away_and_unrelated_content_far(tmp_path: Path) -> None:
    original = text()
    near = changed(original, 500, b"XYZ")
    assert hashlib.sha256(near).digest() != hashlib.sha256(original).digest()
    other = b"".join(hashlib.sha256(b"synthetic-fixture-%d" % i).digest() for i in range(100))
    paths = {}
    for name, data in (("original.txt", original), ("near.txt", near), ("other.bin", other)):
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    made = vendor()
    hashes = {name: made.compute(path) for name, path in paths.items()}
    assert all(h is not None and len(h) == 16 for h in hashes.values())
    close = made.distance(hashes["original.txt"] or "", hashes["near.txt"] or "")
    far = made.distance(hashes["original.txt"] or "", hashes["other.bin"] or "")
    assert 0 < close <= TestVendor.DEFAULT_MAX_DISTANCE
    assert far > 2 * TestVendor.DEFAULT_MAX_DISTANCE


@given(st.binary(min_size=4, max_size=300), st.binary(min_size=4, max_size=300))
@example(b"abcd", b"abcd")
@example(b"\x00\x00\x00\x00", b"\xff\xff\xff\xff")
def test_the_distance_is_a_metric_over_hashes(a: bytes, b: bytes) -> None:
    made = vendor()
    x, y, z = simhash(a), simhash(b), simhash(a + b)
    assert made.distance(x, x) == 0
    assert made.distance(x, y) == made.distance(y, x)
    assert 0 <= made.distance(x, y) <= 64
    assert made.distance(x, z) <= made.distance(x, y) + made.distance(y, z)
    assert made.distance(x.upper(), y) == made.distance(x, y)


@pytest.mark.parametrize("bad", ["", "abc", "0" * 15, "0" * 17, "g" * 16, "pdna:" + "0" * 16])
def test_a_value_that_is_not_a_test_simhash_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="test-simhash"):
        vendor().distance(bad, "0" * 16)


# -- which files it hashes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty file"), (b"abc", "too small: fewer than 4 bytes")],
)
def test_tiny_files_are_not_hashable(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "tiny.txt"
    path.write_bytes(data)
    with pytest.raises(FileNotHashable) as caught:
        vendor().compute(path)
    assert caught.value.reason == reason


def test_a_file_over_max_bytes_is_not_hashable(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(text(10))
    assert vendor(max_bytes=str(len(text(10)))).compute(path) is not None
    with pytest.raises(FileNotHashable, match="larger than"):
        vendor(max_bytes=str(len(text(10)) - 1)).compute(path)


def test_links_folders_and_fifos_are_not_read(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_bytes(text())
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it for reading would block: it must not be read
    made = vendor()
    with pytest.raises(FileNotHashable, match="symbolic link"):
        made.compute(link)
    with pytest.raises(FileNotHashable, match="not a regular file"):
        made.compute(tmp_path)
    with pytest.raises(FileNotHashable, match="not a regular file"):
        made.compute(fifo)
    with pytest.raises(FileNotHashable, match="cannot open"):
        made.compute(tmp_path / "missing.txt")


def test_kinds_limits_it_to_some_suffixes(tmp_path: Path) -> None:
    for name in ("a.txt", "b.TXT", "c.jpg"):
        (tmp_path / name).write_bytes(text())
    made = vendor(kinds=".txt, .bin")
    assert made.compute(tmp_path / "a.txt") is not None
    assert made.compute(tmp_path / "b.TXT") is not None
    assert made.compute(tmp_path / "c.jpg") is None


def test_hashing_changes_nothing_in_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "evidence.txt"
    path.write_bytes(text())
    path.chmod(0o444)
    before = (path.read_bytes(), path.stat().st_mtime_ns, stat.S_IMODE(path.stat().st_mode))
    vendor().compute(path)
    after = (path.read_bytes(), path.stat().st_mtime_ns, stat.S_IMODE(path.stat().st_mode))
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.txt"]


# -- licence, list, registration ------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "   "])
def test_it_needs_a_licence_key_like_any_vendor(key: str) -> None:
    with pytest.raises(NotLicensed, match="non-empty key"):
        TestVendor(VendorLicence(vendor="test-vendor", key=key))


def test_its_repr_never_shows_the_key() -> None:
    made = vendor(list_name="x")
    assert KEY not in repr(made)
    assert KEY not in str(made.licence)
    assert "***" in repr(made)


def test_its_own_list_is_matched_within_the_distance(tmp_path: Path) -> None:
    listed = tmp_path / "vendor-list.txt"
    base = int(simhash(text()), 16)
    listed.write_text(
        "# synthetic vendor-side list\n\n"
        f"near {base ^ 0b111:016x}\n"
        f"exact {base:016x}\n"
        f"far {base ^ (2**20 - 1):016x}\n",
        "utf-8",
    )
    made = TestVendor(
        VendorLicence(vendor="test-vendor", key=KEY, max_distance=3, options={"list": str(listed)})
    )
    [hits, none] = made.match([simhash(text()), f"{base ^ (2**40 - 1):016x}"])
    assert [(h.list_name, h.entry, h.distance) for h in hits] == [
        ("vendor-list", "exact", 0.0),
        ("vendor-list", "near", 3.0),
    ]
    assert none == []
    assert vendor().match(["0" * 16]) == [[]], "no list: no hits"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("ok 0000000000000000\njust-an-id\n", 2, "expected '<id> <hash>'"),
        ("# c\nbad 00zz000000000000\n", 2, "not a 64-bit test-simhash"),
    ],
)
def test_a_bad_list_line_is_named_by_file_and_line(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text(body, "utf-8")
    with pytest.raises(ConfigurationError) as caught:
        vendor(list=str(listed))
    assert caught.value.render().startswith(f"{listed}:{line}: {reason}")


def test_a_missing_list_or_a_bad_max_bytes_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the test vendor's list"):
        vendor(list=str(tmp_path / "absent.txt"))
    with pytest.raises(ConfigurationError, match="max_bytes"):
        vendor(max_bytes="lots")
    with pytest.raises(ConfigurationError, match="max_bytes"):
        vendor(max_bytes="3")


def test_it_is_registered_and_says_it_is_not_an_image_hash() -> None:
    found = default_registry().vendor("test-vendor")
    assert found is TestVendor
    assert issubclass(found, PerceptualVendor)
    assert found.FINGERPRINT == "test-simhash"
    assert "NOT an image hash" in found.DESCRIPTION
    assert "NOT an image hash" in (found.__doc__ or "")
