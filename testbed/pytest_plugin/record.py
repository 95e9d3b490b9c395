"""Figures attached to tests: what `results.record` records and each variant's headline.

Both go into the test's `user_properties`, which pytest writes as `<property>` elements of the
test case in --junitxml (every junit_family: it is the `record_property` fixture, not the XML,
that warns under xunit2), and into the run directory's tests.json.

Headline figures of a variant (results.json, in the report's words, testbed/report/model.py):
delivered and sent readings; bytes_per_reading and frames_per_reading, the steady-state mean
per reading on the air (air.per_reading: PHY SHR+PHR included, set-up and overhead not);
setup_bytes (air.setup.bytes); latency_p50_ms; energy_mj_per_reading (the sensors' radio
energy per delivered reading, energy.per_reading_mj.sensors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

from testbed.experiment.results import VariantResult

#: name -> unit of the headline figures
HEADLINE_UNITS = {
    "delivered": "readings", "sent": "readings", "bytes_per_reading": "B",
    "frames_per_reading": "frames", "setup_bytes": "B", "latency_p50_ms": "ms",
    "energy_mj_per_reading": "mJ",
}


def headline(result: VariantResult) -> dict[str, Any]:
    """The variant's headline figures (None where the run did not measure one)."""
    air, readings = result.air, result.readings
    steady = bool(air.per_reading.get("readings"))
    return {
        "delivered": readings.delivered,
        "sent": readings.sent,
        "bytes_per_reading": air.per_reading.get("bytes") if steady else None,
        "frames_per_reading": air.per_reading.get("frames") if steady else None,
        "setup_bytes": air.setup.get("bytes"),
        "latency_p50_ms": readings.latency_ms.p50,
        "energy_mj_per_reading": (result.energy.get("per_reading_mj") or {}).get("sensors"),
    }


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
    taken = {name for name, _ in item.user_properties}
    if "variant" not in taken:
        attach(item, "variant", variant, units)
    for name, value in headline(result).items():
        if name not in taken and value is not None:
            attach(item, name, value, units, HEADLINE_UNITS[name])


@dataclass(frozen=True, slots=True)
class Recorder:
    """The `results` fixture: `results.record("bytes_per_reading", 141, unit="B")` attaches a
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
