"""The kanban core is pure: the standard library and `schemas`, nothing else."""

from __future__ import annotations

import subprocess
import sys

# schemas and what it is built on (pydantic); everything else must be stdlib.
ALLOWED = {"pydantic", "pydantic_core", "annotated_types", "typing_extensions",
           "typing_inspection"}  # fmt: skip
OURS = {"services", "ingest", "kanban", "schemas"}
MODULES = ["andon", "order_cards", "orders", "performance", "replenishment", "status"]


def test_the_core_imports_only_the_schemas_and_the_stdlib() -> None:
    imports = "; ".join(f"import kanban.{name}" for name in MODULES)
    script = (
        f"import sys; before = set(sys.modules); {imports}; "
        "print(' '.join(sorted(m for m in set(sys.modules) - before"
        " if m.split('.')[0] not in sys.stdlib_module_names)))"
    )
    loaded = set(subprocess.check_output([sys.executable, "-c", script], text=True).split())

    ours = {m for m in loaded if m.split(".")[0] in OURS}
    assert all(m.split(".")[0] in {"schemas", "kanban"} for m in ours), ours
    third_party = {m.split(".")[0] for m in loaded - ours if not m.startswith("_")}
    assert third_party <= ALLOWED, third_party
