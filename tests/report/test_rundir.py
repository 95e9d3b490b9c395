"""Reading a run directory: everything but results.json is optional and says when missing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from testbed.errors import BadInput
from testbed.report.rundir import latencies_ms, read_run, versions_of
from tests.report.runs import TOPOLOGY, write_run


def test_reads_the_synthetic_run(synthetic_run: Path) -> None:
    run = read_run(synthetic_run)
    assert run.manifest is not None and run.manifest.seed == 7
    assert run.topology is not None and list(run.topology.nodes) == ["br", "s1", "s2"]
    assert [c.href for c in run.captures] == ["coap-observe-non/capture.pcap",
                                              "xmpp-message/capture.pcap"]
    assert run.captures[1].frames == 200 and run.captures[1].size_bytes == 24
    assert run.tests is None and run.notes == []
    assert versions_of(run.manifest) == {"testbed": "0.1.0", "python": "3.11.7",
                                         "kernel": "Linux 6.1", "prosody": "0.12.3",
                                         "scapy": "2.6.1"}


def test_latency_of_first_copies_in_ms(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.jsonl"
    path.write_text("\n".join([
        json.dumps({"node": "s1", "seq": 1, "t_node": 10.0, "t_sink": 10.012}),
        json.dumps({"node": "s1", "seq": 1, "t_node": 10.0, "t_sink": 14.0}),  # duplicate
        json.dumps({"node": "s2", "seq": 1, "t_node": 10.0, "t_sink": 10.5}),
        json.dumps({"node": "s2", "seq": 2, "t_node": None, "t_sink": 11.0}),  # no stamp
        '{"node": "s2", "seq": 3, "t_no',  # the half line a killed sink leaves
    ]))
    assert latencies_ms(path) == pytest.approx([12.0, 500.0])
    assert latencies_ms(tmp_path / "absent.jsonl") == []


def test_an_older_run_without_manifest_or_topology_still_reads(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", topology=None)
    (run_dir / "run.json").unlink()
    run = read_run(run_dir)
    assert run.manifest is None and run.topology is None
    assert any("run.json is missing" in n for n in run.notes)
    assert any("topology not drawn" in n for n in run.notes)


def test_a_corrupt_manifest_is_a_note_not_an_error(synthetic_run: Path) -> None:
    (synthetic_run / "run.json").write_text("{not json")
    run = read_run(synthetic_run)
    assert run.manifest is None and any("run.json unreadable" in n for n in run.notes)


def test_a_manifest_with_new_keys_still_reads(synthetic_run: Path) -> None:
    data = json.loads((synthetic_run / "run.json").read_text())
    (synthetic_run / "run.json").write_text(json.dumps({**data, "added_later": {"x": 1}}))
    assert read_run(synthetic_run).manifest is not None


def test_topology_from_the_manifest_source_only_if_unchanged(tmp_path: Path) -> None:
    source = tmp_path / "tiny.yaml"
    source.write_text(TOPOLOGY)
    manifest = {"run_id": "a1b2c3", "topology": {
        "name": "tiny", "source": str(source),
        "sha256": hashlib.sha256(TOPOLOGY.encode()).hexdigest()}}
    run_dir = write_run(tmp_path / "run", topology=None, manifest=manifest)
    assert read_run(run_dir).topology is not None
    source.write_text(TOPOLOGY.replace("prr: 0.9", "prr: 0.5"))
    run = read_run(run_dir)
    assert run.topology is None and any("changed since the run" in n for n in run.notes)


def test_captures_outside_the_run_directory_get_no_link(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.report.runs import coap, xmpp

    run_dir = write_run(tmp_path / "run", variants={
        "coap-get": replace(coap(), capture="/etc/passwd"),
        "xmpp-iq": replace(xmpp(), capture="../../elsewhere.pcap"),
        "coap-observe-con": replace(coap(), capture="coap observe/cap#1.pcap"),
    })
    captures = {c.variant: c for c in read_run(run_dir).captures}
    assert captures["coap-get"].href is None and captures["xmpp-iq"].href is None
    assert captures["coap-observe-con"].href == "coap%20observe/cap%231.pcap"


def test_tests_json_is_read_and_a_bad_one_is_a_note(synthetic_run: Path) -> None:
    (synthetic_run / "tests.json").write_text(json.dumps([
        {"nodeid": "suites/test_x.py::test_a[coap-get]", "outcome": "passed",
         "duration_s": 1.5, "properties": {"bytes_per_reading": 270}}]))
    tests = read_run(synthetic_run).tests
    assert tests is not None and tests[0].properties == {"bytes_per_reading": 270}
    (synthetic_run / "tests.json").write_text('[{"nodeid": 3}]')
    run = read_run(synthetic_run)
    assert run.tests is None and any("tests.json unreadable" in n for n in run.notes)


def test_missing_results_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"results\.json"):
        read_run(tmp_path)


def test_results_json_names_its_run_directory(synthetic_run: Path) -> None:
    run = read_run(synthetic_run / "results.json")
    assert run.directory == synthetic_run
    assert run.manifest is not None and run.topology is not None and run.notes == []
    with pytest.raises(BadInput, match=r"run\.json: not a run directory"):
        read_run(synthetic_run / "run.json")


@pytest.mark.parametrize("what", ["deliveries", "topology"])
def test_an_optional_file_that_is_a_directory_is_a_note(synthetic_run: Path, what: str) -> None:
    path = synthetic_run / ("coap-observe-non/deliveries.jsonl" if what == "deliveries"
                            else "topology.yaml")
    path.unlink()
    path.mkdir()
    run = read_run(synthetic_run)
    if what == "deliveries":
        assert list(run.latencies_ms) == ["xmpp-message"]
        assert run.notes == ["coap-observe-non/deliveries.jsonl unreadable (IsADirectoryError): "
                             "latencies of coap-observe-non not shown"]
    else:
        assert run.topology is None and len(run.notes) == 1
        assert run.notes[0].startswith("topology not drawn: ")


def test_the_manifest_of_a_current_run(tmp_path: Path) -> None:
    """run.json as testbed.experiment.manifest.new_manifest writes it today."""
    manifest = {
        "run_id": "a1b2c3", "seed": 7, "argv": ["testbed", "compare", "--readings", "4"],
        "topology": {"name": "tiny", "source": "/nowhere/tiny.yaml", "sha256": "ab" * 32,
                     "copy": "topology.yaml"},
        "reproduce": "testbed compare --topology /r/topology.yaml --seed 7 --readings 4",
        "versions": {"testbed": "0.1.0+abc1234", "tshark": "TShark 4.0", "qemu": None},
        "testbed_version": "0.1.0", "python": "3.11.7", "kernel": "Linux 6.1",
        "host": {"cpu_count": 8},
    }
    m = read_run(write_run(tmp_path / "run", manifest=manifest)).manifest
    assert m is not None and m.topology is not None
    assert m.reproduce == manifest["reproduce"] and m.topology.copy_file == "topology.yaml"
    assert m.host is not None and m.host.cpu_count == 8
    assert versions_of(m) == {"testbed": "0.1.0+abc1234", "python": "3.11.7",
                              "kernel": "Linux 6.1", "tshark": "TShark 4.0"}
