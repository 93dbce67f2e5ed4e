"""deploy/: compose, Kubernetes and the Dockerfile agree with the code they deploy.

No Docker engine or cluster here, so this checks what can be checked without one: every file
parses, every image is pinned, every ``FLOORSTREAM_*`` variable is a setting and every value
validates, every command is a real sub-command, and the ports line up.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from services.cli import build_parser
from services.runtime import settings as settings_module
from services.runtime.settings import (
    ApiSettings,
    CommonSettings,
    GatewaySettings,
    ProcessorSettings,
    SimulatorSettings,
)

from . import artifacts
from .artifacts import Container

SERVICES: dict[str, type[CommonSettings]] = {
    "gateway": GatewaySettings,
    "processor": ProcessorSettings,
    "api": ApiSettings,
    "simulate": SimulatorSettings,
}
"""What each deployable command reads; the servers it cannot start without are required."""

ALL_CONTAINERS = artifacts.compose_containers() + artifacts.k8s_containers()
FLOORSTREAM = [container for container in ALL_CONTAINERS if container.runs_floorstream]


def _ids(containers: list[Container]) -> list[str]:
    return [container.where for container in containers]


def _settings_variables() -> set[str]:
    classes = [
        value
        for value in vars(settings_module).values()
        if inspect.isclass(value) and issubclass(value, BaseSettings) and value is not BaseSettings
    ]
    assert {cls.model_config.get("env_prefix") for cls in classes} == {"FLOORSTREAM_"}
    return {f"FLOORSTREAM_{name.upper()}" for cls in classes for name in cls.model_fields}


def _pinned(image: str) -> bool:
    """A tag with at least major.minor (``postgres:17.6``, not ``postgres:17`` or ``latest``)."""
    name, colon, tag = image.split("@", 1)[0].rpartition(":")
    return bool(name and colon and "/" not in tag and re.search(r"\d+\.\d+", tag))


def _command(container: Container) -> str:
    return str(container.command[0])


@pytest.mark.parametrize("path", artifacts.yaml_files(), ids=lambda path: path.name)
def test_every_yaml_file_parses(path: Path) -> None:
    assert artifacts.load_yaml(path)


def test_the_k8s_manifests_name_their_kind_and_namespace() -> None:
    for path, document in artifacts.k8s_documents():
        assert {"apiVersion", "kind"} <= document.keys(), path.name
        if document["kind"] not in ("Namespace", "Kustomization"):
            assert document["metadata"]["namespace"] == "floorstream", path.name


def test_every_image_is_pinned_to_a_version() -> None:
    images = [container.image for container in ALL_CONTAINERS] + artifacts.dockerfile_images()
    (kustomization,) = artifacts.k8s_kind("Kustomization")
    images += [f"{image['newName']}:{image['newTag']}" for image in kustomization["images"]]
    assert images
    assert [image for image in images if not _pinned(image)] == []


def test_the_floorstream_image_carries_the_project_version() -> None:
    with (artifacts.ROOT / "pyproject.toml").open("rb") as stream:
        version = tomllib.load(stream)["project"]["version"]
    assert FLOORSTREAM
    assert {container.image for container in FLOORSTREAM} == {f"floorstream:{version}"}


def test_every_floorstream_variable_is_a_setting() -> None:
    known = _settings_variables()
    sources = {container.where: container.env for container in ALL_CONTAINERS}
    sources |= {"ConfigMap": artifacts.config_map(), "Secret": artifacts.secret()}
    sources["Dockerfile"] = artifacts.dockerfile_env()
    unknown = {
        (where, variable)
        for where, env in sources.items()
        for variable in env
        if variable.startswith("FLOORSTREAM_") and variable not in known
    }
    assert unknown == set()


@pytest.mark.parametrize("container", FLOORSTREAM, ids=_ids(FLOORSTREAM))
def test_every_command_is_a_service_of_the_cli(container: Container) -> None:
    try:
        args = build_parser().parse_args(container.command)
    except SystemExit:
        pytest.fail(f"`floorstream {' '.join(container.command)}` does not parse")
    assert isinstance(args, argparse.Namespace)
    assert args.command in SERVICES


def test_the_image_runs_the_floorstream_command() -> None:
    with (artifacts.ROOT / "pyproject.toml").open("rb") as stream:
        scripts = tomllib.load(stream)["project"]["scripts"]
    assert artifacts.dockerfile_json("ENTRYPOINT") == ["floorstream"]
    assert "floorstream" in scripts


@pytest.mark.parametrize("container", FLOORSTREAM, ids=_ids(FLOORSTREAM))
def test_the_settings_each_service_gets_validate_and_suffice(
    monkeypatch: pytest.MonkeyPatch, container: Container
) -> None:
    env = artifacts.dockerfile_env() | container.env
    if "FLOORSTREAM_BOOTSTRAP_TOKEN" in artifacts.secret().keys() & env.keys():
        env["FLOORSTREAM_BOOTSTRAP_TOKEN"] = "x" * 32  # the placeholder is refused: see below
    for variable in [name for name in os.environ if name.startswith("FLOORSTREAM_")]:
        monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, artifacts.interpolated(value))
    settings = SERVICES[_command(container)]()  # a server not given fails here
    if isinstance(settings, ApiSettings):
        assert settings.api_host == "0.0.0.0"
        assert settings.environment == "production"
        assert settings.bootstrap_token is not None
    if isinstance(settings, GatewaySettings | ProcessorSettings):
        assert settings.metrics_port == 9100, "probes and Prometheus use 9100"


def test_the_example_secret_token_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="at least 24 characters"):
        ApiSettings(
            database_url="postgresql://db/floorstream",
            environment="production",
            bootstrap_token=artifacts.secret()["FLOORSTREAM_BOOTSTRAP_TOKEN"],
        )


def test_each_gateway_has_its_own_stable_client_id() -> None:
    compose_ids = [
        container.env.get("FLOORSTREAM_GATEWAY_CLIENT_ID")
        for container in artifacts.compose_containers()
        if container.runs_floorstream and _command(container) == "gateway"
    ]
    assert len(compose_ids) >= 2
    assert None not in compose_ids
    assert len(set(compose_ids)) == len(compose_ids)
    for container in artifacts.k8s_containers():
        if container.runs_floorstream and _command(container) == "gateway":
            assert container.spec["workload"]["kind"] == "StatefulSet", container.where
            (client_id,) = [
                variable
                for variable in container.spec["container"]["env"]
                if variable["name"] == "FLOORSTREAM_GATEWAY_CLIENT_ID"
            ]
            assert client_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
