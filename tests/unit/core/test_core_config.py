"""hashmatch.config: Settings from HASHMATCH_* environment variables, and their defaults."""

from __future__ import annotations

import getpass
import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from hashmatch.config import Settings, parse_schedule


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HASHMATCH_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("HASHMATCH_"):
            monkeypatch.delenv(name)


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HASHMATCH_HOME", str(tmp_path))
    monkeypatch.setenv("HASHMATCH_DATABASE_URL", "postgresql+psycopg://db/hashmatch")
    monkeypatch.setenv("HASHMATCH_RECORD_PATHS", "true")
    monkeypatch.setenv("HASHMATCH_OPERATOR", "examiner-7")
    monkeypatch.setenv("HASHMATCH_LOOKUP_THREADS", "8")
    monkeypatch.setenv("HASHMATCH_BATCH_SIZE", "4096")
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.database_url == "postgresql+psycopg://db/hashmatch"
    assert settings.catalog_url == "postgresql+psycopg://db/hashmatch"
    assert settings.record_paths is True
    assert settings.operator == "examiner-7"
    assert settings.lookup_threads == 8
    assert settings.batch_size == 4096


def test_the_default_catalog_is_a_sqlite_file_in_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HASHMATCH_HOME", str(tmp_path))
    settings = Settings()
    assert settings.database_url is None
    assert settings.catalog_url == f"sqlite:///{tmp_path / 'catalog.sqlite'}"


def test_defaults() -> None:
    settings = Settings()
    assert settings.home.name == "hashmatch"
    assert settings.record_paths is False  # paths stay out of the store unless asked for
    assert settings.lookup_threads == 2
    assert settings.batch_size == 262_144
    assert settings.operator


def test_record_paths_reads_the_usual_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    for text, expected in (("1", True), ("yes", True), ("0", False), ("false", False)):
        monkeypatch.setenv("HASHMATCH_RECORD_PATHS", text)
        assert Settings().record_paths is expected


@pytest.mark.parametrize("threads", ["0", "65", "-1", "many"])
def test_lookup_threads_must_be_between_1_and_64(
    monkeypatch: pytest.MonkeyPatch, threads: str
) -> None:
    monkeypatch.setenv("HASHMATCH_LOOKUP_THREADS", threads)
    with pytest.raises(ValidationError, match="lookup_threads"):
        Settings()


@pytest.mark.parametrize("threads", [1, 64])
def test_lookup_threads_bounds_are_inclusive(threads: int) -> None:
    assert Settings(lookup_threads=threads).lookup_threads == threads


def test_batch_size_has_a_floor() -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        Settings(batch_size=1_023)
    assert Settings(batch_size=1_024).batch_size == 1_024


def test_other_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHMATCH_NO_SUCH_SETTING", "x")
    monkeypatch.setenv("LOOKUP_THREADS", "999")
    assert Settings().lookup_threads == 2


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.lookup_threads = 4  # type: ignore[misc]


def test_the_operator_falls_back_when_there_is_no_login_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_user() -> str:
        raise KeyError("getpwuid(): uid not found: 1234")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert Settings().operator == "unknown"
    monkeypatch.setattr(getpass, "getuser", lambda: "examiner-9")
    assert Settings().operator == "examiner-9"


# Exchange settings


def test_a_schedule_names_exchanges_and_intervals() -> None:
    assert parse_schedule("ncmec-industry=1h, ncmec-ngo = 30m ,,x=2d,y=90") == {
        "ncmec-industry": timedelta(hours=1),
        "ncmec-ngo": timedelta(minutes=30),
        "x": timedelta(days=2),
        "y": timedelta(seconds=90),
    }
    assert parse_schedule("") == {}
    assert parse_schedule(" , ") == {}
    assert parse_schedule("x=60s") == {"x": timedelta(minutes=1)}
    assert parse_schedule("x=366d") == {"x": timedelta(days=366)}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ncmec-industry", "is not NAME=INTERVAL"),
        ("=1h", "is not NAME=INTERVAL"),
        ("x=", "is not NAME=INTERVAL"),
        ("x=1w", "is not NAME=INTERVAL"),
        ("x=-1h", "is not NAME=INTERVAL"),
        ("x=1.5h", "is not NAME=INTERVAL"),
        ("x=59s", "at most once a minute"),
        ("x=0m", "at most once a minute"),
        ("x=367d", "at least once a year"),
        ("x=99999999999999999999d", "at least once a year"),
        ("x=1h,y=2h,x=3h", "'x' is scheduled twice"),
    ],
)
def test_a_bad_schedule_says_which_part_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_schedule(text)
    with pytest.raises(ValidationError, match=reason):
        Settings(exchange_schedule=text)


def test_exchange_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HASHMATCH_HOME", str(tmp_path))
    monkeypatch.setenv("HASHMATCH_EXCHANGE_USERNAME", "member-1")
    monkeypatch.setenv("HASHMATCH_EXCHANGE_PASSWORD", "pw-synthetic-3")
    monkeypatch.setenv("HASHMATCH_EXCHANGE_SCHEDULE", "ncmec-industry=1h")
    monkeypatch.setenv("HASHMATCH_EXCHANGE_STALE_AFTER_DAYS", "7")
    settings = Settings()
    assert settings.exchange_username == "member-1"
    assert settings.exchange_password is not None
    assert settings.exchange_password.get_secret_value() == "pw-synthetic-3"
    assert "pw-synthetic-3" not in repr(settings)
    assert "pw-synthetic-3" not in str(settings)
    assert parse_schedule(settings.exchange_schedule) == {"ncmec-industry": timedelta(hours=1)}
    assert settings.exchange_stale_after_days == 7
    assert settings.exchange_credentials_file == tmp_path / "exchange-credentials.toml"
    other = Settings(exchange_credentials=tmp_path / "elsewhere.toml")
    assert other.exchange_credentials_file == tmp_path / "elsewhere.toml"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("exchange_window_hours", 0),
        ("exchange_timeout_seconds", 0),
        ("exchange_retries", -1),
        ("exchange_backoff_seconds", -1),
        ("exchange_stale_after_days", 0),
    ],
)
def test_exchange_settings_refuse_values_that_cannot_work(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})  # type: ignore[arg-type]
