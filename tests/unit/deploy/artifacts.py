"""Reading deploy/ for the tests: compose, Kubernetes manifests, the Dockerfile.

Each reader returns plain data (a service or container with its image, command and
environment) so that the tests compare artifacts and code without knowing each file's shape.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
DASHBOARD = DEPLOY / "grafana" / "floorstream.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

FLOORSTREAM_IMAGE = "floorstream"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")


@dataclass(frozen=True)
class Container:
    """One floorstream or server process as an artifact declares it."""

    where: str
    image: str
    command: list[str]
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def runs_floorstream(self) -> bool:
        return self.image.partition(":")[0].rsplit("/", 1)[-1] == FLOORSTREAM_IMAGE


def yaml_files() -> list[Path]:
    return sorted(path for suffix in ("yml", "yaml") for path in DEPLOY.rglob(f"*.{suffix}"))


def load_yaml(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as stream:
        return [document for document in yaml.safe_load_all(stream) if document is not None]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def interpolated(value: str, filler: str = "x" * 32) -> str:
    """``value`` with compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` filled in."""
    return _INTERPOLATION.sub(filler, value)


def compose() -> dict[str, Any]:
    (document,) = load_yaml(COMPOSE_FILE)
    assert isinstance(document, dict)
    return document


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): str(value) for key, value in raw.items()}


def compose_containers() -> list[Container]:
    found = []
    for name, service in compose()["services"].items():
        command = service.get("command") or []
        found.append(
            Container(
                where=f"docker-compose.yml service {name}",
                image=service["image"],
                command=shlex.split(command) if isinstance(command, str) else list(command),
                env=_compose_env(service),
                spec=service,
            )
        )
    return found


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, document)
        for path in yaml_files()
        if K8S in path.parents
        for document in load_yaml(path)
    ]


def k8s_kind(kind: str) -> list[dict[str, Any]]:
    return [document for _, document in k8s_documents() if document.get("kind") == kind]


def config_map() -> dict[str, str]:
    (document,) = k8s_kind("ConfigMap")
    return {str(key): str(value) for key, value in document["data"].items()}


def secret() -> dict[str, str]:
    (document,) = k8s_kind("Secret")
    return {str(key): str(value) for key, value in document["stringData"].items()}


def _k8s_env(container: dict[str, Any], pod_name: str) -> dict[str, str]:
    """The environment a container gets from the ConfigMap, the example Secret and the pod."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_map())
        if "secretRef" in source:
            env.update(secret())
    for variable in container.get("env", []):
        value_from = variable.get("valueFrom", {})
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        elif "secretKeyRef" in value_from:
            env[variable["name"]] = secret()[value_from["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in value_from:
            env[variable["name"]] = config_map()[value_from["configMapKeyRef"]["key"]]
        elif value_from.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[variable["name"]] = pod_name
        else:
            raise AssertionError(f"{variable['name']}: a source this test does not know")
    return env


def k8s_containers() -> list[Container]:
    found = []
    for path, document in k8s_documents():
        if document.get("kind") not in WORKLOAD_KINDS:
            continue
        pod = document["spec"]["template"]
        for container in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            found.append(
                Container(
                    where=f"{path.name} {document['kind']} {document['metadata']['name']}",
                    image=container["image"],
                    command=list(container.get("command", [])) + list(container.get("args", [])),
                    env=_k8s_env(container, f"{document['metadata']['name']}-0"),
                    ports={
                        port.get("name", str(port["containerPort"])): port["containerPort"]
                        for port in container.get("ports", [])
                    },
                    spec={"container": container, "pod": pod, "workload": document},
                )
            )
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of deploy/Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(rest))
    return env


def dockerfile_images() -> list[str]:
    """The images the Dockerfile builds FROM, build arguments resolved, stage names excluded."""
    arguments: dict[str, str] = {}
    stages: set[str] = set()
    images = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            arguments[name] = value
        elif keyword == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda match: arguments[match[1]], words[0])
            if image not in stages:
                images.append(image)
            if len(words) == 3 and words[1].upper() == "AS":
                stages.add(words[2])
    return images


def dockerfile_json(keyword: str) -> list[str]:
    (rest,) = [rest for found, rest in dockerfile_instructions() if found == keyword]
    value = json.loads(rest)
    assert isinstance(value, list)
    return value


def dockerfile_words(keyword: str) -> list[str]:
    return [
        word
        for found, rest in dockerfile_instructions()
        if found == keyword
        for word in rest.split()
    ]
