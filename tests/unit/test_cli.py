from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli import build_parser, main
from services.stack.embedded.process import free_port

CONTRACT_COMMANDS = ["up", "gateway", "processor", "api", "simulate"]


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _subparser(name: str) -> argparse.ArgumentParser:
    return _children(build_parser())[name]


def _every_command() -> dict[str, argparse.ArgumentParser]:
    """Every command and sub-command, e.g. ``token create``, by its full name."""
    found: dict[str, argparse.ArgumentParser] = {}
    frontier = [("", build_parser())]
    while frontier:
        prefix, parser = frontier.pop()
        for name, child in _children(parser).items():
            found[f"{prefix}{name}"] = child
            frontier.append((f"{prefix}{name} ", child))
    return found


def test_the_contracts_commands_exist() -> None:
    assert set(CONTRACT_COMMANDS) <= set(_every_command())


@pytest.mark.parametrize("command", sorted(_every_command()))
def test_every_option_of_every_command_is_explained(command: str) -> None:
    sub = _every_command()[command]
    for action in sub._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue  # its commands are checked one by one
        assert action.help, f"{command} {action.option_strings} has no help"
    assert sub.format_help()


def test_up_options_match_the_contract() -> None:
    text = _subparser("up").format_help()
    for option in [
        "--simulate",
        "--no-simulate",
        "--api-port",
        "--mqtt-port",
        "--kafka-port",
        "--data-dir",
    ]:
        assert re.search(rf"{option}\b", text)


SERVERS = ("FLOORSTREAM_MQTT_URL", "FLOORSTREAM_KAFKA_BOOTSTRAP", "FLOORSTREAM_DATABASE_URL")


def _without_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SERVERS:
        monkeypatch.delenv(variable, raising=False)


def test_a_missing_server_setting_exits_2_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_servers(monkeypatch)
    assert main(["api"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "floorstream: configuration error: FLOORSTREAM_DATABASE_URL is not set: a service "
        "started on its own needs it (`floorstream up` sets it for the services it starts)"
    ]


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["gateway"], "FLOORSTREAM_MQTT_URL and FLOORSTREAM_KAFKA_BOOTSTRAP are"),
        (["processor"], "FLOORSTREAM_KAFKA_BOOTSTRAP and FLOORSTREAM_DATABASE_URL are"),
        (["api"], "FLOORSTREAM_DATABASE_URL is"),
        (["simulate", "--duration", "1"], "FLOORSTREAM_MQTT_URL is"),
        (["dead-letters"], "FLOORSTREAM_KAFKA_BOOTSTRAP is"),
    ],
)
def test_each_service_names_the_servers_it_needs_that_are_not_set(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    missing: str,
) -> None:
    _without_servers(monkeypatch)
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"floorstream: configuration error: {missing} not set: ")
    assert "`floorstream up` sets" in line


def test_a_bad_setting_is_named_before_a_missing_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_servers(monkeypatch)
    monkeypatch.setenv("FLOORSTREAM_MQTT_URL", "mqtt://broker")
    assert main(["gateway"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "floorstream: invalid settings: FLOORSTREAM_MQTT_URL: expected mqtt://[user:pass@]host:port"
    ]


@pytest.mark.parametrize("argv", [["gateway"], ["simulate", "--duration", "1"]])
@pytest.mark.parametrize(
    "url", ["mqtt://gw:hunter2/x@broker:1883", "mqtt://gw:hunter2@broker", "http://gw:hunter2@b:1"]
)
def test_a_bad_mqtt_url_exits_2_in_one_line_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], url: str
) -> None:
    monkeypatch.setenv("FLOORSTREAM_MQTT_URL", url)
    monkeypatch.setenv("FLOORSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("floorstream: invalid settings: FLOORSTREAM_MQTT_URL: expected ")
    assert "hunter2" not in line


def test_a_bad_setting_exits_2_in_one_line_naming_the_variable_not_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOORSTREAM_KAFKA_BOOTSTRAP", "no-port")
    assert main(["processor"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "floorstream: invalid settings: FLOORSTREAM_KAFKA_BOOTSTRAP: expected host:port[,host:port]"
    ]
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", "mysql://user:hunter2@db/x")
    assert main(["token", "list"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "FLOORSTREAM_DATABASE_URL" in err
    assert "hunter2" not in err


def _dead_database() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/floorstream"  # nothing listens


@pytest.mark.parametrize("argv", [["token", "list"], ["token", "revoke", "0123456789ab"]])
def test_a_token_command_on_a_dead_database_says_what_to_do_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Issue 14, 5: a stale FLOORSTREAM_DATABASE_URL was a 70-line traceback."""
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", _dead_database())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "nothing answers" in err and "check FLOORSTREAM_DATABASE_URL" in err


def test_token_list_on_a_dead_database_from_a_fresh_shell_is_one_line(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOORSTREAM_")}
    finished = subprocess.run(
        [sys.executable, "-m", "floorstream", "token", "list"],
        env=environment | {"FLOORSTREAM_DATABASE_URL": _dead_database()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode != 0 and finished.stdout == ""
    assert len(finished.stderr.splitlines()) == 1, finished.stderr
    assert "Traceback" not in finished.stderr


def test_without_a_database_url_the_token_commands_use_the_data_dir_of_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("FLOORSTREAM_DATABASE_URL", raising=False)
    assert main(["token", "list", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "holds no database of `floorstream up`" in err

    (tmp_path / "postgres.port").write_text(f"{free_port()}\n")  # up is not running
    assert main(["token", "list", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and f"is `floorstream up` running on {tmp_path}?" in err
