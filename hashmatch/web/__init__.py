"""The HTTP API (FastAPI): a thin layer over :class:`hashmatch.service.Service`.

``create_app(settings)`` builds the app; ``hashmatch serve`` runs it under uvicorn with
several workers. Only this package imports FastAPI, Starlette and prometheus_client.
"""

from __future__ import annotations

from hashmatch.web.app import create_app

__all__ = ["create_app"]
