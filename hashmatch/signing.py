"""Who vouches for a list file: Ed25519 keys, detached signatures, and SHA256SUMS files.

Three things a list's provenance can rest on, each checked here and decided elsewhere
(the service knows which lists require what, and which keys each list trusts):

* **Keys** (:func:`generate_keypair`, :func:`load_private_key`, :func:`load_public_key`):
  Ed25519, as PEM files ``<stem>.key`` (PKCS #8, mode 0600, never overwritten) and
  ``<stem>.pub`` (SubjectPublicKeyInfo). A key is named by :func:`key_id`,
  ``ed25519:`` and the first 16 hex digits of the SHA-256 of its 32 raw bytes.
* **Detached signatures** of any file (:func:`sign_file`, :func:`verify_file`): a small
  JSON document ``<file>.sig``::

      {"format": "hashmatch-signature/1", "key_id": "ed25519:...", "public_key": "<base64>",
       "publisher": "...", "signed_at": "2024-05-01T12:00:00Z",
       "subject": {"name": "list.csv", "size": 1234, "sha256": "<hex>"},
       "signature": "<base64>"}

  The Ed25519 signature covers the canonical JSON (sorted keys, no spaces, UTF-8) of the
  document without ``signature``. The signer's public key travels with the signature so
  that a signature can be checked as intact even by someone who does not trust its key
  yet; trust is decided by the caller's key store alone, never by what a ``.sig`` says.
* **Checksum files** (:func:`check_checksums`): a ``SHA256SUMS`` (or ``<file>.sha256``)
  beside a list, in ``sha256sum`` text or binary form or BSD ``SHA256 (name) = hex``
  form (FORMATS.md §7). A signature over the checksum file itself is a detached
  signature like any other: :func:`checksum_file_for` names the file to verify.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hashmatch.errors import Conflict, InputError, SignatureError

__all__ = [
    "CHECKSUM_FILE_NAMES",
    "SIGNATURE_FORMAT",
    "ChecksumCheck",
    "ChecksumStatus",
    "FileCheck",
    "KeyPair",
    "SignatureCheck",
    "SignatureError",
    "SignatureStatus",
    "canonical_json",
    "check_checksums",
    "check_file",
    "checksum_file_for",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "require_checksum_match",
    "require_trusted",
    "sha256_file",
    "sign_file",
    "signature_path",
    "verify_file",
]

SIGNATURE_FORMAT = "hashmatch-signature/1"
"""The ``format`` of a detached signature document."""

CHECKSUM_FILE_NAMES: tuple[str, ...] = ("SHA256SUMS", "SHA256SUMS.txt", "sha256sums.txt")
"""Checksum files that cover every file of their folder, looked for in this order after
the file's own ``<name>.sha256``."""

_KEY_ID_PREFIX = "ed25519:"
_MAX_KEY_BYTES = 16 * 1024
_MAX_SIGNATURE_BYTES = 64 * 1024
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


# -- keys ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPair:
    """The two files :func:`generate_keypair` wrote, and the id of the key."""

    private_path: Path
    """``<stem>.key``: keep it secret; it signs."""
    public_path: Path
    """``<stem>.pub``: hand it to whoever verifies."""
    key_id: str
    publisher: str
    """Who the key is for. Not stored in the key files (PEM has no safe place for it): it
    is named again when signing (``publisher``) and when someone trusts the key."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """``ed25519:`` and the first 16 hex digits of the SHA-256 of the raw public key."""
    return _KEY_ID_PREFIX + hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def generate_keypair(stem: Path, publisher: str) -> KeyPair:
    """Write a new Ed25519 key pair to ``<stem>.key`` and ``<stem>.pub``.

    Raises :class:`Conflict` when either file exists already: a key is never overwritten.
    The private key file is created readable by its owner only (mode 0600).
    """
    publisher = _check_publisher(publisher)
    private_path = stem.with_name(stem.name + ".key")
    public_path = stem.with_name(stem.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise Conflict(f"{path} exists already: hashmatch never overwrites a key")
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return KeyPair(
        private_path=private_path,
        public_path=public_path,
        key_id=key_id(private_key.public_key()),
        publisher=publisher,
    )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (failing if it exists, even if it appeared a moment ago) and fsync it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise Conflict(f"{path} exists already: hashmatch never overwrites a key") from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path`` (as :func:`generate_keypair` writes).

    Raises :class:`InputError` naming the file when it is missing, holds a public key,
    another kind of key (RSA, ECDSA ...), a passphrase-protected key, or no key at all.
    """
    data = _read_key_file(path)
    name = path.name
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise InputError(
            "this is a public key; signing needs the private key (the .key file)", source=name
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError(
            "the private key is protected by a passphrase; hashmatch keys have none",
            source=name,
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"not a PEM private key: {_first_line(exc)}", source=name) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(
            f"this is {_kind(key)} key; hashmatch signs with Ed25519 keys only "
            "(make one with 'hashmatch bundle keygen')",
            source=name,
        )
    return key


def load_public_key(source: Path | bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file (a ``.pub``), or in PEM bytes.

    Raises :class:`InputError` for a private key given where a public one is expected
    (never hand out the ``.key`` file), another kind of key, or no key at all.
    """
    if isinstance(source, Path):
        data, name = _read_key_file(source), source.name
    else:
        data, name = source, "public key"
    if b"PRIVATE KEY-----" in data:
        raise InputError(
            "this is a private key; verifying needs the public key (the .pub file), "
            "and the private key must never leave its owner",
            source=name,
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"not a PEM public key: {_first_line(exc)}", source=name) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(
            f"this is {_kind(key)} key; hashmatch verifies Ed25519 keys only", source=name
        )
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the key file: {exc.strerror}", source=str(path)) from exc
    if len(data) > _MAX_KEY_BYTES:
        raise InputError("too large for a key file", source=path.name)
    return data


_KEY_KINDS = {
    "RSA": "an RSA",
    "EC": "an elliptic-curve (ECDSA)",
    "EllipticCurve": "an elliptic-curve (ECDSA)",
    "DSA": "a DSA",
    "Ed448": "an Ed448",
    "X25519": "an X25519",
    "X448": "an X448",
    "DH": "a Diffie-Hellman",
}


def _kind(key: object) -> str:
    """'an RSA', 'an elliptic-curve (ECDSA)' ... from the key's class name."""
    name = type(key).__name__.removeprefix("_")
    for suffix in ("PrivateKey", "PublicKey"):
        name = name.removesuffix(suffix)
    return _KEY_KINDS.get(name, f"a {name or 'different'}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_publisher(publisher: str) -> str:
    value = publisher.strip()
    if not value:
        raise InputError("a publisher name is required (who vouches for the list)")
    if len(value) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InputError("a publisher name is one line of at most 200 characters")
    return value


# -- digests ------------------------------------------------------------------------------


def sha256_file(path: Path) -> tuple[str, int]:
    """The SHA-256 (lower-case hex) and size in bytes of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


# -- detached signatures ------------------------------------------------------------------


def signature_path(path: Path) -> Path:
    """Where the detached signature of ``path`` lives: ``<path>.sig``."""
    return path.with_name(path.name + ".sig")


def sign_file(
    path: Path,
    private_key: Ed25519PrivateKey,
    publisher: str,
    *,
    signed_at: datetime | None = None,
) -> Path:
    """Sign ``path`` and write its detached signature ``<path>.sig``; return that path.

    An existing signature is replaced (atomically: a reader sees the old one or the new
    one, never half of either).
    """
    publisher = _check_publisher(publisher)
    try:
        sha256, size = sha256_file(path)
    except OSError as exc:
        raise InputError(f"cannot read the file to sign: {exc.strerror}", source=str(path)) from exc
    public_key = private_key.public_key()
    when = (signed_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    document: dict[str, Any] = {
        "format": SIGNATURE_FORMAT,
        "key_id": key_id(public_key),
        "public_key": base64.b64encode(_raw(public_key)).decode("ascii"),
        "publisher": publisher,
        "signed_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": {"name": path.name, "size": size, "sha256": sha256},
    }
    document["signature"] = base64.b64encode(private_key.sign(canonical_json(document))).decode(
        "ascii"
    )
    target = signature_path(path)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    _replace_atomically(target, text.encode("utf-8"))
    return target


def _replace_atomically(target: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


class SignatureStatus(enum.StrEnum):
    """What a detached signature says about a file."""

    UNSIGNED = "unsigned"
    """There is no ``<file>.sig``."""
    VALID = "valid"
    """Signed by a trusted key, and the file is exactly the one that was signed."""
    INVALID = "invalid"
    """The signature is malformed, does not verify, or was made for other bytes."""
    UNTRUSTED = "untrusted"
    """The signature is intact, but its key is not among the trusted ones."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureCheck:
    """The outcome of :func:`verify_file`: a status, and what the signature claims."""

    status: SignatureStatus
    file: str
    """The name of the file checked."""
    reason: str
    """One sentence for a human: why the status is what it is."""
    sha256: str | None = None
    """The SHA-256 of the file as checked (None when it was not needed: unsigned)."""
    key_id: str | None = None
    publisher: str | None = None
    """The publisher the signer named (covered by the signature, but a claim: show the
    name the trust store gives the key where it matters)."""
    signed_at: datetime | None = None

    @property
    def valid(self) -> bool:
        """Whether the file is signed by a trusted key and unchanged since."""
        return self.status is SignatureStatus.VALID


class _Malformed(Exception):
    """A signature document that is not what :data:`SIGNATURE_FORMAT` describes."""


def verify_file(
    path: Path,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    sha256: str | None = None,
    size: int | None = None,
) -> SignatureCheck:
    """Check the detached signature ``<path>.sig`` of ``path`` against ``trusted`` keys.

    ``trusted`` maps key ids (:func:`key_id`) to the keys a caller trusts for this file.
    ``sha256`` (and ``size``) are the digest and length of the bytes the caller actually
    read, when it hashed them as it read; otherwise the file is hashed here. Never
    raises for a bad signature: the status says what is wrong, and
    :func:`require_trusted` turns anything but VALID into an error.
    """
    name = path.name
    sig_path = signature_path(path)
    try:
        with open(sig_path, "rb") as handle:
            raw = handle.read(_MAX_SIGNATURE_BYTES + 1)
    except FileNotFoundError:
        return SignatureCheck(
            status=SignatureStatus.UNSIGNED, file=name, reason=f"{name} has no {sig_path.name}"
        )
    except OSError as exc:
        raise InputError(
            f"cannot read the signature: {exc.strerror}", source=sig_path.name
        ) from exc
    try:
        if sha256 is None:
            sha256, size = sha256_file(path)
        elif size is None:
            size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=name) from exc
    sha256 = sha256.lower()
    try:
        if len(raw) > _MAX_SIGNATURE_BYTES:
            raise _Malformed(f"larger than {_MAX_SIGNATURE_BYTES} bytes")
        document = _parse_signature(raw)
    except _Malformed as exc:
        return SignatureCheck(
            status=SignatureStatus.INVALID,
            file=name,
            sha256=sha256,
            reason=f"{sig_path.name} is not a valid hashmatch signature: {exc}",
        )
    claimed = document.key_id

    def outcome(status: SignatureStatus, reason: str) -> SignatureCheck:
        return SignatureCheck(
            status=status,
            file=name,
            sha256=sha256,
            key_id=claimed,
            publisher=document.publisher,
            signed_at=document.signed_at,
            reason=reason,
        )

    try:
        carried = Ed25519PublicKey.from_public_bytes(document.public_key)
    except ValueError:
        return outcome(SignatureStatus.INVALID, "the public key it carries is not an Ed25519 key")
    if key_id(carried) != claimed:
        return outcome(
            SignatureStatus.INVALID, f"the key id {claimed} is not the id of the key it carries"
        )
    trusted_key = trusted.get(claimed)
    if trusted_key is not None and _raw(trusted_key) != document.public_key:
        return outcome(
            SignatureStatus.INVALID,
            f"the signature names the trusted key id {claimed} but carries another key",
        )
    # With a trusted key, it alone decides; without, the carried key shows the document
    # is intact, which tells "altered" apart from "signed by someone you do not trust".
    try:
        (trusted_key or carried).verify(document.signature, document.signed_bytes)
    except InvalidSignature:
        return outcome(
            SignatureStatus.INVALID,
            f"the signature does not verify: {sig_path.name} was altered after signing",
        )
    subject_problem = _subject_problem(document, name=name, size=size, sha256=sha256)
    if subject_problem:
        return outcome(SignatureStatus.INVALID, subject_problem)
    who = f"key {claimed} (publisher {document.publisher!r})"
    if trusted_key is None:
        return outcome(
            SignatureStatus.UNTRUSTED, f"{name} is signed and intact, but {who} is not trusted"
        )
    return outcome(SignatureStatus.VALID, f"{name} is signed by trusted {who}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _SignatureDocument:
    key_id: str
    public_key: bytes
    publisher: str
    signed_at: datetime
    subject_name: str
    subject_size: int
    subject_sha256: str
    signature: bytes
    signed_bytes: bytes


_SIGNATURE_FIELDS = frozenset(
    {"format", "key_id", "public_key", "publisher", "signed_at", "subject", "signature"}
)
_SUBJECT_FIELDS = frozenset({"name", "size", "sha256"})


def _parse_signature(raw: bytes) -> _SignatureDocument:
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Malformed(f"not JSON ({_first_line(exc)})") from None
    if not isinstance(document, dict):
        raise _Malformed("not a JSON object")
    _exact_fields(document, _SIGNATURE_FIELDS, "")
    if document["format"] != SIGNATURE_FORMAT:
        raise _Malformed(f"format is {document['format']!r}, expected {SIGNATURE_FORMAT!r}")
    subject = document["subject"]
    if not isinstance(subject, dict):
        raise _Malformed("subject is not an object")
    _exact_fields(subject, _SUBJECT_FIELDS, "subject.")
    size = subject["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _Malformed("subject.size is not a byte count")
    sha256 = _text(subject, "sha256", "subject.")
    if not _SHA256_HEX.fullmatch(sha256):
        raise _Malformed("subject.sha256 is not 64 lower-case hex digits")
    public_key = _base64(document, "public_key", 32)
    signature = _base64(document, "signature", 64)
    try:
        signed_at = datetime.fromisoformat(_text(document, "signed_at"))
    except ValueError:
        raise _Malformed("signed_at is not an ISO-8601 time") from None
    if signed_at.tzinfo is None:
        raise _Malformed("signed_at has no time zone")
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return _SignatureDocument(
        key_id=_text(document, "key_id"),
        public_key=public_key,
        publisher=_text(document, "publisher"),
        signed_at=signed_at.astimezone(UTC),
        subject_name=_text(subject, "name", "subject."),
        subject_size=size,
        subject_sha256=sha256,
        signature=signature,
        signed_bytes=canonical_json(unsigned),
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _exact_fields(document: Mapping[str, Any], expected: frozenset[str], prefix: str) -> None:
    missing = sorted(expected - document.keys())
    if missing:
        raise _Malformed("missing " + ", ".join(prefix + k for k in missing))
    extra = sorted(document.keys() - expected)
    if extra:
        raise _Malformed("unexpected " + ", ".join(prefix + k for k in extra))


def _text(document: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = document[key]
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{prefix}{key} is not a non-empty text")
    return value


def _base64(document: Mapping[str, Any], key: str, length: int) -> bytes:
    try:
        value = base64.b64decode(_text(document, key), validate=True)
    except binascii.Error:
        raise _Malformed(f"{key} is not base64") from None
    if len(value) != length:
        raise _Malformed(f"{key} is {len(value)} bytes, expected {length}")
    return value


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _subject_problem(document: _SignatureDocument, *, name: str, size: int, sha256: str) -> str:
    """What differs between the signed file and this one ("" when nothing does)."""
    if document.subject_name != name:
        return f"the signature is for a file named {document.subject_name!r}, not {name!r}"
    if document.subject_size != size:
        return (
            f"{name} is {size} bytes, but {document.subject_size} bytes were signed: "
            "the file changed after signing"
        )
    if document.subject_sha256 != sha256:
        return (
            f"the SHA-256 of {name} ({sha256}) differs from the signed one "
            f"({document.subject_sha256}): the file changed after signing"
        )
    return ""


def require_trusted(check: SignatureCheck | FileCheck, list_name: str) -> None:
    """Raise :class:`SignatureError` unless ``check`` vouches for the file; the message
    says why.

    A :class:`SignatureCheck` vouches when it is VALID; a :class:`FileCheck` when
    :attr:`FileCheck.trusted` holds (and never when a checksum file contradicts the file).
    """
    note = ""
    if isinstance(check, FileCheck):
        require_checksum_match(check.checksum, list_name)
        if check.trusted:
            return
        note = _checksum_note(check)
        check = check.signature
    if check.valid:
        return
    needs = f"list {list_name} requires a trusted signature"
    if check.status is SignatureStatus.UNSIGNED:
        message = f"{needs}: {check.reason}"
    elif check.status is SignatureStatus.UNTRUSTED:
        message = (
            f"{needs}: {check.file} is signed by key {check.key_id} "
            f"(publisher {check.publisher!r}), which is not trusted for list {list_name}"
        )
    else:
        message = f"{needs}: the signature of {check.file} is invalid: {check.reason}"
    message += note
    raise SignatureError(message, source=check.file)


def _checksum_note(check: FileCheck) -> str:
    """Why the checksum file beside a file did not vouch for it either ("" if none)."""
    if check.checksum is None or check.checksum_signature is None:
        return ""
    where = check.checksum.checksum_file.name
    if check.checksum.status is not ChecksumStatus.MATCH:
        return f"; {check.checksum.reason}"
    return f"; {where} lists it, but {where} is not vouched for: {check.checksum_signature.reason}"


# -- checksum files -----------------------------------------------------------------------


class ChecksumStatus(enum.StrEnum):
    """What a checksum file beside a list says about it."""

    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_LISTED = "not_listed"
    """The checksum file is there but names no SHA-256 for this file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecksumCheck:
    """The outcome of :func:`check_checksums`."""

    status: ChecksumStatus
    file: str
    """The name of the file checked."""
    checksum_file: Path
    actual: str
    """The file's SHA-256."""
    expected: str | None
    """The SHA-256 the checksum file declares (the first differing one on a mismatch)."""
    reason: str


def checksum_file_for(path: Path) -> Path | None:
    """The checksum file that covers ``path``: ``<name>.sha256`` first, then
    :data:`CHECKSUM_FILE_NAMES` in its folder; None when there is none."""
    candidates = [path.with_name(path.name + ".sha256")]
    candidates += [path.with_name(name) for name in CHECKSUM_FILE_NAMES]
    for candidate in candidates:
        if candidate.name != path.name and candidate.is_file():
            return candidate
    return None


def check_checksums(path: Path, sha256: str) -> ChecksumCheck | None:
    """Compare ``sha256`` (the digest of ``path``) with the checksum file beside it.

    None when there is no checksum file. Lines in ``sha256sum`` text (``hex  name``),
    binary (``hex *name``), GNU-escaped (``\\hex  na\\nme``) and BSD (``SHA256 (name) =
    hex`` or base64) form are understood; other lines (other algorithms, comments) are
    ignored. Names are compared with the file's name (a leading ``./`` aside). A
    ``<name>.sha256`` file may hold the digest alone.
    """
    checksum_file = checksum_file_for(path)
    if checksum_file is None:
        return None
    actual = sha256.lower()
    own_sidecar = checksum_file.name == path.name + ".sha256"
    declared = list(_declared_digests(checksum_file, path.name, bare_allowed=own_sidecar))
    where = checksum_file.name
    if not declared:
        return ChecksumCheck(
            status=ChecksumStatus.NOT_LISTED,
            file=path.name,
            checksum_file=checksum_file,
            actual=actual,
            expected=None,
            reason=f"{where} has no SHA-256 for {path.name}",
        )
    wrong = next((value for value in declared if value != actual), None)
    if wrong is not None:
        return ChecksumCheck(
            status=ChecksumStatus.MISMATCH,
            file=path.name,
            checksum_file=checksum_file,
            actual=actual,
            expected=wrong,
            reason=f"{where} declares SHA-256 {wrong} for {path.name}, but the file's is {actual}",
        )
    return ChecksumCheck(
        status=ChecksumStatus.MATCH,
        file=path.name,
        checksum_file=checksum_file,
        actual=actual,
        expected=actual,
        reason=f"{path.name} matches the SHA-256 {where} declares",
    )


def require_checksum_match(check: ChecksumCheck | None, list_name: str) -> None:
    """Raise :class:`SignatureError` when a checksum file declares another SHA-256 for the
    file (a missing checksum file, or one that does not list the file, is no error here:
    whether a list requires one is the caller's policy)."""
    if check is not None and check.status is ChecksumStatus.MISMATCH:
        raise SignatureError(
            f"list {list_name}: {check.reason}; refusing a file whose declared checksum "
            "does not match",
            source=check.file,
        )


_SUMS_LINE = re.compile(r"(\\?)([0-9a-fA-F]{64}) [ *](.+)")
_BSD_LINE = re.compile(r"(\\?)SHA(?:256|2-256) ?\((.+)\) ?= ?([0-9A-Za-z+/=]+)")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"\\": "\\", "n": "\n", "r": "\r"}


def _declared_digests(checksum_file: Path, name: str, *, bare_allowed: bool) -> Iterator[str]:
    """Lower-case hex SHA-256 digests ``checksum_file`` declares for the file ``name``."""
    with open(checksum_file, encoding="utf-8-sig", errors="replace", newline="") as handle:
        for raw_line in handle:
            line = raw_line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            found = _parse_sums_line(line, bare_allowed=bare_allowed)
            if found is None:
                continue
            digest, listed = found
            if listed is None or listed.removeprefix("./") == name:
                yield digest


def _parse_sums_line(line: str, *, bare_allowed: bool) -> tuple[str, str | None] | None:
    """(digest, name) of one checksum line; name None for a bare digest; None otherwise."""
    if match := _SUMS_LINE.fullmatch(line):
        escaped, digest, listed = match.groups()
        return digest.lower(), _unescape(listed) if escaped else listed
    if match := _BSD_LINE.fullmatch(line):
        escaped, listed, value = match.groups()
        digest = _hex_or_base64(value)
        if digest is None:
            return None
        return digest, _unescape(listed) if escaped else listed
    stripped = line.strip()
    if bare_allowed and _SHA256_HEX.fullmatch(stripped.lower()):
        return stripped.lower(), None
    return None


def _hex_or_base64(value: str) -> str | None:
    if len(value) == 64:
        return value.lower() if _SHA256_HEX.fullmatch(value.lower()) else None
    if len(value) == 44:
        try:
            decoded = base64.b64decode(value, validate=True)
        except binascii.Error:
            return None
        return decoded.hex() if len(decoded) == 32 else None
    return None


def _unescape(name: str) -> str:
    return _ESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(0)), name)


# -- everything about one file ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheck:
    """What vouches for one list file: its own signature, and a checksum file beside it
    (with that file's signature)."""

    file: str
    sha256: str
    size: int
    signature: SignatureCheck
    """The file's own detached signature (``<file>.sig``)."""
    checksum: ChecksumCheck | None
    """The checksum file beside it, if there is one."""
    checksum_signature: SignatureCheck | None
    """The signature of that checksum file (None when there is no checksum file)."""

    @property
    def trusted(self) -> bool:
        """Signed by a trusted key, directly or through a checksum file that lists it and
        is itself signed by a trusted key; never when a checksum file declares another
        digest."""
        if self.checksum is not None and self.checksum.status is ChecksumStatus.MISMATCH:
            return False
        if self.signature.valid:
            return True
        return (
            self.checksum is not None
            and self.checksum.status is ChecksumStatus.MATCH
            and self.checksum_signature is not None
            and self.checksum_signature.valid
        )


def check_file(
    path: Path,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    sha256: str | None = None,
    size: int | None = None,
) -> FileCheck:
    """Check everything that can vouch for ``path``: its ``.sig``, and a checksum file
    beside it with that file's own ``.sig``. ``sha256``/``size`` as in :func:`verify_file`.
    """
    try:
        if sha256 is None:
            sha256, size = sha256_file(path)
        elif size is None:
            size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=str(path)) from exc
    signature = verify_file(path, trusted, sha256=sha256, size=size)
    checksum = check_checksums(path, sha256)
    checksum_signature = None if checksum is None else verify_file(checksum.checksum_file, trusted)
    return FileCheck(
        file=path.name,
        sha256=sha256.lower(),
        size=size,
        signature=signature,
        checksum=checksum,
        checksum_signature=checksum_signature,
    )
