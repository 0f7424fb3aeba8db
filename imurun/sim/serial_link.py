"""Put a :class:`VirtualSensor` on a real pseudo-terminal, as a USB CDC serial device.

The sensor side owns the pty master; ``link_path`` is a symlink to the slave, which the host
opens with pyserial like ``/dev/ttyACM0``. A disconnect closes the pty (the host's reads fail, as
when a cable is pulled) and a new one appears at the same path after ``reconnect_delay_s``,
as a re-enumerated USB device would.

Faults are injected on the sensor's output: bit flips per byte (``corrupt_rate``), whole frames
not sent (``drop_rate``), disconnects after given cumulative byte counts, stalls (the sensor
sends nothing for ``stall_s``, the port still open, from given cumulative byte counts on) and
reboots at given stream times.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import numpy as np

from firmware_protocol.codec import Dropped, Encoder, Received, StreamDecoder
from firmware_protocol.frame import MAX_FRAME_PAYLOAD
from firmware_protocol.messages import AnyMessage, RunChunk
from imurun.sim.firmware import VirtualSensor

RUN_CHUNK_DATA = MAX_FRAME_PAYLOAD - 12  # largest RUN_CHUNK data that fits one frame


@dataclass(frozen=True)
class Faults:
    corrupt_rate: float = 0.0  # probability that a byte sent has one bit flipped
    drop_rate: float = 0.0  # probability that a frame is not sent at all
    disconnect_after: tuple[int, ...] = ()  # cumulative bytes sent at which the link drops
    reboot_after_s: tuple[float, ...] = ()  # stream seconds at which the sensor reboots
    reconnect_delay_s: float = 0.3
    # cumulative bytes sent at which the sensor goes silent for stall_s, the port still open (a
    # stuck transmit queue: requests are still taken and answers queued, then all of it is sent)
    stall_after: tuple[int, ...] = ()
    stall_s: float = 2.0


@dataclass
class LinkStats:
    bytes_sent: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0
    bytes_corrupted: int = 0
    disconnects: int = 0
    reboots: int = 0
    requests: int = 0
    stalls: int = 0


@dataclass
class SerialLink:
    sensor: VirtualSensor
    link_path: Path
    faults: Faults = Faults()
    seed: int = 0
    # False ("--speed max"): stream as fast as the host reads; the sensor's clock then jumps
    # ahead with the samples sent (docs/simulator.md, "The clock at --speed max")
    realtime: bool = True
    rate_bytes_per_s: float | None = None  # pace output like a UART (None: unlimited)
    stats: LinkStats = field(default_factory=LinkStats)

    def __post_init__(self) -> None:
        self.link_path = Path(self.link_path)
        self.rng = np.random.default_rng(self.seed)
        self.encoder = Encoder(boot_id=self.sensor.boot_id)
        self._master = -1
        self._slave = -1
        self._out = bytearray()
        self._t0 = time.monotonic()
        self._fast_forward = 0.0
        self._stop = False
        self._disconnects = list(self.faults.disconnect_after)
        self._reboots = sorted(self.faults.reboot_after_s)
        self._stalls = sorted(self.faults.stall_after)
        self._stalled_until = 0.0
        self._tokens = 0.0
        self._t_tokens = time.monotonic()

    # ------------------------------------------------------------------ pty
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = self.link_path.with_name(self.link_path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link_path)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1

    def now(self) -> float:
        return time.monotonic() - self._t0 + self._fast_forward

    # ------------------------------------------------------------------ output
    def _emit(self, msgs: list[AnyMessage]) -> None:
        for msg in msgs:
            for frame in self.encoder.frames(msg):
                if self.faults.drop_rate and self.rng.random() < self.faults.drop_rate:
                    self.stats.frames_dropped += 1
                    continue
                data = bytearray(frame.encode_stream())
                if self.faults.corrupt_rate:
                    hit = np.flatnonzero(self.rng.random(len(data)) < self.faults.corrupt_rate)
                    for i in hit.tolist():
                        data[i] ^= 1 << int(self.rng.integers(8))
                    self.stats.bytes_corrupted += len(hit)
                self._out += data
                self.stats.frames_sent += 1

    def _fill(self) -> None:
        """Top up the output with stream batches and run chunks while there is room."""
        s = self.sensor
        self._emit(s.pending_events())
        while len(self._out) < 8192:
            if s.stream is not None:
                if self._reboots and (self.now() - s.stream.start_now_s) >= self._reboots[0]:
                    self._reboots.pop(0)
                    s.reboot(self.now())
                    self.encoder = Encoder(boot_id=s.boot_id)
                    self.stats.reboots += 1
                    self._emit(s.pending_events())
                    continue
                if self.realtime:
                    batches = s.stream_batches(self.now(), max_batches=64)
                else:
                    batches = s.stream_batches(None, max_batches=8)
                    st = s.stream
                    if st is not None:  # the clock jumps to when the last sample sent was taken
                        taken = st.start_now_s + st.next_index / s.cfg.sample_rate_hz
                        self._fast_forward += max(0.0, taken - self.now())
                if batches:
                    self._emit(batches)
                    continue
            chunk: RunChunk | None = s.next_chunk(RUN_CHUNK_DATA)
            if chunk is None:
                break
            self._emit([chunk])

    def _write(self) -> None:
        if not self._out or self._master < 0:
            return
        n = len(self._out)
        if self.rate_bytes_per_s:
            t = time.monotonic()
            self._tokens = min(self._tokens + (t - self._t_tokens) * self.rate_bytes_per_s,
                               self.rate_bytes_per_s * 0.05 + 4096)
            self._t_tokens = t
            n = min(n, int(self._tokens))
        if self._disconnects:
            n = min(n, max(self._disconnects[0] - self.stats.bytes_sent, 0))
        if self._stalls:  # the stall starts exactly at its byte count
            n = min(n, max(self._stalls[0] - self.stats.bytes_sent, 0))
        if n <= 0:
            return
        try:
            w = os.write(self._master, bytes(self._out[:n]))
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno in (errno.EIO, errno.EAGAIN):
                return
            raise
        del self._out[:w]
        self.stats.bytes_sent += w
        self._tokens -= w

    def _disconnect(self) -> None:
        self._disconnects.pop(0)
        self.stats.disconnects += 1
        # The port disappears first, as a USB device node does when unplugged: a host that
        # reconnects meanwhile must not open whatever pty next takes the old number.
        with contextlib.suppress(FileNotFoundError):
            self.link_path.unlink()
        self._close_pty()
        self._out.clear()
        self.sensor.cancel_reads()
        time.sleep(self.faults.reconnect_delay_s)
        self.sensor.skip_stream(self.now())
        self._open_pty()

    # ------------------------------------------------------------------ loop
    def stop(self, *_: object) -> None:
        self._stop = True

    def serve(self, *, duration_s: float | None = None, ready: Path | None = None,
              on_open: Callable[[], None] | None = None) -> LinkStats:
        """Run until :meth:`stop`, SIGTERM/SIGINT, or ``duration_s`` of wall time.

        Once the port exists, ``ready`` is written (the process id) and ``on_open`` called.
        """
        self._open_pty()
        if ready is not None:
            ready.write_text(str(os.getpid()))
        if on_open is not None:
            on_open()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.stop()

        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        decoder = StreamDecoder()
        t_end = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not self._stop and (t_end is None or time.monotonic() < t_end):
                if self._disconnects and self.stats.bytes_sent >= self._disconnects[0]:
                    self._disconnect()
                    decoder = StreamDecoder()
                    continue
                if self._stalls and self.stats.bytes_sent >= self._stalls[0]:
                    self._stalls.pop(0)
                    self.stats.stalls += 1
                    self._stalled_until = time.monotonic() + self.faults.stall_s
                stalled = time.monotonic() < self._stalled_until  # silent, the port open
                self._fill()
                wlist = [self._master] if self._out and not stalled else []
                timeout = 0.002 if (self._out or self.sensor.stream) else 0.05
                try:
                    r, w, _ = select.select([self._master], wlist, [], timeout)
                except InterruptedError:
                    continue
                if r:
                    try:
                        data = os.read(self._master, 4096)
                    except BlockingIOError:
                        data = b""
                    except OSError as e:
                        if e.errno != errno.EIO:
                            raise
                        data = b""
                    for ev in decoder.feed(data):
                        if isinstance(ev, Received):
                            self.stats.requests += 1
                            self._emit(self.sensor.handle(ev.message, self.now()))
                        elif isinstance(ev, Dropped) and ev.msg_type is not None:
                            self._emit(self.sensor.malformed(ev.msg_type))
                if (w or self._out) and not stalled:
                    self._write()
        finally:
            self._close_pty()
            with contextlib.suppress(FileNotFoundError):
                self.link_path.unlink()
            self.sensor.wait_truth()  # the truth files of the streams served are on disk
        return self.stats
