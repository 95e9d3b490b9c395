"""THE acceptance test of the report: report.html opened from file:// in Debian's headless
chromium (driven by selenium through Debian's chromedriver, so Selenium Manager downloads
nothing). Every plot must be drawn (an SVG with a non-empty bounding box and shapes in it),
the console must hold no error, the column sorting script must run (the page's CSP allows it
by hash), and no browser process may outlive the test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.report import render_report
from testbed.report.screenshot import (
    PNG_SIGNATURE, PROFILE_PREFIX, browser_env, processes_using, stop_stragglers,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PLOTS = ["plot-layers", "plot-frames", "plot-energy", "plot-latency", "plot-memory",
         "plot-topology"]

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromedriver: apt-get install chromium chromium-driver")

SVG_FIGURES = """
return Array.from(document.querySelectorAll('figure svg')).map(function (svg) {
  var box = svg.getBBox(), rect = svg.getBoundingClientRect();
  return {id: svg.id, width: box.width, height: box.height,
          shown_width: rect.width, shown_height: rect.height,
          shapes: svg.querySelectorAll('path, rect, use').length,
          texts: svg.querySelectorAll('text').length};
});
"""
FIRST_VARIANTS = """
return Array.from(document.querySelectorAll('#verdict-table tbody tr'))
  .map(function (row) { return row.cells[0].textContent.trim(); });
"""


@pytest.fixture
def chromium() -> Iterator:  # type: ignore[type-arg]
    pytest.importorskip("selenium", reason="needs selenium: uv sync --group dev")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix=PROFILE_PREFIX))
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
                     f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), env=browser_env(profile))
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=options)
        yield driver
    finally:
        try:
            if driver is not None:
                driver.quit()
        finally:
            service.stop()
            stop_stragglers(profile)
            shutil.rmtree(profile, ignore_errors=True)
    assert service.process is None or service.process.poll() is not None, "chromedriver left"
    assert processes_using(profile) == [], "chromium processes left"


def test_report_renders_in_headless_chromium(
        chromium, sample_run: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    html = render_report(sample_run).html
    chromium.get(html.as_uri())
    assert chromium.title.startswith("XMPP vs CoAP: run 18d80a")

    shot = tmp_path / "report.png"
    assert chromium.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == PNG_SIGNATURE and shot.stat().st_size > 20_000

    figures = {f["id"]: f for f in chromium.execute_script(SVG_FIGURES)}
    assert list(figures) == PLOTS
    for plot_id, figure in figures.items():
        assert figure["width"] > 100 and figure["height"] > 100, (plot_id, figure)
        assert figure["shown_width"] > 300 and figure["shown_height"] > 100, (plot_id, figure)
        assert figure["shapes"] > 10 and figure["texts"] > 3, (plot_id, figure)

    assert chromium.execute_script(FIRST_VARIANTS)[0] == "coap-get"  # run order
    header = chromium.find_element("xpath",
                                   "//table[@id='verdict-table']//th[contains(., 'steady')]")
    header.click()
    assert chromium.execute_script(FIRST_VARIANTS)[0] == "coap-observe-non"  # 146 B, the least
    header.click()
    assert chromium.execute_script(FIRST_VARIANTS)[0] == "xmpp-iq"  # 1916 B, the most

    severe = [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
