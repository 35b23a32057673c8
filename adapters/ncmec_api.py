"""The NCMEC hash-sharing exchange client: API v2 entries, fetched in time windows, paged.

NCMEC publishes its hash-sharing lists as an XML API over HTTPS with basic auth
(FORMATS.md §3). :class:`NcmecExchangeClient` fetches the changes made in a time range:

* **Windows.** A full fetch (``since`` None) asks for one window, from
  1970-01-01T00:00:00Z to ``until``; an incremental fetch asks for consecutive windows of at
  most ``config.window`` from ``since`` to ``until``, each as
  ``GET {api root}/v2/entries?from=...&to=...`` (``YYYY-MM-DDTHH:MM:SSZ``, UTC, whole
  seconds rounded down). Nothing is fetched when ``since`` is not before ``until``.
* **Paging.** Each window is followed through its ``paging/next`` links (relative to the
  API root, as NCMEC's are: ``/v2/entries?...&start=1001&size=1000&max=...``) until a page
  has none; a window holding more entries than a page (thousands changed in one second)
  is paged through like any other. Entries are not in time order within a window, so the
  ``maxTimestamp`` of a page is never used as a checkpoint and never shrinks a window:
  only the last page of a window sets :attr:`~hashmatch.exchange.ExchangePage.fetched_through`
  (to the window's end).
* **Cursors.** Every page but the last of the fetch carries a cursor, ``{"from": ...,
  "to": ..., "next": ...}`` (the window, in ISO 8601, and the page's ``next`` link, empty
  when the page ended its window). ``fetch(..., resume=cursor)`` continues with the next
  page, or with the next window; ``since`` is then ignored. A server that refuses the link
  (HTTP 400, 404 or 410 on the first request after resuming) raises
  :class:`~hashmatch.errors.CursorRejected`, and so does a cursor that is not one of ours.
  Windows overlap at their bounds when the server counts both ends in: the same change
  fetched twice is one change, as updates are keyed.

Each page is parsed as it streams in by :class:`~hashmatch_adapters.ncmec.NcmecXmlAdapter`
(``exchange=True``) into :data:`~hashmatch.exchange.UPDATE_SCHEMA` rows, in document order:

* a live ``image``/``video`` is an update keyed ``"<member id>-<entry id>"``, with its md5,
  sha1 (and sha256, should one appear) as sent and the adapter's labels verbatim;
* a ``deletedImage``/``deletedVideo`` is a tombstone (digests and labels null);
* a live entry with only perceptual fingerprints (``pdna``, ``pdq``, a ``tmk-pdqf`` link) is
  still an update, with null digests and its labels. It is the entry's current version: the
  core keeps rows without a digest out of the list, but such a row must still replace an
  earlier version of the key that had digests (an entry whose md5 was withdrawn);
* an entry without a member id or an id cannot be keyed, and one whose timestamp cannot be
  read cannot be ordered: both are skipped with a warning (the page's request and the
  line).

Security: the API root must be ``https`` (``http`` only on a loopback host, for tests);
a ``next`` link to another scheme, host or port, or outside the API root, is refused
(:class:`~hashmatch.errors.ExchangeError`); redirects are not followed; proxies and
certificates from the environment are ignored (``trust_env=False``), and TLS certificates
are verified. The password goes only into the ``Authorization`` header: it is in no URL,
message, log record or ``repr``. The adapter refuses XML entity declarations.

Errors: time-outs (``config.timeout``), connection failures, HTTP 429 (after its
``Retry-After`` seconds, capped) and 500/502/503/504 are retried up to ``config.retries``
times, waiting ``config.backoff`` seconds and twice as long each time (capped); then
:class:`~hashmatch.errors.ExchangeError` says what was asked and the last failure. HTTP
401/403 raise :class:`~hashmatch.errors.ExchangeAuthError` at once; any other status, a
body that is not an entries document, or one over 256 MiB, raise
:class:`~hashmatch.errors.ExchangeError` naming the request.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import math
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit
from xml.parsers import expat

import httpx
import pyarrow as pa

from hashmatch.adapter import ReadContext
from hashmatch.errors import (
    ConfigurationError,
    CursorRejected,
    ExchangeAuthError,
    ExchangeError,
    RecordError,
    UnsupportedFormat,
)
from hashmatch.exchange import UPDATE_SCHEMA, ExchangeClient, ExchangeConfig, ExchangePage
from hashmatch.labels import Label
from hashmatch.model import RecordWarning
from hashmatch.urls import is_loopback

from .ncmec import NcmecXmlAdapter

__all__ = ["EPOCH", "NcmecExchangeClient", "NcmecStatus"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Where a full fetch starts."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CURSOR_STATUSES = frozenset({400, 404, 410})
_AUTH_STATUSES = frozenset({401, 403})
_MAX_BACKOFF = 60.0
"""Seconds: the longest wait between two attempts that back-off alone asks for."""
_MAX_RETRY_AFTER = 300.0
"""Seconds: the longest ``Retry-After`` honoured."""
_MAX_BODY = 256 << 20
"""Bytes: a page of 1,000 entries is about a megabyte; anything near this is not a page."""
_CURSOR_KEYS = frozenset({"from", "to", "next"})

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class NcmecStatus:
    """What ``GET /v2/status`` says: who the credentials belong to."""

    member_id: str
    member_name: str


@dataclass(frozen=True, slots=True)
class _Window:
    """A time range asked for in one request chain."""

    start: datetime
    end: datetime


class NcmecExchangeClient(ExchangeClient):
    """NCMEC hash-sharing API v2 (``ncmec-industry``, ``ncmec-ngo``, ...): see the module."""

    NAME: ClassVar[str] = "ncmec"
    DESCRIPTION: ClassVar[str] = "NCMEC hash sharing, XML API v2 (md5, sha1; A1-B2)"
    VERSION: ClassVar[str] = "1"
    ENVIRONMENTS: ClassVar[Mapping[str, str]] = {
        "industry": "https://report.cybertip.org/hashsharing",
        "ngo": "https://hashsharing.ncmec.org/npo",
        "exploitative": "https://hashsharing.ncmec.org/exploitative",
        "industry-test": "https://exttest.cybertip.org/hashsharing",
        "ngo-test": "https://hashsharing-test.ncmec.org/npo",
        "exploitative-test": "https://hashsharing-test.ncmec.org/exploitative",
    }

    def __init__(self, config: ExchangeConfig) -> None:
        super().__init__(config)
        self._root = _check_api_root(config.api_root)
        self._root_url = httpx.URL(self._root)
        credentials = config.credentials
        if not credentials.username or not credentials.password:
            raise ConfigurationError(f"{config.name}: the user name and password must be set")
        if config.timeout <= 0 or config.retries < 0 or config.backoff < 0:
            raise ConfigurationError(
                f"{config.name}: timeout must be positive, retries and backoff not negative"
            )
        if config.window <= timedelta(0):
            raise ConfigurationError(f"{config.name}: the fetch window must be positive")
        self._sleep: Callable[[float], None] = time.sleep
        """How to wait before a retry (tests replace it to see the delays)."""
        self._http = httpx.Client(
            auth=httpx.BasicAuth(credentials.username, credentials.password),
            timeout=httpx.Timeout(config.timeout),
            follow_redirects=False,
            trust_env=False,
            verify=_tls_context(),
            headers={"Accept": "application/xml"},
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.config.name!r}, api_root={self._root!r}, "
            f"username={self.config.credentials.username!r})"
        )

    def __enter__(self) -> NcmecExchangeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections."""
        self._http.close()

    # --- fetching -----------------------------------------------------------------------

    def fetch(
        self,
        *,
        since: datetime | None,
        until: datetime,
        resume: Mapping[str, str] | None = None,
    ) -> Iterator[ExchangePage]:
        """Yield every change from ``since`` (None: everything) up to ``until``, a page at a
        time (see the module docstring for windows, paging and cursors)."""
        until = _utc(until)
        if resume is not None:
            window, link = self._read_cursor(resume, until)
            rest = _windows(window.end, until, self.config.window)
            if link:
                yield from self._fetch_window(window, link=link, resumed=True, last=not rest)
        elif since is None:
            rest = [_Window(EPOCH, until)] if until > EPOCH else []
        else:
            rest = _windows(_utc(since), until, self.config.window)
        for index, window in enumerate(rest):
            yield from self._fetch_window(
                window, link=None, resumed=False, last=index == len(rest) - 1
            )

    def status(self) -> NcmecStatus:
        """Who the credentials belong to (``GET /v2/status``)."""
        url = f"{self._root}/v2/status"
        body = self._get(url, _source(url), resumed=False)
        return _parse_status(body, _source(url))

    def _fetch_window(
        self, window: _Window, *, link: str | None, resumed: bool, last: bool
    ) -> Iterator[ExchangePage]:
        """Yield the pages of one window, from its first page or from ``link``."""
        if link is None:
            bounds = {
                "from": window.start.strftime(_TIME_FORMAT),
                "to": window.end.strftime(_TIME_FORMAT),
            }
            url = str(httpx.URL(f"{self._root}/v2/entries", params=bounds))
        else:
            url = self._resolve(link)
        seen = {link} if link else set()
        while True:
            source = _source(url)
            body = self._get(url, source, resumed=resumed)
            resumed = False
            updates, next_link, warnings = _parse_page(body, source)
            if next_link is not None:
                next_url = self._resolve(next_link, source=source)
                if next_link in seen:
                    raise ExchangeError(
                        f"the paging link {next_link!r} was served before: paging does not advance",
                        source=source,
                    )
                seen.add(next_link)
            cursor: dict[str, str] | None = {
                "from": window.start.isoformat(),
                "to": window.end.isoformat(),
                "next": next_link or "",
            }
            if next_link is None and last:
                cursor = None
            yield ExchangePage(
                updates=updates,
                cursor=cursor,
                fetched_through=window.end if next_link is None else None,
                source=source,
                sha256=hashlib.sha256(body).hexdigest(),
                warnings=warnings,
            )
            if next_link is None:
                return
            url = next_url

    def _read_cursor(self, cursor: Mapping[str, str], until: datetime) -> tuple[_Window, str]:
        """The window and the paging link a cursor of ours holds."""
        try:
            if set(cursor) != _CURSOR_KEYS or not all(isinstance(v, str) for v in cursor.values()):
                raise ValueError("unexpected keys")
            window = _Window(_utc(_iso(cursor["from"])), _utc(_iso(cursor["to"])))
            link = cursor["next"]
            if window.start > window.end or window.end > until:
                raise ValueError("the window is not within the range")
            if link:
                self._resolve(link)
        except (ValueError, ExchangeError):
            raise CursorRejected(
                f"the cursor {dict(cursor)!r} is not one this client gave for a range "
                f"ending {until.isoformat()}",
                source=self.config.name,
            ) from None
        return window, link

    def _resolve(self, link: str, *, source: str | None = None) -> str:
        """The URL a ``next`` link names, relative to the API root as NCMEC's are; a link to
        another scheme, host or port, with credentials, or outside the API root, is refused."""
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            candidate = link
        else:
            candidate = self._root + ("" if link.startswith("/") else "/") + link
        try:
            url: httpx.URL | None = httpx.URL(candidate)
        except (httpx.InvalidURL, ValueError):
            url = None
        if url is None or not self._inside(url):
            raise ExchangeError(
                f"refusing the paging link {link[:200]!r}: it leads outside the API root "
                f"{self._root}",
                source=source or self.config.name,
            )
        return str(url)

    def _inside(self, url: httpx.URL) -> bool:
        """Whether ``url`` is on the API root's origin, under its path, without credentials."""
        root = self._root_url
        if (url.scheme, url.host, url.port) != (root.scheme, root.host, root.port):
            return False
        path = url.path
        if url.userinfo or "\\" in path or {".", ".."} & set(path.split("/")):
            return False
        return path == root.path or path.startswith(root.path.rstrip("/") + "/")

    # --- one request ----------------------------------------------------------------------

    def _get(self, url: str, source: str, *, resumed: bool) -> bytes:
        """The body of a successful GET, after the retries the configuration allows."""
        config = self.config
        attempt = 0
        while True:
            wait: float | None = None
            try:
                status, reason, body, retry_after = self._send(url)
            except httpx.TimeoutException:
                problem = f"no answer within {config.timeout:g} s"
            except httpx.RequestError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            except _TooLarge:
                raise ExchangeError(
                    f"the response is over {_MAX_BODY:,} bytes: not an entries page",
                    source=source,
                ) from None
            else:
                logger.debug("%s: HTTP %d, %d bytes", source, status, len(body))
                if status == 200:
                    return body
                problem = f"HTTP {status} {reason}".rstrip()
                if status in _AUTH_STATUSES:
                    raise ExchangeAuthError(
                        f"{problem}: the exchange refused the credentials of "
                        f"{config.credentials.username!r}",
                        source=source,
                    )
                if resumed and status in _CURSOR_STATUSES:
                    raise CursorRejected(
                        f"{problem}: the exchange no longer accepts the paging link the "
                        "fetch would resume from",
                        source=source,
                    )
                if status not in _RETRY_STATUSES:
                    raise ExchangeError(problem, source=source)
                if status == 429 and retry_after is not None:
                    wait = min(retry_after, _MAX_RETRY_AFTER)
            if attempt >= config.retries:
                tries = "1 attempt" if attempt == 0 else f"{attempt + 1} attempts"
                raise ExchangeError(f"gave up after {tries}; the last: {problem}", source=source)
            if wait is None:
                wait = min(config.backoff * 2**attempt, _MAX_BACKOFF)
            attempt += 1
            logger.warning(
                "%s: %s; retrying in %.3g s (retry %d of %d)",
                source,
                problem,
                wait,
                attempt,
                config.retries,
            )
            self._sleep(wait)

    def _send(self, url: str) -> tuple[int, str, bytes, float | None]:
        """One GET: status, reason, body (read in full, up to the limit), ``Retry-After``."""
        with self._http.stream("GET", url) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > _MAX_BODY:
                    raise _TooLarge
                chunks.append(chunk)
            retry_after = _retry_after(response.headers.get("Retry-After"))
            return response.status_code, response.reason_phrase, b"".join(chunks), retry_after


class _TooLarge(Exception):
    """A response body over :data:`_MAX_BODY`."""


# --- helpers ----------------------------------------------------------------------------


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default, verifying context (certifi's CAs, host names checked), built once:
    loading the CA bundle costs more than a whole page of entries."""
    return httpx.create_ssl_context(verify=True)


def _check_api_root(root: str) -> str:
    """``root`` without a trailing slash, if it is a usable API root."""
    try:
        parts = urlsplit(root.strip())
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise ConfigurationError("the exchange API root is not a URL") from None
    shown = f"{parts.scheme}://{host}{parts.path}"
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"the exchange API root {shown} holds credentials: give them as settings instead"
        )
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"the exchange API root {shown!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigurationError(
            f"the exchange API root {shown} is not https: plain http is allowed only on a "
            "loopback host (127.0.0.1, ::1, localhost)"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"the exchange API root {shown} has a query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _source(url: str) -> str:
    """``GET <path>?<query>``: what a page came from, with no host and no credentials."""
    parts = urlsplit(url)
    return f"GET {parts.path}" + (f"?{parts.query}" if parts.query else "")


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _iso(text: str) -> datetime:
    """A timestamp as NCMEC or a cursor writes it (``2024-03-01T12:00:00Z``)."""
    return datetime.fromisoformat(text)


def _windows(start: datetime, end: datetime, size: timedelta) -> list[_Window]:
    """Consecutive windows of at most ``size`` from ``start`` to ``end``."""
    windows = []
    while start < end:
        stop = min(start + size, end)
        windows.append(_Window(start, stop))
        start = stop
    return windows


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is ignored: back-off applies)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0) if not math.isnan(seconds) else None


def _parse_page(
    body: bytes, source: str
) -> tuple[pa.RecordBatch, str | None, tuple[RecordWarning, ...]]:
    """The updates of one entries page, its ``next`` link and the warnings about it."""
    adapter = NcmecXmlAdapter(exchange=True)
    context = ReadContext(source=source, batch_size=1 << 20, keep_warnings=1 << 30)
    try:
        batches = list(adapter.read(io.BytesIO(body), context))
    except (UnsupportedFormat, RecordError) as exc:
        raise ExchangeError(
            f"the response is not an NCMEC entries document: {exc.render()}", source=source
        ) from None
    warnings = list(context.warnings)
    rows: list[tuple[int, dict[str, Any]]] = []
    for batch in batches:
        for row in batch.to_pylist():
            labels = json.loads(row["labels"])
            stamp = _entry_time(labels.get(Label.UPDATED), row["line"], source, warnings)
            if stamp is None:
                continue
            rows.append(
                (
                    row["line"],
                    {
                        "key": labels[Label.SOURCE_ID],
                        "timestamp": stamp,
                        "deleted": False,
                        "md5": row["md5"],
                        "sha1": row["sha1"],
                        "sha256": row["sha256"],
                        "labels": row["labels"],
                    },
                )
            )
    for tombstone in adapter.deleted:
        stamp = _entry_time(tombstone.timestamp, tombstone.line, source, warnings)
        if stamp is not None:
            rows.append(
                (
                    tombstone.line,
                    {
                        "key": tombstone.key,
                        "timestamp": stamp,
                        "deleted": True,
                        "md5": None,
                        "sha1": None,
                        "sha256": None,
                        "labels": None,
                    },
                )
            )
    # Document order: between two changes of one key with one timestamp, the later wins.
    rows.sort(key=lambda item: item[0])
    updates = pa.RecordBatch.from_pylist([row for _, row in rows], schema=UPDATE_SCHEMA)
    warnings.sort(key=lambda w: w.line or 0)
    return updates, adapter.next_page, tuple(warnings)


def _entry_time(
    text: object, line: int, source: str, warnings: list[RecordWarning]
) -> datetime | None:
    """An entry's timestamp in UTC, whole seconds; None (and a warning) when unreadable."""
    if isinstance(text, str) and text:
        try:
            return _utc(_iso(text)).replace(microsecond=0)
        except ValueError:
            reason = f"the timestamp {text[:40]!r} cannot be read: the entry is skipped"
    else:
        reason = "the entry has no timestamp: it is skipped"
    warnings.append(RecordWarning(source=source, line=line, reason=reason))
    return None


def _parse_status(body: bytes, source: str) -> NcmecStatus:
    """The member that ``GET /v2/status`` names (its first ``member`` element)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    found: dict[str, str] = {}
    text: list[str] = []
    inside = False

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal inside
        if name.rpartition(" ")[2] == "member" and not found:
            found["id"] = attributes.get("id", "")
            inside = True

    def end(name: str) -> None:
        nonlocal inside
        if inside and name.rpartition(" ")[2] == "member":
            found["name"] = "".join(text).strip()
            inside = False

    def data(chunk: str) -> None:
        if inside:
            text.append(chunk)

    def refuse(*_: object) -> None:
        raise ExchangeError("the status response declares an entity", source=source)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise ExchangeError(f"the status response is not XML: {exc}", source=source) from None
    if not found.get("id"):
        raise ExchangeError("the status response names no member", source=source)
    return NcmecStatus(member_id=found["id"], member_name=found.get("name", ""))
