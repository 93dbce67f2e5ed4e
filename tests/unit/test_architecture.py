"""The import rules of docs/architecture.md, read from its table: every import of every module of
the four packages, at the top or inside a function, keeps to them."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "ingest", "kanban", "services")
TABLE_HEADING = "## Which package may import which"


@dataclass(frozen=True)
class Rule:
    package: str
    may_import: frozenset[str]
    must_not_import: frozenset[str]


def read_rules(markdown: str) -> dict[str, Rule]:
    """The rows of the table under `TABLE_HEADING`: package, may import, must not import."""
    section = markdown.split(TABLE_HEADING, 1)[1]
    rules: dict[str, Rule] = {}
    for row in re.findall(r"^\| `([a-z_.]+)` \|(.*)\|(.*)\|$", section, re.MULTILINE):
        package, allowed, forbidden = row
        rules[package] = Rule(
            package,
            frozenset(re.findall(r"`([a-z_.]+)`", allowed)),
            frozenset(
                name.strip() for name in forbidden.split(",") if name.strip() not in {"–", ""}
            ),
        )
    return rules


def rule_of(module: str, rules: Mapping[str, Rule]) -> Rule | None:
    """The most specific row whose package holds ``module``."""
    holding = [p for p in rules if module == p or module.startswith(f"{p}.")]
    return rules[max(holding, key=len)] if holding else None


def imports_of(module: str, source: str, *, is_package: bool) -> Iterable[str]:
    """Every module ``source`` imports, relative imports resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):  # each name, for it may be a module
            if node.level == 0:
                assert node.module is not None
                source_module = node.module
            else:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source_module = ".".join([*base, node.module] if node.module else base)
            yield from (f"{source_module}.{alias.name}" for alias in node.names)


def violations(sources: Mapping[str, tuple[str, bool]], rules: Mapping[str, Rule]) -> list[str]:
    """What breaks the rules, one line each, for modules given as name -> (source, is_package)."""
    found: list[str] = []
    for module, (source, is_package) in sorted(sources.items()):
        own = rule_of(module, rules)
        for target in imports_of(module, source, is_package=is_package):
            top = target.split(".")[0]
            if top not in PACKAGES:
                if own is not None and top in own.must_not_import:
                    found.append(f"{module} imports {target}: {own.package} must not import {top}")
                continue
            if own is None:
                found.append(f"{module} imports {target} but has no row in the table")
                continue
            allowed = {own.package, *own.may_import}
            if not any(target == p or target.startswith(f"{p}.") for p in allowed):
                theirs = rule_of(target, rules)
                name = theirs.package if theirs is not None else target
                found.append(f"{module} imports {target}: {own.package} may not import {name}")
    return found


def project_sources() -> dict[str, tuple[str, bool]]:
    sources = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            sources[name] = (path.read_text("utf-8"), is_package)
    return sources


RULES = read_rules((ROOT / "docs" / "architecture.md").read_text("utf-8"))


def test_the_table_names_every_package_and_the_pure_ones_keep_out_of_io() -> None:
    assert {"schemas", "kanban", "ingest", "services.efficiency.core"} <= set(RULES)
    core = RULES["services.efficiency.core"]
    assert {"asyncio", "aiokafka", "asyncpg", "paho"} <= core.must_not_import
    assert core.may_import == {"schemas"}
    assert RULES["schemas"].may_import == frozenset()


def test_every_import_keeps_to_the_table() -> None:
    sources = project_sources()
    assert len(sources) > 100  # the four packages were found
    assert violations(sources, RULES) == []


def test_an_import_that_breaks_the_table_is_named() -> None:
    core = "services.efficiency.core.extra"
    sources = {
        core: ("import asyncio\n\ndef f():\n    from services.api import app\n", False),
        "schemas.extra": ("from ingest.pipeline import run\n", False),
        "services.efficiency.rollup": ("from .core import fold\nfrom . import store\n", False),
        "kanban": ("from .status import line_status\n", True),
    }
    assert violations(sources, RULES) == [
        "schemas.extra imports ingest.pipeline.run: schemas may not import ingest",
        f"{core} imports asyncio: services.efficiency.core must not import asyncio",
        f"{core} imports services.api.app: services.efficiency.core may not import services.api",
    ]
