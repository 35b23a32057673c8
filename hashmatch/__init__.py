"""hashmatch: match file digests against vetted lists; record verdicts and labels, never content.

The public API is re-exported here once; everything else is private to its module.
"""

from hashmatch._version import __version__
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
