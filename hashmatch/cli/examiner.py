"""``hashmatch scan``, ``compare`` and ``summary``: the examiner's commands beside ``check``.

Mounted by :mod:`hashmatch.cli.app` (the commands register on its ``app``). Each command
parses its options, calls one method of the service, and renders the result.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
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

from hashmatch.cli.app import (
    CaseOption,
    ChargingOption,
    CrosswalkOption,
    ExitCode,
    MapToOption,
    OperatorOption,
    PerceptualOption,
    ReportOption,
    SummaryOption,
    _print_check,
    _progress,
    _service,
    app,
    err,
    handled,
    out,
)
from hashmatch.errors import InputError

if TYPE_CHECKING:
    from hashmatch.reports import Comparison, ReportHeader
    from hashmatch.service import Service

__all__ = ["compare", "scan", "summary", "write_summaries"]


class _ScanBar:
    """The scan's progress bar: files done of planned, bytes, rate and time left."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task = bar.add_task("planning", total=None, files="")
        self._files = 0
        self._total_files = 0

    def planned(self, files: int, bytes: int) -> None:
        self._total_files = files
        self._bar.update(self._task, total=bytes or None, description="hashing")
        self._show()

    def advance(self, files: int, bytes: int) -> None:
        self._files += files
        self._bar.update(self._task, advance=bytes)
        self._show()

    def _show(self) -> None:
        self._bar.update(self._task, files=f"{self._files}/{self._total_files} files")


@contextmanager
def _scan_bar() -> Iterator[_ScanBar]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with bar:
        yield _ScanBar(bar)


@app.command()
@handled
def scan(
    evidence: Annotated[
        Path,
        typer.Argument(
            help="The folder to hash (opened read-only; nothing is ever written into it)."
        ),
    ],
    case: CaseOption,
    report: ReportOption = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="Where to write the hashdeep manifest of what was hashed (default: beside "
            "the report, as REPORT.hashdeep; without a report, in the current folder).",
        ),
    ] = None,
    operator: OperatorOption = None,
    map_to: MapToOption = None,
    crosswalk: CrosswalkOption = None,
    summary: SummaryOption = None,
    charging: ChargingOption = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Hashing threads (default: one per core)."),
    ] = None,
    perceptual: PerceptualOption = None,
) -> None:
    """Hash every file under EVIDENCE (MD5, SHA-1, SHA-256 in one read) and check it.

    The files are opened read-only and nothing is written into EVIDENCE. A hashdeep
    manifest of what was hashed is written (--manifest), so the run can be repeated with
    'hashmatch check MANIFEST'. Files that cannot be hashed (no permission, unreadable,
    special files, symbolic links, folders that cannot be listed) are reported as
    not_assessable with the reason, never skipped. Ctrl-C stops cleanly: no partial
    manifest or report is left.

    Example: hashmatch scan /mnt/exhibit-01 --case CASE-1 --report exhibit-01.html
    """
    if manifest is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        manifest = (
            report.with_suffix(".hashdeep")
            if report is not None
            else Path(f"hashmatch-scan-{stamp}.hashdeep")
        )
    cancel = threading.Event()
    with _service() as service, _progress() as progress, _scan_bar() as bar:
        try:
            result = service.scan(
                evidence,
                case_ref=case,
                manifest=manifest,
                report=report,
                operator=operator,
                map_to=map_to,
                crosswalks=crosswalk or (),
                workers=workers,
                progress=progress,
                scan_progress=bar,
                cancel=cancel,
                perceptual=perceptual,
            )
        except KeyboardInterrupt:
            cancel.set()
            raise
        write_summaries(service, result.check.header, summary, charging)
    out.print(
        f"scanned {result.files} files under {escape(str(evidence))}: "
        f"{result.hashed} hashed, {result.files - result.hashed} could not be hashed",
        highlight=False,
    )
    out.print(f"manifest: {escape(str(result.manifest))}", highlight=False)
    _print_check(result.check)


def write_summaries(
    service: Service, header: ReportHeader, summary: Path | None, charging: Path | None
) -> None:
    """Write the PII-free counts and the charging summary a command asked for."""
    from hashmatch.reports import write_summary

    wanted: tuple[tuple[Path | None, Literal["counts", "charging"]], ...] = (
        (summary, "counts"),
        (charging, "charging"),
    )
    for path, kind in wanted:
        if path is not None:
            write_summary(path, service.summarise(header, kind))
            out.print(f"{kind} summary: {escape(str(path))}", highlight=False)


@app.command()
@handled
def compare(
    run_a: Annotated[Path, typer.Argument(help="The JSON report of one run (say, at the scene).")],
    run_b: Annotated[Path, typer.Argument(help="The JSON report of another (say, the lab's).")],
    show: Annotated[int, typer.Option("--show", min=0, help="Differences to print.")] = 20,
) -> None:
    """Show that two runs agree, or exactly where they differ.

    Two runs over the same manifests (by SHA-256) and the same list versions must give
    the same verdict on every file. Exit status 0 when they agree, 9 when they differ.

    Example: hashmatch compare scene-triage.json lab.json
    """
    with _service() as service:
        comparison = service.compare(run_a, run_b)
    _print_comparison(comparison, show)
    if not comparison.agree:
        raise typer.Exit(ExitCode.DIFFER)


def _print_comparison(comparison: Comparison, show: int) -> None:
    table = Table("", "run A", "run B", title="comparison")
    table.add_row("run", comparison.run_a, comparison.run_b)
    table.add_row("rows", str(comparison.rows_a), str(comparison.rows_b))
    out.print(table)
    for label, same in (
        ("manifests (by SHA-256)", comparison.same_inputs),
        ("list versions", comparison.same_lists),
        ("algorithms", comparison.same_algorithms),
    ):
        out.print(f"  {label}: {'same' if same else '[bold red]differ[/]'}")
    for note in comparison.notes:
        out.print(f"  - {escape(note)}", highlight=False)
    if comparison.agree:
        out.print("[bold green]the runs agree[/]: every file has the same verdict and matches")
        return
    out.print(f"[bold red]{comparison.differing_rows} files differ[/]")
    for diff in comparison.differences[:show]:
        out.print(
            f"  {diff.input_sha256[:16]} line {diff.line} {escape(diff.path or '-')}: "
            f"{diff.verdict_a or '(absent)'} {list(diff.matches_a)} -> "
            f"{diff.verdict_b or '(absent)'} {list(diff.matches_b)}",
            highlight=False,
        )
    if comparison.differing_rows > show:
        out.print(f"  ... {comparison.differing_rows - show} more")


@app.command()
@handled
def summary(
    report: Annotated[Path, typer.Argument(help="The JSON report of a run.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="'charging': known files per source category and flag, with and without "
            "copies. 'counts': counts only, with no path, name, digest or operator (PII-free), "
            "for case-management systems.",
        ),
    ] = "counts",
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write it to a .json or .csv file (default: print CSV)."),
    ] = None,
) -> None:
    """Summarise a run for charging or for a case-management system.

    Example: hashmatch summary run.json --kind charging --output charging.csv
    """
    if kind not in ("charging", "counts"):
        raise InputError(f"unknown summary kind {kind!r} (use charging or counts)")
    chosen: Literal["charging", "counts"] = "charging" if kind == "charging" else "counts"
    from hashmatch.reports import render_summary, write_summary

    with _service() as service:
        made = service.summarise(report, chosen)
    if output is None:
        out.print(render_summary(made, "csv"), highlight=False, markup=False, end="")
    else:
        write_summary(output, made)
        out.print(f"{chosen} summary: {escape(str(output))}", highlight=False)
