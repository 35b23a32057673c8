"""The label vocabulary: what adapters call the things sources say about an entry.

Labels stay the source's own words: a category code is kept exactly as the source wrote
it (as text, ``"1"``, ``"A1"``, ``"B"``), next to the name of the scheme it belongs to.
Nothing here maps one scheme onto another; crosswalks do that on request, and the
original is always shown beside a mapped value.

Each row's labels are one flat JSON object (:func:`hashmatch.records.encode_labels`):
keys are lower ``snake_case``; values are text, integers, booleans or lists of text. The
keys below are the shared vocabulary every adapter uses where its format has the thing;
a format may add its own keys (prefixed with the adapter's ``NAME`` and an underscore,
for example ``vics_media_id``) for what the vocabulary has no word for.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BOOLEAN_FLAGS",
    "FREE_TEXT",
    "Label",
    "Scheme",
    "Sharing",
    "strip_free_text",
]


class Label(enum.StrEnum):
    """The shared label keys."""

    SCHEME = "scheme"
    """The category scheme the ``category`` belongs to (a :class:`Scheme` value, or the
    source's own scheme name when it has none of these)."""
    CATEGORY = "category"
    """The source's category code, verbatim, as text."""
    CATEGORY_NAME = "category_name"
    """The source's display text for the category, where it gives one."""
    REVIEW = "review"
    """Why a human should look at this entry's labels (an unmapped category code, ...)."""

    VICTIM_IDENTIFIED = "victim_identified"
    OFFENDER_IDENTIFIED = "offender_identified"
    SERIES = "series"
    """Series name (free text). ``in_series`` is the flag when only that is known."""
    IN_SERIES = "in_series"
    DISTRIBUTED = "distributed"
    SELF_GENERATED = "self_generated"
    REPORT_REMOVE = "report_remove"
    """A child asked for this image to be taken down: never a lead against that child."""
    COMPUTER_GENERATED = "computer_generated"
    DECOY = "decoy"
    """A decoy or warning file."""
    PRECATEGORIZED = "precategorized"
    SUSPECTED = "suspected"
    CONFIRMATIONS = "confirmations"
    """How many agencies confirmed the grading (an integer)."""
    SHARING = "sharing"
    """A :class:`Sharing` value."""

    COMMENTS = "comments"
    TAGS = "tags"
    SOURCE_ID = "source_id"
    """The source's own id for the entry (NCMEC ``member-id``, a VICS MediaID ...)."""
    MEMBER = "member"
    """Who submitted the entry to a sharing platform (NCMEC member id)."""
    MEMBER_NAME = "member_name"
    SET_NAME = "set_name"
    """The name of the hash set inside the file (EnCase, HashKeeper, iLook)."""
    PRODUCT = "product"
    """Software products a known file belongs to (NSRL), as ``"name version"`` texts."""
    UPDATED = "updated"
    """When the source last changed the entry, as the source wrote it."""
    PERCEPTUAL = "perceptual"
    """Perceptual fingerprints, kept as ``"algorithm:value"`` texts and never matched."""
    GRADED_BY = "graded_by"
    """The reviewer who graded the entry (``hashmatch review grade``)."""
    GRADED_AT = "graded_at"
    """When the reviewer graded it, ISO 8601 in UTC."""
    CASE_REF = "case_ref"
    """The case a reviewer's grading was made in (left out of exports)."""


class Scheme(enum.StrEnum):
    """Category schemes in use (DOMAIN.md)."""

    UK = "uk"
    """UK legal grading: A, B, C."""
    VICS_US = "vics-us"
    """Project VIC US (and Default) profile: 0 non-pertinent ... 4 comparison images."""
    VICS_UK = "vics-uk"
    """VICS 2.0 UK profile (CAID): integer codes whose meaning a profile table gives."""
    VICS_LEGACY = "vics-legacy"
    """The older DHS-derived VICS scheme: 0 uncategorised ... 5 non-pertinent."""
    NCMEC = "ncmec"
    """NCMEC industry classification: A1, A2, B1, B2."""
    INTERPOL = "interpol"
    """INTERPOL "worst of" baseline."""


class Sharing(enum.StrEnum):
    """Who may see an entry."""

    LAW_ENFORCEMENT = "law-enforcement"
    INDUSTRY = "industry"
    PUBLIC = "public"


BOOLEAN_FLAGS: frozenset[str] = frozenset(
    {
        Label.VICTIM_IDENTIFIED,
        Label.OFFENDER_IDENTIFIED,
        Label.IN_SERIES,
        Label.DISTRIBUTED,
        Label.SELF_GENERATED,
        Label.REPORT_REMOVE,
        Label.COMPUTER_GENERATED,
        Label.DECOY,
        Label.PRECATEGORIZED,
        Label.SUSPECTED,
    }
)
"""Keys whose value is true or false (absent when the source does not say)."""

FREE_TEXT: frozenset[str] = frozenset({Label.SERIES, Label.COMMENTS, Label.TAGS, Label.MEMBER_NAME})
"""Keys that hold free text, which an export can strip (``--strip-free-text``)."""


def strip_free_text(labels: Mapping[str, Any]) -> dict[str, Any]:
    """``labels`` without the free-text keys; a stripped series still says it is one."""
    kept = {k: v for k, v in labels.items() if k not in FREE_TEXT}
    if labels.get(Label.SERIES):
        kept[Label.IN_SERIES] = True
    return kept
