"""Perceptual similarity: leads for the review queue, through a licensed vendor, never verdicts.

Given a vendor (:class:`~hashmatch.perceptual.PerceptualVendor`), the files to consider
(:class:`PerceptualFile`: which row each is, and where it is on this machine) and the
perceptual fingerprints that loaded lists carry (:class:`ListFingerprint`),
:func:`match_perceptual` does, in this order:

1. hashes each file with :meth:`~hashmatch.perceptual.PerceptualVendor.compute`. A file
   that is not there, that the vendor does not hash (``None``) or cannot hash
   (:class:`~hashmatch.errors.FileNotHashable`) is counted as not hashed, with its reason,
   and the run goes on;
2. asks the vendor's own list (:meth:`~hashmatch.perceptual.PerceptualVendor.match`), a
   batch of hashes at a time;
3. when the vendor names a ``FINGERPRINT`` tag and its
   :meth:`~hashmatch.perceptual.PerceptualVendor.distance` gives numbers, compares every
   hash with every list fingerprint under that tag (an entry's ``perceptual`` label holds
   ``"<tag>:<hash>"``), keeping those at a distance of at most the vendor's
   ``max_distance``.

A :class:`~hashmatch.errors.VendorError` stops the vendor's part: no further file is hashed
and the vendor's list is not asked again; the files not yet hashed are counted as not
reached, the reason is kept in :attr:`PerceptualOutcome.stopped`, and what was found stands
(the hashes made before it are still compared with the list fingerprints, a local
computation). Exact verdicts are not this module's business: it never sees them, and
nothing it returns is a verdict.

The comparison with list fingerprints is plain Python, every hash against every
fingerprint (``files x fingerprints`` calls of ``distance``): fine for the review queue of a
case against lists whose entries carry a few thousand fingerprints of the vendor's kind,
slow for millions. A vendor with an index of its own should offer it through
:meth:`~hashmatch.perceptual.PerceptualVendor.match`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashmatch.errors import FileNotHashable, VendorError
from hashmatch.perceptual import PerceptualVendor

__all__ = [
    "MATCH_BATCH",
    "NOT_A_KIND",
    "NOT_REACHED",
    "ListFingerprint",
    "PerceptualFile",
    "PerceptualOutcome",
    "SimilarEntry",
    "match_perceptual",
]

MATCH_BATCH = 64
"""Hashes sent to the vendor's own list per :meth:`PerceptualVendor.match` call."""

NOT_A_KIND = "not a kind of file this vendor hashes"
"""The reason counted for a file the vendor's ``compute`` answered None for."""

NOT_REACHED = "not reached: the vendor failed before this file"
"""The reason counted for the files left when a VendorError stopped the run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PerceptualFile:
    """One row to consider: which row it is, and its file on this machine (if it is here)."""

    input: int
    line: int
    path: Path | None
    """The local file to hash; None when it is not available (``reason`` says why)."""
    size: int = 0
    """Its size in bytes, for the progress report."""
    reason: str | None = None
    """Why there is no file to hash (not there, a link, no path in the manifest...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListFingerprint:
    """An entry of a loaded list that carries perceptual fingerprints of the vendor's kind."""

    list_name: str
    list_version: int
    entry: str
    """The entry's ``source_id`` label, else its strongest digest (``sha256:<hex>``...)."""
    values: tuple[str, ...]
    """Its fingerprints under the vendor's tag, without the ``<tag>:`` prefix."""
    labels: Mapping[str, Any] = field(default_factory=dict)
    """The entry's labels, verbatim."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimilarEntry:
    """A file whose perceptual hash is near an entry: a lead for a person, never a verdict."""

    input: int
    line: int
    vendor: str
    """The vendor adapter's ``NAME``."""
    vendor_version: str
    """The vendor's algorithm, library or service version, as it reports it."""
    adapter_version: str
    """The vendor adapter's own ``VERSION``."""
    list_name: str
    list_version: int | None
    """The version of a loaded list; None for an entry of the vendor's own list."""
    vendor_list: bool
    """Whether the entry is on the vendor's own list (its ``match``), not a loaded one."""
    entry: str
    distance: float | None
    """In the vendor's measure; None when the vendor's service gave none."""
    labels: Mapping[str, Any] = field(default_factory=dict)
    """What the list (or the vendor) says of the entry, verbatim."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PerceptualOutcome:
    """What the perceptual part of a run did and found."""

    vendor: str
    vendor_version: str | None
    """None when the vendor could not even say its version (it failed at once)."""
    adapter_version: str
    fingerprint: str
    """The tag under which lists carry this vendor's hashes (``""``: none)."""
    max_distance: float
    considered: int
    hashed: int
    not_hashed: Mapping[str, int]
    """Files not hashed, by reason."""
    results: tuple[SimilarEntry, ...]
    """By input, line, distance, list and entry."""
    fingerprints_compared: int = 0
    """List entries with fingerprints of the vendor's kind that hashes were compared with."""
    unreadable_fingerprints: int = 0
    """List fingerprints under the vendor's tag that its ``distance`` refused (skipped)."""
    stopped: str | None = None
    """Why the vendor's part stopped early (a VendorError), or None."""
    unanswered: Mapping[str, int] = field(default_factory=dict)
    """Hashed files the vendor's own list gave no answer for, by its reason
    (:meth:`~hashmatch.perceptual.PerceptualVendor.match_problems`)."""

    @property
    def similar_files(self) -> int:
        """Files with at least one similar entry."""
        return len({(r.input, r.line) for r in self.results})


def match_perceptual(
    vendor: PerceptualVendor,
    files: Iterable[PerceptualFile],
    fingerprints: Callable[[], Sequence[ListFingerprint]],
    *,
    batch_size: int = MATCH_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> PerceptualOutcome:
    """Hash ``files`` through ``vendor`` and find the entries near each (see the module).

    ``fingerprints`` is called at most once, and only when a file was hashed and the
    vendor compares hashes itself (it reads the lists). ``progress`` is told the bytes of
    the files done so far and of all the files to hash.
    """
    chosen = list(files)
    not_hashed: Counter[str] = Counter()
    unanswered: Counter[str] = Counter()
    stopped: str | None = None
    try:
        vendor_version: str | None = vendor.version
    except VendorError as exc:
        vendor_version, stopped = None, exc.reason
    total = sum(f.size for f in chosen if f.path is not None)
    done = 0
    hashed: list[tuple[PerceptualFile, str]] = []
    for item in chosen:
        if item.path is None:
            not_hashed[item.reason or "file not available"] += 1
            continue
        if stopped is not None:
            not_hashed[NOT_REACHED] += 1
            continue
        try:
            value = vendor.compute(item.path)
        except FileNotHashable as exc:
            not_hashed[exc.reason] += 1
        except VendorError as exc:
            stopped = exc.reason
            not_hashed[NOT_REACHED] += 1
        else:
            if value is None:
                not_hashed[NOT_A_KIND] += 1
            else:
                hashed.append((item, value))
        done += item.size
        if progress is not None:
            progress(done, total)
    context = _Context(vendor=vendor, version=vendor_version or "")
    results: list[SimilarEntry] = []
    if hashed and stopped is None:
        stopped = _vendor_list(context, hashed, batch_size, results, unanswered)
    compared, unreadable = 0, 0
    if hashed and vendor.FINGERPRINT and vendor_version is not None:
        compared, unreadable, failed = _local_lists(context, hashed, fingerprints, results)
        stopped = stopped or failed
    results.sort(
        key=lambda r: (
            r.input,
            r.line,
            r.distance if r.distance is not None else float("inf"),
            r.vendor_list,
            r.list_name,
            r.entry,
        )
    )
    return PerceptualOutcome(
        vendor=vendor.NAME,
        vendor_version=vendor_version,
        adapter_version=vendor.VERSION,
        fingerprint=vendor.FINGERPRINT,
        max_distance=vendor.max_distance,
        considered=len(chosen),
        hashed=len(hashed),
        not_hashed=dict(sorted(not_hashed.items())),
        unanswered=dict(sorted(unanswered.items())),
        results=tuple(results),
        fingerprints_compared=compared,
        unreadable_fingerprints=unreadable,
        stopped=stopped,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    vendor: PerceptualVendor
    version: str

    def similar(
        self,
        item: PerceptualFile,
        *,
        list_name: str,
        list_version: int | None,
        entry: str,
        distance: float | None,
        labels: Mapping[str, Any],
    ) -> SimilarEntry:
        return SimilarEntry(
            input=item.input,
            line=item.line,
            vendor=self.vendor.NAME,
            vendor_version=self.version,
            adapter_version=self.vendor.VERSION,
            list_name=list_name,
            list_version=list_version,
            vendor_list=list_version is None,
            entry=entry,
            distance=distance,
            labels=dict(labels),
        )


def _vendor_list(
    context: _Context,
    hashed: Sequence[tuple[PerceptualFile, str]],
    batch_size: int,
    results: list[SimilarEntry],
    unanswered: Counter[str],
) -> str | None:
    """Each hash's hits in the vendor's own list; the reason if the vendor failed.

    The vendor's service decides what matches in its own list: its hits are kept whatever
    distance it gives (the threshold applies to the comparison with list fingerprints).
    Hashes the service could not answer for are counted in ``unanswered`` with the reason.
    """
    for start in range(0, len(hashed), max(batch_size, 1)):
        chunk = hashed[start : start + batch_size]
        try:
            answers = context.vendor.match([value for _, value in chunk])
        except VendorError as exc:
            return exc.reason
        if len(answers) != len(chunk):
            return (
                f"the vendor's list answered {len(answers)} results for {len(chunk)} hashes; "
                "its answers were not used"
            )
        for position, reason in sorted(context.vendor.match_problems().items()):
            if 0 <= position < len(chunk):
                unanswered[reason] += 1
        for (item, _), hits in zip(chunk, answers, strict=True):
            for hit in hits:
                results.append(
                    context.similar(
                        item,
                        list_name=hit.list_name,
                        list_version=None,
                        entry=hit.entry,
                        distance=hit.distance,
                        labels=hit.labels,
                    )
                )
    return None


def _local_lists(
    context: _Context,
    hashed: Sequence[tuple[PerceptualFile, str]],
    fingerprints: Callable[[], Sequence[ListFingerprint]],
    results: list[SimilarEntry],
) -> tuple[int, int, str | None]:
    """Every hash against every list fingerprint of the vendor's kind.

    Returns the entries compared with, the fingerprints the vendor refused, and the reason
    if the vendor failed. Nothing is compared when ``distance`` gives no number (only the
    vendor's service compares its hashes).
    """
    vendor = context.vendor
    first = hashed[0][1]
    try:
        if vendor.distance(first, first) is None:
            return 0, 0, None
    except VendorError as exc:
        return 0, 0, exc.reason
    except ValueError:
        return 0, 0, "the vendor refused a hash it made itself"
    entries = fingerprints()
    limit = vendor.max_distance
    refused: set[tuple[int, int]] = set()
    for item, value in hashed:
        for number, entry in enumerate(entries):
            best: float | None = None
            for position, listed in enumerate(entry.values):
                try:
                    distance = vendor.distance(value, listed)
                except ValueError:
                    refused.add((number, position))
                    continue
                except VendorError as exc:
                    return len(entries), len(refused), exc.reason
                if distance is not None and (best is None or distance < best):
                    best = distance
            if best is not None and best <= limit:
                results.append(
                    context.similar(
                        item,
                        list_name=entry.list_name,
                        list_version=entry.list_version,
                        entry=entry.entry,
                        distance=best,
                        labels=entry.labels,
                    )
                )
    return len(entries), len(refused), None
