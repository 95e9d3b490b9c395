"""SIGTERM ends a node program as Ctrl-C does (ports without `signal` just die), so its
`except KeyboardInterrupt` path says goodbye: the XMPP stream's close, mDNS's TTL 0."""


def stop_on_sigterm():
    try:
        import signal
    except ImportError:  # pragma: no cover - MicroPython bare-metal ports
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
