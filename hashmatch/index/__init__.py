"""The set-lookup core: the fast index, its reference twin, and snapshots.

* :class:`HashIndex`: what every index answers (digest -> label-set id);
* :class:`SortedArrayIndex`: sorted fixed-width keys with a directory, memory-mapped;
* :class:`SetIndex`: the plain dict twin the fast index is tested against;
* :class:`SnapshotStore`: builds beside the serving snapshot, publishes atomically.
"""

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
from hashmatch.index.reference import SetIndex
from hashmatch.index.snapshot import (
    SNAPSHOT_FORMAT,
    ChainLink,
    Snapshot,
    SnapshotList,
    SnapshotSource,
    SnapshotStore,
)
from hashmatch.index.sorted_array import SortedArrayIndex, SortedKeys

__all__ = [
    "MISS",
    "SNAPSHOT_FORMAT",
    "ChainLink",
    "DigestMatrix",
    "HashIndex",
    "IdArray",
    "LabelSet",
    "LabelSetTable",
    "Member",
    "SetIndex",
    "Snapshot",
    "SnapshotList",
    "SnapshotSource",
    "SnapshotStore",
    "SortedArrayIndex",
    "SortedKeys",
    "as_digest_matrix",
]
