"""The JSON Schema files integrators read in docs/schemas/ are those the models export."""

from __future__ import annotations

from pathlib import Path

from schemas import export_json_schemas

COMMITTED = Path(__file__).parents[3] / "docs" / "schemas"


def test_committed_json_schemas_match_the_models(tmp_path: Path) -> None:
    exported = export_json_schemas(tmp_path)
    assert sorted(p.name for p in COMMITTED.glob("*.json")) == sorted(p.name for p in exported)
    for path in exported:
        assert (COMMITTED / path.name).read_text() == path.read_text(), (
            f"docs/schemas/{path.name} is stale: run `floorstream schema export docs/schemas`"
        )
