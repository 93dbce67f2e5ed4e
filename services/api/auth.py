"""Who is calling, and what they may do: API tokens with roles, scoped to factories.

A token comes as ``Authorization: Bearer <token>``, or as ``?token=`` in a board link (a kiosk
cannot send a header; the header wins where both are given). It is either
``FLOORSTREAM_BOOTSTRAP_TOKEN`` (admin, from start-up on) or an ``fs_<id>_<secret>`` token of
the ``api_token`` table (`floorstream token create`), not revoked.

The answers, in the order they are checked:

1. 401 ``unauthorized``: no token; a header that is not ``Bearer <token>``; a token that is
   malformed, unknown, revoked or wrong. Nothing tells these apart.
2. 403 ``forbidden``: a valid token whose role may not make this call (the matrix below).
3. 404 ``not_found``: a factory outside the token's factories, answered exactly as a factory
   that does not exist, so a token learns nothing of other tenants. The data layer refuses it
   too (`services.api.scope`).

The role matrix (every call but ``/healthz``, ``/readyz``, ``/metrics``, the API's own
documentation and the pages' static assets needs a token; the board pages are read calls):

=========================================  =====  =======  ==========  =====
call                                       admin  manager  integrator  board
=========================================  =====  =======  ==========  =====
``GET /lines`` (only the token's lines)    yes    yes      yes         yes
``GET …/lines/{line}`` (settings)          yes    yes      yes         yes
``PUT …/lines/{line}`` (settings)          yes    –        yes         –
efficiency, factory efficiency, status,    yes    yes      –           yes
downtime, timeline, orders, kanban cards,
the live feed
``POST …/kanban/cards/{id}/advance``       yes    –        –           yes
=========================================  =====  =======  ==========  =====

A board token may advance kanban cards because the warehouse board's screen does (its
"advance" button sends the page's token); a manager reads only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Request

from services.api import token_store
from services.api.deps import FactoryPath
from services.api.scope import ALL_FACTORIES, Scope
from services.api.tokens import Role, TokenError, parse_token, secret_matches
from services.runtime.settings import ApiSettings

__all__ = [
    "BOOTSTRAP_ID",
    "Caller",
    "CardMover",
    "FloorReader",
    "LineLister",
    "Principal",
    "SettingsReader",
    "SettingsWriter",
    "authenticate",
]

BOOTSTRAP_ID: Final = "bootstrap"
"""The `Principal.token_id` of ``FLOORSTREAM_BOOTSTRAP_TOKEN``."""

MAX_TOKEN_LENGTH: Final = 512
"""A presented token longer than this is refused unread (401)."""

_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller whose token was checked: which token, its role, its factories."""

    token_id: str
    role: Role
    scope: Scope


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers=_CHALLENGE)


def _presented_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("Authorization must be 'Bearer <token>'")
        return value.strip()
    token = request.query_params.get("token")
    if not token:
        raise _unauthorized("a token is required")
    return token


async def authenticate(request: Request) -> Principal:
    """The caller, from its token; 401 where there is no valid one (never naming why)."""
    presented = _presented_token(request)
    invalid = _unauthorized("the token is not valid")
    if len(presented) > MAX_TOKEN_LENGTH:
        raise invalid
    settings: ApiSettings = request.app.state.settings
    bootstrap = settings.bootstrap_token
    if bootstrap is not None and hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"),
        bootstrap.get_secret_value().encode("utf-8", "surrogatepass"),
    ):
        return Principal(BOOTSTRAP_ID, Role.ADMIN, ALL_FACTORIES)
    try:
        parsed = parse_token(presented)
    except TokenError:
        raise invalid from None
    stored = await token_store.find_token(request.app.state.pool, token_id=parsed.id)
    if (
        stored is None
        or stored.info.revoked_at is not None
        or not secret_matches(parsed.secret, stored.secret_hash)
    ):
        raise invalid
    info = stored.info
    scope = ALL_FACTORIES if info.role is Role.ADMIN else Scope.of(info.factories)
    return Principal(info.id, info.role, scope)


Caller = Annotated[Principal, Depends(authenticate)]
"""Any caller with a valid token (any role)."""


def _require_role(caller: Principal, roles: frozenset[Role]) -> None:
    if caller.role not in roles:
        raise HTTPException(403, f"a token of role {caller.role} may not make this call")


class _Allow:
    """A dependency: the caller, where its role is one of ``roles`` (else 403)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, caller: Caller) -> Principal:
        _require_role(caller, self.roles)
        return caller


class _AllowIn(_Allow):
    """A dependency of a call on ``{factory}``: the caller, where its role is one of
    ``roles`` (else 403) and the factory is one of its own (else 404, as for no factory)."""

    async def __call__(self, caller: Caller, factory: FactoryPath) -> Principal:  # type: ignore[override]
        _require_role(caller, self.roles)
        if not caller.scope.allows(factory):
            raise HTTPException(404, f"no factory {factory!r} among this token's factories")
        return caller


LineLister = Annotated[Principal, Depends(_Allow(*Role))]
SettingsReader = Annotated[Principal, Depends(_AllowIn(*Role))]
SettingsWriter = Annotated[Principal, Depends(_AllowIn(Role.ADMIN, Role.INTEGRATOR))]
FloorReader = Annotated[Principal, Depends(_AllowIn(Role.ADMIN, Role.MANAGER, Role.BOARD))]
CardMover = Annotated[Principal, Depends(_AllowIn(Role.ADMIN, Role.BOARD))]
