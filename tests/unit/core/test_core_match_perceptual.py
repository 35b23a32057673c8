"""hashmatch.match.perceptual: hashing files through a vendor and finding similar entries.

A fake vendor stands in for a licensed one: its "hash" of a file is the integer the file
holds, its distance the absolute difference, and it records every call, so that the tests
can see what the engine asks of a vendor and what it does when the vendor fails. A
property test holds the engine to a brute-force comparison.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.errors import FileNotHashable, VendorError
from hashmatch.match.perceptual import (
    NOT_A_KIND,
    NOT_REACHED,
    ListFingerprint,
    PerceptualFile,
    match_perceptual,
)
from hashmatch.perceptual import PerceptualVendor, VendorLicence, VendorMatch


class FakeVendor(PerceptualVendor):
    """Hashes a file to the text it holds; ``unhashable`` / ``none`` / ``broken`` say which
    files it refuses, skips or fails on; ``own`` is its list as (id, value) pairs."""

    NAME = "fake-vendor"
    DESCRIPTION = "a vendor for these tests"
    VERSION = "3"
    FINGERPRINT = "fake"
    DEFAULT_MAX_DISTANCE = 5.0

    def __init__(
        self,
        *,
        max_distance: float | None = None,
        own: Sequence[tuple[str, int]] = (),
        compares: bool = True,
        fail_version: bool = False,
        fail_match: bool = False,
        short_match: bool = False,
    ) -> None:
        super().__init__(
            VendorLicence(vendor=self.NAME, key="synthetic-key", max_distance=max_distance)
        )
        self.own = list(own)
        self.compares = compares
        self.fail_version = fail_version
        self.fail_match = fail_match
        self.short_match = short_match
        self.computed: list[str] = []
        self.matched: list[list[str]] = []

    @property
    def version(self) -> str:
        if self.fail_version:
            raise VendorError("the library did not load")
        return "fake-1.0"

    def compute(self, path: Path) -> str | None:
        self.computed.append(path.name)
        content = path.read_text("utf-8")
        if content == "unhashable":
            raise FileNotHashable("too plain to hash")
        if content == "none":
            return None
        if content == "broken":
            raise VendorError("the service went away")
        return content

    def distance(self, a: str, b: str) -> float | None:
        if not self.compares:
            return None
        return float(abs(int(a) - int(b)))  # int() raises ValueError for a malformed value

    def match(self, hashes: Sequence[str]) -> list[list[VendorMatch]]:
        self.matched.append(list(hashes))
        if self.fail_match:
            raise VendorError("rate limited after 5 retries")
        answers = [
            [
                VendorMatch(
                    list_name="fake-list",
                    entry=entry,
                    distance=float(abs(int(h) - value)),
                    labels={"grade": "x"},
                )
                for entry, value in self.own
                if abs(int(h) - value) <= 20
            ]
            for h in hashes
        ]
        return answers[:-1] if self.short_match else answers

    def match_problems(self) -> dict[int, str]:
        # The service refuses any hash ending in 7, as a real one refuses a malformed hash.
        return {i: "malformed hash (3002)" for i, h in enumerate(self.matched[-1]) if h[-1] == "7"}


def files(tmp_path: Path, *contents: str | None) -> list[PerceptualFile]:
    """One row per content, line 1, 2...; None: a row whose file is not here."""
    out = []
    for line, content in enumerate(contents, start=1):
        if content is None:
            out.append(PerceptualFile(input=0, line=line, path=None, reason="file not available"))
            continue
        path = tmp_path / f"f{line}.txt"
        path.write_text(content, "utf-8")
        out.append(PerceptualFile(input=0, line=line, path=path, size=len(content)))
    return out


def entry(name: str, *values: str, list_name: str = "ncmec") -> ListFingerprint:
    return ListFingerprint(
        list_name=list_name,
        list_version=4,
        entry=name,
        values=values,
        labels={"source_id": name, "perceptual": [f"fake:{v}" for v in values]},
    )


def never() -> list[ListFingerprint]:
    raise AssertionError("the list fingerprints were read when they need not be")


def test_files_are_counted_hashed_or_not_with_their_reasons(tmp_path: Path) -> None:
    vendor = FakeVendor()
    rows = files(tmp_path, "100", None, "unhashable", "none", "200")
    outcome = match_perceptual(vendor, rows, list)
    assert (outcome.considered, outcome.hashed) == (5, 2)
    assert outcome.not_hashed == {
        "file not available": 1,
        NOT_A_KIND: 1,
        "too plain to hash": 1,
    }
    assert vendor.computed == ["f1.txt", "f3.txt", "f4.txt", "f5.txt"]
    assert (outcome.vendor, outcome.vendor_version, outcome.adapter_version) == (
        "fake-vendor",
        "fake-1.0",
        "3",
    )
    assert (outcome.fingerprint, outcome.max_distance, outcome.stopped) == ("fake", 5.0, None)
    assert outcome.results == ()


def test_list_entries_within_the_distance_are_similar_and_the_rest_are_not(
    tmp_path: Path,
) -> None:
    rows = files(tmp_path, "100", "300")
    entries = [
        entry("at-threshold", "105"),
        entry("beyond", "106"),
        entry("several", "900", "99", "250"),  # the nearest of its fingerprints counts
        entry("other-list", "300", list_name="vics"),
    ]
    outcome = match_perceptual(FakeVendor(), rows, lambda: entries)
    assert [(r.line, r.entry, r.list_name, r.distance) for r in outcome.results] == [
        (1, "several", "ncmec", 1.0),
        (1, "at-threshold", "ncmec", 5.0),
        (2, "other-list", "vics", 0.0),
    ]
    first = outcome.results[0]
    assert (first.vendor, first.vendor_version, first.adapter_version) == (
        "fake-vendor",
        "fake-1.0",
        "3",
    )
    assert (first.list_version, first.vendor_list) == (4, False)
    assert first.labels == {
        "source_id": "several",
        "perceptual": ["fake:900", "fake:99", "fake:250"],
    }
    assert outcome.similar_files == 2
    assert outcome.fingerprints_compared == 4


def test_the_licence_sets_the_threshold(tmp_path: Path) -> None:
    rows = files(tmp_path, "100")
    entries = [entry("a", "101"), entry("b", "102")]
    outcome = match_perceptual(FakeVendor(max_distance=1), rows, lambda: entries)
    assert [r.entry for r in outcome.results] == ["a"]
    assert outcome.max_distance == 1.0


def test_malformed_list_fingerprints_are_counted_and_skipped(tmp_path: Path) -> None:
    rows = files(tmp_path, "100", "101")
    entries = [entry("bad", "not-a-number", "100"), entry("worse", "x")]
    outcome = match_perceptual(FakeVendor(), rows, lambda: entries)
    assert [(r.line, r.entry, r.distance) for r in outcome.results] == [
        (1, "bad", 0.0),
        (2, "bad", 1.0),
    ]
    assert outcome.unreadable_fingerprints == 2, "each bad fingerprint once, not once a file"


def test_the_vendors_own_list_is_asked_in_batches(tmp_path: Path) -> None:
    vendor = FakeVendor(own=[("v-1", 103), ("v-far", 110)])
    rows = files(tmp_path, "100", "200", "101", "102", "103")
    outcome = match_perceptual(vendor, rows, list, batch_size=2)
    assert vendor.matched == [["100", "200"], ["101", "102"], ["103"]]
    hits = [(r.line, r.entry, r.distance) for r in outcome.results if r.vendor_list]
    # The service decides what matches in its own list: v-far is beyond the threshold (5)
    # that applies to list fingerprints, and is kept all the same.
    assert hits == [
        (1, "v-1", 3.0),
        (1, "v-far", 10.0),
        (3, "v-1", 2.0),
        (3, "v-far", 9.0),
        (4, "v-1", 1.0),
        (4, "v-far", 8.0),
        (5, "v-1", 0.0),
        (5, "v-far", 7.0),
    ]
    own = outcome.results[0]
    assert (own.list_name, own.list_version, own.labels) == ("fake-list", None, {"grade": "x"})


def test_a_vendor_that_compares_only_on_its_service_never_reads_the_lists(
    tmp_path: Path,
) -> None:
    rows = files(tmp_path, "100")
    outcome = match_perceptual(FakeVendor(compares=False), rows, never)
    assert outcome.fingerprints_compared == 0


def test_no_fingerprint_tag_or_nothing_hashed_never_reads_the_lists(tmp_path: Path) -> None:
    class Untagged(FakeVendor):
        FINGERPRINT = ""

    match_perceptual(Untagged(), files(tmp_path, "100"), never)
    match_perceptual(FakeVendor(), files(tmp_path, "none", None), never)


def test_the_lists_are_read_once_however_many_files(tmp_path: Path) -> None:
    calls: list[int] = []

    def read() -> list[ListFingerprint]:
        calls.append(1)
        return [entry("a", "100")]

    match_perceptual(FakeVendor(), files(tmp_path, "100", "101", "102"), read)
    assert calls == [1]


def test_a_vendor_failure_stops_its_part_and_keeps_what_was_found(tmp_path: Path) -> None:
    vendor = FakeVendor(own=[("v-1", 100)])
    rows = files(tmp_path, "100", "broken", "101", None)
    outcome = match_perceptual(vendor, rows, lambda: [entry("a", "101")])
    assert outcome.stopped == "the service went away"
    assert vendor.computed == ["f1.txt", "f2.txt"], "no file is hashed after the failure"
    assert vendor.matched == [], "nor is the vendor's list asked"
    assert outcome.hashed == 1
    assert outcome.not_hashed == {NOT_REACHED: 2, "file not available": 1}
    # the hash made before the failure is still compared with the lists
    assert [(r.line, r.entry) for r in outcome.results] == [(1, "a")]


def test_a_failure_of_the_vendors_list_is_reported(tmp_path: Path) -> None:
    outcome = match_perceptual(FakeVendor(fail_match=True), files(tmp_path, "100"), list)
    assert outcome.stopped == "rate limited after 5 retries"
    assert outcome.hashed == 1


def test_a_list_answer_of_the_wrong_length_is_not_used(tmp_path: Path) -> None:
    vendor = FakeVendor(own=[("v-1", 100)], short_match=True)
    outcome = match_perceptual(vendor, files(tmp_path, "100", "101"), list)
    assert outcome.stopped is not None
    assert "answered 1 results for 2 hashes" in outcome.stopped
    assert outcome.results == ()


def test_a_vendor_that_cannot_say_its_version_hashes_nothing(tmp_path: Path) -> None:
    vendor = FakeVendor(fail_version=True)
    outcome = match_perceptual(vendor, files(tmp_path, "100", None), never)
    assert (outcome.vendor_version, outcome.stopped) == (None, "the library did not load")
    assert vendor.computed == []
    assert outcome.not_hashed == {NOT_REACHED: 1, "file not available": 1}


def test_progress_counts_the_bytes_of_the_files_to_hash(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    rows = files(tmp_path, "100", None, "20000")
    match_perceptual(FakeVendor(), rows, list, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(3, 8), (8, 8)]


def test_results_are_frozen(tmp_path: Path) -> None:
    outcome = match_perceptual(FakeVendor(), files(tmp_path, "1"), lambda: [entry("a", "1")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.results[0].distance = 99.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.hashed = 0  # type: ignore[misc]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hashes=st.lists(st.integers(0, 60), min_size=1, max_size=6),
    listed=st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=3), max_size=6),
    limit=st.integers(0, 10),
)
def test_every_pair_within_the_threshold_is_found_and_no_other(
    tmp_path: Path, hashes: list[int], listed: list[list[int]], limit: int
) -> None:
    rows = files(tmp_path, *(str(h) for h in hashes))
    entries = [entry(f"e{i}", *(str(v) for v in values)) for i, values in enumerate(listed)]
    outcome = match_perceptual(FakeVendor(max_distance=limit), rows, lambda: entries)
    expected = set()
    for line, h in enumerate(hashes, start=1):
        for i, values in enumerate(listed):
            nearest = min(abs(h - v) for v in values)
            if nearest <= limit:
                expected.add((line, f"e{i}", float(nearest)))
    assert {(r.line, r.entry, r.distance) for r in outcome.results} == expected
    assert outcome.similar_files == len({line for line, _, _ in expected})
    keys = [(r.input, r.line, r.distance) for r in outcome.results]
    assert keys == sorted(keys)


def test_hashes_the_vendors_list_refused_are_counted_apart_with_its_reason(
    tmp_path: Path,
) -> None:
    vendor = FakeVendor(own=[("v-1", 103)])
    rows = files(tmp_path, "107", "103", "117")
    outcome = match_perceptual(vendor, rows, list, batch_size=2)
    assert outcome.hashed == 3
    assert outcome.not_hashed == {}
    assert outcome.unanswered == {"malformed hash (3002)": 2}
