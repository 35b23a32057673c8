"""hashmatch.keys: roles and their permissions, the token format, its hash, the key record."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.errors import InputError
from hashmatch.keys import (
    GRANTS,
    KEY_NAME_MAX,
    ApiKey,
    Permission,
    Role,
    hash_token,
    is_token_hash,
    new_token,
    parse_roles,
    parse_token,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
TOKEN_SHAPE = re.compile(r"hm_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def _key(**overrides: object) -> ApiKey:
    fields: dict[str, object] = {
        "key_id": "0123456789ab",
        "name": "synthetic triage station",
        "roles": (Role.EXAMINER,),
        "created_at": T0,
        "created_by": "admin-1",
    }
    fields.update(overrides)
    return ApiKey(**fields)  # type: ignore[arg-type]


def _token(key_id: bytes, secret: bytes) -> str:
    """What new_token makes of these random bytes (built independently of the module)."""
    text = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
    return f"hm_{key_id.hex()}_{text}"


# Roles and permissions


def test_grants_are_the_documented_table() -> None:
    read = Permission.READ
    assert dict(GRANTS) == {
        Role.INTAKE: {Permission.MATCH, read},
        Role.EXAMINER: {Permission.MATCH, Permission.RUNS, read},
        Role.REVIEWER: {Permission.GRADINGS, read},
        Role.CURATOR: {Permission.LISTS, read},
        Role.AUDITOR: {Permission.AUDIT, read},
        Role.ADMIN: {Permission.KEYS, read},
    }


def test_every_permission_is_granted_by_some_role_and_only_read_by_all() -> None:
    granted = [GRANTS[role] for role in Role]
    assert frozenset().union(*granted) == set(Permission)
    assert frozenset.intersection(*granted) == {Permission.READ}


def test_a_keys_permissions_are_the_union_of_its_roles() -> None:
    key = _key(roles=(Role.INTAKE, Role.AUDITOR))
    assert key.permissions == {Permission.MATCH, Permission.AUDIT, Permission.READ}
    assert Permission.KEYS not in key.permissions
    assert Permission.RUNS not in key.permissions


def test_roles_are_kept_once_each_in_declared_order_and_text_is_accepted() -> None:
    key = _key(roles=("admin", Role.INTAKE, "admin", "auditor"))
    assert key.roles == (Role.INTAKE, Role.AUDITOR, Role.ADMIN)
    assert all(type(role) is Role for role in key.roles)
    assert parse_roles(["curator", "reviewer"]) == (Role.REVIEWER, Role.CURATOR)


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ((), "at least one role"),
        (("root",), "unknown role 'root'"),
        (("examiner", "Admin"), "unknown role 'Admin'"),
        ("admin", "list of role names"),
    ],
)
def test_bad_roles_are_input_errors(roles: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _key(roles=roles)


# The key record


def test_active_until_revoked() -> None:
    assert _key().active
    assert not _key(revoked_at=T0 + timedelta(days=1)).active


def test_times_are_kept_in_utc_and_naive_ones_refused() -> None:
    local = datetime(2025, 3, 1, 17, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    key = _key(created_at=local, revoked_at=local)
    assert key.created_at == datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert key.created_at.utcoffset() == timedelta(0)
    assert key.revoked_at is not None
    assert key.revoked_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        _key(created_at=datetime(2025, 3, 1))
    with pytest.raises(ValueError, match="naive"):
        _key(revoked_at=datetime(2025, 3, 1))


def test_the_name_is_stripped_and_unicode_kept() -> None:
    assert _key(name="  émile's laptop ✓ ").name == "émile's laptop ✓"
    assert _key(name="x" * KEY_NAME_MAX).name == "x" * KEY_NAME_MAX


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("x" * (KEY_NAME_MAX + 1), "at most"),
        ("two\nlines", "control characters"),
        ("nul\x00", "control characters"),
        (7, "must be text"),
    ],
)
def test_bad_names_are_input_errors(name: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _key(name=name)


@pytest.mark.parametrize("key_id", ["", "0123456789AB", "0123456789a", "0123456789abc", "g" * 12])
def test_a_key_id_is_twelve_lower_case_hex_digits(key_id: str) -> None:
    with pytest.raises(InputError, match="12 lower-case hex"):
        _key(key_id=key_id)


def test_a_key_needs_its_creator() -> None:
    with pytest.raises(InputError, match="operator"):
        _key(created_by=" ")


# Tokens


def test_new_tokens_have_the_documented_shape_and_embed_their_key_id() -> None:
    key_id, token = new_token()
    assert TOKEN_SHAPE.fullmatch(token), token
    assert len(token) == 59
    assert token.startswith(f"hm_{key_id}_")
    assert parse_token(token) == key_id
    assert len({new_token()[1] for _ in range(50)}) == 50


@given(
    key_bytes=st.binary(min_size=6, max_size=6),
    secret_bytes=st.binary(min_size=32, max_size=32),
)
@example(key_bytes=b"\x00" * 6, secret_bytes=b"\x00" * 32)
@example(key_bytes=b"\xff" * 6, secret_bytes=b"\xff" * 32)  # '_' and '-' in the secret
@example(key_bytes=b"\xfb" * 6, secret_bytes=b"\xfb\xef\xbe" * 10 + b"\xff\xff")
def test_any_token_new_token_can_make_parses_and_hashes_stably(
    key_bytes: bytes, secret_bytes: bytes
) -> None:
    with mock.patch.object(secrets, "token_bytes", side_effect=[key_bytes, secret_bytes]) as drawn:
        key_id, token = new_token()
    assert [call.args for call in drawn.call_args_list] == [(6,), (32,)]
    assert token == _token(key_bytes, secret_bytes)
    assert key_id == key_bytes.hex()
    assert parse_token(token) == key_id
    digest = hash_token(token)
    assert digest == hash_token(str(token)) == hashlib.sha256(token.encode()).hexdigest()
    assert is_token_hash(digest)
    assert digest != token


def test_hash_token_is_the_sha256_of_the_text() -> None:
    token = "hm_0123456789ab_" + "A" * 43
    assert hash_token(token) == hashlib.sha256(token.encode("ascii")).hexdigest()
    assert hash_token(token) != hash_token(token.replace("A", "B", 1))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "hm_",
        "Bearer hm_0123456789ab_" + "A" * 43,
        "hm_0123456789ab_" + "A" * 42,
        "hm_0123456789ab_" + "A" * 44,
        "hm_0123456789AB_" + "A" * 43,
        "HM_0123456789ab_" + "A" * 43,
        "hm-0123456789ab-" + "A" * 43,
        "hm_0123456789ab_" + "A" * 42 + "=",
        "hm_0123456789ab_" + "A" * 42 + "+",
        " hm_0123456789ab_" + "A" * 43,
        "hm_0123456789ab_" + "A" * 43 + "\n",
        "hm_0123456789ab_" + "A" * 42 + "B",  # the last character's spare bits are not zero
    ],
)
def test_malformed_tokens_are_input_errors_that_do_not_show_the_token(token: str) -> None:
    with pytest.raises(InputError, match="malformed API key") as caught:
        parse_token(token)
    if len(token) > 10:
        assert token.strip() not in str(caught.value)


@given(st.text(alphabet=string.printable, max_size=70))
def test_text_that_is_not_token_shaped_never_parses(text: str) -> None:
    if TOKEN_SHAPE.fullmatch(text):
        return
    with pytest.raises(InputError):
        parse_token(text)


def test_is_token_hash_wants_64_lower_case_hex_digits() -> None:
    assert is_token_hash("ab" * 32)
    assert not is_token_hash("AB" * 32)
    assert not is_token_hash("ab" * 31)
    assert not is_token_hash(new_token()[1])
