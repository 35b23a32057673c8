"""A client for a PhotoDNA-Cloud-shaped matching service: :class:`PhotoDnaCloudVendor`.

No PhotoDNA algorithm is implemented here and no PhotoDNA hash is shipped. The licensee
configures two things they hold themselves (a ``[photodna-cloud]`` licence, see
:class:`~hashmatch.perceptual.VendorLicence`):

* ``library``: their licensed PhotoDNA hashing library, as ``"module:function"``. It is
  imported with :mod:`importlib` when the vendor is built, and :meth:`compute` calls it with
  the file's path as text (``function("/evidence/x.jpg")``). It returns the hash as bytes or
  as base64 text (144 bytes), or None for a kind of file it does not hash; it raises
  :class:`ValueError` or :class:`OSError` for a file it rejects (reported as
  :class:`FileNotHashable`); any other exception is a :class:`VendorError`. Hashing happens
  on the examiner's machine only.
* ``key`` and ``endpoint``: their PhotoDNA Cloud subscription key and the service's API
  root. :meth:`match` sends each *hash* (never an image, never a URL: the public API takes
  those too, this client never sends either) to the Match operation::

      POST {endpoint}/photodna/v1.0/Match
      Ocp-Apim-Subscription-Key: <key>
      Content-Type: application/json

      {"DataRepresentation": "Hash", "Value": "<base64 of the 144-byte hash>"}

  and reads the documented answer::

      {"Status": {"Code": 3000, "Description": "OK", "Exception": null},
       "ContentId": null, "IsMatch": true, "TrackingId": "...",
       "MatchDetails": {"AdvancedInfo": [],
                        "MatchFlags": [{"Source": "...", "Violations": ["..."],
                                        "AdvancedInfo": [{"Key": "MatchId", "Value": "..."}]}]}}

What the answers become:

* ``Status.Code`` 3000: each match flag is a :class:`VendorMatch` (``list_name``: the flag's
  ``Source``; ``entry``: its ``MatchId``; ``distance``: its ``Distance`` if the service gives
  one; ``labels``: ``Violations`` (as JSON text), every ``AdvancedInfo`` pair and the
  ``TrackingId``, verbatim). ``IsMatch`` false: no hits.
* any other code (3002 invalid or missing parameter, 3004 unhandled error, 3206/3208 that
  apply to images, or one not documented): a problem with *this hash only*. It gets no
  hits, the reason is kept in :attr:`PhotoDnaCloudVendor.problems` (and in
  :meth:`~PhotoDnaCloudVendor.match_outcomes`), a warning is logged without the hash, and
  the other hashes go on. So does a value that is not base64 of 144 bytes: it is never sent.
* HTTP 400: a problem with this hash, as above (with the answer's status if it has one).
* HTTP 401/403: :class:`VendorError` naming a licence problem (the key is never shown).
  Any other 3xx or 4xx, or an answer that is not the documented JSON: :class:`VendorError`
  (the endpoint is not a Match service; redirects are never followed). A TLS certificate
  that does not verify: :class:`VendorError` at once, without retrying.
* HTTP 429: wait for ``Retry-After`` (seconds or an HTTP date; capped at ``max_wait``) and
  try again; HTTP 5xx, time-outs, connection errors: try again after an exponential back-off
  (``backoff`` x 2^n, capped). Both draw on one budget of ``retries`` per hash; when it is
  spent: :class:`VendorError`.

Licence options (all optional, as text; any other option is refused as a likely typo):

* ``timeout``: seconds to wait for each answer (default 30);
* ``retries``: further attempts per hash after a 429, a 5xx or a time-out (default 4);
* ``backoff``: the first back-off delay in seconds, doubled at each retry (default 1);
* ``max_wait``: the longest single wait, back-off or ``Retry-After``, in seconds (default 60);
* ``requests_per_second``: pacing of requests (the service documents 5 to 10 a second;
  default 5; 0: no pacing);
* ``ca_file``: a PEM file of the CAs to trust instead of the system's (a private service);
* ``distance``: ``"module:function"``, the licensed library's own comparison.

A licence without ``key`` or ``endpoint`` is :class:`NotLicensed`; an endpoint that is not
``https`` (plain ``http`` is accepted for loopback only) or holds a user name, a query or a
fragment, an option out of range, a ``library``/``distance`` that cannot be imported or a
``ca_file`` that cannot be read are a :class:`~hashmatch.errors.ConfigurationError` when the
vendor is built.

:meth:`distance` is None (only the service compares, and its measure belongs to the licensed
algorithm) unless the licence names the library's own comparison in ``options.distance``:
it is then called with the two hashes as bytes and must return a number; ``max_distance``
in the licence is then the licensee's threshold (the default, 0, keeps only equal hashes).

:attr:`~PhotoDnaCloudVendor.version` is derived, never fetched (the Match answer carries no
version): ``"PhotoDNA Cloud API v1.0"`` (the API version in the request path), plus
``"; library <module> <__version__>"`` when a library is configured (``(no __version__)``
when the module declares none).

The key goes into one request header and nowhere else: not into a log record, an error,
a repr or the URL. Requests go through :class:`httpx.Client` with ``trust_env=False`` (no
proxy or ``.netrc`` from the environment), certificate verification on, no redirects
followed, and ``https`` required unless the endpoint is on this machine (loopback).
Nothing here logs a hash that was queried.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import importlib
import json
import logging
import math
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from hashmatch.errors import ConfigurationError, FileNotHashable, NotLicensed, VendorError
from hashmatch.perceptual import PerceptualVendor, VendorLicence, VendorMatch
from hashmatch.urls import is_loopback

__all__ = [
    "API_VERSION",
    "HASH_BYTES",
    "KEY_HEADER",
    "STATUS_OK",
    "HashOutcome",
    "PhotoDnaCloudVendor",
]

log = logging.getLogger(__name__)

API_VERSION = "v1.0"
"""The Match API version, part of the request path."""
HASH_BYTES = 144
"""The length of a PhotoDNA hash (192 characters of base64)."""
KEY_HEADER = "Ocp-Apim-Subscription-Key"
"""The header that carries the subscription key."""
STATUS_OK = 3000

_STATUS_MEANINGS: dict[int, str] = {
    3000: "OK",
    3002: "invalid or missing request parameter",
    3004: "unknown scenario or unhandled error while processing the request",
    3206: "the content could not be verified as an image",
    3208: "image size out of the allowed range",
}
_UNNAMED_SOURCE = "(source not named)"
_NO_ENTRY_ID = "(no id given)"


@dataclass(frozen=True, slots=True, kw_only=True)
class HashOutcome:
    """What the service said of one hash: its hits, or why it gave none."""

    matches: tuple[VendorMatch, ...] = ()
    problem: str | None = None
    """Why this hash has no answer (a status other than OK, a malformed value); None if it has."""
    status: int | None = None
    """The service's ``Status.Code`` (the HTTP status for an HTTP 400 without one; None: the
    hash was never sent)."""
    tracking_id: str | None = None
    """The service's ``TrackingId`` for the request, for the licensee's support case."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Options:
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    max_wait: float = 60.0
    requests_per_second: float = 5.0
    ca_file: str | None = None
    distance: str | None = None

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> _Options:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigurationError(
                f"licence for {PhotoDnaCloudVendor.NAME}: unknown option(s) "
                f"{', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = {}
        for name in ("timeout", "backoff", "max_wait", "requests_per_second"):
            if name in options:
                values[name] = _number(name, options[name], positive=name == "timeout")
        if "retries" in options:
            retries = _number("retries", options["retries"], positive=False)
            if retries != int(retries):
                raise ConfigurationError(
                    f"licence for {PhotoDnaCloudVendor.NAME}: option retries must be a whole "
                    f"number, not {options['retries']!r}"
                )
            values["retries"] = int(retries)
        for name in ("ca_file", "distance"):
            if options.get(name):
                values[name] = options[name]
        return cls(**values)


def _number(name: str, text: str, *, positive: bool) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "a number above 0" if positive else "a number, 0 or more"
        raise ConfigurationError(
            f"licence for {PhotoDnaCloudVendor.NAME}: option {name} must be {need}, not {text!r}"
        )
    return value


def _match_url(licence: VendorLicence) -> str:
    """The Match operation's URL, after checking the endpoint is one the key may go to."""
    name = PhotoDnaCloudVendor.NAME
    endpoint = (licence.endpoint or "").strip()
    parts = urlsplit(endpoint)
    where = f"licence for {name}: endpoint {endpoint!r}"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"{where} is not an https:// URL of the service's API root")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{where} holds a user name or password: put the key in 'key'")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{where} must be the API root, with no query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{where} is plain http: the subscription key would cross the network "
            "unencrypted; use https (http is accepted only for a service on this machine)"
        )
    return f"{endpoint.rstrip('/')}/photodna/{API_VERSION}/Match"


def _load(spec: str, what: str) -> tuple[Callable[..., Any], str, str | None]:
    """The function ``module:function`` names, its module's name and ``__version__``."""
    name = PhotoDnaCloudVendor.NAME
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name.strip() or not attribute.strip():
        raise ConfigurationError(f"licence for {name}: {what} {spec!r} is not 'module:function'")
    module_name, attribute = module_name.strip(), attribute.strip()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"licence for {name}: {what} module {module_name!r} cannot be imported ({exc}); "
            "is the licensed library installed in this environment?"
        ) from exc
    target: Any = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise ConfigurationError(
            f"licence for {name}: {what} {spec!r}: module {module_name!r} has no function "
            f"{attribute!r}"
        )
    version = getattr(module, "__version__", None)
    return target, module_name, None if version is None else str(version)


def _decode(value: str) -> bytes:
    """The bytes of a hash given as base64 text; ValueError if it is not one."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a PhotoDNA hash: not base64 text") from exc
    if len(raw) != HASH_BYTES:
        raise ValueError(f"not a PhotoDNA hash: {len(raw)} bytes, not {HASH_BYTES}")
    return raw


def _retry_after(header: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _flag_match(flag: object, tracking_id: str | None) -> VendorMatch:
    if not isinstance(flag, dict):
        raise VendorError(
            f"the {PhotoDnaCloudVendor.NAME} service answered wrongly: a match flag is not "
            "an object"
        )
    info: dict[str, str] = {}
    advanced = flag.get("AdvancedInfo") or []
    if isinstance(advanced, list):
        for pair in advanced:
            if isinstance(pair, dict) and isinstance(pair.get("Key"), str):
                info.setdefault(pair["Key"], _text(pair.get("Value")))
    labels = dict(info)
    violations = flag.get("Violations")
    if violations is not None:
        labels["Violations"] = _text(violations)
    if tracking_id is not None:
        labels["TrackingId"] = tracking_id
    distance: float | None = None
    if "Distance" in info:
        try:
            distance = float(info["Distance"])
        except ValueError:
            distance = None
    source = flag.get("Source")
    return VendorMatch(
        list_name=_text(source) if source not in (None, "") else _UNNAMED_SOURCE,
        entry=info.get("MatchId") or _NO_ENTRY_ID,
        distance=distance,
        labels=labels,
    )


def _outcome(answer: object) -> HashOutcome:
    """A Match answer's meaning for its one hash."""
    wrong = f"the {PhotoDnaCloudVendor.NAME} service answered wrongly"
    if not isinstance(answer, dict) or not isinstance(answer.get("Status"), dict):
        raise VendorError(f"{wrong}: no Status in the answer")
    code = answer["Status"].get("Code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise VendorError(f"{wrong}: Status.Code is not a number")
    tracking = answer.get("TrackingId")
    tracking_id = tracking if isinstance(tracking, str) and tracking else None
    if code != STATUS_OK:
        description = answer["Status"].get("Description")
        meaning = description if isinstance(description, str) and description else None
        meaning = meaning or _STATUS_MEANINGS.get(code, "a status this client does not know")
        reason = f"the service answered status {code} ({meaning}) for this hash"
        if tracking_id is not None:
            reason += f" [tracking id {tracking_id}]"
        return HashOutcome(problem=reason, status=code, tracking_id=tracking_id)
    is_match = answer.get("IsMatch")
    if not isinstance(is_match, bool):
        raise VendorError(f"{wrong}: IsMatch is not true or false")
    if not is_match:
        return HashOutcome(status=code, tracking_id=tracking_id)
    details = answer.get("MatchDetails")
    flags = details.get("MatchFlags") if isinstance(details, dict) else None
    if flags is not None and not isinstance(flags, list):
        raise VendorError(f"{wrong}: MatchFlags is not a list")
    matches = tuple(_flag_match(flag, tracking_id) for flag in flags or [])
    if not matches:  # a match the service did not detail is still a hit
        labels = {} if tracking_id is None else {"TrackingId": tracking_id}
        matches = (VendorMatch(list_name=_UNNAMED_SOURCE, entry=_NO_ENTRY_ID, labels=labels),)
    return HashOutcome(matches=matches, status=code, tracking_id=tracking_id)


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class PhotoDnaCloudVendor(PerceptualVendor):
    """The licensee's PhotoDNA library (hashing) and PhotoDNA Cloud subscription (matching).

    Built from a licence with a ``key`` and an ``endpoint`` (:class:`NotLicensed` without
    either); ``library`` is needed for :meth:`compute` only. The module docstring describes
    the request, the answers, the retries and the options.
    """

    NAME: ClassVar[str] = "photodna-cloud"
    DESCRIPTION: ClassVar[str] = (
        "PhotoDNA Cloud Match service: hashes from the licensee's own PhotoDNA library, "
        "hashes (never images) sent to the licensee's subscription"
    )
    VERSION: ClassVar[str] = "1"
    FINGERPRINT: ClassVar[str] = "pdna"
    FINGERPRINT_ALIASES: ClassVar[tuple[str, ...]] = ("photodna",)
    DEFAULT_MAX_DISTANCE: ClassVar[float] = 0.0

    def __init__(self, licence: VendorLicence) -> None:
        super().__init__(licence)
        table = f"[{self.NAME}] table of the perceptual licences file"
        if not licence.key.strip():
            raise NotLicensed(f'no PhotoDNA Cloud subscription key: set key = "..." in the {table}')
        if not (licence.endpoint or "").strip():
            raise NotLicensed(
                f'no PhotoDNA Cloud endpoint: set endpoint = "https://..." (the service\'s '
                f"API root) in the {table}"
            )
        self._key = licence.key.strip()
        if not all(" " < char < "\x7f" for char in self._key):
            # httpx would put the value in its exception message: refuse it here, unseen
            raise ConfigurationError(
                f"licence for {self.NAME}: the key holds characters that cannot go into an "
                "HTTP header (spaces, control or non-ASCII characters); the key is not shown"
            )
        self._url = _match_url(licence)
        self._options = _Options.parse(licence.options)
        self._library: Callable[..., Any] | None = None
        self._library_version = ""
        if licence.library:
            self._library, module, version = _load(licence.library, "library")
            self._library_version = f"; library {module} {version or '(no __version__)'}"
        self._compare: Callable[..., Any] | None = None
        if self._options.distance:
            self._compare, _, _ = _load(self._options.distance, "option distance")
        self._verify: ssl.SSLContext | bool = True
        if self._options.ca_file:
            try:
                self._verify = ssl.create_default_context(cafile=self._options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"licence for {self.NAME}: option ca_file "
                    f"{self._options.ca_file!r} cannot be read: {exc}"
                ) from exc
        self._client: httpx.Client | None = None
        self._last_request: float | None = None
        self._sleep: Callable[[float], None] = time.sleep
        self.problems: dict[int, str] = {}
        """After :meth:`match`: the position of each hash that got no answer, and why."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.licence.endpoint!r}, "
            f"library={self.licence.library!r}, key='***')"
        )

    __str__ = __repr__

    @property
    def version(self) -> str:
        """``PhotoDNA Cloud API v1.0``, and the library module's ``__version__`` if one."""
        return f"PhotoDNA Cloud API {API_VERSION}{self._library_version}"

    # -- hashing, on this machine ---------------------------------------------------------

    def compute(self, path: Path) -> str | None:
        """The file's PhotoDNA hash (base64), from the licensee's library; see the module."""
        if self._library is None:
            raise NotLicensed(
                "PhotoDNA hashes are computed by the licensed PhotoDNA library on the "
                'examiner\'s machine, and none is configured: set library = "module:function" '
                f"in the [{self.NAME}] table of the perceptual licences file"
            )
        if not path.is_file():
            raise FileNotHashable("not a regular file", source=str(path))
        try:
            value = self._library(str(path))
        except (ValueError, OSError) as exc:
            raise FileNotHashable(
                f"the PhotoDNA library rejected it: {exc}", source=str(path)
            ) from exc
        except Exception as exc:
            raise VendorError(f"the PhotoDNA library failed: {type(exc).__name__}: {exc}") from exc
        if value is None:
            return None
        return self._canonical(value)

    def _canonical(self, value: object) -> str:
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            if len(raw) != HASH_BYTES:
                raise VendorError(
                    f"the PhotoDNA library returned {len(raw)} bytes, not a {HASH_BYTES}-byte hash"
                )
        elif isinstance(value, str):
            try:
                raw = _decode(value)
            except ValueError as exc:
                raise VendorError(f"the PhotoDNA library returned {exc}") from None
        else:
            raise VendorError(
                f"the PhotoDNA library returned a {type(value).__name__}, not bytes or base64 text"
            )
        return base64.b64encode(raw).decode("ascii")

    def distance(self, a: str, b: str) -> float | None:
        """The licensed library's comparison (``options.distance``), or None without one."""
        if self._compare is None:
            return None
        first, second = _decode(a), _decode(b)
        try:
            result = self._compare(first, second)
        except ValueError:
            raise
        except Exception as exc:
            raise VendorError(
                f"the PhotoDNA library's comparison failed: {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(result, bool) or not isinstance(result, int | float):
            raise VendorError(
                f"the PhotoDNA library's comparison returned a {type(result).__name__}, "
                "not a number"
            )
        return float(result)

    # -- matching, at the service ---------------------------------------------------------

    def match(self, hashes: Sequence[str]) -> list[list[VendorMatch]]:
        """Each hash's hits in the service's lists, in order; :attr:`problems` says which
        hashes got no answer."""
        return [list(outcome.matches) for outcome in self.match_outcomes(hashes)]

    def match_problems(self) -> Mapping[int, str]:
        """Why hashes of the last :meth:`match` call got no answer, by position."""
        return dict(self.problems)

    def match_outcomes(self, hashes: Sequence[str]) -> list[HashOutcome]:
        """Each hash's :class:`HashOutcome`, in order: its hits, or why it has none.

        Raises :class:`VendorError` when the service is unusable (the key refused, not a
        Match service, no answer after the retries).
        """
        outcomes: list[HashOutcome] = []
        self.problems = {}
        for index, value in enumerate(hashes):
            try:
                raw = _decode(value)
            except ValueError as exc:
                outcome = HashOutcome(problem=f"{exc}; not sent")
            else:
                outcome = _outcome(self._ask(base64.b64encode(raw).decode("ascii"), index))
            if outcome.problem is not None:
                self.problems[index] = outcome.problem
                log.warning(
                    "%s: hash %d of %d has no answer: %s",
                    self.NAME,
                    index + 1,
                    len(hashes),
                    outcome.problem,
                )
            outcomes.append(outcome)
        return outcomes

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self._options.timeout),
                verify=self._verify,
                trust_env=False,
                follow_redirects=False,
            )
        return self._client

    def _pace(self) -> None:
        rate = self._options.requests_per_second
        if rate > 0 and self._last_request is not None:
            wait = 1.0 / rate - (time.monotonic() - self._last_request)
            if wait > 0:
                self._sleep(wait)
        self._last_request = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        return min(self._options.backoff * 2.0**attempt, self._options.max_wait)

    def _ask(self, value: str, index: int) -> object:
        """The service's JSON answer for one hash, after the retries it takes."""
        client = self._http()
        body = {"DataRepresentation": "Hash", "Value": value}
        attempts = self._options.retries + 1
        reason = ""
        for attempt in range(attempts):
            self._pace()
            wait: float | None = None
            try:
                response = client.post(self._url, json=body, headers={KEY_HEADER: self._key})
            except httpx.TimeoutException:
                reason = f"no answer within {self._options.timeout:g} s"
            except httpx.TransportError as exc:
                if _tls_failure(exc):
                    raise VendorError(
                        f"the TLS certificate of {self.licence.endpoint} could not be verified; "
                        f"if the service uses a private CA, name it in option ca_file "
                        f"({type(exc).__name__})"
                    ) from exc
                reason = f"connection failed: {type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == httpx.codes.OK:
                    try:
                        return response.json()
                    except ValueError:
                        raise VendorError(
                            f"the {self.NAME} service answered wrongly: the answer is not JSON"
                        ) from None
                if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
                    raise VendorError(
                        f"the {self.NAME} service refused the licence (HTTP {status}): check "
                        f"the subscription key in the [{self.NAME}] licence, and its quota"
                    )
                if status == httpx.codes.BAD_REQUEST:  # about this request: its hash
                    try:
                        answer = response.json()
                    except ValueError:
                        answer = None
                    if isinstance(answer, dict) and isinstance(answer.get("Status"), dict):
                        return answer
                    return {"Status": {"Code": 400, "Description": "HTTP 400 Bad Request"}}
                if status == httpx.codes.TOO_MANY_REQUESTS:
                    reason = "rate limited (HTTP 429)"
                    after = _retry_after(response.headers.get("Retry-After"))
                    if after is not None:
                        wait = min(after, self._options.max_wait)
                elif status >= httpx.codes.INTERNAL_SERVER_ERROR:
                    reason = f"HTTP {status}"
                else:
                    raise VendorError(
                        f"{self._url} is not a PhotoDNA Cloud Match service (HTTP {status}): "
                        f"check the endpoint in the [{self.NAME}] licence"
                    )
            if attempt + 1 == attempts:
                break
            if wait is None:
                wait = self._backoff(attempt)
            log.warning(
                "%s: hash %d: %s; trying again in %.3g s (attempt %d of %d)",
                self.NAME,
                index + 1,
                reason,
                wait,
                attempt + 2,
                attempts,
            )
            self._sleep(wait)
        raise VendorError(
            f"the {self.NAME} service gave no answer after {attempts} attempt"
            f"{'s' if attempts > 1 else ''}: {reason}"
        )
