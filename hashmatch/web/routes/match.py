"""Matching: one digest, or bulk items as JSON or as an Arrow IPC stream.

The bulk routes read their bodies with orjson (JSON) or pyarrow (Arrow) straight into
Arrow columns and answer from the same :class:`~hashmatch.match.Matcher` a check uses;
pydantic models only document them (a 10 000-item body validated item by item would cost
more than matching it).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import orjson
import pyarrow as pa
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from hashmatch.digests import Algorithm
from hashmatch.errors import InputError, TooLarge
from hashmatch.match.live import ITEM_COLUMNS, verdict_counts
from hashmatch.model import Verdict
from hashmatch.service import Service
from hashmatch.web.deps import MatchCaller, ServiceDep, operator_of
from hashmatch.web.models import LookupResult, MatchResponse

__all__ = ["ARROW_STREAM", "router"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"

router = APIRouter(prefix="/v1", tags=["match"])

_MATCHED = frozenset({Verdict.KNOWN.value, Verdict.KNOWN_BENIGN.value})
_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "No list is loaded yet, so there is nothing to match (`not-ready`)."}
}
_DIGESTS = tuple(a.value for a in Algorithm)


@router.get(
    "/lookup/{algorithm}/{digest}",
    response_model=LookupResult,
    summary="Look up one digest",
    description="The verdict on one MD5, SHA-1 or SHA-256 digest (hex, any case), with the "
    "list entries it matched. A malformed digest gets the verdict `invalid`.",
    responses=_NOT_READY,
)
async def lookup(
    algorithm: Algorithm,
    digest: Annotated[str, Path(max_length=128)],
    key: MatchCaller,
    request: Request,
) -> Response:
    # The service straight from the app, not through a dependency: this is the hot path.
    service: Service = request.app.state.service
    found = service.lookup(algorithm, digest)
    body: dict[str, Any] = {
        "algorithm": algorithm.value,
        "digest": digest,
        "verdict": found.verdict.value,
        "snapshot_id": found.snapshot_id,
    }
    if found.reason is not None:
        body["reason"] = found.reason
    if found.matches is not None:
        body["matches"] = orjson.Fragment(found.matches)
    counts = {found.verdict.value: 1}
    _account(
        request,
        service,
        kind="lookup",
        actor=operator_of(key),
        snapshot_id=found.snapshot_id,
        counts=counts,
        matched=[digest.strip().lower()] if found.verdict.value in _MATCHED else [],
    )
    return Response(orjson.dumps(body), media_type="application/json")


@router.post(
    "/match",
    response_model=MatchResponse,
    summary="Match many items (JSON)",
    description="Verdicts for up to HASHMATCH_API_MAX_ITEMS items, one per item, in order. "
    "Each item may carry md5, sha1 and sha256 and an id of the caller's.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/MatchRequest"}}
            },
        }
    },
    responses={
        400: {"description": 'The body is not a JSON object with a list "items".'},
        **_NOT_READY,
    },
)
async def match_json(request: Request, key: MatchCaller, service: ServiceDep) -> Response:
    body = await request.body()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise InputError('the body must be a JSON object with a list "items"')
    items: list[Any] = data["items"]
    limit = service.settings.api_max_items
    if len(items) > limit:
        raise TooLarge(f"{len(items)} items in one request; at most {limit}")
    columns, bad = _columns(items)
    batch = service.match_items(pa.RecordBatch.from_pydict(columns))
    verdicts = batch.column("verdict").to_pylist()
    reasons = batch.column("reason").to_pylist()
    if bad:
        for row, reason in bad.items():
            verdicts[row] = Verdict.INVALID.value
            reasons[row] = reason
    ids = batch.column("id").to_pylist()
    matches = batch.column("matches").to_pylist()
    results = [
        {"id": i, "verdict": v} if r is None and m is None else _result(i, v, r, m)
        for i, v, r, m in zip(ids, verdicts, reasons, matches, strict=True)
    ]
    counts = dict(Counter(verdicts)) if bad else verdict_counts(batch)
    snapshot_id = batch.schema.metadata[b"snapshot_id"].decode()
    _account(
        request,
        service,
        kind="match",
        actor=operator_of(key),
        snapshot_id=snapshot_id,
        counts=counts,
        matched=(
            _matched(columns, verdicts, matches)
            if service.settings.audit_matches == "matched"
            else []
        ),
    )
    return Response(
        orjson.dumps({"snapshot_id": snapshot_id, "counts": counts, "results": results}),
        media_type="application/json",
    )


@router.post(
    "/match/arrow",
    summary="Match many items (Arrow IPC stream)",
    description="The bulk match for pipelines: an Arrow IPC stream in (text columns id, md5, "
    "sha1, sha256; at least one digest column) and an Arrow IPC stream out (id, verdict, "
    "reason, matches as canonical JSON), one row per item, in order. The reply's schema "
    "metadata names the snapshot.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        200: {
            "description": "One row per item (schema: `schemas/match.arrow.json`).",
            "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        },
        400: {
            "description": "The body is not an Arrow IPC stream, or its columns are not "
            "text columns among id, md5, sha1, sha256 with at least one digest column."
        },
        **_NOT_READY,
    },
    response_class=Response,
)
async def match_arrow(request: Request, key: MatchCaller, service: ServiceDep) -> Response:
    body = await request.body()
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"the body is not an Arrow IPC stream: {exc}") from None
    limit = service.settings.api_max_items
    if table.num_rows > limit:
        raise TooLarge(f"{table.num_rows} items in one request; at most {limit}")
    batch = service.match_items(table)
    counts = verdict_counts(batch)
    snapshot_id = batch.schema.metadata[b"snapshot_id"].decode()
    matched: list[str] = []
    if service.settings.audit_matches == "matched":
        matched = _matched(
            {n: table.column(n).to_pylist() for n in table.schema.names},
            batch.column("verdict").to_pylist(),
            batch.column("matches").to_pylist(),
        )
    _account(
        request,
        service,
        kind="match-arrow",
        actor=operator_of(key),
        snapshot_id=snapshot_id,
        counts=counts,
        matched=matched,
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)


def _result(item_id: Any, verdict: str, reason: str | None, matches: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item_id, "verdict": verdict}
    if reason is not None:
        out["reason"] = reason
    if matches is not None:
        out["matches"] = orjson.Fragment(matches)
    return out


def _columns(items: list[Any]) -> tuple[dict[str, pa.Array], dict[int, str]]:
    """The items as Arrow text columns, and the rows that are not well-formed items.

    The common case, every item an object of text fields, is one list comprehension and
    one Arrow conversion per column; anything else takes the item-by-item path that says
    what is wrong with each bad item (its columns are then null, so it matches nothing).
    """
    try:
        return (
            {
                name: pa.array([item.get(name) for item in items], pa.string())
                for name in ITEM_COLUMNS
            },
            {},
        )
    except (AttributeError, pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    bad: dict[int, str] = {}
    values: dict[str, list[str | None]] = {name: [] for name in ITEM_COLUMNS}
    for row, item in enumerate(items):
        if not isinstance(item, dict):
            bad[row] = f"item {row}: not an object"
            for name in ITEM_COLUMNS:
                values[name].append(None)
            continue
        wrong = [
            n for n in ITEM_COLUMNS if item.get(n) is not None and not isinstance(item[n], str)
        ]
        if wrong:
            bad[row] = f"item {row}: {', '.join(wrong)} must be text"
        for name in ITEM_COLUMNS:
            value = item.get(name)
            keep = isinstance(value, str) and (not wrong or name == "id")
            values[name].append(value if keep else None)
        if wrong and not isinstance(item.get("id"), str):
            values["id"][-1] = None
    return {name: pa.array(v, pa.string()) for name, v in values.items()}, bad


def _matched(columns: dict[str, Any], verdicts: list[str], matches: list[str | None]) -> list[str]:
    """The digests that matched (for ``audit_matches = matched``).

    Only the digests a match was found on: an item that matched on its MD5 may carry a
    SHA-256 that is on no list, and an unmatched digest is never kept.
    """
    values = {
        name: column.to_pylist() if isinstance(column, pa.Array) else column
        for name in _DIGESTS
        if (column := columns.get(name)) is not None
    }
    out: list[str] = []
    for row, (verdict, found) in enumerate(zip(verdicts, matches, strict=True)):
        if verdict not in _MATCHED or not found:
            continue
        on = {name for match in orjson.loads(found) for name in match["matched_on"]}
        for name in sorted(on):
            column = values.get(name)
            value = column[row] if column is not None else None
            if isinstance(value, str):
                out.append(value.strip().lower())
    return out


def _account(
    request: Request,
    service: Any,
    *,
    kind: str,
    actor: str,
    snapshot_id: str,
    counts: dict[str, int],
    matched: list[str],
) -> None:
    request.app.state.metrics.count_verdicts(counts)
    service.note_matches(
        kind=kind, actor=actor, snapshot_id=snapshot_id, counts=counts, matched=matched
    )
