"""The API's routers, one module per resource; :data:`ROUTERS` is what the app mounts."""

from __future__ import annotations

from fastapi import APIRouter

from hashmatch.web.routes import audit, gradings, health, keys, lists, match, runs

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    match.router,
    runs.router,
    lists.router,
    gradings.router,
    audit.router,
    keys.router,
)
