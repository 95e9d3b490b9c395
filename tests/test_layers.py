"""The package's dependencies point one way (STYLE.md §2), checked by import-linter.

The contract lives in pyproject.toml ([tool.importlinter]); README's architecture table is
the same picture in words. A new import that points up fails here, naming the import line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dependencies_point_one_way() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout
