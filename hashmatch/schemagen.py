"""Generate the contracts in ``schemas/`` from the code, or check that they match it.

``python -m hashmatch.schemagen`` writes them; ``python -m hashmatch.schemagen --check``
exits 1 (and names the files) when a file is missing or differs from what the code makes.
CI runs the check, so a change to a report or Arrow schema cannot land without its file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import TypeAdapter

from hashmatch.config import Settings
from hashmatch.match.live import MATCH_SCHEMA
from hashmatch.match.matcher import VERDICT_SCHEMA
from hashmatch.records import ENTRY_SCHEMA, RECORD_SCHEMA
from hashmatch.reports import REPORT_FORMAT, Report

__all__ = ["arrow_schema_json", "generate", "main", "openapi_document"]

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


def arrow_schema_json(schema: pa.Schema, title: str) -> dict[str, Any]:
    """An Arrow schema as plain JSON: field names, types, nullability and notes."""
    metadata = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    return {
        "title": title,
        "fields": [
            {
                "name": field.name,
                "type": str(field.type),
                "nullable": field.nullable,
                **({"note": metadata[field.name]} if field.name in metadata else {}),
            }
            for field in schema
        ],
        "metadata": {k: v for k, v in metadata.items() if k not in schema.names},
    }


def openapi_document() -> dict[str, Any]:
    """The HTTP API's OpenAPI document, from an app that is built but never started.

    The app sits over a throw-away folder and an in-memory catalog: building the
    document reads neither the user's data directory nor a database nor a snapshot, and
    no setting changes it.
    """
    from hashmatch.web import create_app  # noqa: PLC0415 - the core never imports the web layer

    with tempfile.TemporaryDirectory(prefix="hashmatch-schemagen-") as home:
        app = create_app(Settings(home=Path(home), database_url="memory://"))
        try:
            return app.openapi()
        finally:
            app.state.service.close()


def generate() -> dict[str, str]:
    """File name -> content of every generated contract."""
    report = TypeAdapter(Report).json_schema(mode="serialization")
    report["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    report["$id"] = f"https://hashmatch.invalid/schemas/{REPORT_FORMAT}"
    report["properties"]["schema"]["const"] = REPORT_FORMAT
    documents: dict[str, Any] = {
        "report.schema.json": report,
        "records.arrow.json": arrow_schema_json(RECORD_SCHEMA, "What format adapters yield"),
        "entries.arrow.json": arrow_schema_json(
            ENTRY_SCHEMA, "Entries of a list version (Parquet)"
        ),
        "verdicts.arrow.json": arrow_schema_json(VERDICT_SCHEMA, "One verdict row per input row"),
        "match.arrow.json": arrow_schema_json(
            MATCH_SCHEMA,
            "The reply of POST /v1/match/arrow: one row per item, in order "
            "(schema metadata snapshot_id: the snapshot that answered)",
        ),
        "openapi.json": openapi_document(),
    }
    return {
        name: json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, doc in documents.items()
    }


def main(argv: list[str] | None = None) -> int:
    """Write or check ``schemas/``."""
    parser = argparse.ArgumentParser(prog="python -m hashmatch.schemagen", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail if schemas/ differs from the code"
    )
    parser.add_argument("--dir", type=Path, default=SCHEMAS_DIR, help="the schemas folder")
    args = parser.parse_args(argv)
    stale = []
    for name, content in generate().items():
        path = args.dir / name
        current = path.read_text("utf-8") if path.is_file() else None
        if current == content:
            continue
        if args.check:
            stale.append(name)
        else:
            args.dir.mkdir(parents=True, exist_ok=True)
            path.write_text(content, "utf-8")
            print(f"wrote {path}")
    if stale:
        print(
            "schemas/ is out of date with the code: "
            + ", ".join(stale)
            + " (run: python -m hashmatch.schemagen)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
