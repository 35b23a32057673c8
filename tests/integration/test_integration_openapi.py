"""The HTTP API against its own OpenAPI document: schemathesis, in process over ASGI.

Every operation is called with data generated from the document (valid and invalid), with
a key that holds every role, and each reply must be no server error, have a documented
status and content type, and match the documented schema. The bodies schemathesis cannot
make (Arrow IPC streams, raw manifest and list files) get random bytes and random Arrow
tables here instead: never a 5xx, always a documented status, errors always problem
documents. All data is synthetic; the data directory is a temporary folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest
import schemathesis
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi

from hashmatch.config import Settings
from hashmatch.keys import Role
from hashmatch.match.live import MATCH_SCHEMA
from hashmatch.model import Purpose
from hashmatch.service import Service
from hashmatch.web import create_app
from hashmatch.web.openapi import openapi_document, operation_id
from hashmatch.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES

ARROW_STREAM = "application/vnd.apache.arrow.stream"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 15
LIST_NAME = "synthetic-concern"


@dataclass(frozen=True)
class Api:
    """The app over a temporary data directory with one synthetic list, and a key."""

    app: FastAPI
    service: Service
    token: str
    known: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def arrow_body(table: pa.Table) -> bytes:
    """``table`` as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("openapi") / "home"
    settings = Settings(
        home=home,
        database_url=None,
        operator="schemathesis",
        api_max_items=200,
        api_max_body_bytes=256 * 1024,
        api_max_upload_bytes=256 * 1024,
    )
    names = [f"synthetic-openapi-{i:03d}" for i in range(20)]
    source = home.parent / "list.md5sum"
    source.write_text("".join(f"{md5(n)}  {n}\n" for n in names), "utf-8")
    with Service(settings) as service:
        service.add_list(LIST_NAME, Purpose.CONCERN, "synthetic digests for the API tests")
        service.ingest(LIST_NAME, source)
        _, token = service.create_key("schemathesis", [role.value for role in Role])
        app = create_app(service=service)
        try:
            yield Api(app=app, service=service, token=token, known=tuple(map(md5, names)))
        finally:
            asgi.shutdown_lifespans()  # the lifespan schemathesis started, before closing


@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    schema.config.update(headers=api.headers)
    # deterministic: the same cases on every run; no_shrink: a failure is reported as found
    # (schemathesis prints the request), not minimised for minutes
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, no_shrink=True)
    return schema


# Arrow bodies: schemathesis sends random bytes (the document says `format: binary`); the
# tests further down send real Arrow streams.
schemathesis.serializer.alias(ARROW_STREAM, "application/octet-stream")
schema = schemathesis.pytest.from_fixture("api_schema")


SEEN: dict[str, list[int]] = {}
"""Statuses each operation answered in the run above (read by the test after it)."""


@schema.parametrize()
def test_every_operation_conforms_to_the_document(case: schemathesis.Case) -> None:
    response = case.call_and_validate(checks=CHECKS)
    SEEN.setdefault(case.operation.label, []).append(response.status_code)


def test_the_generated_cases_reached_every_operation(api: Api) -> None:
    """The run above was not all 401s or 422s: every operation was reached with the key,
    and those that data from the document alone can satisfy answered with success."""
    if not SEEN:
        # Alone (``-k``) there is nothing to look at; in the whole suite (CI) the run above
        # must have happened, so an empty record is a failure, never a skip.
        if os.environ.get("CI") == "true":
            pytest.fail("test_every_operation_conforms_to_the_document recorded no case")
        pytest.skip("runs after test_every_operation_conforms_to_the_document")
    operations = {
        f"{method.upper()} {path}"
        for path, item in api.app.openapi()["paths"].items()
        for method in item
    }
    assert set(SEEN) == operations
    for label, statuses in SEEN.items():
        assert any(s not in (401, 403, 405) for s in statuses), (label, statuses)
    for label in (
        "GET /healthz",
        "GET /v1/snapshot",
        "GET /v1/lookup/{algorithm}/{digest}",
        "POST /v1/match",
        "GET /v1/lists",
        "POST /v1/lists",
        "GET /v1/audit",
        "POST /v1/keys",
    ):
        assert any(200 <= s < 300 for s in SEEN[label]), (label, SEEN[label])


def test_uploads_runs_reports_and_arrow_conform_to_the_document(api: Api, api_schema: Any) -> None:
    """The operations generated data cannot succeed on, driven to success by hand and
    checked against the document the same way."""

    def call(path: str, method: str, *, status: int, **kwargs: Any) -> Any:
        case = api_schema[path][method].Case(**kwargs)
        response = case.call_and_validate(checks=CHECKS, headers=api.headers)
        assert response.status_code == status, response.text
        return response

    names = [f"synthetic-openapi-upload-{i}" for i in range(3)]
    listing = "".join(f"{md5(n)}  {n}\n" for n in names)
    call("/v1/lists", "POST", status=201, body={"name": "uploaded", "purpose": "concern"})
    version = call(
        "/v1/lists/{name}/versions",
        "POST",
        status=201,
        path_parameters={"name": "uploaded"},
        query={"format": "md5sum", "source_name": "synthetic.md5sum"},
        body=listing.encode(),
        media_type="application/octet-stream",
    ).json()
    assert version["counts"]["entries"] == 3
    call("/v1/lists/{name}/versions", "GET", status=200, path_parameters={"name": "uploaded"})
    manifest = "".join(f"{md5(n)}  {n}\n" for n in [*names, "synthetic-openapi-other"])
    run = call(
        "/v1/runs",
        "POST",
        status=201,
        query={"case_ref": "SYN-1", "name": "synthetic.md5sum"},
        body=manifest,
        media_type="text/plain",
    ).json()
    assert run["counts"]["total"] == 4
    call("/v1/runs/{run_id}", "GET", status=200, path_parameters={"run_id": run["run_id"]})
    for fmt in ("json", "csv", "html"):
        call(
            "/v1/runs/{run_id}/report",
            "GET",
            status=200,
            path_parameters={"run_id": run["run_id"]},
            query={"format": fmt},
        )
    items = pa.table({"id": ["a", "b"], "md5": [md5(names[0]), md5("synthetic-unknown")]})
    reply = call(
        "/v1/match/arrow", "POST", status=200, body=arrow_body(items), media_type=ARROW_STREAM
    )
    verdicts = pa.ipc.open_stream(reply.content).read_all().column("verdict").to_pylist()
    assert verdicts == ["known", "unknown"]
    call("/v1/audit", "GET", status=200, query={"limit": 5})


def test_the_document_is_served_and_complete(api: Api) -> None:
    document = api.app.openapi()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            responses = operation["responses"]
            if path.startswith("/v1/"):
                assert operation.get("security") == [{"HTTPBearer": []}], label
                assert {"401", "403"} <= set(responses), label
            if "requestBody" in operation:
                assert "413" in responses, label
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"] == {
                        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, f"{label} {status}"
            assert operation["operationId"].isidentifier(), label
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    arrow = document["paths"]["/v1/match/arrow"]["post"]
    assert list(arrow["requestBody"]["content"]) == [ARROW_STREAM]
    assert list(arrow["responses"]["200"]["content"]) == [ARROW_STREAM]


# -- bodies schemathesis cannot make ----------------------------------------------------


def _problem(response: Any, statuses: set[int]) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == response.status_code
    assert body["type"].rsplit("/", 1)[1] in PROBLEM_TYPES


@pytest.fixture(scope="module")
def client(api: Api) -> TestClient:
    return TestClient(api.app, headers=api.headers)


_digest_text = st.one_of(
    st.none(),
    st.text(max_size=70),
    st.sampled_from(["d41d8cd98f00b204e9800998ecf8427e", "not hex", ""]),
)
_column_types = st.sampled_from([pa.string(), pa.large_string(), pa.int64(), pa.binary()])


@st.composite
def arrow_streams(draw: st.DrawFn, known: tuple[str, ...]) -> bytes:
    """An Arrow IPC stream of a random table: some of the item columns, maybe others."""
    names = draw(
        st.lists(st.sampled_from(["id", "md5", "sha1", "sha256", "other"]), max_size=5, unique=True)
    )
    rows = draw(st.integers(0, 8))
    columns: dict[str, pa.Array] = {}
    for name in names:
        kind = draw(_column_types) if draw(st.booleans()) else pa.string()
        values = draw(
            st.lists(st.one_of(_digest_text, st.sampled_from(known)), min_size=rows, max_size=rows)
        )
        if pa.types.is_integer(kind):
            columns[name] = pa.array([len(v) if v else None for v in values], kind)
        elif pa.types.is_binary(kind):
            columns[name] = pa.array([v.encode() if v else None for v in values], kind)
        else:
            columns[name] = pa.array(values, kind)
    return arrow_body(pa.table(columns) if columns else pa.table({}))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=512))
def test_arrow_match_refuses_random_bytes_with_a_problem(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/match/arrow", content=body, headers={"content-type": ARROW_STREAM})
    _problem(response, {400})


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_arrow_match_answers_any_table_with_verdicts_or_a_problem(
    client: TestClient, api: Api, data: st.DataObject
) -> None:
    body = data.draw(arrow_streams(api.known))
    response = client.post("/v1/match/arrow", content=body, headers={"content-type": ARROW_STREAM})
    if response.status_code != 200:
        _problem(response, {400})
        return
    assert response.headers["content-type"] == ARROW_STREAM
    reply = pa.ipc.open_stream(response.content).read_all()
    sent = pa.ipc.open_stream(body).read_all()
    assert reply.schema.names == MATCH_SCHEMA.names
    assert reply.num_rows == sent.num_rows
    assert b"snapshot_id" in (reply.schema.metadata or {})


@pytest.fixture(scope="module")
def upload_target(api: Api) -> str:
    """A list of its own for random uploads, so that one which parses harms no other test."""
    api.service.add_list("random-uploads", Purpose.CONCERN)
    return "/v1/lists/random-uploads/versions"


_upload_bodies = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=256).map(str.encode),
    st.lists(st.sampled_from(["<?xml", "md5,", "\ufeff", "\r\n", "hashdeep", ",", "0" * 32]))
    .map("".join)
    .map(str.encode),
)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    body=_upload_bodies,
    media_type=st.sampled_from(["application/octet-stream", "text/plain", "text/csv"]),
    which=st.sampled_from(["runs", "lists"]),
)
def test_uploads_answer_random_bodies_with_a_run_a_version_or_a_problem(
    client: TestClient, upload_target: str, body: bytes, media_type: str, which: str
) -> None:
    url = "/v1/runs?case_ref=SYN-RANDOM" if which == "runs" else upload_target
    response = client.post(url, content=body, headers={"content-type": media_type})
    if response.status_code != 201:
        _problem(response, {400, 415, 422})


@pytest.mark.parametrize("media_type", ["image/jpeg", "video/mp4", "audio/mpeg"])
def test_uploads_refuse_file_content_by_its_media_type(
    client: TestClient, upload_target: str, media_type: str
) -> None:
    manifest = f"{md5('synthetic-openapi-000')}  synthetic-openapi-000\n".encode()
    for url in ("/v1/runs?case_ref=SYN-MEDIA", upload_target):
        _problem(client.post(url, content=manifest, headers={"content-type": media_type}), {415})


def test_bodies_over_the_limits_are_refused_with_413(
    client: TestClient, upload_target: str
) -> None:
    big = b"0" * (256 * 1024 + 1)
    for url, media_type in (
        ("/v1/match", "application/json"),
        ("/v1/match/arrow", ARROW_STREAM),
        ("/v1/runs?case_ref=SYN-BIG", "text/plain"),
        (upload_target, "text/plain"),
        ("/v1/gradings", "application/json"),
    ):
        _problem(client.post(url, content=big, headers={"content-type": media_type}), {413})


def test_an_app_with_no_list_loaded_answers_not_ready_as_documented(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("openapi-empty") / "home"
    with Service(Settings(home=home, database_url=None, operator="schemathesis")) as service:
        _, token = service.create_key("empty", [role.value for role in Role])
        app = create_app(service=service)
        empty = schemathesis.openapi.from_dict(app.openapi())
        client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        digest = md5("synthetic-openapi-000")
        for path, method, kwargs in (
            (
                "/v1/lookup/{algorithm}/{digest}",
                "GET",
                {"path_parameters": {"algorithm": "md5", "digest": digest}},
            ),
            ("/v1/match", "POST", {"body": {"items": [{"md5": digest}]}}),
            (
                "/v1/match/arrow",
                "POST",
                {"body": arrow_body(pa.table({"md5": [digest]})), "media_type": ARROW_STREAM},
            ),
            ("/v1/snapshot", "GET", {}),
            ("/readyz", "GET", {}),
        ):
            case = empty[path][method].Case(**kwargs)
            request = case.as_transport_kwargs()  # in requests' terms; the client is httpx's
            request.pop("cookies", None)
            if "data" in request:
                request["content"] = request.pop("data")
            response = client.request(**request)
            # 503 is the answer here: every check but "no server error"
            case.validate_response(response, checks=CHECKS[1:])
            _problem(response, {503})


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")  # FastAPI warns; we refuse
def test_two_routes_with_one_operation_id_are_refused() -> None:
    first, second = APIRouter(), APIRouter()

    @first.get("/a")
    def show() -> dict[str, str]:  # pragma: no cover - never called
        return {}

    @second.get("/b", name="show")
    def show_b() -> dict[str, str]:  # pragma: no cover - never called
        return {}

    app = FastAPI(generate_unique_id_function=operation_id)
    app.include_router(first)
    app.include_router(second)
    with pytest.raises(ValueError, match="share the operationId 'show'"):
        openapi_document(app)
