"""The live radio medium: `python -m testbed.radio.medium SPEC.json`.

What it is: the process that joins the nodes' TAP devices through an emulated
IEEE 802.15.4 channel. IPv6 packets the kernels send on `wpan0` are compressed and
fragmented into MAC frames (testbed.lowpan.adapter), go through the channel model
(`core.py`) in real time, and come out reassembled on the receivers' TAPs. Every
frame on the air goes to the capture, every radio activity to the activity log;
counters go to the stats file at exit. Frame-port nodes (Contiki-NG, with their own
MAC and 6LoWPAN) connect to the spec's `frame_socket` and hand over whole frames
(radio/frameport.py); their frames and the TAP nodes' share the channel, the capture
and the log, and reach each other both ways. What it is not: the creator of
namespaces or TAPs (the emulated backend makes them persistent, with their sysctls,
before starting this process).

Protocol with the parent: "READY" on stdout once every TAP is attached and the frame
socket (if any) listens; frame-port nodes may connect from then on; SIGTERM or
SIGINT stops it, flushes capture, activity log and stats, exit status 0. A spec
error exits 2, an attach error 1, with one line on stderr.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import struct
import sys
import time
from pathlib import Path

from testbed.capture.sensniff_pty import SensniffPty
from testbed.errors import FrameError, TestbedError
from testbed.linux import PR_SET_PDEATHSIG, PR_SET_TIMERSLACK, prctl
from testbed.lowpan import mac
from testbed.lowpan.adapter import Adapter
from testbed.lowpan.addresses import BROADCAST_SHORT
from testbed.lowpan.fcs import fcs_bytes
from testbed.radio.activity import ActivityLog
from testbed.radio.announce import router_advertisement
from testbed.radio.core import RadioCore
from testbed.radio.ethernet import classify, to_ethernet
from testbed.radio.frameport import TX_CCA, FramePortServer, TxStatus, short_of_destination
from testbed.radio.lateness import Lateness
from testbed.capture.pcapwriter import PcapWriter
from testbed.radio.spec import MediumSpec, load_spec
from testbed.radio.tap import attach_tap

#: How often (wall clock) the capture and log are flushed and reassembly buffers expired.
HOUSEKEEPING_S = 0.5
#: epoll's timeout resolution (1 ms): the last stretch before an event is a sleep.
EPOLL_SLACK_S = 0.001
#: Frames read from one TAP per loop turn, so one chatty node cannot starve the clock.
READ_BURST = 32
_READ_SIZE = 65536


class Medium:
    """One live medium. `open()` attaches TAPs and opens files; `run()` loops until
    `stop()`; `close()` flushes and writes the stats. The constructor does no I/O."""

    def __init__(self, spec: MediumSpec) -> None:
        self.spec = spec
        self.drops: dict[str, int] = {}
        self.packets_in = 0
        self.packets_out = 0
        self.lateness = Lateness()
        self._fds: dict[int, int] = {}  # short -> TAP fd
        self._stopping = False
        self._tags: dict[int, int] = {}
        self.t0_unix = 0.0
        self._t0 = 0.0
        self.core: RadioCore | None = None
        self._listening: set[int] = set()
        self.sniffer: SensniffPty | None = None
        self.ports: FramePortServer | None = None
        self._shorts: dict[int, str] = {}  # every node's short -> port kind

    # -- set-up and tear-down -------------------------------------------------------

    def open(self) -> Medium:
        spec = self.spec
        self._t0 = time.monotonic()
        self.t0_unix = time.time()
        self.capture = PcapWriter(spec.capture, t0_unix=self.t0_unix).open()
        self.activity = ActivityLog(spec.activity).open()
        on_air = self.capture.write
        if spec.sensniff_pty is not None:
            self.sniffer = SensniffPty(spec.sensniff_pty, channel=spec.channel).open()
            on_air = self._on_air
        shorts = {n.name: n.short for n in spec.nodes}
        self._shorts = {n.short: n.port for n in spec.nodes}
        self.adapters = {
            n.short: Adapter(spec.pan_id, spec.addressing, spec.prefix,
                             timeout_s=spec.reassembly_timeout_s)
            for n in spec.nodes if n.port == "tap"
        }
        frame_ports = [n.short for n in spec.nodes if n.port == "frame"]
        self.core = RadioCore(
            {n.short: n.name for n in spec.nodes},
            [(shorts[link.a], shorts[link.b], link.prr) for link in spec.links],
            seed=spec.seed, queue_limit=spec.queue, clock=self.clock,
            on_deliver=self._deliver, on_air=on_air,
            on_activity=self.activity.write, lateness=self.lateness.record,
            frame_ports=frame_ports, on_tx_done=self._tx_done,
        )
        if spec.frame_socket is not None:
            self.ports = FramePortServer(spec.frame_socket, shorts=frame_ports,
                                         channel=spec.channel, pan_id=spec.pan_id,
                                         transmit=self._from_port,
                                         on_radio=self.core.set_radio)
            try:
                self.ports.open()
            except OSError as error:
                raise TestbedError(f"frame socket {spec.frame_socket}: {error.strerror}") \
                    from None
        for node in spec.nodes:
            if node.port == "tap":
                self._fds[node.short] = attach_tap(node.netns, node.tap)
        self._listening = set(self._fds)
        return self

    def _on_air(self, start_s: float, psdu: bytes) -> None:
        self.capture.write(start_s, psdu)
        self.sniffer.write(psdu)

    def clock(self) -> float:
        """Seconds since the medium started: the model's time axis."""
        return time.monotonic() - self._t0

    def stop(self, *_: object) -> None:
        self._stopping = True

    def close(self) -> None:
        # Frames already on the air finish (and get their log rows); no new one starts and
        # nothing more reaches a kernel.
        self._stopping = True
        self.core.close()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self.ports is not None:
            self.ports.close()
        self.capture.close()
        self.activity.close()
        if self.sniffer is not None:
            self.sniffer.close()
        Path(self.spec.stats).write_text(json.dumps(self.stats(), indent=2) + "\n")

    def stats(self) -> dict[str, object]:
        core = self.core.stats
        reassembly = {
            "completed": sum(a.reassembler.completed for a in self.adapters.values()),
            "timed_out": sum(a.reassembler.timed_out for a in self.adapters.values()),
            "dropped": sum(a.reassembler.dropped for a in self.adapters.values()),
        }
        return {
            "run_id": self.spec.run_id,
            "t0_unix": self.t0_unix,
            "duration_s": self.clock(),
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "frames": core.data_frames,
            "acks": core.ack_frames,
            "retries": core.retries,
            "collisions": core.collisions,
            "channel_access_failures": core.channel_access_failures,
            "queue_drops": core.queue_drops,
            "reassembly_timeouts": reassembly["timed_out"],
            "drops": {"frames": dict(core.drops), "packets": dict(self.drops)},
            "reassembly": reassembly,
            "lateness": self.lateness.as_dict(),
            "core": core.as_dict(),
            "captured_frames": self.capture.frames,
            "activity_rows": self.activity.rows,
            **({"sensniff": self.sniffer.stats()} if self.sniffer is not None else {}),
            **({"frame_port": self.ports.counts} if self.ports is not None else {}),
        }

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        """Wait on every TAP (epoll) until the next event is due; run what is due."""
        selector = selectors.EpollSelector()
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous_wakeup = signal.set_wakeup_fd(wake_w)
        try:
            selector.register(wake_r, selectors.EVENT_READ, None)
            for short, fd in self._fds.items():
                selector.register(fd, selectors.EVENT_READ, short)
            if self.ports is not None:
                selector.register(self.ports.fd, selectors.EVENT_READ, _LISTENER)
            core = self.core
            clock = self.clock
            housekeeping = 0.0
            while not self._stopping:
                due = core.next_event_time()
                timeout = HOUSEKEEPING_S
                if due is not None:
                    # epoll waits in whole milliseconds (rounded up): wait in epoll
                    # until about 1 ms before the event, then sleep the rest precisely.
                    remaining = due - clock()
                    if remaining > EPOLL_SLACK_S:
                        timeout = min(remaining - EPOLL_SLACK_S, HOUSEKEEPING_S)
                    else:
                        if remaining > 0.0:
                            time.sleep(remaining)
                        timeout = 0.0
                for key, _ in selector.select(timeout):
                    if key.data is None:
                        _drain(wake_r)
                    elif key.data is _LISTENER:
                        for fd in self.ports.accept():
                            selector.register(fd, selectors.EVENT_READ, _PORT)
                    elif key.data is _PORT:
                        self._read_port(selector, key.fd)
                    else:
                        self._read_tap(selector, key.fd, key.data)
                now = clock()
                core.run_due(now)
                if now - housekeeping >= HOUSEKEEPING_S:
                    housekeeping = now
                    self._housekeeping(now)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            selector.close()
            os.close(wake_r)
            os.close(wake_w)

    def _housekeeping(self, now: float) -> None:
        for adapter in self.adapters.values():
            adapter.reassembler.expire(now)
        self.capture.flush()
        self.activity.flush()
        if self.sniffer is not None:
            self.sniffer.poll()

    def _read_tap(self, selector: selectors.BaseSelector, fd: int, short: int) -> None:
        for _ in range(READ_BURST):
            try:
                frame = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError as error:
                # The TAP went away under us (its namespace was deleted first): stop
                # listening to it, keep the rest of the PAN running.
                selector.unregister(fd)
                self._drop("tap-gone")
                self._listening.discard(short)
                print(f"medium: node {short:#06x}: TAP read failed: {error.strerror}; "
                      "no longer listening to it", file=sys.stderr)
                if not self._listening:  # every namespace is gone: nothing left to join
                    self._stopping = True
                return
            self._from_kernel(short, frame)

    def _read_port(self, selector: selectors.BaseSelector, fd: int) -> None:
        if not self.ports.readable(fd):
            selector.unregister(fd)

    def _from_port(self, src: int, flags: int, token: int, frame: bytes) -> None:
        """A frame-port node's TX: the radio appends the FCS; the destination and the
        ACK request come from its MAC header, as the receivers' radios read them."""
        psdu = frame + fcs_bytes(frame)
        try:
            header = mac.decode(psdu, check_fcs=False)
        except FrameError as error:
            self._drop("port-undecodable")
            print(f"medium: node {src:#06x}: frame port: {error}", file=sys.stderr)
            self.ports.tx_done(src, TxStatus.ERROR, token)
            return
        dst = short_of_destination(header.dst_mode, header.dst)
        if dst is None:
            dst = NO_NODE
        ack_request = header.ack_request and header.frame_type != mac.FrameType.ACK
        self.core.transmit(src, psdu, dst=dst, ack_request=ack_request,
                           cca=bool(flags & TX_CCA), tag=token)

    def _tx_done(self, src: int, status: TxStatus, token: int) -> None:
        if not self._stopping:
            self.ports.tx_done(src, status, token)

    def announce(self) -> None:
        """The border router's RA with the PAN prefix and its 6CO (radio/announce.py); a
        frame-port border router (Contiki-NG) announces for itself."""
        if self.spec.border_router is None:
            return
        br = self.spec.short_of(self.spec.border_router)
        if br not in self.adapters:
            return
        adapter = self.adapters[br]
        packet = router_advertisement(br, self.spec.prefix)
        frames = [adapter.frame(self.core.next_seq(br), br, BROADCAST_SHORT, payload, False)
                  for payload in adapter.to_payloads(packet, br, BROADCAST_SHORT, 0)]
        self._tags[br] = 1
        self.core.submit(br, BROADCAST_SHORT, frames, ack_request=False)

    def _drop(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def _from_kernel(self, src: int, frame: bytes) -> None:
        """An Ethernet frame node `src` sent: filter, compress, fragment, queue at its MAC."""
        result = classify(frame, self._shorts)
        if isinstance(result, str):
            self._drop(result)
            return
        dst, packet = result
        if dst == src:
            self._drop("to-self")
            return
        self.packets_in += 1
        adapter = self.adapters[src]
        tag = self._tags.get(src, 0)
        self._tags[src] = (tag + 1) & 0xFFFF
        ack_request = dst != BROADCAST_SHORT
        core = self.core
        try:
            payloads = adapter.to_payloads(packet, src, dst, tag)
            frames = [adapter.frame(core.next_seq(src), src, dst, payload, ack_request)
                      for payload in payloads]
        except (FrameError, ValueError) as error:
            self._drop("codec-error")
            print(f"medium: node {src:#06x}: cannot encode a packet: {error}", file=sys.stderr)
            return
        core.submit(src, dst, frames, ack_request=ack_request)

    def _deliver(self, receiver: int, sender: int, psdu: bytes, now: float) -> None:
        """A frame the model delivered: reassemble; a complete packet goes to the kernel
        (a frame-port node gets the frame itself)."""
        if self._stopping:
            return
        if receiver not in self.adapters:
            self.ports.rx(receiver, psdu)
            return
        try:
            # The PSDU is the sender adapter's own frame, FCS included, and the channel
            # model drops a corrupted frame rather than altering it: no FCS to check.
            packet = self.adapters[receiver].deliver(psdu, now, check_fcs=False)
        except (FrameError, ValueError, struct.error):
            self._drop("undecodable")
            return
        if packet is None:
            return
        try:
            os.write(self._fds[receiver], to_ethernet(packet, receiver, sender))
        except OSError:
            self._drop("tap-write")  # the interface is down, or its queue is full
            return
        self.packets_out += 1


#: Selector tags of the frame socket's listener and of its connections.
_LISTENER = object()
_PORT = object()
#: The destination of a frame whose extended address is no node's: every radio filters it out.
NO_NODE = 0xFFFE


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: SIGTERM when the process that started us dies (the orchestrator's
    tear-down would otherwise never come). The orchestrator starts us through
    testbed.backends.processes.dies_with_parent, so setpriv has set it already; it is set
    again for a medium started without setpriv (none installed, or a test running us bare).
    Not a copy to remove: the TESTBED_PARENT_PID check closes the window between fork and
    setpriv's prctl (a parent dead by then is never signalled for), which setpriv cannot."""
    if not prctl(PR_SET_PDEATHSIG, signal.SIGTERM):
        return
    expected = os.environ.get("TESTBED_PARENT_PID")
    if expected and os.getppid() != int(expected):
        sys.exit(1)


def _tight_timers() -> None:
    """Ask for 1 ns timer slack instead of the default 50 µs, so the loop's short sleeps
    end when the next frame event is due."""
    prctl(PR_SET_TIMERSLACK, 1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m testbed.radio.medium SPEC.json", file=sys.stderr)
        return 2
    try:
        spec = load_spec(args[0])
    except TestbedError as error:
        print(f"medium: {error}", file=sys.stderr)
        return error.exit_status
    _die_with_parent()
    _tight_timers()
    medium = Medium(spec)
    signal.signal(signal.SIGTERM, medium.stop)
    signal.signal(signal.SIGINT, medium.stop)
    # a parent that held these signals around the fork passes its mask on: take them back
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    try:
        medium.open()
    except TestbedError as error:
        print(f"medium: {error}", file=sys.stderr)
        if medium.core is not None:
            medium.close()
        return error.exit_status
    try:
        print("READY", flush=True)
        medium.announce()
        medium.run()
    finally:
        medium.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
