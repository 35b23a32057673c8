"""Dependencies the routes declare: the service, and the caller's key with its permission.

Every route under ``/v1`` declares the permission it needs with :func:`require`; a test
walks the app's routes and fails on one that does not. Keys are checked against the
catalog (stored as hashes only); a key once seen is remembered for
:data:`KEY_CACHE_SECONDS`, so a revocation takes effect within that time in every worker
(at once in the worker that revoked it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from hashmatch.keys import ApiKey, Permission, hash_token
from hashmatch.service import Service
from hashmatch.web.problems import FORBIDDEN, UNAUTHORIZED, Problem

__all__ = [
    "KEY_CACHE_SECONDS",
    "AuditCaller",
    "AuthProblem",
    "GradingsCaller",
    "KeyCache",
    "KeyCheck",
    "KeysCaller",
    "ListsCaller",
    "MatchCaller",
    "ReadCaller",
    "RunsCaller",
    "ServiceDep",
    "get_service",
    "operator_of",
    "require",
]

KEY_CACHE_SECONDS = 2.0


class AuthProblem(Exception):
    """Raised by the key check; the app renders it as a 401 or 403 problem document."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


class KeyCache:
    """Tokens recently checked, by their hash, with when each was checked."""

    def __init__(self, lookup: Callable[[str], ApiKey | None], seconds: float) -> None:
        self._lookup = lookup
        self._seconds = seconds
        self._seen: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def key_for(self, token: str) -> ApiKey | None:
        hashed = hash_token(token)
        now = time.monotonic()
        found = self._seen.get(hashed)
        if found is not None and now - found[0] < self._seconds:
            return found[1]
        key = self._lookup(token)
        with self._lock:
            if len(self._seen) > 10_000:  # bounded: junk tokens must not grow it forever
                self._seen.clear()
            self._seen[hashed] = (now, key)
        return key

    def forget(self) -> None:
        """Drop every remembered key (after a key is created or revoked here)."""
        with self._lock:
            self._seen.clear()


def operator_of(key: ApiKey) -> str:
    """Who a request acts as, in the records it makes and in the audit trail: the key's
    public id and name (``key:0f3a9c21b7d4 (triage station 3)``), never its token."""
    return f"key:{key.key_id} ({key.name})"


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


class KeyCheck(HTTPBearer):
    """The dependency :func:`require` makes: the caller's key, if it grants ``permission``.

    A security scheme itself (so the OpenAPI document says the route needs a bearer key),
    and one dependency where a check over FastAPI's ``HTTPBearer`` would be two: a
    single lookup is answered in well under a millisecond, and each dependency costs a
    noticeable part of that.
    """

    def __init__(self, permission: Permission) -> None:
        super().__init__(
            scheme_name="HTTPBearer",
            description="An API key: `hashmatch keys create`.",
            auto_error=False,
        )
        self.permission = permission

    async def __call__(self, request: Request) -> ApiKey:  # type: ignore[override]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthProblem(UNAUTHORIZED, "an API key is required: Authorization: Bearer KEY")
        cache: KeyCache = request.app.state.keys
        key = cache.key_for(token.strip())
        if key is None:
            raise AuthProblem(UNAUTHORIZED, "the API key is not valid (unknown or revoked)")
        if self.permission not in key.permissions:
            raise AuthProblem(
                FORBIDDEN,
                f"this key's roles ({', '.join(key.roles)}) do not allow {self.permission.value}",
            )
        request.state.key = key
        return key


def require(permission: Permission) -> KeyCheck:
    """A dependency that returns the caller's key if it grants ``permission``.

    No key, a malformed, unknown or revoked one: 401 with ``WWW-Authenticate: Bearer``.
    A valid key whose roles do not grant ``permission``: 403. It is async: FastAPI would
    send a plain function to its thread pool, a context switch that costs more than the
    check (a dict lookup while the key is cached).
    """
    return KeyCheck(permission)


AuditCaller = Annotated[ApiKey, Depends(require(Permission.AUDIT))]
GradingsCaller = Annotated[ApiKey, Depends(require(Permission.GRADINGS))]
KeysCaller = Annotated[ApiKey, Depends(require(Permission.KEYS))]
ListsCaller = Annotated[ApiKey, Depends(require(Permission.LISTS))]
MatchCaller = Annotated[ApiKey, Depends(require(Permission.MATCH))]
ReadCaller = Annotated[ApiKey, Depends(require(Permission.READ))]
RunsCaller = Annotated[ApiKey, Depends(require(Permission.RUNS))]
