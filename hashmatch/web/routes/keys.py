"""API keys (admins): list them, create one (its token shown once), revoke one.

The catalog keeps only a hash of each token; neither the token nor its hash is ever
returned by a listing, logged or written to the audit trail. A revoked key stops working
at once in this worker and within a few seconds in the others.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from hashmatch.web.deps import KeyCache, KeysCaller, ServiceDep, operator_of
from hashmatch.web.models import KeyCreate, KeyCreated, KeyRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["keys"])


@router.get("/keys", response_model=list[KeyRecord], summary="List API keys")
def list_keys(key: KeysCaller, service: ServiceDep) -> list[KeyRecord]:
    """Every key, revoked ones included, oldest first: id, name, roles, who made it when."""
    listed = service.keys()  # Service.keys(), not a mapping's
    return [KeyRecord.model_validate(k) for k in listed]


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreated,
    summary="Create an API key",
    description="A new key with `roles` (intake, examiner, reviewer, curator, auditor, "
    "admin). The reply holds its token: hand it to the key's holder now, as it is kept "
    "nowhere and cannot be shown again. The admin key that made it is recorded as its "
    "creator, in the key and in the audit trail.",
    responses={400: {"description": "A blank name or an unknown role (`invalid-input`)."}},
)
def create_key(
    body: KeyCreate, request: Request, response: Response, key: KeysCaller, service: ServiceDep
) -> KeyCreated:
    made, token = service.create_key(body.name, body.roles, operator=operator_of(key))
    _forget(request)
    response.headers["Cache-Control"] = "no-store"
    return KeyCreated.model_validate(
        {**KeyRecord.model_validate(made).model_dump(), "token": token}
    )


@router.delete(
    "/keys/{key_id}",
    response_model=KeyRecord,
    summary="Revoke an API key",
    responses={
        404: {"description": "No such key (`not-found`)."},
        409: {"description": "The key is revoked already (`conflict`)."},
    },
)
def revoke_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The key's id.")],
    request: Request,
    key: KeysCaller,
    service: ServiceDep,
) -> KeyRecord:
    """Revoke a key: its token stops authenticating. The key stays listed, with the time
    it was revoked."""
    revoked = service.revoke_key(key_id, operator=operator_of(key))
    _forget(request)
    return KeyRecord.model_validate(revoked)


def _forget(request: Request) -> None:
    cache: KeyCache = request.app.state.keys
    cache.forget()
