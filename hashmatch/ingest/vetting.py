"""Vetting a list source before its version is committed: signatures, checksums, bundles.

:func:`vet_source` looks at what is given to ``ingest`` before it is read: a hashmatch
bundle folder is opened (its manifest read once, its entries file checked against the
manifest, the manifest's signature checked); any other file is read as it is. After the
read, :meth:`VettedSource.finish` is given the SHA-256 of the bytes that were actually
parsed and decides, so that what was vouched for is exactly what was loaded:

* a ``<file>.sig`` (or, for a bundle, ``manifest.json.sig``) by a key the list trusts
  makes the source ``valid``; a signed ``SHA256SUMS`` beside the file that lists it
  does too;
* a checksum file beside the source that gives another digest refuses it, always;
* a signature that does not verify, or was made for other bytes, refuses the source;
* a list whose policy requires a signature refuses anything but ``valid``;
* a bundle made for a list of the other purpose (concern, benign) is refused.

Refusals raise :class:`~hashmatch.errors.VettingError`; nothing has been committed then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hashmatch.bundle import verify_bundle
from hashmatch.errors import HashmatchError, InputError, VettingError
from hashmatch.model import ListInfo, TrustedKey, Vetting
from hashmatch.signing import (
    ChecksumStatus,
    SignatureCheck,
    SignatureStatus,
    check_file,
    load_public_key,
    require_trusted,
)

__all__ = ["VettedSource", "vet_source"]

BUNDLE_FORMAT = "hashmatch-bundle"
"""The adapter that reads a bundle's entries file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VettedSource:
    """A source about to be read: which file to read, and how to finish vetting it."""

    name: str
    """The name recorded as the version's source (a bundle's folder name)."""
    entries_path: Path
    """The file to read: the file given, or a bundle's entries file."""
    fmt: str | None
    """The format to read it in, when vetting knows it (a bundle's entries)."""
    finish: Callable[[str], Vetting]
    """Called with the SHA-256 of the bytes read; returns the vetting record or raises."""


def vet_source(path: Path, listed: ListInfo, keys: Sequence[TrustedKey]) -> VettedSource:
    """Prepare ``path`` for loading into ``listed``; raises VettingError for a bad bundle."""
    trusted = _trusted(keys)
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            raise InputError(
                "a folder is not a list file (a hashmatch bundle folder holds a manifest.json)",
                source=str(path),
            )
        return _bundle_source(path, listed, trusted)

    def finish(sha256: str) -> Vetting:
        return _vet_file(path, listed, trusted, sha256)

    return VettedSource(name=path.name, entries_path=path, fmt=None, finish=finish)


def _trusted(keys: Sequence[TrustedKey]) -> dict[str, Ed25519PublicKey]:
    return {k.key_id: load_public_key(k.public_key.encode("ascii")) for k in keys}


def _vet_file(
    path: Path, listed: ListInfo, trusted: dict[str, Ed25519PublicKey], sha256: str
) -> Vetting:
    try:
        check = check_file(path, trusted, sha256=sha256)
        if check.checksum is not None and check.checksum.status is ChecksumStatus.MISMATCH:
            raise VettingError(check.checksum.reason, source=path.name)
        if check.signature.status is SignatureStatus.INVALID:
            # A signature that does not hold is a red flag, required or not.
            raise VettingError(check.signature.reason, source=path.name)
        if listed.policy.require_signature:
            require_trusted(check, listed.name)
    except VettingError:
        raise
    except HashmatchError as exc:
        raise VettingError(exc.reason, source=exc.source or path.name) from exc
    # A signed checksum file that lists the file vouches for it as its own .sig would.
    vouching: SignatureCheck = check.signature
    if not vouching.valid and check.trusted and check.checksum_signature is not None:
        vouching = check.checksum_signature
    checksum = check.checksum
    return dataclasses.replace(
        _signature_record(vouching if vouching.valid else check.signature),
        checksum=None if checksum is None else checksum.status.value,
        checksum_file=None if checksum is None else checksum.checksum_file.name,
    )


def _signature_record(check: SignatureCheck) -> Vetting:
    """The signature part of a vetting record; who signed only when the signature is valid."""
    if not check.valid:
        return Vetting(signature=check.status.value)
    return Vetting(
        signature=check.status.value,
        signed_by=f"{check.publisher} ({check.key_id})",
        signed_at=None if check.signed_at is None else check.signed_at.isoformat(),
        signature_file=f"{check.file}.sig",
    )


def _bundle_source(
    path: Path, listed: ListInfo, trusted: dict[str, Ed25519PublicKey]
) -> VettedSource:
    try:
        bundle, check = verify_bundle(path, trusted)
        if check.status is SignatureStatus.INVALID:
            raise VettingError(check.reason, source=path.name)
        if listed.policy.require_signature:
            require_trusted(check, listed.name)
    except VettingError:
        raise
    except HashmatchError as exc:
        raise VettingError(exc.reason, source=exc.source or path.name) from exc
    purpose = bundle.manifest.purpose
    if purpose is not listed.purpose:
        raise VettingError(
            f"the bundle holds a {purpose.value} list; list {listed.name} is a "
            f"{listed.purpose.value} list",
            source=path.name,
        )
    pinned = bundle.manifest.entries.sha256

    def finish(sha256: str) -> Vetting:
        if sha256.lower() != pinned.lower():
            raise VettingError(
                f"the entries read ({sha256}) are not those the manifest pins ({pinned}): "
                "the bundle changed while it was being loaded",
                source=path.name,
            )
        return _signature_record(check)

    return VettedSource(
        name=path.name, entries_path=bundle.entries_path, fmt=BUNDLE_FORMAT, finish=finish
    )
