"""When a sensor tries to reconnect: capped exponential backoff with full jitter, seeded.

Attempt k (1, 2, ...) waits a uniform random time in [0, min(cap_s, base_s * factor**(k-1))]
("full jitter"): with the defaults base_s 1.0 s, factor 2, cap_s 15 s the ceilings are
1, 2, 4, 8, 15, 15 ... s. Jitter spreads the sensors that lost the server together (a
restart, a congested border router), so they do not come back in one burst and lose again.
A successful session resets the attempt count.

The random numbers come from prng.py, seeded from the node's name and seed: the same run
repeats the same delays.
"""

from prng import Xorshift32

BASE_S = 1.0
FACTOR = 2.0
CAP_S = 15.0


class Backoff:
    def __init__(self, name, seed, base_s=BASE_S, factor=FACTOR, cap_s=CAP_S):
        if base_s <= 0 or factor < 1 or cap_s < base_s:
            raise ValueError(
                "backoff needs base_s > 0, factor >= 1, cap_s >= base_s (got %r, %r, %r)"
                % (base_s, factor, cap_s)
            )
        self.base_s, self.factor, self.cap_s = float(base_s), float(factor), float(cap_s)
        self.random = Xorshift32("backoff-%s-%s" % (name, seed))
        self.attempt = 0

    def ceiling(self, attempt):
        """The longest wait of attempt `attempt` (1-based)."""
        ceiling = self.base_s
        for _ in range(attempt - 1):
            ceiling *= self.factor
            if ceiling >= self.cap_s:
                return self.cap_s
        return min(ceiling, self.cap_s)

    def next_delay(self):
        """Count one more failed attempt; the seconds to wait before the next one."""
        self.attempt += 1
        return self.ceiling(self.attempt) * self.random.uniform()

    def reset(self):
        """A session came up: the next failure starts from the base again."""
        self.attempt = 0
