"""The baseline of benchmarks/http_api.py: a minimal HTTP service over a Python set.

What one would write in an afternoon: FastAPI on uvicorn, the list's MD5 digests read into
a Python ``set`` of ``bytes`` when each worker starts, and the three endpoints the
benchmark drives, answering in the same shapes as hashmatch's API:

``GET /v1/lookup/md5/{digest}``
    ``{"algorithm", "digest", "verdict", "snapshot_id", ("reason"), ("matches")}``;
``POST /v1/match`` (``{"items": [{"id", "md5"}, ...]}``)
    ``{"snapshot_id", "counts", "results": [{"id", "verdict", ("reason"), ("matches")}]}``,
    parsed and written with the standard ``json`` module (no pydantic models: those would
    make the baseline slower, not fairer);
``POST /v1/match/arrow`` (an Arrow IPC stream with ``id`` and ``md5`` text columns)
    an Arrow IPC stream with ``id``, ``verdict``, ``reason`` and ``matches`` columns;

and ``GET /healthz``. No authentication, no audit trail, no labels or provenance (a hit's
``matches`` names the list only), no snapshot switching, no access log: it is a floor for
the work, not a rival product. benchmarks/http_api.py starts it as

    python -P benchmarks/_http_baseline.py --list LIST.md5 --port 8751 --workers 2

``-P`` keeps the working directory off the import path; this folder is appended below.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

LIST_ENV = "HASHMATCH_BENCH_BASELINE_LIST"
"""The md5sum list file each worker loads (uvicorn workers are new processes)."""

NAME = "minimal FastAPI+uvicorn over a Python set"
SNAPSHOT_ID = "baseline"
ARROW_TYPE = "application/vnd.apache.arrow.stream"
_HIT = [{"list": "synthetic"}]


def load_digests(path: Path) -> set[bytes]:
    """The MD5 digests of an md5sum file (``HEX  name`` lines) as a set of raw bytes."""
    with open(path, "rb") as handle:
        return {bytes.fromhex(line[:32].decode()) for line in handle if line.strip()}


def judge(known: set[bytes], value: Any) -> tuple[str, str | None]:
    """Verdict and reason for one MD5 value, as hex text."""
    try:
        digest = bytes.fromhex(value)
    except (TypeError, ValueError):
        return "invalid", "md5: not 32 hexadecimal characters"
    if len(digest) != 16:
        return "invalid", "md5: not 32 hexadecimal characters"
    return ("known" if digest in known else "unknown"), None


def create_app() -> FastAPI:
    """The FastAPI app over the list named by ``$HASHMATCH_BENCH_BASELINE_LIST``."""
    known = load_digests(Path(os.environ[LIST_ENV]))
    app = FastAPI(title=NAME)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/lookup/{algorithm}/{digest}")
    async def lookup(algorithm: str, digest: str) -> JSONResponse:
        if algorithm != "md5":
            return JSONResponse({"detail": "md5 only"}, status_code=404)
        verdict, reason = judge(known, digest)
        body: dict[str, Any] = {"algorithm": algorithm, "digest": digest, "verdict": verdict}
        body["snapshot_id"] = SNAPSHOT_ID
        if reason is not None:
            body["reason"] = reason
        if verdict == "known":
            body["matches"] = _HIT
        return JSONResponse(body)

    @app.post("/v1/match")
    async def match(request: Request) -> Response:
        items = json.loads(await request.body())["items"]
        results: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        for item in items:
            verdict, reason = judge(known, item.get("md5"))
            counts[verdict] += 1
            result: dict[str, Any] = {"id": item.get("id"), "verdict": verdict}
            if reason is not None:
                result["reason"] = reason
            if verdict == "known":
                result["matches"] = _HIT
            results.append(result)
        document = {"snapshot_id": SNAPSHOT_ID, "counts": dict(counts), "results": results}
        return Response(json.dumps(document), media_type="application/json")

    @app.post("/v1/match/arrow")
    async def match_arrow(request: Request) -> Response:
        table = pa.ipc.open_stream(await request.body()).read_all()
        verdicts: list[str] = []
        reasons: list[str | None] = []
        hit = json.dumps(_HIT)
        for value in table.column("md5").to_pylist():
            verdict, reason = judge(known, value)
            verdicts.append(verdict)
            reasons.append(reason)
        out = pa.table(
            {
                "id": table.column("id"),
                "verdict": pa.array(verdicts, pa.string()),
                "reason": pa.array(reasons, pa.string()),
                "matches": pa.array([hit if v == "known" else None for v in verdicts], pa.string()),
            }
        ).replace_schema_metadata({"snapshot_id": SNAPSHOT_ID})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, out.schema) as writer:
            writer.write_table(out)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW_TYPE)

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=Path, required=True, help="md5sum file to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ[LIST_ENV] = str(args.list.resolve())
    # The workers import this module by name.
    sys.path.append(str(Path(__file__).resolve().parent))
    uvicorn.run(
        "_http_baseline:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
