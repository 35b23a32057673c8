"""``hashmatch exchange ...``: fetch lists from the exchanges that publish them as changes.

Mounted by :mod:`hashmatch.cli.app`. Each command parses, calls one method of the service,
and renders the result. Credentials never come from the command line (they would stay in
the shell's history): they come from the exchange credentials file or the settings.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hashmatch.cli.app import _progress, _service, handled, out

if TYPE_CHECKING:
    from hashmatch.exchange_sync import FetchOutcome
    from hashmatch.model import ExchangeState

__all__ = ["exchange_app"]

exchange_app = typer.Typer(
    help=(
        "Lists that arrive from exchange APIs (NCMEC hash sharing), fetched as changes.\n\n"
        "A fetch asks the exchange for every change since the last one (the checkpoint), "
        "updates and deletions alike, and loads the result as the next version of the "
        "exchange's list, through the same checks, publish and audit as any list file. "
        "Every page is kept on disk before the next is asked for: a fetch that stops (a "
        "network error, a killed process) goes on from where it was, losing and repeating "
        "nothing. A checkpoint older than HASHMATCH_EXCHANGE_STALE_AFTER_DAYS, or a list "
        "changed by hand since, makes the next fetch fetch everything again.\n\n"
        "Credentials come from the file HASHMATCH_EXCHANGE_CREDENTIALS (default "
        "exchange-credentials.toml in the data directory; chmod 600), a table per exchange:"
        "\n\n"
        "  \\[ncmec-industry]\n\n"
        '  username = "..."\n\n'
        '  password = "..."\n\n'
        "or from HASHMATCH_EXCHANGE_USERNAME and HASHMATCH_EXCHANGE_PASSWORD; never from "
        "the command line. 'hashmatch serve' fetches by itself on HASHMATCH_EXCHANGE_SCHEDULE."
        "\n\n"
        "Examples:\n\n"
        "  hashmatch exchange list\n\n"
        "  hashmatch exchange fetch ncmec-industry\n\n"
        "  hashmatch exchange fetch ncmec-industry --full"
    ),
    no_args_is_help=True,
)


def _when(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _state_json(name: str, described: str, state: ExchangeState | None) -> dict[str, Any]:
    fetch = None if state is None else state.fetch
    return {
        "exchange": name,
        "description": described,
        "list": None if state is None else state.list_name,
        "api_root": None if state is None else state.api_root,
        "checkpoint": None if state is None else _when(state.checkpoint),
        "version_id": None if state is None else state.version_id,
        "fetch_under_way": None
        if fetch is None
        else {
            "since": _when(fetch.since),
            "until": _when(fetch.until),
            "reason": fetch.reason,
            "pages": fetch.pages,
            "complete": fetch.complete,
        },
    }


@exchange_app.command("list")
@handled
def exchange_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show every exchange the installed clients offer, its list and its checkpoint."""
    with _service() as service:
        found = service.exchanges()
    if as_json:
        print(json.dumps([_state_json(*item) for item in found], indent=2))
        return
    table = Table("exchange", "list", "checkpoint", "fetch under way", "description")
    for name, described, state in found:
        fetch = None if state is None else state.fetch
        table.add_row(
            name,
            "-" if state is None else escape(state.list_name),
            "never fetched"
            if state is None or state.checkpoint is None
            else state.checkpoint.isoformat(),
            "-" if fetch is None else f"{fetch.pages} pages ({fetch.reason})",
            escape(described),
        )
    out.print(table)


@exchange_app.command("fetch")
@handled
def exchange_fetch(
    name: Annotated[
        str, typer.Argument(help="The exchange: 'ncmec-industry' ('hashmatch exchange list').")
    ],
    list_name: Annotated[
        str | None,
        typer.Option(
            "--list",
            help="The list to load (first fetch only; default: named after the exchange, "
            "created with purpose 'concern').",
        ),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Fetch the whole list again, not just the changes since the checkpoint "
            "(and drop any interrupted fetch).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Fetch an exchange's changes and load them as the next version of its list.

    Exit code 11 when the exchange fails after its retries or refuses the credentials.

    The pages fetched so far are kept, and the next fetch goes on from there.

    Example: hashmatch exchange fetch ncmec-industry
    """
    with _service() as service, _progress() as progress:
        outcome = service.exchange_fetch(name, list_name=list_name, full=full, progress=progress)
    if as_json:
        print(json.dumps(_outcome_json(outcome), indent=2))
        return
    _print_outcome(outcome)


def _outcome_json(outcome: FetchOutcome) -> dict[str, Any]:
    version = outcome.version
    return {
        "exchange": outcome.exchange,
        "list": outcome.list_name,
        "since": _when(outcome.since),
        "until": _when(outcome.until),
        "reason": outcome.reason,
        "resumed": outcome.resumed,
        "pages": outcome.pages,
        "updates": outcome.updates,
        "tombstones": outcome.tombstones,
        "replaced": outcome.replaced,
        "version": None
        if version is None
        else {
            "number": version.number,
            "version_id": version.version_id,
            "entries": version.counts.entries,
            "source_sha256": version.source_sha256,
            "warnings": version.warning_count,
        },
        "warnings": [
            {"source": w.source, "line": w.line, "reason": w.reason} for w in outcome.warnings
        ],
    }


def _print_outcome(outcome: FetchOutcome) -> None:
    since = "the beginning" if outcome.since is None else outcome.since.isoformat()
    kind = "changes" if outcome.since is not None else f"the whole list ({outcome.reason})"
    resumed = ", going on from an interrupted fetch" if outcome.resumed else ""
    out.print(
        f"{escape(outcome.exchange)}: fetched {kind} from {since} to "
        f"{outcome.until.isoformat()} in {outcome.pages} pages{resumed}.",
        highlight=False,
    )
    out.print(
        f"  {outcome.updates} entries updated, {outcome.tombstones} deleted; "
        f"{outcome.replaced} earlier rows replaced or withdrawn.",
        highlight=False,
    )
    version = outcome.version
    if version is None:
        out.print(
            f"  nothing changed: list {escape(outcome.list_name)} keeps its version; "
            "the checkpoint moved on.",
            highlight=False,
        )
    else:
        out.print(
            f"  list {escape(outcome.list_name)} version {version.number} now serves: "
            f"{version.counts.entries} entries (source {version.source_sha256[:16]}...).",
            highlight=False,
        )
    if outcome.warnings:
        out.print(f"  {len(outcome.warnings)} entries skipped:", highlight=False)
        for warning in outcome.warnings[:10]:
            where = warning.source if warning.line is None else f"{warning.source}:{warning.line}"
            out.print(f"    {escape(where)}: {escape(warning.reason)}", highlight=False)
