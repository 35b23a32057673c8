"""hashmatch: match file digests against vetted lists; record verdicts and labels, never content.

The public API is re-exported here once; everything else is private to its module. Names
load on first use (PEP 562), so that importing a light module, or running ``--help``, does
not pay for numpy and pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hashmatch._version import __version__

if TYPE_CHECKING:
    from hashmatch.digests import Algorithm, Digest, parse_digest
    from hashmatch.errors import HashmatchError
    from hashmatch.model import Purpose, Verdict

__all__ = [
    "Algorithm",
    "Digest",
    "HashmatchError",
    "Purpose",
    "Verdict",
    "__version__",
    "parse_digest",
]

_WHERE = {
    "Algorithm": "hashmatch.digests",
    "Digest": "hashmatch.digests",
    "parse_digest": "hashmatch.digests",
    "HashmatchError": "hashmatch.errors",
    "Purpose": "hashmatch.model",
    "Verdict": "hashmatch.model",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'hashmatch' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
