"""Every parser that reads bytes or text from outside, fuzzed: a result or its typed error only.

The same targets as benchmarks/fuzz_parsers.py (tests/fuzz/targets.py) with a small budget
per parser, so the file stays well under a minute on two cores; the script runs 100,000
inputs each. A failure prints the input that reproduces it.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz.harness import fuzz
from tests.fuzz.targets import TARGETS, Target

#: inputs per parser in the suite (FUZZ_EXAMPLES overrides, e.g. for a longer local run)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_only_results_or_typed_errors(target: Target) -> None:
    tally = fuzz(target, EXAMPLES)
    assert tally.tried > EXAMPLES // 2, "hypothesis generated too few inputs"
    # the seeds are valid and the mutations reach the errors: both sides get tested
    assert tally.results > 0, f"{target.name}: no input parsed"
    assert tally.typed_errors > 0 or not target.rejects, f"{target.name}: nothing rejected"
    finding = tally.first
    assert tally.findings == 0, (
        f"{target.name}: {tally.other} other exceptions {tally.kinds}, {tally.hangs} hangs, "
        f"{tally.memory} over the memory limit in {tally.tried} inputs; first ({finding.kind}):"
        f"\ninput: {finding.input_repr}\n{finding.detail}" if finding else ""
    )
