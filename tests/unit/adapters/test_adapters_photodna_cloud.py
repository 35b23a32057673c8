"""The PhotoDNA-Cloud-shaped vendor against the fake Match service and the fake library.

Everything is synthetic: the "library" is a SHA-256 stretched to 144 bytes (not PhotoDNA),
the service's list holds values derived from strings like ``synthetic-fixture-001``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import hashlib
import ipaddress
import logging
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_pdna_library
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hashmatch_adapters.photodna_cloud import (
    HASH_BYTES,
    KEY_HEADER,
    PhotoDnaCloudVendor,
)
from photodna_server import MATCH_PATH, Flag, PhotoDnaFake

from hashmatch.errors import (
    ConfigurationError,
    FileNotHashable,
    HashmatchError,
    NotLicensed,
    VendorError,
)
from hashmatch.perceptual import VendorLicence, VendorMatch
from hashmatch.registry import default_registry

KEY = "synthetic-subscription-key-" + hashlib.sha256(b"synthetic-fixture-key").hexdigest()[:24]
H = [fake_pdna_library.synthetic_hash(f"synthetic-fixture-{n:03d}") for n in range(1, 6)]
FAST = {"retries": "3", "backoff": "0.001", "timeout": "2", "requests_per_second": "0"}
LIBRARY = "fake_pdna_library:hash_file"


def licence(endpoint: str | None, *, key: str = KEY, **options: Any) -> VendorLicence:
    return VendorLicence(
        vendor="photodna-cloud",
        key=key,
        endpoint=endpoint,
        library=options.pop("library", None),
        options={**FAST, **{k: str(v) for k, v in options.items()}},
    )


@pytest.fixture(name="service")
def _service() -> Iterator[PhotoDnaFake]:
    fake = PhotoDnaFake(KEY)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


class Waits:
    """Stands in for ``time.sleep``: records the waits, waits no time."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)


@pytest.fixture(name="make")
def _make() -> Iterator[Any]:
    """Build vendors that record their waits (``vendor.waits``); all closed afterwards."""
    made: list[PhotoDnaCloudVendor] = []

    def make(endpoint: str | None, **options: Any) -> PhotoDnaCloudVendor:
        vendor = PhotoDnaCloudVendor(licence(endpoint, **options))
        waits = Waits()
        vendor._sleep = waits
        vendor.waits = waits
        made.append(vendor)
        return vendor

    try:
        yield make
    finally:
        for vendor in made:
            vendor.close()


# -- matching -------------------------------------------------------------------------------


def test_a_listed_hash_is_a_hit_with_the_flags_details(service: PhotoDnaFake, make: Any) -> None:
    service.add(H[0], Flag(source="SyntheticList", match_id="syn-42", violations=["SYN-A"]))
    [hits] = make(service.url).match([H[0]])
    assert hits == [
        VendorMatch(
            list_name="SyntheticList",
            entry="syn-42",
            distance=None,
            labels={
                "MatchId": "syn-42",
                "Violations": '["SYN-A"]',
                "TrackingId": "SYN_photodna_000001",
            },
        )
    ]


def test_an_unlisted_hash_has_no_hits(service: PhotoDnaFake, make: Any) -> None:
    service.add(H[0])
    vendor = make(service.url)
    assert vendor.match([H[1]]) == [[]]
    assert vendor.problems == {}


def test_the_request_is_a_hash_in_the_public_shape(service: PhotoDnaFake, make: Any) -> None:
    make(service.url).match([H[0]])
    [request] = service.requests
    assert request.method == "POST"
    assert request.path == MATCH_PATH
    assert request.content_type.startswith("application/json")
    assert (request.representation, request.value) == ("Hash", H[0])
    assert request.key_ok


def test_a_batch_is_answered_in_order(service: PhotoDnaFake, make: Any) -> None:
    service.add(H[0], Flag(match_id="syn-1"))
    service.add(H[2], Flag(source="ListA", match_id="syn-3"), Flag(source="ListB", match_id="x"))
    service.add(H[3], Flag(match_id="syn-4", distance=12.5))
    results = make(service.url).match([H[0], H[1], H[2], H[3], H[1]])
    assert [[(m.list_name, m.entry, m.distance) for m in hits] for hits in results] == [
        [("SyntheticSource", "syn-1", None)],
        [],
        [("ListA", "syn-3", None), ("ListB", "x", None)],
        [("SyntheticSource", "syn-4", 12.5)],
        [],
    ]
    assert [r.value for r in service.requests] == [H[0], H[1], H[2], H[3], H[1]]


def test_a_match_the_service_does_not_detail_is_still_a_hit(
    service: PhotoDnaFake, make: Any
) -> None:
    service.add(H[0], Flag(source="", match_id=""))
    [[hit]] = make(service.url).match([H[0]])
    assert (hit.list_name, hit.entry) == ("(source not named)", "(no id given)")


def test_an_empty_batch_sends_nothing(service: PhotoDnaFake, make: Any) -> None:
    assert make(service.url).match([]) == []
    assert service.requests == []


# -- per-hash problems ----------------------------------------------------------------------


def test_an_invalid_input_status_is_reported_for_that_hash_only(
    service: PhotoDnaFake, make: Any
) -> None:
    service.add(H[0])
    service.add(H[2])
    service.statuses[H[1]] = (3002, "Invalid or missing request parameter(s)")
    vendor = make(service.url)
    results = vendor.match([H[0], H[1], H[2]])
    assert [len(hits) for hits in results] == [1, 0, 1]
    assert list(vendor.problems) == [1]
    assert "status 3002 (Invalid or missing request parameter(s))" in vendor.problems[1]
    assert vendor.match_problems() == vendor.problems  # what the engine reads
    outcome = vendor.match_outcomes([H[1]])[0]
    assert (outcome.status, outcome.matches) == (3002, ())
    assert outcome.tracking_id is not None
    assert outcome.tracking_id in (outcome.problem or "")


def test_an_undocumented_status_is_a_problem_not_a_crash(service: PhotoDnaFake, make: Any) -> None:
    service.statuses[H[0]] = (3999, "")
    vendor = make(service.url)
    assert vendor.match([H[0], H[1]]) == [[], []]
    assert "status 3999 (a status this client does not know)" in vendor.problems[0]


def test_a_value_that_is_not_a_hash_is_a_problem_and_is_never_sent(
    service: PhotoDnaFake, make: Any
) -> None:
    short = base64.b64encode(b"\x01" * 20).decode()
    vendor = make(service.url)
    assert vendor.match(["not base64!", short, H[0]]) == [[], [], []]
    assert set(vendor.problems) == {0, 1}
    assert "not base64" in vendor.problems[0]
    assert f"20 bytes, not {HASH_BYTES}" in vendor.problems[1]
    assert [r.value for r in service.requests] == [H[0]]


def test_problems_are_logged_without_the_hash(
    service: PhotoDnaFake, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    service.statuses[H[1]] = (3004, "Unknown scenario")
    with caplog.at_level(logging.DEBUG):
        make(service.url).match([H[0], H[1]])
    assert "hash 2 of 2 has no answer" in caplog.text
    assert H[0] not in caplog.text
    assert H[1] not in caplog.text


def test_an_http_400_is_a_problem_with_that_hash(service: PhotoDnaFake, make: Any) -> None:
    service.add(H[2])
    service.fail(1, 400)
    documented = {"Status": {"Code": 3002, "Description": "Invalid parameter", "Exception": None}}
    service.fail(1, 400, documented)
    vendor = make(service.url)
    assert [len(hits) for hits in vendor.match([H[0], H[1], H[2]])] == [0, 0, 1]
    assert "status 400 (HTTP 400 Bad Request)" in vendor.problems[0]
    assert "status 3002 (Invalid parameter)" in vendor.problems[1]
    assert len(service.requests) == 3  # not retried


# -- rate limits, back-off, time-outs -------------------------------------------------------


def test_a_429_is_waited_out_as_retry_after_says(service: PhotoDnaFake, make: Any) -> None:
    service.add(H[0])
    service.throttle(2, retry_after="3")
    vendor = make(service.url)
    assert len(vendor.match([H[0]])[0]) == 1
    assert vendor.waits.seen == [3.0, 3.0]
    assert [r.status for r in service.requests] == [429, 429, 200]


def test_retry_after_is_capped_and_may_be_a_date(service: PhotoDnaFake, make: Any) -> None:
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), True)
    service.throttle(1, retry_after="9999")
    service.throttle(1, retry_after=later)
    vendor = make(service.url, max_wait="7")
    assert vendor.match([H[0]]) == [[]]
    assert vendor.waits.seen[0] == 7.0
    assert 5 < vendor.waits.seen[1] <= 7.0


@pytest.mark.parametrize("retry_after", [None, "soon", "", "nan"])
def test_a_429_without_a_usable_retry_after_backs_off(
    service: PhotoDnaFake, make: Any, retry_after: str | None
) -> None:
    service.throttle(1, retry_after=retry_after)
    vendor = make(service.url, backoff="0.25")
    vendor.match([H[0]])
    assert vendor.waits.seen == [0.25]


def test_a_retry_after_in_the_past_means_now(service: PhotoDnaFake, make: Any) -> None:
    earlier = email.utils.format_datetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), True)
    service.throttle(1, retry_after=earlier)
    vendor = make(service.url)
    vendor.match([H[0]])
    assert vendor.waits.seen == [0.0]


def test_a_real_short_retry_after_is_honoured(service: PhotoDnaFake) -> None:
    service.add(H[0])
    service.throttle(1, retry_after="0.3")
    vendor = PhotoDnaCloudVendor(licence(service.url))
    try:
        started = time.monotonic()
        assert len(vendor.match([H[0]])[0]) == 1
        assert time.monotonic() - started >= 0.3
    finally:
        vendor.close()


def test_server_errors_back_off_exponentially_then_succeed(
    service: PhotoDnaFake, make: Any
) -> None:
    service.add(H[0])
    service.fail(1, 500)
    service.fail(2, 503)
    vendor = make(service.url, backoff="0.5", retries="4")
    assert len(vendor.match([H[0]])[0]) == 1
    assert vendor.waits.seen == [0.5, 1.0, 2.0]
    assert [r.status for r in service.requests] == [500, 503, 503, 200]


def test_back_off_is_capped(service: PhotoDnaFake, make: Any) -> None:
    service.fail(4, 503)
    vendor = make(service.url, backoff="1", retries="4", max_wait="3")
    vendor.match([H[0]])
    assert vendor.waits.seen == [1.0, 2.0, 3.0, 3.0]


def test_server_errors_past_the_retries_are_a_vendor_error(
    service: PhotoDnaFake, make: Any
) -> None:
    service.fail(10, 500)
    vendor = make(service.url, retries="2")
    with pytest.raises(VendorError, match=r"no answer after 3 attempts: HTTP 500"):
        vendor.match([H[0]])
    assert len(service.requests) == 3


def test_a_time_out_is_retried(service: PhotoDnaFake, make: Any) -> None:
    service.add(H[0])
    service.stall(1, 3.0)
    vendor = make(service.url, timeout="0.3")
    started = time.monotonic()
    assert len(vendor.match([H[0]])[0]) == 1
    assert time.monotonic() - started < 2.5
    assert len(vendor.waits.seen) == 1


def test_time_outs_past_the_retries_are_a_vendor_error(service: PhotoDnaFake, make: Any) -> None:
    service.stall(5, 3.0)
    vendor = make(service.url, timeout="0.2", retries="1")
    with pytest.raises(VendorError, match=r"after 2 attempts: no answer within 0\.2 s"):
        vendor.match([H[0]])


def test_no_service_listening_is_a_vendor_error(make: Any) -> None:
    vendor = make("http://127.0.0.1:9", retries="1")
    with pytest.raises(VendorError, match="connection failed"):
        vendor.match([H[0]])
    assert len(vendor.waits.seen) == 1


def test_requests_are_paced(service: PhotoDnaFake, make: Any) -> None:
    vendor = make(service.url, requests_per_second="4")
    vendor.match([H[0], H[1]])
    [wait] = vendor.waits.seen
    assert 0.1 < wait <= 0.25


# -- the service unusable -------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_a_licence_problem_without_the_key(
    service: PhotoDnaFake, make: Any, status: int
) -> None:
    if status == 403:
        service.fail(1, 403)
        vendor = make(service.url)
    else:
        vendor = make(service.url, key="synthetic-wrong-key-0001")
    with pytest.raises(VendorError) as caught:
        vendor.match([H[0], H[1]])
    message = str(caught.value)
    assert f"refused the licence (HTTP {status})" in message
    assert "subscription key" in message
    assert KEY not in message
    assert "synthetic-wrong-key-0001" not in message
    assert len(service.requests) == 1  # not retried, and the batch stops


def test_a_wrong_path_is_a_vendor_error_about_the_endpoint(
    service: PhotoDnaFake, make: Any
) -> None:
    vendor = make(service.url + "/elsewhere")
    with pytest.raises(VendorError, match=r"not a PhotoDNA Cloud Match service \(HTTP 404\)"):
        vendor.match([H[0]])


def test_an_answer_that_is_not_json_is_a_vendor_error(service: PhotoDnaFake, make: Any) -> None:
    service.garble(1)
    with pytest.raises(VendorError, match="answered wrongly: the answer is not JSON"):
        make(service.url).match([H[0]])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"IsMatch": true}', "no Status in the answer"),
        (b'{"Status": {"Code": "3000"}, "IsMatch": false}', "Status.Code is not a number"),
        (b'{"Status": {"Code": 3000}, "IsMatch": "yes"}', "IsMatch is not true or false"),
        (
            b'{"Status": {"Code": 3000}, "IsMatch": true, "MatchDetails": {"MatchFlags": {}}}',
            "MatchFlags is not a list",
        ),
        (
            b'{"Status": {"Code": 3000}, "IsMatch": true, "MatchDetails": {"MatchFlags": [1]}}',
            "a match flag is not an object",
        ),
    ],
)
def test_an_answer_not_in_the_documented_shape_is_a_vendor_error(
    service: PhotoDnaFake, make: Any, body: bytes, expected: str
) -> None:
    service.garble(1, body)
    with pytest.raises(VendorError, match=f"answered wrongly: {expected}"):
        make(service.url).match([H[0]])


def test_the_environment_s_proxy_is_not_used(
    service: PhotoDnaFake, make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    service.add(H[0])
    assert len(make(service.url, retries="0").match([H[0]])[0]) == 1


# -- TLS ------------------------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "synthetic-test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_certificates_are_verified(tmp_path: Path, make: Any) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with PhotoDnaFake(KEY, tls=context) as service:
        service.add(H[0])
        assert service.url.startswith("https://")
        with pytest.raises(VendorError, match="could not be verified"):
            make(service.url).match([H[0]])
        trusting = make(service.url, ca_file=str(cert))
        assert len(trusting.match([H[0]])[0]) == 1


def test_an_unreadable_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ca_file"):
        PhotoDnaCloudVendor(licence("https://127.0.0.1:9", ca_file=str(tmp_path / "missing.pem")))


# -- the licence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://photodna.example.org",
        "http://10.1.2.3:8080/",
        "ftp://photodna.example.org",
        "photodna.example.org",
        "https://user:secret@photodna.example.org",
        "https://photodna.example.org/?x=1",
    ],
)
def test_unusable_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ConfigurationError, match="endpoint") as caught:
        PhotoDnaCloudVendor(licence(endpoint))
    assert not isinstance(caught.value, NotLicensed)
    assert "secret" not in str(caught.value) or "user name or password" in str(caught.value)


@pytest.mark.parametrize(
    "endpoint",
    ["https://photodna.example.org", "http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"],
)
def test_https_or_loopback_endpoints_are_accepted(endpoint: str) -> None:
    PhotoDnaCloudVendor(licence(endpoint)).close()


def test_the_match_url_is_under_the_api_root(service: PhotoDnaFake, make: Any) -> None:
    make(service.url + "/").match([H[0]])
    assert service.requests[0].path == MATCH_PATH


def test_no_key_is_not_licensed() -> None:
    with pytest.raises(NotLicensed, match=r'set key = "\.\.\." in the \[photodna-cloud\]'):
        PhotoDnaCloudVendor(licence("https://photodna.example.org", key="  "))


@pytest.mark.parametrize("key", ["synthetic-k\u00e9y-0001", "synthetic key 0001", "synthetic\nkey"])
def test_a_key_that_cannot_go_in_a_header_is_refused_unseen(key: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot go into an HTTP header") as caught:
        PhotoDnaCloudVendor(licence("https://photodna.example.org", key=key))
    assert "synthetic" not in str(caught.value)


def test_a_key_with_surrounding_whitespace_is_sent_trimmed(
    service: PhotoDnaFake, make: Any
) -> None:
    make(service.url, key=f"  {KEY}\n").match([H[0]])
    assert service.requests[0].key_ok


def test_no_endpoint_is_not_licensed() -> None:
    with pytest.raises(NotLicensed, match=r"set endpoint = "):
        PhotoDnaCloudVendor(licence(None))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"retries": "two"}, "retries must be a number"),
        ({"retries": "1.5"}, "retries must be a whole number"),
        ({"timeout": "0"}, "timeout must be a number above 0"),
        ({"backoff": "-1"}, "backoff must be a number, 0 or more"),
        ({"max_wait": "inf"}, "max_wait must be"),
        ({"retires": "2"}, "unknown option"),
    ],
)
def test_bad_options_are_refused(options: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        PhotoDnaCloudVendor(licence("https://photodna.example.org", **options))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("fake_pdna_library", "is not 'module:function'"),
        ("no_such_module_synthetic:hash_file", "cannot be imported"),
        ("fake_pdna_library:no_such_function", "has no function"),
        ("fake_pdna_library:__version__", "has no function"),
    ],
)
def test_an_unusable_library_is_a_configuration_error(spec: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        PhotoDnaCloudVendor(licence("https://photodna.example.org", library=spec))


def test_the_vendor_is_registered_by_entry_point() -> None:
    assert default_registry().vendor("photodna-cloud") is PhotoDnaCloudVendor
    assert PhotoDnaCloudVendor.FINGERPRINT == "pdna"


# -- hashing through the licensed library ---------------------------------------------------


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("function", ["hash_file", "hash_file_text"])
def test_compute_goes_through_the_library(tmp_path: Path, function: str) -> None:
    vendor = PhotoDnaCloudVendor(
        licence("https://photodna.example.org", library=f"fake_pdna_library:{function}")
    )
    first = _file(tmp_path, "a.bin", b"synthetic-fixture-001")
    second = _file(tmp_path, "b.bin", b"synthetic-fixture-002")
    before = (first.read_bytes(), first.stat().st_mtime_ns)
    value = vendor.compute(first)
    assert value == base64.b64encode(fake_pdna_library.hash_file(str(first)) or b"").decode()
    assert len(base64.b64decode(value)) == HASH_BYTES
    assert vendor.compute(first) == value
    assert vendor.compute(second) != value
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin"]


def test_computed_hashes_match_at_the_service(
    tmp_path: Path, service: PhotoDnaFake, make: Any
) -> None:
    path = _file(tmp_path, "a.bin", b"synthetic-fixture-003")
    vendor = make(service.url, library=LIBRARY)
    service.add(vendor.compute(path), Flag(match_id="syn-3"))
    assert [m.entry for m in vendor.match([vendor.compute(path)])[0]] == ["syn-3"]


def test_compute_without_a_library_is_not_licensed(tmp_path: Path) -> None:
    vendor = PhotoDnaCloudVendor(licence("https://photodna.example.org"))
    with pytest.raises(NotLicensed) as caught:
        vendor.compute(_file(tmp_path, "a.bin", b"synthetic-fixture-001"))
    message = str(caught.value)
    assert "computed by the licensed PhotoDNA library on the examiner's machine" in message
    assert 'library = "module:function"' in message


def test_a_file_the_library_rejects_is_not_hashable(tmp_path: Path) -> None:
    vendor = PhotoDnaCloudVendor(licence("https://photodna.example.org", library=LIBRARY))
    empty = _file(tmp_path, "empty.bin", b"")
    with pytest.raises(FileNotHashable, match="rejected it: empty file") as caught:
        vendor.compute(empty)
    assert caught.value.source == str(empty)
    with pytest.raises(FileNotHashable, match="not a regular file"):
        vendor.compute(tmp_path)
    with pytest.raises(FileNotHashable, match="not a regular file"):
        vendor.compute(tmp_path / "missing.bin")


def test_a_kind_the_library_does_not_hash_is_none(tmp_path: Path) -> None:
    vendor = PhotoDnaCloudVendor(licence("https://photodna.example.org", library=LIBRARY))
    assert vendor.compute(_file(tmp_path, "a.skip", b"synthetic-fixture-001")) is None


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("broken", "library failed: RuntimeError: licence dongle not found"),
        ("wrong_length", "returned 10 bytes"),
        ("hamming", "library failed: TypeError"),  # takes two arguments, is given one
        ("not_base64", "returned not a PhotoDNA hash: not base64 text"),
    ],
)
def test_a_failing_library_is_a_vendor_error(tmp_path: Path, function: str, expected: str) -> None:
    vendor = PhotoDnaCloudVendor(
        licence("https://photodna.example.org", library=f"fake_pdna_library:{function}")
    )
    with pytest.raises(VendorError, match=expected):
        vendor.compute(_file(tmp_path, "a.bin", b"synthetic-fixture-001"))


# -- version and distance -------------------------------------------------------------------


def test_the_version_names_the_api_and_the_library() -> None:
    plain = PhotoDnaCloudVendor(licence("https://photodna.example.org"))
    assert plain.version == "PhotoDNA Cloud API v1.0"
    with_library = PhotoDnaCloudVendor(licence("https://photodna.example.org", library=LIBRARY))
    assert (
        with_library.version == "PhotoDNA Cloud API v1.0; library fake_pdna_library 0.0-synthetic"
    )
    no_version = PhotoDnaCloudVendor(licence("https://photodna.example.org", library="os:getcwd"))
    assert no_version.version.endswith("library os (no __version__)")


def test_distance_is_none_without_the_library_s_comparison() -> None:
    vendor = PhotoDnaCloudVendor(licence("https://photodna.example.org"))
    assert vendor.distance(H[0], H[1]) is None


def test_distance_uses_the_library_s_comparison() -> None:
    vendor = PhotoDnaCloudVendor(
        licence("https://photodna.example.org", distance="fake_pdna_library:hamming")
    )
    assert vendor.distance(H[0], H[0]) == 0.0
    expected = fake_pdna_library.hamming(base64.b64decode(H[0]), base64.b64decode(H[1]))
    assert vendor.distance(H[0], H[1]) == float(expected) > 0
    with pytest.raises(ValueError, match="not a PhotoDNA hash"):
        vendor.distance(H[0], "AAAA")


def test_a_comparison_that_returns_no_number_is_a_vendor_error() -> None:
    vendor = PhotoDnaCloudVendor(
        licence("https://photodna.example.org", distance="fake_pdna_library:word_distance")
    )
    with pytest.raises(VendorError, match="returned a str, not a number"):
        vendor.distance(H[0], H[1])


def test_a_comparison_that_fails_is_a_vendor_error() -> None:
    vendor = PhotoDnaCloudVendor(
        licence("https://photodna.example.org", distance="fake_pdna_library:synthetic_hash")
    )
    with pytest.raises(VendorError, match="comparison failed: TypeError"):
        vendor.distance(H[0], H[1])


# -- the key stays secret -------------------------------------------------------------------


def test_the_key_is_never_logged_shown_or_put_in_errors(
    service: PhotoDnaFake, make: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    service.add(H[0])
    service.throttle(1, retry_after="0")
    service.fail(1, 503)
    errors: list[HashmatchError] = []
    with contextlib.ExitStack() as stack:
        for name in (None, "httpx", "httpcore", "hashmatch_adapters"):
            stack.enter_context(caplog.at_level(logging.DEBUG, logger=name))
        vendor = make(service.url, library=LIBRARY)
        vendor.match([H[0], H[1]])
        service.fail(10, 500)
        for call in (
            lambda: vendor.match([H[0]]),
            lambda: make(service.url, key=KEY + "-wrong").match([H[0]]),
            lambda: vendor.compute(_file(tmp_path, "e.bin", b"")),
            lambda: PhotoDnaCloudVendor(licence("http://photodna.example.org")),
        ):
            try:
                call()
            except HashmatchError as exc:
                errors.append(exc)
    assert len(errors) == 4
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    shown = [
        caplog.text,
        *(r.getMessage() for r in caplog.records),
        *(repr(r.__dict__) for r in caplog.records),
        repr(vendor),
        str(vendor),
        repr(vendor.licence),
        *(f"{e!s} {e!r} {e.__cause__!r}" for e in errors),
        repr(service.requests),
    ]
    for text in shown:
        assert KEY not in text
    assert KEY_HEADER not in caplog.text
    assert all(r.key_sent for r in service.requests)


def test_the_key_is_sent_only_in_its_header(service: PhotoDnaFake, make: Any) -> None:
    make(service.url).match([H[0]])
    [request] = service.requests
    assert request.key_ok
    assert KEY not in request.path
    assert KEY not in str(request.value)
