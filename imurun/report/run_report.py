"""The run report: one self-contained HTML page about one run, for the runner (and their physio).

:func:`render_run_report` turns a :class:`~imurun.signal.results.RunAnalysis` (plus, when the run
is in a library, the runner's name and own baseline) into the page; :func:`write_run_report` does
it for a library run and writes the file. Sections, in order (their ``id`` in brackets):

1. summary cards (``summary``), each with the runner's 4-week baseline underneath;
2. form indicators (``indicators``): value, threshold, level, plain-language explanation, the
   published evidence and the baseline; indicators, not diagnoses;
3. over the run (``over-the-run``): cadence, contact time, bounce, braking, pelvic drop per
   side, tilt and rotation, a dot per step and a line through the per-minute medians;
4. by pace (``by-pace``): with an attached watch's speed, step and stride length and the form
   metrics per pace band (:mod:`imurun.signal.pace`); without one, how to attach it;
5. left and right (``left-right``); 6. first vs last third (``thirds``);
7. data quality (``data-quality``): what was and was not analysed and why, gaps, lost frames,
   mounting; 8. about (``about``): sources, versions, references.

Plots are matplotlib PNGs inlined as data URIs (:mod:`imurun.report.plots`); the page has no
script and a Content-Security-Policy that forbids any fetch (:mod:`imurun.report._html`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from imurun import __version__
from imurun._timetext import pace_text
from imurun.ingest.recording import GAP_CAUSE_WORDS
from imurun.report import _html as h
from imurun.report import plots
from imurun.report.history import BASELINE_DAYS, Baseline
from imurun.report.weekly import (
    SPIKE_BANDS,
    SPIKE_MIN_HISTORY_DAYS,
    SPIKE_MIN_HISTORY_RUNS,
    SPIKE_WINDOW_DAYS,
    Spike,
    run_spike,
    spike_amount,
)
from imurun.signal.indicators import current_title
from imurun.signal.pace import (
    PaceBands,
    SpeedTrack,
    StepSpeed,
    pace_bands,
    step_speed_of,
    stride_summary,
)
from imurun.signal.results import SCHEMA, Evidence, Indicator, RunAnalysis, StepTable
from imurun.signal.side import Side
from imurun.store.library import Library, RunRecord, require_runs

FloatArray = npt.NDArray[np.float64]

__all__ = ["LEVEL_TEXT", "PLOTS", "SECTIONS", "WATCH_PLOTS", "ReportContext",
           "render_run_report", "report_path", "write_reports", "write_run_report"]

#: Section ids of the page, in order (tests and links rely on them).
SECTIONS: Final = ("summary", "indicators", "over-the-run", "by-pace", "left-right", "thirds",
                   "data-quality", "about")
#: Plot ids of the page when every metric was measured.
PLOTS: Final = ("plot-cadence", "plot-contact", "plot-bounce", "plot-braking", "plot-pelvic-drop",
                "plot-tilt", "plot-rotation", "plot-left-right", "plot-activity")
#: More plot ids when an attached watch gives the speed (and the run held a pace long enough).
WATCH_PLOTS: Final = ("plot-by-pace",)

#: How a level reads to a person.
LEVEL_TEXT: Final = {"not_raised": "not raised", "raised": "raised",
                     "strongly_raised": "strongly raised", "info": "tracked, no threshold",
                     "unknown": "not measured"}

_WORDING: Final = (
    "These are form indicators, not diagnoses and not predictions of injury. Each says what "
    "was measured, how it compares with a threshold and with your own recent runs, and what "
    "research has associated it with in groups of runners. If one stays raised, or you have "
    "pain, talk to a running coach or a physiotherapist.")


@dataclass(frozen=True)
class ReportContext:
    """What the library knows around a run (all optional: a bare file has none of it)."""

    athlete: str | None = None
    run_id: str | None = None
    baseline: Baseline | None = None
    baseline_note: str = ""
    distance_m: float | None = None
    mean_heart_rate_bpm: float | None = None
    running_speed_mps: float | None = None
    file_name: str = ""
    watch_attached: bool = False
    watch_speed: SpeedTrack | None = None  # in the run's time base
    start_unix_s: float | None = None  # given by hand for a recording without a date
    #: this run's length against the runner's longest of the 30 days before (library runs)
    spike: Spike | None = None


# ============================================================================ entry points
def report_path(home: str | os.PathLike[str], run_id: str) -> Path:
    """Where ``imurun report`` writes a library run's report by default."""
    return Path(home) / "reports" / f"run-{run_id[:12]}.html"


def write_run_report(lib: Library, run: RunRecord | str,
                     out: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of library run ``run``: a :class:`~imurun.store.library.RunRecord` or its id.

    ``run`` is taken as the library's other run methods take it
    (:meth:`~imurun.store.library.Library.resolve_run`: 4+ hex digits or ``"latest"``, as
    ``imurun report RUN``). The runner's baseline is made of their analysed runs of the 4 weeks
    before this one. Returns the path written (``out``, else :func:`report_path`). Raises
    :class:`~imurun.errors.UsageError` when the run has no analysis (or ``run`` is neither),
    :class:`~imurun.errors.NotFoundError` for an unknown id.
    """
    from imurun.errors import UsageError
    from imurun.report.history import athlete_baseline
    from imurun.store._files import atomic_write_bytes

    run = lib.resolve_run(run)
    # (a kept analysis that is no whole imurun.analysis/1 document: FileFormatError naming it)
    result = lib.run_analysis(run) if run.analysis_version is not None else None
    if result is None:
        why = f"its analysis failed: {run.analysis_error}" if run.analysis_error else \
            "it has not been analysed yet"
        raise UsageError(f"run {run.short_id} has no report: {why}")
    base: Baseline | None = None
    note = ""
    if run.athlete_id is None:
        note = ("This run belongs to no athlete, so there is no baseline: bind the sensor with "
                "`imurun sensor bind DEVICE ATHLETE`.")
    elif run.start_unix_s is None:
        note = "This run has no date, so there is no baseline."
    else:
        base = athlete_baseline(lib, run.athlete_id, run.start_unix_s, exclude=(run.id,))
        if base.n_runs == 0:
            note = (f"No analysed runs in the {BASELINE_DAYS} days before this one yet: your "
                    "baseline builds up as you sync more runs.")
    ctx = ReportContext(athlete=run.athlete_name, run_id=run.id, baseline=base,
                        baseline_note=note, file_name=run.source_name,
                        start_unix_s=run.start_unix_s if run.start_given else None,
                        spike=run_spike(lib, run) if run.athlete_id is not None
                        and run.start_unix_s is not None else None,  # (else: said above)
                        **_watch(lib, run))
    page = render_run_report(result, ctx)
    path = Path(out) if out is not None else report_path(lib.root, run.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, page.encode("utf-8"))
    return path


def write_reports(lib: Library, runs: Sequence[RunRecord], *,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Path | str]:
    """Write the default report of each analysed run of ``runs`` (what ``imurun sync`` does).

    Returns run id -> the path written, or why there is none (a run without an analysis, a file
    that could not be written); one run's failure does not stop the others. Each of ``runs``
    is a ``RunRecord`` (:class:`~imurun.errors.UsageError` at once otherwise).
    """
    from imurun.errors import ImurunError

    require_runs(runs, "runs")
    out: dict[str, Path | str] = {}
    todo = [r for r in runs if r.analysis_version is not None]
    for k, run in enumerate(todo):
        try:
            out[run.id] = write_run_report(lib, run)
        except (ImurunError, OSError) as e:
            out[run.id] = str(e)
        if progress is not None:
            progress(k + 1, len(todo))
    return out


def _watch(lib: Library, run: RunRecord) -> dict[str, Any]:
    from imurun.store.attach import attachment_of, speed_track, watch_samples

    att = attachment_of(lib, run.id)
    if att is None:
        return {}
    rows = watch_samples(lib, run.id)
    hr = [r["heart_rate_bpm"] for r in rows if r["heart_rate_bpm"] is not None]
    sp = [r["speed_mps"] for r in rows if r["speed_mps"] is not None and r["speed_mps"] > 1.8]
    return {"distance_m": att.get("distance_m"),
            "mean_heart_rate_bpm": float(np.mean(hr)) if hr else None,
            "running_speed_mps": float(np.median(sp)) if sp else None,
            "watch_attached": True, "watch_speed": speed_track(lib, run.id)}


# ============================================================================ the page
def render_run_report(result: RunAnalysis, ctx: ReportContext | None = None, *,
                      generated_at: str | None = None) -> str:
    """The report page of ``result`` as HTML text."""
    c = ReportContext() if ctx is None else ctx
    when = _when(result, c)
    who = c.athlete or "Run"
    title = f"{who}: run of {when}" if c.athlete else f"Run of {when}"
    s = result.summary
    q = s.quality
    sub = (f"{h.duration(q.duration_s)} recorded, {h.duration(s.running_s)} of it running"
           + (f" · {c.file_name}" if c.file_name else ""))
    head = (f'<header class="page"><h1>{h.esc(title)}</h1><p class="sub">{h.esc(sub)}</p>'
            '<nav class="toc">' + "".join(
                f'<a href="#{sid}">{h.esc(name)}</a>' for sid, name in (
                    ("summary", "Summary"), ("indicators", "Form indicators"),
                    ("over-the-run", "Over the run"), ("by-pace", "By pace"),
                    ("left-right", "Left and right"),
                    ("thirds", "First vs last third"), ("data-quality", "Data quality"),
                    ("about", "About"))) + "</nav></header>")
    run = result.running_steps
    sp = step_speed_of(run, c.watch_speed) if c.watch_speed is not None else None
    body = [head, _summary(result, c, sp), _indicators(result, c), _over_run(result, c),
            _by_pace(run, sp, c), _left_right(result), _thirds(result), _quality(result, c),
            _about(result, c, generated_at)]
    return h.page(title, "\n".join(body))


def _when(result: RunAnalysis, c: ReportContext) -> str:
    t = result.source.start_unix_s
    if t is None or not math.isfinite(t) or t < 1e8:
        if c.start_unix_s is None:
            return "unknown date"
        d = dt.datetime.fromtimestamp(c.start_unix_s).astimezone()
        return f"{h.day(d, year=True)}, {d:%H:%M} (start entered by hand)"
    d = dt.datetime.fromtimestamp(t).astimezone()
    return f"{h.day(d, year=True)}, {d:%H:%M}"


def _base_text(base: Baseline | None, key: str, spec: str, unit: str = "") -> str:
    if base is None or base.n_runs == 0:
        return ""
    v = base.metric(key)
    return f"4 weeks: {h.fmt(v, spec, unit)}" if math.isfinite(v) else ""


# ---------------------------------------------------------------------------- 1. summary
def _summary(result: RunAnalysis, c: ReportContext, sp: StepSpeed | None) -> str:
    s = result.summary
    b = c.baseline
    dl, dr = s.pelvic_drop_stance_left_deg, s.pelvic_drop_stance_right_deg
    if math.isfinite(dl) or math.isfinite(dr):  # a card per side: "11.9° / 6.7°" wrapped
        drop_cards = [h.card(f"Pelvic drop, {side} stance", h.fmt(v, ".1f", "°"), "",
                             _base_text(b, f"pelvic_drop_stance_{side}_deg", ".1f", "°"))
                      for side, v in (("left", dl), ("right", dr))]
    else:
        drop_cards = [h.card("Pelvic drop", "–")]
    items = [
        h.card("Running time", h.duration(s.running_s), "",
               f"of {h.duration(s.quality.duration_s)} recorded"),
        h.card("Running steps", h.fmt(s.n_steps, ",d"), "",  # "23,284" as the weekly writes it
               f"{s.n_walking_steps:,d} walking" if s.n_walking_steps else ""),
        h.card("Cadence", h.fmt(s.cadence_spm), "steps/min", _base_text(b, "cadence_spm", ".0f")),
        h.card("Contact time", h.fmt(s.contact_ms), "ms", _base_text(b, "contact_ms", ".0f")),
        h.card("Bounce", h.fmt(s.vertical_oscillation_cm, ".1f"), "cm",
               _base_text(b, "vertical_oscillation_cm", ".1f")),
        h.card("Braking", h.fmt(s.braking_mps, ".2f"), "m/s", _base_text(b, "braking_mps", ".2f")),
        *drop_cards,
        h.card("Contact on the left", h.fmt(s.contact_balance_left_pct, ".1f"), "%",
               _base_text(b, "contact_balance_left_pct", ".1f")),
    ]
    if math.isfinite(s.vertical_stiffness_kn_m):
        items.append(h.card("Vertical stiffness", h.fmt(s.vertical_stiffness_kn_m, ".1f"),
                            "kN/m", _base_text(b, "vertical_stiffness_kn_m", ".1f")))
    if c.distance_m is not None:
        items.append(h.card("Distance (watch)", h.fmt(c.distance_m / 1000.0, ".2f"), "km"))
    stride = stride_summary(sp) if sp is not None else None
    # the pace of the running steps, as `imurun show` and the weekly summary give it; the
    # watch's seconds faster than a walk only when no step has a speed
    speed = stride.speed_mps if stride is not None and stride.speed_mps > 0 else \
        c.running_speed_mps
    if speed:
        items.append(h.card("Running pace (watch)", _pace(speed), "min/km"))
    if c.mean_heart_rate_bpm is not None:
        items.append(h.card("Heart rate (watch)", h.fmt(c.mean_heart_rate_bpm), "bpm"))
    if stride is not None and math.isfinite(step := stride.step_length_m):
        items.append(h.card("Step length (watch)", h.fmt(step, ".2f"), "m",
                            'see "By pace"'))
    intro = ("<p>Medians over the running steps: half of your steps were above, half below. "
             "Walking, standing and missing data are left out.</p>")
    if b is not None and b.n_runs:
        starts = b.run_starts_unix_s or (b.since_unix_s, b.until_unix_s)
        first = h.day(dt.datetime.fromtimestamp(min(starts)).astimezone(), weekday=False)
        last = h.day(dt.datetime.fromtimestamp(max(starts)).astimezone(), weekday=False,
                     year=True)
        span = f"on {last}" if b.n_runs == 1 else f"from {first} to {last}"
        intro += (f'<p class="small">Under each value, "4 weeks" is your baseline: the median of '
                  f"your {b.n_runs} analysed run{'s' if b.n_runs != 1 else ''} of the "
                  f"{BASELINE_DAYS} days before this one ({h.esc(span)}).</p>")
    elif c.baseline_note:
        intro += f'<p class="small">{h.esc(c.baseline_note)}</p>'
    elif c.run_id is None and b is None:  # a bare file: say why no "4 weeks" under the values
        intro += ('<p class="small">This report was made from a file outside the library, so '
                  "there is no baseline of your own earlier runs to compare with. Import the "
                  "recording (<code>imurun import FILE</code>) and write the report from the "
                  "library (<code>imurun report RUN</code>) to see your last 4 weeks.</p>")
    intro += f'<div class="note">{_indicator_note(result)}{_spike_note(c.spike)}</div>'
    return h.section("summary", "Summary", intro + h.cards(items))


def _title(ind: Indicator) -> str:
    """The indicator's title as it is now (an older analysis keeps the title of its day)."""
    return current_title(ind.key, ind.title)


def _indicator_note(result: RunAnalysis) -> str:
    """What the summary says about the form indicators: raised, none raised, or not measured."""
    inds = result.indicators
    see = 'See <a href="#indicators">Form indicators</a>.'
    raised = [i for i in inds if i.level in ("raised", "strongly_raised")]
    if raised:
        names = ", ".join(_title(i) for i in raised)
        return f"Form indicators raised in this run: {h.esc(names)}. {see}"
    measured = [i for i in inds if i.level != "unknown"]
    if not measured:  # "none raised" would claim something nobody checked
        s = result.summary
        if s.n_steps == 0 and s.n_walking_steps:
            why = (f"this recording has walking ({s.n_walking_steps} steps) but no running, and "
                   "the indicators are measured on running steps")
        elif s.n_steps == 0:
            why = "no running was found in this recording"
        else:
            why = "; ".join(dict.fromkeys(_plain(i.reason) for i in inds if i.reason)) or \
                "the run had too little running to judge"
        return (f"No form indicator could be measured in this run: {h.esc(why)}. "
                'See <a href="#data-quality">Data quality</a>.')
    if len(measured) < len(inds):
        return (f"No form indicator was raised in this run; {len(inds) - len(measured)} of "
                f"the {len(inds)} could not be measured. {see}")
    return "No form indicator was raised in this run."


def _pace(speed_mps: float) -> str:
    return pace_text(1000.0 / speed_mps)  # half a second rounds up


# ---------------------------------------------------------------------------- 2. indicators
def _indicators(result: RunAnalysis, c: ReportContext) -> str:
    parts = [f'<div class="note">{h.esc(_WORDING)}</div>']
    order = {"strongly_raised": 0, "raised": 1, "not_raised": 2, "info": 3, "unknown": 4}
    boxes = [(order.get(ind.level, 5), _indicator(ind, c.baseline)) for ind in result.indicators]
    if not result.indicators:
        parts.append("<p>No indicators: the run had too little running to judge.</p>")
    if c.spike is not None:  # the load indicator, in the same order of levels
        boxes.append((order[SPIKE_LEVEL.get(c.spike.category, "unknown")],
                      _spike_indicator(c.spike)))
    parts += [box for _, box in sorted(boxes, key=lambda b: b[0])]  # stable: form ones first
    return h.section("indicators", "Form indicators", "\n".join(parts))


NBSP: Final = "\u00a0"
#: The level a single-run spike shows with (the weekly summary's bands, Frandsen et al. 2025).
SPIKE_LEVEL: Final = {"none": "not_raised", "small": "raised", "moderate": "raised",
                      "large": "strongly_raised"}
_SPIKE_BAND_TEXT: Final = {"none": "at most 10 % longer", "small": "10-30 % longer",
                           "moderate": "30-100 % longer", "large": "more than twice as long"}
_FRANDSEN: Final = Evidence(
    "Frandsen JSB et al. How much running is too much? Identifying high-risk running sessions "
    "in a 5200-person cohort study. Br J Sports Med 2025;59(17):1203-1210",
    "In 5,205 runners followed for 18 months, single runs more than 10 % longer (in distance) "
    "than the longest run of the 30 days before were followed by more overuse injuries "
    "(hazard rate ratio 1.64 for 10-30 %, 1.52 for 30-100 %, 2.28 for more than 100 %); "
    "weekly load ratios did not show that. Without a distance, imurun compares running time.")


def _spike_amount(sp: Spike, value: float) -> str:
    return spike_amount(sp, value) + ("" if sp.measure == "distance" else " of running")


def _spike_note(sp: Spike | None) -> str:
    """The summary's line on a raised spike (nothing otherwise: the box says the rest)."""
    if sp is None or SPIKE_LEVEL.get(sp.category) not in ("raised", "strongly_raised"):
        return ""
    return (f" This run was {h.fmt(sp.pct, '.0f', '%')} longer than your longest run of "
            f"the {SPIKE_WINDOW_DAYS} days before it: see "
            '<a href="#indicator-longest_run_spike">Longest-run spike</a>.')


def _spike_indicator(sp: Spike) -> str:
    """The box of the run's longest-run spike (a load indicator next to the form ones)."""
    level = SPIKE_LEVEL.get(sp.category, "unknown")
    facts: list[str] = []
    why = ""
    if level != "unknown":
        facts = [f"This run: {_spike_amount(sp, sp.value)}",
                 f"your longest of the {SPIKE_WINDOW_DAYS} days before: "
                 f"{_spike_amount(sp, sp.previous_longest)}",
                 f"change: {h.fmt(sp.pct, '+.0f', '%')}",
                 f"threshold: {h.fmt(SPIKE_BANDS[-1][0], '+.0f', '%')}"]
        if sp.pct > 0:
            how = (f"{h.fmt(sp.pct, '.0f', '%')} longer than your longest run of the "
                   f"{SPIKE_WINDOW_DAYS} days before it ({_SPIKE_BAND_TEXT[sp.category]})")
        else:
            how = f"no longer than your longest run of the {SPIKE_WINDOW_DAYS} days before it"
        message = f"By {sp.measure}, this run was {how}."
        if level != "not_raised":
            message += (" Research has associated single runs more than 10 % longer than the "
                        "longest of the 30 days before with more overuse injuries in groups of "
                        "runners. This is a load indicator, not a medical finding; a running "
                        "coach can help you plan a gradual build-up.")
        if math.isfinite(sp.history_days):
            message += (f" Only {math.floor(sp.history_days)} days of your running are recorded "
                        "before this run; a longer run before that is not known.")
    else:
        message = ("This run's length is compared with your longest run of the "
                   f"{SPIKE_WINDOW_DAYS} days before it.")
        if sp.category == "not_enough_history":
            n = sp.history_runs or 0
            # which of the two conditions failed: "2 runs ...; once at least 2 are" alone read
            # as a contradiction when the first run was too recent
            days = math.floor(sp.history_days) if n and math.isfinite(sp.history_days) else None
            first = ("" if days is None else
                     f", the first {days} day{'s' if days != 1 else ''} before it")
            why = (f"not enough history yet: {n} run{'s' if n != 1 else ''} recorded before "
                   f"this one{first}; a run is compared once at least {SPIKE_MIN_HISTORY_RUNS} "
                   f"are, the first at least {SPIKE_MIN_HISTORY_DAYS} days before it")
        elif sp.category == "no_running":
            why = "no running in this recording"
        else:
            why = f"no run of yours in the {SPIKE_WINDOW_DAYS} days before this one to compare with"
    # a number keeps its unit on its line ("+10 %", "30 min")
    return _box("longest_run_spike", "Longest-run spike (load)", level,
                [_units_kept(" · ".join(facts))] if facts else [], _units_kept(message), why,
                (Evidence(_FRANDSEN.citation, _units_kept(_FRANDSEN.finding)),))


def _units_kept(text: str) -> str:
    """``text`` with each number kept on one line with the word after it ("+10 %", "30 min")."""
    return re.sub(r"(\d) ", "\\1" + NBSP, text)


def _indicator(ind: Indicator, base: Baseline | None) -> str:
    spec = ".2f" if ind.unit == "m/s" else ".1f"
    # percentage points are "pt" in every report (docs/conventions.md); the JSON keeps its unit
    unit = {"deg": "°", "% points": "pt"}.get(ind.unit, ind.unit)
    facts = [f"This run: {h.fmt(ind.value, spec, unit)}"]
    if math.isfinite(ind.threshold):
        facts.append(f"threshold: {h.fmt(ind.threshold, spec, unit)}")
    if base is not None and base.n_runs:
        bv = base.indicator(ind.key)
        facts.append(f"your last 4 weeks: {h.fmt(bv, spec, unit)} "
                     f"({base.n_runs} run{'s' if base.n_runs != 1 else ''})"
                     if math.isfinite(bv) else "your last 4 weeks: not measured")
    elif math.isfinite(ind.baseline_value):
        facts.append(f"your baseline: {h.fmt(ind.baseline_value, spec, unit)}")
    message = _plain_within(ind.message)
    why = _plain(ind.reason) if ind.level == "unknown" and ind.reason else ""
    return _box(ind.key, _title(ind), ind.level, facts, message,
                why if why not in message else "",  # said once, not twice in a row
                ind.evidence)


def _box(key: str, title: str, level: str, facts: Sequence[str], message: str, why: str,
         evidence: Sequence[Evidence]) -> str:
    """An indicator's box (form indicators and the longest-run spike alike).

    Title and level, the facts, the message, why it was not measured, and the evidence
    (unfolded when raised).
    """
    badge = LEVEL_TEXT.get(level, level.replace("_", " "))
    ev = "".join(f"<li>{h.esc(e.finding)} <i>{h.esc(e.citation)}</i></li>" for e in evidence)
    reason = f'<p class="small">Why not measured: {h.esc(why)}.</p>' if why else ""
    if not ev:
        folded = ""
    elif level in ("raised", "strongly_raised"):
        folded = f'<div class="evidence">Evidence:<ul>{ev}</ul></div>'
    else:  # folded away when nothing is raised: the page stays short on a phone
        folded = f'<details class="evidence"><summary>Evidence</summary><ul>{ev}</ul></details>'
    facts_html = f'<p class="small">{h.esc(" · ".join(facts))}</p>' if facts else ""
    return (f'<div class="indicator {h.esc(level)}" id="indicator-{h.esc(key)}">'
            f"<h3>{h.esc(title)} {h.badge(level, badge)}</h3>{facts_html}"
            f"<p>{h.esc(message)}</p>{reason}{folded}</div>")


# ---------------------------------------------------------------------------- 3. over the run
@dataclass(frozen=True)
class _Metric:
    fid: str
    title: str
    ylabel: str
    summary_name: str  # per-minute series and baseline key
    per_step: Any  # StepTable -> values in the summary unit
    baseline_key: str
    explain: str
    spec: str  # how the median is written: as its summary card writes it


_OVER_RUN: Final = (
    _Metric("plot-cadence", "Cadence", "steps/min", "cadence_spm",
            lambda st: _safe_div(60.0, st.step_s), "cadence_spm",
            "Steps per minute, both feet. It rises with speed; a sudden change at the same "
            "speed is a change of form.", ".0f"),
    _Metric("plot-contact", "Contact time", "ms", "contact_ms", lambda st: st.contact_s * 1e3,
            "contact_ms", "How long each foot stays on the ground. It gets shorter as you run "
            "faster and often longer as you tire.", ".0f"),
    _Metric("plot-bounce", "Bounce (vertical oscillation)", "cm", "vertical_oscillation_cm",
            lambda st: st.vertical_oscillation_m * 1e2, "vertical_oscillation_cm",
            "How far your sacrum moves up and down in each step.", ".1f"),
    _Metric("plot-braking", "Braking", "m/s", "braking_mps", lambda st: st.braking_mps,
            "braking_mps", "Forward speed lost at each landing: more when the foot lands far "
            "ahead of the body.", ".2f"),
    _Metric("plot-tilt", "Pelvic tilt range", "degrees", "pelvic_tilt_range_deg",
            lambda st: st.pelvic_tilt_range_deg, "pelvic_tilt_range_deg",
            "How far the pelvis tips forward and back within each step.", ".1f"),
    _Metric("plot-rotation", "Pelvic rotation range", "degrees", "pelvic_rotation_range_deg",
            lambda st: st.pelvic_rotation_range_deg, "pelvic_rotation_range_deg",
            "How far the pelvis turns left and right within each step.", ".1f"),
)


def _safe_div(a: float, b: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a / b, dtype=np.float64)


def _over_run(result: RunAnalysis, c: ReportContext) -> str:
    run = result.running_steps
    if len(run) == 0:  # one sentence, not seven times "Not measured" under empty titles
        walked = result.summary.n_walking_steps
        held = (f"walking ({walked} steps, timed but not measured for form)" if walked
                else "no running")
        return h.section("over-the-run", "Over the run", (
            f"<p class=\"muted\">Nothing to plot: this recording has {h.esc(held)}, and these "
            "plots show running steps. What the recording held is under "
            '<a href="#data-quality">Data quality</a>.</p>'))
    t0 = result.source.t_start_s if math.isfinite(result.source.t_start_s) else (
        float(result.steps.ic_s[0]) if len(result.steps) else 0.0)
    t_min = (run.ic_s - t0) / 60.0
    pm = result.summary.per_minute
    line_t = (_minute_times(_step_times(run), pm.minute_start_s) - t0) / 60.0
    bands = _bands(result, t0)
    span = _span_min(result, t0)
    # lost data and pauses are named only when the run has them
    kinds = {b.kind for b in bands}
    shades = "".join(f"; {words}" for kind, words in (("gap", "pink: no data"),
                                                       ("paused", "light blue: paused"))
                     if kind in kinds)
    intro = ("<p>A dot per running step and a line through each minute's median. Grey: not "
             f"running (walking, standing, other movement){shades}. Only the running steps "
             "count in the numbers.</p>")
    if c.baseline is not None and c.baseline.n_runs:
        intro += "<p>The dashed line is your median over the last 4 weeks.</p>"
    parts = [intro]
    order = ("plot-cadence", "plot-contact", "plot-bounce", "plot-braking")
    by_id = {m.fid: m for m in _OVER_RUN}
    for fid in order:
        parts.append(_metric_plot(by_id[fid], run, t_min, pm, line_t, bands, span, result, c))
    parts.append(_drop_plot(result, t_min, t0, bands, span, c))
    for fid in ("plot-tilt", "plot-rotation"):
        parts.append(_metric_plot(by_id[fid], run, t_min, pm, line_t, bands, span, result, c))
    return h.section("over-the-run", "Over the run", "\n".join(parts))


def _not_measured(title: str, why: str) -> str:
    return f"<h3>{h.esc(title)}</h3><p class=\"muted\">Not measured: {h.esc(_plain(why))}.</p>"


def _metric_plot(m: _Metric, run: Any, t_min: FloatArray, pm: Any, line_t: FloatArray,
                 bands: Sequence[plots.Band], span: tuple[float, float], result: RunAnalysis,
                 c: ReportContext) -> str:
    y = np.asarray(m.per_step(run), dtype=np.float64)
    if not np.isfinite(y).any():
        field = {"plot-cadence": "step_s", "plot-contact": "contact_s",
                 "plot-bounce": "vertical_oscillation_m"}.get(m.fid, m.summary_name)
        why = result.reason_unavailable(field) or result.reason_unavailable(m.summary_name) \
            or "no running steps with this value"
        return _not_measured(m.title, why)
    line = pm.series(m.summary_name) if m.summary_name in pm.names else np.full(line_t.size,
                                                                              np.nan)
    ref = c.baseline.metric(m.baseline_key) if c.baseline is not None and c.baseline.n_runs \
        else None
    uri = plots.over_run([plots.Layer(m.title, t_min, y, line_t, line)], bands, m.ylabel,
                         reference=ref, reference_label="your last 4 weeks" if ref else "",
                         span_min=span)
    med = getattr(result.summary, m.summary_name, math.nan)
    return (f"<h3>{h.esc(m.title)}</h3>"
            + h.figure(m.fid, uri, f"{m.title} over the run, {m.ylabel}",
                       f"{m.explain} Median {h.fmt(med, m.spec)} {m.ylabel}."))


def _drop_plot(result: RunAnalysis, t_min: FloatArray, t0: float,
               bands: Sequence[plots.Band], span: tuple[float, float], c: ReportContext) -> str:
    title = "Pelvic drop, per stance side"
    run = result.running_steps
    drop = run.pelvic_drop_deg
    if not np.isfinite(drop).any():
        return _not_measured(title, result.reason_unavailable("pelvic_drop_deg")
                             or "no running steps with a pelvic drop")
    layers = []
    refs = []
    b = c.baseline if c.baseline is not None and c.baseline.n_runs else None
    base_text = []
    for side, name, colour, key in (
            (Side.LEFT, "left", plots.LEFT_COLOUR, "pelvic_drop_stance_left_deg"),
            (Side.RIGHT, "right", plots.RIGHT_COLOUR, "pelvic_drop_stance_right_deg")):
        m = run.side == side
        lt, lv = _per_minute(run.ic_s[m], drop[m], t0)
        layers.append(plots.Layer(f"{name} stance", t_min[m], drop[m], lt, lv, colour))
        ref = b.metric(key) if b is not None else math.nan
        if math.isfinite(ref):  # the baseline is per stance side: one dashed line per side
            refs.append(plots.Reference(ref, f"{name}, last 4 weeks", colour))
            base_text.append(f"{h.fmt(ref, '.1f')}° {name}")
    uri = plots.over_run(layers, bands, "degrees", references=refs, span_min=span)
    s = result.summary
    base = (f" Dashed: your last 4 weeks ({' and '.join(base_text)})." if base_text else "")
    return (f"<h3>{h.esc(title)}</h3>"
            + h.figure("plot-pelvic-drop", uri, "Pelvic drop over the run, left and right stance",
                       "How far the hip of the swinging leg drops while the other foot is on the "
                       f"ground. Median {h.fmt(s.pelvic_drop_stance_left_deg, '.1f')}° in left "
                       f"stance, {h.fmt(s.pelvic_drop_stance_right_deg, '.1f')}° in right "
                       f"stance.{base}"))


def _per_minute(ic_s: FloatArray, values: FloatArray, t0: float) -> tuple[FloatArray, FloatArray]:
    """Median of ``values`` per minute since ``t0`` (at least 3 steps), each at its steps' time."""
    ok = np.isfinite(ic_s) & np.isfinite(values)
    if not ok.any():
        return np.zeros(0), np.zeros(0)
    minute = np.floor((ic_s[ok] - t0) / 60.0).astype(np.int64)
    v = values[ok]
    n = int(minute.max()) + 1
    out = np.full(n, np.nan)
    counts = np.bincount(minute, minlength=n)
    for k in np.flatnonzero(counts >= 3):  # one median per minute: at most 60 an hour
        out[k] = np.median(v[minute == k])
    starts = t0 + 60.0 * np.arange(n, dtype=np.float64)
    return (_minute_times(ic_s[ok], starts) - t0) / 60.0, out


def _step_times(steps: StepTable) -> FloatArray:
    """When each step was, as the per-minute medians count it (contact, else toe-off)."""
    return np.where(np.isfinite(steps.ic_s), steps.ic_s, steps.to_s)


def _minute_times(step_t_s: FloatArray, minute_start_s: FloatArray) -> FloatArray:
    """Where to draw each minute's median: the median time of that minute's steps.

    The middle of the minute would put the point where there may be no running at all (a
    minute that is half walking, the last minute of a recording that stops after 20 s), and
    the line would run on past the end of the recording. NaN for a minute without steps.
    """
    t = np.sort(step_t_s[np.isfinite(step_t_s)])
    out = np.full(minute_start_s.size, np.nan)
    lo = np.searchsorted(t, minute_start_s, side="left")
    hi = np.searchsorted(t, minute_start_s + 60.0, side="left")
    for k in np.flatnonzero(hi > lo):  # one median per minute: at most 60 an hour
        out[k] = float(np.median(t[lo[k]:hi[k]]))
    return out


def _span_min(result: RunAnalysis, t0: float) -> tuple[float, float]:
    """The recording from start to end, in minutes since ``t0`` (the x range of every plot)."""
    act = result.activity
    if len(act):
        return float((act.start_s.min() - t0) / 60.0), float((act.end_s.max() - t0) / 60.0)
    d = result.summary.quality.duration_s
    return (0.0, d / 60.0) if math.isfinite(d) and d > 0 else (0.0, 1.0)


def _bands(result: RunAnalysis, t0: float) -> list[plots.Band]:
    out = []
    for a, b, lab in zip(result.activity.start_s.tolist(), result.activity.end_s.tolist(),
                         result.activity.labels(), strict=True):
        if lab != "run":
            out.append(plots.Band((a - t0) / 60.0, (b - t0) / 60.0,
                                  lab if lab in ("gap", "paused") else "not_running"))
    return out


# ---------------------------------------------------------------------------- 4. by pace
@dataclass(frozen=True)
class _PaceMetric:
    title: str
    unit: str
    spec: str
    per_step: Callable[[StepTable, StepSpeed], FloatArray]


_BY_PACE: Final = (
    _PaceMetric("Cadence", "steps/min", ".0f", lambda st, sp: _safe_div(60.0, st.step_s)),
    _PaceMetric("Contact time", "ms", ".0f", lambda st, sp: st.contact_s * 1e3),
    _PaceMetric("Bounce", "cm", ".1f", lambda st, sp: st.vertical_oscillation_m * 1e2),
    _PaceMetric("Step length", "m", ".2f", lambda st, sp: sp.step_length_m),
    _PaceMetric("Vertical ratio", "%", ".1f", lambda st, sp: sp.vertical_ratio_pct),
    _PaceMetric("Braking", "m/s", ".2f", lambda st, sp: st.braking_mps),
)
#: The metrics of the by-pace plot (pelvic drop is added per stance side).
_BY_PACE_PLOTTED: Final = ("Cadence", "Contact time", "Bounce", "Step length", "Braking")


def _mmss(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def _quartiles(values: FloatArray, bands: PaceBands) -> tuple[FloatArray, FloatArray, FloatArray]:
    """25th, 50th and 75th percentiles of ``values`` in each band (NaN when none is finite)."""
    out = np.full((3, len(bands)), np.nan)
    for k in range(len(bands)):  # one percentile call per band: a handful per run
        v = values[bands.mask(k) & np.isfinite(values)]
        if v.size:
            out[:, k] = np.percentile(v, [25, 50, 75])
    return out[0], out[1], out[2]


def _by_pace(run: StepTable, sp: StepSpeed | None, c: ReportContext) -> str:
    title = "By pace"
    if sp is None:
        return h.section("by-pace", title, _no_pace(c))
    n_run = len(run)
    with_pace = int(np.isfinite(sp.speed_mps).sum())
    if with_pace == 0:
        return h.section("by-pace", title, (
            "<p>The attached watch file has speed, but not while you were running (its "
            "recording and this run hardly overlap): there is no pace for any running step. "
            "Check that the file is this run's (<code>imurun show RUN</code> shows the "
            "overlap), or attach it again with <code>--offset-s</code> if the watch's clock "
            "was off.</p>"))
    bands = pace_bands(sp.speed_mps)
    summ = stride_summary(sp)
    cards = h.cards([
        h.card("Step length", h.fmt(summ.step_length_m, ".2f"), "m",
               "one foot's landing to the other's"),
        h.card("Stride length", h.fmt(summ.stride_length_m, ".2f"), "m", "two steps"),
        h.card("Vertical ratio", h.fmt(summ.vertical_ratio_pct, ".1f"), "%",
               "bounce / step length"),
        h.card("Steps with a pace", h.fmt(with_pace, "d"), "", f"of {n_run} running steps")])
    intro = ("<p>Your running steps grouped by the pace your watch recorded at each step, in "
             f"bands of {bands.width_s_per_km:.0f} s per km; a band is shown when it holds "
             f"at least {bands.min_steps} steps (about 20 seconds of running). As you speed up, "
             "cadence and step length usually rise and contact time gets shorter; comparing "
             "the same pace band from run to run tells a change of form from a change of "
             "pace.</p><p class=\"small\">Step length is the watch's speed at the middle of the "
             "step times the step's time; stride length is two steps (one foot's landing to its "
             "next); vertical ratio is bounce over step length (as Garmin defines it). Speed "
             "from GPS lags and wanders, under trees and between buildings most, so treat a "
             "band's edges as approximate.</p>")
    if not len(bands):
        return h.section("by-pace", title, cards + intro + (
            f'<p class="muted">No pace was held for {bands.min_steps} steps or more, so there '
            "are no bands to compare.</p>"))
    labels = [f"{_mmss(a)}–{_mmss(b)}" for a, b in zip(bands.start_s_per_km.tolist(),
                                                    bands.end_s_per_km.tolist(), strict=True)]
    stats = {m.title: _quartiles(np.asarray(m.per_step(run, sp), dtype=np.float64), bands)
             for m in _BY_PACE}
    drop = {side: _quartiles(np.where(run.side == side, run.pelvic_drop_deg, np.nan), bands)
            for side in (Side.LEFT, Side.RIGHT)}
    # one column per band, slower to faster as in the plot: a row reads as "as I sped up"
    rows = [["Steps", *(h.fmt(int(n), "d") for n in bands.n_steps.tolist())]]
    rows += [[f"{m.title}, {m.unit}", *(h.fmt(v, m.spec) for v in stats[m.title][1].tolist())]
             for m in _BY_PACE]
    rows += [[f"Pelvic drop, {name} stance, °", *(h.fmt(v, ".1f") for v in drop[side][1].tolist())]
             for side, name in ((Side.LEFT, "left"), (Side.RIGHT, "right"))]
    tab = h.table(["pace, min/km", *labels], rows, numeric=[False] + [True] * len(labels),
                  stack=True)  # a column per band: on a phone, a block per metric
    panels = [plots.BandPanel(m.title, m.unit, (plots.BandSeries(m.title, stats[m.title][1],
                                                                 stats[m.title][0],
                                                                 stats[m.title][2]),))
              for m in _BY_PACE if m.title in _BY_PACE_PLOTTED]
    if np.isfinite(drop[Side.LEFT][1]).any() or np.isfinite(drop[Side.RIGHT][1]).any():
        panels.append(plots.BandPanel("Pelvic drop", "°", tuple(
            plots.BandSeries(name, drop[side][1], drop[side][0], drop[side][2], colour)
            for side, name, colour in ((Side.LEFT, "left", plots.LEFT_COLOUR),
                                       (Side.RIGHT, "right", plots.RIGHT_COLOUR)))))
    uri = plots.by_pace([_mmss(a) for a in bands.start_s_per_km.tolist()], panels)
    fig = h.figure("plot-by-pace", uri, "Cadence, contact time, bounce, step length, braking "
                   "and pelvic drop per pace band",
                   "Each point is the median of the band's steps, the bar spans the middle half "
                   "of them; bands are labelled by their faster end (5:30 means 5:30 to 5:45 "
                   "per km), slower on the left.")
    out_note = (f'<p class="small">{with_pace} of {n_run} running steps had a pace; '
                f"{bands.n_outside} of them were at paces held for fewer than "
                f"{bands.min_steps} steps and are left out of the bands.</p>")
    return h.section("by-pace", title, cards + intro + fig + tab + out_note)


def _no_pace(c: ReportContext) -> str:
    why = ("<p>Pace, step length and stride length need your watch's speed: the sensor on your "
           "back times every step, the watch knows how fast you went.</p>")
    if c.watch_attached:
        return why + ("<p>The watch file attached to this run has no speed (no GPS or foot "
                      "pod?). Attach a file that has it, then write the report again.</p>")
    if c.run_id:
        short = h.esc(c.run_id[:10])
        return why + ("<p>Attach the watch's FIT file of this run (watch apps can export "
                      "an activity's original FIT file), then write the report again:</p>"
                      f"<p><code>imurun attach {short} watch.fit</code><br>"
                      f"<code>imurun report {short}</code></p>")
    return why + ("<p>This report was made from a file outside the library. Import the "
                  "recording (<code>imurun import FILE</code>), attach the watch's FIT file "
                  "(<code>imurun attach RUN watch.fit</code>) and write the report from the "
                  "library (<code>imurun report RUN</code>).</p>")


# ---------------------------------------------------------------------------- 5. left/right
_LR: Final = (
    ("contact_ms", "Contact time", "ms", ".0f"),
    ("flight_ms", "Flight time", "ms", ".0f"),
    ("vertical_oscillation_cm", "Bounce", "cm", ".1f"),
    ("braking_mps", "Braking", "m/s", ".2f"),
    ("impact_g", "Impact", "g", ".2f"),
    ("pelvic_tilt_range_deg", "Pelvic tilt range", "°", ".1f"),
    ("pelvic_rotation_range_deg", "Pelvic rotation range", "°", ".1f"),
)


def _left_right(result: RunAnalysis) -> str:
    s = result.summary
    rows = []
    panels: list[tuple[str, float, float, str]] = []
    for key, label, unit, spec in _LR:
        try:
            sp = s.get_spread(key)
        except KeyError:
            continue
        left, right = sp.left_median, sp.right_median
        rows.append([label, h.fmt(left, spec, unit), h.fmt(right, spec, unit),
                     h.shown_difference(left, right, spec, unit)])
        if key in ("contact_ms", "vertical_oscillation_cm", "braking_mps"):
            panels.append((label, left, right, unit))
    dl, dr = s.pelvic_drop_stance_left_deg, s.pelvic_drop_stance_right_deg
    rows.insert(1, ["Pelvic drop (in this foot's stance)", h.fmt(dl, ".1f", "°"),
                    h.fmt(dr, ".1f", "°"), h.shown_difference(dl, dr, ".1f", "°")])
    panels.append(("Pelvic drop", dl, dr, "°"))
    known = (f" The foot was known for {h.fmt(s.side_known_pct, '.0f')} % of the "
             f"{s.n_steps} running steps." if s.n_steps else "")
    if math.isfinite(s.contact_balance_left_pct):
        intro = (f"<p>{h.fmt(s.contact_balance_left_pct, '.1f')} % of your ground contact time "
                 "was on the left foot (50 % is even). A step is counted for the foot that lands "
                 f"at its start.{known} Small differences are normal: a change from your usual "
                 "balance says more than the difference itself.</p>")
    else:
        intro = (f"<p>This run has no left/right balance: {h.esc(_side_reason(result))}.{known} "
                 "The balance compares the median contact time of each foot.</p>")
    shown = any(r[1] != "–" or r[2] != "–" for r in rows)
    tab = h.table(["", "left", "right", "left − right"], rows,
                  numeric=[False, True, True, True]) if shown else ""  # no table of dashes
    if any(math.isfinite(p[1]) or math.isfinite(p[2]) for p in panels):
        uri = plots.left_right(panels)
        fig = h.figure("plot-left-right", uri, "Left and right medians side by side",
                       "Medians of the steps of each foot.")
    elif math.isfinite(s.contact_balance_left_pct):
        fig = f"<p class=\"muted\">Not measured: {h.esc(_side_reason(result))}.</p>"
    else:
        fig = ""  # the introduction says why
    return h.section("left-right", "Left and right", intro + fig + tab)


def _side_reason(result: RunAnalysis) -> str:
    """Why there are no left/right values (analyses from before the reason was recorded too)."""
    s = result.summary
    why = result.reason_unavailable("contact_balance_left_pct")
    if why:
        return _plain(why)
    if s.n_steps == 0:
        return "no running in this recording"
    if not s.side_known_pct > 0:
        return "the foot (left or right) of the running steps is not known"
    return "too few running steps of each foot"


# ---------------------------------------------------------------------------- 6. thirds
_THIRDS: Final = (
    ("cadence_spm", "Cadence", "steps/min", ".0f"),
    ("contact_ms", "Contact time", "ms", ".0f"),
    ("flight_ms", "Flight time", "ms", ".0f"),
    ("vertical_oscillation_cm", "Bounce", "cm", ".1f"),
    ("braking_mps", "Braking", "m/s", ".2f"),
    ("impact_g", "Impact", "g", ".2f"),
    ("pelvic_drop_deg", "Pelvic drop", "°", ".1f"),
    ("pelvic_tilt_range_deg", "Pelvic tilt range", "°", ".1f"),
    ("pelvic_rotation_range_deg", "Pelvic rotation range", "°", ".1f"),
)


def _thirds(result: RunAnalysis) -> str:
    s = result.summary
    rows = []
    for key, label, unit, spec in _THIRDS:
        try:
            d = s.get_drift(key)
        except KeyError:
            continue
        if not (math.isfinite(d.first_third) and math.isfinite(d.last_third)):
            continue
        rows.append([label, h.fmt(d.first_third, spec, unit), h.fmt(d.last_third, spec, unit),
                     h.shown_difference(d.last_third, d.first_third, spec, unit),
                     h.fmt(d.change_pct, "+.1f", "%")])
    intro = ("<p>Your running time split in three: how your form in the last third compared "
             "with the first. Changes over a run are common, and more than one thing causes "
             "them: pace (a slower pace lengthens contact time), slope (hills change form) and "
             "fatigue. The sensor cannot tell them apart: compare the pace and the route of the "
             "thirds on your watch. Large changes at a similar pace on similar ground can mean "
             "the run was long or hard for your current fitness.</p>")
    if not rows:
        body = (intro + f"<p class=\"muted\">Not computed: it needs at least 10 minutes of "
                f"running (this run had {h.esc(h.duration(s.running_s))}).</p>")
    else:
        body = intro + h.table(["", "first third", "last third", "change", "change %"], rows,
                               numeric=[False, True, True, True, True])
    return h.section("thirds", "First vs last third", body)


# ---------------------------------------------------------------------------- 7. quality
def _clipped_text(result: RunAnalysis) -> str:
    """What clipping did to the impact: the share of steps, and how the medians count them."""
    s = result.summary
    if not s.quality.saturated_samples:
        return ""
    pct = s.impact_clipped_pct
    if not (math.isfinite(pct) and pct > 0):
        return " (no running step's landing clipped)"
    text = (f" ({h.fmt(pct, '.0f')} % of the running steps clipped at landing: their impact "
            "is withheld per step and counts in the medians as at least the limit")
    if not math.isfinite(s.impact_g):
        text += "; too many clipped for a median impact"
        if math.isfinite(s.impact_at_least_g):
            text += f", which is at least {h.fmt(s.impact_at_least_g, '.2f', 'g')}"
    return text + ")"


_METRIC_NAMES: Final = {
    "contact_s": "Contact time", "flight_s": "Flight time", "step_s": "Step time",
    "vertical_oscillation_m": "Bounce", "braking_mps": "Braking", "impact_g": "Impact",
    "peak_force_bw": "Peak vertical force", "vertical_stiffness_kn_m": "Vertical stiffness",
    "pelvic_tilt_range_deg": "Pelvic tilt range", "pelvic_drop_deg": "Pelvic drop",
    "pelvic_rotation_range_deg": "Pelvic rotation range",
    "pelvic_drop_stance_left_deg": "Pelvic drop, left stance",
    "pelvic_drop_stance_right_deg": "Pelvic drop, right stance",
    "contact_balance_left_pct": "Left/right contact balance",
}

#: What the analysis writes for programs (its JSON keeps these words) -> what a runner reads.
_PLAIN_NOTES: Final = {
    "no running found: running metrics are null":
        "No running was found in this recording, so it has no running numbers (cadence, "
        "contact time, bounce and the rest).",
    "accelerometer-only input: pelvic angles need a gyroscope":
        "the recording has no gyroscope (rotation), which pelvic angles need",
    "no gyroscope: oscillation, braking and impact are computed in the body frame (the pelvis "
    "taken at its mean running posture)":
        "No gyroscope in this recording: bounce, braking and impact are measured along your "
        "average running posture.",
}


def _plain_within(text: str) -> str:
    """``text`` with the analysis' words for programs that it quotes put plainly."""
    for machine, plain in _PLAIN_NOTES.items():
        text = text.replace(machine, plain)
    return text


def _plain(text: str, c: ReportContext | None = None) -> str:
    """An analysis note or reason in plain words for the runner (the JSON keeps the original)."""
    if text.startswith("body mass unknown"):
        who = c.athlete if c is not None and c.athlete else None
        if who is not None:
            return (f"your body mass is not known: add it to your athlete profile (imurun "
                    f"athlete set {who} --mass-kg KG), and your runs are analysed again with it")
        if c is not None and c.run_id:
            return ("your body mass is not known: give this run its athlete (imurun athlete "
                    "assign NAME RUN) and add their body mass (imurun athlete set NAME "
                    "--mass-kg KG); the run is then analysed again with it")
        return ("your body mass is not known: give it when you analyse the file (imurun "
                "analyze FILE --mass-kg KG)")
    return _PLAIN_NOTES.get(text, text)
_TIME_LABELS: Final = {"running": "Running", "walking": "Walking", "standing": "Standing",
                       "other": "Other movement", "gap": "No data (gaps)",
                       "short_segment": "Too short to analyse", "paused": "Paused"}


def _quality(result: RunAnalysis, c: ReportContext) -> str:
    s = result.summary
    q = s.quality
    total = q.duration_s if math.isfinite(q.duration_s) and q.duration_s > 0 else math.nan
    analysed = q.seconds("running") + q.seconds("walking")
    items = [h.card("Recorded", h.duration(q.duration_s)),
             h.card("Analysed", h.duration(analysed), "",
                    f"{h.fmt(100 * analysed / total, '.0f')} % of the recording"),
             h.card("Gaps", h.fmt(q.n_gaps - _paused(q)[0], "d"), "", _gaps_note(q)),
             h.card("Frames lost", h.fmt(q.frames_lost, "d"), "",
                    f"{q.frames_corrupt} damaged")]
    t0 = result.source.t_start_s if math.isfinite(result.source.t_start_s) else 0.0
    act = result.activity
    fig = ""
    if len(act):
        uri = plots.activity_timeline(((act.start_s - t0) / 60.0).tolist(),
                                      ((act.end_s - t0) / 60.0).tolist(), act.labels())
        what = "gaps, pauses" if "paused" in act.labels() else "gaps"
        fig = h.figure("plot-activity", uri, "What happened when: running, walking, standing, "
                       f"{what}", "The recording from start to end, coloured by what the "
                       "analysis found.")
    rows = [[_TIME_LABELS.get(t.reason, t.reason), h.duration(t.seconds),
             h.fmt(100 * t.seconds / total, ".1f", "%"), t.description]
            for t in q.time if t.seconds > 0 or t.reason in ("running", "gap")]
    time_tab = h.table(["", "time", "share", "what happened to it"], rows,
                       numeric=[False, True, True, False])
    causes = ", ".join(f"{n} × {GAP_CAUSE_WORDS.get(cause, cause)} ({sec:.1f} s)"
                       for cause, n, sec in q.gaps_by_cause)
    mount_q = f", consistency {q.mounting.quality:.2f}" if math.isfinite(q.mounting.quality) \
        else ""
    link = [
        ["Sampling", f"{h.fmt(q.fs_hz, '.0f')} Hz, "
                     + (f"interpolated to {h.fmt(q.analysed_fs_hz, '.0f')} Hz for the "
                        "analysis, " if q.analysed_fs_hz > 1.01 * q.fs_hz else "")
                     + ("accelerometer and gyroscope" if q.has_gyroscope
                        else "accelerometer only (no pelvic angles)")],
        ["Gaps and pauses" if _paused(q)[0] else "Gaps",
         f"{q.n_gaps}" + (f": {causes}" if causes else "")],
        ["Frames lost / damaged", f"{q.frames_lost} / {q.frames_corrupt}"],
        ["Samples missing", f"{q.samples_missing}"],
        ["Sensor restarts / disconnects", f"{q.reboots} / {q.disconnects}"],
        ["Short gaps bridged", f"{q.bridged_gaps} ({q.bridged_samples} samples filled in)"],
        ["Stretches resampled", f"{q.resampled_segments}"],
        ["Samples at the sensor's limit", f"{q.saturated_samples}" + _clipped_text(result)],
        ["Mounting", f"{q.mounting.method}: {q.mounting.description}{mount_q}"],
    ]
    link_tab = h.table(["", ""], link)
    unav = ""
    if result.unavailable:
        unav = ("<h3>Not measured in this run</h3>"
                + h.table(["metric", "why"], [[_METRIC_NAMES.get(u.metric, u.metric),
                                               _plain(u.reason, c)]
                                              for u in result.unavailable]))
    notes = ""
    all_notes = list(dict.fromkeys([*q.notes, *result.notes]))
    if all_notes:
        notes = ("<h3>Notes from the analysis</h3><ul>"
                 + "".join(f"<li>{h.esc(_plain(n, c))}</li>" for n in all_notes) + "</ul>")
    intro = ("<p>What the sensor recorded, what was analysed and what was not, and why. Only "
             "running steps feed the running metrics; gaps are never filled in beyond a few "
             "samples.</p>")
    return h.section("data-quality", "Data quality",
                     intro + h.cards(items) + fig + "<h3>Where the time went</h3>" + time_tab
                     + "<h3>Link, sensor and mounting</h3>" + link_tab + unav + notes)


def _gaps_note(q: Any) -> str:
    """Under the number of gaps: their time, and how much of it short ones filled in.

    Without the second part, "38 gaps, 2.1 s" stood beside "No data (gaps) 0:00" in the table
    of where the time went: 37 of them were a few samples each, bridged and analysed.
    A pause of the recording (phyphox) is not a gap of the data: it is counted apart.
    """
    n_paused, paused_s = _paused(q)
    if n_paused and q.n_gaps == n_paused:  # nothing lost
        times = "once" if n_paused == 1 else f"{n_paused} times"
        return f"none lost; paused {times} ({h.fmt(paused_s, '.1f')} s)"
    text = f"{h.fmt(max(q.gap_s - paused_s, 0.0), '.1f')} s in all"
    if q.bridged_gaps and math.isfinite(q.fs_hz) and q.fs_hz > 0:
        short = "the short one" if q.bridged_gaps == 1 else f"{q.bridged_gaps} short ones"
        text += (f"; {short} filled in ({h.fmt(q.bridged_samples / q.fs_hz, '.1f')} s) and "
                 "analysed")
    if n_paused:
        times = "once" if n_paused == 1 else f"{n_paused} times"
        text += f"; paused {times} ({h.fmt(paused_s, '.1f')} s)"
    return text


def _paused(q: Any) -> tuple[int, float]:
    """How often the recording was paused, and for how long (s)."""
    n, sec = 0, 0.0
    for cause, count, seconds in q.gaps_by_cause:
        if cause == "paused":
            n, sec = n + count, sec + (seconds if math.isfinite(seconds) else 0.0)
    return n, sec


# ---------------------------------------------------------------------------- 8. about
def _about(result: RunAnalysis, c: ReportContext, generated_at: str | None) -> str:
    src = result.source
    rows = [["Athlete", c.athlete or "–"],
            ["Run", c.run_id or "–"],
            ["File", c.file_name or Path(src.path).name or "–"],
            ["Sensor", src.device_id or "–"],
            ["Firmware", src.firmware_version or "–"],
            ["Analysed by", f"imurun {result.version} ({SCHEMA})"],
            ["Report by", f"imurun {__version__}"],
            ["Made", generated_at or dt.datetime.now().astimezone().strftime(
                "%Y-%m-%d %H:%M %Z")]]
    refs: dict[str, Evidence] = {}
    for ind in result.indicators:
        for e in ind.evidence:
            refs.setdefault(e.citation, e)
    ref_html = ("<h3>References</h3><ul>" + "".join(
        f"<li>{h.esc(e.citation)}</li>" for e in refs.values()) + "</ul>") if refs else ""
    body = (h.table(["", ""], rows, cls="ids") + ref_html  # a run id is 64 characters
            + "<p class=\"small\">imurun measures running form for training and general "
              "wellness. It is not a medical device; nothing in this report is a diagnosis. "
              "Accuracy and limits of every metric are described in the project's "
              "documentation (docs/metrics.md).</p>")
    return h.section("about", "About this report", body) + \
        f"<footer>imurun {h.esc(__version__)} · run report</footer>"

