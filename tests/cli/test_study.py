"""`testbed study mdns` at the terminal: bad sweeps are one line and exit 2, before anything
is brought up; the report of an existing study renders from its results.json alone."""

from __future__ import annotations

import pytest

from tests.cli import run_cli


@pytest.mark.parametrize(("args", "message"), [
    (["--mechanisms", "all,no-magic"], "mechanism set 'no-magic'"),
    (["--sizes", "1,10"], "size 1: a study needs at least two nodes"),
    (["--densities", "ring"], "density 'ring'"),
    (["--transports", "flood"], "transport 'flood'"),
    (["--losses", "0,1.5"], "loss 1.5"),
    (["--sizes", "ten"], "--sizes 'ten'"),
    (["--contiki-sizes", "2"], "Contiki size 2: a Contiki study point needs at least three"),
])
def test_a_bad_sweep_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = run_cli("study", "mdns", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
