"""``hashmatch review ...`` and ``hashmatch audit ...``: the review queue, gradings, the trail.

Mounted by :mod:`hashmatch.cli.app`. Each command parses, calls one method of the service,
and renders the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hashmatch.cli.app import ExitCode, _progress, _service, err, handled, out
from hashmatch.errors import InputError

__all__ = ["audit_app", "review_app"]

review_app = typer.Typer(
    help=(
        "The review queue of a run, and reviewers' gradings.\n\n"
        "'review queue REPORT.json' lists the unknown files (path, size, digests) for your "
        "own viewer: hashmatch never opens or shows them. 'review grade' records a grading; "
        "it feeds a local list, so the next run marks the file known, with the reviewer as "
        "the source, and nobody reviews it twice. 'review export' writes the gradings for "
        "submission to a national database (VICS 2.0 JSON or a signed bundle), without "
        "paths or notes."
    ),
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help=(
        "The tamper-evident audit trail: every ingest, rollback, run, report, grading, "
        "export, policy and key change, each record sealed by the hash of the one before."
    ),
    no_args_is_help=True,
)


@review_app.command("queue")
@handled
def queue(
    report: Annotated[Path, typer.Argument(help="The JSON report of a run.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write the queue to a .csv or .json file for a viewer."),
    ] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Files to print.")] = 50,
) -> None:
    """List the unknown files of a run: the human review queue.

    Example: hashmatch review queue run.json --output queue.csv
    """
    with _service() as service:
        if output is None:
            items = list(service.review_queue(report))
        else:
            items = service.write_review_queue(report, output)
            out.print(f"review queue: {escape(str(output))}", highlight=False)
    table = Table("input", "line", "path", "size", "md5", "sha256")
    for item in items[:show]:
        table.add_row(
            str(item.input),
            str(item.line),
            escape(item.path or "-"),
            "-" if item.size is None else str(item.size),
            item.md5 or "-",
            item.sha256 or "-",
        )
    out.print(table)
    out.print(f"review queue: [bold]{len(items)}[/] unknown files")


@review_app.command("grade")
@handled
def grade(
    scheme: Annotated[str, typer.Option("--scheme", help="uk, vics-us, vics-uk, ncmec ...")],
    category: Annotated[str, typer.Option("--category", help="The category code, verbatim.")],
    md5: Annotated[str | None, typer.Option("--md5", help="The file's MD5.")] = None,
    sha1: Annotated[str | None, typer.Option("--sha1", help="The file's SHA-1.")] = None,
    sha256: Annotated[str | None, typer.Option("--sha256", help="The file's SHA-256.")] = None,
    flag: Annotated[
        list[str] | None,
        typer.Option(
            "--flag",
            help="A flag that holds (victim_identified, distributed, self_generated, "
            "report_remove, computer_generated ...). Repeatable.",
        ),
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Who graded it; default the operator.")
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="The case reference.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="The run it came from.")] = None,
    size: Annotated[int | None, typer.Option("--size", min=0, help="The file's size.")] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Free text; kept locally, never exported.")
    ] = None,
) -> None:
    """Record a reviewer's grading of a file, by its digests (give all that you have).

    Example: hashmatch review grade --md5 8ae3... --sha256 4748... --scheme uk --category B
    """
    from hashmatch.digests import Algorithm

    given = {Algorithm.MD5: md5, Algorithm.SHA1: sha1, Algorithm.SHA256: sha256}
    digests = {algorithm: value for algorithm, value in given.items() if value}
    with _service() as service, _progress() as progress:
        made = service.grade(
            digests,
            scheme=scheme,
            category=category,
            flags=flag or (),
            reviewer=reviewer,
            case_ref=case,
            run_id=run,
            note=note,
            size=size,
            progress=progress,
        )
    first = made[0]
    out.print(
        f"graded {', '.join(g.algorithm.value for g in made)} as {escape(first.scheme)} "
        f"{escape(first.category)} by {escape(first.reviewer)}; the next run marks it known "
        f"(list {escape(service.settings.gradings_list)})",
        highlight=False,
    )


@review_app.command("gradings")
@handled
def gradings(
    history: Annotated[
        bool, typer.Option("--history", help="Every grading, not just the newest per digest.")
    ] = False,
) -> None:
    """Show reviewers' gradings."""
    with _service() as service:
        found = service.gradings(latest=not history)
    table = Table("graded at", "reviewer", "algorithm", "digest", "scheme", "category", "flags")
    for g in found:
        table.add_row(
            f"{g.graded_at:%Y-%m-%d %H:%M:%S}",
            escape(g.reviewer),
            g.algorithm.value,
            g.digest,
            g.scheme,
            escape(g.category),
            ", ".join(g.flags),
        )
    out.print(table)


@review_app.command("export")
@handled
def export(
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="The file or bundle folder.")],
    fmt: Annotated[
        str, typer.Option("--format", help="'vics' (VICS 2.0 JSON) or 'bundle' (signed).")
    ] = "bundle",
    scheme: Annotated[
        str | None, typer.Option("--scheme", help="Only gradings in this scheme.")
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="Sign the bundle with this .key file.")
    ] = None,
    publisher: Annotated[
        str | None, typer.Option("--publisher", help="Who signs the bundle.")
    ] = None,
) -> None:
    """Export the newest gradings for a national database, without paths or notes.

    Example: hashmatch review export gradings.json --format vics --scheme vics-us
    """
    if fmt not in ("vics", "bundle"):
        raise InputError(f"unknown export format {fmt!r} (use vics or bundle)")
    with _service() as service:
        count = service.export_gradings(
            out_path,
            fmt="vics" if fmt == "vics" else "bundle",
            scheme=scheme,
            key=key,
            publisher=publisher,
        )
    out.print(f"exported {count} graded files to {escape(str(out_path))}", highlight=False)


@audit_app.command("verify")
@handled
def verify() -> None:
    """Check that no audit record was edited, deleted or reordered.

    Exit status 0 when the chain is intact, 10 when it is not (each problem is printed).
    """
    with _service() as service:
        result = service.audit_verify()
    if result.ok:
        last = result.last.seq if result.last else 0
        out.print(f"[bold green]audit trail intact[/]: {result.checked} records, up to seq {last}")
        return
    for problem in result.problems:
        err.print(f"[bold red]{escape(problem.render())}[/]", highlight=False)
    raise typer.Exit(ExitCode.TAMPERED)


@audit_app.command("show")
@handled
def show(
    since: Annotated[int, typer.Option("--since", min=0, help="After this seq.")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the audit records, oldest first."""
    with _service() as service:
        records = service.audit_records(since_seq=since, limit=limit)
    if as_json:
        for r in records:
            sys.stdout.write(
                json.dumps(
                    {
                        "seq": r.seq,
                        "at": r.at.isoformat(),
                        "actor": r.actor,
                        "action": r.action,
                        "subject": r.subject,
                        "details": r.details,
                        "prev_hash": r.prev_hash,
                        "hash": r.hash,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        return
    table = Table("seq", "at", "actor", "action", "subject", "hash")
    for r in records:
        table.add_row(
            str(r.seq),
            f"{r.at:%Y-%m-%d %H:%M:%S}",
            escape(r.actor),
            r.action,
            escape(r.subject),
            r.hash[:16],
        )
    out.print(table)
