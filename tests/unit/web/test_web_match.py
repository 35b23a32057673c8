"""The match routes: one digest, bulk JSON and bulk Arrow, against the serving snapshot.

The bulk routes must give every item the verdict that ``hashmatch check`` gives the same
digests in a manifest (a property over random mixes), explain every invalid item and drop
none; what they leave in the audit trail is what ``HASHMATCH_AUDIT_MATCHES`` says, and
never a digest that did not match.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from web_support import (
    BENIGN,
    BENIGN_PLANTED,
    CONCERN,
    EMPTY_MD5,
    PLANTED,
    UNPLANTED,
    Web,
    digest,
    make_service,
    problem_type,
    started,
)

from hashmatch.keys import Role

ARROW = "application/vnd.apache.arrow.stream"
ALGORITHMS = ("md5", "sha1", "sha256")


def _arrow(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _match_arrow(web: Web, body: bytes) -> Any:
    return web.client.post(
        "/v1/match/arrow",
        content=body,
        headers={**web.auth(Role.INTAKE), "Content-Type": ARROW},
    )


def _lookup(web: Web, algorithm: str, value: str) -> Any:
    return web.client.get(f"/v1/lookup/{algorithm}/{value}", headers=web.auth(Role.INTAKE))


# -- single lookups -------------------------------------------------------------------


def test_a_planted_digest_is_known_with_its_list_and_labels(shared_web: Web) -> None:
    for algorithm in ALGORITHMS:
        value = digest(algorithm, PLANTED[0])
        for shown in (value, value.upper()):
            reply = _lookup(shared_web, algorithm, shown)
            assert reply.status_code == 200
            found = reply.json()
            assert found["verdict"] == "known"
            assert found["digest"] == shown
            (match,) = found["matches"]
            assert match["list"] == CONCERN
            assert match["version"] == 1
            assert match["matched_on"] == [algorithm]
            assert found["snapshot_id"]


def test_a_digest_on_a_benign_list_only_is_known_benign(shared_web: Web) -> None:
    found = _lookup(shared_web, "md5", digest("md5", BENIGN_PLANTED[0])).json()
    assert found["verdict"] == "known_benign"
    assert found["matches"][0]["list"] == BENIGN


def test_an_unplanted_digest_is_unknown_without_matches(shared_web: Web) -> None:
    found = _lookup(shared_web, "sha256", digest("sha256", UNPLANTED[0])).json()
    assert found["verdict"] == "unknown"
    assert "matches" not in found
    assert "reason" not in found


@pytest.mark.parametrize(
    ("algorithm", "value"),
    [("md5", "zz"), ("md5", "0" * 31), ("sha1", "g" * 40), ("sha256", digest("md5", "x"))],
)
def test_a_malformed_digest_is_invalid_with_a_reason(
    shared_web: Web, algorithm: str, value: str
) -> None:
    reply = _lookup(shared_web, algorithm, value)
    assert reply.status_code == 200
    found = reply.json()
    assert found["verdict"] == "invalid"
    assert algorithm in found["reason"]


def test_the_zero_length_file_digest_is_not_assessable(shared_web: Web) -> None:
    for algorithm in ALGORITHMS:
        found = _lookup(shared_web, algorithm, digest(algorithm, "")).json()
        assert found["verdict"] == "not_assessable"
        assert "zero-length" in found["reason"]


def test_an_unknown_algorithm_is_a_validation_problem(shared_web: Web) -> None:
    reply = _lookup(shared_web, "crc32", "00000000")
    assert reply.status_code == 422
    assert problem_type(reply) == "validation"


# -- bulk JSON ------------------------------------------------------------------------


def test_bulk_json_answers_every_item_in_order_and_explains_the_invalid_ones(
    shared_web: Web,
) -> None:
    items: list[Any] = [
        {"id": "known", "md5": digest("md5", PLANTED[1])},
        {"id": "unknown", "sha1": digest("sha1", UNPLANTED[1])},
        {"id": "malformed", "sha256": "not-hex"},
        7,
        {"id": "number", "md5": 12345},
        {"id": "nothing"},
        {"id": "empty-file", "md5": EMPTY_MD5},
        {"id": "benign", "md5": digest("md5", BENIGN_PLANTED[1]), "note": "ignored"},
        ["a", "list"],
        {"id": 9, "md5": digest("md5", PLANTED[2])},
        {"md5": digest("md5", PLANTED[3]), "sha256": digest("sha256", UNPLANTED[3])},
    ]
    reply = shared_web.client.post(
        "/v1/match", json={"items": items}, headers=shared_web.auth(Role.INTAKE)
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    results = body["results"]
    assert len(results) == len(items)
    assert [r["id"] for r in results] == [
        "known",
        "unknown",
        "malformed",
        None,
        "number",
        "nothing",
        "empty-file",
        "benign",
        None,
        None,
        None,
    ]
    assert [r["verdict"] for r in results] == [
        "known",
        "unknown",
        "invalid",
        "invalid",
        "invalid",
        "not_assessable",
        "not_assessable",
        "known_benign",
        "invalid",
        "invalid",
        "known",
    ]
    assert "sha256" in results[2]["reason"]
    assert results[3]["reason"] == "item 3: not an object"
    assert results[4]["reason"] == "item 4: md5 must be text"
    assert results[8]["reason"] == "item 8: not an object"
    assert results[9]["reason"] == "item 9: id must be text"
    assert "no digest" in results[5]["reason"]
    assert results[0]["matches"][0]["list"] == CONCERN
    assert body["counts"] == {
        "known": 2,
        "unknown": 1,
        "invalid": 5,
        "not_assessable": 2,
        "known_benign": 1,
    }
    assert body["snapshot_id"] == shared_web.service.serving().snapshot.id


def test_an_empty_bulk_request_gets_no_results(shared_web: Web) -> None:
    reply = shared_web.client.post(
        "/v1/match", json={"items": []}, headers=shared_web.auth(Role.INTAKE)
    )
    assert reply.status_code == 200
    assert reply.json()["results"] == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"items": 3}', b'{"things": []}', b""],
    ids=["text", "array", "items-number", "no-items", "empty"],
)
def test_a_bulk_body_that_is_not_an_object_of_items_is_a_400_problem(
    shared_web: Web, body: bytes
) -> None:
    reply = shared_web.client.post(
        "/v1/match",
        content=body,
        headers={**shared_web.auth(Role.INTAKE), "Content-Type": "application/json"},
    )
    assert reply.status_code == 400
    assert problem_type(reply) == "invalid-input"


# -- bulk Arrow -----------------------------------------------------------------------


def test_bulk_arrow_answers_every_item_in_order_with_the_snapshot(shared_web: Web) -> None:
    table = pa.table(
        {
            "id": ["a", None, "c", "d"],
            "md5": [digest("md5", PLANTED[0]), None, "zz", None],
            "sha256": [None, digest("sha256", UNPLANTED[0]), None, None],
        }
    )
    reply = _match_arrow(shared_web, _arrow(table))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == ARROW
    answer = pa.ipc.open_stream(reply.content).read_all()
    assert answer.schema.names == ["id", "verdict", "reason", "matches"]
    assert answer.column("id").to_pylist() == ["a", None, "c", "d"]
    assert answer.column("verdict").to_pylist() == [
        "known",
        "unknown",
        "invalid",
        "not_assessable",
    ]
    assert json.loads(answer.column("matches")[0].as_py())[0]["list"] == CONCERN
    snapshot = answer.schema.metadata[b"snapshot_id"].decode()
    assert snapshot == shared_web.service.serving().snapshot.id


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not an arrow stream", "not an Arrow IPC stream"),
        (b"", "not an Arrow IPC stream"),
        (_arrow(pa.table({"md5": ["a"], "path": ["/x"]})), "unknown column"),
        (_arrow(pa.table({"md5": [1, 2]})), "must be text"),
        (_arrow(pa.table({"id": ["a"]})), "at least one digest column"),
    ],
    ids=["text", "empty", "unknown-column", "number-column", "no-digest-column"],
)
def test_a_bad_arrow_body_is_a_400_problem(shared_web: Web, body: bytes, words: str) -> None:
    reply = _match_arrow(shared_web, body)
    assert reply.status_code == 400, reply.text
    assert problem_type(reply) == "invalid-input"
    assert words in reply.json()["detail"]


# -- the HTTP verdicts are the check's verdicts ---------------------------------------


def _cell(algorithm: str) -> st.SearchStrategy[str | None]:
    planted = st.sampled_from(PLANTED).map(lambda n: digest(algorithm, n))
    choices = [
        st.none(),
        planted,
        planted.map(str.upper),
        st.sampled_from(UNPLANTED).map(lambda n: digest(algorithm, n)),
        st.just(digest(algorithm, "")),
        # malformed: wrong lengths, letters that are not hex, base64-like text
        st.text(alphabet="0123456789abcdefxyzXYZ+/=", min_size=1, max_size=70),
    ]
    if algorithm == "md5":
        choices.append(st.sampled_from(BENIGN_PLANTED).map(lambda n: digest("md5", n)))
    return st.one_of(choices)


ITEMS = st.lists(st.fixed_dictionaries({a: _cell(a) for a in ALGORITHMS}), min_size=1, max_size=25)


def _checked(web: Web, items: list[dict[str, str | None]], folder: Path) -> list[tuple[Any, ...]]:
    """The verdicts ``check`` gives the items as rows of a CSV manifest (after one good row,
    which keeps the manifest recognisable whatever the items hold)."""
    lines = ["MD5,SHA1,SHA256,Path", f"{digest('md5', PLANTED[0])},,,first"]
    lines += [
        ",".join(item[a] or "" for a in ALGORITHMS) + f",item-{row}"
        for row, item in enumerate(items)
    ]
    manifest = folder / "items.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = web.service.check([manifest], case_ref="PROPERTY").verdicts
    rows = zip(
        table.column("verdict").to_pylist(),
        table.column("reason").to_pylist(),
        table.column("matches").to_pylist(),
        strict=True,
    )
    return [(v, r, json.loads(m) if m else None) for v, r, m in rows][1:]


@given(items=ITEMS)
@example(items=[{"md5": digest("md5", PLANTED[0]), "sha1": "zz", "sha256": None}])
@example(items=[{"md5": None, "sha1": None, "sha256": None}])
@example(items=[{"md5": EMPTY_MD5, "sha1": None, "sha256": digest("sha256", PLANTED[1])}])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
def test_json_and_arrow_give_the_verdicts_a_check_gives(
    shared_web: Web, tmp_path: Path, items: list[dict[str, str | None]]
) -> None:
    expected = _checked(shared_web, items, tmp_path)

    reply = shared_web.client.post(
        "/v1/match",
        json={"items": [{"id": f"i{n}", **item} for n, item in enumerate(items)]},
        headers=shared_web.auth(Role.INTAKE),
    )
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["id"] for r in results] == [f"i{n}" for n in range(len(items))]
    by_json = [(r["verdict"], r.get("reason"), r.get("matches")) for r in results]
    assert by_json == expected

    table = pa.table({a: pa.array([i[a] for i in items], pa.string()) for a in ALGORITHMS})
    answer = pa.ipc.open_stream(_match_arrow(shared_web, _arrow(table)).content).read_all()
    by_arrow = [
        (v, r, json.loads(m) if m else None)
        for v, r, m in zip(
            answer.column("verdict").to_pylist(),
            answer.column("reason").to_pylist(),
            answer.column("matches").to_pylist(),
            strict=True,
        )
    ]
    assert by_arrow == expected


# -- limits ---------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Web]:
    service = make_service(tmp_path / "home", api_max_items=3, api_max_body_bytes=1024)
    with service, started(service) as made:
        yield made


def test_too_many_items_or_too_large_a_body_is_a_413_problem(small: Web) -> None:
    four = [{"md5": digest("md5", n)} for n in PLANTED[:4]]
    by_json = small.client.post("/v1/match", json={"items": four}, headers=small.auth(Role.INTAKE))
    by_arrow = _match_arrow(small, _arrow(pa.table({"md5": [i["md5"] for i in four]})))
    large = small.client.post(
        "/v1/match",
        json={"items": [{"id": "x" * 2000, "md5": EMPTY_MD5}]},
        headers=small.auth(Role.INTAKE),
    )
    for reply in (by_json, by_arrow, large):
        assert reply.status_code == 413, reply.text
        assert problem_type(reply) == "too-large"
    three = small.client.post(
        "/v1/match", json={"items": four[:3]}, headers=small.auth(Role.INTAKE)
    )
    assert three.status_code == 200


# -- what the audit trail keeps -------------------------------------------------------


def _audit_web(tmp_path: Path, mode: str) -> Any:
    service = make_service(tmp_path / "home", audit_matches=mode)
    return service, started(service)


def _match_everything(web: Web) -> list[str]:
    """Ask about planted and unplanted digests every way; return the unmatched ones."""
    unmatched = [digest("sha256", UNPLANTED[5]), digest("md5", UNPLANTED[6]), "zz"]
    _lookup(web, "md5", digest("md5", PLANTED[4]))
    _lookup(web, "md5", digest("md5", UNPLANTED[7]))
    unmatched.append(digest("md5", UNPLANTED[7]))
    web.client.post(
        "/v1/match",
        json={
            "items": [
                {"md5": digest("md5", PLANTED[5]), "sha256": unmatched[0]},
                {"md5": unmatched[1]},
                {"sha1": unmatched[2]},
            ]
        },
        headers=web.auth(Role.INTAKE),
    )
    table = pa.table(
        {
            "md5": [digest("md5", PLANTED[6]), digest("md5", UNPLANTED[8])],
            "sha1": [digest("sha1", UNPLANTED[9]), None],
        }
    )
    _match_arrow(web, _arrow(table))
    unmatched += [digest("md5", UNPLANTED[8]), digest("sha1", UNPLANTED[9])]
    web.service.flush_match_audit()
    return unmatched


def _match_records(web: Web) -> list[Any]:
    return [r for r in web.service.audit_records() if r.action == "match"]


def test_by_default_the_trail_keeps_counts_and_no_digest_nor_key(tmp_path: Path) -> None:
    service, starting = _audit_web(tmp_path, "counts")
    with service, starting as web:
        unmatched = _match_everything(web)
        records = _match_records(web)
    # a record per bulk request; the two single lookups summed into one record
    assert [r.details["request"] for r in records] == ["match", "match-arrow", "lookup"]
    assert [r.details["counts"] for r in records] == [
        {"invalid": 1, "known": 1, "unknown": 1},
        {"known": 1, "unknown": 1},
        {"known": 1, "unknown": 1},
    ]
    assert [r.details["items"] for r in records] == [3, 2, 2]
    assert [r.details["requests"] for r in records] == [1, 1, 2]
    text = orjson.dumps([[r.actor, r.subject, r.details] for r in records]).decode()
    for value in [*unmatched, *(digest("md5", n) for n in PLANTED[4:7])]:
        assert value not in text
    assert {r.actor for r in records} == {"api"}
    assert "key:" not in text


def test_matched_mode_keeps_the_matched_digests_and_never_an_unmatched_one(
    tmp_path: Path,
) -> None:
    service, starting = _audit_web(tmp_path, "matched")
    with service, starting as web:
        unmatched = _match_everything(web)
        records = _match_records(web)
        operator = web.operator(Role.INTAKE)
    assert [r.details["matched"] for r in records] == [
        [digest("md5", PLANTED[5])],
        [digest("md5", PLANTED[6])],
        [digest("md5", PLANTED[4])],  # the single lookups' record, summed at the flush
    ]
    assert {r.actor for r in records} == {operator}
    text = orjson.dumps([r.details for r in records]).decode()
    for value in unmatched:
        assert value not in text


def test_none_mode_keeps_no_match_record(tmp_path: Path) -> None:
    service, starting = _audit_web(tmp_path, "none")
    with service, starting as web:
        _match_everything(web)
        assert _match_records(web) == []
