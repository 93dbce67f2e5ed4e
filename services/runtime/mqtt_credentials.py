"""The MQTT credentials store: ``<data-dir>/mqtt-auth/``, the files a Mosquitto broker mounts.

Layout (directory 0700, every file 0600 and replaced atomically):

- ``accounts.json``: the accounts (see :mod:`mqtt_auth`); the source of truth;
- ``passwd``: Mosquitto's ``password_file``, rendered from it (hashes only);
- ``acl``: Mosquitto's ``acl_file``, rendered from it.

Credentials "exist" once ``accounts.json`` holds an account: from then on `floorstream up` runs
its embedded Mosquitto with them, and anonymous clients are refused. The first factory's
credentials also create the gateway's account, whose password is kept in ``accounts.json`` so
that `up` can give it to the gateway. Removing the directory turns authentication off again.
A broker reads the files when it starts (or on SIGHUP); changes apply from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from services.runtime.errors import ConfigurationError
from services.runtime.mqtt_auth import (
    GATEWAY_USERNAME,
    SIMULATOR_USERNAME,
    Account,
    AuthFiles,
    Role,
    factory_username,
    new_account,
    render_acl_file,
    render_password_file,
)

AUTH_DIR_NAME: Final = "mqtt-auth"
_FORMAT_VERSION: Final = 1


class CredentialsError(ConfigurationError):
    """The credentials store cannot do what was asked (unknown or existing account, bad file)."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A factory's new credentials; ``gateway`` too where the gateway's were made with them."""

    account: Account
    password: str
    gateway: tuple[Account, str] | None = None


class CredentialStore:
    """The accounts kept in one directory, and the Mosquitto files rendered from them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._accounts_path = directory / "accounts.json"

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> CredentialStore:
        return cls(data_dir / AUTH_DIR_NAME)

    @property
    def files(self) -> AuthFiles:
        return AuthFiles(self.directory / "passwd", self.directory / "acl")

    def exists(self) -> bool:
        """Whether credentials exist, i.e. the broker must refuse anonymous clients."""
        return bool(self.accounts())

    def accounts(self) -> list[Account]:
        if not self._accounts_path.exists():
            return []
        try:
            document = json.loads(self._accounts_path.read_text())
            return [_account(entry) for entry in document["accounts"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CredentialsError(f"cannot read {self._accounts_path}: {error}") from None

    def issue_factory(self, factory: str, *, rotate: bool = False) -> Issued:
        """New credentials for ``factory``; with ``rotate``, a new password for existing ones."""
        username = factory_username(factory)
        accounts = {a.username: a for a in self.accounts()}
        if username in accounts and not rotate:
            raise CredentialsError(
                f"factory {factory} already has credentials ({username}); --rotate replaces "
                "its password"
            )
        if username not in accounts and rotate:
            raise CredentialsError(f"factory {factory} has no credentials to rotate")
        account, password = new_account(username, Role.FACTORY, [factory], keep_password=False)
        accounts[username] = account
        gateway = None
        if GATEWAY_USERNAME not in accounts:
            gateway = new_account(GATEWAY_USERNAME, Role.GATEWAY, [], keep_password=True)
            accounts[GATEWAY_USERNAME] = gateway[0]
        self._save(accounts.values())
        return Issued(account, password, gateway)

    def revoke_factory(self, factory: str) -> Account:
        """Remove ``factory``'s credentials; the account removed."""
        username = factory_username(factory)
        accounts = {a.username: a for a in self.accounts()}
        if username not in accounts:
            raise CredentialsError(f"factory {factory} has no credentials")
        removed = accounts.pop(username)
        self._save(accounts.values())
        return removed

    def gateway_password(self) -> str:
        """The password of the gateway's account (made with the first factory's)."""
        for account in self.accounts():
            if account.role is Role.GATEWAY and account.password is not None:
                return account.password
        raise CredentialsError(f"no gateway account in {self._accounts_path}")

    def ensure_simulator(self, factories: Iterable[str]) -> str:
        """The simulator's password, its account made or widened to publish for ``factories``."""
        wanted = tuple(sorted(set(factories)))
        for name in wanted:
            factory_username(name)  # validates the name
        accounts = {a.username: a for a in self.accounts()}
        current = accounts.get(SIMULATOR_USERNAME)
        if current is not None and current.password is not None:
            if set(wanted) <= set(current.factories):
                return current.password
            wanted = tuple(sorted(set(wanted) | set(current.factories)))
        account, password = new_account(
            SIMULATOR_USERNAME, Role.SIMULATOR, wanted, keep_password=True
        )
        accounts[SIMULATOR_USERNAME] = account
        self._save(accounts.values())
        return password

    def write_files(self) -> AuthFiles:
        """Render ``passwd`` and ``acl`` again from ``accounts.json``; their paths."""
        self._save(self.accounts())
        return self.files

    def _save(self, accounts: Iterable[Account]) -> None:
        kept = list(accounts)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        document = {"version": _FORMAT_VERSION, "accounts": [_entry(a) for a in kept]}
        # Mosquitto's files first: accounts.json, written last, is what later runs trust.
        _write_private(self.files.password_file, render_password_file(kept))
        _write_private(self.files.acl_file, render_acl_file(kept))
        _write_private(self._accounts_path, json.dumps(document, indent=2) + "\n")


@dataclass(frozen=True, slots=True)
class LocalLogins:
    """What `floorstream up` needs where credentials exist: the files its Mosquitto enforces,
    the (username, password) of the gateway and, with ``--simulate``, of the simulator, and the
    gateway's secret client id and shared-subscription group (`gateway_secrets`)."""

    files: AuthFiles
    gateway: tuple[str, str]
    simulator: tuple[str, str] | None
    gateway_client_id: str
    gateway_group: str


def gateway_secrets(gateway_password: str) -> tuple[str, str]:
    """The gateway's client id and shared-subscription group, unguessable without its password.

    Mosquitto's ``acl_file`` checks no SUBSCRIBE and binds no client id to a username, so a
    factory account that knew them could join the gateway's shared group (Mosquitto would route
    it a share of every factory's messages, then drop them at its read check) or connect with the
    gateway's client id (taking over its session). Names derived from the gateway's password by
    HMAC are as secret as the password; the factory accounts never learn them.
    """

    def derive(purpose: str) -> str:
        digest = hmac.new(gateway_password.encode(), purpose.encode(), hashlib.sha256)
        return digest.hexdigest()[:24]

    return f"floorstream-gateway-{derive('client-id')}", f"floorstream-{derive('shared-group')}"


def local_logins(data_dir: Path, *, simulated_factories: Sequence[str]) -> LocalLogins | None:
    """The logins for `up`, or None where no credentials exist (the broker stays anonymous).

    The simulator gets an account of its own, publishing for the simulated factories only: a
    factory's password is shown once and never kept, so `up` could not log in as its account.
    """
    store = CredentialStore.in_data_dir(data_dir)
    if not store.exists():
        return None
    simulator = None
    if simulated_factories:
        simulator = (SIMULATOR_USERNAME, store.ensure_simulator(simulated_factories))
    password = store.gateway_password()
    client_id, group = gateway_secrets(password)
    return LocalLogins(
        store.write_files(), (GATEWAY_USERNAME, password), simulator, client_id, group
    )


def _entry(account: Account) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "username": account.username,
        "role": account.role.value,
        "factories": list(account.factories),
        "password_hash": account.password_hash,
    }
    if account.password is not None:
        entry["password"] = account.password
    return entry


def _account(entry: dict[str, Any]) -> Account:
    return Account(
        str(entry["username"]),
        Role(entry["role"]),
        tuple(str(f) for f in entry["factories"]),
        str(entry["password_hash"]),
        None if entry.get("password") is None else str(entry["password"]),
    )


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically (a reader sees old or new)."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(descriptor, 0o600)  # O_CREAT's mode does not apply to an existing file
        handle.write(text)
        handle.flush()
        os.fsync(descriptor)
    os.replace(temporary, path)
