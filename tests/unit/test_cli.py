from __future__ import annotations

import argparse
import re

import pytest

from floorstream.cli import build_parser, main

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


def test_a_missing_server_setting_exits_2_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FLOORSTREAM_DATABASE_URL", raising=False)
    assert main(["api"]) == 2
    assert "FLOORSTREAM_DATABASE_URL" in capsys.readouterr().err


def test_a_bad_setting_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOORSTREAM_KAFKA_BOOTSTRAP", "no-port")
    assert main(["processor"]) == 2
    assert "kafka_bootstrap" in capsys.readouterr().err
