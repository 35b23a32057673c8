"""``hashmatch bundle ...``: make signing keys, build, sign and verify list bundles.

Mounted by :mod:`hashmatch.cli.app` as ``bundle``. Each command parses its options, calls
one function of :mod:`hashmatch.signing` or :mod:`hashmatch.bundle`, and renders the
result; those modules (and pyarrow with them) are imported when a command runs, so that
``--help`` answers at once.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from hashmatch.cli.app import ExitCode, err, handled, out
from hashmatch.model import Purpose

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hashmatch.signing import ChecksumCheck, SignatureCheck

__all__ = ["bundle_app"]

bundle_app = typer.Typer(
    help=(
        "Sign list files and build signed list bundles.\n\n"
        "A publisher makes a key once ('bundle keygen'), then signs what it distributes: "
        "any list file ('bundle sign FILE' writes FILE.sig beside it) or a bundle "
        "('bundle create' then 'bundle sign DIR'). Whoever loads the list checks it with "
        "'bundle verify' and the publisher's .pub file."
    ),
    no_args_is_help=True,
)

_STATUS_STYLE = {
    "valid": "green",
    "invalid": "bold red",
    "untrusted": "yellow",
    "unsigned": "yellow",
    "match": "green",
    "mismatch": "bold red",
    "not_listed": "yellow",
}


@bundle_app.command("keygen")
@handled
def keygen(
    stem: Annotated[
        Path,
        typer.Argument(help="Where to write the keys: STEM.key (secret) and STEM.pub (public)."),
    ],
    publisher: Annotated[
        str, typer.Option("--publisher", help="Who the key signs for (an agency, a team).")
    ],
) -> None:
    """Make an Ed25519 signing key pair. Existing key files are never overwritten.

    Keep STEM.key secret (it is written readable by you only); give STEM.pub to
    everyone who loads your lists, so they can trust it.

    Example: hashmatch bundle keygen keys/acme-lists --publisher "ACME hash team"
    """
    from hashmatch.signing import generate_keypair

    pair = generate_keypair(stem, publisher)
    out.print(f"key id [bold]{pair.key_id}[/] for {escape(pair.publisher)}", highlight=False)
    out.print(f"  private key: {escape(str(pair.private_path))} (keep it secret)", highlight=False)
    out.print(f"  public key:  {escape(str(pair.public_path))} (hand it out)", highlight=False)


@bundle_app.command("create")
@handled
def create(
    source_file: Annotated[
        Path, typer.Argument(help="The list file, in any format 'hashmatch formats' shows.")
    ],
    list_name: Annotated[
        str, typer.Option("--list", help="The list's name: letters, digits, '.', '_', '-'.")
    ],
    purpose: Annotated[
        Purpose,
        typer.Option(
            "--purpose",
            help="'concern': material of concern. 'benign': known ordinary files (NSRL ...).",
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="The bundle folder to create; default: ./LIST.hmbundle."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="Format of the list file; default: detect."),
    ] = None,
    strip_free_text: Annotated[
        bool,
        typer.Option(
            "--strip-free-text",
            help="Leave out free-text labels (series names, comments, tags, member names); "
            "an entry of a series still says it is in one.",
        ),
    ] = False,
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    version: Annotated[
        int | None,
        typer.Option(
            "--list-version", min=1, help="Your version number of the list, if it has one."
        ),
    ] = None,
    created_by: Annotated[
        str | None,
        typer.Option("--created-by", help="Who makes the bundle; default: HASHMATCH_OPERATOR."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail on the first malformed record instead of skipping it."),
    ] = False,
) -> None:
    """Build a bundle folder (manifest.json + entries.parquet) from a list file.

    The list file is read exactly as 'hashmatch ingest' reads it: malformed records
    are skipped with a warning and zero-length-file digests dropped. Sign the bundle
    afterwards with 'hashmatch bundle sign'.

    Example: hashmatch bundle create known.json --list acme --purpose concern --strip-free-text
    """
    from hashmatch.bundle import BUNDLE_SUFFIX, bundle_from_list_file
    from hashmatch.config import Settings
    from hashmatch.registry import default_registry

    build = bundle_from_list_file(
        source_file,
        out_dir if out_dir is not None else Path(list_name + BUNDLE_SUFFIX),
        registry=default_registry(),
        fmt=fmt,
        list_name=list_name,
        purpose=purpose,
        description=description,
        created_by=created_by or Settings().operator,
        strip_free_text=strip_free_text,
        version=version,
        strict=strict,
    )
    manifest = build.bundle.manifest
    entries = manifest.entries
    out.print(
        f"bundle {escape(str(build.bundle.path))}: list [bold]{escape(manifest.list_name)}[/] "
        f"({manifest.purpose.value}), {entries.rows} entries",
        highlight=False,
    )
    out.print(
        f"  distinct digests: md5 {entries.distinct.md5}, sha1 {entries.distinct.sha1}, "
        f"sha256 {entries.distinct.sha256}; free text "
        f"{'stripped' if manifest.free_text_stripped else 'kept'}"
    )
    if build.warning_count:
        err.print(f"[yellow]{build.warning_count} warnings[/], the first ones:")
        for warning in build.warnings[:10]:
            err.print(f"  {escape(warning.render())}", highlight=False)
    out.print(
        f"next: hashmatch bundle sign {escape(str(build.bundle.path))} --key KEY.key "
        "--publisher NAME",
        highlight=False,
    )


@bundle_app.command("export")
@handled
def export(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help="The list to export.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The bundle folder to write.")],
    list_version: Annotated[
        int | None,
        typer.Option("--list-version", help="Version number; default: the serving one.", min=1),
    ] = None,
    strip_free_text: Annotated[
        bool,
        typer.Option(
            "--strip-free-text",
            help="Leave out free text (series names, comments, tags); flags stay.",
        ),
    ] = False,
) -> None:
    """Write a version of a list held here as a bundle, to sign and share.

    Example: hashmatch bundle export local-gradings --out share.hmbundle --strip-free-text
    """
    from hashmatch.cli.app import _service

    with _service() as service:
        written = service.export_bundle(
            list_name, out_dir, number=list_version, strip_free_text=strip_free_text
        )
    out.print(f"bundle written: {escape(str(written))}", highlight=False)
    out.print("sign it with 'hashmatch bundle sign' before you share it")


@bundle_app.command("sign")
@handled
def sign(
    path: Annotated[
        Path,
        typer.Argument(help="A bundle folder (its manifest is signed), or any file."),
    ],
    key: Annotated[Path, typer.Option("--key", help="Your private key (the .key file).")],
    publisher: Annotated[
        str, typer.Option("--publisher", help="Who vouches for the file (shown to verifiers).")
    ],
) -> None:
    """Sign a bundle, or any list file, with your private key.

    For a bundle folder the signature is DIR/manifest.json.sig (the manifest pins the
    entries by their SHA-256); for a file it is FILE.sig beside it. Send the .sig with
    what it signs. An earlier signature is replaced.

    Examples: hashmatch bundle sign acme-concern.hmbundle --key acme.key --publisher ACME

              hashmatch bundle sign SHA256SUMS --key acme.key --publisher ACME
    """
    from hashmatch.bundle import MANIFEST_FILE, sign_bundle
    from hashmatch.signing import load_private_key, sign_file

    private_key = load_private_key(key)
    if path.is_dir() or path.name == MANIFEST_FILE:
        written = sign_bundle(path, private_key, publisher)
    else:
        written = sign_file(path, private_key, publisher)
    out.print(f"wrote {escape(str(written))}", highlight=False)


@bundle_app.command("verify")
@handled
def verify(
    path: Annotated[Path, typer.Argument(help="A bundle folder, or any list file.")],
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust",
            help="A publisher's public key (.pub) to trust; repeat for several. "
            "Without one, a signature can be found intact but not trusted.",
        ),
    ] = None,
) -> None:
    """Check a bundle's or a list file's signature (and a SHA256SUMS beside a file).

    Exits 0 only when a trusted key vouches for it: directly (FILE.sig or the bundle's
    manifest.json.sig), or through a checksum file (SHA256SUMS, FILE.sha256) that lists
    the file and is itself signed. Otherwise it exits 2 and says why.

    Example: hashmatch bundle verify acme-concern.hmbundle --trust acme.pub
    """
    from hashmatch.bundle import verify_bundle
    from hashmatch.signing import (
        SignatureStatus,
        check_file,
        key_id,
        load_public_key,
    )

    keys = [load_public_key(p) for p in trust or []]
    trusted: dict[str, Ed25519PublicKey] = {key_id(k): k for k in keys}
    if path.is_dir():
        bundle, signature = verify_bundle(path, trusted)
        manifest = bundle.manifest
        out.print(
            f"bundle {escape(str(bundle.path))}: list [bold]{escape(manifest.list_name)}[/] "
            f"({manifest.purpose.value}), {manifest.entries.rows} entries, made "
            f"{_when(manifest.created_at)} by {escape(manifest.created_by)}",
            highlight=False,
        )
        if manifest.source is not None:
            out.print(
                f"  from {escape(manifest.source.name)} ({escape(manifest.source.adapter)}), "
                f"sha256 {manifest.source.sha256}",
                highlight=False,
            )
        out.print("  entries.parquet matches the manifest")
        _print_signature(signature)
        vouched = signature.valid
    else:
        check = check_file(path, trusted)
        out.print(
            f"file {escape(check.file)}: {check.size} bytes, sha256 {check.sha256}",
            highlight=False,
        )
        _print_signature(check.signature)
        if check.checksum is not None:
            _print_checksum(check.checksum)
        if check.checksum_signature is not None:
            _print_signature(check.checksum_signature, label="  checksum file signature")
        vouched = check.trusted
        signature = check.signature
    if not vouched:
        if signature.status is SignatureStatus.UNTRUSTED and not trust:
            err.print("not vouched for: trust the publisher's key with --trust KEY.pub")
        else:
            err.print("[bold red]not vouched for[/] by a trusted key")
        raise typer.Exit(ExitCode.INPUT)


def _print_signature(check: SignatureCheck, *, label: str = "signature") -> None:
    style = _STATUS_STYLE.get(check.status.value, "")
    line = f"{label}: [{style}]{check.status.value}[/]"
    if check.key_id is not None:
        line += f", key {check.key_id}, publisher {escape(repr(check.publisher))}"
    if check.signed_at is not None:
        line += f", signed {_when(check.signed_at)}"
    out.print(line, highlight=False)
    out.print(f"  {escape(check.reason)}", highlight=False)


def _print_checksum(check: ChecksumCheck) -> None:
    style = _STATUS_STYLE.get(check.status.value, "")
    out.print(
        f"checksum ({escape(check.checksum_file.name)}): [{style}]{check.status.value}[/]",
        highlight=False,
    )
    out.print(f"  {escape(check.reason)}", highlight=False)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
