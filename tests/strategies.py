"""Reusable Hypothesis strategies for hashmatch's tests: digests, file names, sizes.

Import from here instead of redefining a strategy in a test module, and give a new
strategy a light test in ``tests/unit/test_strategies.py``. Strategies return text the
way files hold it (hex digests in any case, names with the awkward characters a format
allows), so that parsers are tested on what they meet in the wild.
"""

from __future__ import annotations

import base64
import string

from hypothesis import strategies as st

from hashmatch.digests import Algorithm
from hashmatch.records import LabelValue

__all__ = [
    "ALGORITHMS",
    "HEX_CASES",
    "algorithm_hex",
    "digest_bytes",
    "digest_cells",
    "file_names",
    "file_sizes",
    "hex_digests",
    "label_maps",
]

ALGORITHMS = st.sampled_from(list(Algorithm))
"""Any algorithm hashmatch matches."""

HEX_CASES = ("lower", "upper", "mixed")
"""How :func:`hex_digests` may spell a digest: sources disagree (FORMATS.md §0.1)."""


def digest_bytes(algorithm: Algorithm) -> st.SearchStrategy[bytes]:
    """Raw digest bytes of the width ``algorithm`` produces."""
    return st.binary(min_size=algorithm.width, max_size=algorithm.width)


@st.composite
def hex_digests(
    draw: st.DrawFn, algorithm: Algorithm | None = None, *, case: str | None = None
) -> str:
    """A hex digest of ``algorithm`` (any if None), in ``case`` (any of :data:`HEX_CASES`)."""
    if algorithm is None:
        algorithm = draw(ALGORITHMS)
    text = draw(digest_bytes(algorithm)).hex()
    chosen = case if case is not None else draw(st.sampled_from(HEX_CASES))
    if chosen == "upper":
        return text.upper()
    if chosen == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
        return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))
    if chosen != "lower":
        raise ValueError(f"case must be one of {HEX_CASES}, not {chosen!r}")
    return text


@st.composite
def algorithm_hex(draw: st.DrawFn, *, case: str | None = None) -> tuple[Algorithm, str]:
    """An algorithm and a hex digest of it."""
    algorithm = draw(ALGORITHMS)
    return algorithm, draw(hex_digests(algorithm, case=case))


def file_names(
    *,
    commas: bool = True,
    spaces: bool = True,
    backslashes: bool = True,
    quotes: bool = True,
    newlines: bool = False,
    carriage_returns: bool = False,
    unicode: bool = True,
    exclude: str = "",
    min_size: int = 1,
    max_size: int = 24,
) -> st.SearchStrategy[str]:
    """File names (or paths: ``/`` is allowed) with the characters a format can carry.

    Never NUL or other control characters, except ``\\n`` / ``\\r`` when asked for; with
    ``unicode`` any printable code point that UTF-8 can encode, else printable ASCII.
    Spaces may lead or trail. ``exclude`` drops more characters (a format's delimiter).
    """
    include = {"/", ".", "-", "_"}
    excluded = set(exclude)
    for wanted, chars in (
        (commas, ","),
        (spaces, " \t"),
        (backslashes, "\\"),
        (quotes, "\"'"),
        (newlines, "\n"),
        (carriage_returns, "\r"),
    ):
        (include if wanted else excluded).update(chars)
    include -= excluded
    if unicode:
        alphabet = st.characters(
            codec="utf-8",
            exclude_categories=("Cs", "Cc"),
            include_characters="".join(sorted(include)),
            exclude_characters="".join(sorted(excluded)),
        )
    else:
        printable = set(string.ascii_letters + string.digits + string.punctuation)
        alphabet = st.sampled_from(sorted((printable | include) - excluded))
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def file_sizes() -> st.SearchStrategy[int]:
    """A file size in bytes: 0 up to what a signed 64-bit column holds."""
    return st.integers(min_value=0, max_value=2**63 - 1)


@st.composite
def digest_cells(draw: st.DrawFn, algorithm: Algorithm) -> str | None:
    """What one cell of a digest column may hold in the wild, good or bad.

    Hex in any case (padded with spaces, quoted, after an md5sum ``*``, or in certutil's
    spaced pairs), base64, the hex of another algorithm, blanks, None, and noise.
    """
    raw = draw(digest_bytes(algorithm))
    text = draw(hex_digests(algorithm))
    other = draw(hex_digests(draw(ALGORITHMS)))
    return draw(
        st.sampled_from(
            [
                None,
                "",
                draw(st.sampled_from([" ", "\t", " \r\n "])),
                text,
                f" {text}\t",
                f'"{text}"',
                f"'{text}'",
                f"*{text}",
                " ".join(text[i : i + 2] for i in range(0, len(text), 2)),
                base64.b64encode(raw).decode("ascii"),
                other,
                text[:-1],
                text + "0",
                text[:-1] + "g",
                draw(st.text(max_size=2 * algorithm.hex_length)),
                draw(st.text("0123456789abcdefABCDEF =+/*\"'xyz", max_size=70)),
            ]
        )
    )


def label_maps() -> st.SearchStrategy[dict[str, LabelValue]]:
    """A source's labels: strings, numbers (``0`` included), flags, lists, and blanks."""
    values = st.one_of(
        st.none(),
        st.text(max_size=8),
        st.integers(-5, 5),
        st.booleans(),
        st.lists(st.text(max_size=5), max_size=3),
    )
    return st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=5)
