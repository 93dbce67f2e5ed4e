"""The ``api_token`` table (``0006_tokens.sql``): make, find, list and revoke API tokens.

Keyword-only functions over an asyncpg pool or connection. Only the SHA-256 of a secret is
ever written; a token's full text is returned once, by `create_token`, and never stored,
listed or logged here. `register_token` takes a token whose text is kept elsewhere (the board
token `floorstream up` keeps in its data directory) and makes sure the database knows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from schemas.types import SEGMENT_REGEX
from services.api.tokens import Role, hash_secret, new_token, parse_token

__all__ = [
    "StoredToken",
    "TokenInfo",
    "create_token",
    "find_token",
    "list_tokens",
    "register_token",
    "revoke_token",
]

MAX_LABEL: Final = 200


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    role: Role
    factories: tuple[str, ...]
    """Empty for an admin token: every factory."""
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token as the API checks it: its row, with the hash of its secret."""

    info: TokenInfo
    secret_hash: bytes


def _info(r: Any) -> TokenInfo:
    return TokenInfo(
        id=r["id"],
        role=Role(r["role"]),
        factories=tuple(r["factories"]),
        label=r["label"],
        created_at=r["created_at"],
        revoked_at=r["revoked_at"],
    )


def check_grant(role: Role, factories: Sequence[str], label: str) -> tuple[str, ...]:
    """The factories of a new token, checked: none for admin, one or more valid factory names
    for every other role; `ValueError` with the reason otherwise."""
    if role is Role.ADMIN and factories:
        raise ValueError("an admin token is for every factory: give no --factory")
    if role is not Role.ADMIN and not factories:
        raise ValueError(f"a {role} token needs at least one --factory")
    for factory in factories:
        if SEGMENT_REGEX.fullmatch(factory) is None:
            raise ValueError(f"not a factory name: {factory!r} (1-64 of a-z 0-9 - _)")
    if len(label) > MAX_LABEL:
        raise ValueError(f"the label may be at most {MAX_LABEL} characters")
    return tuple(sorted(set(factories)))


async def create_token(
    db: Any, *, role: Role, factories: Iterable[str] = (), label: str = ""
) -> tuple[str, TokenInfo]:
    """A new token: its full text (shown once, never stored) and its row."""
    granted = check_grant(role, list(factories), label)
    text, parts = new_token()
    record = await db.fetchrow(
        "INSERT INTO api_token (id, secret_hash, role, factories, label)"
        " VALUES ($1, $2, $3, $4, $5)"
        " RETURNING id, role, factories, label, created_at, revoked_at",
        parts.id,
        hash_secret(parts.secret),
        role.value,
        list(granted),
        label,
    )
    return text, _info(record)


async def register_token(
    db: Any, *, text: str, role: Role, factories: Iterable[str] = (), label: str = ""
) -> TokenInfo | None:
    """Make the token of full text ``text`` valid with ``role`` for at least ``factories``:
    its row is made where its id has none (a new database), else its factories are widened to
    take in ``factories``. None where that id's row is revoked, or is of another role or
    secret: such a token is never made valid again. `TokenError` where ``text`` is no token."""
    parts = parse_token(text)
    granted = check_grant(role, list(factories), label)
    record = await db.fetchrow(
        "INSERT INTO api_token (id, secret_hash, role, factories, label)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET factories = ARRAY("
        "  SELECT DISTINCT f FROM unnest(api_token.factories || EXCLUDED.factories) AS f"
        "  ORDER BY f)"
        " WHERE api_token.secret_hash = EXCLUDED.secret_hash"
        " AND api_token.role = EXCLUDED.role AND api_token.revoked_at IS NULL"
        " RETURNING id, role, factories, label, created_at, revoked_at",
        parts.id,
        hash_secret(parts.secret),
        role.value,
        list(granted),
        label,
    )
    return None if record is None else _info(record)


async def find_token(db: Any, *, token_id: str) -> StoredToken | None:
    """The token of that id, revoked or not; None where there is none."""
    r = await db.fetchrow(
        "SELECT id, secret_hash, role, factories, label, created_at, revoked_at"
        " FROM api_token WHERE id = $1",
        token_id,
    )
    return None if r is None else StoredToken(_info(r), bytes(r["secret_hash"]))


async def list_tokens(db: Any) -> list[TokenInfo]:
    """Every token, oldest first."""
    records = await db.fetch(
        "SELECT id, role, factories, label, created_at, revoked_at FROM api_token"
        " ORDER BY created_at, id"
    )
    return [_info(r) for r in records]


async def revoke_token(db: Any, *, token_id: str) -> TokenInfo | None:
    """Revoke the token (from now on it is refused); None where there is no such token. A
    token revoked already keeps its first revocation time."""
    r = await db.fetchrow(
        "UPDATE api_token SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1"
        " RETURNING id, role, factories, label, created_at, revoked_at",
        token_id,
    )
    return None if r is None else _info(r)
