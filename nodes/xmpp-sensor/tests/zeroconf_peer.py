"""python-zeroconf as the node's mDNS peer, run in the peer namespace by the interop tests.

    zeroconf_peer.py INTERFACE publish INSTANCE TYPE PORT [key=value ...]
    zeroconf_peer.py INTERFACE browse TYPE
prints JSON lines: {"ready": true} once registered or browsing, {"service": {...}} for each
service resolved (name, server, port, addresses, properties); runs until SIGTERM.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    interface, mode = argv[1], argv[2]
    index = socket.if_nametoindex(interface)
    zc = Zeroconf(interfaces=[index], ip_version=IPVersion.V6Only)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if mode == "publish":
        instance, stype, port = argv[3], argv[4], int(argv[5])
        props = dict(kv.split("=", 1) for kv in argv[6:])
        addresses = [a for a in _link_local(interface)]
        info = ServiceInfo(f"{stype}.local.", f"{instance}.{stype}.local.", port=port,
                           properties=props, server="zcpeer.local.",
                           parsed_addresses=addresses)
        zc.register_service(info)
        say(ready=True)
    else:
        stype = f"{argv[3]}.local."

        def changed(zeroconf: Zeroconf, service_type: str, name: str,
                    state_change: ServiceStateChange) -> None:
            if state_change is not ServiceStateChange.Added:
                return
            info = zeroconf.get_service_info(service_type, name, timeout=3000)
            if info is None:
                return
            say(service={"name": name, "server": info.server, "port": info.port,
                         "addresses": info.parsed_addresses(),
                         "properties": {k.decode(): (v or b"").decode()
                                        for k, v in info.properties.items()}})

        ServiceBrowser(zc, stype, handlers=[changed])
        say(ready=True)
    stop.wait()
    zc.close()  # unregisters (goodbye) what it published
    return 0


def _link_local(interface: str) -> list[str]:
    out = []
    with open("/proc/net/if_inet6") as f:
        for line in f:
            fields = line.split()
            if fields[5] == interface and fields[0].startswith("fe80"):
                raw = bytes.fromhex(fields[0])
                out.append(socket.inet_ntop(socket.AF_INET6, raw))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv))
