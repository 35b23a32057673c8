"""A fake PhotoDNA-Cloud-shaped Match service on loopback, for tests only.

It knows nothing of images or of PhotoDNA: it holds a synthetic list (base64 hash text ->
match flags) and answers ``POST /photodna/v1.0/Match`` in the public request/response shape
(``Status {Code, Description, Exception}``, ``IsMatch``, ``MatchDetails {MatchFlags}``,
``TrackingId``). Requests without the right ``Ocp-Apim-Subscription-Key`` get HTTP 401, as the
real gateway answers. Anything but ``{"DataRepresentation": "Hash", ...}`` is answered with
status 3002 (and logged, so a test can see the client never sent an image or a URL).

Faults, each for the next N requests: :meth:`PhotoDnaFake.throttle` (HTTP 429 with
``Retry-After``), :meth:`PhotoDnaFake.fail` (HTTP 500/503), :meth:`PhotoDnaFake.stall`
(answer late, past the client's time-out), :meth:`PhotoDnaFake.garble` (a 200 that is not
JSON); and per hash, :attr:`PhotoDnaFake.statuses` (answer that status code for it).

:attr:`PhotoDnaFake.requests` logs every request (never the key: only whether the right one
came). Use it as a context manager, or ``start()``/``stop()`` in a ``finally``.
"""

from __future__ import annotations

import hmac
import itertools
import json
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MATCH_PATH", "Flag", "PhotoDnaFake", "Request"]

MATCH_PATH = "/photodna/v1.0/Match"
KEY_HEADER = "Ocp-Apim-Subscription-Key"


@dataclass(frozen=True, kw_only=True)
class Flag:
    """One synthetic match flag: the list (``Source``) and entry that a hash matches."""

    source: str = "SyntheticSource"
    match_id: str = "syn-0001"
    violations: Sequence[str] = ("SYN-CATEGORY-1",)
    distance: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        info = [{"Key": "MatchId", "Value": self.match_id}]
        if self.distance is not None:
            info.append({"Key": "Distance", "Value": str(self.distance)})
        info.extend({"Key": k, "Value": v} for k, v in self.extra.items())
        return {"AdvancedInfo": info, "Source": self.source, "Violations": list(self.violations)}


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the fake saw of one request. The key itself is never kept."""

    method: str
    path: str
    content_type: str
    representation: object
    value: object
    key_sent: bool
    key_ok: bool
    status: int


class PhotoDnaFake:
    """The fake service; ``url`` is the endpoint (API root) to configure."""

    def __init__(self, key: str, *, tls: ssl.SSLContext | None = None) -> None:
        self._key = key
        self._tls = tls
        self.entries: dict[str, list[Flag]] = {}
        """The synthetic list: hash (base64 text) -> its match flags."""
        self.statuses: dict[str, tuple[int, str]] = {}
        """Hash -> (status code, description) to answer for it instead of a match."""
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._faults: list[tuple[str, int, Any]] = []
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"PhotoDnaFake(url={self.url if self._server else None!r})"

    # -- the list and the faults ---------------------------------------------------------

    def add(self, value: str, *flags: Flag) -> None:
        """Put ``value`` on the list, matching ``flags`` (one default flag if none)."""
        self.entries[value] = list(flags) or [Flag()]

    def throttle(self, times: int, retry_after: str | None = "1") -> None:
        """Answer the next ``times`` requests with HTTP 429 and this ``Retry-After``."""
        self._fault("429", times, retry_after)

    def fail(self, times: int, status: int = 503, body: object = None) -> None:
        """Answer the next ``times`` requests with HTTP ``status`` (and this JSON body, or
        the gateway's ``{"statusCode", "message"}``)."""
        self._fault("fail", times, (status, body))

    def stall(self, times: int, seconds: float) -> None:
        """Hold the next ``times`` requests ``seconds`` before answering them normally."""
        self._fault("stall", times, seconds)

    def garble(self, times: int, body: bytes = b"<html>not json</html>") -> None:
        """Answer the next ``times`` requests with a 200 whose body is ``body`` (by default
        not JSON at all)."""
        self._fault("garble", times, body)

    def _fault(self, kind: str, times: int, argument: Any) -> None:
        with self._lock:
            self._faults.append((kind, times, argument))

    def _next_fault(self) -> tuple[str, Any] | None:
        with self._lock:
            if not self._faults:
                return None
            kind, times, argument = self._faults[0]
            if times <= 1:
                self._faults.pop(0)
            else:
                self._faults[0] = (kind, times - 1, argument)
            return kind, argument

    # -- the server -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> PhotoDnaFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                fake._answer(self)

            def do_GET(self) -> None:
                fake._send(self, 405, {"error": "method not allowed"})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> PhotoDnaFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering ------------------------------------------------------------------------

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: object,
        headers: dict[str, str] | None = None,
        *,
        raw: bytes | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(body).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up waiting (a stalled request)
            pass

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        sent = handler.headers.get(KEY_HEADER)
        key_ok = sent is not None and hmac.compare_digest(sent.encode(), self._key.encode())
        content_type = handler.headers.get("Content-Type", "")
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        representation = body.get("DataRepresentation") if isinstance(body, dict) else None
        value = body.get("Value") if isinstance(body, dict) else None

        def log(status: int) -> None:
            with self._lock:
                self.requests.append(
                    Request(
                        method=handler.command,
                        path=handler.path,
                        content_type=content_type,
                        representation=representation,
                        value=value,
                        key_sent=sent is not None,
                        key_ok=key_ok,
                        status=status,
                    )
                )

        if handler.path.split("?")[0] != MATCH_PATH:
            log(404)
            self._send(handler, 404, {"statusCode": 404, "message": "Resource not found"})
            return
        if not key_ok:
            log(401)
            self._send(
                handler,
                401,
                {
                    "statusCode": 401,
                    "message": "Access denied due to invalid subscription key. "
                    "Make sure to provide a valid key for an active subscription.",
                },
            )
            return
        fault = self._next_fault()
        if fault is not None:
            kind, argument = fault
            if kind == "stall":
                self._stopping.wait(argument)
            elif kind == "429":
                log(429)
                headers = {} if argument is None else {"Retry-After": argument}
                message = {"statusCode": 429, "message": "Rate limit is exceeded."}
                self._send(handler, 429, message, headers)
                return
            elif kind == "fail":
                status, body = argument
                log(status)
                if body is None:
                    body = {"statusCode": status, "message": "synthetic failure"}
                self._send(handler, status, body)
                return
            elif kind == "garble":
                log(200)
                self._send(handler, 200, None, raw=argument)
                return
        log(200)
        self._send(handler, 200, self._match(representation, value))

    def _match(self, representation: object, value: object) -> dict[str, Any]:
        tracking = f"SYN_photodna_{next(self._ids):06d}"
        answer: dict[str, Any] = {
            "Status": {"Code": 3000, "Description": "OK", "Exception": None},
            "ContentId": None,
            "IsMatch": False,
            "MatchDetails": {"AdvancedInfo": [], "MatchFlags": []},
            "TrackingId": tracking,
        }
        if representation != "Hash" or not isinstance(value, str) or not value:
            answer["Status"] = {
                "Code": 3002,
                "Description": "Invalid or missing request parameter(s)",
                "Exception": None,
            }
            answer["MatchDetails"] = None
            return answer
        if value in self.statuses:
            code, description = self.statuses[value]
            answer["Status"] = {"Code": code, "Description": description, "Exception": None}
            answer["MatchDetails"] = None
            return answer
        flags = self.entries.get(value)
        if flags:
            answer["IsMatch"] = True
            answer["MatchDetails"]["MatchFlags"] = [flag.to_json() for flag in flags]
        return answer
