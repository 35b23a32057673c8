"""hashmatch.signing: Ed25519 keys, detached signatures of any file, SHA256SUMS files."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.errors import Conflict, InputError
from hashmatch.signing import (
    ChecksumStatus,
    SignatureError,
    SignatureStatus,
    canonical_json,
    check_checksums,
    check_file,
    checksum_file_for,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    require_checksum_match,
    require_trusted,
    sign_file,
    signature_path,
    verify_file,
)

CONTENT = b"8ae3352be594f4c2fc4b7d527a79ace1  synthetic/one.bin\n"
SIGNED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(name="key", scope="module")
def _key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(name="other_key", scope="module")
def _other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def trust(*keys: Ed25519PrivateKey) -> dict[str, Ed25519PublicKey]:
    return {key_id(k.public_key()): k.public_key() for k in keys}


@pytest.fixture(name="signed")
def _signed(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "known.md5"
    path.write_bytes(CONTENT)
    sign_file(path, key, "ACME hash team", signed_at=SIGNED_AT)
    return path


def sig_document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(signature_path(path).read_text("utf-8"))
    return document


def write_sig(path: Path, document: dict[str, Any]) -> None:
    signature_path(path).write_text(json.dumps(document), "utf-8")


# -- keys ---------------------------------------------------------------------------------


def test_key_id_is_the_prefix_of_the_sha256_of_the_raw_key(key: Ed25519PrivateKey) -> None:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(key.public_key()) == "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]
    assert key_id(key.public_key()) == "ed25519:56475aa75463474c"


def test_keygen_writes_a_private_key_only_its_owner_reads_and_a_loadable_public_key(
    tmp_path: Path,
) -> None:
    pair = generate_keypair(tmp_path / "acme.2024", "ACME hash team")
    assert pair.private_path == tmp_path / "acme.2024.key"
    assert pair.public_path == tmp_path / "acme.2024.pub"
    assert stat.S_IMODE(pair.private_path.stat().st_mode) == 0o600
    assert pair.public_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    private = load_private_key(pair.private_path)
    public = load_public_key(pair.public_path)
    assert key_id(public) == key_id(private.public_key()) == pair.key_id
    assert pair.publisher == "ACME hash team"


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    first = generate_keypair(tmp_path / "acme", "ACME")
    before = first.private_path.read_bytes()
    with pytest.raises(Conflict, match="never overwrites"):
        generate_keypair(tmp_path / "acme", "ACME")
    assert first.private_path.read_bytes() == before


def test_keygen_with_only_a_stray_pub_file_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "acme.pub").write_text("someone else's key")
    with pytest.raises(Conflict):
        generate_keypair(tmp_path / "acme", "ACME")
    assert not (tmp_path / "acme.key").exists()
    assert (tmp_path / "acme.pub").read_text() == "someone else's key"


@pytest.mark.parametrize("publisher", ["", "   ", "two\nlines", "x" * 201])
def test_keygen_wants_a_one_line_publisher(tmp_path: Path, publisher: str) -> None:
    with pytest.raises(InputError, match="publisher"):
        generate_keypair(tmp_path / "acme", publisher)
    assert list(tmp_path.iterdir()) == []


def _pem_private(key: Any, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return data


def _pem_public(key: Any) -> bytes:
    data: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _pem_public(Ed25519PrivateKey.generate().public_key()), "this is a public key"),
        (
            lambda: _pem_private(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
            "this is an RSA key; hashmatch signs with Ed25519 keys only",
        ),
        (
            lambda: _pem_private(ec.generate_private_key(ec.SECP256R1())),
            "this is an elliptic-curve \\(ECDSA\\) key",
        ),
        (lambda: _pem_private(Ed25519PrivateKey.generate(), b"secret"), "passphrase"),
        (lambda: b"not a key at all\n", "not a PEM private key"),
    ],
    ids=["public", "rsa", "ecdsa", "encrypted", "garbage"],
)
def test_a_wrong_private_key_file_is_refused_by_name(
    tmp_path: Path, make: Any, message: str
) -> None:
    path = tmp_path / "wrong.key"
    path.write_bytes(make())
    with pytest.raises(InputError, match=message) as raised:
        load_private_key(path)
    assert raised.value.source == "wrong.key"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _pem_private(Ed25519PrivateKey.generate()), "this is a private key"),
        (
            lambda: _pem_public(
                rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
            ),
            "this is an RSA key; hashmatch verifies Ed25519 keys only",
        ),
        (lambda: b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a PEM"),
    ],
    ids=["private", "rsa", "garbage"],
)
def test_a_wrong_public_key_is_refused(tmp_path: Path, make: Any, message: str) -> None:
    data = make()
    path = tmp_path / "wrong.pub"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        load_public_key(path)
    with pytest.raises(InputError, match=message):
        load_public_key(data)


def test_a_missing_key_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the key file"):
        load_private_key(tmp_path / "absent.key")


# -- signatures ---------------------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": {"z": "é", "y": [1, 2]}}) == (
        '{"a":{"y":[1,2],"z":"é"},"b":1}'.encode()
    )


def test_a_signed_file_verifies_with_its_key(signed: Path, key: Ed25519PrivateKey) -> None:
    check = verify_file(signed, trust(key))
    assert check.status is SignatureStatus.VALID
    assert check.valid
    assert check.file == "known.md5"
    assert check.key_id == key_id(key.public_key())
    assert check.publisher == "ACME hash team"
    assert check.signed_at == SIGNED_AT
    assert check.sha256 == hashlib.sha256(CONTENT).hexdigest()
    require_trusted(check, "acme")  # does not raise


def test_the_signature_document(signed: Path, key: Ed25519PrivateKey) -> None:
    document = sig_document(signed)
    assert document["format"] == "hashmatch-signature/1"
    assert document["signed_at"] == "2024-05-01T12:00:00Z"
    assert document["subject"] == {
        "name": "known.md5",
        "size": len(CONTENT),
        "sha256": hashlib.sha256(CONTENT).hexdigest(),
    }
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    key.public_key().verify(base64.b64decode(document["signature"]), canonical_json(unsigned))


def test_an_unknown_key_is_untrusted_but_seen_to_be_intact(
    signed: Path, other_key: Ed25519PrivateKey
) -> None:
    check = verify_file(signed, trust(other_key))
    assert check.status is SignatureStatus.UNTRUSTED
    assert "signed and intact" in check.reason
    with pytest.raises(SignatureError, match="which is not trusted for list acme") as raised:
        require_trusted(check, "acme")
    assert "ed25519:56475aa75463474c" in str(raised.value)
    assert raised.value.source == "known.md5"


def test_no_sig_file_is_unsigned(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(CONTENT)
    check = verify_file(path, trust(key))
    assert check.status is SignatureStatus.UNSIGNED
    with pytest.raises(SignatureError) as raised:
        require_trusted(check, "acme")
    assert raised.value.reason == (
        "list acme requires a trusted signature: list.csv has no list.csv.sig"
    )


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "differs from the signed one"),
        (lambda b: bytes([b[0] ^ 0x20]) + b[1:], "differs from the signed one"),
        (lambda b: b + b"\n", "bytes were signed: the file changed after signing"),
        (lambda b: b[:-1], "bytes were signed"),
    ],
    ids=["last-byte", "first-byte", "appended", "truncated"],
)
def test_a_changed_file_is_invalid_and_says_how(
    signed: Path, key: Ed25519PrivateKey, tamper: Any, reason: str
) -> None:
    signed.write_bytes(tamper(CONTENT))
    for trusted in (trust(key), {}):  # whether or not the key is trusted
        check = verify_file(signed, trusted)
        assert check.status is SignatureStatus.INVALID
        assert reason in check.reason
    with pytest.raises(SignatureError, match=r"the signature of known\.md5 is invalid"):
        require_trusted(verify_file(signed, trust(key)), "acme")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("publisher", "Someone Else"),
        ("signed_at", "2030-01-01T00:00:00Z"),
        ("subject", {"name": "other.md5", "size": len(CONTENT), "sha256": "0" * 64}),
    ],
)
def test_an_edited_sig_does_not_verify(
    signed: Path, key: Ed25519PrivateKey, field: str, value: Any
) -> None:
    document = sig_document(signed)
    document[field] = value
    write_sig(signed, document)
    check = verify_file(signed, trust(key))
    assert check.status is SignatureStatus.INVALID
    assert "does not verify" in check.reason


def test_one_flipped_bit_of_the_signature_is_invalid(signed: Path, key: Ed25519PrivateKey) -> None:
    document = sig_document(signed)
    raw = bytearray(base64.b64decode(document["signature"]))
    raw[10] ^= 1
    document["signature"] = base64.b64encode(bytes(raw)).decode()
    write_sig(signed, document)
    assert verify_file(signed, trust(key)).status is SignatureStatus.INVALID


def test_a_renamed_file_with_its_sig_names_the_signed_name(
    signed: Path, key: Ed25519PrivateKey
) -> None:
    renamed = signed.with_name("renamed.md5")
    signed.rename(renamed)
    signature_path(signed).rename(signature_path(renamed))
    check = verify_file(renamed, trust(key))
    assert check.status is SignatureStatus.INVALID
    assert check.reason == "the signature is for a file named 'known.md5', not 'renamed.md5'"


def test_the_digest_the_caller_read_is_the_one_checked(
    signed: Path, key: Ed25519PrivateKey
) -> None:
    good = hashlib.sha256(CONTENT).hexdigest()
    assert verify_file(signed, trust(key), sha256=good.upper()).valid
    other = hashlib.sha256(b"what was really read").hexdigest()
    check = verify_file(signed, trust(key), sha256=other)
    assert check.status is SignatureStatus.INVALID
    assert other in check.reason


def test_a_trust_store_key_that_differs_from_the_carried_one_wins(
    signed: Path, key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    misfiled = {key_id(key.public_key()): other_key.public_key()}
    check = verify_file(signed, misfiled)
    assert check.status is SignatureStatus.INVALID
    assert "carries another key" in check.reason


def test_a_key_id_that_is_not_the_carried_keys_is_invalid(
    signed: Path, key: Ed25519PrivateKey
) -> None:
    document = sig_document(signed)
    document["key_id"] = "ed25519:0000000000000000"
    write_sig(signed, document)
    check = verify_file(signed, trust(key))
    assert check.status is SignatureStatus.INVALID
    assert "is not the id of the key it carries" in check.reason


def _drop(field: str) -> Any:
    return lambda d: {k: v for k, v in d.items() if k != field}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: "{not json", "not JSON"),
        (lambda d: "[]", "not a JSON object"),
        (_drop("signature"), "missing signature"),
        (lambda d: {**d, "extra": 1}, "unexpected extra"),
        (lambda d: {**d, "format": "hashmatch-signature/2"}, "format is"),
        (lambda d: {**d, "signature": "not base64!"}, "signature is not base64"),
        (lambda d: {**d, "signature": "AAAA"}, "signature is 3 bytes, expected 64"),
        (lambda d: {**d, "public_key": "AAAA"}, "public_key is 3 bytes"),
        (lambda d: {**d, "signed_at": "yesterday"}, "signed_at is not an ISO-8601 time"),
        (lambda d: {**d, "signed_at": "2024-05-01T12:00:00"}, "signed_at has no time zone"),
        (lambda d: {**d, "subject": {**d["subject"], "size": -1}}, "subject.size"),
        (lambda d: {**d, "subject": {**d["subject"], "size": True}}, "subject.size"),
        (lambda d: {**d, "subject": {**d["subject"], "sha256": "AB" * 32}}, "subject.sha256"),
        (lambda d: {**d, "subject": "known.md5"}, "subject is not an object"),
        (lambda d: {**d, "publisher": ""}, "publisher is not a non-empty text"),
        (
            lambda d: json.dumps(d)[:-1] + ', "publisher": "again"}',
            "duplicate key 'publisher'",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_malformed_sig_is_invalid_with_the_reason(
    signed: Path, key: Ed25519PrivateKey, edit: Any, reason: str
) -> None:
    edited = edit(sig_document(signed))
    text = edited if isinstance(edited, str) else json.dumps(edited)
    signature_path(signed).write_text(text, "utf-8")
    check = verify_file(signed, trust(key))
    assert check.status is SignatureStatus.INVALID
    assert check.reason.startswith("known.md5.sig is not a valid hashmatch signature: ")
    assert reason in check.reason


def test_a_huge_sig_file_is_not_read(signed: Path, key: Ed25519PrivateKey) -> None:
    signature_path(signed).write_bytes(b" " * (65 * 1024))
    check = verify_file(signed, trust(key))
    assert check.status is SignatureStatus.INVALID
    assert "larger than" in check.reason


def test_signing_again_replaces_the_sig_and_leaves_no_temporary_file(
    signed: Path, key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    sign_file(signed, other_key, "Second signer")
    assert verify_file(signed, trust(other_key)).publisher == "Second signer"
    assert verify_file(signed, trust(key)).status is SignatureStatus.UNTRUSTED
    assert sorted(p.name for p in signed.parent.iterdir()) == ["known.md5", "known.md5.sig"]


def test_signing_a_missing_file_is_an_input_error(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    with pytest.raises(InputError, match="cannot read the file to sign"):
        sign_file(tmp_path / "absent.csv", key, "ACME")
    assert list(tmp_path.iterdir()) == []


@given(
    content=st.binary(max_size=300),
    name=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="/\\"),
        min_size=1,
        max_size=20,
    ).filter(lambda n: n not in (".", "..")),
    flip=st.integers(min_value=0),
)
@example(content=b"", name="empty.csv", flip=0)
@example(content=b"\xef\xbb\xbfMD5\r\n", name="bom crlf.csv", flip=3)
def test_any_file_verifies_and_any_flipped_byte_is_caught(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, name: str, flip: int
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    folder = tmp_path_factory.mktemp("any")
    path = folder / name
    path.write_bytes(content)
    sign_file(path, key, "Prop Publisher é")
    assert verify_file(path, trust(key)).status is SignatureStatus.VALID
    if content:
        at = flip % len(content)
        path.write_bytes(content[:at] + bytes([content[at] ^ 0xFF]) + content[at + 1 :])
        assert verify_file(path, trust(key)).status is SignatureStatus.INVALID


# -- checksum files -----------------------------------------------------------------------


@pytest.fixture(name="listed")
def _listed(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "known list.csv"
    path.write_bytes(CONTENT)
    return path, hashlib.sha256(CONTENT).hexdigest()


@pytest.mark.parametrize(
    "line",
    [
        "{hex}  known list.csv",
        "{hex} *known list.csv",
        "{HEX}  known list.csv",
        "{hex}  ./known list.csv",
        "SHA256 (known list.csv) = {hex}",
        "SHA2-256 (known list.csv) = {hex}",
        "SHA256 (known list.csv) = {b64}",
        "\\{hex}  known\\\\list.csv",
    ],
    ids=["text", "binary", "upper", "dot-slash", "bsd", "bsd-sha2", "bsd-base64", "escaped"],
)
def test_sha256sums_forms_match(listed: tuple[Path, str], line: str) -> None:
    path, digest = listed
    if "\\\\" in line:
        path = path.rename(path.with_name("known\\list.csv"))
    text = line.format(
        hex=digest, HEX=digest.upper(), b64=base64.b64encode(bytes.fromhex(digest)).decode()
    )
    sums = path.with_name("SHA256SUMS")
    other = hashlib.sha256(b"other").hexdigest()
    sums.write_text(
        f"# checksums\n{other}  other.csv\nMD5 ({path.name}) = {'0' * 32}\n{text}\n", "utf-8"
    )
    check = check_checksums(path, digest)
    assert check is not None
    assert check.status is ChecksumStatus.MATCH, check.reason
    assert check.checksum_file == sums
    assert check.expected == digest


def test_a_different_declared_digest_is_a_mismatch(listed: tuple[Path, str]) -> None:
    path, digest = listed
    declared = hashlib.sha256(b"the published list").hexdigest()
    (path.parent / "SHA256SUMS.txt").write_bytes(
        b"\xef\xbb\xbf" + f"{declared} *{path.name}\r\n".encode()
    )
    check = check_checksums(path, digest)
    assert check is not None
    assert check.status is ChecksumStatus.MISMATCH
    assert (check.expected, check.actual) == (declared, digest)
    assert check.reason == (
        f"SHA256SUMS.txt declares SHA-256 {declared} for known list.csv, but the file's is {digest}"
    )
    with pytest.raises(SignatureError, match="refusing a file whose declared checksum"):
        require_checksum_match(check, "acme")


def test_a_checksum_file_without_the_file_is_not_listed(listed: tuple[Path, str]) -> None:
    path, digest = listed
    (path.parent / "sha256sums.txt").write_text(f"{digest}  known-list.csv\n")
    check = check_checksums(path, digest)
    assert check is not None
    assert check.status is ChecksumStatus.NOT_LISTED
    assert check.expected is None
    require_checksum_match(check, "acme")  # not listed is the caller's policy, not an error


def test_no_checksum_file_is_none(listed: tuple[Path, str]) -> None:
    path, digest = listed
    assert checksum_file_for(path) is None
    assert check_checksums(path, digest) is None
    require_checksum_match(None, "acme")


def test_the_files_own_sidecar_wins_and_may_hold_the_digest_alone(
    listed: tuple[Path, str],
) -> None:
    path, digest = listed
    (path.parent / "SHA256SUMS").write_text(f"{'0' * 64}  {path.name}\n")
    sidecar = path.with_name(path.name + ".sha256")
    sidecar.write_text(digest.upper() + "\n")
    assert checksum_file_for(path) == sidecar
    check = check_checksums(path, digest)
    assert check is not None
    assert check.status is ChecksumStatus.MATCH


def test_a_bare_digest_in_a_shared_sums_file_names_no_file(listed: tuple[Path, str]) -> None:
    path, digest = listed
    (path.parent / "SHA256SUMS").write_text(digest + "\n")
    check = check_checksums(path, digest)
    assert check is not None
    assert check.status is ChecksumStatus.NOT_LISTED


def test_a_list_file_called_sha256sums_is_not_its_own_checksum(tmp_path: Path) -> None:
    path = tmp_path / "SHA256SUMS"
    path.write_text("x")
    assert checksum_file_for(path) is None


# -- a file with its signature and checksum file ------------------------------------------


def test_a_signed_checksum_file_vouches_for_the_files_it_lists(
    listed: tuple[Path, str], key: Ed25519PrivateKey
) -> None:
    path, digest = listed
    sums = path.parent / "SHA256SUMS"
    sums.write_text(f"{digest}  {path.name}\n")
    sign_file(sums, key, "NIST-like")
    check = check_file(path, trust(key))
    assert check.signature.status is SignatureStatus.UNSIGNED
    assert check.checksum is not None
    assert check.checksum.status is ChecksumStatus.MATCH
    assert check.checksum_signature is not None
    assert check.checksum_signature.valid
    assert check.trusted
    require_trusted(check, "acme")
    # The same checksum file, signed by a key nobody trusts, vouches for nothing.
    untrusted = check_file(path, {})
    assert not untrusted.trusted
    with pytest.raises(SignatureError, match="SHA256SUMS lists it, but SHA256SUMS is not"):
        require_trusted(untrusted, "acme")


def test_a_valid_signature_does_not_outweigh_a_checksum_mismatch(
    listed: tuple[Path, str], key: Ed25519PrivateKey
) -> None:
    path, _ = listed
    sign_file(path, key, "ACME")
    path.with_name(path.name + ".sha256").write_text("0" * 64 + "\n")
    check = check_file(path, trust(key))
    assert check.signature.valid
    assert not check.trusted
    with pytest.raises(SignatureError, match="declares SHA-256 0000"):
        require_trusted(check, "acme")


def test_check_file_hashes_once_and_reports_size(
    listed: tuple[Path, str], key: Ed25519PrivateKey
) -> None:
    path, digest = listed
    sign_file(path, key, "ACME")
    check = check_file(path, trust(key))
    assert (check.sha256, check.size, check.trusted) == (digest, len(CONTENT), True)
    assert check.checksum is None
    assert check.checksum_signature is None
