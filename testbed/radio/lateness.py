"""How late the live medium runs its events behind their modelled times.

What it is: a fixed histogram (10 µs bins up to 1 s, then one overflow bin) with
the maximum, so recording a sample costs no allocation and p99 comes out at the
end. What it is not: a general statistics package.
"""

from __future__ import annotations

BIN_S = 10e-6
BINS = 100_000  # 1 s of 10 µs bins; later samples land in the last bin


class Lateness:
    """Record `now - scheduled` for every event the live loop runs."""

    __slots__ = ("_bins", "count", "max_s")

    def __init__(self) -> None:
        self._bins = [0] * BINS
        self.count = 0
        self.max_s = 0.0

    def record(self, late_s: float) -> None:
        index = int(late_s * 100_000.0)
        if index >= BINS:
            index = BINS - 1
        elif index < 0:
            index = 0
        self._bins[index] += 1
        self.count += 1
        if late_s > self.max_s:
            self.max_s = late_s

    def quantile(self, q: float) -> float:
        """Upper edge of the bin holding the q-quantile (0 when nothing was recorded)."""
        if not self.count:
            return 0.0
        target = q * self.count
        seen = 0
        for index, n in enumerate(self._bins):
            seen += n
            if seen >= target and n:
                return min((index + 1) * BIN_S, self.max_s)
        return self.max_s

    def as_dict(self) -> dict[str, float | int]:
        return {"events": self.count, "max_s": self.max_s, "p99_s": self.quantile(0.99),
                "p50_s": self.quantile(0.5)}
