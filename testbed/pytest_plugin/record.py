"""Figures attached to tests: what `results.record` records and each variant's headline.

Both go into the test's `user_properties`, which pytest writes as `<property>` elements of the
test case in --junitxml (every junit_family: it is the `record_property` fixture, not the XML,
that warns under xunit2), and into the run directory's tests.json.

Headline figures of a variant: testbed.report.model.headline_figures, in the report's words
and units (HEADLINE_UNITS): delivered, sent, steady_bytes_per_reading (air.per_reading, PHY
SHR+PHR included, set-up and overhead not), all_in_bytes_per_reading (every byte on the air /
delivered reading), frames_per_reading, setup_bytes, latency_p50_ms, latency_p95_ms,
energy_mj_per_reading, lifetime_days. testbed.report is imported when a test first needs it,
not when pytest loads the plugin: its package brings the renderers (jinja2) along, and the
plugin loads in every pytest session of the environment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

from testbed.experiment.results import VariantResult


def _plain(value: Any) -> Any:
    """A JSON- and XML-friendly value: numbers and text stay, floats are rounded."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else str(value)
    return str(value)


def attach(item: pytest.Item, name: str, value: Any, units: dict[str, str],
           unit: str | None = None) -> None:
    """Add one property to the test (junit XML and tests.json); the unit to tests.json."""
    item.user_properties.append((name, _plain(value)))
    if unit:
        units[name] = unit


def attach_headline(item: pytest.Item, result: VariantResult, variant: str,
                    units: dict[str, str]) -> None:
    """The variant and its headline figures, unless the test recorded one itself."""
    from testbed.report.model import HEADLINE_UNITS, headline_figures

    taken = {name for name, _ in item.user_properties}
    if "variant" not in taken:
        attach(item, "variant", variant, units)
    for name, value in headline_figures(result).items():
        if name not in taken and value is not None:
            attach(item, name, value, units, HEADLINE_UNITS[name])


@dataclass(frozen=True, slots=True)
class Recorder:
    """The `results` fixture: `results.record("s1_readings", 4, unit="readings")` attaches a
    figure to the running test (junit XML property, tests.json, the report)."""

    item: pytest.Item
    units: dict[str, str]

    def record(self, name: str, value: Any, *, unit: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"results.record: the name must be non-empty text (got {name!r})")
        attach(self.item, name, value, self.units, unit)

    @property
    def recorded(self) -> dict[str, Any]:
        """What this test has recorded so far (its properties), by name."""
        return dict(self.item.user_properties)
