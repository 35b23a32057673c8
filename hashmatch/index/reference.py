"""The reference twin of the fast index: a Python dict, obviously correct and slow.

It answers exactly what :class:`~hashmatch.index.sorted_array.SortedArrayIndex` answers,
and the stateful test holds the two to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hashmatch.digests import Algorithm
from hashmatch.index._base import (
    MISS,
    DigestMatrix,
    HashIndex,
    IdArray,
    LabelSet,
    LabelSetTable,
    Member,
    as_digest_matrix,
)

__all__ = ["SetIndex"]


class SetIndex(HashIndex):
    """``{(algorithm, digest): label set}`` in a dict."""

    def __init__(self) -> None:
        self._sets = LabelSetTable()
        self._keys: dict[Algorithm, dict[bytes, int]] = {a: {} for a in Algorithm}

    def lookup(self, algorithm: Algorithm, digest: bytes) -> int:
        if len(digest) != algorithm.width:
            raise ValueError(f"{algorithm.value} digest must be {algorithm.width} bytes")
        return self._keys[algorithm].get(bytes(digest), MISS)

    def lookup_batch(self, algorithm: Algorithm, digests: DigestMatrix) -> IdArray:
        matrix = as_digest_matrix(digests, algorithm)
        table = self._keys[algorithm]
        return np.array([table.get(row.tobytes(), MISS) for row in matrix], dtype=np.int64)

    def label_set(self, set_id: int) -> LabelSet:
        if set_id < 0:
            raise IndexError(set_id)
        return self._sets[set_id]

    def count(self, algorithm: Algorithm) -> int:
        return len(self._keys[algorithm])

    def add(self, algorithm: Algorithm, digests: DigestMatrix, members: Sequence[Member]) -> None:
        matrix = as_digest_matrix(digests, algorithm)
        if len(matrix) != len(members):
            raise ValueError("one member per digest")
        table = self._keys[algorithm]
        for row, member in zip(matrix, members, strict=True):
            key = row.tobytes()
            current = self._sets[table[key]] if key in table else frozenset()
            table[key] = self._sets.intern(current | {member})

    def remove(self, algorithm: Algorithm, digests: DigestMatrix, slot: int) -> None:
        table = self._keys[algorithm]
        for row in as_digest_matrix(digests, algorithm):
            key = row.tobytes()
            if key not in table:
                continue
            kept = frozenset(m for m in self._sets[table[key]] if m.slot != slot)
            if kept:
                table[key] = self._sets.intern(kept)
            else:
                del table[key]
