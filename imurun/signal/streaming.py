"""Running events and live metrics chunk by chunk: the batch maths with explicit state.

:class:`StreamingEvents` runs :func:`imurun.signal.events.detect_running_events` (and
:func:`imurun.signal.metrics.running_step_metrics` for the bounce) on a sliding window of the
newest samples and emits each step once, when it is far enough from both window edges that
the window's filters see it as they would in one pass over the whole recording: its IC, TO,
step time, label and bounce are final when emitted. The windows are placed on a fixed grid of
sample counts (every ``hop_s``, from the first ``hop_s`` of a segment on: until ``window_s`` of
samples have come, a window starts at the segment's first sample, where the batch detector's
filters start too, so only its right edge needs the margin), so the output does not depend on
how the samples were chunked
(one at a time, in random blocks or all at once); ``tests/test_streaming.py`` checks it against
the batch detector.

Sides are the exception: the batch side decision (:func:`imurun.signal.events.assign_sides`)
decodes all the steps of a segment together, with the segment's median step time and evidence
scale, so the side of a step can depend on samples any distance before or after it (a step at
0.6 s of standing noise takes another side when the recording stops at 16 s than when it goes
on to 82 s). No live decision can match that, so a step is emitted with the side decoded on its
window, and :meth:`StreamingEvents.flush` decides every step of the segment again, as batch
does: :meth:`StreamingEvents.segment_steps` then has the batch sides, and the steps ``flush``
returns carry them. The live side differs where the evidence is weak and the alternation
decides (standing noise, a pause, the first seconds of a segment): on sessions of the virtual
sensor, none to 17 of about 200 steps (``tests/test_streaming.py``).

State (readable): ``n_seen`` samples received, ``emitted_upto`` (global sample index before
which every step has been emitted), the buffer of the last ``window_s`` seconds, the steps of
the last ``rolling_s`` seconds behind :meth:`StreamingEvents.live`, and for the final sides the
steps of the segment and its lateral specific force and roll rate (16 bytes per sample: about
12 MB per hour at 200 Hz, up to twice that while the buffer grows).

Latency: a step is emitted ``margin_s`` to ``margin_s + hop_s`` seconds after its IC; its
final side comes at the end of the segment. Meanwhile :meth:`StreamingEvents.live` looks at the
steps not yet emitted provisionally (the detector on the newest ``window_s`` of samples, nothing
emitted or kept): ``LiveMetrics.settling_s`` says when enough running ones among them will be
final for numbers (``min_steps`` in the span), so that a live line can say the runner runs while
its numbers settle.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from imurun.consts import BF_FORWARD, BF_LEFT
from imurun.errors import SignalError
from imurun.signal._segments import as_signal, check_fs
from imurun.signal.activity import RUN as _RUN
from imurun.signal.activity import ActivitySettings, classify_steps
from imurun.signal.events import (
    RunningSettings,
    StepEvents,
    assign_sides,
    detect_running_events,
)
from imurun.signal.metrics import MetricSettings, running_step_metrics

FloatArray = npt.NDArray[np.float64]

__all__ = ["LiveMetrics", "StreamingEvents", "StreamingSettings", "StreamSteps"]


@dataclass(frozen=True)
class StreamingSettings:
    """Sliding-window streaming (:class:`StreamingEvents`). The defaults are the product.

    Attributes:
        window_s: samples analysed per pass.
        hop_s: a pass runs every ``hop_s`` seconds of samples.
        margin_s: steps closer than this to either window edge wait for a later pass.
        rolling_s: span of the live metrics (steps of the last ``rolling_s`` seconds).
        min_steps: running steps the live metrics need in their span while the newest
            samples show more running coming: with fewer, they have no numbers yet
            (``n_steps`` 0, ``settling_s`` says when they will); at the end of a run, its last
            steps are shown however few. The first steps of a run are few and often unlike
            the next ones (the runner speeds up): with 6, the first numbers came at most 2 s
            later on the sessions of ``benchmarks/live.py`` and much closer to the one-pass
            values (docs/metrics.md, "Live metrics"); ``1``: numbers from the first step.
        running / activity / metrics: the batch settings used on each window.

    """

    window_s: float = 16.0
    # a step is final margin_s to margin_s + hop_s after its IC: 3-5 s (4-8 s with 4 and 4).
    # With a 3-s margin the emitted steps (IC, TO, step time, label, bounce) equal the one-pass
    # ones on every session measured (109 segments, 6266 steps: virtual, bundled and real), with
    # 2 s not (a step's bounce takes its bias from the 3 steps after it); a 1-s hop changed the
    # provisional side of 3 of 1693 virtual steps against 1 with 2 s
    hop_s: float = 2.0
    margin_s: float = 3.0
    rolling_s: float = 10.0
    min_steps: int = 6
    running: RunningSettings = field(default_factory=RunningSettings)
    activity: ActivitySettings = field(default_factory=ActivitySettings)
    metrics: MetricSettings = field(default_factory=MetricSettings)

    def __post_init__(self) -> None:
        if not (self.hop_s > 0 and self.margin_s > 0 and self.rolling_s > 0):
            raise SignalError("hop_s, margin_s and rolling_s must be > 0")
        if not (isinstance(self.min_steps, int) and self.min_steps >= 1):
            raise SignalError(f"min_steps must be an integer >= 1, got {self.min_steps!r}")
        if self.window_s < self.hop_s + 2 * self.margin_s:
            raise SignalError("window_s must be at least hop_s + 2 margin_s: otherwise some "
                              "steps would never be far enough from a window edge")


@dataclass(frozen=True, eq=False)
class StreamSteps:
    """Steps emitted by one :meth:`StreamingEvents.update` (global sample indices and times).

    ``running`` says whether a step was labelled running (flight phase and a running step
    time); ``vertical_oscillation_m`` is NaN for other steps.
    """

    ic_index: FloatArray
    to_index: FloatArray
    ic_s: FloatArray
    to_s: FloatArray
    side: npt.NDArray[np.int8]
    step_s: FloatArray
    running: npt.NDArray[np.bool_]
    vertical_oscillation_m: FloatArray

    def __len__(self) -> int:
        return int(self.ic_index.shape[0])

    @classmethod
    def concat(cls, parts: list[StreamSteps]) -> StreamSteps:
        names = ("ic_index", "to_index", "ic_s", "to_s", "side", "step_s", "running",
                 "vertical_oscillation_m")
        if not parts:
            return cls(*(np.zeros(0, dtype=np.int8 if n == "side" else bool if n == "running"
                                  else np.float64) for n in names))
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


@dataclass(frozen=True)
class LiveMetrics:
    """Rolling values over the running steps of the last ``rolling_s`` seconds.

    NaN, and ``n_steps`` 0, when none are final there, or fewer than
    ``StreamingSettings.min_steps`` while the newest samples show more running coming.
    ``settling_s``: the newest samples, whose steps are not final yet (the last
    ``margin_s`` to ``margin_s + hop_s`` seconds), show running, and the numbers will have
    their ``min_steps`` in this many seconds of samples; NaN when they show none. With
    ``n_steps == 0`` and a finite ``settling_s``, the runner runs but the numbers are still
    settling (:func:`imurun.analysis_live.format_live` says so).
    """

    t_s: float
    n_steps: int
    cadence_spm: float
    contact_ms: float
    vertical_oscillation_cm: float
    settling_s: float = float("nan")


class StreamingEvents:
    """Body-frame samples in, running steps out, one contiguous segment at a time.

    ``update(bf_acc_ms2, bf_gyr_rads=None)`` appends samples and returns the steps that became
    final (all but their side, which is provisional); ``flush()`` returns the rest at the end of
    the segment and decides the sides of all its steps as batch does (``segment_steps()``);
    ``reset()`` starts a new segment (after a gap: nothing is filtered across it). ``t0_s`` is
    the time of the segment's first sample (event times are ``t0_s + index / fs_hz``).
    """

    def __init__(self, fs_hz: float, settings: StreamingSettings | None = None, *,
                 t0_s: float = 0.0) -> None:
        self.fs_hz = check_fs(fs_hz)
        self.settings = StreamingSettings() if settings is None else settings
        s = self.settings
        self._win = int(round(s.window_s * self.fs_hz))
        self._hop = int(round(s.hop_s * self.fs_hz))
        self._margin = int(round(s.margin_s * self.fs_hz))
        self.reset(t0_s)

    def reset(self, t0_s: float = 0.0) -> None:
        """Start a new segment at ``t0_s``.

        The samples buffered so far are dropped (call :meth:`flush` first to get their
        remaining steps, then :meth:`segment_steps` for all of them with their final sides);
        the recent steps behind :meth:`live` are kept.
        """
        self.t0_s = float(t0_s)
        self.n_seen = 0
        self.emitted_upto = 0
        # the first passes come before the window is full: their window starts at the
        # segment's first sample, as the batch detector's does, so only the right edge needs
        # the margin (waiting for a full window held the first steps back by up to window_s)
        self._next_pass = self._hop
        self._buf_start = 0  # global index of the buffer's first sample
        self._acc = np.zeros((0, 3))
        self._gyr: FloatArray | None = None
        # the segment so far, for its final sides: the steps emitted and the two signals the
        # side decision reads (lateral specific force, roll rate), grown by doubling
        self._segment: list[StreamSteps] = []
        self._side_signals = np.zeros((0, 2))
        if not hasattr(self, "_recent"):
            self._recent: list[StreamSteps] = []

    # ------------------------------------------------------------------ feeding
    def update(self, bf_acc_ms2: npt.ArrayLike,
               bf_gyr_rads: npt.ArrayLike | None = None) -> StreamSteps:
        """Append samples (``(m, 3)``, time on axis 0); the steps that became final."""
        acc = as_signal(bf_acc_ms2, "bf_acc_ms2")
        gyr = None if bf_gyr_rads is None else as_signal(bf_gyr_rads, "bf_gyr_rads",
                                                         acc.shape[0])
        if self.n_seen and (gyr is None) != (self._gyr is None):
            raise SignalError("a segment must be all with or all without gyroscope")
        self._acc = np.concatenate((self._acc, acc))
        if gyr is not None:
            self._gyr = gyr.copy() if self._gyr is None else np.concatenate((self._gyr, gyr))
        self._keep_side_signals(acc, gyr)
        self.n_seen += acc.shape[0]
        out = []
        while self.n_seen >= self._next_pass:
            out.append(self._pass(max(self._next_pass - self._win, 0), self._next_pass,
                                  self._next_pass - self._margin))
            self._next_pass += self._hop
        self._trim()
        return self._keep(StreamSteps.concat(out))

    def flush(self) -> StreamSteps:
        """Every step not yet emitted (end of the segment: no more samples will come)."""
        if self.n_seen == 0 or self.emitted_upto > self.n_seen:
            return StreamSteps.concat([])
        start = max(self.n_seen - self._win, self._buf_start)
        steps = self._pass(start, self.n_seen, self.n_seen + 1)
        self.emitted_upto = self.n_seen + 1
        segment = StreamSteps.concat(self._segment)
        if len(segment):
            segment = replace(segment, side=self._final_sides(segment.ic_index))
            self._segment = [segment]
            steps = replace(steps, side=segment.side[len(segment) - len(steps):])
        return self._keep(steps)

    def segment_steps(self) -> StreamSteps:
        """Every step emitted in the current segment, in order.

        After :meth:`flush` their sides are final: equal to those of the batch detector on the
        whole segment. Before, each has the side it was emitted with (see the module notes).
        """
        return StreamSteps.concat(self._segment)

    def live(self, t_s: float | None = None) -> LiveMetrics:
        """Rolling cadence, contact time and bounce of the recent running steps."""
        recent = StreamSteps.concat(self._recent)
        now = (self.t0_s + self.n_seen / self.fs_hz) if t_s is None else float(t_s)
        m = recent.running & (recent.ic_s >= now - self.settings.rolling_s - self.settings.margin_s
                              - self.settings.hop_s)
        n_final = int(np.count_nonzero(m))
        if n_final < self.settings.min_steps:
            # too few to rest numbers on while more are coming (the newest samples show
            # running): wait for them; at the end of a run, its last steps are what there is
            settling_s = self._settling_s(self.settings.min_steps - n_final)
            if n_final == 0 or np.isfinite(settling_s):
                return LiveMetrics(t_s=now, n_steps=0, cadence_spm=float("nan"),
                                   contact_ms=float("nan"),
                                   vertical_oscillation_cm=float("nan"), settling_s=settling_s)
        st = recent.step_s[m]
        st = st[np.isfinite(st)]
        contact = (recent.to_s - recent.ic_s)[m]
        contact = contact[np.isfinite(contact)]
        vo = recent.vertical_oscillation_m[m]
        vo = vo[np.isfinite(vo)]
        return LiveMetrics(
            t_s=now, n_steps=n_final,
            cadence_spm=60.0 / float(np.median(st)) if st.size else float("nan"),
            contact_ms=1e3 * float(np.median(contact)) if contact.size else float("nan"),
            vertical_oscillation_cm=1e2 * float(np.median(vo)) if vo.size else float("nan"),
            settling_s=self._settling_s(1),
        )

    # ------------------------------------------------------------------ internals
    def _keep_side_signals(self, acc: FloatArray, gyr: FloatArray | None) -> None:
        n, m = self.n_seen, acc.shape[0]
        if n + m > self._side_signals.shape[0]:
            grown = np.empty((max(2 * self._side_signals.shape[0], n + m, 1024), 2))
            grown[:n] = self._side_signals[:n]
            self._side_signals = grown
        self._side_signals[n:n + m, 0] = acc[:, BF_LEFT]
        self._side_signals[n:n + m, 1] = np.nan if gyr is None else gyr[:, BF_FORWARD]

    def _final_sides(self, ic_index: FloatArray) -> npt.NDArray[np.int8]:
        """The batch side decision over the whole segment, for its steps ``ic_index``."""
        n = self.n_seen
        acc = np.full((n, 3), np.nan)
        acc[:, BF_LEFT] = self._side_signals[:n, 0]
        gyr = None
        if self._gyr is not None:
            gyr = np.full((n, 3), np.nan)
            gyr[:, BF_FORWARD] = self._side_signals[:n, 1]
        side, _ = assign_sides(acc, self.fs_hz, ic_index, np.zeros(ic_index.size, np.int64),
                               gyr, settings=self.settings.running.sides)
        return side

    def _keep(self, steps: StreamSteps) -> StreamSteps:
        if len(steps):
            self._recent.append(steps)
            horizon = (self.t0_s + self.n_seen / self.fs_hz - 2 * self.settings.window_s)
            self._recent = [p for p in self._recent if len(p) and p.ic_s[-1] >= horizon]
        return steps

    def _trim(self) -> None:
        keep_from = max(self._next_pass - self._win, 0)
        cut = keep_from - self._buf_start
        if cut > 0:
            self._acc = self._acc[cut:]
            if self._gyr is not None:
                self._gyr = self._gyr[cut:]
            self._buf_start = keep_from

    def _detect(self, start: int, stop: int,
                ) -> tuple[StepEvents, FloatArray, npt.NDArray[np.bool_]] | None:
        """The batch detector and step labels on global samples ``[start, stop)`` (buffered).

        ``None`` when the range is too short for the detector.
        """
        s = self.settings
        fs = self.fs_hz
        a, b = start - self._buf_start, stop - self._buf_start
        if b - a < max(s.running.min_segment_s * fs, 16):
            return None
        acc = self._acc[a:b]
        gyr = None if self._gyr is None else self._gyr[a:b]
        ev = detect_running_events(acc, fs, gyr, settings=s.running)
        code = classify_steps(ev.ic_s, ev.to_s, ev.segment, ev.flight, s.activity)
        return ev, acc, code == _RUN

    def _settling_s(self, k: int) -> float:
        """Seconds of samples until the ``k``-th running step not yet emitted is final.

        The steps not yet emitted are looked at provisionally, by the detector on the newest
        ``window_s`` of samples (what the next passes will see, short of their right margin);
        NaN when none of them is running. When fewer than ``k`` are in yet (a run that has just
        begun), the missing ones are taken to follow the last at the median step time of those
        in (the longest running step time, ``run_step_s[1]``, with one in): a runner who
        speeds up has shorter steps, so their numbers come then or sooner.
        """
        start = max(self.n_seen - self._win, self._buf_start)
        found = self._detect(start, self.n_seen) if self.n_seen > self.emitted_upto else None
        if found is None:
            return float("nan")
        ev, _, run = found
        ic = ev.ic_index + start
        with np.errstate(invalid="ignore"):
            pending = ic[run & np.isfinite(ic) & (ic >= self.emitted_upto)]
        if pending.size == 0:
            return float("nan")
        if pending.size >= k:
            ic_k = float(pending[k - 1])
        else:
            step_n = (float(np.median(np.diff(pending))) if pending.size > 1
                      else self.settings.activity.run_step_s[1] * self.fs_hz)
            ic_k = float(pending[-1]) + (k - pending.size) * step_n
        # it is emitted by the first pass on the grid (every hop) whose emit_before passes it
        final_at = (np.floor((ic_k + self._margin) / self._hop) + 1) * self._hop
        return float(final_at - self.n_seen) / self.fs_hz

    def _pass(self, start: int, stop: int, emit_before: int) -> StreamSteps:
        """Detect on global samples ``[start, stop)``; emit the steps not yet emitted.

        Those are the steps with IC in ``[emitted_upto, emit_before)``.
        """
        s = self.settings
        fs = self.fs_hz
        if emit_before <= self.emitted_upto:  # nothing it could emit (the first hop)
            return StreamSteps.concat([])
        found = self._detect(start, stop)
        if found is None:
            return StreamSteps.concat([])
        ev, acc, run = found
        ic = ev.ic_index + start
        to = ev.to_index + start
        nxt = np.full(ic.size, np.nan)
        nxt[:-1] = ic[1:]
        km = running_step_metrics(acc, fs, ev.ic_index, ev.to_index, nxt - start,
                                  segments=((0, acc.shape[0]),), settings=s.metrics)
        vo = np.where(run, km.vertical_oscillation_m, np.nan)
        with np.errstate(invalid="ignore"):
            sel = np.isfinite(ic) & (ic >= self.emitted_upto) & (ic < emit_before)
        self.emitted_upto = max(self.emitted_upto, min(emit_before, stop))
        sel_idx = np.flatnonzero(sel)
        steps = StreamSteps(
            ic_index=ic[sel_idx], to_index=to[sel_idx],
            ic_s=self.t0_s + ic[sel_idx] / fs, to_s=self.t0_s + to[sel_idx] / fs,
            side=ev.side[sel_idx].astype(np.int8), step_s=(nxt - ic)[sel_idx] / fs,
            running=run[sel_idx], vertical_oscillation_m=vo[sel_idx])
        if len(steps):
            self._segment.append(steps)
        return steps
