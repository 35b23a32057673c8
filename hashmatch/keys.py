"""API keys: who may call the HTTP API, with which roles, and how their tokens are checked.

An API key is a :class:`ApiKey` record in the catalog (its id, a name, its roles, who
created it and when, and when it was revoked) plus a secret token that only its holder
has. The token is shown once, when the key is created; the catalog keeps only its hash.

The token format::

    hm_<key_id>_<secret>

- ``hm_``: a fixed prefix, so that secret scanners and people recognise a hashmatch token;
- ``key_id``: 12 lower-case hex digits (48 random bits), the key's public name: it is
  safe to show in listings, logs and the audit trail, and says which key a token is
  without revealing it;
- ``secret``: 32 bytes from :mod:`secrets` as unpadded URL-safe base64, 43 characters of
  ``A-Z a-z 0-9 - _``.

For example ``hm_0f3a9c21b7d4_Zm9vYmFyLi4u...`` (59 characters in all). :func:`parse_token`
checks the shape and that the secret is canonical base64 of exactly 32 bytes, and raises
:class:`~hashmatch.errors.InputError` without echoing the token (it may be a real secret,
mistyped).

Why SHA-256 and not a slow password hash (bcrypt, scrypt, Argon2): a slow hash protects
*guessable* secrets, by making each guess of a stolen hash expensive. A token holds 256
random bits; nobody can enumerate them, fast hash or slow, so a slow hash would add
nothing but cost to every request. A plain SHA-256 also lets the catalog find a key by
``token_hash`` in one indexed lookup, without a per-key salt: the key is authenticated in
one query. Comparing in constant time is not needed either: what the lookup compares is
the hash, which an attacker cannot steer byte by byte.

Neither the token nor its hash is ever logged or written to the audit trail: the hash is
as good as a password to anyone who can write it into another catalog.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hashmatch.errors import InputError

__all__ = [
    "GRANTS",
    "KEY_NAME_MAX",
    "TOKEN_PREFIX",
    "ApiKey",
    "Permission",
    "Role",
    "hash_token",
    "is_token_hash",
    "new_token",
    "parse_roles",
    "parse_token",
]

TOKEN_PREFIX = "hm_"
"""What every token starts with."""

KEY_NAME_MAX = 100
"""The longest key name, in characters."""

_KEY_ID = re.compile(r"[0-9a-f]{12}")
_TOKEN = re.compile(r"hm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_SECRET_BYTES = 32
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")


class Role(enum.StrEnum):
    """What a key is for; each role grants the permissions in :data:`GRANTS`."""

    INTAKE = "intake"
    """Submits digests to match (an upload station, a triage tool)."""
    EXAMINER = "examiner"
    """Matches and runs checks of whole manifests, and reads their reports."""
    REVIEWER = "reviewer"
    """Records gradings of files from the review queue."""
    CURATOR = "curator"
    """Creates lists, loads and rolls back their versions."""
    AUDITOR = "auditor"
    """Reads and verifies the audit trail."""
    ADMIN = "admin"
    """Creates, lists and revokes API keys."""


class Permission(enum.StrEnum):
    """What a request may do; each HTTP route requires one."""

    MATCH = "match"
    """Look digests up: single, bulk JSON and Arrow."""
    RUNS = "runs"
    """Submit manifests as runs, and read runs and their reports."""
    GRADINGS = "gradings"
    """Record and read reviewers' gradings."""
    LISTS = "lists"
    """Create lists, load versions, roll back."""
    AUDIT = "audit"
    """Read and verify the audit trail."""
    KEYS = "keys"
    """Create, list and revoke API keys."""
    READ = "read"
    """See the lists, their versions and the serving snapshot (no list content)."""


GRANTS: Mapping[Role, frozenset[Permission]] = {
    role: frozenset({*granted, Permission.READ})
    for role, granted in (
        (Role.INTAKE, {Permission.MATCH}),
        (Role.EXAMINER, {Permission.MATCH, Permission.RUNS}),
        (Role.REVIEWER, {Permission.GRADINGS}),
        (Role.CURATOR, {Permission.LISTS}),
        (Role.AUDITOR, {Permission.AUDIT}),
        (Role.ADMIN, {Permission.KEYS}),
    )
}
"""The permissions of each role. Every role may ``read``; no role implies another."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """A key that may call the HTTP API: its public id, name and roles, never its token.

    Construction checks and normalises: ``key_id`` 12 lower-case hex digits; ``name`` 1 to
    :data:`KEY_NAME_MAX` characters, not blank, without control characters; ``roles`` one
    or more :class:`Role` values (text is accepted), each kept once, in the order ``Role``
    declares them; ``created_by`` not blank. InputError says what is wrong. Naive
    datetimes are a ValueError, as in the store; times are kept in UTC.
    """

    key_id: str
    """12 lower-case hex digits; also the middle of the token."""
    name: str
    """What the key is for, in the operator's words (``triage station 3``)."""
    roles: tuple[Role, ...]
    created_at: datetime
    created_by: str
    """The operator who created it."""
    revoked_at: datetime | None = None
    """When it was revoked; None while it is active."""

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise InputError(f"a key id is 12 lower-case hex digits, got {self.key_id!r}")
        name = _key_name(self.name)
        roles = parse_roles(self.roles)
        if not isinstance(self.created_by, str) or not self.created_by.strip():
            raise InputError("a key needs the name of the operator who created it")
        if "\x00" in self.created_by:
            raise InputError("created_by holds a NUL character")
        # Frozen: normalised values go in through object.__setattr__, once, here.
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "roles", roles)
        object.__setattr__(self, "created_at", _utc(self.created_at, "created_at"))
        if self.revoked_at is not None:
            object.__setattr__(self, "revoked_at", _utc(self.revoked_at, "revoked_at"))

    @property
    def permissions(self) -> frozenset[Permission]:
        """Everything the key's roles grant (whether or not it is still active)."""
        return frozenset().union(*(GRANTS[role] for role in self.roles))

    @property
    def active(self) -> bool:
        """Whether the key still authenticates: it has not been revoked."""
        return self.revoked_at is None


def new_token() -> tuple[str, str]:
    """A fresh ``(key_id, token)`` from :mod:`secrets`; the token embeds the key id."""
    key_id = secrets.token_hex(6)
    return key_id, f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def parse_token(token: str) -> str:
    """The key id of a well-formed token; InputError (not showing the token) otherwise."""
    found = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if found is None:
        raise InputError(
            "malformed API key: expected 'hm_', 12 lower-case hex digits, '_' and 43 "
            "URL-safe base64 characters"
        )
    secret = found.group(2)
    # 43 characters carry 258 bits: the last one's 2 spare bits must be zero (canonical).
    raw = base64.urlsafe_b64decode(secret + "=")
    if len(raw) != _SECRET_BYTES or base64.urlsafe_b64encode(raw).rstrip(b"=") != secret.encode():
        raise InputError("malformed API key: its secret is not 32 bytes of canonical base64")
    return found.group(1)


def hash_token(token: str) -> str:
    """What the catalog keeps of a token: the SHA-256 of its UTF-8 text, as lower-case hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_token_hash(value: str) -> bool:
    """Whether ``value`` looks like :func:`hash_token`'s output (64 lower-case hex digits)."""
    return bool(_TOKEN_HASH.fullmatch(value))


def _key_name(value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"a key name must be text, got {type(value).__name__}")
    name = value.strip()
    if not name:
        raise InputError("a key needs a name that says what it is for")
    if len(name) > KEY_NAME_MAX:
        raise InputError(f"a key name has at most {KEY_NAME_MAX} characters, got {len(name)}")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        raise InputError("a key name cannot hold control characters (tabs, newlines, NUL)")
    return name


def parse_roles(values: Iterable[Role | str]) -> tuple[Role, ...]:
    """Roles given as text or :class:`Role`, each once, in declared order; InputError if
    one is unknown or there is none."""
    if isinstance(values, str):
        raise InputError(f"roles must be a list of role names, got the text {values!r}")
    chosen: set[Role] = set()
    for value in values:
        try:
            chosen.add(Role(value))
        except ValueError:
            known = ", ".join(role.value for role in Role)
            raise InputError(f"unknown role {value!r} (known roles: {known})") from None
    if not chosen:
        raise InputError("a key needs at least one role")
    return tuple(role for role in Role if role in chosen)


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)
