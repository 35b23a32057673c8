"""hashmatch.bundle and the ``hashmatch bundle`` commands: build, open, sign, verify."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from hashmatch.bundle import (
    BUNDLE_FORMAT,
    Bundle,
    BundleError,
    BundleManifest,
    BundleSource,
    bundle_from_list_file,
    open_bundle,
    sign_bundle,
    verify_bundle,
    write_bundle,
)
from hashmatch.cli.app import ExitCode
from hashmatch.cli.bundle import bundle_app
from hashmatch.errors import Conflict, IngestError, InputError
from hashmatch.ingest.pipeline import stage_list_file
from hashmatch.model import Purpose
from hashmatch.records import ENTRY_SCHEMA, decode_labels, encode_labels
from hashmatch.registry import default_registry
from hashmatch.signing import SignatureStatus, key_id, sign_file

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "schemas" / "bundle-manifest.schema.json").read_text(
        "utf-8"
    )
)
SOURCES = [f"synthetic-fixture-{n:03d}".encode() for n in range(1, 6)]
MD5 = [hashlib.md5(s).digest() for s in SOURCES]
SHA1 = [hashlib.sha1(s).digest() for s in SOURCES]
SHA256 = [hashlib.sha256(s).digest() for s in SOURCES]
CREATED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

ROWS: list[dict[str, Any]] = [
    {
        "line": 2,
        "md5": MD5[0],
        "sha256": SHA256[0],
        "size": 21,
        "name": "a.jpg",
        "labels": encode_labels(
            {"scheme": "uk", "category": "A", "series": "Synthetic series", "comments": "x"}
        ),
    },
    {
        "line": 3,
        "md5": MD5[1],
        "sha1": SHA1[1],
        "name": "b.jpg",
        "labels": encode_labels({"scheme": "vics-us", "category": "1", "in_series": True}),
    },
    {"line": 5, "sha1": SHA1[2], "size": 21, "labels": encode_labels({"tags": ["t1", "t2"]})},
    {"line": 7, "sha256": SHA256[3], "name": "d, “quoted”.bin"},
    {
        "line": 8,
        "md5": MD5[0],
        "labels": encode_labels({"scheme": "uk", "category": "B", "series": "Synthetic series"}),
    },
]


def entries(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    columns = {field.name: [row.get(field.name) for row in rows] for field in ENTRY_SCHEMA}
    return pa.RecordBatch.from_pydict(columns, schema=ENTRY_SCHEMA)


def write(path: Path, rows: list[dict[str, Any]] = ROWS, **options: Any) -> Path:
    arguments: dict[str, Any] = {
        "list_name": "acme-concern",
        "purpose": Purpose.CONCERN,
        "description": "Synthetic list",
        "created_by": "tester",
        "created_at": CREATED_AT,
        **options,
    }
    return write_bundle(path, [entries(rows[:2]), entries(rows[2:])], **arguments)


def table_rows(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def trusted() -> dict[str, Any]:
    public = key().public_key()
    return {key_id(public): public}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- write and open -----------------------------------------------------------------------


def test_a_bundle_holds_the_entries_and_describes_them(tmp_path: Path) -> None:
    path = write(tmp_path / "acme.hmbundle", version=3)
    assert leftovers(tmp_path) == ["acme.hmbundle"]
    assert leftovers(path) == ["entries.parquet", "manifest.json"]
    bundle = open_bundle(path)
    assert table_rows(bundle.entries_path) == [
        {field.name: row.get(field.name) for field in ENTRY_SCHEMA} for row in ROWS
    ]
    schema = pq.read_schema(bundle.entries_path)
    assert schema.metadata[b"schema"] == b"hashmatch-entries/1"
    assert pq.ParquetFile(bundle.entries_path).metadata.row_group(0).column(0).compression == "ZSTD"
    manifest = bundle.manifest
    assert (manifest.list_name, manifest.purpose, manifest.version) == (
        "acme-concern",
        Purpose.CONCERN,
        3,
    )
    assert manifest.created_at == CREATED_AT
    assert manifest.entries.rows == 5
    assert (manifest.entries.distinct.md5, manifest.entries.distinct.sha1) == (2, 2)
    assert manifest.entries.distinct.sha256 == 2
    assert manifest.entries.sha256 == hashlib.sha256(bundle.entries_path.read_bytes()).hexdigest()
    assert manifest.entries.bytes == bundle.entries_path.stat().st_size
    assert manifest.label_schemes == ("uk", "vics-us")
    assert manifest.free_text_stripped is False
    assert manifest.source is None
    raw = (path / "manifest.json").read_bytes()
    assert bundle.manifest_sha256 == hashlib.sha256(raw).hexdigest()


def test_the_manifest_validates_against_the_published_schema(tmp_path: Path) -> None:
    source = BundleSource(name="list.csv", sha256="ab" * 32, adapter="csv", adapter_version="1")
    for name, options in (("plain", {}), ("full", {"source": source, "version": 7})):
        path = write(tmp_path / f"{name}.hmbundle", **options)
        document = json.loads((path / "manifest.json").read_text("utf-8"))
        jsonschema.validate(document, SCHEMA)
        assert document["format"] == BUNDLE_FORMAT
        assert document["created_at"] == "2024-05-01T12:00:00Z"
        assert document["tool_version"]
    assert document["source"] == {
        "name": "list.csv",
        "sha256": "ab" * 32,
        "adapter": "csv",
        "adapter_version": "1",
    }


def _manifest_document(tmp_path: Path) -> dict[str, Any]:
    path = write(tmp_path / "m.hmbundle")
    document: dict[str, Any] = json.loads((path / "manifest.json").read_text("utf-8"))
    return document


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: {**d, "format": "hashmatch-bundle/2"}, "format is"),
        (lambda d: {**d, "surprise": 1}, "unexpected field surprise"),
        (lambda d: {k: v for k, v in d.items() if k != "created_by"}, "created_by is missing"),
        (lambda d: {**d, "list": {**d["list"], "name": "../etc"}}, "list.name"),
        (lambda d: {**d, "list": {**d["list"], "purpose": "safe"}}, "list.purpose"),
        (lambda d: {**d, "entries": {**d["entries"], "file": "../x.parquet"}}, "entries.file"),
        (lambda d: {**d, "entries": {**d["entries"], "rows": -1}}, "entries.rows is not a count"),
        (lambda d: {**d, "entries": {**d["entries"], "sha256": "AB" * 32}}, "entries.sha256"),
        (lambda d: {**d, "created_at": "2024-05-01T12:00:00"}, "created_at has no time zone"),
        (lambda d: {**d, "free_text_stripped": "no"}, "free_text_stripped"),
        (lambda d: {**d, "label_schemes": "uk"}, "label_schemes"),
        (lambda d: {**d, "version": 0}, "version"),
        (lambda d: {**d, "source": "list.csv"}, "source is not a JSON object"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_code_and_schema_refuse_the_same_bad_manifests(
    tmp_path: Path, edit: Any, reason: str
) -> None:
    document = edit(_manifest_document(tmp_path))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)
    with pytest.raises(BundleError, match=reason):
        BundleManifest.from_json(document)


def test_the_manifest_survives_a_round_trip(tmp_path: Path) -> None:
    document = _manifest_document(tmp_path)
    assert BundleManifest.from_json(document).to_json() == document


def test_free_text_is_stripped_when_asked_and_in_series_kept(tmp_path: Path) -> None:
    bundle = open_bundle(write(tmp_path / "s.hmbundle", strip_free_text=True))
    labels = [decode_labels(row["labels"]) for row in table_rows(bundle.entries_path)]
    assert labels == [
        {"scheme": "uk", "category": "A", "in_series": True},
        {"scheme": "vics-us", "category": "1", "in_series": True},
        {},
        {},
        {"scheme": "uk", "category": "B", "in_series": True},
    ]
    assert bundle.manifest.free_text_stripped is True
    assert bundle.manifest.label_schemes == ("uk", "vics-us")


def test_a_bundle_is_never_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path / "acme.hmbundle")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with pytest.raises(Conflict, match="never overwrites a bundle"):
        write(path, rows=ROWS[:1])
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    empty = tmp_path / "empty.hmbundle"
    empty.mkdir()
    (empty / "keep.txt").write_text("mine")
    with pytest.raises(Conflict):
        write(empty)
    assert leftovers(empty) == ["keep.txt"]
    assert leftovers(tmp_path) == ["acme.hmbundle", "empty.hmbundle"]


def test_a_failure_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    def batches() -> Iterator[pa.RecordBatch]:
        yield entries(ROWS[:2])
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError):
        write_bundle(
            tmp_path / "x.hmbundle",
            batches(),
            list_name="acme",
            purpose=Purpose.CONCERN,
            created_by="tester",
        )
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("batch", "error", "message"),
    [
        (entries([]), BundleError, "no entries to bundle"),
        (entries([{"line": 4, "name": "x"}]), ValueError, "line 4 has no digest"),
        (entries([{"line": 1, "md5": MD5[0], "labels": "[1]"}]), ValueError, "not a JSON object"),
        (pa.record_batch({"md5": ["8ae3"]}), ValueError, "ENTRY_SCHEMA"),
    ],
    ids=["empty", "no-digest", "bad-labels", "records"],
)
def test_what_cannot_be_a_bundle_is_refused_and_leaves_nothing(
    tmp_path: Path, batch: pa.RecordBatch, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        write_bundle(
            tmp_path / "x.hmbundle",
            [batch],
            list_name="acme",
            purpose=Purpose.BENIGN,
            created_by="tester",
        )
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"list_name": "no spaces"}, "is not a list name"),
        ({"created_by": " "}, "created_by is required"),
        ({"version": 0}, "1 or more"),
    ],
)
def test_bad_arguments_are_input_errors(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        write(tmp_path / "x.hmbundle", **options)
    assert leftovers(tmp_path) == []


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_flip_last_byte, "differs from the manifest's"),
        (lambda p: p.write_bytes(p.read_bytes() + b"\0"), "bytes, the manifest says"),
        (lambda p: p.unlink(), "missing: the manifest names entries.parquet"),
    ],
    ids=["one-byte", "appended", "missing"],
)
def test_entries_that_are_not_the_pinned_ones_are_refused(
    tmp_path: Path, tamper: Any, message: str
) -> None:
    path = write(tmp_path / "t.hmbundle")
    tamper(path / "entries.parquet")
    with pytest.raises(BundleError, match=message) as raised:
        open_bundle(path)
    assert raised.value.source == "entries.parquet"


def test_what_is_not_a_bundle_says_so(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        open_bundle(tmp_path)
    (tmp_path / "manifest.json").write_text("{oops")
    with pytest.raises(BundleError, match=r"manifest\.json: not JSON"):
        open_bundle(tmp_path)
    with pytest.raises(BundleError, match="a bundle is a folder"):
        open_bundle(tmp_path / "absent")


def test_a_bundle_opens_from_its_manifest_path_too(tmp_path: Path) -> None:
    path = write(tmp_path / "m.hmbundle")
    assert open_bundle(path / "manifest.json").path == path


# -- signatures ---------------------------------------------------------------------------


def test_a_signed_bundle_verifies(tmp_path: Path) -> None:
    path = write(tmp_path / "s.hmbundle")
    written = sign_bundle(path, key(), "ACME hash team")
    assert written == path / "manifest.json.sig"
    bundle, check = verify_bundle(path, trusted())
    assert isinstance(bundle, Bundle)
    assert check.status is SignatureStatus.VALID
    assert check.publisher == "ACME hash team"
    assert check.sha256 == bundle.manifest_sha256
    assert verify_bundle(path, {})[1].status is SignatureStatus.UNTRUSTED


def test_an_unsigned_bundle_is_unsigned(tmp_path: Path) -> None:
    path = write(tmp_path / "u.hmbundle")
    assert verify_bundle(path, trusted())[1].status is SignatureStatus.UNSIGNED


def test_an_edited_manifest_is_invalid(tmp_path: Path) -> None:
    path = write(tmp_path / "e.hmbundle")
    sign_bundle(path, key(), "ACME")
    manifest = path / "manifest.json"
    manifest.write_text(manifest.read_text("utf-8").replace("Synthetic list", "Synthetic lisT"))
    bundle, check = verify_bundle(path, trusted())
    assert bundle.manifest.description == "Synthetic lisT"
    assert check.status is SignatureStatus.INVALID
    assert "changed after signing" in check.reason


def test_swapped_entries_break_a_signed_bundle(tmp_path: Path) -> None:
    path = write(tmp_path / "a.hmbundle")
    other = write(tmp_path / "b.hmbundle", rows=ROWS[:3])
    sign_bundle(path, key(), "ACME")
    (path / "entries.parquet").write_bytes((other / "entries.parquet").read_bytes())
    with pytest.raises(BundleError, match="the entries changed after the bundle was made"):
        verify_bundle(path, trusted())
    with pytest.raises(BundleError):
        sign_bundle(path, key(), "ACME")  # nothing is signed over entries it does not pin


# -- from a list file ---------------------------------------------------------------------


def test_a_list_file_becomes_the_bundle_an_ingest_would_hold(tmp_path: Path) -> None:
    source = tmp_path / "known.md5"
    source.write_text(
        f"{MD5[0].hex()}  dir/a.bin\n"
        f"{MD5[1].hex()[:31]}  short.bin\n"
        f"{hashlib.md5(b'').hexdigest()}  empty.bin\n"
        f"{MD5[2].hex().upper()} *c.bin\n"
    )
    build = bundle_from_list_file(
        source,
        tmp_path / "out" / "known.hmbundle",
        registry=default_registry(),
        list_name="known",
        purpose=Purpose.CONCERN,
        created_by="tester",
    )
    assert build.warning_count == 1
    assert build.warnings[0].line == 2
    assert (build.counts.entries, build.counts.empty_file) == (2, 1)
    manifest = build.bundle.manifest
    assert manifest.source == BundleSource(
        name="known.md5",
        sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        adapter="md5sum",
        adapter_version="1",
    )
    staged = stage_list_file(source, staging_dir=tmp_path / "staging", registry=default_registry())
    assert table_rows(build.bundle.entries_path) == table_rows(staged.path)
    assert leftovers(tmp_path / "out") == ["known.hmbundle"]
    # and the bundle's entries load through the same pipeline, detected by their content
    again = stage_list_file(
        build.bundle.entries_path, staging_dir=tmp_path / "staging", registry=default_registry()
    )
    assert again.adapter == "hashmatch-bundle"
    assert [r["md5"] for r in table_rows(again.path)] == [MD5[0], MD5[2]]
    assert [r["name"] for r in table_rows(again.path)] == ["a.bin", "c.bin"]


def test_a_list_file_with_no_entry_makes_no_bundle(tmp_path: Path) -> None:
    source = tmp_path / "empty.md5"
    source.write_text(f"{hashlib.md5(b'').hexdigest()}  empty.bin\n")
    with pytest.raises(IngestError, match="no usable digest"):
        bundle_from_list_file(
            source,
            tmp_path / "x.hmbundle",
            registry=default_registry(),
            list_name="x",
            purpose=Purpose.CONCERN,
            created_by="tester",
        )
    assert leftovers(tmp_path) == ["empty.md5"]


def test_an_existing_bundle_is_refused_before_the_list_is_read(tmp_path: Path) -> None:
    (tmp_path / "x.hmbundle").mkdir()
    with pytest.raises(Conflict):
        bundle_from_list_file(
            tmp_path / "not-even-there.md5",
            tmp_path / "x.hmbundle",
            registry=default_registry(),
            list_name="x",
            purpose=Purpose.CONCERN,
            created_by="tester",
        )


# -- the CLI ------------------------------------------------------------------------------


@pytest.fixture(name="cli")
def _cli() -> Any:
    app = typer.Typer()
    app.add_typer(bundle_app, name="bundle")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["bundle", *args])
        assert result.exit_code == code, result.output
        return str(result.output)

    return run


def test_cli_keygen_create_sign_verify(tmp_path: Path, cli: Any) -> None:
    source = tmp_path / "known.md5"
    source.write_text("".join(f"{d.hex()}  f{n}.bin\n" for n, d in enumerate(MD5)))
    stem = tmp_path / "acme"
    output = cli("keygen", str(stem), "--publisher", "ACME [team]")
    assert "ACME [team]" in output  # user text is not taken for markup
    assert "ed25519:" in output
    cli("keygen", str(stem), "--publisher", "ACME", code=ExitCode.CONFLICT)

    bundle = tmp_path / "known.hmbundle"
    output = cli(
        "create",
        str(source),
        "--list",
        "known",
        "--purpose",
        "concern",
        "--out",
        str(bundle),
        "--strip-free-text",
        "--created-by",
        "tester",
        "--list-version",
        "3",
    )
    assert open_bundle(bundle).manifest.version == 3
    assert "5 entries" in output
    assert "free text stripped" in output

    output = cli("verify", str(bundle), code=ExitCode.INPUT)
    assert "signature: unsigned" in output
    assert "list known (concern), 5 entries" in output

    cli("sign", str(bundle), "--key", f"{stem}.key", "--publisher", "ACME")
    output = cli("verify", str(bundle), "--trust", f"{stem}.pub")
    assert "signature: valid" in output
    assert "publisher 'ACME'" in output
    output = cli("verify", str(bundle), code=ExitCode.INPUT)
    assert "untrusted" in output
    assert "--trust" in output


def test_cli_signs_and_verifies_any_file_and_its_checksums(tmp_path: Path, cli: Any) -> None:
    stem = tmp_path / "keys" / "acme"
    stem.parent.mkdir()
    cli("keygen", str(stem), "--publisher", "ACME")
    listed = tmp_path / "list.csv"
    listed.write_bytes(b"MD5\n" + MD5[0].hex().encode() + b"\n")
    digest = hashlib.sha256(listed.read_bytes()).hexdigest()
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{digest}  list.csv\n")
    cli("sign", str(sums), "--key", f"{stem}.key", "--publisher", "ACME")
    output = cli("verify", str(listed), "--trust", f"{stem}.pub")
    assert "signature: unsigned" in output
    assert "checksum (SHA256SUMS): match" in output
    assert "checksum file signature: valid" in output

    sums.write_text(f"{'0' * 64}  list.csv\n")
    output = cli("verify", str(listed), "--trust", f"{stem}.pub", code=ExitCode.INPUT)
    assert "mismatch" in output

    cli("sign", str(listed), "--key", f"{stem}.key", "--publisher", "ACME")
    assert (tmp_path / "list.csv.sig").is_file()


def test_cli_refuses_a_public_key_for_signing(tmp_path: Path, cli: Any) -> None:
    cli("keygen", str(tmp_path / "k"), "--publisher", "ACME")
    (tmp_path / "f.txt").write_text("x")
    output = cli(
        "sign",
        str(tmp_path / "f.txt"),
        "--key",
        str(tmp_path / "k.pub"),
        "--publisher",
        "ACME",
        code=ExitCode.INPUT,
    )
    assert "this is a public key" in output
    assert not (tmp_path / "f.txt.sig").exists()


def test_cli_help_teaches_with_examples(cli: Any) -> None:
    for command in ("keygen", "create", "sign", "verify"):
        assert "Example" in cli(command, "--help")


def test_a_tampered_manifest_fails_cli_verify(tmp_path: Path, cli: Any) -> None:
    path = write(tmp_path / "t.hmbundle")
    sign_file(path / "manifest.json", key(), "ACME")
    (tmp_path / "k.pub").write_bytes(
        key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    manifest = path / "manifest.json"
    manifest.write_text(manifest.read_text("utf-8").replace('"tester"', '"mallory"'))
    output = cli("verify", str(path), "--trust", str(tmp_path / "k.pub"), code=ExitCode.INPUT)
    assert "signature: invalid" in output
