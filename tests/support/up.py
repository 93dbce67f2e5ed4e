"""`floorstream up` started as a user starts it, as a child process the test controls."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from services.stack.embedded.process import free_port
from tests.support.processes import command_line, descendants, wait_until

READY_WITHIN_S = 30


@dataclass
class RunningUp:
    process: subprocess.Popen[str]
    api: str
    log_path: Path
    data_dir: Path
    env: dict[str, str]

    def output(self) -> str:
        return self.log_path.read_text()

    def token(self) -> str:
        """The admin token: the one given, else the one `up` keeps in its data directory."""
        given = self.env.get("FLOORSTREAM_BOOTSTRAP_TOKEN")
        return given or (self.data_dir / "admin.token").read_text().strip()

    def board_token(self) -> str:
        """The token of the board link the announcement prints."""
        match = re.search(r"^  boards:\s+\S+\?token=(\S+)", self.output(), re.MULTILINE)
        assert match, self.output()
        return match[1]

    def service_pid(self, name: str) -> int:
        pid = self.find_service(name)
        if pid is None:
            raise AssertionError(f"no {name} process under up")
        return pid

    def find_service(self, name: str) -> int | None:
        """The pid of the service's process, or ``None`` (between a death and its restart)."""
        for pid in descendants(self.process.pid):
            if f"-m floorstream {name} " in command_line(pid):
                return pid
        return None


def get_json(url: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def ready(api: str) -> bool:
    try:
        return get_json(f"{api}/readyz")[0] == 200
    except (urllib.error.URLError, OSError):
        return False


def start_up(
    tmp_path: Path,
    env: dict[str, str] | None = None,
    *,
    simulate: bool = False,
    log_name: str = "up.log",
) -> RunningUp:
    """`floorstream up` on the data directory ``tmp_path / "data"``, once it is ready."""
    port = free_port()
    log_path = tmp_path / log_name
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOORSTREAM_")}
    data_dir = tmp_path / "data"
    with log_path.open("w") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "floorstream",
                "up",
                "--simulate" if simulate else "--no-simulate",
                "--api-port",
                str(port),
                "--mqtt-port",
                "0",
                "--kafka-port",
                "0",
                "--data-dir",
                str(data_dir),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment | (env or {}),
        )
    up = RunningUp(process, f"http://127.0.0.1:{port}", log_path, data_dir, env or {})
    wait_until(lambda: ready(up.api) or process.poll() is not None, READY_WITHIN_S, "readyz")
    assert process.poll() is None, up.output()
    wait_until(lambda: "floorstream is up." in up.output(), 5, "the announcement")
    return up


def endpoint(up: RunningUp, name: str) -> str:
    """Where a server of ``up`` answers, from its announcement (``mqtt``, ``kafka``...)."""
    match = re.search(rf"^  {name}:\s+(\S+)", up.output(), re.MULTILINE)
    assert match, up.output()
    return match[1]
