"""Settings: declared once, here, and read from ``HASHMATCH_*`` environment variables.

Only the CLI entry point and the web app factory build a :class:`Settings`; nothing else
reads the environment. Every field is documented in the README's settings table (a test
checks it).
"""

from __future__ import annotations

import getpass
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "parse_schedule"]


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("hashmatch", appauthor=False))


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        return "unknown"


class Settings(BaseSettings):
    """Everything an operator can set. Environment variables take the ``HASHMATCH_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="HASHMATCH_", extra="ignore", frozen=True)

    home: Path = Field(
        default_factory=_default_home,
        description="Data directory: catalog, list versions, snapshots. "
        "Default: the per-user data directory (~/.local/share/hashmatch on Linux).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog and verdict store. "
        "Default: a SQLite file, catalog.sqlite, in the data directory.",
    )
    operator: str = Field(
        default_factory=_default_operator,
        description="Who is recorded as loading lists and running checks. Default: the login name.",
    )
    record_paths: bool = Field(
        default=False,
        description="Also keep file paths in the verdict store. Off by default: "
        "paths appear in report files only.",
    )
    lookup_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Threads a batch lookup uses (numpy releases the GIL while it gathers).",
    )
    batch_size: int = Field(
        default=262_144,
        ge=1_024,
        description="Rows read, parsed and matched per batch.",
    )
    overlay_limit: int = Field(
        default=2_000_000,
        ge=0,
        description="Delta rows (add or remove) a snapshot may carry on top of its last full "
        "build before the next delta triggers a full rebuild instead. 0: always rebuild.",
    )
    category_tables: Path | None = Field(
        default=None,
        description="Folder of per-profile category tables (<profile>.json) that map a "
        "list's own category codes, such as CAID's, to a scheme. Unmapped codes are kept "
        "verbatim and flagged for review.",
    )
    perceptual_licences: Path | None = Field(
        default=None,
        description="TOML file of perceptual-vendor licences, one table per vendor "
        "('[test-vendor]' with key and, as the vendor needs, endpoint, library, max_distance "
        "and its own options). A vendor is enabled only by a table with a non-empty key. "
        "Refused when group or others may read it (chmod 600). Default: "
        "perceptual-licences.toml in the data directory, when it exists.",
    )

    gradings_list: str = Field(
        default="reviewer-gradings",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="The local list that reviewers' gradings feed ('hashmatch review grade'): "
        "created on the first grading, so the next run marks those files known.",
    )

    api_max_items: int = Field(
        default=100_000,
        ge=1,
        description="Most items one bulk match request (JSON or Arrow) may carry; more is "
        "refused with 413 and a problem document.",
    )
    api_max_body_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1_024,
        description="Largest request body the HTTP API reads for matches, gradings and other "
        "small requests; a larger one is refused with 413 before it is read.",
    )
    api_max_upload_bytes: int = Field(
        default=4 * 1024 * 1024 * 1024,
        ge=1_024,
        description="Largest manifest or list file the HTTP API accepts as an upload "
        "(POST /v1/runs, POST /v1/lists/{name}/versions).",
    )
    audit_matches: Literal["none", "counts", "matched"] = Field(
        default="counts",
        description="What the audit trail keeps of each HTTP match request: 'counts' (items "
        "and verdict counts; no digests, no key), 'matched' (also the key and the digests "
        "that matched; unmatched digests are never kept), or 'none'.",
    )
    snapshot_poll_seconds: float = Field(
        default=0.5,
        ge=0.0,
        le=60.0,
        description="How often a serving process looks for a newly published snapshot; it "
        "switches to it between requests, without a restart.",
    )
    serve_host: str = Field(
        default="127.0.0.1",
        description="Address 'hashmatch serve' listens on. Default: loopback only.",
    )
    serve_port: int = Field(default=8750, ge=0, le=65535, description="Port of 'hashmatch serve'.")
    serve_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Worker processes of 'hashmatch serve'; they share the memory-mapped "
        "snapshot files.",
    )
    exchange_credentials: Path | None = Field(
        default=None,
        description="TOML file of list-exchange credentials, a table per exchange "
        "('[ncmec-industry]' with username, password and optionally api_root); it must not be "
        "readable by others. Default: exchange-credentials.toml in the data directory.",
    )
    exchange_username: str | None = Field(
        default=None,
        description="User name for list exchanges that have no table in the credentials file.",
    )
    exchange_password: SecretStr | None = Field(
        default=None,
        description="Password that goes with HASHMATCH_EXCHANGE_USERNAME. Never printed.",
    )
    exchange_window_hours: float = Field(
        default=24.0,
        gt=0.0,
        le=24.0 * 366,
        description="Longest time window of changes asked for in one request chain; a "
        "checkpoint is taken at each window's end.",
    )
    exchange_timeout_seconds: float = Field(
        default=30.0,
        gt=0.0,
        le=3600.0,
        description="How long an exchange request may take before it is tried again.",
    )
    exchange_retries: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Retries of one exchange request after a network error, a 429 or a 5xx "
        "answer, with exponential back-off.",
    )
    exchange_backoff_seconds: float = Field(
        default=1.0,
        ge=0.0,
        le=600.0,
        description="Wait before the first retry of an exchange request; each next one waits "
        "twice as long.",
    )
    exchange_stale_after_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="A checkpoint older than this is not trusted (deletions may have been "
        "forgotten by the exchange): the next fetch fetches the whole list again.",
    )
    exchange_schedule: str = Field(
        default="",
        description="Exchanges 'hashmatch serve' fetches by itself, and how often: "
        "'ncmec-industry=1h,ncmec-ngo=6h' (s, m, h, d; from a minute to 366 days). Empty: none.",
    )

    @field_validator("exchange_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @property
    def exchange_credentials_file(self) -> Path:
        """The exchange credentials file in force (it need not exist)."""
        return self.exchange_credentials or self.home / "exchange-credentials.toml"

    @property
    def catalog_url(self) -> str:
        """The store URL in force: ``database_url`` or the SQLite default in ``home``."""
        return self.database_url or f"sqlite:///{self.home / 'catalog.sqlite'}"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST_INTERVAL = 366 * 86400


def parse_schedule(text: str) -> dict[str, timedelta]:
    """``"ncmec-industry=1h, ncmec-ngo=30m"`` as exchange name -> interval (s, m, h, d).

    ValueError for anything else, naming the part that is wrong.
    """
    schedule: dict[str, timedelta] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, every = (x.strip() for x in part.partition("="))
        found = re.fullmatch(r"(\d+)\s*([smhd]?)", every)
        if not (name and sep and found):
            raise ValueError(f"{part!r} is not NAME=INTERVAL (like ncmec-industry=1h)")
        seconds = int(found.group(1)) * _UNITS[found.group(2) or "s"]
        if seconds < 60:
            raise ValueError(f"{part!r}: fetch at most once a minute")
        if seconds > _LONGEST_INTERVAL:  # also keeps timedelta from overflowing
            raise ValueError(f"{part!r}: fetch at least once a year (366d)")
        if name in schedule:
            raise ValueError(f"{name!r} is scheduled twice")
        schedule[name] = timedelta(seconds=seconds)
    return schedule
