"""deploy/: the pieces point at each other: ports, probes, hosts, volumes and mounted files."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from . import artifacts
from .artifacts import Container

K8S_FLOORSTREAM = [c for c in artifacts.k8s_containers() if c.runs_floorstream]
COMPOSE = artifacts.compose()
MOSQUITTO = artifacts.DEPLOY / "mosquitto"


def _port_setting(container: Container) -> tuple[str, str]:
    """The setting holding the port a service serves health and metrics on, and its name."""
    if container.command[0] == "api":
        return "FLOORSTREAM_API_PORT", "http"
    return "FLOORSTREAM_METRICS_PORT", "metrics"


def _probes(container: Container) -> dict[str, dict[str, Any]]:
    spec = container.spec["container"]
    return {
        kind: spec[kind]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        if kind in spec
    }


@pytest.mark.parametrize("container", K8S_FLOORSTREAM, ids=lambda c: c.where)
def test_k8s_probes_and_scrape_hit_the_port_the_service_serves(container: Container) -> None:
    variable, port_name = _port_setting(container)
    port = int(container.env[variable])
    assert container.ports[port_name] == port
    probes = _probes(container)
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in probes.values():
        assert container.ports.get(probe["httpGet"]["port"], probe["httpGet"]["port"]) == port
    annotations = container.spec["pod"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    assert str(port) in artifacts.dockerfile_words("EXPOSE")


@pytest.mark.parametrize("container", artifacts.k8s_containers(), ids=lambda c: c.where)
def test_k8s_containers_request_resources_and_drop_root(container: Container) -> None:
    resources = container.spec["container"]["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]
    assert container.spec["pod"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_k8s_services_select_pods_and_target_their_ports() -> None:
    for service in artifacts.k8s_kind("Service"):
        selector = service["spec"]["selector"]
        matched = [
            container
            for container in artifacts.k8s_containers()
            if selector.items() <= container.spec["pod"]["metadata"]["labels"].items()
        ]
        assert matched, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert all(target in c.ports or target in c.ports.values() for c in matched)


def _listens_on(service: dict[str, Any]) -> set[int]:
    """The ports a server in compose listens on, as far as its definition says."""
    ports = {int(str(mapping).split(":")[-1]) for mapping in service.get("ports", [])}
    advertised = str(service.get("environment", {}).get("KAFKA_ADVERTISED_LISTENERS", ""))
    ports |= {int(port) for port in re.findall(r":(\d+)", advertised)}
    if service["image"].startswith("postgres:"):
        ports.add(5432)
    return ports


@pytest.mark.parametrize("container", artifacts.compose_containers(), ids=lambda c: c.where)
def test_compose_services_point_at_the_servers_compose_runs(container: Container) -> None:
    env = {key: artifacts.interpolated(value) for key, value in container.env.items()}
    urls = [env[key] for key in ("FLOORSTREAM_MQTT_URL", "FLOORSTREAM_DATABASE_URL") if key in env]
    urls += [f"//{part}" for part in env.get("FLOORSTREAM_KAFKA_BOOTSTRAP", "").split(",") if part]
    for url in map(urlsplit, urls):
        server = COMPOSE["services"].get(url.hostname)
        assert server is not None, url.hostname
        assert url.port in _listens_on(server), url.netloc


def test_compose_api_port_matches_its_mapping_and_healthcheck() -> None:
    api = COMPOSE["services"]["api"]
    port = api["environment"]["FLOORSTREAM_API_PORT"]
    assert any(str(mapping).endswith(f":{port}") for mapping in api["ports"])
    assert f":{port}/readyz" in " ".join(api["healthcheck"]["test"])


def test_prometheus_scrapes_each_service_on_its_port() -> None:
    (config,) = artifacts.load_yaml(artifacts.PROMETHEUS)
    services = COMPOSE["services"]
    targets = []
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets += [tuple(target.split(":")) for target in static["targets"]]
        for dns in job.get("dns_sd_configs", []):
            targets += [(name, str(dns["port"])) for name in dns["names"]]
    assert targets
    for host, port in targets:
        env = services[host]["environment"]
        setting = "FLOORSTREAM_API_PORT" if host == "api" else "FLOORSTREAM_METRICS_PORT"
        assert str(env[setting]) == port, host


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """``(source, target)`` of each mount; a source set by a variable starts with ``$``."""
    found = []
    for mount in service.get("volumes", []):
        source, target, *_ = artifacts.interpolated(mount, "$").split(":")
        found.append((source, target))
    return found


def test_compose_references_resolve() -> None:
    services, volumes = COMPOSE["services"], COMPOSE.get("volumes", {})
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)
        for source, _ in _mounts(service):
            if source.startswith("$"):
                continue  # written at deploy time (the MQTT password file and ACL)
            if source.startswith("."):
                assert (artifacts.DEPLOY / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)


def test_compose_mounts_every_file_mosquitto_conf_names() -> None:
    conf = MOSQUITTO / "mosquitto.conf"
    if not conf.is_file():
        pytest.skip("deploy/mosquitto/mosquitto.conf is not written yet")
    mounted = {target for _, target in _mounts(COMPOSE["services"]["mosquitto"])}
    assert "/mosquitto/config/mosquitto.conf" in mounted
    for line in conf.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words and words[0] in ("password_file", "acl_file"):
            assert words[1] in mounted, line
        if words and words[0] == "persistence_location":
            assert words[1].rstrip("/") in mounted, line
        if words and words[0] == "listener":
            assert int(words[1]) in _listens_on(COMPOSE["services"]["mosquitto"]), line
