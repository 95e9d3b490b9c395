"""A Contiki run's report: the C apps' memory on a board (a table per firmware by module and
the 128 KB-ROM line) and each node's Energest next to the medium's radio times.

The run is a real one (tests/report/data/contiki-run: `testbed compare --platform contiki
--variants coap-get,xmpp-message --readings 3`, results.json, run.json and topology.yaml);
the expected cells are formatted here from its results.json.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from testbed.experiment.results import read_results
from testbed.report import plots, render_report
from testbed.report.model import memory_lines, table_caption
from tests.report.runs import write_run

DATA = Path(__file__).parent / "data" / "contiki-run"


class Tables(HTMLParser):
    """Every <table id=...> of a page as rows of cell texts, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("contiki") / "run"
    shutil.copytree(DATA, directory)
    render_report(directory)
    return directory


@pytest.fixture(scope="module")
def data(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


@pytest.fixture(scope="module")
def page(run: Path) -> Tables:
    tables = Tables()
    tables.feed((run / "report.html").read_text())
    return tables


def test_a_table_per_firmware_by_module(page: Tables, data: dict) -> None:
    firmware = data["memory"]["contiki"]["firmware"]
    assert set(firmware) == {"coap-sensor", "xmpp-sensor"}
    for app, f in firmware.items():
        rows = page.tables[f"firmware-{app}"]
        assert rows[0] == ["module", "ROM B", "RAM B", "share of ROM"]
        largest = max(f["modules"].items(), key=lambda kv: kv[1]["rom"])
        assert rows[1][:3] == [largest[0], f"{largest[1]['rom']:,}", f"{largest[1]['ram']:,}"]
        assert rows[1][3] == f"{100 * largest[1]['rom'] / f['rom']:.1f} %"
        total = rows[-1]
        assert total[:3] == ["total", f"{f['rom']:,}", f"{f['ram']:,}"]
        assert total[3] == f"{100 * f['rom'] / (128 * 1024):.1f} % of 128 KB"
        # the rows shown and "N other modules" add up to the image
        assert sum(int(r[1].replace(",", "")) for r in rows[1:-1]) == f["rom"]
    xmpp = page.tables["firmware-xmpp-sensor-xmpp"]
    assert [r[0] for r in xmpp[1:]] == list(firmware["xmpp-sensor"]["xmpp_modules"])
    assert "firmware-coap-sensor-xmpp" not in page.tables
    text = " ".join(page.text)
    assert f"ROM {firmware['xmpp-sensor']['rom']:,} B" in text
    assert "fits a 128 KB-ROM class node" in text
    assert "9f80681" in text  # which Contiki-NG built it


def test_the_128_kb_rom_line_is_drawn(run: Path) -> None:
    results = read_results(run)
    plot = plots.firmware_bars(results.memory)
    assert plot is not None and plot.id == "plot-firmware"
    assert "128 KB ROM class (seed)" in plot.svg and "32 KB RAM (cc2538dk)" in plot.svg
    assert len(re.findall(r"stroke-dasharray", plot.svg)) >= 2  # the two limit lines
    for app in ("coap-sensor", "xmpp-sensor"):
        assert f"{results.memory['contiki']['firmware'][app]['rom']:,} B" in plot.svg
    assert 'id="plot-firmware-figure"' in (run / "report.html").read_text()


def test_energest_next_to_the_medium_per_node(page: Tables, data: dict) -> None:
    rows = page.tables["energest-table"]
    body = {(r[0], r[1]): r for r in rows[1:]}
    count = 0
    for variant, v in data["variants"].items():
        for node, e in v["energy"]["energest"]["nodes"].items():
            row = body[(variant, node)]
            assert row[4] == f"{e['energest']['tx_s'] * 1000:,.1f}"
            assert row[5] == f"{e['medium']['tx_s'] * 1000:,.1f}"
            assert row[6] == f"{e['difference']['tx_s'] * 1000:,.1f}"
            assert row[7] == f"{e['difference']['tx_pct']:+.1f} %"
            count += 1
    assert count == len(rows) - 1 >= 5
    text = " ".join(page.text)
    assert "Energest is the Contiki node's own count" in text
    assert "modelled airtime" in text and "partial" in text


def test_summary_md_has_the_same_tables(run: Path, data: dict) -> None:
    summary = (run / "summary.md").read_text()
    f = data["memory"]["contiki"]["firmware"]["xmpp-sensor"]
    assert f"| total | {f['rom']:,} | {f['ram']:,} |" in summary
    assert "| XMPP client module | ROM B | RAM B | share of ROM |" in summary
    assert "**Energest next to the medium.**" in summary


def test_memory_lines_name_the_firmware_not_a_contiki_app(data: dict) -> None:
    lines = memory_lines(data["memory"])
    assert not any(line.startswith("memory contiki") for line in lines)
    assert [line.split(":")[0] for line in lines if line.startswith("firmware")] == [
        "firmware coap-sensor (cc2538dk)", "firmware xmpp-sensor (cc2538dk)"]


def test_the_caption_says_the_bytecode_column_is_not_what_the_nodes_ran(run: Path) -> None:
    assert "this run's nodes ran the C apps" in table_caption(read_results(run))


def test_a_linux_run_without_them_has_neither_section(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    html = render_report(run).html.read_text()
    assert 'id="firmware-memory"' not in html and 'id="energest"' not in html
    assert "ran the C apps" not in table_caption(read_results(run))
    assert plots.firmware_bars(read_results(run).memory) is None
