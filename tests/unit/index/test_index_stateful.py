"""The fast index and its reference twin give the same answers under ingest, delete, lookup.

Digests are drawn so that many share their first 8 bytes (the fast index's leading word)
and some repeat, which is where a sorted-array index can go wrong.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hashmatch.digests import Algorithm
from hashmatch.index import MISS, HashIndex, LabelSetTable, Member, SetIndex, SortedArrayIndex

ALGORITHMS = st.sampled_from(list(Algorithm))
PREFIXES = [bytes(8), b"\xff" * 8, b"\x00\x00\x00\x01\x00\x00\x00\x00", b"\x80" + bytes(7)]


@st.composite
def digests(draw: st.DrawFn, algorithm: Algorithm) -> bytes:
    """A digest that often shares its leading word with others, or is all zeros or ones."""
    width = algorithm.width
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(min_size=width, max_size=width))
    if kind == 1:
        prefix = draw(st.sampled_from(PREFIXES))
        return prefix + draw(st.binary(min_size=width - 8, max_size=width - 8))
    if kind == 2:
        return draw(st.sampled_from([bytes(width), b"\xff" * width]))
    return bytes([draw(st.integers(0, 3))]) * width


MEMBERS = st.builds(
    Member,
    slot=st.integers(0, 3),
    labels=st.sampled_from([None, '{"category":"1"}', '{"category":"2"}', '{"series":"x"}']),
)


def resolved(index: HashIndex, set_id: int) -> frozenset[Member] | None:
    return None if set_id == MISS else index.label_set(set_id)


class IndexesAgree(RuleBasedStateMachine):
    """Apply the same deltas to both indexes; every lookup must resolve to the same members."""

    def __init__(self) -> None:
        super().__init__()
        self.reference = SetIndex()
        self.fast = SortedArrayIndex({}, LabelSetTable())
        self.seen: dict[Algorithm, list[bytes]] = {a: [] for a in Algorithm}

    @initialize(data=st.data())
    def start_from_a_build(self, data: st.DataObject) -> None:
        for algorithm in Algorithm:
            rows = data.draw(st.lists(st.tuples(digests(algorithm), MEMBERS), max_size=30))
            if rows:
                self.reference.add(algorithm, [d for d, _ in rows], [m for _, m in rows])
                self.seen[algorithm] += [d for d, _ in rows]
        self.fast = self._build_from_reference()

    def _build_from_reference(self) -> SortedArrayIndex:
        """A fresh fast index of the reference's content, one (digest, member) row each."""
        sets = LabelSetTable()
        parts = {}
        for algorithm in Algorithm:
            keys, ids = [], []
            for digest in set(self.seen[algorithm]):
                set_id = self.reference.lookup(algorithm, digest)
                if set_id == MISS:
                    continue
                for member in self.reference.label_set(set_id):
                    keys.append(digest)
                    ids.append(sets.intern(frozenset({member})))
            if keys:
                matrix = np.frombuffer(b"".join(keys), np.uint8).reshape(len(keys), algorithm.width)
                parts[algorithm] = [(matrix, np.array(ids))]
        return SortedArrayIndex.build(parts, sets, threads=2)

    @rule(algorithm=ALGORITHMS, data=st.data())
    def ingest(self, algorithm: Algorithm, data: st.DataObject) -> None:
        rows = data.draw(st.lists(st.tuples(digests(algorithm), MEMBERS), min_size=1, max_size=10))
        keys, members = [d for d, _ in rows], [m for _, m in rows]
        self.reference.add(algorithm, keys, members)
        self.fast.add(algorithm, keys, members)
        self.seen[algorithm] += keys

    @rule(algorithm=ALGORITHMS, data=st.data(), slot=st.integers(0, 3))
    def delete(self, algorithm: Algorithm, data: st.DataObject, slot: int) -> None:
        pool = self.seen[algorithm] or [bytes(algorithm.width)]
        keys = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=10))
        self.reference.remove(algorithm, keys, slot)
        self.fast.remove(algorithm, keys, slot)

    @rule()
    def rebuild(self) -> None:
        """Fold the overlay into a new base, as a snapshot build does."""
        self.fast = self._build_from_reference()

    @rule(algorithm=ALGORITHMS, data=st.data())
    def lookup(self, algorithm: Algorithm, data: st.DataObject) -> None:
        pool = self.seen[algorithm]
        queries = data.draw(
            st.lists(
                st.one_of(digests(algorithm), st.sampled_from(pool or [bytes(algorithm.width)])),
                max_size=20,
            )
        )
        matrix = np.frombuffer(b"".join(queries), np.uint8).reshape(len(queries), algorithm.width)
        fast = self.fast.lookup_batch(algorithm, matrix)
        reference = self.reference.lookup_batch(algorithm, matrix)
        for digest, a, b in zip(queries, fast.tolist(), reference.tolist(), strict=True):
            assert resolved(self.fast, a) == resolved(self.reference, b), digest.hex()
            assert resolved(self.fast, self.fast.lookup(algorithm, digest)) == resolved(
                self.reference, b
            )

    @invariant()
    def counts_agree(self) -> None:
        for algorithm in Algorithm:
            assert self.fast.count(algorithm) == self.reference.count(algorithm)


TestIndexesAgree = IndexesAgree.TestCase
