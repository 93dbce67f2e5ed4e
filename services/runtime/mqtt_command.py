"""``floorstream mqtt``: MQTT credentials per factory (the CLI hook of :mod:`mqtt_credentials`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final
from urllib.parse import quote

from schemas.types import SEGMENT_REGEX
from services.runtime.mqtt_auth import Account, ordered
from services.runtime.mqtt_credentials import (
    AUTH_DIR_NAME,
    CredentialsError,
    CredentialStore,
    gateway_secrets,
)

DESCRIPTION: Final = f"""\
MQTT credentials per factory. `credentials --factory F` makes an account for factory F's
line-side senders: it may publish under floor/v1/F/# only and read nothing. The first one also
makes the account of floorstream's ingest gateway, which may read floor/v1/# and publish
nothing. Anonymous clients may do nothing. The Mosquitto password and ACL files are written to
DATA_DIR/{AUTH_DIR_NAME}/ (mode 0600): `floorstream up --data-dir DATA_DIR` then runs its
embedded Mosquitto with them, and a production Mosquitto mounts them (deploy/mosquitto/). A
running broker reads them again on restart or SIGHUP."""


def _factory(text: str) -> str:
    if SEGMENT_REGEX.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"not a factory name: {text!r} (1-64 of a-z 0-9 - _, as in the topic)"
        )
    return text


def _broker(text: str) -> str:
    host, colon, port = text.rpartition(":")
    if not (colon and host and port.isdigit() and 0 < int(port) < 65536):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return text


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".floorstream"),
        help=f"the data directory of `floorstream up`; the files go to its {AUTH_DIR_NAME}/ "
        "(default .floorstream)",
    )


def _factory_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--factory", required=True, type=_factory, metavar="F", help=text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``mqtt`` (``credentials``, ``list``, ``revoke``) to the ``floorstream`` command."""
    parser = subparsers.add_parser(
        "mqtt",
        help="MQTT credentials per factory (Mosquitto password and ACL files)",
        description=DESCRIPTION,
    )
    actions = parser.add_subparsers(
        dest="mqtt_command", metavar="ACTION", required=True, help="what to do (each has --help)"
    )
    issue = actions.add_parser(
        "credentials",
        help="make (or --rotate) a factory's credentials; the password is shown once",
        description="Make an account for factory F's line-side senders and print its username, "
        "password and mqtt:// URL once: only a hash of the password is kept.",
    )
    _factory_option(issue, "the factory whose senders publish under floor/v1/F/#")
    issue.add_argument(
        "--rotate",
        action="store_true",
        help="replace the factory's existing password (the old one stops working once the "
        "broker reloads its files)",
    )
    issue.add_argument(
        "--broker",
        type=_broker,
        default="127.0.0.1:1883",
        metavar="HOST:PORT",
        help="where senders reach the broker, for the URL printed (default 127.0.0.1:1883)",
    )
    _data_dir(issue)
    issue.set_defaults(run=run_credentials)
    listing = actions.add_parser(
        "list", help="list the accounts and what each may do (never a password)"
    )
    _data_dir(listing)
    listing.set_defaults(run=run_list)
    revoke = actions.add_parser("revoke", help="remove a factory's credentials")
    _factory_option(revoke, "the factory whose credentials to remove")
    _data_dir(revoke)
    revoke.set_defaults(run=run_revoke)


def _url(username: str, password: str, broker: str) -> str:
    return f"mqtt://{quote(username, safe='')}:{quote(password, safe='')}@{broker}"


def run_credentials(args: argparse.Namespace) -> int:
    store = CredentialStore.in_data_dir(args.data_dir)
    try:
        issued = store.issue_factory(args.factory, rotate=args.rotate)
    except CredentialsError as error:
        return _fail(error)
    account, password = issued.account, issued.password
    verb = "new password" if args.rotate else "credentials"
    lines = [
        f"MQTT {verb} for factory {args.factory} (shown once: keep them now):",
        f"  username: {account.username}",
        f"  password: {password}",
        f"  url:      {_url(account.username, password, args.broker)}",
        f"  may publish under {', '.join(account.publishes_under())} only, and read nothing.",
    ]
    if issued.gateway is not None:
        gateway, gateway_password = issued.gateway
        client_id, group = gateway_secrets(gateway_password)
        lines += [
            "The gateway's account was made too (reads floor/v1/#, publishes nothing); "
            "`floorstream up` uses it by itself:",
            f"  url:      {_url(gateway.username, gateway_password, args.broker)}",
            "  (for a gateway run on its own: FLOORSTREAM_MQTT_URL)",
            "  Run it under names no factory can guess (Mosquitto's ACLs cannot keep a factory "
            "out of its shared group or off its client id):",
            f"  FLOORSTREAM_GATEWAY_CLIENT_ID={client_id} (add -1, -2... per gateway)",
            f"  FLOORSTREAM_GATEWAY_SHARED_GROUP={group}",
        ]
    lines += [
        f"Mosquitto files: {store.files.password_file} and {store.files.acl_file}; "
        "a running broker applies them on restart or SIGHUP.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def run_list(args: argparse.Namespace) -> int:
    try:
        accounts = CredentialStore.in_data_dir(args.data_dir).accounts()
    except CredentialsError as error:
        return _fail(error)
    if not accounts:
        sys.stdout.write(f"no MQTT credentials in {args.data_dir / AUTH_DIR_NAME}\n")
        return 0
    rows = [("USERNAME", "ROLE", "FACTORIES", "MAY")]
    rows += [
        (a.username, a.role.value, ",".join(a.factories) or "-", _may(a)) for a in ordered(accounts)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[3]]) + "\n")
    return 0


def _may(account: Account) -> str:
    rights = [f"read {t}" for t in account.reads()]
    rights += [f"publish {t}" for t in account.publishes_under()]
    return ", ".join(rights) or "nothing"


def run_revoke(args: argparse.Namespace) -> int:
    try:
        removed = CredentialStore.in_data_dir(args.data_dir).revoke_factory(args.factory)
    except CredentialsError as error:
        return _fail(error)
    sys.stdout.write(
        f"removed {removed.username}; a running broker refuses it once it reloads its files "
        "(restart or SIGHUP)\n"
    )
    return 0


def _fail(error: CredentialsError) -> int:
    sys.stderr.write(f"floorstream mqtt: {error}\n")
    return 1
