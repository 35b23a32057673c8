"""``hashmatch keys``: create (the token, once), list (never a token), revoke; exit codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hashmatch.cli import ExitCode, app
from hashmatch.config import Settings
from hashmatch.service import Service

TOKEN = re.compile(r"hm_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")

Invoke = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory of its own, and a working directory that is not the repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HASHMATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HASHMATCH_OPERATOR", "admin-7")
    return tmp_path / "home"


@pytest.fixture
def run(home: Path) -> Invoke:
    """Invoke the CLI in-process; check the exit code; return the result."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Result:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


def _service(home: Path) -> Service:
    return Service(Settings(home=home, operator="checker"))


def test_create_prints_the_token_once_and_it_authenticates(run: Invoke, home: Path) -> None:
    result = run("keys", "create", "--name", "triage station 3", "--role", "intake")
    tokens = TOKEN.findall(result.stdout)
    assert len(tokens) == 1
    (token,) = tokens
    assert f"token: {token}\n" in result.stdout  # alone on its line, whole
    assert "cannot be shown again" in result.stdout
    with _service(home) as service:
        key = service.authenticate(token)
        assert key is not None
        assert key.name == "triage station 3"
        assert [role.value for role in key.roles] == ["intake"]
        assert key.created_by == "admin-7"
        assert key.key_id in result.stdout


def test_create_json_is_one_object_with_the_token_and_the_note_on_stderr(
    run: Invoke, home: Path
) -> None:
    result = run(
        "keys", "create", "--name", "lab", "--role", "examiner", "--role", "REVIEWER", "--json"
    )
    created = json.loads(result.stdout)
    assert created["roles"] == ["examiner", "reviewer"]
    assert created["permissions"] == ["gradings", "match", "read", "runs"]
    assert created["active"] is True
    assert created["revoked_at"] is None
    assert TOKEN.fullmatch(created["token"])
    assert created["token"].startswith(f"hm_{created['key_id']}_")
    assert "cannot be shown again" in result.stderr
    with _service(home) as service:
        key = service.authenticate(created["token"])
        assert key is not None
        assert key.key_id == created["key_id"]


def test_list_shows_keys_but_never_a_token(run: Invoke) -> None:
    assert "no API keys yet" in run("keys", "list").stdout
    first = json.loads(run("keys", "create", "--name", "one", "--role", "admin", "--json").stdout)
    run("keys", "create", "--name", "two", "--role", "auditor")
    table = run("keys", "list").stdout
    assert first["key_id"] in table
    assert "one" in table
    assert "two" in table
    assert "auditor" in table
    listed = [json.loads(line) for line in run("keys", "list", "--json").stdout.splitlines()]
    assert [item["name"] for item in listed] == ["one", "two"]
    assert all("token" not in item for item in listed)
    for output in (table, run("keys", "list", "--json").stdout):
        assert not TOKEN.search(output)
        assert first["token"].split("_", 2)[2] not in output


def test_revoke_stops_the_token_and_the_key_stays_listed(run: Invoke, home: Path) -> None:
    created = json.loads(run("keys", "create", "--name", "lab", "--role", "admin", "--json").stdout)
    out = run("keys", "revoke", created["key_id"]).stdout
    assert f"revoked API key {created['key_id']}" in out
    with _service(home) as service:
        assert service.authenticate(created["token"]) is None
    (listed,) = [json.loads(line) for line in run("keys", "list", "--json").stdout.splitlines()]
    assert listed["active"] is False
    assert listed["revoked_at"] is not None
    second = run("keys", "revoke", created["key_id"], code=ExitCode.CONFLICT)
    assert "revoked already" in second.output
    unknown = run("keys", "revoke", "ffffffffffff", code=ExitCode.NOT_FOUND)
    assert "no API key with id 'ffffffffffff'" in unknown.output


@pytest.mark.parametrize(
    "args",
    [
        ("--name", "   ", "--role", "admin"),
        ("--name", "lab", "--role", "root"),
        ("--name", "lab"),
        ("--role", "admin"),
    ],
)
def test_bad_create_options_are_usage_errors_and_create_nothing(
    run: Invoke, home: Path, args: tuple[str, ...]
) -> None:
    run("keys", "create", *args, code=ExitCode.INPUT)
    assert run("keys", "list", "--json").stdout == ""


def test_the_audit_trail_names_the_key_but_never_its_token(run: Invoke) -> None:
    created = json.loads(run("keys", "create", "--name", "lab", "--role", "admin", "--json").stdout)
    run("keys", "revoke", created["key_id"])
    shown = run("audit", "show", "--json").stdout
    records = [json.loads(line) for line in shown.splitlines()]
    assert [(r["action"], r["subject"], r["details"]["event"]) for r in records] == [
        ("key", created["key_id"], "created"),
        ("key", created["key_id"], "revoked"),
    ]
    assert {r["actor"] for r in records} == {"admin-7"}
    assert created["token"] not in shown
    assert created["token"].split("_", 2)[2] not in shown
    run("audit", "verify")


def test_help_explains_roles_and_gives_examples(run: Invoke) -> None:
    def words(*args: str) -> str:  # whatever the terminal width, one line of words
        return " ".join(run(*args).stdout.split())

    group = words("keys", "--help")
    assert "hashmatch keys create --name 'triage station 3' --role intake" in group
    assert "hashmatch keys revoke" in group
    assert "examiner: match, read, runs" in group
    create = words("keys", "create", "--help")
    assert "--role" in create
    assert "hashmatch keys create --name 'lab examiner' --role examiner --role reviewer" in create
    assert "Example: hashmatch keys revoke" in words("keys", "revoke", "--help")
