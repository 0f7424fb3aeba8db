"""A runner's history in the library, as the reports need it: baselines, run lengths, indicators.

The **baseline** of a runner at a moment is made of their analysed runs of the
:data:`BASELINE_DAYS` days before it: each metric's baseline is the median of those runs' own
medians (every run counts once, however long), each indicator's the median of its values. The
run report compares a run with the baseline before the run; the weekly summary compares a week
with the baseline before the week.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from imurun.store.library import Library, RunRecord, require_run

#: Days of history that make a runner's baseline (four weeks).
BASELINE_DAYS: Final = 28
DAY_S: Final = 86_400.0

#: Summary metrics the reports compare with the baseline: (key, label, unit, format).
FORM_METRICS: Final = (
    ("cadence_spm", "Cadence", "steps/min", ".0f"),
    ("contact_ms", "Contact time", "ms", ".0f"),
    ("contact_balance_left_pct", "Contact time on the left", "%", ".1f"),
    ("vertical_oscillation_cm", "Bounce (vertical oscillation)", "cm", ".1f"),
    ("braking_mps", "Braking", "m/s", ".2f"),
    ("pelvic_drop_stance_left_deg", "Pelvic drop, left stance", "°", ".1f"),
    ("pelvic_drop_stance_right_deg", "Pelvic drop, right stance", "°", ".1f"),
    ("pelvic_tilt_range_deg", "Pelvic tilt range", "°", ".1f"),
    ("pelvic_rotation_range_deg", "Pelvic rotation range", "°", ".1f"),
)


def summary_value(summary: Mapping[str, Any] | None, key: str) -> float:
    """A number of an ``imurun.analysis/1`` summary object; NaN when missing or null."""
    if summary is None:
        return math.nan
    v = summary.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def run_value(run: RunRecord, key: str) -> float:
    """A number of a run's analysis summary (:func:`summary_value`); NaN when missing or null.

    From the index's columns where it keeps the value, so a long history needs no summary
    parsed (``RunRecord.summary``); from the summary object otherwise. ``run`` is a
    ``RunRecord`` (:class:`~imurun.errors.UsageError` at once otherwise: no library to look a
    run id up in).
    """
    require_run(run, "run")
    if key in run.summary_values:
        v = run.summary_values[key]
        return math.nan if v is None else float(v)
    return summary_value(run.summary, key)


def median(values: Iterable[float]) -> float:
    v = [x for x in values if math.isfinite(x)]
    return float(statistics.median(v)) if v else math.nan


@dataclass(frozen=True)
class RunLength:
    """How long a run was: running time (from the analysis, else the recording) and distance."""

    running_s: float
    recorded_s: float
    steps: int
    distance_m: float | None
    analysed: bool


def run_length(lib: Library, run: RunRecord | str) -> RunLength:
    """How long ``run`` (a ``RunRecord`` or its id) is: running, recorded, steps, distance."""
    run = lib.resolve_run(run)
    recorded = float(run.duration_s) if run.duration_s is not None else math.nan
    running = run_value(run, "running_s")
    analysed = run.analysed
    if not math.isfinite(running):
        running = recorded
    n_steps = run_value(run, "n_steps")
    steps = int(n_steps) if math.isfinite(n_steps) else 0
    row = lib.db.execute("SELECT distance_m FROM attachments WHERE run_id = ?",
                         (run.id,)).fetchone()
    dist = None if row is None or row["distance_m"] is None else float(row["distance_m"])
    return RunLength(running, recorded, steps, dist, analysed)


@dataclass(frozen=True)
class RunIndicator:
    """One indicator of one run, as its analysis saved it."""

    key: str
    title: str
    level: str
    value: float
    unit: str


def run_indicators(lib: Library, run: RunRecord | str) -> dict[str, RunIndicator]:
    """The indicators of a run's saved analysis (empty when it has none).

    ``run``: a ``RunRecord`` or its id (:meth:`~imurun.store.library.Library.resolve_run`).
    """
    run = lib.resolve_run(run)
    out: dict[str, RunIndicator] = {}
    for d in lib.indicators(run) if run.analysis_version is not None else ():
        if isinstance(d, dict) and "key" in d:
            v = d.get("value")
            out[str(d["key"])] = RunIndicator(
                str(d["key"]), str(d.get("title", d["key"])), str(d.get("level", "unknown")),
                float(v) if isinstance(v, int | float) else math.nan, str(d.get("unit", "")))
    return out


@dataclass(frozen=True)
class Baseline:
    """A runner's own reference: their analysed runs in ``[since_unix_s, until_unix_s)``."""

    athlete_id: str
    since_unix_s: float
    until_unix_s: float
    run_ids: tuple[str, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    indicators: Mapping[str, float] = field(default_factory=dict)
    run_starts_unix_s: tuple[float, ...] = ()  # when the runs of ``run_ids`` started

    @property
    def n_runs(self) -> int:
        return len(self.run_ids)

    def metric(self, key: str) -> float:
        return self.metrics.get(key, math.nan)

    def indicator(self, key: str) -> float:
        return self.indicators.get(key, math.nan)


def athlete_baseline(lib: Library, athlete_id: str, until_unix_s: float, *,
                     days: float = BASELINE_DAYS, exclude: Sequence[str] = (),
                     with_indicators: bool = True) -> Baseline:
    """The baseline of ``athlete_id`` from the ``days`` before ``until_unix_s`` (exclusive).

    Only runs with running count: a walk or a recording without running has no form to be a
    baseline for (and is not one of "your N runs"). ``athlete_id`` is an athlete's id, or their
    name (or id prefix) as :meth:`~imurun.store.library.Library.athlete` takes it.
    """
    athlete_id = _athlete_id(lib, athlete_id)
    since = until_unix_s - days * DAY_S
    runs = [r for r in _athlete_runs(lib, athlete_id, since, until_unix_s)
            if r.analysed and r.id not in exclude
            and not run_value(r, "running_s") <= 0.0]  # (unknown: kept)
    metrics = {key: median(run_value(r, key) for r in runs)
               for key in _all_summary_keys()}
    indicators: dict[str, float] = {}
    if with_indicators and runs:
        per_key: dict[str, list[float]] = {}
        for r in runs:
            for k, ind in run_indicators(lib, r).items():
                per_key.setdefault(k, []).append(ind.value)
        indicators = {k: median(v) for k, v in per_key.items()}
    return Baseline(athlete_id, since, until_unix_s, tuple(r.id for r in runs), metrics,
                    indicators, tuple(float(r.start_unix_s or 0.0) for r in runs))


def _athlete_id(lib: Library, ref: str) -> str:
    """``ref`` as an athlete's id: itself when it is one, else the id of the athlete it names.

    Either an athlete's id or a run's athlete's; else :meth:`Library.athlete` reads it (a name
    used to match no run, silently: an empty history).
    """
    if isinstance(ref, str) and (
            lib.db.execute("SELECT 1 FROM athletes WHERE id = ?", (ref,)).fetchone() is not None
            or lib.db.execute("SELECT 1 FROM runs WHERE athlete_id = ? LIMIT 1",
                              (ref,)).fetchone() is not None):
        return ref
    if not isinstance(ref, str):
        from imurun.errors import UsageError

        raise UsageError(f"athlete_id takes an athlete's id or name, not {type(ref).__name__}")
    return lib.athlete(ref).id


def _all_summary_keys() -> tuple[str, ...]:
    extra = ("running_s", "n_steps", "impact_g", "flight_ms", "step_time_cv_pct",
             "vertical_stiffness_kn_m")
    return tuple(k for k, *_ in FORM_METRICS) + extra


def _athlete_runs(lib: Library, athlete_id: str, since: float, until: float) -> list[RunRecord]:
    rows = lib.db.execute("SELECT id FROM runs WHERE athlete_id = ? AND start_unix_s >= ? AND "
                          "start_unix_s < ? ORDER BY start_unix_s", (athlete_id, since, until))
    out = []
    for (rid,) in rows.fetchall():
        r = lib.get(rid)
        if r is not None:
            out.append(r)
    return out


def athlete_runs(lib: Library, athlete_id: str, since_unix_s: float,
                 until_unix_s: float) -> list[RunRecord]:
    """An athlete's runs that started in ``[since_unix_s, until_unix_s)``, in time order.

    ``athlete_id`` is an athlete's id, or their name (or id prefix) as
    :meth:`~imurun.store.library.Library.athlete` takes it.
    """
    athlete_id = _athlete_id(lib, athlete_id)
    return _athlete_runs(lib, athlete_id, since_unix_s, until_unix_s)
