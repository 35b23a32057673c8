"""The extension point for licensed perceptual-hash vendors: :class:`PerceptualVendor`.

Perceptual hashes (PhotoDNA and the like) are licensed. hashmatch implements none and ships
none: it reaches them only through a vendor adapter, and only when the operator's
configuration names a licence for that vendor (:class:`VendorLicence`: a key, an endpoint,
where the licensed library is). Without one, nothing perceptual happens and every exact
verdict is as it always was.

A vendor adapter does two things, on the examiner's machine only:

* :meth:`PerceptualVendor.compute`: the perceptual hash of a local file, through the
  vendor's licensed library or service;
* matching, in one or both of two ways: :meth:`PerceptualVendor.match` against the vendor's
  own list (a matching service), and :meth:`PerceptualVendor.distance` between two of its
  hashes, so that the core can compare a file's hash with the fingerprints that loaded lists
  carry in their ``perceptual`` label under the vendor's :attr:`~PerceptualVendor.FINGERPRINT`
  tag (NCMEC entries carry ``pdna:...``).

What comes of it is a lead for review, reported apart from the exact verdicts ("similar to
entry X of list Y at distance d, via vendor V version W"): never a verdict, never ``known``.

What a vendor raises:

* :class:`FileNotHashable`: this one file cannot be hashed (unreadable, corrupt, too small).
  The file is reported as not hashed, with the reason, and the run goes on.
* :class:`VendorError`: the library or service failed (after the retries, for a service).
  The perceptual part of the run stops and the report says so; exact verdicts are unaffected.
* :class:`NotLicensed` (a :class:`~hashmatch.errors.ConfigurationError`): the vendor was asked
  for but no licence for it is configured, or the licence lacks what the vendor needs.

Vendors register through the adapter registry, like format adapters
(:mod:`hashmatch.registry`, entry-point group ``hashmatch.adapters``).

Licences are kept in a TOML file, one table per vendor ``NAME`` (:func:`load_licences`;
the setting ``HASHMATCH_PERCEPTUAL_LICENCES``, by default :data:`LICENCE_FILE` in the data
directory). A vendor is enabled only when its table has a non-empty ``key``. The file is
refused when its group or others may access it, and the key is never printed.
"""

from __future__ import annotations

import os
import stat
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hashmatch.errors import ConfigurationError, FileNotHashable, NotLicensed, VendorError

__all__ = [
    "LICENCE_FILE",
    "FileNotHashable",
    "NotLicensed",
    "PerceptualVendor",
    "VendorError",
    "VendorLicence",
    "VendorMatch",
    "load_licences",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorLicence:
    """What the licensee configured for one vendor. The key is never printed."""

    vendor: str
    """The vendor adapter's ``NAME``."""
    key: str = field(default="", repr=False)
    """The licence or subscription key (sent to the vendor's service, nowhere else)."""
    endpoint: str | None = None
    """The vendor service's API root, when the vendor has one."""
    library: str | None = None
    """Where the licensed hashing library is (``module:function``, or a path), when the
    vendor computes hashes locally."""
    max_distance: float | None = None
    """The largest distance reported as similar (default: the vendor's own)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Anything else the vendor's adapter documents."""

    def __repr__(self) -> str:
        return (
            f"VendorLicence(vendor={self.vendor!r}, key='***', endpoint={self.endpoint!r}, "
            f"library={self.library!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True, kw_only=True)
class VendorMatch:
    """A hit in the vendor's own list, as its matching service gives it."""

    list_name: str
    """The vendor's name for the list or source that matched."""
    entry: str
    """The vendor's id of the entry that matched."""
    distance: float | None = None
    """How far apart the hashes are, in the vendor's measure (None if it gives none)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """What the vendor says of the entry (its classification, say), verbatim."""


class PerceptualVendor(ABC):
    """A licensed perceptual-hash vendor, reached through its library or service.

    Subclasses set ``NAME`` (stable once released: ``--perceptual NAME``), ``DESCRIPTION``
    (one line), ``FINGERPRINT`` (the tag under which lists carry this vendor's hashes in
    their ``perceptual`` label, or ``""``), ``DEFAULT_MAX_DISTANCE``, and may set
    ``VERSION`` (the adapter's own version).
    """

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str]
    VERSION: ClassVar[str] = "1"
    FINGERPRINT: ClassVar[str] = ""
    FINGERPRINT_ALIASES: ClassVar[tuple[str, ...]] = ()
    """Other tags sources write the same kind of hash under (NCMEC writes PhotoDNA as
    ``pdna:``, VICS and ICSE as ``photodna:``): list fingerprints under any of them are
    compared."""
    DEFAULT_MAX_DISTANCE: ClassVar[float] = 0.0

    def __init__(self, licence: VendorLicence) -> None:
        self.licence = licence

    @property
    def max_distance(self) -> float:
        """The largest distance reported as similar: the licence's, or the vendor's default."""
        chosen = self.licence.max_distance
        return self.DEFAULT_MAX_DISTANCE if chosen is None else chosen

    @property
    @abstractmethod
    def version(self) -> str:
        """The vendor's algorithm, library or service version, as the vendor reports it.

        Raises :class:`VendorError` when it cannot be had.
        """

    @abstractmethod
    def compute(self, path: Path) -> str | None:
        """The perceptual hash of the local file ``path``, as text in the vendor's encoding.

        None when the vendor does not hash this kind of file (not an image, say). Raises
        :class:`FileNotHashable` when this file cannot be hashed, :class:`VendorError` when
        the library or service fails. Never writes to, moves or changes the file.
        """

    def distance(self, a: str, b: str) -> float | None:
        """How far apart two of this vendor's hashes are; None: only its service compares.

        Raises :class:`ValueError` for a value that is not one of its hashes.
        """
        return None

    def match(self, hashes: Sequence[str]) -> list[list[VendorMatch]]:
        """Each hash's hits in the vendor's own list, in order (default: it has no list).

        Raises :class:`VendorError` when the service fails after its retries.
        """
        return [[] for _ in hashes]

    def match_problems(self) -> Mapping[int, str]:
        """Why some hashes of the last :meth:`match` call got no answer, by position.

        A service may refuse one hash (malformed, say) and answer the others; those hashes
        are reported as unmatched, with the reason, not as "no similar entry". Default:
        none.
        """
        return {}

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release the library or connections."""


LICENCE_FILE = "perceptual-licences.toml"
"""The licence file's name in the data directory, used when no other path is configured."""

_LICENCE_FIELDS = ("key", "endpoint", "library", "max_distance")


def load_licences(path: Path) -> dict[str, VendorLicence]:
    """The licences in the TOML file ``path``, by vendor ``NAME``.

    One table per vendor::

        [test-vendor]
        key = "..."                 # the licence or subscription key (required to enable it)
        endpoint = "https://..."    # the vendor service's API root, if it has one
        library = "module:function" # where the licensed library is, if it hashes locally
        max_distance = 8            # the largest distance reported as similar
        list = "/path/to/list.txt"  # anything else: options for the vendor, as text

    The file holds keys: like ssh with a private key, it is refused (ConfigurationError)
    when its group or others have any access to it. A value that is not what it should be
    is named in the error by its table and field, never quoted: it might be the key.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigurationError("no such licence file", source=str(path)) from None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the licence file: {exc.strerror}", source=str(path)
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigurationError("the licence file is not a regular file", source=str(path))
    if info.st_mode & 0o077:
        raise ConfigurationError(
            f"the licence file holds keys, and its group or others may access it "
            f"(mode {stat.S_IMODE(info.st_mode):03o}): run chmod 600 {path}",
            source=str(path),
        )
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the licence file: {exc.strerror}", source=str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages give a position, never the text at it
        raise ConfigurationError(f"not valid TOML: {exc}", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigurationError("not valid TOML: not UTF-8 text", source=str(path)) from None
    return {name: _licence(name, table, str(path)) for name, table in sorted(document.items())}


def _licence(name: str, table: Any, source: str) -> VendorLicence:
    if not isinstance(table, dict):
        raise ConfigurationError(
            f"{name!r} must be a table of its own ([{name}] and its fields below it)",
            source=source,
        )

    def text(field_name: str) -> str | None:
        value = table.get(field_name)
        if value is None or isinstance(value, str):
            return value
        raise ConfigurationError(f"[{name}] {field_name} must be text", source=source)

    distance = table.get("max_distance")
    if distance is not None and (
        isinstance(distance, bool) or not isinstance(distance, int | float) or distance < 0
    ):
        raise ConfigurationError(
            f"[{name}] max_distance must be a number, 0 or more", source=source
        )
    options: dict[str, str] = {}
    for option, value in table.items():
        if option in _LICENCE_FIELDS:
            continue
        if isinstance(value, bool):
            options[option] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            options[option] = str(value)
        else:
            raise ConfigurationError(
                f"[{name}] {option} must be text, a number or true/false", source=source
            )
    return VendorLicence(
        vendor=name,
        key=(text("key") or "").strip(),
        endpoint=text("endpoint"),
        library=text("library"),
        max_distance=None if distance is None else float(distance),
        options=options,
    )
