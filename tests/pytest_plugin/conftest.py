"""The plugin's tests run pytest sessions of their own (pytester, in a subprocess)."""

from __future__ import annotations

import pytest



@pytest.fixture(autouse=True)
def _no_github_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """An inner session must not append its summary to this CI job's own."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
