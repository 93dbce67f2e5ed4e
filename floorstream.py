"""``python -m floorstream``: the `floorstream` command, as its console script runs it.

The code is in the top-level packages ``services``, ``ingest``, ``kanban`` and ``schemas``
(docs/architecture.md); the command itself is `services.cli`.
"""

import sys

from services.cli import main

if __name__ == "__main__":
    sys.exit(main())
