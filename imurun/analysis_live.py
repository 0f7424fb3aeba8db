"""Live running metrics while streaming: rolling cadence, contact time and bounce.

:class:`LiveAnalyzer` takes sensor-frame samples as they arrive, estimates the mounting once
enough locomotion has been seen (:func:`imurun.signal.mounting.estimate_mounting` on the first
seconds), then runs :class:`imurun.signal.streaming.StreamingEvents` (the batch detectors on a
sliding window, see there) and reports :class:`imurun.signal.streaming.LiveMetrics` every
``report_every_s`` seconds of samples.

:class:`LiveStreamHook` adapts it to the device layer: it is the ``on_event`` hook of
:func:`imurun.device.stream.stream_live` and :func:`imurun.device.stream.replay`, turning
decoded messages (``DEVICE_INFO`` for the units, ``SAMPLE_BATCH`` for the samples, a reboot or
a jump of the sample counter for a gap) into samples. ``imurun stream ... --live`` prints its
reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from firmware_protocol.codec import ParseEvent, Rebooted, Received
from firmware_protocol.messages import DeviceInfo, SampleBatch
from imurun.signal._segments import as_signal
from imurun.signal.mounting import Mounting, MountingError, MountingSettings, estimate_mounting
from imurun.signal.streaming import LiveMetrics, StreamingEvents, StreamingSettings

FloatArray = npt.NDArray[np.float64]

__all__ = ["LiveAnalyzer", "LiveStreamHook", "format_live"]


def format_live(m: LiveMetrics) -> str:
    """One line for the terminal."""
    if m.n_steps == 0:
        return f"live {m.t_s:7.1f} s: no running in the last seconds"
    return (f"live {m.t_s:7.1f} s: cadence {m.cadence_spm:5.1f} steps/min, contact "
            f"{m.contact_ms:4.0f} ms, bounce {m.vertical_oscillation_cm:4.1f} cm "
            f"({m.n_steps} steps)")


class LiveAnalyzer:
    """Sensor-frame samples in, :class:`LiveMetrics` out every ``report_every_s`` seconds.

    Args:
        fs_hz: sample rate.
        on_report: called with each report.
        report_every_s: seconds of samples between reports.
        mounting: the sensor-to-body rotation if known (else estimated from the first
            ``mounting_window_s`` seconds; until then nothing is reported).
        settings: :class:`StreamingSettings`.
        mounting_window_s: samples collected for the mounting estimate; if it fails on
            ``mounting_max_s`` seconds, the sensor axes are taken as body axes.

    State (readable): ``mounting`` (``None`` until known), ``n_seen``, ``status``.

    """

    def __init__(self, fs_hz: float, on_report: Callable[[LiveMetrics], None], *,
                 report_every_s: float = 5.0, mounting: Mounting | None = None,
                 settings: StreamingSettings | None = None, mounting_window_s: float = 20.0,
                 mounting_max_s: float = 60.0) -> None:
        self.fs_hz = float(fs_hz)
        self.on_report = on_report
        self.report_every_s = float(report_every_s)
        self.mounting = mounting
        self.settings = StreamingSettings() if settings is None else settings
        self.mounting_window_s = mounting_window_s
        self.mounting_max_s = mounting_max_s
        self.status = "estimating the sensor placement" if mounting is None else "running"
        self.n_seen = 0
        self._events = StreamingEvents(self.fs_hz, self.settings)
        self._pending: list[tuple[FloatArray, FloatArray | None]] = []
        self._n_pending = 0
        self._next_try = int(round(mounting_window_s * self.fs_hz))
        self._next_report = self.report_every_s
        self._t0 = 0.0

    def gap(self, t_next_s: float | None = None) -> None:
        """Samples are missing: the next ones start a new segment.

        It starts at ``t_next_s`` when the time is known, else right after the previous one.
        """
        ev = self._events
        t0 = ev.t0_s + ev.n_seen / self.fs_hz if t_next_s is None else float(t_next_s)
        if self.mounting is not None:
            ev.flush()
            ev.reset(t0)
        else:
            self._t0 = t0 - self._n_pending / self.fs_hz  # (approximate before the mounting)

    def add(self, sf_acc_ms2: npt.ArrayLike, sf_gyr_rads: npt.ArrayLike | None) -> None:
        """Contiguous samples in the sensor frame (continuing the previous ones).

        ``(m, 3)`` arrays, time on axis 0 (:class:`~imurun.errors.SignalError` otherwise,
        before anything is buffered).
        """
        sf_acc_ms2 = as_signal(sf_acc_ms2, "sf_acc_ms2")
        sf_gyr_rads = (None if sf_gyr_rads is None
                       else as_signal(sf_gyr_rads, "sf_gyr_rads", sf_acc_ms2.shape[0]))
        if self.mounting is None:
            self._pending.append((sf_acc_ms2, sf_gyr_rads))
            self._n_pending += sf_acc_ms2.shape[0]
            self.n_seen += sf_acc_ms2.shape[0]
            if self._n_pending >= self._next_try:
                self._try_mounting()
            return
        self.n_seen += sf_acc_ms2.shape[0]
        self._feed(sf_acc_ms2, sf_gyr_rads)

    def _try_mounting(self) -> None:
        acc = np.concatenate([p[0] for p in self._pending])
        gyrs = [p[1] for p in self._pending]
        gyr = None if any(g is None for g in gyrs) else np.concatenate(
            [g for g in gyrs if g is not None])
        try:
            self.mounting = estimate_mounting(acc, self.fs_hz, gyr_rads=gyr,
                                              settings=MountingSettings())
        except MountingError:
            if self._n_pending < self.mounting_max_s * self.fs_hz:
                self._next_try = self._n_pending + int(round(5.0 * self.fs_hz))
                return
            self.mounting = Mounting.identity()
            self.status = "sensor placement unknown: sensor axes taken as body axes"
        else:
            self.status = "running"
        pending, self._pending, self._n_pending = self._pending, [], 0
        self._events.reset(self._t0)
        for a, g in pending:
            self._feed(a, g)

    def _feed(self, acc: FloatArray, gyr: FloatArray | None) -> None:
        assert self.mounting is not None
        r = self.mounting.r_sb
        self._events.update(np.einsum("nj,kj->nk", acc, r),
                            None if gyr is None else np.einsum("nj,kj->nk", gyr, r))
        t = self._events.t0_s + self._events.n_seen / self.fs_hz
        if t >= self._next_report:  # one report even after a catch-up
            self.on_report(self._events.live(t))
            self._next_report = (math.floor(t / self.report_every_s) + 1) * self.report_every_s


class LiveStreamHook:
    """``on_event`` hook of :func:`imurun.device.stream.stream_live`: decoded messages in.

    The sensor's ``DEVICE_INFO`` gives the units and rate; each ``SAMPLE_BATCH`` is converted
    to SI and added; a reboot or a jump of the sample counter is a gap. ``say`` receives one
    line per report (see :func:`format_live`).
    """

    def __init__(self, say: Callable[[str], None], *, report_every_s: float = 5.0,
                 settings: StreamingSettings | None = None) -> None:
        self.say = say
        self.report_every_s = report_every_s
        self.settings = settings
        self.info: DeviceInfo | None = None
        self.analyzer: LiveAnalyzer | None = None
        self._next_counter: int | None = None
        self._t_next = 0.0  # time of the next expected sample, s
        self._last_status = ""

    def __call__(self, t_host_s: float, ev: ParseEvent) -> None:
        if isinstance(ev, Rebooted):
            self._next_counter = None
            if self.analyzer is not None:
                self.analyzer.gap()
            return
        if not isinstance(ev, Received):
            return
        m = ev.message
        if isinstance(m, DeviceInfo):
            if self.info is None or self.info.sample_rate_hz != m.sample_rate_hz:
                self.analyzer = LiveAnalyzer(float(m.sample_rate_hz), self._report,
                                             report_every_s=self.report_every_s,
                                             settings=self.settings)
            self.info = m
        elif isinstance(m, SampleBatch) and self.info is not None and self.analyzer is not None:
            fs = float(self.info.sample_rate_hz)
            if self._next_counter is not None and m.sample_counter != self._next_counter:
                missing = (m.sample_counter - self._next_counter) % 2**32
                if missing > 2**31:
                    return  # a late duplicate: already seen
                self._t_next += missing / fs
                self.analyzer.gap(self._t_next)
            self._next_counter = (m.sample_counter + m.n) % 2**32
            self._t_next += m.n / fs
            acc, gyr = self.info.scale.to_si(m.counts)
            self.analyzer.add(acc, gyr)

    def _report(self, metrics: LiveMetrics) -> None:
        assert self.analyzer is not None
        if self.analyzer.status != self._last_status and self.analyzer.status != "running":
            self.say(f"live: {self.analyzer.status}")
        self._last_status = self.analyzer.status
        if math.isfinite(metrics.t_s):
            self.say(format_live(metrics))
