"""The extension point for live list exchanges: :class:`ExchangeClient`, and what it yields.

An exchange is an API that publishes a list as a stream of changes, such as NCMEC hash
sharing. A client fetches the changes made in a time range and yields them a page at a
time, as :class:`ExchangePage` objects: keyed updates and tombstones
(:data:`UPDATE_SCHEMA`), plus a cursor that says where to resume after the page. The core
(:mod:`hashmatch.exchange_sync`) writes each page to a journal before asking for the next,
resolves the updates by key once the whole range has been fetched, and loads the result as
a list version through the normal ingest path: provenance, vetting of every digest, atomic
publish, audit.

An exchange is named ``<client NAME>-<environment>`` (``ncmec-industry``): one client serves
each of the environments it lists in :attr:`ExchangeClient.ENVIRONMENTS`.

What a client raises (all :class:`~hashmatch.errors.HashmatchError`):

* :class:`ExchangeError`: the exchange answered wrongly, or not at all after the configured
  retries. The fetch stops; every page journalled so far is kept, and the next fetch
  resumes from the last page's cursor.
* :class:`CursorRejected` (an :class:`ExchangeError`): the cursor given to resume with no
  longer works (the server refuses the paging link). The core drops the pages journalled
  since the last completed window and fetches again from that window's start; updates are
  keyed, so a change fetched twice is still one change.
* :class:`ExchangeAuthError` (an :class:`ExchangeError`): the credentials were refused.
* :class:`~hashmatch.errors.ConfigurationError`: no credentials, or an unusable API root.

Clients never log or put into an error message the credentials, and never follow a link to
another host than their configured API root.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

import pyarrow as pa

from hashmatch.errors import CursorRejected, ExchangeAuthError, ExchangeError
from hashmatch.model import RecordWarning

__all__ = [
    "UPDATE_SCHEMA",
    "CursorRejected",
    "ExchangeAuthError",
    "ExchangeClient",
    "ExchangeConfig",
    "ExchangeCredentials",
    "ExchangeError",
    "ExchangePage",
]

UPDATE_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("s", tz="UTC"), nullable=False),
        pa.field("deleted", pa.bool_(), nullable=False),
        pa.field("md5", pa.string()),
        pa.field("sha1", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("labels", pa.string()),
    ],
    metadata={
        "key": "the entry's identity at the exchange, unique per exchange "
        "(NCMEC: '<member id>-<entry id>')",
        "timestamp": "when the exchange last changed the entry (UTC)",
        "deleted": "a tombstone: the entry is withdrawn (its digests and labels are null)",
        "labels": "canonical JSON object of the source's labels, verbatim, or null",
    },
)
"""One row per change: an update (the entry as it now stands) or a tombstone.

Digests are the text the exchange sent; the core parses and checks them as it does a
list file's. For one key, the change with the latest ``timestamp`` wins; between changes
with the same timestamp, the one fetched last wins.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeCredentials:
    """A user name and password for HTTP basic auth. Never printed: see ``__repr__``."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ExchangeCredentials(username={self.username!r}, password='***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeConfig:
    """What a client is built with: which environment, where, as whom, and how patiently."""

    name: str
    """The exchange's name, ``<client NAME>-<environment>`` (``ncmec-industry``)."""
    environment: str
    """One of the client's :attr:`ExchangeClient.ENVIRONMENTS`."""
    api_root: str
    """The environment's API root, or the operator's override (a test server, a proxy)."""
    credentials: ExchangeCredentials
    timeout: float = 30.0
    """Seconds to wait for a connection or a response before trying again."""
    retries: int = 5
    """Attempts after the first for one request (network errors, 429, 5xx), with back-off."""
    window: timedelta = timedelta(days=1)
    """The longest time range asked for in one request chain; a checkpoint can only be
    taken at a window's end, so shorter windows lose less to an interruption."""
    backoff: float = 1.0
    """Seconds before the first retry; each next one waits twice as long (capped)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangePage:
    """One response's worth of changes, and where a fetch resumes after it."""

    updates: pa.RecordBatch
    """:data:`UPDATE_SCHEMA` rows, in the order the exchange sent them."""
    cursor: Mapping[str, str] | None
    """What to pass back as ``resume`` to continue after this page (JSON-able text values),
    or None when this page ends the fetch."""
    fetched_through: datetime | None = None
    """Set on the last page of a time window: every change up to this instant has now been
    fetched. Entries are not in time order within a window, so only then is it safe."""
    source: str = ""
    """What was asked for, for provenance and messages (``GET /v2/entries?from=...``), with
    no credentials in it."""
    sha256: str = ""
    """SHA-256 of the response body as received."""
    warnings: tuple[RecordWarning, ...] = ()
    """Entries skipped or repaired, with the page and line they were on."""


class ExchangeClient(ABC):
    """Fetches one exchange's changes in a time range, page by page.

    Subclasses set ``NAME`` (stable once released), ``DESCRIPTION`` (one line for
    ``hashmatch exchange list``), ``ENVIRONMENTS`` (environment name to its API root) and
    may set ``VERSION`` (recorded with every list version a fetch loads).
    """

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str]
    VERSION: ClassVar[str] = "1"
    ENVIRONMENTS: ClassVar[Mapping[str, str]]

    def __init__(self, config: ExchangeConfig) -> None:
        self.config = config

    @abstractmethod
    def fetch(
        self,
        *,
        since: datetime | None,
        until: datetime,
        resume: Mapping[str, str] | None = None,
    ) -> Iterator[ExchangePage]:
        """Yield every change from ``since`` (None: from the very beginning) up to ``until``.

        Time windows of at most ``config.window`` are fetched in order, each paged to its
        end; the last page of each window has ``fetched_through`` set. With ``resume``
        (the cursor of the last page journalled by an interrupted fetch of the same range),
        fetching continues right after that page.

        Raises :class:`ExchangeError` when the exchange fails after the retries,
        :class:`CursorRejected` when ``resume`` no longer works, :class:`ExchangeAuthError`
        when the credentials are refused.
        """

    def close(self) -> None:  # noqa: B027 (optional hook; most clients hold nothing)
        """Release connections."""
