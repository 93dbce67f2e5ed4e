"""MQTT credentials per factory: hashes, ACL rules, the store on disk and `floorstream mqtt`."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest

from services.cli import build_parser, main
from services.runtime.errors import ConfigurationError
from services.runtime.mqtt_auth import (
    Account,
    AuthFiles,
    Role,
    factory_username,
    hash_password,
    is_factory_name,
    render_acl_file,
    render_password_file,
    verify_password,
)
from services.runtime.mqtt_credentials import (
    CredentialsError,
    CredentialStore,
    local_logins,
)
from services.runtime.mqtt_url import parse_mqtt_url, with_login
from services.stack.embedded.mqtt import EmbeddedMqtt, MqttFlavour, mosquitto_config

# --- the hash -------------------------------------------------------------------------------


def test_the_hash_is_mosquittos_pbkdf2_sha512_form() -> None:
    salt = bytes(range(12))
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, 101)
    encoded = hash_password("s3cret", salt=salt)
    assert encoded == (
        f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(expected).decode()}"
    )


def test_a_fresh_hash_verifies_its_password_only() -> None:
    encoded = hash_password("right")
    assert encoded.startswith("$7$101$")
    _, _, _, salt, digest = encoded.split("$")
    assert len(base64.b64decode(salt)) == 12 and len(base64.b64decode(digest)) == 64
    assert verify_password("right", encoded)
    assert not verify_password("wrong", encoded)
    assert hash_password("right") != encoded  # a new salt each time


def test_a_hash_written_by_mosquitto_passwd_verifies() -> None:
    # `mosquitto_passwd -b pw alice secret` (Mosquitto 2.0.11)
    encoded = (
        "$7$101$uo0r1FD3UCn34fzG$BmstpigouHgxTzGN6ErhSH2W3ZRWgiuUfbkx/LPw+jJLRQTIB3+cdIICxS2Dx"
        "r7R7Jwj4ysT1hDxpDn9nouuBg=="
    )
    assert verify_password("secret", encoded)
    assert not verify_password("Secret", encoded)


@pytest.mark.parametrize("encoded", ["", "$6$101$a$b", "$7$x$a$b", "$7$101$!!$b", "plain"])
def test_a_malformed_hash_verifies_nothing(encoded: str) -> None:
    assert not verify_password("anything", encoded)


# --- names and rules ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "north-2", "f_1", "x" * 64])
def test_factory_names_are_topic_segments(name: str) -> None:
    assert is_factory_name(name)
    assert factory_username(name) == f"factory-{name}"


@pytest.mark.parametrize("name", ["", "A", "a/b", "a+", "#", "a b", "x" * 65, "a\n"])
def test_other_factory_names_are_refused(name: str) -> None:
    assert not is_factory_name(name)
    with pytest.raises(ValueError, match="not a factory name"):
        factory_username(name)


def _account(username: str, role: Role, *factories: str) -> Account:
    return Account(username, role, factories, hash_password("p"))


def test_the_acl_walls_each_account_off() -> None:
    accounts = [
        _account("factory-b", Role.FACTORY, "b"),
        _account("factory-a", Role.FACTORY, "a"),
        _account("floorstream-gateway", Role.GATEWAY),
        _account("floorstream-simulator", Role.SIMULATOR, "f1", "f2"),
    ]
    text = render_acl_file(accounts)
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rules == [
        "user floorstream-gateway",
        "topic read floor/v1/#",
        "user floorstream-simulator",
        "topic write floor/v1/f1/#",
        "topic write floor/v1/f2/#",
        "user factory-a",
        "topic write floor/v1/a/#",
        "user factory-b",
        "topic write floor/v1/b/#",
    ]
    # Rules before the first `user` line would apply to anonymous clients: there are none.
    assert text.splitlines().index("user floorstream-gateway") > 0
    assert all(line.startswith("#") or not line for line in text.split("user ")[0].splitlines())


def test_the_password_file_has_one_line_per_account() -> None:
    accounts = [
        _account("factory-a", Role.FACTORY, "a"),
        _account("floorstream-gateway", Role.GATEWAY),
    ]
    lines = render_password_file(accounts).splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["floorstream-gateway", "factory-a"]
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in lines)


# --- the store ------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_credentials_make_the_gateways_too(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "auth")
    assert not store.exists()
    issued = store.issue_factory("a")
    assert issued.account.username == "factory-a" and issued.gateway is not None
    assert issued.account.password is None  # a factory's password is never kept
    gateway, gateway_password = issued.gateway
    assert store.gateway_password() == gateway_password
    assert store.exists()
    second = store.issue_factory("b")
    assert second.gateway is None
    kept = {a.username: a for a in store.accounts()}
    assert set(kept) == {"factory-a", "factory-b", "floorstream-gateway"}
    assert verify_password(issued.password, kept["factory-a"].password_hash)
    assert verify_password(gateway_password, kept["floorstream-gateway"].password_hash)
    passwd = store.files.password_file.read_text()
    assert issued.password not in passwd and gateway_password not in passwd
    assert issued.password not in (tmp_path / "auth" / "accounts.json").read_text()


def test_every_file_is_private(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "auth")
    store.issue_factory("a")
    assert _mode(tmp_path / "auth") == 0o700
    for name in ["passwd", "acl", "accounts.json"]:
        assert _mode(tmp_path / "auth" / name) == 0o600, name
    (tmp_path / "auth" / "acl").chmod(0o644)
    store.issue_factory("b")
    assert _mode(tmp_path / "auth" / "acl") == 0o600
    assert not list((tmp_path / "auth").glob(".*.tmp"))


def test_existing_credentials_are_replaced_only_with_rotate(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    first = store.issue_factory("a")
    with pytest.raises(CredentialsError, match="already has credentials.*--rotate"):
        store.issue_factory("a")
    with pytest.raises(CredentialsError, match="no credentials to rotate"):
        store.issue_factory("b", rotate=True)
    rotated = store.issue_factory("a", rotate=True)
    (kept,) = [a for a in store.accounts() if a.username == "factory-a"]
    assert verify_password(rotated.password, kept.password_hash)
    assert not verify_password(first.password, kept.password_hash)
    assert rotated.gateway is None


def test_revoke_removes_the_account_from_both_files(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    store.issue_factory("a")
    store.issue_factory("b")
    assert store.revoke_factory("a").username == "factory-a"
    assert "factory-a" not in store.files.password_file.read_text()
    assert "factory-a" not in store.files.acl_file.read_text()
    assert "factory-b" in store.files.acl_file.read_text()
    with pytest.raises(CredentialsError, match="has no credentials"):
        store.revoke_factory("a")


def test_a_damaged_store_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "accounts.json").write_text("{not json")
    with pytest.raises(CredentialsError, match="cannot read"):
        CredentialStore(tmp_path).accounts()


def test_up_logins_exist_only_with_credentials(tmp_path: Path) -> None:
    assert local_logins(tmp_path, simulated_factories=["f1"]) is None
    assert not (tmp_path / "mqtt-auth").exists()  # nothing made without credentials
    CredentialStore.in_data_dir(tmp_path).issue_factory("north")
    logins = local_logins(tmp_path, simulated_factories=["f1"])
    assert logins is not None and logins.simulator is not None
    assert logins.gateway[0] == "floorstream-gateway"
    assert logins.simulator[0] == "floorstream-simulator"
    acl = logins.files.acl_file.read_text()
    assert "user floorstream-simulator\ntopic write floor/v1/f1/#\n" in acl
    again = local_logins(tmp_path, simulated_factories=["f1"])
    assert again is not None and again.simulator == logins.simulator  # kept across restarts
    quiet = local_logins(tmp_path, simulated_factories=[])
    assert quiet is not None and quiet.simulator is None


def test_a_login_goes_into_the_url_percent_encoded() -> None:
    url = with_login("mqtt://127.0.0.1:1883", "factory-a", "p@ss:w/rd")
    address = parse_mqtt_url(url)
    assert (address.username, address.password, address.port) == ("factory-a", "p@ss:w/rd", 1883)


# --- the embedded broker --------------------------------------------------------------------


def test_the_embedded_mosquitto_enforces_credentials_where_given(tmp_path: Path) -> None:
    open_config = mosquitto_config(1883, tmp_path)
    assert "allow_anonymous true" in open_config and "password_file" not in open_config
    files = AuthFiles(tmp_path / "auth" / "passwd", tmp_path / "auth" / "acl")
    config = mosquitto_config(1883, tmp_path, files).splitlines()
    assert "allow_anonymous false" in config and "allow_anonymous true" not in config
    assert f"password_file {files.password_file.resolve()}" in config
    assert f"acl_file {files.acl_file.resolve()}" in config
    assert "max_queued_messages 0" in config


def test_amqtt_is_refused_where_credentials_exist(tmp_path: Path) -> None:
    files = AuthFiles(tmp_path / "passwd", tmp_path / "acl")
    with pytest.raises(ConfigurationError, match="cannot enforce them"):
        EmbeddedMqtt(
            1883, tmp_path, log_path=tmp_path / "log", prefer=MqttFlavour.AMQTT, auth=files
        )
    EmbeddedMqtt(1883, tmp_path, log_path=tmp_path / "log", prefer=MqttFlavour.AMQTT)


# --- the command ----------------------------------------------------------------------------


def _mqtt_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    mqtt = top.choices["mqtt"]
    sub = next(a for a in mqtt._actions if isinstance(a, argparse._SubParsersAction))
    return {"mqtt": mqtt, **sub.choices}


@pytest.mark.parametrize("name", ["mqtt", "credentials", "list", "revoke"])
def test_every_option_is_explained(name: str) -> None:
    parser = _mqtt_parsers()[name]
    for action in parser._actions:
        assert action.help, f"mqtt {name} {action.option_strings} has no help"
    text = parser.format_help()
    assert "--data-dir" in text or name == "mqtt"


def test_credentials_help_names_its_options() -> None:
    text = _mqtt_parsers()["credentials"].format_help()
    for option in ["--factory", "--rotate", "--data-dir", "--broker"]:
        assert option in text


def test_credentials_print_the_password_once_and_list_never(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data-dir", str(tmp_path), "--factory", "north"]
    assert main(["mqtt", "credentials", *args, "--broker", "mqtt.example.com:1883"]) == 0
    out = capsys.readouterr().out
    url = next(line.split()[-1] for line in out.splitlines() if "factory-north:" in line)
    address = parse_mqtt_url(url)
    assert (address.host, address.port, address.username) == (
        "mqtt.example.com",
        1883,
        "factory-north",
    )
    assert address.password is not None and f"password: {address.password}" in out
    assert "floorstream-gateway:" in out  # the gateway's account, made with the first
    assert main(["mqtt", "credentials", *args]) == 1
    assert "--rotate" in capsys.readouterr().err
    assert main(["mqtt", "list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "factory-north" in listing and "publish floor/v1/north/#" in listing
    assert "read floor/v1/#" in listing
    gateway_password = CredentialStore.in_data_dir(tmp_path).gateway_password()
    assert address.password not in listing and gateway_password not in listing
    assert main(["mqtt", "revoke", *args]) == 0
    assert main(["mqtt", "revoke", *args]) == 1
    capsys.readouterr()
    assert main(["mqtt", "list", "--data-dir", str(tmp_path)]) == 0
    assert "factory-north" not in capsys.readouterr().out


def test_an_invalid_factory_is_refused_by_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["mqtt", "credentials", "--data-dir", str(tmp_path), "--factory", "North/1"])
    assert exit_.value.code == 2
    assert "not a factory name" in capsys.readouterr().err
    assert not (tmp_path / "mqtt-auth").exists()


def test_list_without_credentials_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mqtt", "list", "--data-dir", str(tmp_path)]) == 0
    assert "no MQTT credentials" in capsys.readouterr().out


def test_the_store_is_json_with_hashes(tmp_path: Path) -> None:
    CredentialStore(tmp_path).issue_factory("a")
    document = json.loads((tmp_path / "accounts.json").read_text())
    (factory,) = [e for e in document["accounts"] if e["role"] == "factory"]
    assert factory["factories"] == ["a"] and "password" not in factory


# --- `floorstream up` -----------------------------------------------------------------------


def test_up_gives_the_gateway_and_the_simulator_their_own_logins(tmp_path: Path) -> None:
    from services.stack.up import _mqtt_logins, _simulated_factories

    assert _mqtt_logins("mqtt://127.0.0.1:1883", None) == ({}, {})  # no credentials: as before
    CredentialStore.in_data_dir(tmp_path).issue_factory("north")
    logins = local_logins(tmp_path, simulated_factories=_simulated_factories())
    gateway, simulator = _mqtt_logins("mqtt://127.0.0.1:1883", logins)
    gateway_url = parse_mqtt_url(gateway["FLOORSTREAM_MQTT_URL"])
    simulator_url = parse_mqtt_url(simulator["FLOORSTREAM_MQTT_URL"])
    store = CredentialStore.in_data_dir(tmp_path)
    assert (gateway_url.username, gateway_url.password) == (
        "floorstream-gateway",
        store.gateway_password(),
    )
    assert simulator_url.username == "floorstream-simulator"
    (account,) = [a for a in store.accounts() if a.username == "floorstream-simulator"]
    assert account.factories == ("f1",)


def test_a_stack_with_credentials_refuses_amqtt_before_starting_anything(tmp_path: Path) -> None:
    from services.stack.embedded.stack import EmbeddedStack, StackPlan

    store = CredentialStore.in_data_dir(tmp_path)
    store.issue_factory("a")
    plan = StackPlan(tmp_path, mqtt_flavour=MqttFlavour.AMQTT, mqtt_auth=store.files)
    stack = EmbeddedStack(plan)
    with pytest.raises(ConfigurationError, match="Mosquitto"):
        stack.start()
    assert (stack.mqtt, stack.kafka, stack.postgres) == (None, None, None)


def test_a_service_spec_sets_variables_for_that_service_alone() -> None:
    import sys

    from services.stack.supervisor import ServiceSpec, Supervisor

    code = "import os, sys; sys.exit(0 if os.environ['X'] == sys.argv[1] else 1)"
    specs = [
        ServiceSpec("own", [sys.executable, "-c", code, "own"], {"X": "own"}),
        ServiceSpec("shared", [sys.executable, "-c", code, "shared"]),
    ]
    supervisor = Supervisor(specs, env={"X": "shared", "PATH": "/usr/bin"})
    supervisor.start()
    try:
        codes = [entry.child._popen.wait(10) for entry in supervisor._children]  # type: ignore[union-attr]
    finally:
        supervisor.stop()
    assert codes == [0, 0]
