"""`floorstream schema export DIR` through the real command line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services import cli


def test_export_writes_the_files_and_prints_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["schema", "export", str(tmp_path / "schemas")])

    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(printed) == 7
    for line in printed:
        assert json.loads(Path(line).read_text())["$schema"]
    assert (tmp_path / "schemas" / "machine.schema.json").is_file()
    assert (tmp_path / "schemas" / "line-settings.schema.json").is_file()


def test_an_unwritable_directory_is_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    code = cli.main(["schema", "export", str(blocker)])

    assert code == 1
    assert "cannot write schemas" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["schema", "--help"], ["schema", "export", "--help"]])
def test_help_describes_every_option(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)

    assert exited.value.code == 0
    assert "JSON Schema" in capsys.readouterr().out


def test_schema_without_an_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["schema"])

    assert exited.value.code == 2
    assert "ACTION" in capsys.readouterr().err
