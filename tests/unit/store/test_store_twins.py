"""SqlCatalog and MemoryCatalog agree on every answer and every error, under random calls.

A Hypothesis state machine drives both catalogs with the same calls (lists, versions,
runs, verdicts, snapshots, gradings, audit records, API keys), drawn from small pools of names so
that duplicates and unknown names are frequent. Every call must give equal results or the
same error class; after every step the listings are compared, and at the end (and
whenever the machine picks that rule) everything either catalog can read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hashmatch.digests import Algorithm
from hashmatch.keys import ApiKey, Role
from hashmatch.model import (
    Grading,
    IngestCounts,
    ListVersionInfo,
    Purpose,
    RecordWarning,
    RunInfo,
    RunInput,
    Verdict,
)
from hashmatch.store import Catalog, MemoryCatalog, VerdictRecord, open_catalog

LIST_NAMES = ["caid", "nsrl", "Vics", "émile"]
VERSION_IDS = [f"version-{i}" for i in range(6)]
RUN_IDS = ["run-a", "run-b", "run-c"]
SNAPSHOT_IDS = ["snap-1", "snap-2", "snap-3"]
GRADING_IDS = [f"{i:032x}" for i in range(1, 5)]
DIGESTS = [f"{i:032x}" for i in range(7, 10)]
KEY_IDS = [f"{i:012x}" for i in range(0xA1, 0xA4)]
TOKEN_HASHES = [hashlib.sha256(f"synthetic-token-{i}".encode()).hexdigest() for i in range(3)]

texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2990, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)
small = st.integers(min_value=0, max_value=10**9)
counts = st.dictionaries(st.sampled_from(["known", "unknown", "total"]), small, max_size=3)
warnings = st.lists(
    st.builds(RecordWarning, source=texts, line=st.none() | st.integers(1, 10**6), reason=texts),
    max_size=2,
).map(tuple)
ingest_counts = st.builds(IngestCounts, rows=small, entries=small, md5=small, invalid=small)
verdict_rows = st.lists(
    st.builds(
        VerdictRecord,
        row=st.integers(min_value=0, max_value=30),
        verdict=st.sampled_from(Verdict),
        reason=st.none() | texts,
        labels=st.none() | st.just('{"caid":{"category":"B"}}'),
        path=st.none() | texts,
    ),
    max_size=8,
)


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", call())
    except Exception as exc:  # the twins must fail alike: compare the error class
        return ("error", type(exc).__name__)


class CatalogTwins(RuleBasedStateMachine):
    """The same random calls on the SQL catalog and on the reference twin."""

    def __init__(self) -> None:
        super().__init__()
        self.sql = open_catalog("sqlite://")  # a fresh in-memory SQLite, migrated
        self.memory: Catalog = MemoryCatalog()
        self.fresh_ids = 0

    def both(self, call: Callable[[Catalog], Any]) -> Any:
        """Make the call on both catalogs; they must give equal results or the same error."""
        expected = _outcome(lambda: call(self.memory))
        got = _outcome(lambda: call(self.sql))
        assert got == expected
        return expected[1]

    @rule(
        name=st.sampled_from(LIST_NAMES),
        purpose=st.sampled_from(Purpose),
        description=texts,
        created_at=moments,
    )
    def create_list(
        self, name: str, purpose: Purpose, description: str, created_at: datetime
    ) -> None:
        self.both(
            lambda c: c.create_list(
                name=name,
                purpose=purpose,
                description=description,
                created_by="curator",
                created_at=created_at,
            )
        )

    @rule(
        list_name=st.sampled_from(LIST_NAMES),
        number=st.integers(min_value=1, max_value=4),
        version_id=st.sampled_from(VERSION_IDS),
        activate=st.booleans(),
        purpose=st.sampled_from(Purpose),
        loaded_at=moments,
        counts=ingest_counts,
        warnings=warnings,
    )
    def add_version(
        self,
        *,
        list_name: str,
        number: int,
        version_id: str,
        activate: bool,
        purpose: Purpose,
        loaded_at: datetime,
        counts: IngestCounts,
        warnings: tuple[RecordWarning, ...],
    ) -> None:
        version = ListVersionInfo(
            list_name=list_name,
            number=number,
            version_id=version_id,
            purpose=purpose,
            source_name="synthetic-fixture-001.md5",
            source_sha256="0" * 64,
            adapter="md5sum",
            adapter_version="1",
            loaded_by="curator",
            loaded_at=loaded_at,
            counts=counts,
            warnings=warnings,
            warning_count=len(warnings),
            entry_file=f"lists/{list_name}/{number}.parquet",
        )
        self.both(lambda c: c.add_version(version, activate=activate))

    @rule(list_name=st.sampled_from(LIST_NAMES), activate=st.booleans(), loaded_at=moments)
    def add_next_version(self, list_name: str, activate: bool, loaded_at: datetime) -> None:
        outcome = self.both(lambda c: c.next_version_number(list_name))
        if not isinstance(outcome, int):
            return
        self.fresh_ids += 1
        version = ListVersionInfo(
            list_name=list_name,
            number=outcome,
            version_id=f"fresh-{self.fresh_ids}",
            purpose=Purpose.CONCERN,
            source_name="synthetic-fixture-002.md5",
            source_sha256="1" * 64,
            adapter="md5sum",
            adapter_version="1",
            loaded_by="curator",
            loaded_at=loaded_at,
            counts=IngestCounts(rows=1, entries=1),
            entry_file="x.parquet",
        )
        self.both(lambda c: c.add_version(version, activate=activate))

    @rule(
        snapshot_id=st.sampled_from(SNAPSHOT_IDS),
        built_at=moments,
        version_ids=st.lists(st.sampled_from(VERSION_IDS), max_size=3),
    )
    def record_snapshot(self, snapshot_id: str, built_at: datetime, version_ids: list[str]) -> None:
        self.both(
            lambda c: c.record_snapshot(
                snapshot_id, built_at=built_at, path="snapshots/x", version_ids=version_ids
            )
        )

    @rule(
        run_id=st.sampled_from(RUN_IDS),
        started_at=moments,
        finished_at=st.none() | moments,
        counts=counts,
        algorithms=st.lists(st.sampled_from(["md5", "sha1", "sha256"]), max_size=3).map(tuple),
    )
    def add_run(
        self,
        run_id: str,
        started_at: datetime,
        finished_at: datetime | None,
        counts: dict[str, int],
        algorithms: tuple[str, ...],
    ) -> None:
        run = RunInfo(
            run_id=run_id,
            case_ref="CASE-0001",
            operator="examiner",
            started_at=started_at,
            finished_at=finished_at,
            tool_version="0.1.0",
            snapshot_id="snap-1",
            algorithms=algorithms,
            inputs=(RunInput(name="device.md5", sha256="ab" * 32, format="md5sum", rows=2),),
            counts=counts,
        )
        self.both(lambda c: c.add_run(run))

    @rule(run_id=st.sampled_from(RUN_IDS), finished_at=moments, counts=counts)
    def finish_run(self, run_id: str, finished_at: datetime, counts: dict[str, int]) -> None:
        self.both(lambda c: c.finish_run(run_id, finished_at=finished_at, counts=counts))

    @rule(run_id=st.sampled_from(RUN_IDS), rows=verdict_rows)
    def add_verdicts(self, run_id: str, rows: list[VerdictRecord]) -> None:
        self.both(lambda c: c.add_verdicts(run_id, rows))

    @rule(
        grading_id=st.sampled_from(GRADING_IDS),
        digest=st.sampled_from(DIGESTS),
        category=st.sampled_from(["A", "B", "1"]),
        graded_at=moments,
        flags=st.lists(st.sampled_from(["victim_identified", "distributed"]), max_size=2),
    )
    def add_grading(
        self, grading_id: str, digest: str, category: str, graded_at: datetime, flags: list[str]
    ) -> None:
        grading = Grading(
            grading_id=grading_id,
            algorithm=Algorithm.MD5,
            digest=digest,
            scheme="uk",
            category=category,
            flags=tuple(flags),
            reviewer="reviewer-1",
            graded_at=graded_at,
        )
        self.both(lambda c: c.add_grading(grading))

    @rule(at=moments, action=st.sampled_from(["run", "grading"]), subject=texts, n=small)
    def append_audit(self, at: datetime, action: str, subject: str, n: int) -> None:
        self.both(
            lambda c: c.append_audit(
                at=at, actor="examiner", action=action, subject=subject, details={"n": n}
            )
        )

    @rule(
        key_id=st.sampled_from(KEY_IDS),
        token_hash=st.sampled_from(TOKEN_HASHES),
        name=st.sampled_from(["triage 3", "émile's laptop", "lab"]),
        roles=st.lists(st.sampled_from(Role), min_size=1, max_size=3),
        created_at=moments,
        revoked_at=st.none() | moments,
    )
    def add_api_key(
        self,
        *,
        key_id: str,
        token_hash: str,
        name: str,
        roles: list[Role],
        created_at: datetime,
        revoked_at: datetime | None,
    ) -> None:
        key = ApiKey(
            key_id=key_id,
            name=name,
            roles=tuple(roles),
            created_at=created_at,
            created_by="admin-1",
            revoked_at=revoked_at,
        )
        self.both(lambda c: c.add_api_key(key, token_hash=token_hash))

    @rule(key_id=st.sampled_from(KEY_IDS), at=moments)
    def revoke_api_key(self, key_id: str, at: datetime) -> None:
        self.both(lambda c: c.revoke_api_key(key_id, at=at))

    @invariant()
    def listings_read_the_same(self) -> None:
        self.both(lambda c: c.lists())
        self.both(lambda c: c.active_versions())
        self.both(lambda c: c.runs())
        self.both(lambda c: c.snapshot_ids())
        self.both(lambda c: c.gradings())
        self.both(lambda c: c.latest_gradings())
        self.both(lambda c: c.audit_records())
        self.both(lambda c: c.api_keys())
        for token_hash in TOKEN_HASHES:
            self.both(lambda c, token_hash=token_hash: c.api_key_for(token_hash))

    @rule()
    def everything_reads_the_same(self) -> None:
        for name in LIST_NAMES:
            self.both(lambda c, name=name: c.get_list(name))
            self.both(lambda c, name=name: c.versions(name))
            self.both(lambda c, name=name: c.next_version_number(name))
        for version_id in VERSION_IDS:
            self.both(lambda c, version_id=version_id: c.get_version(version_id))
        for run_id in RUN_IDS:
            self.both(lambda c, run_id=run_id: c.get_run(run_id))
            self.both(lambda c, run_id=run_id: c.verdicts(run_id))

    def teardown(self) -> None:
        try:
            self.everything_reads_the_same()
        finally:
            self.sql.close()
            self.memory.close()


# Each step hits a SQLite database, so run half the examples of the profile in force
# (dev: 30, ci: 100); the profile still decides everything else.
CatalogTwins.TestCase.settings = settings(
    settings.default,
    max_examples=max(10, settings.default.max_examples // 2),
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_sql_and_memory_catalogs_agree = CatalogTwins.TestCase
