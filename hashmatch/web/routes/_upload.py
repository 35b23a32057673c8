"""Reading an uploaded manifest or list file: the raw request body, streamed to a file.

The body is written as it arrives into the file the service set aside for it (under
``uploads/`` in the data directory, removed once the request is done), so an upload of
gigabytes never sits in memory; the size limit is the middleware's
(``HASHMATCH_API_MAX_UPLOAD_BYTES``). A body declared as an image, a video or audio is
refused before it is read: the API takes digests and metadata, never file content. What
the body holds is checked by the service, which refuses anything an installed adapter
does not recognise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request

from hashmatch.errors import UnsupportedFormat

__all__ = ["UPLOAD_BODY", "save_body"]

_CONTENT_TYPES = ("image/", "video/", "audio/")

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file itself, as the raw body (any text or binary content type "
        "but images, video and audio).",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}
"""The ``openapi_extra`` of an upload route: the body is a file, read by hand."""


async def save_body(request: Request, path: Path) -> None:
    """Write the request body to ``path`` as it arrives."""
    declared = request.headers.get("content-type", "").strip().lower()
    if declared.startswith(_CONTENT_TYPES):
        raise UnsupportedFormat(
            f"a body sent as {declared.split(';')[0]} is file content, which hashmatch never "
            "accepts: send a manifest or list file of digests"
        )
    with open(path, "wb") as handle:
        async for chunk in request.stream():
            handle.write(chunk)
