"""README.md's figures are those of the run they name (testbed/report/readme.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from testbed.errors import BadInput
from testbed.experiment.results import read_results
from testbed.report.readme import KEPT, figures_markdown, readme_figures, write_readme_figures

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).parent / "data" / "sample-run"


def test_the_readme_block_is_what_its_run_renders() -> None:
    run_id, body = readme_figures((ROOT / "README.md").read_text(), ROOT / "README.md")
    kept = read_results(ROOT / KEPT)
    assert kept.run_id == run_id, "docs/figures/results.json is not the run README names"
    assert body == figures_markdown(kept), "README figures edited by hand, or stale: run " \
                                           "`make readme-figures`"
    assert "| xmpp-message |" in body and "**Verdict.**" in body


def test_writing_replaces_the_block_and_keeps_the_run(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- figures: run 000000 (old) -->\nold table\n<!-- /figures -->\n"
                      "after\n")
    run = tmp_path / "run"
    shutil.copytree(SAMPLE, run)
    kept = write_readme_figures(run, readme)
    text = readme.read_text()
    run_id, body = readme_figures(text, readme)
    assert run_id == json.loads((run / "results.json").read_text())["run_id"]
    assert "old table" not in text and text.startswith("# x\n") and text.endswith("after\n")
    assert body == figures_markdown(read_results(kept))
    write_readme_figures(run, readme)  # again: one block, not two
    assert readme.read_text().count("<!-- /figures -->") == 1


def test_a_readme_without_the_markers_is_bad_input_naming_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no block\n")
    with pytest.raises(BadInput, match=f"{readme}: no figures block"):
        write_readme_figures(SAMPLE, readme)
