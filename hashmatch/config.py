"""Settings: declared once, here, and read from ``HASHMATCH_*`` environment variables.

Only the CLI entry point and the web app factory build a :class:`Settings`; nothing else
reads the environment. Every field is documented in the README's settings table (a test
checks it).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


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

    @property
    def catalog_url(self) -> str:
        """The store URL in force: ``database_url`` or the SQLite default in ``home``."""
        return self.database_url or f"sqlite:///{self.home / 'catalog.sqlite'}"
