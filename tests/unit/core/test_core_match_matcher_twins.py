"""``Matcher`` and ``RowMatcher``, its reference twin, give the same verdict batches.

``Matcher`` works out each distinct combination of label sets once, with numpy;
``RowMatcher`` works out every matched row on its own, as the matcher first did. Any mix
of listed, unlisted, zero-length, malformed and missing digests, on any algorithms, with
and without mapped categories, must give the same batch from both.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_core_match_matcher import LABELLED, labelled_snapshot

from hashmatch.digests import EMPTY_FILE_DIGESTS, Algorithm
from hashmatch.index import Snapshot
from hashmatch.ingest.parse import parse_batch
from hashmatch.match.matcher import Matcher, RowMatcher
from hashmatch.records import make_batch

NAMES = ("001", "both", "sha1", "benign", "other", "nowhere", "nsrl", *LABELLED)


def cell(algorithm: Algorithm) -> st.SearchStrategy[str | None]:
    """A digest cell: listed or not (by name), zero-length, upper-case, malformed, absent."""
    named = st.sampled_from(NAMES).map(
        lambda name: hashlib.new(algorithm.value, f"synthetic-fixture-{name}".encode()).hexdigest()
    )
    return st.one_of(
        st.none(),
        named,
        named.map(str.upper),
        st.just(EMPTY_FILE_DIGESTS[algorithm].hex()),
        st.sampled_from(["", "q", "0" * (2 * algorithm.width - 1)]),
    )


ROWS = st.lists(
    st.fixed_dictionaries({a.value: cell(a) for a in Algorithm}),
    max_size=25,
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return labelled_snapshot(Path(tmp_path_factory.mktemp("graded-twins")))


def both(snapshot: Snapshot, rows: list[dict[str, Any]], **kwargs: Any) -> tuple[Any, Any]:
    columns: dict[str, list[Any]] = {"line": list(range(1, len(rows) + 1))}
    for algorithm in Algorithm:
        columns[algorithm.value] = [row[algorithm.value] for row in rows]
    parsed = parse_batch(make_batch(columns))
    return (
        Matcher(snapshot, **kwargs).match(parsed, input_no=3),
        RowMatcher(snapshot, **kwargs).match(parsed, input_no=3),
    )


NONE = {a.value: None for a in Algorithm}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS)
@example(rows=[])
@example(rows=[NONE, {**NONE, "md5": EMPTY_FILE_DIGESTS[Algorithm.MD5].hex()}])
def test_the_fast_matcher_gives_the_reference_verdicts(
    snapshot: Snapshot, graded: Snapshot, rows: list[dict[str, Any]]
) -> None:
    for chosen, kwargs in ((snapshot, {}), (graded, {}), (graded, {"map_to": "uk"})):
        fast, reference = both(chosen, rows, **kwargs)
        assert fast.to_pylist() == reference.to_pylist()
        assert fast.schema == reference.schema


def test_rows_on_the_same_label_sets_share_one_matches_text(snapshot: Snapshot) -> None:
    listed = hashlib.md5(b"synthetic-fixture-001").hexdigest()
    rows = [{**NONE, "md5": listed}] * 3 + [{**NONE, "md5": "q"}, {**NONE, "md5": listed}]
    fast, reference = both(snapshot, rows)
    assert fast.to_pylist() == reference.to_pylist()
    verdicts = fast.column("verdict").to_pylist()
    assert verdicts == ["known", "known", "known", "invalid", "known"]
    matches = fast.column("matches").to_pylist()
    assert matches[3] is None
    assert len({matches[i] for i in (0, 1, 2, 4)}) == 1
