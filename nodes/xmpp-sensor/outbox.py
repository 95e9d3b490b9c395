"""Readings produced while the sensor has no session, waiting to be sent after it reconnects.

A bounded FIFO of (seq, t, values): the payload is rebuilt when it is sent, so a queued reading
costs a few dozen bytes, not a stanza. When it is full, the oldest reading makes room for the
new one (a sensor's newest value is the one worth keeping) and is handed back to the caller,
which counts it as lost: nothing leaves this queue unaccounted. The default bound, 32
readings, is half a minute at the usual 1 s interval and about 2 KB of a micro:bit's heap.
"""

LIMIT = 32


class Outbox:
    def __init__(self, limit=LIMIT):
        if limit < 1:
            raise ValueError("an outbox holds at least one reading (got %r)" % (limit,))
        self.limit = int(limit)
        self.items = []

    def __len__(self):
        return len(self.items)

    def put(self, reading):
        """Queue `reading`; the reading pushed out to make room, or None."""
        self.items.append(reading)
        if len(self.items) > self.limit:
            return self.items.pop(0)
        return None

    def requeue(self, readings):
        """Put `readings` (sent but not confirmed, oldest first) back in front of the queue;
        the readings pushed out to keep the bound, oldest first (the same rule as put)."""
        self.items[:0] = readings
        excess = max(0, len(self.items) - self.limit)
        pushed_out = self.items[:excess]
        del self.items[:excess]
        return pushed_out

    def peek(self):
        return self.items[0] if self.items else None

    def pop(self):
        """Remove the oldest reading (after it was sent) and return it."""
        return self.items.pop(0)
