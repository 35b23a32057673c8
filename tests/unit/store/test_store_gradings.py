"""Reviewers' gradings: what a Grading accepts, and how every catalog stores and supersedes them.

The contract tests run on both catalogs (and PostgreSQL when HASHMATCH_TEST_POSTGRES_URL is
set); a property test holds the SQL catalog to the in-memory twin and to a plain model of
"the newest grading of each digest wins".
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.errors import Conflict, DigestError, InputError
from hashmatch.labels import BOOLEAN_FLAGS, Label, Scheme
from hashmatch.model import Grading
from hashmatch.store import Catalog, MemoryCatalog, open_catalog

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _digest(name: str, algorithm: str = "md5") -> str:
    return hashlib.new(algorithm, f"synthetic-fixture-{name}".encode()).hexdigest()


def _grading(**overrides: Any) -> Grading:
    fields: dict[str, Any] = {
        "algorithm": Algorithm.MD5,
        "digest": _digest("001"),
        "scheme": "uk",
        "category": "B",
        "reviewer": "reviewer-1",
        "graded_at": T0,
    }
    fields.update(overrides)
    return Grading(**fields)


# What a Grading accepts


def test_a_grading_is_normalised_on_construction() -> None:
    grading = _grading(
        algorithm="SHA-1",
        digest=_digest("002", "sha1").upper(),
        flags=["victim_identified", Label.DECOY, "decoy"],
        graded_at=datetime(2025, 3, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5))),
    )
    assert grading.algorithm is Algorithm.SHA1
    assert grading.digest == _digest("002", "sha1")
    assert grading.flags == ("decoy", "victim_identified")
    assert all(type(flag) is str for flag in grading.flags)
    assert grading.graded_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert grading.graded_at.tzinfo is UTC
    assert len(grading.grading_id) == 32
    assert grading.grading_id != _grading().grading_id


def test_every_scheme_and_every_flag_of_the_vocabulary_is_accepted() -> None:
    for scheme in Scheme:
        assert _grading(scheme=scheme.value).scheme == scheme.value
    assert _grading(flags=BOOLEAN_FLAGS).flags == tuple(sorted(BOOLEAN_FLAGS))


def test_the_category_is_kept_verbatim() -> None:
    assert _grading(scheme="vics-us", category="1").category == "1"
    assert _grading(scheme="ncmec", category="a1 ").category == "a1 "


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"flags": ["decoy", "sparkly"]}, InputError, r"unknown flag 'sparkly' \(known flags: "),
        ({"flags": "decoy"}, InputError, "list of flag names"),
        ({"scheme": "UK"}, InputError, "unknown category scheme 'UK'"),
        ({"scheme": "caid-local"}, InputError, "expected one of uk, vics-us"),
        ({"category": " "}, InputError, "needs a category"),
        ({"reviewer": ""}, InputError, "reviewer"),
        ({"digest": "ab" * 8}, DigestError, "must be 32 hex digits"),
        ({"digest": "zz" * 16}, DigestError, "must be 32 hex digits"),
        ({"digest": EMPTY_FILE_DIGESTS[Algorithm.MD5].hex()}, DigestError, "zero-length file"),
        ({"algorithm": "crc32"}, DigestError, "unknown algorithm"),
        ({"grading_id": "not-a-uuid"}, InputError, "grading_id"),
        ({"size": -1}, InputError, "size"),
        ({"size": True}, InputError, "size"),
        ({"note": "nul\x00"}, InputError, "NUL"),
        ({"graded_at": datetime(2025, 3, 1)}, ValueError, "naive"),
    ],
)
def test_a_bad_grading_is_refused_with_its_reason(
    overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _grading(**overrides)


def test_the_table_allows_exactly_the_algorithms_hashmatch_knows() -> None:
    from sqlalchemy import CheckConstraint

    from hashmatch.store.tables import Base

    (check,) = (
        c
        for c in Base.metadata.tables["gradings"].constraints
        if isinstance(c, CheckConstraint) and c.name == "ck_gradings_algorithm"
    )
    known = ", ".join(f"'{a.value}'" for a in Algorithm)
    assert str(check.sqltext) == f"algorithm IN ({known})"


# The contract, on every catalog


def test_a_new_catalog_has_no_gradings(catalog: Catalog) -> None:
    assert catalog.gradings() == []
    assert catalog.latest_gradings() == []


def test_a_grading_comes_back_with_every_field(catalog: Catalog) -> None:
    grading = _grading(
        algorithm=Algorithm.SHA256,
        digest=_digest("003", "sha256"),
        scheme="vics-us",
        category="1",
        flags=("report_remove", "self_generated"),
        case_ref="CASE-0001",
        run_id="run-a",
        note="synthetic note: 'quoted' émile",
        size=5_000_000_000,  # more than 32 bits
    )
    sparse = _grading(digest=_digest("004"))
    catalog.add_grading(grading)
    catalog.add_grading(sparse)
    assert catalog.gradings() == [grading, sparse]
    stored = catalog.gradings()[0]
    assert stored.algorithm is Algorithm.SHA256
    assert (sparse.case_ref, sparse.run_id, sparse.note, sparse.size) == (None,) * 4


def test_gradings_come_oldest_first_and_ties_in_the_order_added(catalog: Catalog) -> None:
    late = _grading(digest=_digest("late"), graded_at=T0 + timedelta(hours=1))
    tie_a = _grading(digest=_digest("a"))
    early = _grading(digest=_digest("early"), graded_at=T0 - timedelta(microseconds=1))
    tie_b = _grading(digest=_digest("b"))
    for grading in (late, tie_a, early, tie_b):
        catalog.add_grading(grading)
    assert catalog.gradings() == [early, tie_a, tie_b, late]


def test_since_is_inclusive_and_may_be_in_any_time_zone(catalog: Catalog) -> None:
    gradings = [
        _grading(digest=_digest(str(i)), graded_at=T0 + timedelta(minutes=i)) for i in range(4)
    ]
    for grading in gradings:
        catalog.add_grading(grading)
    assert catalog.gradings(since=T0 + timedelta(minutes=2)) == gradings[2:]
    elsewhere = (T0 + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=9)))
    assert catalog.gradings(since=elsewhere) == gradings[1:]
    assert catalog.gradings(since=T0 + timedelta(days=1)) == []
    with pytest.raises(ValueError, match="naive"):
        catalog.gradings(since=datetime(2025, 3, 1))


def test_a_repeated_grading_id_is_a_conflict_and_the_first_is_kept(catalog: Catalog) -> None:
    first = _grading()
    catalog.add_grading(first)
    with pytest.raises(Conflict, match=first.grading_id):
        catalog.add_grading(dataclasses.replace(first, category="A"))
    assert catalog.gradings() == [first]


def test_a_regrading_supersedes_and_the_earlier_grading_stays_in_history(
    catalog: Catalog,
) -> None:
    first = _grading(category="C")
    other = _grading(digest=_digest("other"), graded_at=T0 + timedelta(minutes=1))
    regraded = _grading(category="A", reviewer="reviewer-2", graded_at=T0 + timedelta(minutes=5))
    for grading in (first, other, regraded):
        catalog.add_grading(grading)
    assert catalog.latest_gradings() == [other, regraded]
    assert catalog.gradings() == [first, other, regraded]


def test_an_older_grading_added_later_does_not_supersede_a_newer_one(catalog: Catalog) -> None:
    newer = _grading(category="A", graded_at=T0 + timedelta(days=1))
    imported_older = _grading(category="C")
    catalog.add_grading(newer)
    catalog.add_grading(imported_older)
    assert catalog.latest_gradings() == [newer]


def test_of_two_gradings_at_one_instant_the_one_added_last_wins(catalog: Catalog) -> None:
    first, second = _grading(category="B"), _grading(category="A")
    catalog.add_grading(first)
    catalog.add_grading(second)
    assert catalog.latest_gradings() == [second]


def test_each_algorithm_of_a_file_keeps_its_own_grading(catalog: Catalog) -> None:
    # The MD5 and the SHA-1 of one file are two digests: each keeps its own newest grading.
    md5 = _grading(category="A")
    sha1 = _grading(algorithm=Algorithm.SHA1, digest=_digest("001", "sha1"), category="B")
    catalog.add_grading(md5)
    catalog.add_grading(sha1)
    assert catalog.latest_gradings() == [md5, sha1]


# The twin agrees with SQL, and both with a plain model


@st.composite
def grading_lists(draw: st.DrawFn) -> list[Grading]:
    count = draw(st.integers(min_value=0, max_value=12))
    return [
        _grading(
            algorithm=algorithm,
            digest=_digest(draw(st.sampled_from(["1", "2", "3"])), algorithm.value),
            category=draw(st.sampled_from(["A", "B", "C"])),
            graded_at=T0 + timedelta(seconds=draw(st.integers(min_value=0, max_value=3))),
        )
        for algorithm in draw(st.lists(st.sampled_from(Algorithm), min_size=count, max_size=count))
    ]


@settings(max_examples=25)
@given(gradings=grading_lists(), since_seconds=st.integers(min_value=-1, max_value=4))
def test_sql_and_memory_catalogs_agree_with_the_newest_wins_model(
    gradings: list[Grading], since_seconds: int
) -> None:
    sql, memory = open_catalog("sqlite://"), MemoryCatalog()
    for grading in gradings:
        sql.add_grading(grading)
        memory.add_grading(grading)
    since = T0 + timedelta(seconds=since_seconds)
    assert sql.gradings() == memory.gradings()
    assert sql.gradings(since=since) == memory.gradings(since=since)
    assert sql.latest_gradings() == memory.latest_gradings()

    newest: dict[tuple[str, str], tuple[datetime, int]] = {}
    for added, grading in enumerate(gradings):
        key = (grading.algorithm, grading.digest)
        newest[key] = max(newest.get(key, (grading.graded_at, added)), (grading.graded_at, added))
    winners = {gradings[added].grading_id for _, added in newest.values()}
    assert {g.grading_id for g in sql.latest_gradings()} == winners
    assert sorted(g.graded_at for g in sql.gradings(since=since)) == sorted(
        g.graded_at for g in gradings if g.graded_at >= since
    )
    sql.close()
