"""When a sensor tries to reconnect: capped exponential backoff with full jitter, seeded.

Attempt k (1, 2, ...) waits a uniform random time in [0, min(cap_s, base_s * factor**(k-1))]
("full jitter"): with the defaults base_s 1.0 s, factor 2, cap_s 15 s the ceilings are
1, 2, 4, 8, 15, 15 ... s. Jitter spreads the sensors that lost the server together (a
restart, a congested border router), so they do not come back in one burst and lose again.
A successful session resets the attempt count.

The random numbers come from a small xorshift32 generator seeded from the node's name and
seed, not from the interpreter's `random` (MicroPython has no random.Random and a shared
global generator would depend on what else drew from it): the same run repeats the same
delays.
"""

BASE_S = 1.0
FACTOR = 2.0
CAP_S = 15.0


def _seed32(text):
    """A 32-bit FNV-1a hash of `text`: a non-zero xorshift32 state."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h or 1


class Backoff:
    def __init__(self, name, seed, base_s=BASE_S, factor=FACTOR, cap_s=CAP_S):
        if base_s <= 0 or factor < 1 or cap_s < base_s:
            raise ValueError(
                "backoff needs base_s > 0, factor >= 1, cap_s >= base_s (got %r, %r, %r)"
                % (base_s, factor, cap_s)
            )
        self.base_s, self.factor, self.cap_s = float(base_s), float(factor), float(cap_s)
        self.state = _seed32("backoff-%s-%s" % (name, seed))
        self.attempt = 0

    def _uniform(self):
        """Next xorshift32 number (Marsaglia 2003, shifts 13, 17, 5) as a float in [0, 1)."""
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x / 4294967296.0

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
        return self.ceiling(self.attempt) * self._uniform()

    def reset(self):
        """A session came up: the next failure starts from the base again."""
        self.attempt = 0
