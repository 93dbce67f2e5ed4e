"""``floorstream token``: make, list and revoke API tokens (the CLI of `token_store`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from asyncpg import Pool

from floorstream.schemas.types import SEGMENT_REGEX
from floorstream.services.api import token_store
from floorstream.services.api.tokens import Role
from floorstream.services.runtime.database import open_database
from floorstream.services.runtime.settings import CommonSettings

T = TypeVar("T")

DESCRIPTION: Final = """\
API tokens with roles. admin: everything, every factory. manager: read everything of its
factories. integrator: list its factories' lines, read and set their settings. board: a
shop-floor screen's token, carried in a board link (?token=): read its factories' boards and
live feeds, advance kanban cards. A token is shown once, when made; only a hash of its secret
is kept. Needs FLOORSTREAM_DATABASE_URL."""


def _factory(text: str) -> str:
    if SEGMENT_REGEX.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(f"not a factory name: {text!r} (1-64 of a-z 0-9 - _)")
    return text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``token`` (``create``, ``list``, ``revoke``) to the ``floorstream`` command."""
    parser = subparsers.add_parser(
        "token",
        help="API tokens with roles (admin, manager, integrator, board)",
        description=DESCRIPTION,
    )
    actions = parser.add_subparsers(
        dest="token_command", metavar="ACTION", required=True, help="what to do (each has --help)"
    )
    create = actions.add_parser(
        "create",
        help="make a token; it is shown once",
        description="Make a token and print it once (only a hash of it is kept). A board "
        "token's board links are printed too.",
    )
    create.add_argument(
        "--role", required=True, choices=[role.value for role in Role], help="what it may do"
    )
    create.add_argument(
        "--factory",
        dest="factories",
        action="append",
        default=[],
        type=_factory,
        metavar="F",
        help="a factory it may see (repeat for several); every role but admin needs one",
    )
    create.add_argument(
        "--label", default="", help="what it is for, shown by `token list` (e.g. 'press hall')"
    )
    create.add_argument(
        "--api-url",
        default="http://127.0.0.1:8000",
        help="where screens reach the API, for the board links printed "
        "(default http://127.0.0.1:8000)",
    )
    create.set_defaults(run=run_create)
    listing = actions.add_parser("list", help="list the tokens (never a secret)")
    listing.set_defaults(run=run_list)
    revoke = actions.add_parser("revoke", help="revoke a token: refused from now on")
    revoke.add_argument("id", help="the token's id, as `token list` shows it")
    revoke.set_defaults(run=run_revoke)


def _with_database(action: Callable[[Pool], Awaitable[T]]) -> T:
    url = CommonSettings().require_database()

    async def main() -> T:
        async with open_database(url, min_size=1, max_size=1) as pool:
            return await action(pool)

    return asyncio.run(main())


def run_create(args: argparse.Namespace) -> int:
    role = Role(args.role)
    try:
        token_store.check_grant(role, args.factories, args.label)
    except ValueError as error:
        return _fail(str(error))

    async def create(pool: Pool) -> tuple[str, token_store.TokenInfo]:
        return await token_store.create_token(
            pool, role=role, factories=args.factories, label=args.label
        )

    text, info = _with_database(create)
    lines = [
        f"{info.role} token {info.id} for {_factories(info)} (shown once: keep it now):",
        f"  {text}",
    ]
    if role is Role.BOARD:
        base = args.api_url.rstrip("/")
        lines.append("board links:")
        lines += [f"  {base}/boards/{factory}?token={text}" for factory in info.factories]
        lines.append(f"  {base}/?token={text}")
    lines.append(f"revoke it with: floorstream token revoke {info.id}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def run_list(args: argparse.Namespace) -> int:
    tokens = _with_database(token_store.list_tokens)
    if not tokens:
        sys.stdout.write("no API tokens (FLOORSTREAM_BOOTSTRAP_TOKEN is not listed)\n")
        return 0
    rows = [("ID", "ROLE", "FACTORIES", "CREATED", "REVOKED", "LABEL")]
    rows += [
        (
            t.id,
            t.role.value,
            _factories(t),
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at is not None else "-",
            t.label,
        )
        for t in tokens
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[5]]).rstrip() + "\n")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    async def revoke(pool: Pool) -> token_store.TokenInfo | None:
        return await token_store.revoke_token(pool, token_id=args.id)

    info = _with_database(revoke)
    if info is None:
        return _fail(f"no token {args.id!r} (see `floorstream token list`)")
    sys.stdout.write(f"token {info.id} ({info.role}, {_factories(info)}) is revoked\n")
    return 0


def _factories(info: token_store.TokenInfo) -> str:
    return ",".join(info.factories) if info.factories else "every factory"


def _fail(message: str) -> int:
    sys.stderr.write(f"floorstream token: {message}\n")
    return 1
