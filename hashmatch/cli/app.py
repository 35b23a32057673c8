"""The ``hashmatch`` command line: parse, call one method of the service, render.

Exit codes (:class:`ExitCode`) are part of the contract with examiners' scripts. The
service (and with it numpy, pyarrow and SQLAlchemy) is imported when a command runs, not
when the module loads, so that ``--help`` answers at once.
"""

from __future__ import annotations

import enum
import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hashmatch._version import __version__
from hashmatch.errors import (
    Cancelled,
    Conflict,
    ExchangeError,
    HashmatchError,
    IngestError,
    InputError,
    NotFound,
    SnapshotError,
    StoreError,
    VettingError,
)
from hashmatch.model import ListInfo, ListVersionInfo, Purpose, UpdateMode

if TYPE_CHECKING:
    from hashmatch.config import Settings
    from hashmatch.service import CheckResult, Service
    from hashmatch.service import Progress as ServiceProgress

__all__ = ["ExitCode", "app", "main"]

P = ParamSpec("P")
R = TypeVar("R")

# Off a terminal (a pipe, a log, a script), lines are not wrapped at 80 columns.
_WIDE = 200
out = Console(width=None if sys.stdout.isatty() else _WIDE)
err = Console(stderr=True, width=None if sys.stderr.isatty() else _WIDE)


class ExitCode(enum.IntEnum):
    """What the process exit status means."""

    OK = 0
    ERROR = 1
    """An unexpected failure (a bug: please report it)."""
    INPUT = 2
    """Bad input or usage: a file that cannot be read, an unknown format, a wrong option."""
    NOT_FOUND = 3
    """A named list, version or run does not exist."""
    CONFLICT = 4
    """The thing to create exists already."""
    INGEST = 5
    """An ingest failed; the previous version still serves."""
    SNAPSHOT = 6
    """A snapshot could not be built, opened or published."""
    STORE = 7
    """The catalog or verdict store failed."""
    VETTING = 8
    """A list file was refused: unsigned where a signature is required, signed by an
    untrusted key, a bad signature, or a checksum that does not match."""
    DIFFER = 9
    """'compare': the two runs do not agree (the differences are printed)."""
    TAMPERED = 10
    """'audit verify': a record of the audit trail was edited, deleted or reordered."""
    REMOTE = 11
    """A list exchange failed after its retries (or refused the credentials); every page
    fetched is kept, and the next fetch goes on from there."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C; nothing half-done was committed."""


_EXIT_CODES: tuple[tuple[type[HashmatchError], ExitCode], ...] = (
    (Cancelled, ExitCode.INTERRUPTED),
    (ExchangeError, ExitCode.REMOTE),
    (VettingError, ExitCode.VETTING),
    (InputError, ExitCode.INPUT),
    (NotFound, ExitCode.NOT_FOUND),
    (Conflict, ExitCode.CONFLICT),
    (IngestError, ExitCode.INGEST),
    (SnapshotError, ExitCode.SNAPSHOT),
    (StoreError, ExitCode.STORE),
)


def exit_code_for(error: HashmatchError) -> ExitCode:
    """The exit code of an error class (the most specific match wins)."""
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return ExitCode.ERROR


app = typer.Typer(
    name="hashmatch",
    help=(
        "Match file digests against vetted lists of known material and known software.\n\n"
        "hashmatch reads digests and metadata only, never file content. It grades the files "
        "that are on a list, so nobody has to look at them again, and leaves the rest as the "
        "review queue. A match means 'equal to a digest a named source graded'; 'unknown' "
        "never means clean.\n\n"
        "Start with 'hashmatch demo', then: 'lists add', 'ingest', 'check'."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
lists_app = typer.Typer(
    help="Create lists, see and compare their versions, roll back, set policies and trust keys.",
    no_args_is_help=True,
)
snapshot_app = typer.Typer(help="See or rebuild the lookup snapshot.", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
app.add_typer(snapshot_app, name="snapshot")

_state: dict[str, Path | None] = {"home": None}


def _version(value: bool) -> None:
    if value:
        out.print(f"hashmatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Data directory (catalog, list versions, snapshots). Overrides HASHMATCH_HOME.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _state["home"] = home


def _settings(home: Path | None = None) -> Settings:
    from hashmatch.config import Settings

    chosen = home or _state["home"]
    return Settings(home=chosen) if chosen is not None else Settings()


def _service(settings: Settings | None = None) -> Service:
    from hashmatch.service import Service

    return Service(settings or _settings())


def handled(command: Callable[P, R]) -> Callable[P, R]:
    """Turn hashmatch errors into ``error: file:line: reason`` and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except HashmatchError as exc:
            err.print(f"[bold red]error:[/] {escape(exc.render())}", highlight=False)
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            err.print("interrupted: nothing half-done was committed")
            raise typer.Exit(ExitCode.INTERRUPTED) from None

    return wrapper


@contextmanager
def _progress() -> Iterator[ServiceProgress]:
    """A progress bar on a terminal (files, bytes, rate, time left); silence elsewhere."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    from hashmatch.service import Progress as ServiceProgress

    tasks: dict[str, int] = {}

    def bytes_read(name: str, done: int, total: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total or None)
        bar.update(tasks[name], completed=done)  # type: ignore[arg-type]

    def stage(message: str) -> None:
        if err.is_terminal:
            bar.console.print(f"[dim]{message}...[/]")

    with bar:
        yield ServiceProgress(bytes_read=bytes_read, stage=stage)


# -- lists -------------------------------------------------------------------------------


@lists_app.command("add")
@handled
def lists_add(
    name: Annotated[str, typer.Argument(help="A short name: letters, digits, '.', '_', '-'.")],
    purpose: Annotated[
        Purpose,
        typer.Option(
            "--purpose",
            help="'concern': material of concern (matches are 'known'). "
            "'benign': known ordinary files such as NSRL (matches alone are 'known_benign').",
        ),
    ],
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
) -> None:
    """Create an empty list. Load entries into it with 'hashmatch ingest'.

    Example: hashmatch lists add demo-concern --purpose concern
    """
    with _service() as service:
        info = service.add_list(name, purpose, description)
    out.print(f"list [bold]{info.name}[/] created ({info.purpose.value})")


@lists_app.command("list")
@handled
def lists_list() -> None:
    """Show every list with its serving version."""
    with _service() as service:
        lists = service.lists()
    if not lists:
        out.print("no lists yet: create one with 'hashmatch lists add NAME --purpose concern'")
        return
    table = Table("list", "purpose", "serving version", "created", "by", "description")
    for info in lists:
        table.add_row(
            info.name,
            info.purpose.value,
            "-" if info.active_version is None else str(info.active_version),
            info.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            info.created_by,
            info.description,
        )
    out.print(table)


@lists_app.command("show")
@handled
def lists_show(name: Annotated[str, typer.Argument(help="The list.")]) -> None:
    """Show a list's policy, trusted keys and versions (counts, warnings, who and when)."""
    with _service() as service:
        info = service.catalog.get_list(name)
        keys = service.trusted_keys(name)
        versions = service.versions(name)
    out.print(f"[bold]{escape(info.name)}[/] ({info.purpose.value}): {_policy_text(info)}")
    for key in keys:
        out.print(f"  trusts {key.key_id} ({escape(key.publisher)}), added by {key.added_by}")
    if not versions:
        out.print(f"list {name} has no versions yet: load one with 'hashmatch ingest {name} FILE'")
        return
    table = Table(
        "version",
        "serving",
        "mode",
        "source",
        "source sha256",
        "entries",
        "md5",
        "sha1",
        "sha256",
        "dropped",
        "warnings",
        "loaded",
    )
    for v in versions:
        table.add_row(
            str(v.number),
            "yes" if v.active else "",
            _mode_text(v, versions),
            v.source_name,
            v.source_sha256[:16] + "...",
            str(v.counts.entries),
            str(v.counts.md5),
            str(v.counts.sha1),
            str(v.counts.sha256),
            str(v.counts.invalid + v.counts.empty_file),
            str(v.warning_count),
            f"{v.loaded_at:%Y-%m-%d %H:%M} by {v.loaded_by}",
        )
    out.print(table)


def _policy_text(info: ListInfo) -> str:
    """``requires a trusted signature, stale after 30 days`` and the like."""
    policy = info.policy
    signature = "requires a trusted signature" if policy.require_signature else "signature optional"
    age = (
        "no maximum age"
        if policy.max_age_days is None
        else f"stale after {policy.max_age_days} days"
    )
    return f"{signature}, {age}"


def _mode_text(version: ListVersionInfo, versions: list[ListVersionInfo]) -> str:
    """``replace``, ``add to v2``, ``rollback to v1``..."""
    if version.base_version_id is None:
        return version.mode.value
    numbers = {v.version_id: v.number for v in versions}
    base = numbers.get(version.base_version_id)
    word = {UpdateMode.ADD: "add to", UpdateMode.REMOVE: "remove from"}.get(
        version.mode, f"{version.mode.value} to"
    )
    return f"{word} v{base}" if base is not None else version.mode.value


@lists_app.command("history")
@handled
def lists_history(name: Annotated[str, typer.Argument(help="The list.")]) -> None:
    """Show every version of a list, oldest first: how it was made, from what, vetted how.

    Each line is one immutable version: a full load ('replace'), a delta ('add to vN',
    'remove from vN') or a 'rollback to vN'. The source's SHA-256, its signature and
    checksum status, the adapter and who loaded it when are what a report cites.
    """
    with _service() as service:
        versions = service.versions(name)
    if not versions:
        out.print(f"list {name} has no versions yet: load one with 'hashmatch ingest {name} FILE'")
        return
    for v in versions:
        marker = "[bold green]serving[/]" if v.active else ""
        out.print(
            f"[bold]v{v.number}[/] {_mode_text(v, versions)} {marker}\n"
            f"  loaded {v.loaded_at:%Y-%m-%d %H:%M:%S} UTC by {escape(v.loaded_by)}\n"
            f"  source {escape(v.source_name)} sha256 {v.source_sha256}\n"
            f"  read as {v.adapter} {v.adapter_version}: {v.counts.entries} entries, "
            f"{v.warning_count} warnings\n"
            f"  signature {v.vetting.signature}"
            + (f" by {escape(v.vetting.signed_by)}" if v.vetting.signed_by else "")
            + (
                f"; checksum {v.vetting.checksum} ({escape(v.vetting.checksum_file or '')})"
                if v.vetting.checksum
                else ""
            ),
            highlight=False,
        )


@lists_app.command("rollback")
@handled
def lists_rollback(
    name: Annotated[str, typer.Argument(help="The list.")],
    version: Annotated[int, typer.Argument(help="The version number to serve again.")],
) -> None:
    """Serve again what an earlier version held.

    The rollback is recorded as a new version that names the one it restores: history
    is never rewritten, and rolling forward again is another rollback.

    Example: hashmatch lists rollback caid 3
    """
    with _service() as service, _progress() as progress:
        made = service.rollback(name, version, progress=progress)
    out.print(
        f"[bold]{made.list_name}[/] version {made.number} now serving: "
        f"the content of version {version}"
    )


@lists_app.command("diff")
@handled
def lists_diff(
    name: Annotated[str, typer.Argument(help="The list.")],
    old: Annotated[int, typer.Argument(help="The earlier version number.")],
    new: Annotated[int, typer.Argument(help="The later version number.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write every change to this CSV file."),
    ] = None,
    show: Annotated[int, typer.Option("--show", help="Changes to print.", min=0)] = 20,
) -> None:
    """Compare two versions of a list: digests added, removed and relabelled.

    Labels are compared as the sources gave them; a digest whose labels differ between
    the versions is 'relabelled'.

    Example: hashmatch lists diff caid 3 4 --output caid-3-4.csv
    """
    with _service() as service:
        diff = service.diff(name, old, new)
    table = Table("algorithm", "added", "removed", "relabelled", title=f"{name}: v{old} -> v{new}")
    for algorithm, counts in diff.counts.items():
        table.add_row(
            algorithm, str(counts["added"]), str(counts["removed"]), str(counts["relabelled"])
        )
    out.print(table)
    for row in diff.changes.slice(0, show).to_pylist():
        out.print(
            f"  {row['change']:<10} {row['algorithm']:<6} {row['digest']}  "
            f"{escape(row['labels_before'] or '-')} -> {escape(row['labels_after'] or '-')}",
            highlight=False,
        )
    if diff.changes.num_rows > show:
        out.print(f"  ... {diff.changes.num_rows - show} more")
    if output is not None:
        from hashmatch.ingest.versions import write_changes

        write_changes(diff, output)
        out.print(f"changes: {escape(str(output))}", highlight=False)


@lists_app.command("policy")
@handled
def lists_policy(
    name: Annotated[str, typer.Argument(help="The list.")],
    require_signature: Annotated[
        bool | None,
        typer.Option(
            "--require-signature/--no-require-signature",
            help="Refuse any file not signed by a key the list trusts ('lists trust').",
            show_default=False,
        ),
    ] = None,
    max_age: Annotated[
        int | None,
        typer.Option(
            "--max-age",
            help="Days the serving version may age before 'check' warns that it is stale.",
            min=1,
        ),
    ] = None,
    no_max_age: Annotated[
        bool, typer.Option("--no-max-age", help="Never warn about the list's age.")
    ] = False,
) -> None:
    """Set what a list demands of its files, and how old it may grow.

    Example: hashmatch lists policy caid --require-signature --max-age 90
    """
    if max_age is not None and no_max_age:
        raise InputError("give --max-age or --no-max-age, not both")
    with _service() as service:
        age: int | Literal["unset"] | None = None if no_max_age else (max_age or "unset")
        info = service.set_policy(name, require_signature=require_signature, max_age_days=age)
    out.print(f"[bold]{escape(info.name)}[/]: {_policy_text(info)}")


@lists_app.command("trust")
@handled
def lists_trust(
    name: Annotated[str, typer.Argument(help="The list.")],
    public_key: Annotated[Path, typer.Argument(help="The publisher's public key (.pub, PEM).")],
    publisher: Annotated[str, typer.Option("--publisher", help="Who the key belongs to.")],
) -> None:
    """Trust a publisher's Ed25519 key to sign the list's files and bundles.

    Get the .pub file from the publisher through a channel you trust, and compare its key
    id with the one they state.

    Example: hashmatch lists trust caid national-unit.pub --publisher "National Unit"
    """
    with _service() as service:
        key = service.trust_key(name, public_key, publisher)
    out.print(f"list {escape(name)} trusts {key.key_id} ({escape(key.publisher)})")


@lists_app.command("untrust")
@handled
def lists_untrust(
    name: Annotated[str, typer.Argument(help="The list.")],
    key: Annotated[str, typer.Argument(help="The key id, as 'lists show' gives it.")],
) -> None:
    """Stop trusting a publisher key for a list."""
    with _service() as service:
        service.untrust_key(name, key)
    out.print(f"list {escape(name)} no longer trusts {escape(key)}")


# -- ingest ------------------------------------------------------------------------------


def _print_version(version: ListVersionInfo) -> None:
    c = version.counts
    out.print(
        f"[bold]{version.list_name}[/] version {version.number} now serving: "
        + (
            f"{c.entries} entries from {c.rows} records of "
            if version.mode is UpdateMode.REPLACE
            else f"{version.mode.value} {c.entries} entries ({c.rows} records) from "
        )
        + f"{escape(version.source_name)} ({version.adapter})"
    )
    out.print(
        f"  distinct digests: md5 {c.md5}, sha1 {c.sha1}, sha256 {c.sha256}; "
        f"repeated {c.duplicates}; dropped: {c.invalid} malformed, "
        f"{c.empty_file} zero-length-file digests"
    )
    out.print(f"  source sha256 {version.source_sha256}")
    vetting = version.vetting
    if vetting.signed_by:
        out.print(f"  signed by {escape(vetting.signed_by)}", highlight=False)
    else:
        out.print(f"  signature: {vetting.signature}")
    if vetting.checksum:
        out.print(f"  checksum {vetting.checksum} in {escape(vetting.checksum_file or '')}")
    if version.warning_count:
        err.print(f"[yellow]{version.warning_count} warnings[/], the first ones:")
        for warning in version.warnings[:10]:
            err.print(f"  {escape(warning.render())}", highlight=False)


@app.command()
@handled
def ingest(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help="The list to load into.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="The list file, or a hashmatch bundle folder (read-only; never changed)."
        ),
    ],
    mode: Annotated[
        UpdateMode,
        typer.Option(
            "--mode",
            help="'replace': the file is the whole list. 'add': add its entries to the serving "
            "version. 'remove': take its digests out of the serving version.",
            case_sensitive=False,
        ),
    ] = UpdateMode.REPLACE,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="Format name (see 'hashmatch formats'); default: detect."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail on the first malformed record instead of skipping it."),
    ] = False,
) -> None:
    """Load a list file as a new version of LIST, and make it serve.

    Malformed records are skipped with a warning ('file:line: reason') and counted;
    zero-length-file digests are dropped (they would match every empty file). If anything
    fails, nothing is committed and the previous version keeps serving.

    The file is vetted first: a FILE.sig signature (or a signed SHA256SUMS beside it) is
    checked against the list's trusted keys, and a SHA256SUMS that gives another digest
    refuses the file. A list with 'lists policy --require-signature' refuses unsigned files.
    A delta (--mode add or remove) serves within a second, without a full rebuild.

    Examples:
      hashmatch ingest demo-concern known.sha256sum
      hashmatch ingest caid caid-2026-11.json --mode add
    """
    if mode is UpdateMode.ROLLBACK:
        raise InputError("--mode rollback loads no file: use 'hashmatch lists rollback'")
    with _service() as service, _progress() as progress:
        version = service.ingest(
            list_name, file, fmt=fmt, strict=strict, mode=mode, progress=progress
        )
    _print_version(version)


# -- check -------------------------------------------------------------------------------


# Options that 'check' and 'scan' share.
CaseOption = Annotated[str, typer.Option("--case", help="Case reference recorded with the run.")]
ReportOption = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write a report; its format comes from the extension: .html, .json or .csv.",
    ),
]
SummaryOption = Annotated[
    Path | None,
    typer.Option("--summary", help="Also write the PII-free counts (.json or .csv)."),
]
ChargingOption = Annotated[
    Path | None,
    typer.Option("--charging-summary", help="Also write the charging summary (.json, .csv)."),
]
OperatorOption = Annotated[
    str | None,
    typer.Option("--operator", help="Who runs it; default HASHMATCH_OPERATOR or your login."),
]
MapToOption = Annotated[
    str | None,
    typer.Option(
        "--map-to",
        help="Also show each match's category as a crosswalk suggests it in this scheme "
        "(uk, vics-us, hashmatch-disposition), beside the source's own label. "
        "A suggestion, never a legal category.",
    ),
]
CrosswalkOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--crosswalk",
        help="Your own crosswalk file, or a folder of *.json; overrides a shipped one "
        "with the same from/to. Repeatable.",
    ),
]
PerceptualOption = Annotated[
    str | None,
    typer.Option(
        "--perceptual",
        metavar="VENDOR",
        help="Also hash the files of the unknown rows through this licensed perceptual vendor "
        "(see 'hashmatch vendors'; its key goes in the licence file, "
        "HASHMATCH_PERCEPTUAL_LICENCES). Similar entries are reported apart, as leads for "
        "review: they never change a verdict.",
    ),
]


def _print_check(result: CheckResult) -> None:
    counts = result.header.counts
    run = result.header.run
    table = Table("verdict", "files", "unique", title=f"case {run.case_ref}: run {run.run_id[:12]}")
    for verdict, count in counts.by_verdict.items():
        table.add_row(verdict, str(count.total), str(count.unique))
    table.add_row("[bold]total[/]", str(counts.total.total), str(counts.total.unique))
    out.print(table)
    for name, count in counts.by_list.items():
        out.print(f"  on list {name}: {count.total} files ({count.unique} unique)")
    for scheme, by_code in counts.by_category.items():
        for code, count in by_code.items():
            out.print(
                f"  category {escape(scheme)} {escape(code)}: {count.total} files "
                f"({count.unique} unique)",
                highlight=False,
            )
    for scheme, by_code in counts.by_mapped_category.items():
        for code, count in by_code.items():
            out.print(
                f"  suggested {escape(scheme)} {escape(code)}: {count.total} files "
                f"({count.unique} unique)",
                highlight=False,
            )
    for flag, count in counts.by_flag.items():
        out.print(f"  flag {escape(flag)}: {count.total} files ({count.unique} unique)")
    out.print(f"review queue (unknown): [bold]{counts.review_queue}[/] files")
    _print_perceptual(result)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if result.report_path is not None:
        out.print(f"report: {escape(str(result.report_path))}", highlight=False)
    out.print(
        "[dim]A match means the digest equals one a named source graded; "
        "'unknown' does not mean clean.[/]"
    )


def _print_perceptual(result: CheckResult) -> None:
    """The perceptual outcome in a line or two: none used, or what the vendor found."""
    section = result.header.perceptual
    if not section.used:
        out.print("perceptual: none used (only exact digests were compared)")
        return
    distance = "" if section.max_distance is None else f"{section.max_distance:g}"
    out.print(
        f"perceptual via {escape(section.vendor or '')} {escape(section.vendor_version or '?')} "
        f"(distance at most {distance}): {section.hashed} of {section.considered} unknown files "
        f"hashed, {sum(section.not_hashed.values())} not; [bold]{section.similar_files}[/] with "
        "similar entries (leads for review, not matches; verdicts unchanged)",
        highlight=False,
    )
    if section.stopped is not None:
        err.print(
            f"[yellow]warning:[/] the perceptual vendor stopped early: {escape(section.stopped)}",
            highlight=False,
        )


@app.command()
@handled
def check(
    manifests: Annotated[
        list[Path],
        typer.Argument(
            help="Manifest files: hashdeep/md5deep, md5sum/sha*sum, DFXML, tool CSV exports "
            "(Autopsy, Griffeye, X-Ways, FTK Imager, Get-FileHash), UFED report.xml, VICS "
            "case exports, bare digests (see 'hashmatch formats')."
        ),
    ],
    case: CaseOption,
    report: ReportOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Manifest format; default: detect per file.")
    ] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="Where the manifests came from, as you state it: device-image, cloud-return, "
            "provider-production, or your own words. Once for all, or once per manifest.",
        ),
    ] = None,
    summary: SummaryOption = None,
    charging: ChargingOption = None,
    operator: OperatorOption = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail on a malformed row instead of reporting it 'invalid'."),
    ] = False,
    map_to: MapToOption = None,
    crosswalk: CrosswalkOption = None,
    perceptual: PerceptualOption = None,
    files: Annotated[
        Path | None,
        typer.Option(
            "--files",
            metavar="DIR",
            help="With --perceptual: the folder the manifests' relative paths are under (the "
            "mounted evidence). Files are opened read-only; absolute paths are read as they are.",
        ),
    ] = None,
) -> None:
    """Check the manifests of a device against every serving list.

    Every row gets one verdict, in input order: known, known_benign, unknown (the review
    queue), not_assessable or invalid. The run and its verdicts are recorded (paths only
    if HASHMATCH_RECORD_PATHS is set); the report holds everything, including paths.

    Example: hashmatch check device.hashdeep --case CASE-1 --report out.json
    """
    with _service() as service, _progress() as progress:
        result = service.check(
            manifests,
            case_ref=case,
            fmt=fmt,
            report=report,
            operator=operator,
            strict=strict,
            map_to=map_to,
            crosswalks=crosswalk or (),
            origins=origin or (),
            progress=progress,
            perceptual=perceptual,
            files_root=files,
        )
        from hashmatch.cli.examiner import write_summaries

        write_summaries(service, result.header, summary, charging)
    _print_check(result)


# -- formats and snapshot ----------------------------------------------------------------


@app.command()
@handled
def formats() -> None:
    """List the formats hashmatch reads, in the order auto-detection tries them."""
    from hashmatch.service import installed_formats

    adapters = installed_formats()
    table = Table("format", "reads as", "description")
    for adapter in adapters:
        roles = ", ".join(sorted(r.value for r in adapter.ROLES))
        table.add_row(adapter.NAME, roles, adapter.DESCRIPTION)
    out.print(table)


@app.command()
@handled
def vendors() -> None:
    """List the perceptual vendors installed, and whether the licence file enables each.

    A vendor is enabled by a table with its key in the licence file
    (HASHMATCH_PERCEPTUAL_LICENCES, default perceptual-licences.toml in the data directory,
    chmod 600). Keys are never shown.
    """
    with _service() as service:
        found = service.perceptual_vendors()
    if not found:
        out.print("no perceptual vendor is installed: only exact digests are compared")
        return
    table = Table("vendor", "licensed", "fingerprint", "adapter", "description")
    for item in found:
        table.add_row(
            item.name,
            "yes" if item.licensed else "no",
            item.fingerprint or "-",
            item.adapter_version,
            item.description,
        )
    out.print(table)


@snapshot_app.command("info")
@handled
def snapshot_info() -> None:
    """Show the serving snapshot: its id, when it was built, and its list versions."""
    with _service() as service:
        snapshot = service.snapshot()
    if snapshot is None:
        out.print("no snapshot yet: load a list with 'hashmatch ingest'")
        return
    out.print(f"snapshot {snapshot.id} built {snapshot.built_at:%Y-%m-%d %H:%M:%S UTC}")
    counts = ", ".join(f"{a.value} {n}" for a, n in snapshot.counts.items())
    out.print(f"distinct digests: {counts}")
    for item in snapshot.lists:
        out.print(
            f"  {item.name} v{item.version} ({item.purpose.value}): {item.entries} entries, "
            f"source {escape(item.source_name)} sha256 {item.source_sha256[:16]}..."
        )


@snapshot_app.command("rebuild")
@handled
def snapshot_rebuild() -> None:
    """Build a new snapshot of the serving list versions and publish it."""
    with _service() as service, _progress() as progress:
        snapshot = service.rebuild_snapshot(progress=progress)
    out.print(
        "nothing to build: no list has a version"
        if snapshot is None
        else f"published {snapshot.id}"
    )


@snapshot_app.command("shards")
@handled
def snapshot_shards(
    out_dir: Annotated[
        Path,
        typer.Argument(
            help="A new folder for the shards, on storage every worker can read "
            "(NFS, a parallel file system, or copied to each node)."
        ),
    ],
    bits: Annotated[
        int,
        typer.Option(
            "--bits",
            help="Leading bits of the digest that pick a shard: 8 (256 shards an algorithm) "
            "or 16 (65,536, for lists of billions).",
        ),
    ] = 8,
) -> None:
    """Export the serving snapshot as prefix shards, for 'hashmatch batch' on a cluster.

    Each shard holds the digests that begin with one prefix, in the same memory-mapped layout as the snapshot. A worker maps only the shards its rows need, so no machine has to hold the whole snapshot.

    Example: hashmatch snapshot shards /shared/hashmatch/shards --bits 8
    """  # noqa: E501 (rich renders each docstring line as a line)
    with _service() as service, _progress() as progress:
        shards = service.export_shards(out_dir, bits=bits, progress=progress)
    counts = ", ".join(f"{a.value} {n:,}" for a, n in shards.counts.items() if n)
    out.print(
        f"exported snapshot {shards.snapshot_id[:12]} to {escape(str(out_dir))}: "
        f"{2**bits} shards an algorithm; {counts}",
        highlight=False,
    )


# -- demo --------------------------------------------------------------------------------
# -- demo --------------------------------------------------------------------------------


@app.command()
@handled
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write the demo files, data and reports.")
    ] = Path("hashmatch-demo"),
    entries: Annotated[
        int, typer.Option("--entries", min=10, help="Entries per demo list.")
    ] = 10_000,
    files: Annotated[
        int, typer.Option("--files", min=20, help="Rows in the demo manifest.")
    ] = 1_000,
) -> None:
    """Run the whole workflow on synthetic data: two lists, one manifest, three reports.

    Everything goes under --dir, including its own data directory (DIR/home), so the demo
    never touches your real lists. All digests are of made-up strings.
    """
    from hashmatch.demo import write_demo_files

    files_made = write_demo_files(directory, entries=entries, files=files)
    settings = _settings(directory / "home")
    out.print(f"demo data directory: {escape(str(settings.home))}", highlight=False)
    with _service(settings) as service, _progress() as progress:
        existing = {info.name for info in service.lists()}
        for name, purpose in (("demo-concern", Purpose.CONCERN), ("demo-benign", Purpose.BENIGN)):
            if name not in existing:
                service.add_list(name, purpose, "synthetic demo list")
                out.print(f"$ hashmatch lists add {name} --purpose {purpose.value}")
        for name, path in (
            ("demo-concern", files_made.concern_list),
            ("demo-benign", files_made.benign_list),
        ):
            out.print(f"$ hashmatch ingest {name} {escape(str(path))}", highlight=False)
            _print_version(service.ingest(name, path, progress=progress))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for report in (
            directory / "report.json",
            directory / "report.csv",
            directory / "report.html",
        ):
            out.print(
                f"$ hashmatch check {escape(str(files_made.manifest))} --case DEMO-{stamp} "
                f"--report {escape(str(report))}",
                highlight=False,
            )
            result = service.check(
                [files_made.manifest], case_ref=f"DEMO-{stamp}", report=report, progress=progress
            )
        _print_check(result)
    found = {v: c.total for v, c in result.header.counts.by_verdict.items()}
    if found != files_made.expected:
        err.print(
            f"[red]demo verdicts differ from what was planted:[/] {found} != {files_made.expected}"
        )
        raise typer.Exit(ExitCode.ERROR)
    out.print("[green]demo verdicts match what was planted.[/]")


# Mounted here, after the helpers they import from this module exist.
from hashmatch.cli import batch, examiner, serve  # noqa: E402, F401  (commands register on ``app``)
from hashmatch.cli.bundle import bundle_app  # noqa: E402
from hashmatch.cli.exchange import exchange_app  # noqa: E402
from hashmatch.cli.keys import keys_app  # noqa: E402
from hashmatch.cli.review import audit_app, review_app  # noqa: E402

app.add_typer(bundle_app, name="bundle")
app.add_typer(review_app, name="review")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(exchange_app, name="exchange")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:  # piped into head and the reader went away
        sys.exit(0)
