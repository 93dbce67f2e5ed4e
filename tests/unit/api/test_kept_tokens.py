"""The tokens `floorstream up` keeps in its data directory: made once, owner-only from their
creation, the same at every start, and refused in one line where anyone else may read them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.api.token_command import UpTokens, admin_token
from services.api.tokens import new_token
from services.cli import main
from services.runtime.errors import ConfigurationError


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read what is created: the mode must not come from it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def _load(data_dir: Path) -> UpTokens:
    return UpTokens.load(None, data_dir, ["f1"], embedded_database=True)


def test_the_admin_token_is_made_once_owner_only_and_kept(tmp_path: Path, open_umask: None) -> None:
    first = _load(tmp_path)
    kept = tmp_path / "admin.token"
    assert first.admin_source == "new" and len(first.admin) >= 24
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_text() == f"{first.admin}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["admin.token"]  # no temporary file

    again = _load(tmp_path)
    assert (again.admin, again.admin_source) == (first.admin, "kept")
    assert again.board is None  # no board token before a start that knows a factory


def test_the_bootstrap_token_wins_and_nothing_is_written(tmp_path: Path) -> None:
    assert admin_token(SecretStr("x" * 30), tmp_path) == ("x" * 30, "environment")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["admin.token", "board.token"])
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_a_token_file_others_may_touch_is_refused(tmp_path: Path, name: str, mode: int) -> None:
    path = tmp_path / name
    path.write_text(f"{new_token()[0]}\n")
    path.chmod(mode)
    with pytest.raises(ConfigurationError, match=rf"may be read by others.*chmod 600 {path}"):
        _load(tmp_path)


def test_a_board_token_file_that_holds_no_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "board.token"
    path.write_text("not a token\n")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="holds no"):
        _load(tmp_path)


def test_print_admin_token_prints_the_kept_token_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FLOORSTREAM_BOOTSTRAP_TOKEN", raising=False)
    assert main(["up", "--print-admin-token", "--data-dir", str(tmp_path)]) == 2
    assert "no admin token" in capsys.readouterr().err
    made = _load(tmp_path).admin
    assert main(["up", "--print-admin-token", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"{made}\n"

    (tmp_path / "admin.token").chmod(0o644)
    assert main(["up", "--print-admin-token", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "chmod 600" in err and made not in err
