"""``hashmatch batch``: match Parquet manifests of billions of rows on a Dask cluster.

Mounted by :mod:`hashmatch.cli.app` (the command registers on its ``app``). It parses,
calls :meth:`hashmatch.service.Service.batch` and renders the counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hashmatch.cli.app import MapToOption, OperatorOption, _progress, _service, app, handled, out

__all__ = ["batch"]


@app.command()
@handled
def batch(
    manifests: Annotated[
        list[Path],
        typer.Argument(
            help="Parquet manifests (columns md5, sha1, sha256, size, path; see 'hashmatch "
            "formats'), readable by every worker at the same path."
        ),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the verdicts, one Parquet file per partition (part-*.parquet); "
            "readable and writable by every worker.",
        ),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="A dask.distributed scheduler to run on (tcp://host:8786). Without one, "
            "a local cluster of --workers processes.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes of the local cluster.")
    ] = 2,
    shards: Annotated[
        Path | None,
        typer.Option(
            "--shards",
            help="A shard folder from 'hashmatch snapshot shards' on shared storage (needed "
            "with --scheduler). Without one, the serving snapshot is exported under the "
            "data directory, for a local cluster.",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            min=1,
            help="Match tasks to shuffle the rows into (default: one per Parquet row group read).",
        ),
    ] = None,
    bits: Annotated[
        int, typer.Option("--bits", help="Prefix bits of the exported shards: 8 or 16.")
    ] = 8,
    map_to: MapToOption = None,
    operator: OperatorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Match Parquet manifests against the lists, spread over a Dask cluster.

    The rows are shuffled by the leading bits of their digests, so that each worker maps only the shards of the snapshot its rows need: lists and manifests larger than one machine's memory are matched in parts. The verdicts are those 'hashmatch check' gives for the same rows, one per row, keyed by input and line. No verdict row goes to the catalog; the audit trail records the job and its counts.

    Examples:

      hashmatch batch rows.parquet --out verdicts/ --workers 2

      hashmatch snapshot shards /shared/shards

      hashmatch batch /shared/in/a.parquet --out /shared/verdicts --shards /shared/shards --scheduler tcp://scheduler:8786
    """  # noqa: E501 (rich renders each docstring line as a line)
    if scheduler is not None and shards is None:
        raise typer.BadParameter(
            "a remote cluster needs --shards on storage its workers can read",
            param_hint="--shards",
        )
    with _service() as service, _progress() as progress:
        outcome = service.batch(
            manifests,
            out_dir,
            shards=shards,
            scheduler=scheduler,
            workers=workers,
            partitions=partitions,
            bits=bits,
            map_to=map_to,
            operator=operator,
            progress=progress,
        )
    rate = outcome.rows / outcome.seconds if outcome.seconds else 0.0
    if as_json:
        print(
            json.dumps(
                {
                    "snapshot": outcome.snapshot_id,
                    "out": str(outcome.out),
                    "rows": outcome.rows,
                    "counts": outcome.counts,
                    "pieces": outcome.pieces,
                    "partitions": outcome.partitions,
                    "seconds": round(outcome.seconds, 3),
                    "rows_per_second": round(rate),
                },
                indent=2,
            )
        )
        return
    table = Table("verdict", "rows")
    for verdict, count in outcome.counts.items():
        table.add_row(verdict, f"{count:,}")
    out.print(table)
    out.print(
        f"{outcome.rows:,} rows matched against snapshot {outcome.snapshot_id[:12]} in "
        f"{outcome.seconds:.1f} s ({rate:,.0f} rows/s; {outcome.pieces} pieces, "
        f"{outcome.partitions} partitions); verdicts in {escape(str(outcome.out))}",
        highlight=False,
    )
