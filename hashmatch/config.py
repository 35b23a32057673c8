"""Settings: declared once, here, and read from ``HASHMATCH_*`` environment variables.

Only the CLI entry point and the web app factory build a :class:`Settings`; nothing else
reads the environment. Every field is documented in the README's settings table (a test
checks it).
"""

from __future__ import annotations

import getpass
from pathlib import Path

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

    @property
    def catalog_url(self) -> str:
        """The store URL in force: ``database_url`` or the SQLite default in ``home``."""
        return self.database_url or f"sqlite:///{self.home / 'catalog.sqlite'}"
