"""What every lookup index is: digests in, label-set ids out.

A *member* is one list's claim on a digest: the list's slot in the snapshot and the labels
that list gave the entry, verbatim. A *label set* is every member a digest has; entries
with the same members share one label set, so an index stores one small integer per key.

Two implementations stand behind :class:`HashIndex`: the fast
:class:`~hashmatch.index.sorted_array.SortedArrayIndex` and the plain
:class:`~hashmatch.index.reference.SetIndex`, its reference twin for tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch.digests import Algorithm

__all__ = [
    "MISS",
    "DigestMatrix",
    "HashIndex",
    "IdArray",
    "LabelSet",
    "LabelSetTable",
    "Member",
    "as_digest_matrix",
]

MISS = -1
"""The label-set id of a digest that is on no list."""

DigestMatrix = npt.NDArray[np.uint8]
"""Digests as an (n, width) C-contiguous uint8 array, one row per digest."""

IdArray = npt.NDArray[np.int64]
"""Label-set ids, one per queried digest; :data:`MISS` where there is none."""


@dataclass(frozen=True, slots=True, order=True)
class Member:
    """One list's claim on a digest: its slot in the snapshot and its labels, verbatim."""

    slot: int
    labels: str | None = None
    """Canonical JSON of the source's labels (see :mod:`hashmatch.records`), or None."""


LabelSet = frozenset[Member]
"""Every member of one digest."""


class LabelSetTable:
    """Interns label sets: equal sets get one id. Ids are dense, from 0."""

    def __init__(self, sets: Iterable[LabelSet] = ()) -> None:
        self._sets: list[LabelSet] = []
        self._ids: dict[LabelSet, int] = {}
        for label_set in sets:
            self.intern(label_set)

    def intern(self, label_set: LabelSet) -> int:
        """The id of ``label_set``, allocating one if it is new."""
        found = self._ids.get(label_set)
        if found is None:
            found = len(self._sets)
            self._sets.append(label_set)
            self._ids[label_set] = found
        return found

    def __getitem__(self, set_id: int) -> LabelSet:
        return self._sets[set_id]

    def __len__(self) -> int:
        return len(self._sets)

    def __iter__(self) -> Iterator[LabelSet]:
        return iter(self._sets)


def as_digest_matrix(digests: Sequence[bytes] | DigestMatrix, algorithm: Algorithm) -> DigestMatrix:
    """Digests as an (n, width) uint8 matrix; raises ValueError on a wrong width."""
    width = algorithm.width
    if isinstance(digests, np.ndarray):
        matrix = np.ascontiguousarray(digests, dtype=np.uint8)
        if matrix.ndim != 2 or matrix.shape[1] != width:
            raise ValueError(f"{algorithm.value} digests must be an (n, {width}) array")
        return matrix
    raw = b"".join(digests)
    if len(raw) != width * len(digests):
        raise ValueError(f"every {algorithm.value} digest must be {width} bytes")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(digests), width).copy()


class HashIndex(ABC):
    """Maps (algorithm, digest) to the label set of every list the digest is on.

    Lookups return label-set ids (:data:`MISS` when absent) and :meth:`label_set` resolves
    them; ids are only meaningful within one index. :meth:`add` and :meth:`remove` apply a
    delta without a rebuild.
    """

    @abstractmethod
    def lookup(self, algorithm: Algorithm, digest: bytes) -> int:
        """The label-set id of one digest, or :data:`MISS`. Raises ValueError on a wrong width."""

    @abstractmethod
    def lookup_batch(self, algorithm: Algorithm, digests: DigestMatrix) -> IdArray:
        """Label-set ids for a whole (n, width) matrix of digests, in order."""

    @abstractmethod
    def label_set(self, set_id: int) -> LabelSet:
        """The members behind a label-set id. Raises IndexError for an unknown id."""

    @abstractmethod
    def count(self, algorithm: Algorithm) -> int:
        """How many distinct digests of ``algorithm`` the index holds."""

    @abstractmethod
    def add(self, algorithm: Algorithm, digests: DigestMatrix, members: Sequence[Member]) -> None:
        """Give ``digests[i]`` the member ``members[i]`` besides those it has."""

    @abstractmethod
    def remove(self, algorithm: Algorithm, digests: DigestMatrix, slot: int) -> None:
        """Take list ``slot``'s members off ``digests``; a digest left with none is gone."""
