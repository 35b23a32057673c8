"""hashmatch.service: one verdict per manifest row, also when the adapter warned about it.

Uses the in-memory catalog (``memory://``); the SQL store is covered in tests/integration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.config import Settings
from hashmatch.model import Purpose
from hashmatch.service import Service


def md5(text: str) -> str:
    return hashlib.md5(f"synthetic-fixture-{text}".encode()).hexdigest()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    listed = tmp_path / "list.md5"
    listed.write_text(f"{md5('001')}  a.jpg\n", "utf-8")
    settings = Settings(home=tmp_path / "home", operator="tester", database_url="memory://")
    with Service(settings) as service:
        service.add_list("concern-list", Purpose.CONCERN)
        service.ingest("concern-list", listed)
        yield service


def _check(service: Service, tmp_path: Path, body: str) -> list[tuple[int, str, str | None]]:
    manifest = tmp_path / "case.hashdeep"
    manifest.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n" + body, "utf-8")
    result = service.check([manifest], case_ref="CASE-1")
    rows = result.verdicts.to_pylist()
    assert result.header.counts.total.total == len(rows)
    return [(row["line"], row["verdict"], row["reason"]) for row in rows]


def test_an_unreadable_row_is_one_invalid_verdict(service: Service, tmp_path: Path) -> None:
    body = f"12,{md5('001')},/e/a.jpg\n12\n13,{md5('002')},/e/b.jpg\n"
    assert _check(service, tmp_path, body) == [
        (3, "known", None),
        (4, "invalid", "expected 3 fields, got 1"),
        (5, "unknown", None),
    ]


def test_a_row_the_adapter_repaired_gets_exactly_one_verdict(
    service: Service, tmp_path: Path
) -> None:
    body = f"12,{md5('001')},/e/a.jpg\nbig,{md5('002')},/e/b.jpg\n"
    verdicts = _check(service, tmp_path, body)
    assert [line for line, _, _ in verdicts] == [3, 4]
    assert verdicts[1][1] == "unknown"
    assert "size" in (verdicts[1][2] or "")  # the repair is noted on the row itself
