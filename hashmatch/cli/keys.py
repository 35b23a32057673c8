"""``hashmatch keys ...``: create, list and revoke the API keys of the HTTP API.

Mounted by :mod:`hashmatch.cli.app`. Each command parses, calls one method of the service,
and renders the result. A token is printed once, by ``keys create``; nothing can show it
again, since the catalog keeps only its hash.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hashmatch.cli.app import _service, err, handled, out
from hashmatch.keys import GRANTS, Role

if TYPE_CHECKING:
    from hashmatch.keys import ApiKey

__all__ = ["keys_app"]

_ROLES_HELP = "; ".join(
    f"{role.value}: {', '.join(sorted(p.value for p in GRANTS[role]))}" for role in Role
)

keys_app = typer.Typer(
    help=(
        "API keys for the HTTP API ('hashmatch serve'): create, list, revoke.\n\n"
        "A key has a name and one or more roles; each role grants permissions "
        f"({_ROLES_HELP}). Its token is printed once, when it is created: the catalog keeps "
        "only a hash of it. Every creation and revocation is in the audit trail, which "
        "names the key by its id, never by its token.\n\n"
        "Examples:\n\n"
        "  hashmatch keys create --name 'triage station 3' --role intake\n\n"
        "  hashmatch keys create --name 'lab examiner' --role examiner --role reviewer\n\n"
        "  hashmatch keys list\n\n"
        "  hashmatch keys revoke 0f3a9c21b7d4"
    ),
    no_args_is_help=True,
)

_NOT_AGAIN = (
    "This token cannot be shown again: hashmatch keeps only its hash. Store it now (a "
    "password manager or secret store). If it is lost, revoke the key and create another."
)


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "roles": [role.value for role in key.roles],
        "permissions": sorted(permission.value for permission in key.permissions),
        "created_at": key.created_at.isoformat(),
        "created_by": key.created_by,
        "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
        "active": key.active,
    }


@keys_app.command("create")
@handled
def create(
    name: Annotated[
        str, typer.Option("--name", help="What the key is for: 'triage station 3', 'lab LIMS'.")
    ],
    role: Annotated[
        list[Role],
        typer.Option(
            "--role",
            help="A role of the key (repeat for several): intake, examiner, reviewer, "
            "curator, auditor, admin.",
            case_sensitive=False,
        ),
    ],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the key and its token as one JSON object (the note: stderr)."
        ),
    ] = False,
) -> None:
    """Create an API key and print its token, once.

    Examples:

      hashmatch keys create --name 'triage station 3' --role intake

      hashmatch keys create --name 'lab examiner' --role examiner --role reviewer --json
    """
    with _service() as service:
        key, token = service.create_key(name, role)
    if as_json:
        sys.stdout.write(json.dumps({**_key_json(key), "token": token}, ensure_ascii=False))
        sys.stdout.write("\n")
        err.print(_NOT_AGAIN, highlight=False)
        return
    out.print(
        f"created API key [bold]{key.key_id}[/] ({escape(key.name)}), roles "
        f"{', '.join(role.value for role in key.roles)}",
        highlight=False,
    )
    sys.stdout.flush()
    # Plain write: no markup, wrapping or colour may change a character of the token.
    sys.stdout.write(f"token: {token}\n")
    sys.stdout.flush()
    out.print(f"[bold yellow]{_NOT_AGAIN}[/]", highlight=False)


@keys_app.command("list")
@handled
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show every API key, revoked ones too, oldest first. Tokens are never shown.

    Example: hashmatch keys list --json
    """
    with _service() as service:
        keys = service.keys()
    if as_json:
        for key in keys:
            sys.stdout.write(json.dumps(_key_json(key), ensure_ascii=False) + "\n")
        return
    if not keys:
        out.print("no API keys yet: create one with 'hashmatch keys create --name N --role R'")
        return
    table = Table("key id", "name", "roles", "created", "by", "revoked")
    for key in keys:
        table.add_row(
            key.key_id,
            escape(key.name),
            ", ".join(role.value for role in key.roles),
            f"{key.created_at:%Y-%m-%d %H:%M UTC}",
            escape(key.created_by),
            "-" if key.revoked_at is None else f"{key.revoked_at:%Y-%m-%d %H:%M UTC}",
        )
    out.print(table)


@keys_app.command("revoke")
@handled
def revoke(
    key_id: Annotated[
        str, typer.Argument(metavar="KEY_ID", help="The key's id, as 'keys list' shows it.")
    ],
) -> None:
    """Revoke an API key: its token stops working at once. The key stays listed.

    Exit status 3 if no key has that id, 4 if it is revoked already.

    Example: hashmatch keys revoke 0f3a9c21b7d4
    """
    with _service() as service:
        key = service.revoke_key(key_id)
    out.print(
        f"revoked API key [bold]{key.key_id}[/] ({escape(key.name)}): its token no longer "
        "authenticates",
        highlight=False,
    )
