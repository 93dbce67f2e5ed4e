"""MQTT accounts and what Mosquitto makes of them: password hashes and ACL rules (pure).

Who may do what on the broker (docs/design.md guarantee 5, docs/contract.md §3):

1. a factory account (``factory-F``), used by the line-side senders of factory F: publish only
   under ``floor/v1/F/#``, read nothing;
2. the gateway account (``floorstream-gateway``), used by floorstream's ingest gateway: read
   ``floor/v1/#`` (plainly or through ``$share/floorstream/floor/v1/#``: Mosquitto 2 checks a
   shared subscription without its ``$share/<group>/`` prefix), publish nothing;
3. the simulator account (``floorstream-simulator``), made by ``floorstream up --simulate``:
   publish under the simulated factories' topics, like their factory accounts, read nothing;
4. anonymous clients: nothing (``allow_anonymous false``).

A factory name is a topic segment (``a-z 0-9 - _``), so ``factory-F`` never equals the fixed
names of rules 2 and 3. Mosquitto checks a publish against ``write`` rules and every message it
would deliver against ``read`` rules, so a factory account may subscribe but receives nothing.

The password file is Mosquitto 2's: ``user:$7$<iterations>$<base64 salt>$<base64 hash>``, the
hash being PBKDF2-HMAC-SHA512 of the password (what ``mosquitto_passwd`` writes).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from schemas.types import SEGMENT_REGEX

GATEWAY_USERNAME: Final = "floorstream-gateway"
SIMULATOR_USERNAME: Final = "floorstream-simulator"
FACTORY_PREFIX: Final = "factory-"
TOPIC_ROOT: Final = "floor/v1"

PBKDF2_ITERATIONS: Final = 101
"""``mosquitto_passwd``'s default. Passwords here are 192 random bits, so stretching them
further would add nothing but work for the broker on every connect."""

SALT_BYTES: Final = 12
"""As ``mosquitto_passwd``."""


class Role(enum.StrEnum):
    FACTORY = "factory"
    GATEWAY = "gateway"
    SIMULATOR = "simulator"


@dataclass(frozen=True, slots=True)
class Account:
    """One MQTT login.

    ``factories``: where it may publish (rules 1 and 3); empty for the gateway. ``password`` is
    kept only for the accounts ``floorstream up`` logs in with itself (gateway, simulator); a
    factory's password is shown once and only its hash is kept.
    """

    username: str
    role: Role
    factories: tuple[str, ...]
    password_hash: str = field(repr=False)
    password: str | None = field(default=None, repr=False)

    def publishes_under(self) -> list[str]:
        """The topic filters this account may publish to."""
        return [f"{TOPIC_ROOT}/{factory}/#" for factory in self.factories]

    def reads(self) -> list[str]:
        """The topic filters this account may read."""
        return [f"{TOPIC_ROOT}/#"] if self.role is Role.GATEWAY else []


@dataclass(frozen=True, slots=True)
class AuthFiles:
    """The two files Mosquitto reads: ``password_file`` and ``acl_file``."""

    password_file: Path
    acl_file: Path


def is_factory_name(name: str) -> bool:
    """A factory name is a topic segment: 1-64 of ``a-z 0-9 - _``."""
    return SEGMENT_REGEX.fullmatch(name) is not None


def factory_username(factory: str) -> str:
    if not is_factory_name(factory):
        raise ValueError(f"not a factory name (1-64 of a-z 0-9 - _): {factory!r}")
    return FACTORY_PREFIX + factory


def new_password() -> str:
    """192 random bits, URL-safe (no percent-encoding needed in ``mqtt://user:pass@…``)."""
    return secrets.token_urlsafe(24)


def hash_password(
    password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS
) -> str:
    """Mosquitto 2's ``$7$`` form of ``password`` (a fresh random salt unless one is given)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (constant-time comparison)."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, expected = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(digest, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def new_account(
    username: str, role: Role, factories: Iterable[str], *, keep_password: bool
) -> tuple[Account, str]:
    """A new account with a fresh password, and that password."""
    password = new_password()
    account = Account(
        username,
        role,
        tuple(factories),
        hash_password(password),
        password if keep_password else None,
    )
    return account, password


def render_password_file(accounts: Iterable[Account]) -> str:
    """Mosquitto's ``password_file``: one ``user:$7$…`` line per account."""
    return "".join(f"{a.username}:{a.password_hash}\n" for a in ordered(accounts))


def render_acl_file(accounts: Iterable[Account]) -> str:
    """Mosquitto's ``acl_file``: rules per user; none for anonymous clients (rule 4)."""
    lines = [
        "# Written by `floorstream mqtt credentials`: change it with that command, not by hand.",
        "# No rules before the first `user` line: anonymous clients may do nothing.",
    ]
    for account in ordered(accounts):
        lines += ["", f"user {account.username}"]
        lines += [f"topic read {topic}" for topic in account.reads()]
        lines += [f"topic write {topic}" for topic in account.publishes_under()]
    return "\n".join(lines) + "\n"


def ordered(accounts: Iterable[Account]) -> list[Account]:
    """Gateway first, then the simulator, then factories by name."""
    order = {Role.GATEWAY: 0, Role.SIMULATOR: 1, Role.FACTORY: 2}
    return sorted(accounts, key=lambda a: (order[a.role], a.username))
