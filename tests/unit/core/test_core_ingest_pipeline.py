"""Ingest staging details that a user sees in the version's counts."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.ingest.pipeline import count_distinct


@given(
    st.lists(
        st.tuples(
            st.sampled_from([bytes(8), b"\xff" * 8, b"\x01" * 8]), st.binary(min_size=8, max_size=8)
        ),
        max_size=40,
    )
)
def test_distinct_counts_digests_exactly_even_when_leading_bytes_repeat(rows) -> None:
    digests = [head + tail for head, tail in rows]
    matrix = np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), 16)
    assert count_distinct(matrix) == len(set(digests))


@given(
    st.lists(
        st.tuples(
            st.sampled_from([bytes(8), b"\x07" * 8]),
            st.sampled_from([bytes(12), b"\x01" * 12, b"\x00" * 11 + b"\x01"]),
        ),
        max_size=60,
    )
)
def test_distinct_counts_repeated_sha1_width_digests_exactly(rows) -> None:
    digests = [head + tail for head, tail in rows]  # 20 bytes: not a whole number of words
    matrix = np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), 20)
    assert count_distinct(matrix) == len(set(digests))
