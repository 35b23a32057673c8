"""What the web tests share: a data directory with lists loaded, an app over it, and an API
key per role (the fixtures that build them are in ``conftest.py``).

Every digest is of a synthetic string. The lists:

synthetic-concern (concern, CSV: MD5, SHA1, SHA256, Path, Category)
    md5 + sha1 + sha256 of ``synthetic-fixture-001`` ... ``-010``, category ``A``
synthetic-benign (benign, md5sum)
    md5 of ``synthetic-benign-001`` ... ``-005``

:class:`Web` bundles the service, a started TestClient and one token per role (plus a
revoked one). The fixture ``web`` is a fresh one per test; ``shared_web`` is one per
module, for tests that change nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from hashmatch.config import Settings
from hashmatch.keys import Role
from hashmatch.model import Purpose
from hashmatch.service import Service
from hashmatch.web import create_app

CONCERN = "synthetic-concern"
BENIGN = "synthetic-benign"
PLANTED = [f"synthetic-fixture-{i:03}" for i in range(1, 11)]
BENIGN_PLANTED = [f"synthetic-benign-{i:03}" for i in range(1, 6)]
UNPLANTED = [f"synthetic-fixture-unplanted-{i:03}" for i in range(1, 11)]
PROBLEM = "https://hashmatch.invalid/problems/"
EMPTY_MD5 = hashlib.md5(b"").hexdigest()


def digest(algorithm: str, text: str) -> str:
    """The hex digest of a synthetic string."""
    return hashlib.new(algorithm, text.encode()).hexdigest()


def concern_csv(names: list[str]) -> str:
    """A CSV list (or manifest) of the three digests of each name."""
    rows = [
        f"{digest('md5', n)},{digest('sha1', n)},{digest('sha256', n)},files/{n}.bin,A"
        for n in names
    ]
    return "MD5,SHA1,SHA256,Path,Category\n" + "\n".join(rows) + "\n"


def md5sum_text(names: list[str], folder: str = "evidence") -> str:
    """An md5sum file of the names (a manifest or a list)."""
    return "".join(f"{digest('md5', n)}  {folder}/{n}.jpg\n" for n in names)


def problem_type(response: Any) -> str:
    """The problem type of an error reply, after checking that it is a problem document."""
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith(PROBLEM)
    return str(body["type"][len(PROBLEM) :])


@dataclass
class Web:
    """A service, a started client over its app, and a token per role."""

    service: Service
    client: TestClient
    tokens: dict[Role, str]
    key_ids: dict[Role, str]
    revoked: str
    home: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def auth(self, role: Role) -> dict[str, str]:
        """The Authorization header of the key with ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def operator(self, role: Role) -> str:
        """How the audit trail names the key with ``role``."""
        return f"key:{self.key_ids[role]} ({role.value}-key)"


def make_service(home: Path, *, load: bool = True, **settings: Any) -> Service:
    """A service over ``home``, with the two synthetic lists loaded if ``load``."""
    service = Service(Settings(home=home, operator="test-operator", **settings))
    if load:
        source = home.parent / f"{home.name}-sources"
        source.mkdir(parents=True, exist_ok=True)
        service.add_list(CONCERN, Purpose.CONCERN, "synthetic concern list")
        concern = source / "concern.csv"
        concern.write_text(concern_csv(PLANTED), encoding="utf-8")
        service.ingest(CONCERN, concern)
        service.add_list(BENIGN, Purpose.BENIGN, "synthetic benign list")
        benign = source / "benign.md5"
        benign.write_text(md5sum_text(BENIGN_PLANTED, "software"), encoding="utf-8")
        service.ingest(BENIGN, benign)
    return service


@contextlib.contextmanager
def started(service: Service) -> Iterator[Web]:
    """The app over ``service``, started, with a key per role and a revoked key."""
    tokens: dict[Role, str] = {}
    key_ids: dict[Role, str] = {}
    for role in Role:
        key, token = service.create_key(f"{role.value}-key", [role])
        tokens[role], key_ids[role] = token, key.key_id
    gone, revoked = service.create_key("revoked-key", list(Role))
    service.revoke_key(gone.key_id)
    with TestClient(create_app(service=service)) as client:
        yield Web(
            service=service,
            client=client,
            tokens=tokens,
            key_ids=key_ids,
            revoked=revoked,
            home=service.home,
        )
