"""The `energy` fixture's value: a variant's results.json `energy` section, and the same
figures under another platform profile, duty-cycling mode or battery, computed to a value
from the variant's radio log (testbed.energy.report.measure_energy; results.json is never
rewritten from a test).

    energy.per_reading_mj                          # the sensors' own radio time per reading (mJ)
    energy.total_mj                                # ... with the idle floor: what a battery pays
    energy["lifetime_days"]["s1"]
    energy.under(mode="contikimac").per_reading_mj
    energy.under(profile="cc2420", wakeup_ms=250, battery_mah=1000)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.energy.report import EnergySettings, measure_energy


@dataclass(frozen=True, slots=True)
class Energy(Mapping[str, Any]):
    """One variant's energy section (read like a dict) and `under(...)` for other settings."""

    section: Mapping[str, Any]
    directory: Path  # the variant's directory: radio.csv, medium.json, deliveries, logs
    sensors: tuple[str, ...]
    interval_s: float

    def __getitem__(self, key: str) -> Any:
        return self.section[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.section)

    def __len__(self) -> int:
        return len(self.section)

    @property
    def per_reading_mj(self) -> float | None:
        """The sensors' own radio time (TX, RX, wake-ups) per delivered reading, in mJ, the
        idle floor apart (energy.report: E_protocol)."""
        return (self.section.get("per_reading_mj") or {}).get("protocol")

    @property
    def total_mj(self) -> float | None:
        """The sensors' whole radio energy per delivered reading at the reading rate, the idle
        floor included (energy.report: E_reading): what a battery pays."""
        return (self.section.get("per_reading_mj") or {}).get("sensors")

    @property
    def lifetime_days(self) -> dict[str, float | None]:
        return dict(self.section.get("lifetime_days") or {})

    @property
    def mode(self) -> str | None:
        return self.section.get("mode")

    @property
    def profile(self) -> str | None:
        return (self.section.get("profile") or {}).get("name")

    def under(self, *, profile: str | None = None, mode: str | None = None,
              wakeup_ms: float | None = None, battery_mah: float | None = None) -> Energy:
        """The same run's energy under other settings (unset ones keep this section's)."""
        s, default = self.section, EnergySettings()
        settings = EnergySettings.of(
            profile=profile or self.profile or default.profile,
            mode=mode or self.mode or str(default.mode),
            wakeup_ms=wakeup_ms or s.get("wakeup_ms") or default.wakeup_s * 1000,
            battery_mah=(battery_mah or (s.get("battery") or {}).get("capacity_mah")
                         or default.battery.capacity_mah),
        )
        _, section = measure_energy(self.directory, sensors=self.sensors,
                                    interval_s=self.interval_s, settings=settings)
        return Energy(section=section, directory=self.directory, sensors=self.sensors,
                      interval_s=self.interval_s)
