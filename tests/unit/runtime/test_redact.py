"""No URL password reaches a log line or a printout."""

from __future__ import annotations

import io
import json
import logging

import pytest

from services.runtime.logs import configure_logging
from services.runtime.redact import masked_url, redact


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://floorstream:s3cr%40t@db:5432/fs", "postgresql://floorstream:***@db:5432/fs"),
        ("mqtt://gw:pa/ss@broker:1883", "mqtt://gw:***@broker:1883"),
        ("a mqtt://u:p@h:1 and postgres://v:q@i/d", "a mqtt://u:***@h:1 and postgres://v:***@i/d"),
        ("postgresql://floorstream@db/fs", "postgresql://floorstream@db/fs"),
        ("http://127.0.0.1:8000/readyz", "http://127.0.0.1:8000/readyz"),
        ("mqtt://broker:1883", "mqtt://broker:1883"),
    ],
)
def test_a_urls_password_is_masked(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_masked_url_keeps_the_user_and_the_host() -> None:
    assert masked_url("postgresql://u:p@h:5432/d") == "postgresql://u:***@h:5432/d"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_never_carry_a_url_password(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("info", fmt)  # type: ignore[arg-type]
        logging.getLogger("floorstream.test").warning(
            "cannot connect to %s", "postgresql://floorstream:hunter2@db:5432/fs"
        )
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = stream.getvalue().strip()
    assert "hunter2" not in line and "floorstream:***@db" in line
    if fmt == "json":
        assert json.loads(line)["message"].endswith("floorstream:***@db:5432/fs")
