"""A fake NCMEC hash-sharing API v2 server on loopback, serving synthetic entries.

::

    with FakeNcmec(page_size=4, seed=1) as fake:
        fake.put(*synthetic_entries(random.Random(1), 30, start=t0, end=t1))
        fake.delete("9001-syn-...", at=t1)
        client = NcmecExchangeClient(config(api_root=fake.url, ...))  # .../hashsharing
        ...
        assert resolved == fake.expected_state()

What it serves (FORMATS.md §3), under the API root ``http://127.0.0.1:PORT/hashsharing``:

* ``GET /v2/entries?from=...&to=...``: every entry, live or deleted, whose current
  timestamp is within [from, to] (**both bounds included**), in a shuffled order (seeded),
  ``page_size`` at a time. The result set of a window is fixed when its first page is
  served (a first request for the same window makes a new one), so paging is stable
  however the entries change meanwhile. Pages after the first are asked for through the
  ``paging/next`` link, relative to the API root and XML-escaped as NCMEC's are:
  ``/v2/entries?from=...&amp;to=...&amp;start=5&amp;size=4&amp;max=25`` (``start`` is
  1-based, ``max`` the size of the result set).
* ``GET /v2/status``: the member the credentials belong to.
* Basic auth is checked on every request (HTTP 401 otherwise).

The server holds each entry's current state, as NCMEC does: :meth:`FakeNcmec.put` adds or
replaces an entry (same member and id), :meth:`FakeNcmec.delete` replaces it with a
tombstone. :meth:`FakeNcmec.expected_state` is what a complete fetch must end with.

Faults, each for the next requests of any kind (in the order they were asked for):
:meth:`~FakeNcmec.fail_next` (a status, optionally with ``Retry-After``),
:meth:`~FakeNcmec.delay_next` (answer only after a delay, beyond a client's time-out),
:meth:`~FakeNcmec.close_next` (close the connection without answering),
:meth:`~FakeNcmec.garbage_next` (HTTP 200 with a body that is no entries document;
:meth:`~FakeNcmec.serve_next` is the same for a document a test writes itself).
Also :meth:`~FakeNcmec.expire_paging` (paging links served so far are refused),
:meth:`~FakeNcmec.hang_on` (block an entries request until :meth:`~FakeNcmec.release`),
and :attr:`~FakeNcmec.link_base` (write ``next`` links as absolute URLs on another origin).
:attr:`~FakeNcmec.requests` logs method, path, query and status of every request (never
its headers).

Everything here is synthetic: random digests, ``synthetic-pdna-...`` stand-ins for
perceptual fingerprints, made-up member names.
"""

from __future__ import annotations

import base64
import collections
import hmac
import random
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "CLASSIFICATIONS",
    "MEMBERS",
    "NAMESPACE",
    "FakeEntry",
    "FakeNcmec",
    "LoggedRequest",
    "synthetic_entries",
    "synthetic_entry",
]

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
CLASSIFICATIONS = ("A1", "A2", "B1", "B2")
MEMBERS = {"9001": "Synthetic ESP", "9002": "Synthetic NGO", "9003": "Synthetic Platform"}
"""Made-up members (id: name)."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeEntry:
    """One entry as the server holds it: live or deleted, with its fingerprints."""

    member: str | None
    """The member id (None: the element has no ``id`` attribute, a broken entry)."""
    entry_id: str | None
    """The entry id, unique per member (None: no ``id`` element, a broken entry)."""
    timestamp: datetime
    """When the entry last changed (UTC, whole seconds): what windows select on."""
    media: str = "image"
    """``image`` or ``video``."""
    deleted: bool = False
    classification: str | None = None
    md5: str | None = None
    sha1: str | None = None
    perceptual: tuple[tuple[str, str], ...] = ()
    """Other fingerprints as (element, text); an empty text is written as a link
    (``<tmk-pdqf rel="self" href="..."/>``)."""
    member_name: str = ""
    timestamp_text: str | None = None
    """Written instead of :attr:`timestamp` when set (an unreadable timestamp)."""

    @property
    def key(self) -> str:
        """``"<member id>-<entry id>"``, as the client keys entries."""
        return f"{self.member or '?'}-{self.entry_id or '?'}"

    @property
    def keyed(self) -> bool:
        """Whether the client can key the entry at all."""
        return bool(self.member and self.entry_id)

    @property
    def has_digest(self) -> bool:
        """Whether the entry carries a digest hashmatch matches (md5 or sha1)."""
        return bool(self.md5 or self.sha1)

    def tombstone(self, at: datetime) -> FakeEntry:
        """This entry deleted at ``at``."""
        return FakeEntry(
            member=self.member,
            entry_id=self.entry_id,
            timestamp=at,
            media=self.media,
            deleted=True,
            member_name=self.member_name,
        )

    def render(self) -> str:
        """The entry's XML element."""
        tag = ("deleted" + self.media.capitalize()) if self.deleted else self.media
        member_id = f" id={quoteattr(self.member)}" if self.member is not None else ""
        stamp = self.timestamp_text
        if stamp is None:
            stamp = self.timestamp.strftime(_TIME_FORMAT)
        parts = [
            f"<{tag}>",
            f"<member{member_id}>{escape(self.member_name)}</member>",
            f"<timestamp>{escape(stamp)}</timestamp>",
        ]
        if self.entry_id is not None:
            parts.append(f"<id>{escape(self.entry_id)}</id>")
        if not self.deleted:
            if self.classification is not None:
                parts.append(f"<classification>{escape(self.classification)}</classification>")
            prints = []
            if self.md5 is not None:
                prints.append(f"<md5>{self.md5}</md5>")
            if self.sha1 is not None:
                prints.append(f"<sha1>{self.sha1}</sha1>")
            for name, value in self.perceptual:
                if value:
                    prints.append(f"<{name}>{escape(value)}</{name}>")
                else:
                    href = f"/v2/entries/{self.entry_id}/fingerprints/{name.upper()}"
                    prints.append(f'<{name} rel="self" href={quoteattr(href)}/>')
            parts.append(f"<fingerprints>{''.join(prints)}</fingerprints>")
            parts.append("<feedback/>")
        parts.append(f"</{tag}>")
        return "".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggedRequest:
    """What the server was asked (no headers: the credentials never reach the log)."""

    method: str
    path: str
    query: str
    status: int
    """The status answered (0: the connection was closed without an answer)."""

    @property
    def params(self) -> dict[str, str]:
        """The query parameters (first value of each)."""
        return {k: v[0] for k, v in parse_qs(self.query, keep_blank_values=True).items()}


def random_md5(rng: random.Random) -> str:
    """A random (synthetic) md5, lower-case hex."""
    return rng.randbytes(16).hex()


def random_sha1(rng: random.Random) -> str:
    """A random (synthetic) sha1, lower-case hex."""
    return rng.randbytes(20).hex()


def synthetic_entry(
    rng: random.Random,
    *,
    timestamp: datetime,
    member: str | None = None,
    entry_id: str | None = None,
    media: str | None = None,
    kind: str | None = None,
) -> FakeEntry:
    """A random live entry at ``timestamp``.

    ``kind``: ``exact`` (md5 and sha1, sometimes a perceptual fingerprint too),
    ``perceptual`` (only a ``pdna``/``pdq`` fingerprint or a ``tmk-pdqf`` link) or None
    (``exact`` nine times out of ten).
    """
    member = member if member is not None else rng.choice(sorted(MEMBERS))
    media = media or ("video" if rng.random() < 0.25 else "image")
    entry_id = entry_id or f"syn-{media[:3]}-{rng.getrandbits(48):012x}"
    kind = kind or ("perceptual" if rng.random() < 0.1 else "exact")
    md5 = sha1 = None
    perceptual: list[tuple[str, str]] = []
    if kind == "exact":
        md5 = random_md5(rng)
        sha1 = random_sha1(rng) if media == "image" or rng.random() < 0.5 else None
    if media == "video":
        if kind == "perceptual" or rng.random() < 0.3:
            perceptual.append(("tmk-pdqf", ""))
    else:
        if kind == "perceptual" or rng.random() < 0.3:
            perceptual.append(("pdna", f"synthetic-pdna-{rng.randbytes(24).hex()}"))
        if rng.random() < 0.2:
            perceptual.append(("pdq", rng.randbytes(32).hex()))
        if kind == "perceptual" and len(perceptual) == 0:
            perceptual.append(("pdq", rng.randbytes(32).hex()))
    classification = rng.choice(CLASSIFICATIONS) if rng.random() < 0.9 else None
    return FakeEntry(
        member=member,
        entry_id=entry_id,
        timestamp=timestamp.astimezone(UTC).replace(microsecond=0),
        media=media,
        classification=classification,
        md5=md5,
        sha1=sha1,
        perceptual=tuple(perceptual),
        member_name=MEMBERS.get(member, f"Synthetic member {member}"),
    )


def synthetic_entries(
    rng: random.Random, count: int, *, start: datetime, end: datetime
) -> list[FakeEntry]:
    """``count`` random live entries with distinct keys, timestamps in [start, end]."""
    span = int((end - start).total_seconds())
    entries = []
    for n in range(count):
        moment = start + timedelta(seconds=rng.randint(0, max(span, 0)))
        entry = synthetic_entry(rng, timestamp=moment)
        entries.append(replace(entry, entry_id=f"{entry.entry_id}-{n}"))
    return entries


@dataclass(slots=True)
class _Fault:
    kind: str  # status | delay | close | garbage
    status: int = 0
    retry_after: str | None = None
    seconds: float = 0.0
    body: bytes = b""


@dataclass(slots=True)
class _State:
    entries: dict[tuple[str | None, str | None], FakeEntry] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], list[FakeEntry]] = field(default_factory=dict)
    faults: collections.deque[_Fault] = field(default_factory=collections.deque)
    requests: list[LoggedRequest] = field(default_factory=list)
    entries_requests: int = 0
    hang_at: int | None = None


class FakeNcmec:
    """The fake server: a context manager that starts it on 127.0.0.1 and always stops it."""

    def __init__(
        self,
        *,
        username: str = "synthetic-user",
        password: str = "synthetic-password-0123",
        page_size: int = 1000,
        seed: int = 0,
        prefix: str = "/hashsharing",
        member_id: str = "9001",
    ) -> None:
        self.username = username
        self.password = password
        self.page_size = page_size
        self.prefix = prefix.rstrip("/")
        self.member_id = member_id
        self.link_base = ""
        """Written before every ``next`` link (``http://elsewhere.example:1/hashsharing``):
        to serve links to another origin."""
        self.paging_status = 410
        """What a paging link of an unknown or expired result set gets."""
        self.hanging = threading.Event()
        """Set while :meth:`hang_on`'s request is blocked."""
        self._released = threading.Event()
        self._stopping = threading.Event()
        self.seed = seed
        self._lock = threading.Lock()
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> FakeNcmec:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on 127.0.0.1, on a free port."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; every delayed or hung request is let go."""
        self._stopping.set()
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake is not running"
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The API root: ``http://127.0.0.1:PORT/hashsharing``."""
        return self.origin + self.prefix

    # --- data ---------------------------------------------------------------------------

    def put(self, *entries: FakeEntry) -> None:
        """Add entries, or replace the ones with the same member and id."""
        with self._lock:
            for entry in entries:
                self._state.entries[(entry.member, entry.entry_id)] = entry

    def delete(self, key: str, *, at: datetime) -> FakeEntry:
        """Replace the entry ``key`` (``member-id``) with a tombstone stamped ``at``."""
        with self._lock:
            for slot, entry in self._state.entries.items():
                if entry.key == key:
                    gone = entry.tombstone(at.astimezone(UTC).replace(microsecond=0))
                    self._state.entries[slot] = gone
                    return gone
        raise KeyError(key)

    @property
    def entries(self) -> list[FakeEntry]:
        """Every entry as the server now holds it (live and deleted)."""
        with self._lock:
            return list(self._state.entries.values())

    def expected_state(self) -> dict[str, FakeEntry]:
        """The live entries a complete fetch must end with, by key: the keyed ones whose
        timestamp is readable (the others are skipped with a warning). Entries with only
        perceptual fingerprints are in it (see :attr:`FakeEntry.has_digest`)."""
        return {
            entry.key: entry
            for entry in self.entries
            if entry.keyed and not entry.deleted and entry.timestamp_text is None
        }

    # --- faults -------------------------------------------------------------------------

    def fail_next(
        self, count: int = 1, status: int = 503, *, retry_after: str | None = None
    ) -> None:
        """Answer the next ``count`` requests with ``status`` (and ``Retry-After``)."""
        self._add_faults(count, _Fault("status", status=status, retry_after=retry_after))

    def delay_next(self, count: int = 1, seconds: float = 2.0) -> None:
        """Answer the next ``count`` requests only after ``seconds``."""
        self._add_faults(count, _Fault("delay", seconds=seconds))

    def close_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` requests without an answer."""
        self._add_faults(count, _Fault("close"))

    def garbage_next(self, count: int = 1, body: bytes = b"<html><body>oops</body></html>") -> None:
        """Answer the next ``count`` requests with HTTP 200 and ``body``."""
        self._add_faults(count, _Fault("garbage", body=body))

    def serve_next(self, body: bytes, count: int = 1) -> None:
        """Answer the next ``count`` requests with HTTP 200 and ``body``, a document of the
        test's own (what the entries cannot express: one key twice on a page, say)."""
        self.garbage_next(count, body)

    def expire_paging(self, status: int = 410) -> None:
        """Forget every result set: their paging links now get ``status``."""
        with self._lock:
            self._state.snapshots.clear()
            self.paging_status = status

    def hang_on(self, n: int = 1) -> None:
        """Block the ``n``-th entries request from now on (1: the next) until
        :meth:`release`; :attr:`hanging` is set while it waits."""
        with self._lock:
            self._state.hang_at = self._state.entries_requests + n
        self.hanging.clear()
        self._released.clear()

    def release(self) -> None:
        """Let the request that :meth:`hang_on` blocked go on."""
        self._released.set()

    def _add_faults(self, count: int, fault: _Fault) -> None:
        with self._lock:
            self._state.faults.extend(replace(fault) for _ in range(count))

    # --- what was asked ------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, in order."""
        with self._lock:
            return list(self._state.requests)

    def entries_requests(self) -> list[LoggedRequest]:
        """The ``/v2/entries`` requests so far."""
        return [r for r in self.requests if r.path == f"{self.prefix}/v2/entries"]

    # --- serving (called by the handler) ---------------------------------------------------

    def _answer(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        with self._lock:
            fault = self._state.faults.popleft() if self._state.faults else None
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
            fault = None
        headers: dict[str, str] = {}
        if fault is not None and fault.kind == "close":
            status, body = 0, b""
        elif fault is not None and fault.kind == "status":
            status, body = fault.status, b"<error>synthetic failure</error>"
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
        elif not self._authorised(handler.headers.get("Authorization")):
            status, body = 401, b"<error>unauthorised</error>"
            headers["WWW-Authenticate"] = 'Basic realm="hashsharing"'
        elif fault is not None and fault.kind == "garbage":
            status, body = 200, fault.body
        elif parts.path == f"{self.prefix}/v2/status":
            status, body = 200, self._status()
        elif parts.path == f"{self.prefix}/v2/entries":
            self._maybe_hang()
            status, body = self._entries(parse_qs(parts.query, keep_blank_values=True))
        else:
            status, body = 404, b"<error>not found</error>"
        # Logged before the answer goes out: a client that has its answer sees the log.
        with self._lock:
            self._state.requests.append(
                LoggedRequest(
                    method=handler.command, path=parts.path, query=parts.query, status=status
                )
            )
        if status == 0:
            handler.close_connection = True
            return
        try:
            _send(handler, status, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _status(self) -> bytes:
        name = MEMBERS.get(self.member_id, "Synthetic member")
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><status xmlns="{NAMESPACE}">'
            f"<member id={quoteattr(self.member_id)}>{escape(name)}</member></status>"
        ).encode()

    def _authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header is not None and hmac.compare_digest(header, f"Basic {expected}")

    def _maybe_hang(self) -> None:
        with self._lock:
            self._state.entries_requests += 1
            hang = self._state.entries_requests == self._state.hang_at
        if hang:
            self.hanging.set()
            self._released.wait()
            self.hanging.clear()

    def _entries(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        params = {k: v[0] for k, v in query.items()}
        try:
            low = _parse_time(params["from"])
            high = _parse_time(params["to"])
        except (KeyError, ValueError):
            return 400, b"<error>from and to are required, as YYYY-MM-DDTHH:MM:SSZ</error>"
        if low > high:
            return 400, b"<error>from is after to</error>"
        window = (params["from"], params["to"])
        with self._lock:
            if "start" not in params:
                chosen = [e for e in self._state.entries.values() if low <= e.timestamp <= high]
                chosen.sort(key=lambda e: (e.timestamp, e.key))
                # Seeded by the window too: asking for a window again gives the same order.
                random.Random(f"{self.seed}:{window}").shuffle(chosen)
                self._state.snapshots[window] = chosen
                start, size = 1, self.page_size
            else:
                snapshot = self._state.snapshots.get(window)
                if snapshot is None:
                    return self.paging_status, b"<error>this paging link has expired</error>"
                chosen = snapshot
                try:
                    start, size = int(params["start"]), int(params.get("size", self.page_size))
                except ValueError:
                    return 400, b"<error>bad start or size</error>"
                if start < 1 or size < 1 or start > len(chosen) + 1:
                    return 400, b"<error>start is out of range</error>"
            link_base = self.link_base
        page = chosen[start - 1 : start - 1 + size]
        following = start + size
        link = None
        if following <= len(chosen):
            link = (
                f"{link_base}/v2/entries?from={quote(window[0], safe='')}"
                f"&to={quote(window[1], safe='')}&start={following}&size={size}&max={len(chosen)}"
            )
        return 200, _document(page, link).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeNcmec/1"
    # Headers and body in one segment, sent at once: no Nagle and delayed-ACK stalls.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.server.fake._answer(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _send(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/xml; charset=UTF-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _document(page: list[FakeEntry], link: str | None) -> str:
    sections = []
    for section, media in (("images", "image"), ("videos", "video")):
        chosen = [e for e in page if e.media == media]
        if chosen:
            latest = max(e.timestamp for e in chosen).strftime(_TIME_FORMAT)
            body = "\n".join(e.render() for e in chosen)
            sections.append(
                f'<{section} count="{len(chosen)}" maxTimestamp="{latest}">\n{body}\n</{section}>'
            )
        else:
            sections.append(f'<{section} count="0"/>')
    paging = f"<paging><next>{escape(link)}</next></paging>" if link else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<queryResult xmlns="{NAMESPACE}">\n'
        + "\n".join(sections)
        + f"\n{paging}\n</queryResult>\n"
    )
