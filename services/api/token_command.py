"""``floorstream token``: make, list and revoke API tokens (the CLI of `token_store`); and the
two tokens `floorstream up` keeps in its data directory.

The database is ``FLOORSTREAM_DATABASE_URL`` where it is set, else the embedded PostgreSQL of
`floorstream up` on ``--data-dir`` (its port is kept in ``postgres.port`` there), so that the
commands work in a fresh shell beside a running ``make run``. One that does not answer is one
line saying what to do (`services.cli`), never a traceback.

`floorstream up` makes each of its tokens once per data directory and keeps it there in a file
only its owner may read or write (mode 0600 from its creation, `_keep`; a file any wider is
refused, `_kept`):

- ``admin.token``: the API's ``FLOORSTREAM_BOOTSTRAP_TOKEN`` (unless that is set), printed at
  the first start and by ``floorstream up --print-admin-token``;
- ``board.token``: the API token of role ``board`` in the board links it prints, registered
  again where the database is new, its factories widened at each start to every factory the
  database knows (`register_board_token`), and made anew only once it is revoked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import socket
import stat
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeVar

import asyncpg
from asyncpg import Pool
from pydantic import SecretStr

from schemas.types import SEGMENT_REGEX
from services.api import token_store
from services.api.tokens import Role, TokenError, new_token, parse_token
from services.cli import program
from services.runtime.database import open_database
from services.runtime.errors import ConfigurationError, MigrationError
from services.runtime.redact import masked_url
from services.runtime.settings import TokenSettings
from services.stack.embedded.postgres import DATABASE, SUPERUSER
from services.stack.embedded.stack import POSTGRES_PORT_FILE

log = logging.getLogger(f"floorstream.{__name__}")

T = TypeVar("T")
AdminSource = Literal["environment", "new", "kept"]

DATA_DIR: Final = Path(".floorstream")
"""`floorstream up`'s default ``--data-dir``."""
CONNECT_TIMEOUT_S: Final = 30.0
"""How long a command waits for the database (and its migrations) before it gives up."""
ADMIN_TOKEN_FILE: Final = "admin.token"  # noqa: S105 - a file's name
BOARD_TOKEN_FILE: Final = "board.token"  # noqa: S105 - a file's name
BOARD_TOKEN_LABEL: Final = "the board links of floorstream up"  # noqa: S105 - a label

DESCRIPTION: Final = """\
API tokens with roles. admin: everything, every factory. manager: read everything of its
factories. integrator: list its factories' lines, read and set their settings. board: a
shop-floor screen's token, carried in a board link (?token=): read its factories' boards and
live feeds, advance kanban cards. A token is shown once, when made; only a hash of its secret
is kept. The database is FLOORSTREAM_DATABASE_URL where set, else the one of a running
`floorstream up` on --data-dir (default .floorstream). The admin token of `floorstream up` is
printed by `floorstream up --print-admin-token`; it is not an API token and is not listed."""


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
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="where FLOORSTREAM_DATABASE_URL is not set: the data directory of the "
        "`floorstream up` whose database to use (default .floorstream)",
    )
    create = actions.add_parser(
        "create",
        parents=[where],
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
    listing = actions.add_parser("list", parents=[where], help="list the tokens (never a secret)")
    listing.set_defaults(run=run_list)
    revoke = actions.add_parser(
        "revoke", parents=[where], help="revoke a token: refused from now on"
    )
    revoke.add_argument("id", help="the token's id, as `token list` shows it")
    revoke.set_defaults(run=run_revoke)


def _database(data_dir: Path) -> tuple[str, str]:
    """The database's URL, and what to do where it does not answer."""
    given = TokenSettings().database_url
    if given is not None:
        return given.get_secret_value(), (
            "check FLOORSTREAM_DATABASE_URL, or unset it to use the database of a running "
            "`floorstream up`"
        )
    try:
        port = int((data_dir / POSTGRES_PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        raise ConfigurationError(
            f"FLOORSTREAM_DATABASE_URL is not set, and {data_dir} holds no database of "
            "`floorstream up`: start it (`make run`), give its --data-dir, or set "
            "FLOORSTREAM_DATABASE_URL"
        ) from None
    url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    return url, f"is `floorstream up` running on {data_dir}? Start it (`make run`)"


def _why(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "nothing answers at its address"
    if isinstance(error, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
    if isinstance(error, socket.gaierror):
        return "its host is unknown"
    if isinstance(error, ValueError):
        return f"not a valid URL: {error}"
    return " ".join(str(error).split()) or type(error).__name__


def _with_database(data_dir: Path, action: Callable[[Pool], Awaitable[T]]) -> T:
    url, advice = _database(data_dir)

    async def main() -> T:
        async with contextlib.AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    database = open_database(url, min_size=1, max_size=1)
                    pool = await stack.enter_async_context(database)
            except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                raise ConfigurationError(
                    f"cannot use the database at {masked_url(url)} ({_why(error)}): {advice}"
                ) from None
            return await action(pool)

    return asyncio.run(main())


def data_dir_option(data_dir: Path) -> str:
    """`` --data-dir DIR`` for a command to paste, where it is not the default."""
    return "" if data_dir == DATA_DIR else f" --data-dir {shlex.quote(str(data_dir.resolve()))}"


def _here(args: argparse.Namespace) -> str:
    return data_dir_option(args.data_dir)


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

    text, info = _with_database(args.data_dir, create)
    lines = [
        f"{info.role} token {info.id} for {_factories(info)} (shown once: keep it now):",
        f"  {text}",
    ]
    if role is Role.BOARD:
        base = args.api_url.rstrip("/")
        lines.append("board links:")
        lines += [f"  {base}/boards/{factory}?token={text}" for factory in info.factories]
        lines.append(f"  {base}/?token={text}")
    lines.append(f"revoke it with: {program()} token revoke {info.id}{_here(args)}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def run_list(args: argparse.Namespace) -> int:
    tokens = _with_database(args.data_dir, token_store.list_tokens)
    if not tokens:
        sys.stdout.write("no API tokens (an admin FLOORSTREAM_BOOTSTRAP_TOKEN is not listed)\n")
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

    info = _with_database(args.data_dir, revoke)
    if info is None:
        return _fail(f"no token {args.id!r}: `{program()} token list{_here(args)}` lists them")
    sys.stdout.write(f"token {info.id} ({info.role}, {_factories(info)}) is revoked\n")
    return 0


def _factories(info: token_store.TokenInfo) -> str:
    return ",".join(info.factories) if info.factories else "every factory"


def _fail(message: str) -> int:
    sys.stderr.write(f"floorstream token: {message}\n")
    return 1


# --- The tokens `floorstream up` keeps in its data directory ----------------------------------


def print_admin_token(bootstrap: SecretStr | None, data_dir: Path) -> int:
    """``floorstream up --print-admin-token``: the admin token alone on stdout, to script."""
    if bootstrap is not None:
        token: str | None = bootstrap.get_secret_value()
    else:
        token = _kept(data_dir / ADMIN_TOKEN_FILE)
    if token is None:
        raise ConfigurationError(
            f"no admin token in {data_dir} yet: `{program()} up{data_dir_option(data_dir)}` "
            "makes one at its first start"
        )
    sys.stdout.write(token + "\n")
    return 0


@dataclass(frozen=True)
class UpTokens:
    """The tokens of one start of `floorstream up`: the admin token and where it is from; the
    board token kept (None before the first), where, and the factories it is for at least."""

    admin: str
    admin_source: AdminSource
    data_dir: Path
    board: str | None
    factories: list[str]
    embedded_database: bool

    @classmethod
    def load(
        cls,
        bootstrap: SecretStr | None,
        data_dir: Path,
        factories: list[str],
        *,
        embedded_database: bool,
    ) -> UpTokens:
        """The admin token (made where there is none) and the board token kept, if any."""
        admin, source = admin_token(bootstrap, data_dir)
        board = kept_board_token(data_dir)
        return cls(admin, source, data_dir, board, factories, embedded_database)


def admin_token(bootstrap: SecretStr | None, data_dir: Path) -> tuple[str, AdminSource]:
    """The API's admin token: FLOORSTREAM_BOOTSTRAP_TOKEN where set, else the one kept in the
    data directory, made at its first start."""
    if bootstrap is not None:
        return bootstrap.get_secret_value(), "environment"
    path = data_dir / ADMIN_TOKEN_FILE
    kept = _kept(path)
    if kept is not None:
        return kept, "kept"
    made = secrets.token_urlsafe(32)
    _keep(path, made)
    log.info("made the admin token, kept in %s (only its owner may read it)", path)
    return made, "new"


def kept_board_token(data_dir: Path) -> str | None:
    """The board token kept in the data directory, None before there is one."""
    path = data_dir / BOARD_TOKEN_FILE
    text = _kept(path)
    if text is not None:
        try:
            parse_token(text)
        except TokenError:
            raise ConfigurationError(
                f"{path} holds no board token: delete it, and the next start makes a new one"
            ) from None
    return text


async def register_board_token(
    database_url: str, data_dir: Path, kept: str | None, factories: list[str]
) -> str | None:
    """The board token, valid in the database for ``factories``, its own and every factory the
    database knows; made and kept where there is none or it is revoked. None, for no board
    link, while no factory is known (a board token needs one) or the database cannot be
    written (logged)."""
    path = data_dir / BOARD_TOKEN_FILE
    try:
        async with open_database(database_url, min_size=1, max_size=1) as pool:
            rows = await pool.fetch("SELECT DISTINCT factory FROM line ORDER BY factory")
            known = {*factories, *(row["factory"] for row in rows)}
            text = kept
            if text is not None:  # its factories stay its own, as on a database that has them
                stored = await token_store.find_token(pool, token_id=parse_token(text).id)
                known |= set(stored.info.factories if stored is not None else ())
            if not known:
                return None
            for _ in range(2):  # the kept token, then a new one where that is revoked
                if text is None:
                    text = new_token()[0]
                    _keep(path, text)
                if await token_store.register_token(
                    pool, text=text, role=Role.BOARD, factories=known, label=BOARD_TOKEN_LABEL
                ):
                    return text
                log.warning("the board token kept in %s is revoked: making a new one", path)
                text = None
    except (OSError, asyncpg.PostgresError, MigrationError) as error:
        log.error("no board link this time: the board token could not be registered: %s", error)
    return None


def _kept(path: Path) -> str | None:
    """The token kept in ``path``, None where there is none; `ConfigurationError` (one line,
    what to do) where anyone but its owner may read or write the file, or it holds no token."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigurationError(
            f"cannot read {path} ({error.strerror}): run as its owner, or delete it for a new one"
        ) from None
    with os.fdopen(fd, encoding="utf-8") as file:
        found = os.fstat(file.fileno())
        mode = stat.S_IMODE(found.st_mode)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
            raise ConfigurationError(f"{path} is not a file of yours: refused; delete it")
        if mode & 0o077:
            raise ConfigurationError(
                f"{path} may be read by others than its owner (mode {mode:03o}): refused; "
                f"make it owner-only (chmod 600 {shlex.quote(str(path))}) or delete it"
            )
        text = file.read().strip()
    if len(text.split()) != 1:
        raise ConfigurationError(f"{path} holds no token: delete it for a new one")
    return text


def _keep(path: Path, text: str) -> None:
    """Keep ``text`` in ``path``, owner-only from the first byte: written to a new file created
    with mode 0600 (``O_CREAT | O_EXCL``), then renamed over ``path``, which so never exists
    half-written nor readable by anyone else."""
    new = path.with_name(f".{path.name}.{os.getpid()}.new")
    with contextlib.suppress(FileNotFoundError):
        new.unlink()  # left by a start that died here
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(new, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            new.unlink()
