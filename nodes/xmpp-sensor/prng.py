"""A small seeded random generator for the node apps: xorshift32 seeded from a text.

Not the interpreter's `random`: MicroPython has no random.Random, and a shared global
generator would depend on what else drew from it, so the same run would not repeat the same
delays (reconnect backoff, mDNS probe and response delays).
"""


def seed32(text):
    """A 32-bit FNV-1a hash of `text`: a non-zero xorshift32 state."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h or 1


class Xorshift32:
    def __init__(self, text):
        self.state = seed32(text)

    def uniform(self):
        """Next xorshift32 number (Marsaglia 2003, shifts 13, 17, 5) as a float in [0, 1)."""
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x / 4294967296.0

    def between(self, low, high):
        """A uniform float in [low, high)."""
        return low + (high - low) * self.uniform()
