"""Who is calling: a bearer token, or ``?token=`` on board pages (a kiosk cannot send a header).

Today one token is accepted, ``FLOORSTREAM_BOOTSTRAP_TOKEN`` (admin); roles and per-factory
tokens come with the security issue.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from floorstream.services.runtime.settings import ApiSettings


def _presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise HTTPException(
                401,
                "Authorization must be 'Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return value.strip()
    return request.query_params.get("token")


def require_token(request: Request) -> str:
    """The caller's token, checked; 401 where it is missing or wrong."""
    settings: ApiSettings = request.app.state.settings
    presented = _presented_token(request)
    if presented is None:
        raise HTTPException(401, "a token is required", headers={"WWW-Authenticate": "Bearer"})
    expected = settings.bootstrap_token
    if expected is None or not hmac.compare_digest(
        presented.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})
    return presented


Caller = Annotated[str, Depends(require_token)]
