"""--json for scripts: the output parses as JSON (no rich markup), errors stay one line on
stderr with the documented status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.backends.netns import has_net_admin
from testbed.config.routes import route_tree
from testbed.config.topology import load_topology
from testbed.experiment.run import list_runs
from tests.cli import ROOT, run_cli

TOPOLOGIES = ROOT / "topologies"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "registry"
    monkeypatch.setenv("TESTBED_REGISTRY", str(path))
    return path


def test_check_json_is_the_topology_and_its_route_tree() -> None:
    done = run_cli("check", "topologies/default.yaml", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    topo = load_topology(TOPOLOGIES / "default.yaml")
    tree = route_tree(topo)
    assert data["topology"] == topo.name and data["ok"] is True
    assert data["border_router"] == topo.border_router
    assert data["radio"] == {"channel": topo.radio.channel, "pan_id": topo.radio.pan_id,
                             "addressing": str(topo.radio.addressing),
                             "prefix": str(topo.radio.prefix)}
    assert [(n["name"], n["parent"], n["hops"], n["short_address"]) for n in data["nodes"]] == [
        (name, tree.parent[name], tree.hops[name], topo.short_address(name))
        for name in topo.nodes]
    assert len(data["radio_links"]) == len(topo.radio_links())


def test_check_json_of_a_bad_topology_is_still_one_line_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nradio: {channel: 99}\nnodes:\n  br: {role: border-router}\n")
    done = run_cli("check", str(bad), "--json")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"testbed: {bad}:2:")


def test_clean_json_with_nothing_to_clean(registry: Path) -> None:
    done = run_cli("clean", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"registry": str(registry), "cleaned": [], "live": []}


@pytest.mark.slow
@pytest.mark.needs_root
@pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)")
def test_pingall_json(tmp_path: Path, registry: Path) -> None:
    done = run_cli("pingall", "topologies/line-3hop.yaml", "--count", "2", "--out",
                   str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True
    assert [(n["node"], n["hops"], n["received"]) for n in data["nodes"]] == [
        ("br", 1, 2), ("n1", 2, 2), ("n2", 3, 2), ("n3", 4, 2)]
    assert data["medium"]["frames"] > 0 and Path(data["capture"]).stat().st_size > 24
    assert list_runs() == []


@pytest.mark.slow
@pytest.mark.needs_root
@pytest.mark.skipif(not has_net_admin(), reason="needs CAP_NET_ADMIN (root)")
def test_compare_json_prints_results_and_the_report_paths(tmp_path: Path,
                                                          registry: Path) -> None:
    done = run_cli("compare", "--topology", "topologies/line-3hop.yaml", "--variants",
                   "coap-get", "--readings", "2", "--interval", "0.3", "--out", str(tmp_path),
                   "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    run_dir = Path(data["run_directory"])
    assert run_dir.parent == tmp_path
    assert data["content"] == json.loads((run_dir / "results.json").read_text())
    assert data["content"]["variants"]["coap-get"]["readings"]["delivered"] == 2
    assert Path(data["report"]) == run_dir / "report.html" and Path(data["report"]).is_file()
    assert Path(data["summary"]).is_file()
    assert list_runs() == []
