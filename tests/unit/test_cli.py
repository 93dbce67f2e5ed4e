from __future__ import annotations

import argparse
import re

import pytest

from floorstream.cli import build_parser, main

COMMANDS = ["up", "gateway", "processor", "api", "simulate"]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices[name]
    return sub


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_of_every_command_is_explained(command: str) -> None:
    sub = _subparser(command)
    for action in sub._actions:
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
