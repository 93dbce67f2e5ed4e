"""API tokens: their roles, their format, and how a presented secret is checked. Pure.

A token is ``fs_<id>_<secret>``: ``id`` is 12 of ``a-z 0-9`` (public: listed, revoked by, the
row it is looked up by), ``secret`` is 32 random bytes as URL-safe base64 (43 characters). Only
the SHA-256 of the secret is stored (`hash_secret`): with 256 random bits there is nothing to
guess, so a slow password hash would add cost and no safety. Secrets are compared in constant
time (`secret_matches`).

A token in a board link (``?token=``) is a ``board`` token: unforgeable as a signature is (no
one can make a valid one without the database), and revocable one by one, which a signature
alone is not.

Errors: `TokenError` (a ``ValueError``) for any text that is not a token of this format; no
other exception comes out of `parse_token`, whatever the text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum
from typing import Final, NamedTuple

__all__ = [
    "PREFIX",
    "ParsedToken",
    "Role",
    "TokenError",
    "hash_secret",
    "new_token",
    "parse_token",
    "secret_matches",
]

PREFIX: Final = "fs_"
_ID_LENGTH: Final = 6  # bytes: 12 hex characters
_SECRET_BYTES: Final = 32
_TOKEN: Final = re.compile(r"fs_([a-z0-9]{12})_([A-Za-z0-9_-]{43})", re.ASCII)


class Role(StrEnum):
    """What a token may do (the matrix is in `services.api.auth`)."""

    ADMIN = "admin"
    """Everything, in every factory."""
    MANAGER = "manager"
    """Read everything of its factories."""
    INTEGRATOR = "integrator"
    """List the lines of its factories, read and set their settings."""
    BOARD = "board"
    """A shop-floor screen: read its factories' boards and live feeds, advance kanban cards."""


class TokenError(ValueError):
    """The text is not a token of the ``fs_<id>_<secret>`` format."""


class ParsedToken(NamedTuple):
    id: str
    secret: str


def new_token() -> tuple[str, ParsedToken]:
    """A fresh token: its full text (to show once) and its parts."""
    parts = ParsedToken(secrets.token_hex(_ID_LENGTH), secrets.token_urlsafe(_SECRET_BYTES))
    return f"{PREFIX}{parts.id}_{parts.secret}", parts


def parse_token(text: str) -> ParsedToken:
    """The parts of ``text``; `TokenError` where it is not a token (it never names the text,
    which may be a secret)."""
    match = _TOKEN.fullmatch(text) if isinstance(text, str) and len(text) < 100 else None
    if match is None:
        raise TokenError("not a floorstream token (fs_<id>_<secret>)")
    return ParsedToken(match[1], match[2])


def hash_secret(secret: str) -> bytes:
    """What is stored of a secret: its SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    """Whether ``secret`` is the one whose hash is ``stored_hash``, in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
