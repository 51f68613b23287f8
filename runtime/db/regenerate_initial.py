"""Dev tool: rewrite the initial migration from the models (only until the first release).

``python -m runtime.db.regenerate_initial``. Later revisions are set aside while Alembic
autogenerates 0001 against an empty database, then put back on top of it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from runtime.db.migrate import MIGRATIONS_DIR, alembic_config

INITIAL = "0001"


def main() -> None:
    versions = MIGRATIONS_DIR / "versions"
    with tempfile.TemporaryDirectory() as tmp:
        aside = Path(tmp)
        for path in versions.glob("*.py"):
            if path.name.startswith(INITIAL):
                path.unlink()
            else:
                shutil.move(path, aside / path.name)
        try:
            url = f"sqlite+aiosqlite:///{aside / 'empty.db'}"
            command.revision(
                alembic_config(url), message="initial schema", autogenerate=True, rev_id=INITIAL
            )
        finally:
            for path in aside.glob("*.py"):
                shutil.move(path, versions / path.name)
    ruff = Path(sys.executable).parent / "ruff"
    subprocess.run([str(ruff), "format", "-q", str(versions)], check=True)  # noqa: S603


if __name__ == "__main__":
    main()
