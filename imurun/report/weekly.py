"""The coach's weekly summary: one row per athlete, those who need a check-in first.

:func:`weekly_summary` reads a library and returns a :class:`WeeklySummary`;
:func:`render_html`, :func:`to_csv` and :func:`to_json` write it for people, spreadsheets and
scripts (columns and keys in ``docs/reports.md``; within a schema, ``imurun.weekly/1`` now, they
are only ever added, CSV columns at the end).

Per athlete and ISO week (Monday to Sunday, local time):

* **volume**: runs, running time (the analysis' running steps; the recording's length for a run
  not analysed), running steps, distance when a watch file is attached;
* **pace and step length** (runs with a watch file that has speed): the median over those runs
  of each run's median pace and median step length over its running steps
  (:mod:`imurun.signal.pace`), so a change of form can be told from a change of pace;
* **load**: running time against the mean of the previous 4 weeks (weeks before the athlete's
  first run are left out). Shown for context only: the acute:chronic ratio did not predict
  injury and is largely a statistical artefact (Impellizzeri et al. 2020), so it raises nothing;
* **single-run spike**: for each run, its length against the longest run of the 30 days before
  it (Frandsen et al. 2025, BJSM: spikes of more than 10 % over that longest run predicted
  overuse injury, more so the larger they were; weekly ratios did not). Distance when every run
  involved has one, running time otherwise. The week's spike is its largest. A new athlete's
  first runs are not judged: "the longest of the 30 days before" is then one or two runs, so
  nearly every longer run read as a spike. A run gets a spike verdict once the athlete has at
  least :data:`SPIKE_MIN_HISTORY_RUNS` runs recorded before it, the first at least
  :data:`SPIKE_MIN_HISTORY_DAYS` days before it; until then its category is
  ``"not_enough_history"``. A recording without running (a walk) is no run to judge: a week
  (or a run) with none but such is ``"no_running"``; nor is it a run of the history: walks
  count neither among the runs before a run nor as the longest of them;
* **form**: medians over the week's runs of each run's median, against the athlete's baseline
  (the same over the 28 days before the week, :mod:`imurun.report.history`);
* **indicators**: per form indicator, in how many of the week's runs it was raised;
* **data quality**: runs whose analysis failed, time lost to gaps, runs that overlap in time
  (one run held twice).

Ordering (:data:`ORDERING_RULE`): every athlete gets zero or more *reasons* to check in, each
with a priority (1 most urgent); athletes are sorted by their most urgent reason, then by the
number of reasons at that priority, then by the number of reasons, then by the size of their
spike, then by name. Athletes without a reason come last.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from imurun import __version__
from imurun._timetext import pace_text, time_parts, time_text
from imurun.errors import UsageError
from imurun.report import _html as h
from imurun.report.history import (
    BASELINE_DAYS,
    DAY_S,
    FORM_METRICS,
    athlete_baseline,
    athlete_runs,
    median,
    run_indicators,
    run_length,
    run_value,
)
from imurun.signal.indicators import IndicatorSettings, balance_moved, current_title
from imurun.store.attach import run_stride_summary
from imurun.store.library import Library, RunRecord, local_day_start, name_sort_key

__all__ = ["CSV_COLUMNS", "INDICATOR_KEYS", "ORDERING_RULE", "SPIKE_BANDS",
           "SPIKE_MIN_HISTORY_DAYS", "SPIKE_MIN_HISTORY_RUNS", "SPIKE_WINDOW_DAYS",
           "WEEKLY_SCHEMA", "AthleteWeek", "IsoWeek", "Spike", "WeeklySummary", "render_html",
           "run_spike", "spike_category",
           "to_csv", "to_json", "weekly_summary"]

WEEKLY_SCHEMA: Final = "imurun.weekly/1"
#: Days before a run in which its longest predecessor is looked for (Frandsen et al. 2025).
SPIKE_WINDOW_DAYS: Final = 30
#: Spike categories: (lower bound in % above the longest previous run, name), largest first;
#: the bands of Frandsen et al. 2025. At or below 10 % is ``"none"``.
SPIKE_BANDS: Final = ((100.0, "large"), (30.0, "moderate"), (10.0, "small"))
#: A run is judged for a spike only when the athlete has at least this many runs recorded
#: before it ...
SPIKE_MIN_HISTORY_RUNS: Final = 2
#: ... and the first of them at least this many days before it (two weekly cycles: a weekly
#: long run has been seen twice). Fewer: ``"not_enough_history"``, no reason to check in.
SPIKE_MIN_HISTORY_DAYS: Final = 14
#: Weeks the load is compared with.
LOAD_WEEKS: Final = 4
#: Share of recorded time lost to gaps above which the data quality is a reason to look.
LOST_PCT_LOOK: Final = 5.0
#: Indicator keys with a column in the CSV (those of :mod:`imurun.signal.indicators`).
INDICATOR_KEYS: Final = ("overstriding", "pelvic_drop_left", "pelvic_drop_right",
                         "anterior_tilt", "asymmetry", "form_drift")

#: Reasons to check in: key -> (priority, what it means). 1 is the most urgent.
REASONS: Final = {
    "spike_large": (1, "a run more than twice as long as the longest of the 30 days before"),
    "spike_moderate": (2, "a run 30-100 % longer than the longest of the 30 days before"),
    "indicator_strong": (2, "a form indicator strongly raised in at least half of the week's "
                            "runs"),
    "spike_small": (3, "a run 10-30 % longer than the longest of the 30 days before"),
    "indicator_raised": (3, "a form indicator raised in at least half of the week's runs"),
    "form_change": (3, "form changed from the athlete's own 4-week baseline"),
    "no_runs": (3, "no running this week after running in the previous 4 weeks (only once "
                "the week is over)"),
    "data_quality": (4, "a run could not be analysed, more than 5 % of the recorded time "
                        "was lost, or runs overlap in time (one run held twice)"),
}
ORDERING_RULE: Final = (
    "Athletes are sorted by their most urgent reason to check in (priority 1 = a run more than "
    "twice the longest of the previous 30 days; 2 = a 30-100 % spike or an indicator strongly "
    "raised in at least half of the week's runs; 3 = a 10-30 % spike, an indicator raised in at "
    "least half of the runs, form changed from the athlete's own 4-week baseline, or no running "
    "in a finished week after running in the previous 4 weeks; 4 = data quality), then by the "
    "number of reasons at "
    "that priority, then by the number of reasons, then by the size of the spike, then by name. "
    "Athletes without a reason come last.")

_ATTENTION: Final = {"check_in": "check in", "look": "take a look", "ok": "no flags"}


# ============================================================================ weeks
@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week (Monday to Sunday); boundaries at local midnight."""

    year: int
    week: int

    def __post_init__(self) -> None:
        try:
            dt.date.fromisocalendar(self.year, self.week, 1)
        except ValueError as e:
            raise UsageError(f"{self.year}-W{self.week:02d} is not a week of the ISO calendar") \
                from e

    @classmethod
    def parse(cls, text: str | None, *, today: dt.date | None = None) -> IsoWeek:
        """``2026-W47``, ``this`` (default) or ``last``."""
        day = today or dt.date.today()
        t = (text or "this").strip()
        if t.lower() in ("this", "current"):
            return cls.of(day)
        if t.lower() in ("last", "previous"):
            return cls.of(day).shift(-1)
        parts = t.upper().replace("-W", "W").split("W")
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() and len(parts[0]) == 4:
            return cls(int(parts[0]), int(parts[1]))
        raise UsageError(f"{text!r} is not a week: give YYYY-Www (e.g. 2026-W47), 'this' or "
                         "'last'")

    @classmethod
    def of(cls, day: dt.date) -> IsoWeek:
        """The ISO week holding ``day``."""
        y, w, _ = day.isocalendar()
        return cls(y, w)

    @property
    def label(self) -> str:
        """``YYYY-Www`` (``2026-W47``), what :meth:`parse` reads."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> dt.date:
        """The week's first day."""
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> dt.date:
        """The week's last day."""
        return self.monday + dt.timedelta(days=6)

    @property
    def start_unix_s(self) -> float:
        """Unix time (s) of Monday 00:00, local time: runs from then on are in the week."""
        return local_day_start(self.monday)

    @property
    def end_unix_s(self) -> float:
        """Unix time (s) of the next Monday 00:00, local time (excluded)."""
        return local_day_start(self.monday + dt.timedelta(days=7))

    def shift(self, weeks: int) -> IsoWeek:
        """The week ``weeks`` weeks later (earlier when negative)."""
        return IsoWeek.of(self.monday + dt.timedelta(weeks=weeks))

    def __str__(self) -> str:
        return self.label


# ============================================================================ results
@dataclass(frozen=True)
class Spike:
    """The week's largest single-run spike (NaN ``pct`` when there was nothing to compare)."""

    pct: float
    category: str  # none, small, moderate, large, not_enough_history, no_history, no_runs,
    # no_running
    run_id: str | None = None
    measure: str = ""  # "distance" or "running time"
    value: float = math.nan  # km or minutes
    previous_longest: float = math.nan
    #: days from the athlete's first recorded run (with running: not a walk) to the spike's run
    #: when fewer than the 30 of the window (a new athlete: their running before that is not
    #: known); NaN otherwise
    history_days: float = math.nan
    #: the athlete's runs with running (walks not counted) recorded before the spike's run (for
    #: ``"not_enough_history"``: before the week's last run); None when there was no run to judge
    history_runs: int | None = None


@dataclass(frozen=True)
class FormChange:
    key: str
    label: str
    unit: str
    week: float
    baseline: float
    flagged: bool = False

    @property
    def change(self) -> float:
        return self.week - self.baseline


@dataclass(frozen=True)
class IndicatorCount:
    key: str
    title: str
    measured_runs: int
    raised_runs: int  # raised or strongly raised
    strong_runs: int
    tracked_runs: int = 0  # "info": measured, with no threshold to check (anterior tilt)

    @property
    def level(self) -> str:
        """The week's level: strongly raised / raised when so in at least half of the runs.

        Otherwise "not raised" when a threshold was checked in the runs, and "info" (tracked, no
        threshold), as in the run reports, when the indicator has none.
        """
        if self.measured_runs == 0:
            return "unknown"
        if 2 * self.strong_runs >= self.measured_runs:
            return "strongly_raised"
        if 2 * self.raised_runs >= self.measured_runs:
            return "raised"
        if self.tracked_runs + self.raised_runs >= self.measured_runs:
            return "info"
        return "not_raised"


@dataclass(frozen=True)
class Quality:
    runs_failed: int
    runs_unanalysed: int
    recorded_s: float  # of the analysed runs
    lost_s: float
    frames_lost: int
    #: runs of the week that share their time with another of the athlete's runs (one run held
    #: twice? both count in the volume; :meth:`Library.same_time_runs`)
    same_time_runs: int = 0

    @property
    def lost_pct(self) -> float:
        return 100.0 * self.lost_s / self.recorded_s if self.recorded_s > 0 else math.nan


@dataclass(frozen=True)
class Reason:
    key: str
    priority: int
    text: str


@dataclass(frozen=True)
class AthleteWeek:
    """One athlete's week (see the module docstring for every definition)."""

    athlete_id: str
    name: str
    run_ids: tuple[str, ...]
    runs_analysed: int
    running_s: float
    recorded_s: float
    steps: int
    distance_m: float | None
    distance_runs: int
    previous_weeks: tuple[tuple[str, float], ...]  # (week label, running s), oldest first
    load_mean_s: float
    spike: Spike
    form: tuple[FormChange, ...]
    indicators: tuple[IndicatorCount, ...]
    quality: Quality
    baseline_runs: int
    reasons: tuple[Reason, ...] = ()
    pace_s_per_km: float = math.nan  # median over the runs with watch speed of their medians
    step_length_m: float = math.nan  # likewise
    watch_speed_runs: int = 0
    #: how many of ``previous_weeks`` (the last ones) count in the load: the weeks before the
    #: athlete's first run are left out, they are not weeks without running
    previous_weeks_counted: int = LOAD_WEEKS

    @property
    def runs(self) -> int:
        """Number of runs in the week."""
        return len(self.run_ids)

    @property
    def load_change_pct(self) -> float:
        """Running time against the mean of the previous weeks, in % (NaN without them)."""
        if not (math.isfinite(self.load_mean_s) and self.load_mean_s > 0):
            return math.nan
        return 100.0 * (self.running_s / self.load_mean_s - 1.0)

    @property
    def attention(self) -> str:
        """``"ok"``, ``"look"`` or ``"check_in"`` (a reason of priority 1 or 2), from ``reasons``."""
        if not self.reasons:
            return "ok"
        return "check_in" if min(r.priority for r in self.reasons) <= 2 else "look"

    def sort_key(self) -> tuple[Any, ...]:
        """The ordering of :data:`ORDERING_RULE` (smaller first)."""
        if not self.reasons:
            return (99, 0, 0, 0.0, name_sort_key(self.name), self.athlete_id)
        top = min(r.priority for r in self.reasons)
        at_top = sum(1 for r in self.reasons if r.priority == top)
        spike = self.spike.pct if math.isfinite(self.spike.pct) else -math.inf
        return (top, -at_top, -len(self.reasons), -spike, name_sort_key(self.name),
                self.athlete_id)


@dataclass(frozen=True)
class WeeklySummary:
    week: IsoWeek
    athletes: tuple[AthleteWeek, ...]  # in check-in order
    unassigned_runs: int = 0
    #: runs the summary draws on (the week and the history before it) whose analysis is out
    #: of date (:func:`imurun.workflows.outdated`), and the line that says so; 0 and None when
    #: every analysis is up to date
    outdated_runs: int = 0
    outdated_note: str | None = None
    #: the week is still going on: the days of it so far (today included); None when it is over
    days_so_far: int | None = None
    generated_at: str = field(default_factory=lambda: dt.datetime.now().astimezone().isoformat(
        timespec="seconds"))


# ============================================================================ building
def spike_category(pct: float) -> str:
    """The :data:`SPIKE_BANDS` name of a spike in % (``"no_history"`` for NaN)."""
    if not math.isfinite(pct):
        return "no_history"
    for bound, name in SPIKE_BANDS:
        if pct > bound:
            return name
    return "none"


def spike_pct(length: float, previous: Iterable[float]) -> float:
    """How much longer (%) ``length`` is than the longest of ``previous``; NaN without any."""
    prev = [p for p in previous if math.isfinite(p) and p > 0]
    if not prev or not math.isfinite(length):
        return math.nan
    return 100.0 * (length / max(prev) - 1.0)


def run_spike(lib: Library, run: RunRecord | str) -> Spike:
    """The single-run spike of one library run, as the weekly summary judges it.

    The run's length against the longest of the athlete's runs of the
    :data:`SPIKE_WINDOW_DAYS` days before it (see the module's "single-run spike"): the same
    rules and the same numbers as the week that holds the run would show for it. A run without
    an athlete or without a date has nothing to be compared with (``"no_history"``).
    ``run``: a ``RunRecord`` or its id (:meth:`~imurun.store.library.Library.resolve_run`).
    """
    run = lib.resolve_run(run)
    if run.athlete_id is None or run.start_unix_s is None:
        return Spike(math.nan, "no_history")
    t = run.start_unix_s
    since = t - SPIKE_WINDOW_DAYS * DAY_S
    history = [r for r in athlete_runs(lib, run.athlete_id, since, t) if r.id != run.id]
    first_ran, earlier = _running_before(lib, run.athlete_id, since)
    lengths = {r.id: run_length(lib, r) for r in [*history, run]}
    return _spike([run], [*history, run], lengths, first_run_unix_s=first_ran,
                  earlier_runs=earlier)


def _running_before(lib: Library, athlete_id: str, since_unix_s: float) -> tuple[float | None, int]:
    """The start of an athlete's first run with running, and how many started before ``since_unix_s``.

    The history a spike needs, which walks are no part of. "With running" as :func:`_spike` and :func:`~imurun.report.history.run_length` read it:
    running time above 0, or, without an analysis, a recording of some length.
    """
    first, n = lib.db.execute(
        "SELECT MIN(r.start_unix_s), COUNT(CASE WHEN r.start_unix_s < ? THEN 1 END) FROM runs r "
        "LEFT JOIN run_summaries s ON s.run_id = r.id "
        "WHERE r.athlete_id = ? AND COALESCE(s.running_s, r.duration_s) > 0",
        (since_unix_s, athlete_id)).fetchone()
    return (None if first is None else float(first)), int(n or 0)


def weekly_summary(lib: Library, week: IsoWeek | str, *,
                   athletes: str | Sequence[str] | None = None,
                   settings: IndicatorSettings | None = None,
                   today: dt.date | None = None) -> WeeklySummary:
    """The weekly summary of ``week`` for ``athletes`` (names or ids; default: everyone).

    ``athletes`` is a list of them, or one name or id as text (as ``imurun weekly --athlete``).

    ``week`` is an :class:`IsoWeek` or what :meth:`IsoWeek.parse` reads (``"2026-W47"``,
    ``"this"``, ``"last"``; a :class:`~imurun.errors.UsageError` otherwise).

    A week that is not over yet (``today``, default the local date, falls in it) is summarised
    as far as it goes: ``days_so_far`` says so, and having no running is no reason to check in
    before the week is over.
    """
    cfg = IndicatorSettings() if settings is None else settings
    day = today or dt.date.today()
    if isinstance(week, str):
        week = IsoWeek.parse(week, today=day)
    elif not isinstance(week, IsoWeek):
        raise UsageError(f"week must be an IsoWeek or a week such as '2026-W47', got "
                         f"{type(week).__name__}")
    days_so_far = (day - week.monday).days + 1 if week.monday <= day <= week.sunday else None
    if isinstance(athletes, str):  # one athlete, not a sequence of one-letter names
        athletes = [athletes]
    chosen = [lib.athlete(a) for a in athletes] if athletes else lib.athletes()
    from imurun.workflows import outdated_note

    seen: set[str] = set()
    rows = []
    drawn_on: list[RunRecord] = []  # every run the summary draws on
    for a in chosen:
        if a.id in seen:
            continue
        seen.add(a.id)
        history = athlete_runs(lib, a.id, _history_start(week), week.end_unix_s)
        drawn_on += history
        rows.append(_athlete_week(lib, a.id, a.name, week, cfg, history, days_so_far is None))
    rows.sort(key=AthleteWeek.sort_key)
    unassigned = 0
    if not athletes:
        unassigned = int(lib.db.execute(
            "SELECT COUNT(*) FROM runs WHERE athlete_id IS NULL AND start_unix_s >= ? AND "
            "start_unix_s < ?", (week.start_unix_s, week.end_unix_s)).fetchone()[0])
    n_outdated, note = outdated_note(lib, drawn_on)
    return WeeklySummary(week, tuple(rows), unassigned, n_outdated, note,
                         days_so_far=days_so_far)


def _history_start(week: IsoWeek) -> float:
    """Where the history a week's summary draws on begins (load weeks, spike window)."""
    w0 = week.start_unix_s
    return min(w0 - LOAD_WEEKS * 7 * DAY_S, w0 - SPIKE_WINDOW_DAYS * DAY_S)


def _athlete_week(lib: Library, athlete_id: str, name: str, week: IsoWeek,
                  cfg: IndicatorSettings, history: Sequence[RunRecord],
                  week_over: bool = True) -> AthleteWeek:
    """One athlete's row; ``history``: their runs from :func:`_history_start` to the week's end."""
    w0, w1 = week.start_unix_s, week.end_unix_s
    lengths = {r.id: run_length(lib, r) for r in history}
    runs = [r for r in history if r.start_unix_s is not None and w0 <= r.start_unix_s < w1]
    analysed = [r for r in runs if r.analysed]
    # volume
    running = sum(lengths[r.id].running_s for r in runs if math.isfinite(lengths[r.id].running_s))
    recorded = sum(lengths[r.id].recorded_s for r in runs
                   if math.isfinite(lengths[r.id].recorded_s))
    dists = [float(d) for d in (lengths[r.id].distance_m for r in runs) if d is not None]
    strides = [st for st in (run_stride_summary(lib, r.id) for r in analysed)
               if st is not None and st.n_steps]
    # load
    first_ever = lib.db.execute("SELECT MIN(start_unix_s) FROM runs WHERE athlete_id = ?",
                                (athlete_id,)).fetchone()[0]
    prev_weeks = []
    load_vals = []
    for k in range(LOAD_WEEKS, 0, -1):
        wk = week.shift(-k)
        s = sum(lengths[r.id].running_s for r in history
                if r.start_unix_s is not None and wk.start_unix_s <= r.start_unix_s < wk.end_unix_s
                and math.isfinite(lengths[r.id].running_s))
        prev_weeks.append((wk.label, float(s)))
        if first_ever is not None and wk.end_unix_s > first_ever:
            load_vals.append(float(s))
    load_mean = sum(load_vals) / len(load_vals) if load_vals else math.nan
    first_ran, earlier = _running_before(lib, athlete_id, _history_start(week))
    spike = _spike(runs, history, lengths, first_run_unix_s=first_ran, earlier_runs=earlier)
    # form
    base = athlete_baseline(lib, athlete_id, w0, with_indicators=False)
    form = tuple(_form_change(key, label, unit, analysed, base.metric(key), cfg)
                 for key, label, unit, _ in FORM_METRICS)
    # indicators
    counts: dict[str, list[int]] = {}
    titles: dict[str, str] = {}
    for r in analysed:
        for key, ind in run_indicators(lib, r).items():
            c = counts.setdefault(key, [0, 0, 0, 0])
            titles.setdefault(key, current_title(key, ind.title))
            if ind.level == "unknown":
                continue
            c[0] += 1
            c[1] += ind.level in ("raised", "strongly_raised")
            c[2] += ind.level == "strongly_raised"
            c[3] += ind.level == "info"
    keys = [k for k in INDICATOR_KEYS if k in counts] + sorted(set(counts) - set(INDICATOR_KEYS))
    indicators = tuple(IndicatorCount(k, titles[k], *counts[k]) for k in keys)
    # data quality (over the analysed runs: the others say nothing about their gaps)
    lost = 0.0
    lost_of = 0.0
    frames = 0
    for r in analysed:
        q = (r.summary or {}).get("quality") or {}
        dur = q.get("duration_s")
        lost_of += float(dur) if isinstance(dur, int | float) else lengths[r.id].recorded_s
        for t in q.get("time") or []:
            if isinstance(t, dict) and t.get("reason") in ("gap", "short_segment"):
                lost += float(t.get("seconds") or 0.0)
        frames += int(q.get("frames_lost") or 0)
    quality = Quality(sum(1 for r in runs if not r.analysed and r.analysis_error),
                      sum(1 for r in runs if not r.analysed and not r.analysis_error),
                      lost_of, lost, frames,
                      sum(1 for r in runs if lib.same_time_runs(r)))
    row = AthleteWeek(
        athlete_id=athlete_id, name=name, run_ids=tuple(r.id for r in runs),
        runs_analysed=len(analysed), running_s=float(running), recorded_s=float(recorded),
        steps=sum(lengths[r.id].steps for r in runs),
        distance_m=float(sum(dists)) if dists else None, distance_runs=len(dists),
        previous_weeks=tuple(prev_weeks), load_mean_s=load_mean, spike=spike, form=form,
        indicators=indicators, quality=quality, baseline_runs=base.n_runs,
        pace_s_per_km=median(st.pace_s_per_km for st in strides),
        step_length_m=median(st.step_length_m for st in strides), watch_speed_runs=len(strides),
        previous_weeks_counted=len(load_vals))
    before = sum(1 for r in history if r.start_unix_s is not None
                 and w0 - LOAD_WEEKS * 7 * DAY_S <= r.start_unix_s < w0)
    return dataclasses.replace(row, reasons=reasons_for(row, history_runs=before,
                                                        week_over=week_over))


def _spike(runs: Sequence[RunRecord], history: Sequence[RunRecord],
           lengths: Mapping[str, Any], *, first_run_unix_s: float | None = None,
           earlier_runs: int = 0) -> Spike:
    """The week's largest spike of ``runs`` (see the module's "single-run spike").

    ``history``: the athlete's runs from :func:`_history_start` on; ``earlier_runs``: their runs
    with running before that; ``first_run_unix_s``: the start of their first run with running
    (default: the first of ``history``). A recording without running (a walk) is neither
    judged nor part of the history: it counts neither among the runs before a run nor as the
    longest of them.
    """
    if not runs:
        return Spike(math.nan, "no_runs")
    ran_before = [p for p in history if p.start_unix_s is not None and lengths[p.id].running_s > 0]
    starts = [p.start_unix_s for p in ran_before if p.start_unix_s is not None]
    first = first_run_unix_s if first_run_unix_s is not None else min(starts, default=None)
    best: Spike | None = None
    young: Spike | None = None  # the last run too early in the athlete's history to judge
    ran = False  # whether any of runs has running (a walk is no run to judge)
    for r in runs:
        assert r.start_unix_s is not None
        t = r.start_unix_s
        if not lengths[r.id].running_s > 0:
            continue
        ran = True
        prev = [p for p in ran_before if p.start_unix_s is not None and p.id != r.id
                and t - SPIKE_WINDOW_DAYS * DAY_S <= p.start_unix_s < t]
        if not prev:
            continue
        before = earlier_runs + sum(1 for x in starts if x < t)
        days = (t - first) / DAY_S if first is not None else math.inf
        if before < SPIKE_MIN_HISTORY_RUNS or days < SPIKE_MIN_HISTORY_DAYS:
            young = Spike(math.nan, "not_enough_history", r.id,
                          history_days=max(days, 0.0) if math.isfinite(days) else math.nan,
                          history_runs=before)
            continue
        use_distance = lengths[r.id].distance_m is not None and all(
            lengths[p.id].distance_m is not None for p in prev)
        if use_distance:
            value = float(lengths[r.id].distance_m) / 1000.0
            previous = [float(lengths[p.id].distance_m) / 1000.0 for p in prev]
            measure = "distance"
        else:
            value = lengths[r.id].running_s / 60.0
            previous = [lengths[p.id].running_s / 60.0 for p in prev]
            measure = "running time"
        pct = spike_pct(value, previous)
        if not math.isfinite(pct):
            continue
        known = (t - first) / DAY_S if first is not None else math.nan
        s = Spike(pct, spike_category(pct), r.id, measure, value,
                  max(p for p in previous if math.isfinite(p)),
                  known if known < SPIKE_WINDOW_DAYS else math.nan, before)
        if best is None or s.pct > best.pct:
            best = s
    if best is not None:
        return best
    if young is not None:
        return young
    return Spike(math.nan, "no_history" if ran else "no_running")


def _form_change(key: str, label: str, unit: str, runs: Sequence[RunRecord], base: float,
                 cfg: IndicatorSettings) -> FormChange:
    week = median(run_value(r, key) for r in runs)
    flagged = False
    if math.isfinite(week) and math.isfinite(base):
        d = week - base
        if key == "braking_mps":
            flagged = base > 0 and 100.0 * d / base > cfg.baseline_braking_pct
        elif key.startswith("pelvic_drop_"):
            flagged = d > cfg.baseline_drop_deg
        elif key == "pelvic_tilt_range_deg":
            flagged = d > cfg.baseline_tilt_deg
        elif key == "contact_balance_left_pct":
            flagged = balance_moved(week, base, cfg)
    return FormChange(key, label, unit, week, base, flagged)


def _history_note(sp: Spike) -> str:
    """For a new athlete: how little of the 30 days the comparison knew (else nothing)."""
    if not math.isfinite(sp.history_days):
        return ""
    days = math.floor(sp.history_days)
    return (f"; only {days} day{'s' if days != 1 else ''} of their running recorded before "
            "it: earlier runs are not known")


def spike_amount(sp: Spike, value: float) -> str:
    """A spike's length: ``"12.3 km"`` by distance, ``"35 min"`` or ``"45 s"`` by running time."""
    if sp.measure == "distance":
        return h.fmt(value, ".1f", "km")
    return time_text(value * 60.0)  # Spike keeps minutes


def reasons_for(row: AthleteWeek, *, history_runs: int,
                week_over: bool = True) -> tuple[Reason, ...]:
    """The reasons to check in with an athlete (see :data:`REASONS`), most urgent first.

    ``history_runs``: the athlete's runs in the :data:`LOAD_WEEKS` weeks before the week;
    ``week_over``: False while the week goes on (no running *yet* is no reason).
    """
    out: list[Reason] = []

    def add(key: str, text: str) -> None:
        out.append(Reason(key, REASONS[key][0], text))

    sp = row.spike
    if sp.category in ("large", "moderate", "small"):
        add(f"spike_{sp.category}",
            f"longest-run spike: {spike_amount(sp, sp.value)} against "
            f"{spike_amount(sp, sp.previous_longest)} at most in the 30 days "
            f"before (+{sp.pct:.0f} %, {sp.measure}{_history_note(sp)})")
    for ind in row.indicators:
        lv = ind.level
        if lv == "strongly_raised":
            add("indicator_strong", f"{ind.title}: strongly raised in {ind.strong_runs} of "
                                    f"{ind.measured_runs} runs")
        elif lv == "raised":
            add("indicator_raised", f"{ind.title}: raised in {ind.raised_runs} of "
                                    f"{ind.measured_runs} runs")
    for f in row.form:
        if f.flagged:
            add("form_change", f"{f.label}: {h.fmt(f.week, _spec(f.unit), f.unit)} this week "
                               f"against {h.fmt(f.baseline, _spec(f.unit), f.unit)} in the 4 "
                               "weeks before")
    if week_over and row.running_s <= 0 and history_runs > 0:
        walks = (f"; {row.runs} recording(s) without running" if row.runs else "")
        add("no_runs", f"no running this week ({history_runs} runs in the 4 weeks before"
                       f"{walks})")
    q = row.quality
    if q.runs_failed:
        add("data_quality", f"{q.runs_failed} run(s) could not be analysed")
    elif math.isfinite(q.lost_pct) and q.lost_pct > LOST_PCT_LOOK:
        add("data_quality", f"{q.lost_pct:.0f} % of the recorded time lost to gaps")
    if q.same_time_runs:
        add("data_quality", f"{q.same_time_runs} runs overlap in time (one run held twice? the "
                            "volume counts each; `imurun store set-aside RUN` keeps one)")
    return tuple(sorted(out, key=lambda r: r.priority))


def _spec(unit: str) -> str:
    return ".2f" if unit == "m/s" else ".0f" if unit in ("ms", "steps/min") else ".1f"


def _shown_change(f: FormChange) -> str:
    """The change as the difference of the two values as shown, each rounded as it is shown.

    So the columns of a row add up: 150 against 151 is -1, not the -2 of the unrounded
    149.66 - 151.25. CSV and JSON keep the unrounded values. A change of a percentage (the
    contact time on the left) is in percentage points: 50.6 % against 50.1 % is +0.5 pt.
    """
    return h.shown_difference(f.week, f.baseline, _spec(f.unit), f.unit)


# ============================================================================ CSV and JSON
def _csv_columns() -> tuple[str, ...]:
    cols = ["week", "rank", "athlete_id", "athlete", "attention", "reasons", "runs",
            "runs_analysed", "running_min", "recorded_min", "steps", "distance_km",
            "distance_runs", "prev4_weekly_mean_running_min", "load_change_pct", "spike_pct",
            "spike_category", "spike_measure", "spike_run_id", "baseline_runs"]
    for key, *_ in FORM_METRICS:
        cols += [f"{key}_week", f"{key}_baseline", f"{key}_change", f"{key}_flagged"]
    for key in INDICATOR_KEYS:
        cols += [f"ind_{key}_raised_runs", f"ind_{key}_strong_runs"]
    cols += ["runs_failed", "runs_unanalysed", "lost_min", "lost_pct", "frames_lost"]
    cols += ["pace_s_per_km", "step_length_m", "watch_speed_runs"]  # added later: at the end
    cols += ["week_days_so_far"]
    return tuple(cols)


#: Columns of :func:`to_csv`, in order (documented in ``docs/reports.md``).
CSV_COLUMNS: Final = _csv_columns()


def _n(x: float | None, nd: int = 2) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _record(s: WeeklySummary, rank: int, a: AthleteWeek) -> dict[str, Any]:
    """One athlete as flat CSV values (``None`` = unknown)."""
    d: dict[str, Any] = {
        "week": s.week.label, "rank": rank, "athlete_id": a.athlete_id, "athlete": a.name,
        "attention": a.attention, "reasons": ";".join(dict.fromkeys(r.key for r in a.reasons)),
        "runs": a.runs, "runs_analysed": a.runs_analysed, "running_min": _n(a.running_s / 60),
        "recorded_min": _n(a.recorded_s / 60), "steps": a.steps,
        "distance_km": _n(a.distance_m / 1000, 3) if a.distance_m is not None else None,
        "distance_runs": a.distance_runs,
        "prev4_weekly_mean_running_min": _n(a.load_mean_s / 60),
        "load_change_pct": _n(a.load_change_pct, 1), "spike_pct": _n(a.spike.pct, 1),
        "spike_category": a.spike.category, "spike_measure": a.spike.measure or None,
        "spike_run_id": a.spike.run_id, "baseline_runs": a.baseline_runs,
    }
    for f in a.form:
        d[f"{f.key}_week"] = _n(f.week, 3)
        d[f"{f.key}_baseline"] = _n(f.baseline, 3)
        d[f"{f.key}_change"] = _n(f.change, 3)
        d[f"{f.key}_flagged"] = int(f.flagged)
    by_key = {i.key: i for i in a.indicators}
    for key in INDICATOR_KEYS:
        i = by_key.get(key)
        d[f"ind_{key}_raised_runs"] = i.raised_runs if i else 0
        d[f"ind_{key}_strong_runs"] = i.strong_runs if i else 0
    q = a.quality
    d.update(runs_failed=q.runs_failed, runs_unanalysed=q.runs_unanalysed,
             lost_min=_n(q.lost_s / 60), lost_pct=_n(q.lost_pct, 1), frames_lost=q.frames_lost)
    d.update(pace_s_per_km=_n(a.pace_s_per_km, 1), step_length_m=_n(a.step_length_m, 3),
             watch_speed_runs=a.watch_speed_runs, week_days_so_far=s.days_so_far)
    return d


def to_csv(s: WeeklySummary) -> str:
    """One row per athlete in check-in order; columns :data:`CSV_COLUMNS`; empty = unknown."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for k, a in enumerate(s.athletes, 1):
        rec = _record(s, k, a)
        w.writerow(["" if rec[c] is None else _cell(rec[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def _cell(v: Any) -> Any:
    """A CSV value that a spreadsheet shows as text, never runs as a formula.

    Names come from other people's bundles: text starting like a formula (``=``, ``+``, ``-``,
    ``@``, tab, CR) gets a leading apostrophe (OWASP's advice against CSV injection). Numbers
    are left alone.
    """
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def to_json(s: WeeklySummary) -> str:
    """The ``imurun.weekly/1`` document (keys in ``docs/reports.md``); unknown = ``null``."""
    athletes = []
    for k, a in enumerate(s.athletes, 1):
        q = a.quality
        athletes.append({
            "rank": k, "athlete_id": a.athlete_id, "athlete": a.name, "attention": a.attention,
            "reasons": [{"key": r.key, "priority": r.priority, "text": r.text}
                        for r in a.reasons],
            "runs": a.runs, "runs_analysed": a.runs_analysed, "run_ids": list(a.run_ids),
            "running_min": _n(a.running_s / 60), "recorded_min": _n(a.recorded_s / 60),
            "steps": a.steps,
            "distance_km": _n(a.distance_m / 1000, 3) if a.distance_m is not None else None,
            "distance_runs": a.distance_runs,
            "pace_s_per_km": _n(a.pace_s_per_km, 1), "step_length_m": _n(a.step_length_m, 3),
            "watch_speed_runs": a.watch_speed_runs,
            "load": {"previous_weeks": [
                {"week": wk, "running_min": _n(v / 60),
                 "counted": j >= len(a.previous_weeks) - a.previous_weeks_counted}
                for j, (wk, v) in enumerate(a.previous_weeks)],
                     "prev4_weekly_mean_running_min": _n(a.load_mean_s / 60),
                     "change_pct": _n(a.load_change_pct, 1)},
            "spike": {"pct": _n(a.spike.pct, 1), "category": a.spike.category,
                      "measure": a.spike.measure or None, "run_id": a.spike.run_id,
                      "value": _n(a.spike.value, 3),
                      "previous_longest": _n(a.spike.previous_longest, 3),
                      "history_days": _n(a.spike.history_days, 1),
                      "history_runs": a.spike.history_runs,
                      "unit": "km" if a.spike.measure == "distance" else
                      "min" if a.spike.measure else None},
            "baseline_runs": a.baseline_runs,
            "form": {f.key: {"unit": "deg" if f.unit == "°" else f.unit, "week": _n(f.week, 3),
                             "baseline": _n(f.baseline, 3), "change": _n(f.change, 3),
                             "flagged": f.flagged} for f in a.form},
            "indicators": {i.key: {"title": i.title, "level": i.level,
                                   "measured_runs": i.measured_runs,
                                   "raised_runs": i.raised_runs, "strong_runs": i.strong_runs}
                           for i in a.indicators},
            "quality": {"runs_failed": q.runs_failed, "runs_unanalysed": q.runs_unanalysed,
                        "recorded_min": _n(q.recorded_s / 60), "lost_min": _n(q.lost_s / 60),
                        "lost_pct": _n(q.lost_pct, 1), "frames_lost": q.frames_lost,
                        "same_time_runs": q.same_time_runs},
        })
    doc = {"schema": WEEKLY_SCHEMA, "imurun_version": __version__, "week": s.week.label,
           "first_day": s.week.monday.isoformat(), "last_day": s.week.sunday.isoformat(),
           "generated_at": s.generated_at, "days_so_far": s.days_so_far,
           "ordering": ORDERING_RULE,
           "baseline_days": BASELINE_DAYS, "spike_window_days": SPIKE_WINDOW_DAYS,
           "unassigned_runs": s.unassigned_runs, "outdated_runs": s.outdated_runs,
           "athletes": athletes}
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ============================================================================ HTML
_SPIKE_TEXT: Final = {"none": "none", "small": "10-30 %", "moderate": "30-100 %",
                      "large": "over 100 %", "no_history": "no runs in the 30 days before",
                      "not_enough_history": "not enough history yet",
                      "no_runs": "no runs this week",
                      "no_running": "no running this week (walks only)"}


def _pace(a: AthleteWeek) -> str:
    return f"{pace_text(a.pace_s_per_km)} /km"


def _not_enough(sp: Spike) -> str:
    """``not enough history yet (2 runs)``: the runs recorded before the run concerned."""
    n = sp.history_runs or 0
    return f"{_SPIKE_TEXT['not_enough_history']} ({n} run{'s' if n != 1 else ''})"


def _spike_cell(sp: Spike) -> str:
    if sp.category == "not_enough_history":
        return _not_enough(sp)
    if not math.isfinite(sp.pct):
        return _SPIKE_TEXT.get(sp.category, sp.category)
    return f"{sp.pct:+.0f} % ({_SPIKE_TEXT.get(sp.category, sp.category)})"


def render_html(s: WeeklySummary) -> str:
    """The weekly summary as one self-contained HTML page (for reading, on a phone too)."""
    wk = s.week
    span = f"{h.day(wk.monday)} – {h.day(wk.sunday, year=True)}"
    if s.days_so_far is not None:
        today = wk.monday + dt.timedelta(days=s.days_so_far - 1)
        span += (f" · in progress: {s.days_so_far} of 7 days so far (to "
                 f"{h.day(today)})")
    n_runs = sum(a.runs for a in s.athletes)
    n_check = sum(1 for a in s.athletes if a.attention == "check_in")
    title = f"Team week {wk.label}"
    head = (f'<header class="page"><h1>{h.esc(title)}</h1><p class="sub">{h.esc(span)} · '
            f"{len(s.athletes)} athlete{'s' if len(s.athletes) != 1 else ''}, {n_runs} "
            f"run{'s' if n_runs != 1 else ''}</p><nav class=\"toc\">"
            '<a href="#roster">Roster</a><a href="#athletes">Athletes</a>'
            '<a href="#how-to-read">How to read this</a></nav></header>')
    # roster
    any_distance = any(a.distance_m for a in s.athletes)
    head_cells = ["athlete", "runs", "running (vs 4 weeks)"] + (
        ["distance"] if any_distance else []) + ["longest-run spike", "indicators raised"]
    num = [False, True, True] + ([True] if any_distance else []) + [False, False]
    rows = []
    for k, a in enumerate(s.athletes, 1):
        ind = [i.title for i in a.indicators if i.level in ("raised", "strongly_raised")]
        load = f" ({a.load_change_pct:+.0f} %)" if math.isfinite(a.load_change_pct) else ""
        # words, not a number: on a line of their own, which may wrap on a phone
        none_before = (f'<br><span class="small">{h.esc(words)}</span>'
                       if (words := _none_before(a)) else "")
        cells = [f'<a href="#athlete-{k}">{h.esc(a.name)}</a><br>'
                 f"{h.badge(a.attention, _ATTENTION[a.attention])}",
                 h.esc(a.runs), h.esc(time_text(a.running_s) + load) + none_before]
        if any_distance:
            cells.append(h.esc(h.fmt(a.distance_m / 1000, ".1f", "km") if a.distance_m
                               else "–") + (f'<br><span class="small">{h.esc(_pace(a))}</span>'
                                            if math.isfinite(a.pace_s_per_km) else ""))
        cells += [h.esc(_spike_cell(a.spike)), h.esc(", ".join(ind) or "none")]
        tds = []
        for j, (c, n, label) in enumerate(zip(cells, num, head_cells, strict=True)):
            attrs = (' class="num"' if n else "") + (f' data-label="{h.esc(label)}"' if j else "")
            tds.append(f"<td{attrs}>{c}</td>")  # data-label: the column's name on a phone
        rows.append("<tr>" + "".join(tds) + "</tr>")
    thead = "".join(f'<th{" class=num" if n else ""}>{h.esc(c)}</th>'
                    for c, n in zip(head_cells, num, strict=True))
    partial = ("" if s.days_so_far is None else
               f" The week is not over: {s.days_so_far} of its 7 days so far, so running time "
               "and load are what has been run so far.")
    lead = (f"<p>{n_check} athlete{'s' if n_check != 1 else ''} to check in with this week."
            f"{partial} "
            "Sorted so that those who need a check-in come first (the rule is under "
            '<a href="#how-to-read">How to read this</a>).</p>')
    if s.unassigned_runs:
        lead += (f'<p class="small">{s.unassigned_runs} run(s) this week belong to no athlete: '
                 "bind their sensor with <code>imurun sensor bind DEVICE ATHLETE</code>.</p>")
    if s.outdated_note:
        parts = h.esc(s.outdated_note).split("`")  # `command` as code
        note = "".join(f"<code>{x}</code>" if i % 2 else x for i, x in enumerate(parts))
        lead += f'<p class="small" id="outdated">{note}</p>'
    table = (f'<div class="table-wrap"><table class="roster stack"><thead><tr>{thead}</tr></thead>'
             f"<tbody>{''.join(rows)}</tbody></table></div>")
    roster = h.section("roster", "Roster", lead + (table if s.athletes else
                                                   "<p>No athletes in this library yet.</p>"))
    # athletes
    parts = []
    for k, a in enumerate(s.athletes, 1):
        parts.append(_athlete_html(k, a))
    athletes = h.section("athletes", "Athletes", "\n".join(parts) or "<p>–</p>")
    how = h.section("how-to-read", "How to read this", _how_to_read())
    foot = (f"<footer>imurun {h.esc(__version__)} · weekly summary {h.esc(wk.label)} · made "
            f"{h.esc(s.generated_at)}</footer>")
    return h.page(title, "\n".join([head, roster, athletes, how, foot]))


def _none_before(a: AthleteWeek) -> str:
    """``"no running in the 4 weeks before"`` when the weeks counted in the load had none.

    An athlete back after a break: their average is 0, a change against it has no number, and
    without these words the roster showed the week's running time and nothing else, as for a
    new athlete. "" otherwise (a new athlete has no weeks counted).
    """
    n = a.previous_weeks_counted
    if not n or not a.load_mean_s == 0.0:
        return ""
    return f"no running in the {n} week{'s' if n != 1 else ''} before"


def _load_bars(k: int, a: AthleteWeek) -> str:
    """Running time per week as bars drawn in HTML: text a phone renders sharp, and no plot.

    A week before the athlete's first run has no bar and reads "–": it is not a week without
    running, and it is left out of the average.
    """
    n_prev = len(a.previous_weeks)
    weeks = [(wk.split("-")[1], v, j >= n_prev - a.previous_weeks_counted)
             for j, (wk, v) in enumerate(a.previous_weeks)]
    weeks.append(("this week", a.running_s, True))
    top = max((v for _, v, counted in weeks if counted and math.isfinite(v)), default=0.0)
    cols = []
    spoken = []
    for j, (label, v, counted) in enumerate(weeks):
        now = j == len(weeks) - 1
        if counted and math.isfinite(v):
            height = 100.0 * v / top if top > 0 else 0.0
            number, unit = time_parts(v)
            shown = number if unit == "min" else f"{number} {unit}"  # the caption says minutes
            spoken.append(f"{label} {number} {unit}")
        else:
            height = 0.0
            shown = "–"
            spoken.append(f"{label} before their first run")
        cols.append(f'<div class="col{" now" if now else ""}"><div class="t">'
                    f'<span class="b" style="height:{height:.1f}%">'
                    f'<span class="v">{h.esc(shown)}</span></span></div>'
                    f'<span class="w">{h.esc(label)}</span></div>')
    before = [label for label, _, counted in weeks if not counted]
    names = " and ".join(before) if len(before) <= 2 else \
        f"{', '.join(before[:-1])} and {before[-1]}"
    caption = (f"Running time per week, in minutes: the previous {LOAD_WEEKS} weeks and this "
               "one. " + (f"{names} {'are' if len(before) > 1 else 'is'} before the athlete's "
                          "first run (–), left out of the average. " if before else "")
               + (f"This week is {a.load_change_pct:+.0f} % against their average."
                  if math.isfinite(a.load_change_pct) else
                  f"They had {words}, so there is no average to compare with."
                  if (words := _none_before(a)) else ""))
    return (f'<figure id="plot-load-{k}" class="plot load" role="img" aria-label="'
            f'{h.esc(f"Running time per week, {a.name}: " + ", ".join(spoken))}">'
            f'<div class="bars" aria-hidden="true">{"".join(cols)}</div>'
            f"<figcaption>{h.esc(caption)}</figcaption></figure>")


def _no_running(a: AthleteWeek) -> str:
    """Why the week has no form to show when it had no running ("" when it had some).

    Form is measured on running steps: a week without a run, or whose analysed runs have no
    running step (walks), has none, and says so instead of a row of dashes. (Runs not yet
    analysed may hold running: those weeks say "No analysed runs this week".)
    """
    if not a.runs:
        return "No running this week: no runs recorded."
    if not a.runs_analysed or a.steps or any(math.isfinite(f.week) for f in a.form):
        return ""
    if a.runs_analysed == a.runs:
        what = "its recording" if a.runs == 1 else f"all {a.runs} of its recordings"
        return (f"No running this week: {what} had no running steps, and form is measured on "
                "running steps.")
    # the others may hold running: not "no running this week"
    return (f"No running in the week's analysed recordings ({a.runs_analysed} of {a.runs}; the "
            "others are not analysed), and form is measured on running steps.")


def _athlete_html(k: int, a: AthleteWeek) -> str:
    att = a.attention
    reasons = "".join(f"<li>{h.esc(r.text)}</li>" for r in a.reasons)
    reason_html = f'<ul class="reasons">{reasons}</ul>' if reasons else \
        "<p class=\"muted\">Nothing stands out this week.</p>"
    items = [h.card("Runs", str(a.runs), "", f"{a.runs_analysed} analysed"),
             h.card("Running time", *time_parts(a.running_s, like=a.recorded_s),
                    f"of {time_text(a.recorded_s)} recorded"),
             h.card("Running steps", h.fmt(a.steps, ",d")),
             h.card("Distance", h.fmt(a.distance_m / 1000, ".1f") if a.distance_m else "–",
                    "km", f"{a.distance_runs} run(s) with a watch" if a.distance_m else
                    "attach a watch file for distance"),
             *([h.card("Pace", _pace(a).removesuffix(" /km"), "min/km",
                       f"step {a.step_length_m:.2f} m; median of {a.watch_speed_runs} run(s) "
                       "with a watch")] if math.isfinite(a.pace_s_per_km) else []),
             h.card("Longest-run spike", h.fmt(a.spike.pct, "+.0f", "%") if math.isfinite(
                 a.spike.pct) else "–", "", (
                     _not_enough(a.spike) if a.spike.category == "not_enough_history"
                     else _SPIKE_TEXT.get(a.spike.category, "")) + (
                     f"; {math.floor(a.spike.history_days)} days of history"
                     if math.isfinite(a.spike.history_days) else ""))]
    fig = _load_bars(k, a)
    form_rows = []
    for f in a.form:
        sp = _spec(f.unit)
        form_rows.append([f.label, h.fmt(f.week, sp, f.unit), h.fmt(f.baseline, sp, f.unit),
                          _shown_change(f) + (" — changed" if f.flagged else "")])
    no_running = _no_running(a)
    if no_running:  # a table of dashes would say less than the words
        form_table = f'<p class="muted">{h.esc(no_running)}</p>'
    elif not a.runs_analysed:
        form_table = "<p class=\"muted\">No analysed runs this week.</p>"
    elif a.baseline_runs:
        form_table = h.table(["", "this week", "4 weeks before", "change"], form_rows,
                             numeric=[False, True, True, True], stack=True)
    else:  # two columns of dashes say less than one sentence
        form_table = h.table(["", "this week"], [r[:2] for r in form_rows],
                             numeric=[False, True], stack=True)
    if a.baseline_runs:
        base_note = (f"Baseline: {a.baseline_runs} analysed run(s) in the {BASELINE_DAYS} days "
                     "before the week. A change of a percentage is in percentage points (pt).")
    else:
        # "yet" and "their first run" only for a new athlete: one back after a break has runs
        # before the 28 days, and a comparison "from the week after their first analysed run"
        # would have started long ago
        new = not a.previous_weeks_counted  # no run of theirs before this week
        base_note = (f"No baseline{' yet' if new else ''}: no analysed runs in the "
                     f"{BASELINE_DAYS} days before the week, so this week's form is not compared "
                     "with anything.")
        if a.steps:
            base_note += (" This week's runs are the first of their baseline: the weeks after it "
                          "are compared with them.")
    form = ("<h3>Form: this week against their own 4 weeks before</h3>" + form_table
            + f'<p class="small">{h.esc(base_note)}</p>')
    measured = [i for i in a.indicators if i.measured_runs]
    ind_html = "<h3>Form indicators in the week's runs</h3>"
    if measured:
        body = "".join(
            f"<tr><td>{h.esc(i.title)}</td><td>{h.badge(i.level, _LEVEL[i.level])}</td>"
            f'<td class="num" data-label="raised in">{i.raised_runs} of {i.measured_runs}</td>'
            f'<td class="num" data-label="strongly in">{i.strong_runs} of '
            f"{i.measured_runs}</td></tr>"
            for i in measured)
        ind_html += ('<div class="table-wrap"><table class="stack"><thead><tr><th></th><th>this week</th>'
                     '<th class="num">raised in</th><th class="num">strongly in</th></tr>'
                     f"</thead><tbody>{body}</tbody></table></div>")
    else:
        ind_html += "<p class=\"muted\">No indicators measured this week.</p>"
    unmeasured = [i.title for i in a.indicators if not i.measured_runs]
    if measured and unmeasured:  # a row that is not there must not read as "fine"
        ind_html += (f'<p class="small">Not measured in any of the week\'s runs: '
                     f"{h.esc(', '.join(unmeasured))} (see each run's report for why).</p>")
    q = a.quality
    done = ("the week's one run analysed" if a.runs == a.runs_analysed == 1  # not "all 1 run"
            else f"all {a.runs} runs analysed" if a.runs and a.runs_analysed == a.runs
            else f"{a.runs_analysed} of {a.runs} runs analysed"
            + (f" ({q.runs_failed} failed)" if q.runs_failed else "")
            + (f" ({q.runs_unanalysed} not yet)" if q.runs_unanalysed else ""))
    lost = time_text(q.lost_s, like=q.recorded_s)
    qual = (f"<h3>Data quality</h3><p>{h.esc(done.capitalize())}; {lost} lost "
            f"to gaps ({h.fmt(q.lost_pct, '.1f', '%')} of the recorded time); {q.frames_lost} "
            "frames lost on the way from the sensor."
            + (f" {q.same_time_runs} runs overlap in time: one run held twice? Each counts in "
               "this week's volume; <code>imurun store set-aside RUN</code> keeps one."
               if q.same_time_runs else "") + "</p>") if a.runs else \
        "<h3>Data quality</h3><p class=\"muted\">No runs this week.</p>"
    return (f'<div class="athlete {h.esc(att)}" id="athlete-{k}"><h3>{k}. {h.esc(a.name)} '
            f"{h.badge(att, _ATTENTION[att])}</h3>{reason_html}{h.cards(items)}{fig}{form}"
            f"{ind_html}{qual}</div>")


_LEVEL: Final = {"strongly_raised": "strongly raised", "raised": "raised",
                 "not_raised": "not raised", "info": "tracked, no threshold",
                 "unknown": "not measured"}  # the words of the run reports (LEVEL_TEXT)


def _how_to_read() -> str:
    return (
        f"<h3>Order</h3><p>{h.esc(ORDERING_RULE)}</p>"
        f"<p>Badges: {h.badge('check_in', _ATTENTION['check_in'])} a reason of priority 1 or "
        f"2; {h.badge('look', _ATTENTION['look'])} reasons of priority 3 or 4 only; "
        f"{h.badge('ok', _ATTENTION['ok'])} no reason. A week that is not over yet is shown "
        "as far as it goes (the header says how many days), and no running in it is not yet a "
        "reason.</p>"
        "<h3>Longest-run spike</h3><p>Each run is compared with the longest run of the "
        f"{SPIKE_WINDOW_DAYS} days before it; the week shows its largest spike. In a study of "
        "5,205 runners, single runs more than 10 % longer than the longest of the previous 30 "
        "days were followed by more overuse injuries, and more so the larger the spike (hazard "
        "ratio 1.64 for 10-30 %, 2.28 for over 100 %), while weekly load ratios did not predict "
        "them (Frandsen et al. 2025, Br J Sports Med). Distance is used when a watch file gives "
        "it for every run involved; otherwise running time. A new athlete's first runs are "
        f"not judged: a run needs at least {SPIKE_MIN_HISTORY_RUNS} runs recorded before it, "
        f"the first at least {SPIKE_MIN_HISTORY_DAYS} days before it (with only one or two "
        "earlier runs almost every longer run would read as a spike; walks do not count). "
        "Until then it shows as \"not enough history yet\", with the number of runs "
        "recorded before it.</p>"
        "<h3>Load against the previous 4 weeks</h3><p>Running time this week against the "
        "average of the 4 weeks before (weeks before the athlete's first run are left out). It "
        "is context, not a flag: the acute:chronic workload ratio did not predict injury and is "
        "largely a statistical artefact (Impellizzeri et al. 2020).</p>"
        "<h3>Form and indicators</h3><p>Form values are medians over the week's runs of each "
        "run's median, compared with the same over the athlete's own "
        f"{BASELINE_DAYS} days before the week. A change is marked when it passes the "
        "baseline thresholds of the run indicators (braking +15 %, pelvic drop +1.5°, tilt "
        "range +2°, contact balance moved 1.5 points, not towards even). Indicators are form "
        "indicators, not diagnoses or injury predictions: they are associated in research with "
        "running-related complaints in groups of runners. Talk it through with the athlete, and "
        "suggest a physiotherapist when something persists or hurts.</p>")


def write(s: WeeklySummary, fmt: str) -> str:
    """The summary in ``fmt`` (``html``, ``csv`` or ``json``)."""
    if fmt == "html":
        return render_html(s)
    if fmt == "csv":
        return to_csv(s)
    if fmt == "json":
        return to_json(s)
    raise UsageError(f"unknown format {fmt!r}: html, csv or json")
