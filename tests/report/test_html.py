"""report.html is self-contained (nothing to fetch, no external script), every plot is a
non-empty SVG with a caption, and strings from the run are escaped."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from testbed.report import render_report
from tests.report.runs import HOSTILE, coap, copy_sample, hostile, write_run, xmpp

URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "formaction",
                  "background", "manifest"}
PLOTS = ("plot-layers", "plot-frames", "plot-energy", "plot-latency", "plot-memory",
         "plot-topology")


class Page(HTMLParser):
    """Tags, URL-bearing attributes, scripts and the <figure> structure of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.figures: dict[str, dict[str, int | str]] = {}
        self._figure: str | None = None
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        self._in.append(tag)
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))
        if tag == "figure":
            self._figure = str(a.get("id"))
            self.figures[self._figure] = {"paths": 0, "svg": "", "caption": ""}
        elif self._figure and tag == "svg":
            self.figures[self._figure]["svg"] = str(a.get("id"))
        elif self._figure and tag in ("path", "rect", "use"):
            self.figures[self._figure]["paths"] = int(self.figures[self._figure]["paths"]) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "script":
            self.scripts.append(data)
        if self._figure and self._in and self._in[-1] == "figcaption":
            figure = self.figures[self._figure]
            figure["caption"] = str(figure["caption"]) + data


def _page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rendered once for the module: the tests using it only read the page."""
    return render_report(write_run(tmp_path_factory.mktemp("synthetic") / "run")).html


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_report(copy_sample(tmp_path_factory.mktemp("sample") / "run")).html


@pytest.fixture(params=["synthetic_report", "sample_report"])
def report(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def test_nothing_is_fetched_from_anywhere(report: Path) -> None:
    page = _page(report)
    for tag, name, value in page.urls:
        assert not re.match(r"^\s*([a-z][a-z0-9+.-]*:|//)", value, re.I), (tag, name, value)
    assert not [t for t, a in page.tags if t == "script" and "src" in a]
    assert not [t for t, a in page.tags if t in ("link", "iframe", "object", "embed", "img")]
    text = report.read_text()
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text.replace("url(#", "")


def test_the_only_script_is_ours_and_allowed_by_its_hash(report: Path) -> None:
    page = _page(report)
    assert len(page.scripts) == 1
    csp = next(a["content"] for t, a in page.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in str(csp) and "default-src 'none'" in str(csp)


def test_every_plot_is_a_drawn_svg_with_a_caption(report: Path) -> None:
    figures = _page(report).figures
    assert [f.removesuffix("-figure") for f in figures] == list(PLOTS)
    for name, figure in figures.items():
        assert figure["svg"] == name.removesuffix("-figure")
        assert int(figure["paths"]) > 10, name
        assert len(str(figure["caption"])) > 60, name


def test_captures_manifest_and_table(synthetic_report: Path) -> None:
    page = _page(synthetic_report)
    hrefs = [v for t, n, v in page.urls if t == "a"]
    assert hrefs == ["coap-observe-non/capture.pcap", "xmpp-message/capture.pcap"]
    text = synthetic_report.read_text()
    for shown in ("open in Wireshark", "testbed compare --readings 4", "prosody", "0.12.3",
                  "ab" * 32, "2026-11-26 07:50:52 UTC, took 42 s"):
        assert shown in text
    sorts = [a["data-sort"] for t, a in page.tags if t == "td" and "data-sort" in a]
    assert "2000.0" in sorts and "12000.0" in sorts  # PSDU bytes, sortable as numbers
    assert 'id="tests"' not in text


def test_hostile_error_and_argv_are_escaped(tmp_path: Path) -> None:
    manifest = {"run_id": "a1b2c3", "argv": ["testbed", "compare", "--out", HOSTILE],
                "versions": {"evil": HOSTILE}}
    run_dir = write_run(tmp_path / "run", manifest=manifest,
                        variants={"coap-get": coap(), "xmpp-iq": hostile(xmpp())})
    text = render_report(run_dir).html.read_text()
    assert "<script>alert" not in text
    assert text.count("<script") == 1
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert _page(run_dir / "report.html").scripts[0].lstrip().startswith("(function")


def test_tests_section_when_the_plugin_left_results(synthetic_run: Path) -> None:
    (synthetic_run / "tests.json").write_text(json.dumps([
        {"nodeid": "suites/test_compare.py::test_delivers[coap-get]", "outcome": "passed",
         "duration_s": 2.5, "properties": {"delivered": 8}},
        {"nodeid": "suites/test_compare.py::test_fits[xmpp-iq]", "outcome": "failed",
         "duration_s": None, "properties": {}}]))
    text = render_report(synthetic_run).html.read_text()
    assert 'id="tests"' in text and "1 failed, 1 passed" in text
    assert "test_delivers[coap-get]" in text and "outcome-failed" in text


CURRENT_MANIFEST = {
    "run_id": "a1b2c3", "seed": 7, "argv": ["testbed", "compare", "--readings", "4"],
    "topology": {"name": "tiny", "source": "/nowhere/tiny.yaml", "sha256": "ab" * 32,
                 "copy": "topology.yaml"},
    "reproduce": "testbed compare --topology '/runs/a b/topology.yaml' --seed 7 --readings 4",
    "versions": {"testbed": "0.1.0+abc1234", "tshark": "TShark (Wireshark) 4.0.17"},
    "testbed_version": "0.1.0", "python": "3.11.7", "kernel": "Linux 6.1",
    "host": {"cpu_count": 8},
}


def test_the_manifest_section_shows_how_to_run_it_again(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", manifest=CURRENT_MANIFEST)
    text = render_report(run_dir).html.read_text()
    manifest = text[text.index('<section id="manifest">'):]
    manifest = manifest[:manifest.index("</section>")]
    assert ('<pre class="reproduce"><code>testbed compare --topology &#39;/runs/a b/'
            'topology.yaml&#39; --seed 7 --readings 4</code></pre>') in manifest
    assert "<dt>CPUs</dt><dd>8</dd>" in manifest
    assert "<code>topology.yaml</code> in the run directory" in manifest
    for version in ("0.1.0+abc1234", "TShark (Wireshark) 4.0.17"):
        assert version in manifest


def test_an_older_manifest_has_no_reproduce_block(synthetic_report: Path) -> None:
    text = synthetic_report.read_text()
    assert 'class="reproduce"' not in text and "<dt>CPUs</dt>" not in text


def test_memory_lines_have_thousands_separators(synthetic_report: Path) -> None:
    memory = re.search(r'<ul class="memory">(.*?)</ul>', synthetic_report.read_text(), re.S)
    assert memory is not None
    assert "memory coap-sensor: bytecode 9,000 B (source 25,000 B)" in memory.group(1)
    assert "10000" not in memory.group(1) and "10,000 B" in memory.group(1)


def test_the_style_sheet_is_inlined_as_written(report: Path) -> None:
    """CSS is no HTML: escaping it (`"Segoe UI"` as `&#34;Segoe UI&#34;`, `>` as `&gt;`)
    silently broke the rules that hold quotes or a child selector."""
    from importlib.resources import files

    css = (files("testbed.report") / "templates" / "report.css").read_text(encoding="utf-8")
    style = re.search(r"<style>\n(.*?)\n</style>", report.read_text(), re.S)
    assert style is not None and style.group(1).strip() == css.strip()
    assert '"Segoe UI"' in css and ">" in css  # what escaping would have changed
