"""The README's figures, generated from one run and checkable against it.

`write_readme_figures(run_dir, readme)` puts the run's verdict, verdict table, caption and
spread between two markers in README.md (the opening one names the run) and keeps that run's
results.json beside it (docs/figures/results.json), so tests/report/test_readme.py can
render the block again from the kept file and find the README unchanged: no pasted
transcript, no figure without the run it came from. `make readme-figures` runs the
comparison and calls this through `testbed report RUN --readme README.md`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from testbed.errors import BadInput
from testbed.experiment.results import RESULTS_FILE, Results, read_results
from testbed.report.markdown import md, results_table_markdown
from testbed.report.model import table_caption
from testbed.report.verdict import verdict_lines

BEGIN = "<!-- figures: run {run_id} (make readme-figures; docs/figures/results.json) -->"
END = "<!-- /figures -->"
BLOCK = re.compile(r"<!-- figures: run (?P<run_id>[0-9a-f]+) .*?-->\n(?P<body>.*?)" + re.escape(END),
                   re.S)
KEPT = Path("docs") / "figures" / RESULTS_FILE  # relative to the README's directory


def figures_markdown(results: Results) -> str:
    """The block's body: summary.md's verdict, table and caption, from results.json alone
    (the per-figure spread over repeats stays in summary.md: the verdict says what it found)."""
    lines = [f"**Verdict.** {md(' '.join(verdict_lines(results)))}", ""]
    lines += results_table_markdown(results)
    lines += ["", f"<sub>{md(table_caption(results))}</sub>", ""]
    return "\n".join(lines).rstrip() + "\n"


def readme_figures(text: str, readme: Path) -> tuple[str, str]:
    """(run id, body) of the figures block in README text; BadInput naming the file if none."""
    found = BLOCK.search(text)
    if found is None:
        raise BadInput(f"{readme}: no figures block ({BEGIN.format(run_id='<id>')} ... {END})")
    return found["run_id"], found["body"]


def write_readme_figures(run_dir: Path, readme: Path) -> Path:
    """Replace README's figures block with `run_dir`'s; the kept results.json's path."""
    results = read_results(run_dir)
    text = readme.read_text()
    readme_figures(text, readme)  # the markers must be there: never append blindly
    block = BEGIN.format(run_id=results.run_id) + "\n" + figures_markdown(results) + END
    readme.write_text(BLOCK.sub(lambda _: block, text, count=1))
    kept = readme.parent / KEPT
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(run_dir) / RESULTS_FILE, kept)
    return kept
