"""The audit chain on its own: the hash format, building records, and what verification finds."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.audit import (
    GENESIS,
    AuditHead,
    AuditProblemKind,
    AuditRecord,
    audit_hash,
    canonical_json,
    make_record,
    verify_chain,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
EDITED = AuditProblemKind.EDITED
DELETED = AuditProblemKind.DELETED
REORDERED = AuditProblemKind.REORDERED


def _chain(length: int, *, start: AuditHead | None = None) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    previous = start
    for i in range(length):
        record = make_record(
            previous,
            at=T0 + timedelta(seconds=i),
            actor="curator",
            action="ingest",
            subject=f"synthetic-list-{i}",
            details={"version": i, "rows": 10 * i},
        )
        records.append(record)
        previous = record.head
    return records


def _found(records: list[AuditRecord], head: AuditHead | None = None) -> list[tuple[int, str]]:
    return [(p.seq, p.kind.value) for p in verify_chain(records, head=head).problems]


def _rewrite(record: AuditRecord, **changes: Any) -> AuditRecord:
    """``record`` changed and its hash recomputed: what a careful forger writes."""
    changed = dataclasses.replace(record, **changes)
    return dataclasses.replace(changed, hash=changed.computed_hash())


# The hash format


def test_the_canonical_form_is_pinned_byte_for_byte() -> None:
    at = datetime(2025, 3, 1, 17, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    fields: dict[str, Any] = {
        "seq": 1,
        "at": at,
        "actor": "curator",
        "action": "ingest",
        "subject": "caid",
        "details": {"version": 2, "name": "émile", "b": [True, None, 1.5]},
        "prev_hash": GENESIS,
    }
    expected = (
        '{"action":"ingest","actor":"curator","at":"2025-03-01T12:00:00.123456Z",'
        '"details":{"b":[true,null,1.5],"name":"émile","version":2},'
        f'"prev_hash":"{"0" * 64}","seq":1,"subject":"caid"}}'
    ).encode()
    assert canonical_json(**fields) == expected
    assert audit_hash(**fields) == hashlib.sha256(expected).hexdigest()
    # Pinned: a change of format would orphan every chain already written.
    assert audit_hash(**fields) == (
        "edaf3ac7c468941ea19ad7c38defb180ce4ae417387877541d9c3a97a69a6832"
    )


def test_times_are_written_with_microseconds_even_when_they_are_zero() -> None:
    record = make_record(
        None,
        at=datetime(987, 6, 5, 4, 3, 2, tzinfo=UTC),
        actor="a",
        action="b",
        subject="",
        details={},
    )
    assert b'"at":"0987-06-05T04:03:02.000000Z"' in canonical_json(
        seq=1, at=record.at, actor="a", action="b", subject="", details={}, prev_hash=GENESIS
    )


def test_genesis_is_sixty_four_zeros() -> None:
    assert GENESIS == "0" * 64


# Building records


def test_records_chain_from_genesis_with_consecutive_seqs() -> None:
    first, second, third = _chain(3)
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert all(r.hash == r.computed_hash() for r in (first, second, third))
    assert len({first.hash, second.hash, third.hash}) == 3


def test_make_record_stores_utc_and_plain_json_values() -> None:
    class Colour(enum.StrEnum):
        RED = "red"

    record = make_record(
        None,
        at=datetime(2025, 3, 1, 6, 0, tzinfo=timezone(timedelta(hours=-6))),
        actor="curator",
        action="policy",
        subject="caid",
        details={"pair": (1, 2), "colour": Colour.RED, "nested": {"flag": True, "none": None}},
    )
    assert record.at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert record.at.tzinfo is UTC
    assert record.details == {
        "pair": [1, 2],
        "colour": "red",
        "nested": {"flag": True, "none": None},
    }
    assert type(record.details["colour"]) is str
    assert verify_chain([record]).ok


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"at": datetime(2025, 3, 1)}, "naive"),
        ({"actor": " "}, "actor"),
        ({"action": ""}, "action"),
        ({"details": {"x": math.nan}}, "JSON"),
        ({"details": {"x": math.inf}}, "JSON"),
        ({"details": {1: "one"}}, "not text"),
        ({"details": {"x": {1, 2}}}, "set"),
        ({"details": {"x": b"bytes"}}, "bytes"),
        ({"details": ["not", "an", "object"]}, "object"),
        ({"subject": "nul\x00"}, "NUL"),
        ({"details": {"x": ["nul\x00"]}}, "NUL"),
        ({"details": {"x": "\ud800"}}, "Unicode"),
    ],
)
def test_make_record_refuses_what_the_chain_cannot_hold(
    changes: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {
        "at": T0,
        "actor": "curator",
        "action": "ingest",
        "subject": "caid",
        "details": {},
    }
    fields.update(changes)
    with pytest.raises(ValueError, match=message):
        make_record(None, **fields)


# Verification: each kind of tampering, and its plain reason


def test_an_intact_chain_verifies_with_and_without_its_head() -> None:
    records = _chain(5)
    result = verify_chain(records, head=records[-1].head)
    assert result.ok
    assert (result.checked, result.last, result.after_head) == (5, records[-1].head, 0)
    assert verify_chain(records).ok


def test_an_empty_chain_is_fine_unless_the_head_says_otherwise() -> None:
    assert verify_chain([]).ok
    assert verify_chain([], head=AuditHead(seq=0, hash=GENESIS)).ok
    result = verify_chain([], head=AuditHead(seq=3, hash="ab" * 32))
    assert [(p.seq, p.kind) for p in result.problems] == [(1, AuditProblemKind.TRUNCATED)]
    assert "the chain is empty but the expected head is seq 3" in result.problems[0].reason


def test_an_edited_record_is_reported_once_at_its_seq() -> None:
    records = _chain(5)
    records[2] = dataclasses.replace(records[2], details={"version": 99, "rows": 20})
    result = verify_chain(records)
    assert _found(records) == [(3, "edited")]
    assert "hash does not match its content" in result.problems[0].reason
    assert result.problems[0].render().startswith("seq 3: edited: ")


@pytest.mark.parametrize("field", ["actor", "action", "subject", "prev_hash", "hash"])
def test_editing_any_text_field_is_an_edit(field: str) -> None:
    records = _chain(3)
    changes: dict[str, Any] = {field: "f" * 64}
    records[1] = dataclasses.replace(records[1], **changes)
    assert (2, "edited") in _found(records)


def test_editing_the_time_by_one_microsecond_is_an_edit() -> None:
    records = _chain(3)
    records[1] = dataclasses.replace(records[1], at=records[1].at + timedelta(microseconds=1))
    assert _found(records) == [(2, "edited")]


def test_a_deleted_middle_record_is_a_gap_reported_where_it_shows() -> None:
    records = _chain(5)
    del records[2]
    result = verify_chain(records)
    assert _found(records) == [(4, "deleted")]
    assert "seq 3 is missing" in result.problems[0].reason


def test_deleted_first_records_are_a_gap_from_one() -> None:
    records = _chain(5)[2:]
    result = verify_chain(records)
    assert _found(records) == [(3, "deleted")]
    assert "seq 1 to 2 are missing" in result.problems[0].reason


def test_a_deleted_record_with_the_rest_renumbered_and_rehashed_breaks_the_link() -> None:
    records = _chain(4)
    del records[1]
    # The forger renumbers seq 3 and 4 as 2 and 3 and recomputes their hashes, but seq 3's
    # prev_hash still names the deleted record (rewriting it too means rewriting the rest).
    records[1] = _rewrite(records[1], seq=2)
    records[2] = _rewrite(records[2], seq=3, prev_hash=records[1].hash)
    result = verify_chain(records)
    assert _found(records) == [(2, "deleted")]
    assert "its prev_hash is not the hash of seq 1" in result.problems[0].reason


def test_a_rewritten_middle_record_shows_at_the_next_one() -> None:
    records = _chain(4)
    records[1] = _rewrite(records[1], details={"version": 1, "rows": 0})
    assert _found(records) == [(3, "deleted")]
    assert "or seq 2 was rewritten" in verify_chain(records).problems[0].reason


def test_records_stored_out_of_order_are_reordered_and_nothing_else() -> None:
    records = _chain(5)
    records[1], records[3] = records[3], records[1]
    result = verify_chain(records)
    # Stored as 1, 4, 3, 2, 5: seq 3 comes after 4, and seq 2 after 3.
    assert _found(records) == [(2, "reordered"), (3, "reordered")]
    assert "stored after seq 3" in result.problems[0].reason
    assert "stored after seq 4" in result.problems[1].reason


def test_two_records_that_swapped_seqs_are_detected_as_edited_and_reordered() -> None:
    records = _chain(6)
    second, fourth = records[1], records[3]
    records[1] = dataclasses.replace(fourth, seq=2)
    records[3] = dataclasses.replace(second, seq=4)
    found = _found(records)
    assert (2, "edited") in found
    assert (4, "edited") in found
    assert {kind for _, kind in found} == {"edited", "reordered"}
    reasons = [p.reason for p in verify_chain(records).problems if p.kind is REORDERED]
    assert any("is the hash of seq 4, not of seq 2" in reason for reason in reasons)


def test_two_records_with_one_seq_are_duplicated() -> None:
    records = _chain(3)
    fork = _rewrite(records[1], subject="other")
    found = _found([*records[:2], fork, records[2]])
    assert found == [(2, "duplicated")]


def test_a_first_record_not_chained_to_genesis_is_reported() -> None:
    records = _chain(2, start=AuditHead(seq=0, hash="ab" * 32))
    found = verify_chain(records).problems
    assert [(p.seq, p.kind) for p in found] == [(1, DELETED)]
    assert "genesis" in found[0].reason


def test_a_record_whose_content_cannot_be_hashed_is_an_edit() -> None:
    records = _chain(3)
    records[1] = dataclasses.replace(records[1], details={"rows": math.nan})
    result = verify_chain(records)
    assert [(p.seq, p.kind) for p in result.problems] == [(2, EDITED)]
    assert "cannot be hashed" in result.problems[0].reason


def test_a_seq_below_one_is_an_edit() -> None:
    records = _chain(2)
    records.insert(0, _rewrite(records[0], seq=0, subject="before"))
    assert (0, "edited") in _found(records)


def test_deleting_the_last_record_is_only_seen_with_the_head() -> None:
    records = _chain(5)
    head = records[-1].head
    shortened = records[:-1]
    assert verify_chain(shortened).ok  # the documented limit: a shorter chain is a chain
    result = verify_chain(shortened, head=head)
    assert [(p.seq, p.kind) for p in result.problems] == [(5, AuditProblemKind.TRUNCATED)]
    assert "ends at seq 4 but the expected head is seq 5" in result.problems[0].reason


def test_a_replaced_last_record_is_only_seen_with_the_head() -> None:
    records = _chain(5)
    head = records[-1].head
    records[-1] = _rewrite(records[-1], details={"version": 4, "rows": 0})
    assert verify_chain(records).ok
    result = verify_chain(records, head=head)
    assert [(p.seq, p.kind) for p in result.problems] == [(5, AuditProblemKind.REPLACED)]


def test_records_after_the_head_are_counted_not_reported() -> None:
    records = _chain(5)
    result = verify_chain(records, head=records[2].head)
    assert result.ok
    assert result.after_head == 2


def test_a_chain_rewritten_from_the_start_along_with_its_head_is_not_detected() -> None:
    """The documented limit: rewrite every hash and the head file, and the chain verifies."""
    records = _chain(4)
    forged: list[AuditRecord] = []
    previous: AuditHead | None = None
    for record in records:
        details = {"version": 0} if record.seq == 2 else record.details
        forged.append(
            make_record(
                previous,
                at=record.at,
                actor=record.actor,
                action=record.action,
                subject=record.subject,
                details=details,
            )
        )
        previous = forged[-1].head
    assert not verify_chain(forged, head=records[-1].head).ok  # the old head catches it
    assert verify_chain(forged, head=forged[-1].head).ok  # a rewritten head does not


# Any single change is found


MUTATIONS = ["edit", "rewrite", "delete", "swap_places", "swap_seqs", "duplicate"]
FIELDS = ["seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash"]


def _texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=max_size)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _texts(8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts(4), inner, max_size=3),
    max_leaves=6,
)
record_inputs = st.fixed_dictionaries(
    {
        "at": st.datetimes(
            min_value=datetime(1971, 1, 1),
            max_value=datetime(2990, 1, 1),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
        ),
        "actor": st.sampled_from(["curator", "examiner", "émile"]),
        "action": st.sampled_from(["ingest", "run", "grading", "export"]),
        "subject": _texts(6),
        "details": st.dictionaries(_texts(4), json_values, max_size=3),
    }
)


def _build(inputs: list[dict[str, Any]]) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for fields in inputs:
        records.append(make_record(records[-1].head if records else None, **fields))
    return records


def _changed(record: AuditRecord, field: str) -> AuditRecord:
    value: Any
    if field == "seq":
        value = record.seq + 7
    elif field == "at":
        value = record.at + timedelta(microseconds=1)
    elif field == "details":
        value = {**record.details, "tampered": True}  # keys drawn are shorter: always new
    else:
        value = getattr(record, field) + "x"
    return dataclasses.replace(record, **{field: value})


@given(
    inputs=st.lists(record_inputs, min_size=1, max_size=10),
    mutation=st.sampled_from(MUTATIONS),
    field=st.sampled_from(FIELDS),
    data=st.data(),
)
@example(
    inputs=[{"at": T0, "actor": "a", "action": "run", "subject": "", "details": {}}] * 2,
    mutation="delete",
    field="seq",
    data=None,
).via("the last record deleted")
def test_any_single_change_is_detected(
    inputs: list[dict[str, Any]], mutation: str, field: str, data: st.DataObject | None
) -> None:
    records = _build(inputs)
    head = records[-1].head
    assert verify_chain(records, head=head).ok

    def pick(size: int) -> int:
        if data is None:  # the pinned example: the last one
            return size - 1
        return data.draw(st.integers(min_value=0, max_value=size - 1))

    tampered = list(records)
    only_the_head_sees_it = False
    if mutation == "edit":
        i = pick(len(records))
        tampered[i] = _changed(records[i], field)
    elif mutation == "rewrite":
        i = pick(len(records))
        tampered[i] = _rewrite(records[i], subject=records[i].subject + "x")
        only_the_head_sees_it = i == len(records) - 1
    elif mutation == "delete":
        i = pick(len(records))
        del tampered[i]
        only_the_head_sees_it = i == len(records) - 1
    elif len(records) < 2:
        return  # nothing to swap with
    else:
        i, j = pick(len(records)), pick(len(records) - 1)
        i, j = sorted((i, j + 1 if j >= i else j))  # two different records
        if mutation == "swap_places":
            tampered[i], tampered[j] = records[j], records[i]
        elif mutation == "swap_seqs":
            tampered[i] = dataclasses.replace(records[j], seq=records[i].seq)
            tampered[j] = dataclasses.replace(records[i], seq=records[j].seq)
        else:  # duplicate: a second record at an existing seq
            tampered.insert(j, _rewrite(records[i], seq=records[j].seq, subject="fork"))

    assert not verify_chain(tampered, head=head).ok
    assert verify_chain(tampered).ok == only_the_head_sees_it
