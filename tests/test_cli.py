"""The `testbed` command line, run as a user runs it: a subprocess."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from testbed.backends.netns import has_net_admin
from testbed.experiment.run import list_runs
from tests.cli import CLI, ROOT, run_cli
from tests.config.test_topology_errors import CASES as TOPOLOGY_ERROR_CASES
from tests.topologies import PAIR

TOPOLOGIES = ROOT / "topologies"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = tmp_path / "registry"
    monkeypatch.setenv("TESTBED_REGISTRY", str(path))
    return path


def test_bad_topology_is_one_line_with_file_line_col_and_status_2(tmp_path, registry):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nradio: {channel: 99}\nnodes:\n  br: {role: border-router}\n")
    result = run_cli("up", str(bad), "--out", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(rf"testbed: {re.escape(str(bad))}:2:\d+: radio\.channel: .*", line)
    assert list(tmp_path.glob("*-*")) == []  # no run directory for a file that never loaded
    assert list_runs() == []


def test_missing_topology_file_is_bad_input(tmp_path, registry):
    result = run_cli("up", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stderr.startswith("testbed: ")
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr


def test_exec_and_down_without_a_live_run(registry):
    for args in (["exec", "n1", "--", "true"], ["down"]):
        result = run_cli(*args)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"testbed: no live run in {registry} (start one with `testbed up`)"
        )


def test_clean_with_nothing_to_clean(registry):
    result = run_cli("clean")
    assert result.returncode == 0
    assert "nothing to clean" in result.stdout


def test_help_documents_exit_statuses_and_examples():
    result = run_cli("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Exit status: 0 success" in text and "2 bad input" in text
    for command in ("up", "exec", "down", "clean"):
        assert f"testbed {command}" in text
    assert run_cli("bogus").returncode == 2


@pytest.mark.slow
@pytest.mark.needs_root
@pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (run as root)")
def test_up_exec_down(tmp_path, registry):
    topo = tmp_path / "pair.yaml"
    topo.write_text(PAIR)
    up = subprocess.Popen(
        [*CLI, "up", str(topo), "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        table = ""
        while "up; stop with" not in table:
            line = up.stdout.readline()
            assert line or up.poll() is None, f"`up` exited: {up.stderr.read()}"
            assert time.monotonic() < deadline, "no table within 60 s"
            table += line
        (entry,) = list_runs()
        assert entry.run_id in table and "fd00::ff:fe00:2" in table and "cloud" in table

        addr = run_cli("exec", "n1", "--", "ip", "-6", "addr", "show", "dev", "wpan0")
        assert addr.returncode == 0, addr.stderr
        assert "fd00::ff:fe00:2/128" in addr.stdout
        cloud = run_cli("exec", "cloud", "--run", entry.run_id, "--", "ip", "-6", "route")
        assert "fd00::/64 via fd01::2" in cloud.stdout
        assert run_cli("exec", "n1", "--", "sh", "-c", "exit 7").returncode == 7
        unknown = run_cli("exec", "n9", "--", "true")
        assert unknown.returncode == 1 and "no node 'n9'" in unknown.stderr

        down = run_cli("down")
        assert down.returncode == 0, down.stderr
        assert f"run {entry.run_id}: down" in down.stdout
        rest, errors = up.communicate(timeout=30)
        assert up.returncode == 0, errors
        assert f"run {entry.run_id}: down" in rest
    finally:
        if up.poll() is None:  # a failed assertion above: stop it the polite way
            up.terminate()
            up.wait(30)
        run_cli("clean")
    assert list_runs() == []
    for name in entry.netns:
        assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                          text=True).stdout


def _main_status(argv: list[str]) -> int:
    """Run the CLI in-process (a subprocess per case would cost a second each)."""
    from testbed.cli import main

    try:
        return main(argv)
    except SystemExit as done:  # typer ends a successful command with SystemExit(0)
        return int(done.code or 0)


@pytest.mark.parametrize("case", TOPOLOGY_ERROR_CASES, ids=[c[0] for c in TOPOLOGY_ERROR_CASES])
def test_every_kind_of_bad_topology_exits_2_with_one_line(case, tmp_path, capsys):
    ident, text, line, column, pattern = case
    path = tmp_path / f"{ident}.yaml"
    path.write_text(text)
    assert _main_status(["check", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    (message,) = stderr.splitlines()
    assert re.match(rf"testbed: {re.escape(str(path))}:{line}:{column}: {pattern}", message), message


def test_check_shows_the_route_tree_of_a_good_topology(capsys):
    assert _main_status(["check", str(TOPOLOGIES / "default.yaml")]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"s3\s*│ sensor\s*│ emulated │ 0x0005 │ r1\s*│ 2 ", printed), printed
    assert "default.yaml: ok" in printed


@pytest.mark.slow
@pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)")
def test_pingall_reaches_the_cloud_from_every_node(tmp_path, registry):
    result = run_cli("pingall", str(TOPOLOGIES / "line-3hop.yaml"), "--out", str(tmp_path),
                     timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = re.findall(r"│ (br|n1|n2|n3)\s+│\s+(\d) │\s+3/3 │", result.stdout)
    assert rows == [("br", "1"), ("n1", "2"), ("n2", "3"), ("n3", "4")], result.stdout
    capture = re.search(r"capture: (\S+)", result.stdout)[1]
    assert Path(capture).stat().st_size > 24
    assert list_runs() == []
