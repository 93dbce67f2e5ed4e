"""Refuse request bodies over a size limit, with a 413 in the error format.

Two checks: a ``Content-Length`` over the limit is refused before the app runs; a body sent
without one (chunked) is counted as it is read, and reading past the limit raises the 413
inside the app, where the error handlers answer it.
"""

from __future__ import annotations

from typing import Final

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.types import MAX_PAYLOAD_BYTES
from services.api.errors import error_body

MAX_BODY_BYTES: Final = MAX_PAYLOAD_BYTES
"""Largest request body accepted, in bytes (64 KiB, as an MQTT payload)."""


def _too_large(limit: int) -> str:
    return f"the request body is over {limit} bytes ({limit // 1024} KiB)"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses it; nothing to limit here
    return None


class BodyLimit:
    """ASGI middleware: at most ``limit`` bytes of request body per HTTP request."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.limit:
            response = JSONResponse(error_body("too_large", _too_large(self.limit)), 413)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, counted, send)
