"""The coach's weekly summary: weeks, spikes, ordering, formats, escaping, the CLI, a browser."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

import pytest

from imurun.cli import main as imurun
from imurun.errors import UsageError
from imurun.report.history import RunLength
from imurun.report.weekly import (
    CSV_COLUMNS,
    ORDERING_RULE,
    SPIKE_MIN_HISTORY_DAYS,
    SPIKE_MIN_HISTORY_RUNS,
    IsoWeek,
    WeeklySummary,
    _spike,
    _spike_cell,
    render_html,
    run_spike,
    spike_category,
    spike_pct,
    to_csv,
    to_json,
    weekly_summary,
)
from imurun.store.library import Library
from tests.library_support import analysis_json, write_run
from tests.report_support import (
    ARTIFACTS,
    DAY_S,
    W47_MONDAY_NOON,
    History,
    analysis_doc,
    check_page,
    scrolled_tables,
    watch_fit,
    wrapped_cards,
)

W47 = IsoWeek(2026, 47)
M = W47_MONDAY_NOON


# ---------------------------------------------------------------------------- weeks
def test_iso_weeks_parse_and_have_local_boundaries() -> None:
    w = IsoWeek.parse("2026-W47")
    assert w == W47
    assert w.monday == dt.date(2026, 11, 16)
    assert w.sunday == dt.date(2026, 11, 22)
    assert IsoWeek.parse("2026w47") == w
    assert w.end_unix_s - w.start_unix_s == pytest.approx(7 * DAY_S, abs=3600)  # DST-safe
    assert w.start_unix_s <= M < w.end_unix_s
    assert IsoWeek.parse("this", today=dt.date(2026, 11, 26)) == IsoWeek(2026, 48)
    assert IsoWeek.parse("last", today=dt.date(2026, 11, 26)) == w
    assert IsoWeek.parse(None, today=dt.date(2027, 1, 1)) == IsoWeek(2026, 53)
    assert w.shift(-4).label == "2026-W43"
    assert IsoWeek(2027, 1).shift(-1) == IsoWeek(2026, 53)


@pytest.mark.parametrize("text", ["2026-47", "W47", "2025-W53", "2026-W00", "next", "26-W47"])
def test_bad_weeks_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="week"):
        IsoWeek.parse(text)


# ---------------------------------------------------------------------------- spikes
@pytest.mark.parametrize(("pct", "category"), [
    (-50.0, "none"), (0.0, "none"), (10.0, "none"), (10.01, "small"), (30.0, "small"),
    (30.01, "moderate"), (100.0, "moderate"), (100.01, "large"), (400.0, "large"),
    (math.nan, "no_history"),
])
def test_spike_categories_follow_frandsen_bands(pct: float, category: str) -> None:
    assert spike_category(pct) == category


def test_spike_is_against_the_longest_previous_run() -> None:
    assert spike_pct(30.0, [10.0, 20.0, 15.0]) == pytest.approx(50.0)
    assert math.isnan(spike_pct(30.0, []))
    assert math.isnan(spike_pct(30.0, [math.nan, 0.0]))


def _runs(*spec: tuple[str, float, float, float | None]) -> tuple[list[SimpleNamespace],
                                                                    dict[str, RunLength]]:
    runs = [SimpleNamespace(id=i, start_unix_s=t) for i, t, _, _ in spec]
    lengths = {i: RunLength(m * 60.0, m * 60.0, 100, d, True) for i, _, m, d in spec}
    return runs, lengths


#: An athlete with a long history (the spike of a new athlete's run is not judged).
LONG_KNOWN: Final[dict[str, Any]] = {"first_run_unix_s": M - 400 * DAY_S, "earlier_runs": 50}


def test_spike_uses_distance_when_every_run_has_one_else_running_time() -> None:
    hist, lengths = _runs(("a", M - 20 * DAY_S, 30.0, 6000.0), ("b", M - 40 * DAY_S, 90.0, 20000.0),
                          ("c", M, 40.0, 9000.0))
    s = _spike([hist[2]], hist, lengths, **LONG_KNOWN)  # type: ignore[arg-type]
    assert (s.measure, s.run_id) == ("distance", "c")  # b is older than 30 days: not compared
    assert s.pct == pytest.approx(50.0)
    assert s.category == "moderate"
    hist, lengths = _runs(("a", M - 20 * DAY_S, 30.0, None), ("c", M, 40.0, 9000.0))
    s = _spike([hist[1]], hist, lengths, **LONG_KNOWN)  # type: ignore[arg-type]
    assert s.measure == "running time"
    assert s.pct == pytest.approx(100.0 * (40 / 30 - 1))
    hist, lengths = _runs(("c", M, 40.0, None))
    assert _spike([hist[0]], hist, lengths).category == "no_history"  # type: ignore[arg-type]
    assert _spike([], [], {}).category == "no_runs"


def test_the_largest_spike_of_the_week_counts_and_earlier_runs_of_the_week_are_history() -> None:
    hist, lengths = _runs(("a", M - 10 * DAY_S, 20.0, None), ("b", M, 30.0, None),
                          ("c", M + 2 * DAY_S, 33.0, None))
    s = _spike(hist[1:], hist, lengths, **LONG_KNOWN)  # type: ignore[arg-type]
    assert s.run_id == "b"  # +50 % against a; c is +10 % against b
    assert s.pct == pytest.approx(50.0)


# before: a walk (a recording without running) was judged as a run of 0 min: "-100 % (none)"
def test_a_walk_is_no_run_to_judge_for_a_spike() -> None:
    hist, lengths = _runs(("a", M - 10 * DAY_S, 20.0, None), ("walk", M, 0.0, None))
    s = _spike([hist[1]], hist, lengths, **LONG_KNOWN)  # type: ignore[arg-type]
    assert s.category == "no_running"
    assert math.isnan(s.pct)
    assert _spike_cell(s) == "no running this week (walks only)"
    # beside a run, the week shows the run's spike
    hist, lengths = _runs(("a", M - 10 * DAY_S, 20.0, None), ("walk", M, 0.0, None),
                          ("b", M + DAY_S, 30.0, None))
    s = _spike(hist[1:], hist, lengths, **LONG_KNOWN)  # type: ignore[arg-type]
    assert (s.run_id, s.category) == ("b", "moderate")
    # a walk before a run is no longer run: the run is compared with the runs only
    hist, lengths = _runs(("a", M - 10 * DAY_S, 20.0, None), ("walk", M - DAY_S, 0.0, None),
                          ("b", M, 22.0, None))
    assert _spike([hist[2]], hist, lengths, **LONG_KNOWN).pct == pytest.approx(10.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- a team
@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A coach's library with constructed histories, one athlete per situation."""
    tmp = tmp_path_factory.mktemp("team")
    home = tmp / "home"
    with Library.open(home) as lib:
        h = History(lib, tmp)
        # Spiky: 20 and 20 minutes, then 50 (+150 %: large)
        for t, m in ((M - 20 * DAY_S, 20), (M - 10 * DAY_S, 20), (M, 50)):
            h.run("Spiky", t, analysis_doc(running_s=m * 60), device=0xA1)
        # Strong: pelvic drop strongly raised in 2 of 3 runs of the week
        for t in (M - 14 * DAY_S, M - 7 * DAY_S):
            h.run("Strong", t, analysis_doc(running_s=1800), device=0xB2)
        for k, lv in enumerate(("strongly_raised", "raised", "strongly_raised")):
            h.run("Strong", M + k * DAY_S, analysis_doc(
                running_s=1800, levels={"pelvic_drop_left": lv}), device=0xB2)
        # Onceraised: overstriding raised in 1 of 3 runs: no reason
        for t in (M - 14 * DAY_S, M - 7 * DAY_S):
            h.run("Onceraised", t, analysis_doc(running_s=1800), device=0xC3)
        for k in range(3):
            h.run("Onceraised", M + k * DAY_S, analysis_doc(
                running_s=1800, levels={"overstriding": "raised" if k == 1 else "not_raised"}),
                device=0xC3)
        # Absent: ran 10 days before, not this week
        h.run("Absent", M - 10 * DAY_S, analysis_doc(running_s=1800), device=0xD4)
        # Drifted: pelvic drop 5.0 -> 7.5 degrees (below the indicator's threshold)
        for t in (M - 14 * DAY_S, M - 7 * DAY_S):
            h.run("Drifted", t, analysis_doc(running_s=1800, values={
                "pelvic_drop_stance_left_deg": 5.0}), device=0xE5)
        h.run("Drifted", M, analysis_doc(running_s=1800, values={
            "pelvic_drop_stance_left_deg": 7.5}), device=0xE5)
        # Double: overstriding raised in both runs and braking +33 % on the baseline
        for t in (M - 14 * DAY_S, M - 7 * DAY_S):
            h.run("Double", t, analysis_doc(running_s=1800), device=0xF7)
        for k in range(2):
            h.run("Double", M + k * DAY_S, analysis_doc(
                running_s=1800, levels={"overstriding": "raised"}, values={"braking_mps": 0.4}),
                device=0xF7)
        # Lossy: 10 % of the week's recording lost to gaps; one run not analysable
        h.run("Lossy", M - 7 * DAY_S, analysis_doc(running_s=1800), device=0xF6)
        h.run("Lossy", M, analysis_doc(running_s=1800, lost_s=6.0), device=0xF6)
        bad = h.run("Lossy", M + DAY_S, None, device=0xF6)
        lib.set_analysis_error(bad.id, "no running found")
        # Quiet: no runs at all, ever
        lib.add_athlete("Quiet")
        # Someone's run with no athlete this week
        lib.add_file(write_run(tmp / "orphan", 0x0F, 1,
                                                             start_unix_ms=M * 1000))
    return home


@pytest.fixture(scope="module")
def summary(team: Path) -> WeeklySummary:
    with Library.open(team) as lib:
        return weekly_summary(lib, W47)


def test_check_ins_come_first_in_the_documented_order(summary: WeeklySummary) -> None:
    order = [a.name for a in summary.athletes]
    assert order == ["Spiky", "Strong", "Double", "Drifted", "Absent", "Lossy", "Onceraised",
                     "Quiet"]
    reasons = {a.name: [r.key for r in a.reasons] for a in summary.athletes}
    assert reasons == {
        "Spiky": ["spike_large"], "Strong": ["indicator_strong"],
        "Double": ["indicator_raised", "form_change"], "Drifted": ["form_change"],
        "Absent": ["no_runs"], "Lossy": ["data_quality"], "Onceraised": [], "Quiet": []}
    attention = {a.name: a.attention for a in summary.athletes}
    assert attention["Spiky"] == attention["Strong"] == "check_in"
    assert attention["Double"] == attention["Lossy"] == "look"
    assert attention["Onceraised"] == "ok"
    assert "priority 1" in ORDERING_RULE
    assert summary.unassigned_runs == 1


def test_volume_load_and_spike_of_an_athlete(summary: WeeklySummary) -> None:
    a = next(x for x in summary.athletes if x.name == "Spiky")
    assert a.runs == 1
    assert a.running_s == pytest.approx(3000.0)
    assert a.steps == 500
    assert a.distance_m is None
    # W43 is before the first run (left out); W44 20 min, W45 20 min, W46 0 min
    assert [w for w, _ in a.previous_weeks] == ["2026-W43", "2026-W44", "2026-W45", "2026-W46"]
    assert a.load_mean_s == pytest.approx(40 * 60 / 3)
    assert a.load_change_pct == pytest.approx(100 * (50 / (40 / 3) - 1))
    assert a.spike.pct == pytest.approx(150.0)
    assert a.spike.category == "large"
    assert a.spike.measure == "running time"


def _load_figure(page: str, k: int) -> str:
    start = page.index(f'id="plot-load-{k}"')
    return page[start:page.index("</figure>", start)]


def test_weeks_before_the_first_run_are_not_shown_as_weeks_without_running(
        summary: WeeklySummary) -> None:
    """Spiky's W43 is before their first run: "–" and no bar, not a 0 (W46 is a real 0).

    The bars were a PNG with a 0 over every such week, which read as weeks of rest.
    """
    import re

    k, a = next((k, x) for k, x in enumerate(summary.athletes, 1) if x.name == "Spiky")
    assert a.previous_weeks_counted == 3
    fig = _load_figure(render_html(summary), k)
    assert "<img" not in fig  # drawn in HTML: no matplotlib for the weekly page
    values = re.findall(r'<span class="v">([^<]*)</span>', fig)
    weeks = re.findall(r'<span class="w">([^<]*)</span>', fig)
    heights = [float(x) for x in re.findall(r'class="b" style="height:([0-9.]+)%"', fig)]
    assert weeks == ["W43", "W44", "W45", "W46", "this week"]
    assert values == ["–", "20", "20", "0", "50"]
    assert heights == pytest.approx([0.0, 40.0, 40.0, 0.0, 100.0])
    assert "W43 before their first run" in fig  # what a screen reader says
    assert "W43 is before the athlete&#x27;s first run (–), left out of the average." in fig
    doc = json.loads(to_json(summary))
    weeks_json = next(x for x in doc["athletes"] if x["athlete"] == "Spiky")["load"][
        "previous_weeks"]
    assert [w["counted"] for w in weeks_json] == [False, True, True, True]
    assert [w["running_min"] for w in weeks_json] == [0.0, 20.0, 20.0, 0.0]


def test_form_medians_against_the_baseline(summary: WeeklySummary) -> None:
    d = next(x for x in summary.athletes if x.name == "Drifted")
    f = {x.key: x for x in d.form}
    assert f["pelvic_drop_stance_left_deg"].week == pytest.approx(7.5)
    assert f["pelvic_drop_stance_left_deg"].baseline == pytest.approx(5.0)
    assert f["pelvic_drop_stance_left_deg"].flagged
    assert not f["cadence_spm"].flagged
    assert d.baseline_runs == 2
    s = next(x for x in summary.athletes if x.name == "Strong")
    ind = {i.key: i for i in s.indicators}["pelvic_drop_left"]
    assert (ind.measured_runs, ind.raised_runs, ind.strong_runs, ind.level) == (
        3, 3, 2, "strongly_raised")
    lossy = next(x for x in summary.athletes if x.name == "Lossy")
    assert (lossy.runs, lossy.runs_analysed, lossy.quality.runs_failed) == (2, 1, 1)


def test_a_balance_that_moved_to_the_other_foot_is_a_form_change(tmp_path: Path) -> None:
    """The weekly form table flags the contact balance as the run's asymmetry indicator does.

    48.5 -> 51.5 % on the left is as far from even as before, but 3 points of contact time
    moved to the other foot: a change (it was not, by distance from even). 52.5 -> 50.5 % moved
    towards even: no change.
    """
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for name, dev, base, week in (("Swapped", 0x51, 48.5, 51.5), ("Evened", 0x52, 52.5, 50.5)):
            for t in (M - 14 * DAY_S, M - 7 * DAY_S):
                h.run(name, t, analysis_doc(running_s=1800, values={
                    "contact_balance_left_pct": base}), device=dev)
            h.run(name, M, analysis_doc(running_s=1800, values={
                "contact_balance_left_pct": week}), device=dev)
        s = weekly_summary(lib, W47)
    form = {a.name: {f.key: f for f in a.form} for a in s.athletes}
    swapped = form["Swapped"]["contact_balance_left_pct"]
    assert (swapped.week, swapped.baseline) == (pytest.approx(51.5), pytest.approx(48.5))
    assert swapped.flagged
    assert not form["Evened"]["contact_balance_left_pct"].flagged
    assert "form_change" in {r.key for a in s.athletes if a.name == "Swapped" for r in a.reasons}


def test_distance_from_watch_files_is_summed_and_preferred_for_spikes(tmp_path: Path) -> None:
    from imurun.store.attach import attach_watch_fit

    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        # an earlier run beyond the 30 days: a known athlete, and no run without a distance
        # among those compared
        h.run("Watched", M - 40 * DAY_S, analysis_doc(running_s=1800), device=0xAB)
        for k, (t, s) in enumerate(((M - 10 * DAY_S, 40), (M, 60))):
            run = h.run("Watched", t, analysis_doc(running_s=1800), device=0xAB, seconds=s)
            attach_watch_fit(lib, run, watch_fit(tmp_path / f"w{k}.fit", t, s))
        week = weekly_summary(lib, W47)
    a = week.athletes[0]
    assert a.distance_m == pytest.approx(3.2 * 59)
    assert a.distance_runs == 1
    # by running time the two runs are equal; by distance the second is 51 % longer
    assert a.spike.measure == "distance"
    assert a.spike.pct == pytest.approx(100 * (59 / 39 - 1), abs=0.1)
    assert a.spike.category == "moderate"
    page = render_html(week)
    assert "<th class=num>distance</th>" in page
    assert "0.2 km" in page


def test_pace_and_step_length_of_the_runs_with_watch_speed(tmp_path: Path) -> None:
    from imurun.store.attach import attach_watch_fit

    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for k, (t, v) in enumerate(((M, 3.0), (M + DAY_S, 3.5), (M + 2 * DAY_S, None))):
            run = h.run("Paced", t, analysis_json(50, seed=k), device=0xAB, seconds=20)
            if v is not None:
                attach_watch_fit(lib, run, watch_fit(tmp_path / f"w{k}.fit", t, 25, v))
        week = weekly_summary(lib, W47)
    a = week.athletes[0]
    assert a.watch_speed_runs == 2
    assert a.pace_s_per_km == pytest.approx((1000 / 3.0 + 1000 / 3.5) / 2)  # median of two
    step_s = round(60 / 172, 4)  # analysis_json's steps
    assert a.step_length_m == pytest.approx(3.25 * step_s)
    row = next(csv.DictReader(io.StringIO(to_csv(week))))
    assert float(row["pace_s_per_km"]) == pytest.approx(309.5, abs=0.05)
    assert float(row["step_length_m"]) == pytest.approx(3.25 * step_s, abs=1e-3)
    assert row["watch_speed_runs"] == "2"
    doc = json.loads(to_json(week))["athletes"][0]
    assert (doc["pace_s_per_km"], doc["watch_speed_runs"]) == (309.5, 2)
    page = render_html(week)
    assert "5:10 /km" in page  # 309.5 s rounds half up
    assert ">Pace<" in page


def test_athlete_filter(team: Path) -> None:
    with Library.open(team) as lib:
        s = weekly_summary(lib, W47, athletes=["drifted", "Spiky", "Drifted"])
    assert [a.name for a in s.athletes] == ["Spiky", "Drifted"]
    assert s.unassigned_runs == 0


# ---------------------------------------------------------------------------- formats
#: The documented CSV columns' head (docs/reports.md): scripts rely on these names.
STABLE_HEAD = ("week", "rank", "athlete_id", "athlete", "attention", "reasons", "runs",
               "runs_analysed", "running_min", "recorded_min", "steps", "distance_km",
               "distance_runs", "prev4_weekly_mean_running_min", "load_change_pct", "spike_pct",
               "spike_category", "spike_measure", "spike_run_id", "baseline_runs")


def test_csv_has_stable_columns_and_one_row_per_athlete(summary: WeeklySummary) -> None:
    rows = list(csv.reader(io.StringIO(to_csv(summary))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert CSV_COLUMNS[:len(STABLE_HEAD)] == STABLE_HEAD
    assert "pelvic_drop_stance_left_deg_change" in CSV_COLUMNS
    assert CSV_COLUMNS[-4:] == ("pace_s_per_km", "step_length_m", "watch_speed_runs",
                                "week_days_so_far")  # columns are only added, at the end
    assert "ind_pelvic_drop_left_strong_runs" in CSV_COLUMNS
    assert len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [r["athlete"] for r in body] == [a.name for a in summary.athletes]
    spiky = body[0]
    assert (spiky["rank"], spiky["spike_category"], spiky["reasons"]) == ("1", "large",
                                                                         "spike_large")
    assert float(spiky["spike_pct"]) == pytest.approx(150.0)
    assert spiky["distance_km"] == ""  # unknown is empty
    assert (spiky["pace_s_per_km"], spiky["watch_speed_runs"]) == ("", "0")


def test_json_document(summary: WeeklySummary) -> None:
    d = json.loads(to_json(summary))
    assert d["schema"] == "imurun.weekly/1"
    assert (d["week"], d["first_day"], d["last_day"]) == ("2026-W47", "2026-11-16", "2026-11-22")
    assert [a["athlete"] for a in d["athletes"]] == [a.name for a in summary.athletes]
    strong = d["athletes"][1]
    assert strong["indicators"]["pelvic_drop_left"]["level"] == "strongly_raised"
    assert strong["reasons"][0]["priority"] == 2
    assert d["athletes"][0]["spike"]["unit"] == "min"
    assert d["athletes"][-1]["spike"]["category"] == "no_runs"


def _cells(page: str, first: str) -> list[str]:
    """The cells of the table row of ``page`` whose first cell is ``first``, as text."""
    import re

    row = re.search(rf"<tr><td>{re.escape(first)}</td>(.*?)</tr>", page, flags=re.S)
    assert row is not None, first
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1])]


def test_the_change_column_is_the_difference_of_the_values_shown(tmp_path: Path) -> None:
    week = {"cadence_spm": 149.661, "contact_ms": 250.6, "braking_mps": 0.296,
            "vertical_oscillation_cm": 7.04, "pelvic_drop_stance_left_deg": 5.56}
    base = {"cadence_spm": 151.25, "contact_ms": 249.4, "braking_mps": 0.3049,
            "vertical_oscillation_cm": 6.96, "pelvic_drop_stance_left_deg": 5.54}
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for t in (M - 14 * DAY_S, M - 7 * DAY_S):
            h.run("Ana", t, analysis_doc(running_s=1800, values=base), device=0xAB)
        h.run("Ana", M, analysis_doc(running_s=1800, values=week), device=0xAB)
        summary = weekly_summary(lib, W47)
    page = render_html(summary)
    assert _cells(page, "Cadence") == ["150 steps/min", "151 steps/min", "-1 steps/min"]
    rows = {f.label: _cells(page, f.label) for f in summary.athletes[0].form}
    for label, (shown_week, shown_base, change) in rows.items():
        if shown_week == "–" or shown_base == "–":
            continue
        number = [float(x.split()[0].rstrip("°%")) for x in (shown_week, shown_base)]
        assert float(change.split()[0].rstrip("°%")) == pytest.approx(number[0] - number[1]), label
    assert rows["Contact time"][2] == "+2 ms"  # 251 - 249 (unrounded: +1.2)
    assert rows["Braking"][2] == "+0.00 m/s"  # 0.30 against 0.30 (unrounded: -0.009)
    csv_row = next(csv.DictReader(io.StringIO(to_csv(summary))))
    assert float(csv_row["cadence_spm_change"]) == pytest.approx(149.661 - 151.25, abs=1e-3)


def test_a_change_of_a_percentage_is_in_percentage_points(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for t in (M - 14 * DAY_S, M - 7 * DAY_S):
            h.run("Ana", t, analysis_doc(running_s=1800, values={
                "contact_balance_left_pct": 50.6}), device=0xAB)
        h.run("Ana", M, analysis_doc(running_s=1800, values={"contact_balance_left_pct": 51.24}),
              device=0xAB)
        summary = weekly_summary(lib, W47)
    page = render_html(summary)
    # 51.2 % against 50.6 % is 0.6 percentage points more, not "+0.6 %" (that would be 1.2 %)
    assert _cells(page, "Contact time on the left") == ["51.2 %", "50.6 %", "+0.6 pt"]
    assert "percentage points (pt)" in page
    for label in ("Cadence", "Contact time", "Pelvic drop, left stance"):
        assert not _cells(page, label)[2].endswith("pt"), label


def test_an_indicator_without_a_threshold_is_tracked_not_not_raised(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for k in range(2):
            h.run("Ana", M + k * DAY_S, analysis_doc(running_s=1800,
                                                     levels={"anterior_tilt": "info"}), device=0xAB)
        summary = weekly_summary(lib, W47)
    ind = {i.key: i for i in summary.athletes[0].indicators}
    assert ind["anterior_tilt"].level == "info"
    assert ind["overstriding"].level == "not_raised"  # a threshold was checked
    assert json.loads(to_json(summary))["athletes"][0]["indicators"]["anterior_tilt"]["level"] == "info"
    page = render_html(summary)
    assert _cells(page, "Anterior tilt")[0] == "tracked, no threshold"
    assert _cells(page, "Overstriding")[0] == "not raised"


def test_html_is_self_contained_and_escapes_names(tmp_path: Path) -> None:
    name = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run(name, M - 7 * DAY_S, analysis_doc(running_s=1200), device=0xAB)
        h.run(name, M, analysis_doc(running_s=1500), device=0xAB)
        page = render_html(weekly_summary(lib, W47))
    assert "<script" not in page.lower()
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page
    assert 'name="viewport"' in page
    assert "Content-Security-Policy" in page
    assert "http://" not in page
    assert "https://" not in page
    assert 'id="plot-load-1" class="plot load"' in page  # the bars are HTML, no image at all
    assert "<img" not in page


def test_cli_writes_each_format(team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                ) -> None:
    assert imurun(["--home", str(team), "weekly", "--week", "2026-W47", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("week,rank,athlete_id,athlete,attention")
    assert imurun(["weekly", "--home", str(team), "--week", "2026-W47", "--format", "json",
                   "--out", str(tmp_path / "w.json")]) == 0
    assert json.loads((tmp_path / "w.json").read_text())["week"] == "2026-W47"
    assert imurun(["--home", str(team), "weekly", "--week", "2026-W47"]) == 0
    out = capsys.readouterr().out
    assert "check in with Spiky, Strong" in out
    assert (team / "reports" / "weekly-2026-W47.html").exists()


def test_cli_errors_are_one_line(team: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert imurun(["--home", str(team), "weekly", "--week", "2026-47"]) == 2
    assert imurun(["--home", str(team), "weekly", "--athlete", "Nobody"]) == 7
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("imurun: error: '2026-47' is not a week")
    assert err[1].startswith("imurun: error: no athlete 'Nobody'")


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_weekly_page_in_chromium(summary: WeeklySummary, tmp_path: Path) -> None:
    page = tmp_path / "weekly.html"
    page.write_text(render_html(summary), encoding="utf-8")
    n = len(summary.athletes)
    ids = ["roster", "athletes", "how-to-read"] + [f"athlete-{k}" for k in range(1, n + 1)] \
        + [f"plot-load-{k}" for k in range(1, n + 1)]
    for width, shot in ((1100, "weekly-constructed.png"), (390, "weekly-constructed-phone.png")):
        res = check_page(page, ids, ARTIFACTS / shot, width=width)
        assert res.errors == []
        assert [m for m in res.console if m[0] in ("error", "warning")] == []
        assert res.missing == []
        assert res.broken_images == []
        assert all(u.startswith(("file:", "data:")) for u in res.requests), res.requests
        assert res.title == "Team week 2026-W47"
        assert res.screenshot.stat().st_size > 10_000


def test_a_week_in_progress_says_so_and_no_running_yet_is_no_reason(team: Path) -> None:
    thursday = W47.monday + dt.timedelta(days=3)
    with Library.open(team) as lib:
        s = weekly_summary(lib, W47, today=thursday)
        over = weekly_summary(lib, W47, today=W47.sunday + dt.timedelta(days=1))
    absent = next(a for a in s.athletes if a.name == "Absent")
    assert [r.key for r in absent.reasons] == []  # Thursday: the week may still bring runs
    assert s.days_so_far == 4
    assert over.days_so_far is None
    assert [r.key for r in next(a for a in over.athletes if a.name == "Absent").reasons] == [
        "no_runs"]
    assert json.loads(to_json(s))["days_so_far"] == 4
    assert json.loads(to_json(over))["days_so_far"] is None
    rows = list(csv.DictReader(io.StringIO(to_csv(s))))
    assert {r["week_days_so_far"] for r in rows} == {"4"}
    assert {r["week_days_so_far"] for r in csv.DictReader(io.StringIO(to_csv(over)))} == {""}
    page = render_html(s)
    assert "in progress: 4 of 7 days so far (to Thu 19 Nov)" in page
    assert "in progress" not in render_html(over)


def test_a_week_of_walking_only_is_no_running(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for k in range(1, 4):
            h.run("Walker", M - 7 * k * DAY_S, analysis_doc(running_s=1800), device=0xE1)
        h.run("Walker", M, analysis_doc(running_s=0.0, n_steps=0), device=0xE1)
        s = weekly_summary(lib, W47, today=W47.sunday + dt.timedelta(days=1))
    (walker,) = s.athletes
    assert walker.runs == 1
    assert [r.key for r in walker.reasons] == ["no_runs"]
    assert walker.reasons[0].text == ("no running this week (3 runs in the 4 weeks before; 1 "
                                      "recording(s) without running)")


_NO_FORM: Final = {k: None for k in (
    "cadence_spm", "contact_ms", "contact_balance_left_pct", "vertical_oscillation_cm",
    "braking_mps", "pelvic_drop_stance_left_deg", "pelvic_drop_stance_right_deg",
    "pelvic_tilt_range_deg", "pelvic_rotation_range_deg")}  # an analysis without running


def _form_section(athlete: str) -> str:
    return athlete[athlete.index("<h3>Form: this week"):athlete.index("<h3>Form indicators")]


def test_a_week_without_running_says_so_instead_of_a_form_table_of_dashes(
        tmp_path: Path) -> None:
    """A week whose only recording was a walk showed the form table with "–" in every "this
    week" and "change" cell (only dashes without a baseline); a week without runs showed "–"
    as its spike and "No analysed runs". Words now; the CSV keeps its empty cells."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for k in range(1, 4):
            h.run("Walker", M - 7 * k * DAY_S, analysis_doc(running_s=1800), device=0xE1)
            h.run("Rest", M - 7 * k * DAY_S, analysis_doc(running_s=1800), device=0xE2)
        h.run("Walker", M, analysis_doc(running_s=0.0, n_steps=0, values=_NO_FORM),
              device=0xE1)
        h.run("New", M, analysis_doc(running_s=0.0, n_steps=0, values=_NO_FORM), device=0xE3)
        s = weekly_summary(lib, W47, today=W47.sunday + dt.timedelta(days=1))
    page = render_html(s)
    ranks = {a.name: k for k, a in enumerate(s.athletes, 1)}
    for name, said in (("Walker", "No running this week: its recording had no running steps, "
                                  "and form is measured on running steps."),
                       ("New", "No running this week: its recording had no running steps"),
                       ("Rest", "No running this week: no runs recorded.")):
        k = ranks[name]
        athlete = page[page.index(f'id="athlete-{k}"'):]
        athlete = athlete[:athlete.index(f'id="athlete-{k + 1}"')] if k < 3 else athlete
        form = _form_section(athlete)
        assert said in form, (name, form)
        assert "<table" not in form, (name, form)
    rest = page[page.index(f'id="athlete-{ranks["Rest"]}"'):]
    assert ("Longest-run spike</div><div class=\"value\">–</div><div class=\"base\">no runs "
            "this week</div>") in rest
    roster = page[page.index('id="roster"'):page.index('id="athletes"')]
    assert '<td data-label="longest-run spike">no runs this week</td>' in roster
    rows = {r["athlete"]: r for r in csv.DictReader(io.StringIO(to_csv(s)))}
    for name in ("Walker", "New", "Rest"):  # the CSV: empty cells, as documented
        assert rows[name]["cadence_spm_week"] == ""
        assert rows[name]["cadence_spm_change"] == ""
        assert rows[name]["running_min"] == "0.0"
    assert rows["Walker"]["cadence_spm_baseline"] == "170.0"
    assert rows["Rest"]["spike_category"] == "no_runs"


def test_a_walk_beside_a_run_not_analysed_yet_is_not_called_a_week_without_running(
        tmp_path: Path) -> None:
    """The run not analysed may hold running: the words say what is known."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Mixed", M, analysis_doc(running_s=0.0, n_steps=0, values=_NO_FORM), device=0xE4)
        h.run("Mixed", M + DAY_S, None, device=0xE4)
        s = weekly_summary(lib, W47, today=W47.sunday + dt.timedelta(days=1))
    form = html.unescape(_form_section(_first_athlete(render_html(s))))
    assert ("No running in the week's analysed recordings (1 of 2; the others are not "
            "analysed), and form is measured on running steps.") in form
    assert "No running this week" not in form
    assert "<table" not in form


def test_csv_cells_that_start_like_a_formula_stay_text(tmp_path: Path) -> None:
    name = '=HYPERLINK("http://example.invalid","x")'
    with Library.open(tmp_path / "home") as lib:
        lib.add_athlete(name)
        lib.add_athlete("-minus")
        s = weekly_summary(lib, W47)
    rows = list(csv.DictReader(io.StringIO(to_csv(s))))
    assert {r["athlete"] for r in rows} == {"'" + name, "'-minus"}
    assert json.loads(to_json(s))["athletes"][0]["athlete"] in (name, "-minus")  # JSON as is


def test_a_walk_is_not_one_of_the_runs_of_a_baseline(tmp_path: Path) -> None:
    from imurun.report.history import athlete_baseline

    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for k in range(1, 5):
            h.run("Finn", M - k * DAY_S, analysis_doc(running_s=1800), device=0xE2)
        h.run("Finn", M - 5 * DAY_S, analysis_doc(running_s=0.0, n_steps=0), device=0xE2)
        base = athlete_baseline(lib, lib.athlete("Finn").id, M)
    assert base.n_runs == 4


def test_a_summary_of_some_athletes_does_not_replace_the_teams(
        team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    home = tmp_path / "team"
    shutil.copytree(team, home)
    assert imurun(["--home", str(home), "weekly", "--week", "2026-W47"]) == 0
    assert imurun(["--home", str(home), "weekly", "--week", "2026-W47", "--athlete", "Absent",
                   "--athlete", "Spiky"]) == 0
    reports = home / "reports"
    team_page = (reports / "weekly-2026-W47.html").read_text(encoding="utf-8")
    assert "8 athletes" in team_page
    some = reports / "weekly-2026-W47-Spiky-Absent.html"
    assert "2 athletes" in some.read_text(encoding="utf-8")
    assert str(some) in capsys.readouterr().out


def test_indicators_come_from_the_index_not_from_every_runs_analysis_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A coach's library holds thousands of runs whose analysis.json is megabytes each: the
    weekly summary and a report's baseline count indicators from the index, and an index made
    before it kept them still counts them (from the files)."""
    from imurun.report.history import athlete_baseline

    def doc(**levels: str) -> dict[str, object]:  # as imurun writes it: with its parameters
        return {**analysis_doc(running_s=1800, levels=levels), "parameters": {"mass_kg": None}}

    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Gus", M - 7 * DAY_S, doc(overstriding="raised"), device=0xE3)
        h.run("Gus", M, doc(pelvic_drop_left="strongly_raised"), device=0xE3)
        h.run("Gus", M + DAY_S, doc(), device=0xE3)
        gus = lib.athlete("Gus").id

        def counts() -> tuple[dict[str, tuple[int, int]], dict[str, float]]:
            row = weekly_summary(lib, W47).athletes[0]
            base = athlete_baseline(lib, gus, M + 2 * DAY_S)
            return ({i.key: (i.raised_runs, i.strong_runs) for i in row.indicators},
                    dict(base.indicators))

        want = counts()
        assert want[0]["pelvic_drop_left"] == (1, 1)
        assert want[0]["overstriding"] == (0, 0)
        assert set(want[1]) >= {"overstriding", "pelvic_drop_left"}
        with monkeypatch.context() as m:
            def no_file(self: Library, run: object) -> None:
                raise AssertionError("read a run's analysis.json")

            m.setattr(Library, "analysis", no_file)
            assert counts() == want
        lib.db.execute("UPDATE run_summaries SET indicators_json = NULL")  # an older index
        assert counts() == want
        # ...which keeps them once read: the next summary reads no file
        assert lib.db.execute("SELECT COUNT(*) FROM run_summaries WHERE indicators_json IS "
                              "NULL").fetchone()[0] == 0


def test_the_weekly_summary_does_not_start_the_signal_core(tmp_path: Path) -> None:
    """`imurun weekly` reads kept analyses: the signal core (SciPy, more than a second of
    start-up) was imported only for the side codes of the results module."""
    import subprocess
    import sys

    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", 0xAB, 1)).run
        lib.set_analysis(run.id, analysis_json())
    code = ("import sys\nfrom imurun.cli import main\n"
            f"assert main(['--home', {str(home)!r}, 'weekly', '--format', 'json']) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.splitlines()[-1] == "[]"


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_on_a_phone_no_table_hides_columns(summary: WeeklySummary, tmp_path: Path) -> None:
    """At 390 px the roster hid its spike and indicators, the form tables their change, behind
    a sideways scroll: each row is now a block with its values labelled."""
    page = tmp_path / "weekly.html"
    page.write_text(render_html(summary), encoding="utf-8")
    assert scrolled_tables(page, width=390) == []
    html_text = page.read_text(encoding="utf-8")
    assert 'data-label="longest-run spike"' in html_text
    assert 'data-label="indicators raised"' in html_text
    assert 'data-label="change"' in html_text


def test_a_new_athletes_spike_says_how_little_history_it_knew(tmp_path: Path) -> None:
    """A judged spike of an athlete whose first recorded run is less than 30 days old says how
    many days of their running were recorded (earlier runs are not known)."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for t in (M - 16 * DAY_S, M - 9 * DAY_S):
            h.run("Newcomer", t, analysis_doc(running_s=1200), device=0xB1)
        h.run("Newcomer", M, analysis_doc(running_s=1800), device=0xB1)
        h.run("Regular", M - 35 * DAY_S, analysis_doc(running_s=1200), device=0xB2)
        h.run("Regular", M - 2 * DAY_S, analysis_doc(running_s=1200), device=0xB2)
        h.run("Regular", M, analysis_doc(running_s=1800), device=0xB2)
        s = weekly_summary(lib, W47)
    new, regular = (next(a for a in s.athletes if a.name == n) for n in ("Newcomer", "Regular"))
    assert new.spike.category == regular.spike.category == "moderate"
    assert new.spike.history_days == pytest.approx(16.0)
    assert math.isnan(regular.spike.history_days)
    text = next(r.text for r in new.reasons if r.key == "spike_moderate")
    assert text.endswith("(+50 %, running time; only 16 days of their running recorded before "
                         "it: earlier runs are not known)")
    assert next(r.text for r in regular.reasons if r.key == "spike_moderate").endswith(
        "(+50 %, running time)")
    doc = {a["athlete"]: a for a in json.loads(to_json(s))["athletes"]}
    assert doc["Newcomer"]["spike"]["history_days"] == 16.0
    assert doc["Regular"]["spike"]["history_days"] is None
    assert "only 16 days of their running recorded" in render_html(s)


def test_a_new_athletes_first_runs_are_not_judged_for_spikes(tmp_path: Path) -> None:
    """A new athlete's second run, 2 days after the first, was a "+50 %" spike and a reason to
    check in: against one earlier run nearly every longer run is a spike. Until the athlete has
    SPIKE_MIN_HISTORY_RUNS runs recorded before a run, the first SPIKE_MIN_HISTORY_DAYS days
    before it, the run shows "not enough history yet (n runs)" and raises nothing."""
    assert (SPIKE_MIN_HISTORY_RUNS, SPIKE_MIN_HISTORY_DAYS) == (2, 14)
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Newcomer", M - 2 * DAY_S, analysis_doc(running_s=1200), device=0xB1)
        h.run("Newcomer", M, analysis_doc(running_s=1800), device=0xB1)
        h.run("Newcomer", M + 3 * DAY_S, analysis_doc(running_s=3600), device=0xB1)
        # two weeks of running, but one run only before the long one
        h.run("Rare", M - 20 * DAY_S, analysis_doc(running_s=1200), device=0xB3)
        h.run("Rare", M, analysis_doc(running_s=3600), device=0xB3)
        # enough runs, too few days
        for d in (10, 8, 5):
            h.run("Quick", M - d * DAY_S, analysis_doc(running_s=1200), device=0xB4)
        h.run("Quick", M, analysis_doc(running_s=3600), device=0xB4)
        s = weekly_summary(lib, W47)
    by = {a.name: a for a in s.athletes}
    for name, runs_before in (("Newcomer", 2), ("Rare", 1), ("Quick", 3)):
        a = by[name]
        assert a.spike.category == "not_enough_history", name
        assert math.isnan(a.spike.pct)
        assert a.spike.history_runs == runs_before
        assert not [r for r in a.reasons if r.key.startswith("spike_")], name
        assert a.attention == "ok"
    assert by["Newcomer"].spike.run_id == by["Newcomer"].run_ids[-1]
    page = render_html(s)
    assert "not enough history yet (2 runs)" in page
    assert "not enough history yet (1 run)" in page
    rows = {r["athlete"]: r for r in csv.DictReader(io.StringIO(to_csv(s)))}
    assert rows["Quick"]["spike_category"] == "not_enough_history"
    assert rows["Quick"]["spike_pct"] == ""
    doc = {a["athlete"]: a for a in json.loads(to_json(s))["athletes"]}
    assert doc["Rare"]["spike"]["category"] == "not_enough_history"
    assert doc["Rare"]["spike"]["history_runs"] == 1
    # a week later the same athlete has the history: the long run of the next week is judged
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Newcomer", M + 14 * DAY_S, analysis_doc(running_s=9000), device=0xB1)
        nxt = weekly_summary(lib, W47.shift(2), athletes=["Newcomer"])
    sp = nxt.athletes[0].spike
    assert (sp.category, sp.history_runs) == ("large", 3)
    assert sp.pct == pytest.approx(150.0)



def _first_athlete(page: str) -> str:
    """The first athlete's section of a weekly page."""
    return page[page.index('id="athlete-1"'):page.index('id="how-to-read"')]


def test_an_analysis_with_the_former_drift_title_shows_the_current_one(tmp_path: Path) -> None:
    """Analyses written before the rename hold "Form drift with fatigue": a week mixing old and
    new analyses showed the old title, which presumes the cause of the drift."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for day in (0, 2):
            doc = analysis_doc(running_s=1800, levels={"form_drift": "raised"})
            for ind in doc["indicators"]:
                if ind["key"] == "form_drift":
                    ind["title"] = "Form drift with fatigue"
            h.run("Old", M + day * DAY_S, doc, device=0xB4)
        s = weekly_summary(lib, W47)
    page = render_html(s)
    assert "Form drift over the run: raised in 2 of 2 runs" in page
    assert "with fatigue" not in page + to_csv(s) + to_json(s)


def test_an_athlete_without_a_baseline_gets_a_sentence_not_columns_of_dashes(
        tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Newcomer", M, analysis_doc(running_s=1200), device=0xB1)  # first week
        h.run("Newcomer", M + 2 * DAY_S, analysis_doc(running_s=1800), device=0xB1)
        s = weekly_summary(lib, W47)
    assert s.athletes[0].baseline_runs == 0
    athlete = _first_athlete(render_html(s))
    assert "No baseline yet: no analysed runs in the 28 days before the week" in athlete
    assert "4 weeks before</th>" not in athlete
    assert "<td class=\"num\" data-label=\"this week\">170 steps/min</td>" in athlete
    assert "Baseline: 0 analysed run(s)" not in athlete


def test_an_athlete_back_after_a_break_is_not_told_the_comparison_starts_after_their_first_run(
        tmp_path: Path) -> None:
    """Back after five weeks off, an athlete's week read "No baseline yet: ... the comparison
    starts the week after their first analysed run": their first run was seven weeks before,
    and the baseline was missing for the break, not for being new."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for day in (-49, -47, -42):  # W40-W41, then nothing until W47
            h.run("Returner", M + day * DAY_S, analysis_doc(running_s=1200), device=0xB6)
        h.run("Returner", M, analysis_doc(running_s=1200), device=0xB6)
        h.run("Newcomer", M, analysis_doc(running_s=1200), device=0xB7)
        s = weekly_summary(lib, W47)
        page = render_html(s)
    assert [a.baseline_runs for a in s.athletes] == [0, 0]
    sections = {a.name: _text(page[page.index(f'id="athlete-{k}"'):]).split(" How to read")[0]
                for k, a in enumerate(s.athletes, 1)}
    back, new = sections["Returner"], sections["Newcomer"]
    assert "No baseline: no analysed runs in the 28 days before the week" in back
    assert "first analysed run" not in back + new
    assert "No baseline yet: no analysed runs in the 28 days before the week" in new
    for text in (back, new):
        assert "the weeks after it are compared with them" in text


def test_an_athlete_back_after_a_break_has_no_running_before_said_not_nothing(
        tmp_path: Path) -> None:
    """The roster's "running (vs 4 weeks)" of an athlete back after four weeks without running
    read "20 min" and nothing else, as for a new athlete, and the bars' caption said nothing
    of the four empty weeks: the change against an average of 0 has no number."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Returner", M - 42 * DAY_S, analysis_doc(running_s=1200), device=0xB6)
        h.run("Returner", M, analysis_doc(running_s=1200), device=0xB6)
        h.run("Newcomer", M, analysis_doc(running_s=1200), device=0xB7)
        s = weekly_summary(lib, W47)
        page = render_html(s)
    back = next(a for a in s.athletes if a.name == "Returner")
    assert (back.previous_weeks_counted, back.load_mean_s) == (4, 0.0)
    assert math.isnan(back.load_change_pct)  # CSV and JSON: empty / null, as before
    roster = _text(page[page.index('id="roster"'):page.index('id="athletes"')])
    assert "20 min no running in the 4 weeks before" in roster
    assert [a.name for a in s.athletes] == ["Newcomer", "Returner"]  # no reasons: by name
    assert "no running in the" not in roster.split("Newcomer")[1].split("Returner")[0]
    k = [a.name for a in s.athletes].index("Returner") + 1
    assert "They had no running in the 4 weeks before, so there is no average to compare with." \
        in _text(_load_figure(page, k))


def test_an_indicator_measured_in_no_run_is_named_not_dropped(tmp_path: Path) -> None:
    """Form drift needs 10 minutes of running: in a week of short runs its row vanished from
    the indicator table, which a coach could read as nothing to see."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for day in (0, 2):
            h.run("Short", M + day * DAY_S, analysis_doc(running_s=500,
                                                         levels={"form_drift": "unknown"}),
                  device=0xB3)
        s = weekly_summary(lib, W47)
    athlete = _first_athlete(render_html(s))
    assert "Not measured in any of the week's runs: Form drift" in athlete


def test_a_week_without_runs_says_so_under_data_quality(tmp_path: Path) -> None:
    """"0 of 0 runs analysed; 0.0 min lost to gaps (– of the recorded time)"."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Resting", M - 7 * DAY_S, analysis_doc(running_s=1200), device=0xB4)
        s = weekly_summary(lib, W47)
    assert s.athletes[0].runs == 0
    athlete = _first_athlete(render_html(s))
    assert "<h3>Data quality</h3><p class=\"muted\">No runs this week.</p>" in athlete
    assert "0 of 0 runs" not in athlete


def test_a_week_of_one_run_is_not_all_1_run(tmp_path: Path) -> None:
    """"All 1 run analysed; 0 s lost to gaps": the data quality of a week of one run."""
    with Library.open(tmp_path / "home") as lib:
        History(lib, tmp_path).run("Once", M, analysis_doc(running_s=1200), device=0xB8)
        s = weekly_summary(lib, W47)
    athlete = _text(_first_athlete(render_html(s)))
    assert "The week's one run analysed; 0 s lost to gaps" in athlete
    assert "All 1 run" not in athlete


# ---------------------------------------------------------------------------- short amounts of time
def _text(page: str) -> str:
    """A page's words as a reader sees them (tags dropped, spaces collapsed)."""
    return " ".join(html.unescape(re.sub(r"<style.*?</style>|<[^>]+>", " ", page,
                                         flags=re.S)).split())


def test_a_short_recording_reads_in_seconds_not_zero_minutes(tmp_path: Path) -> None:
    """A 25-s run of a 35-s recording read "0 min of 1 min recorded" (and "0 min" in the roster
    and under the bar of the week, "0.0 min lost" for 2 s lost): whole minutes hid it."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run("Short", M, analysis_doc(running_s=25.0, lost_s=2.0), device=0xB5, seconds=35.0)
        s = weekly_summary(lib, W47)
    a = s.athletes[0]
    assert (a.running_s, a.recorded_s) == (25.0, pytest.approx(35.0, abs=0.1))
    page = render_html(s)
    athlete = _text(_first_athlete(page))
    assert "Running time 25 s of 35 s recorded" in athlete
    assert "25 s this week" in athlete  # the bar of the week, and what it says aloud:
    assert re.search(r'aria-label="Running time per week, Short: [^"]*this week 25 s"', page)
    assert "2 s lost to gaps" in athlete
    roster = _text(page[page.index('id="roster"'):page.index('id="athletes"')])
    assert "25 s" in roster
    assert not re.search(r"\b0(\.0)? min\b", _text(page)), _text(page)


def test_percent_signs_follow_the_convention_in_every_output(summary: WeeklySummary) -> None:
    """The weekly page printed "51.2%" (form table, spike card, time lost) where the reasons
    printed "+150 %" (docs/conventions.md: a space before %)."""
    page = re.sub(r"<style.*?</style>|<[^>]+>", " ", render_html(summary), flags=re.S)
    outputs = {"html": html.unescape(page), "csv": to_csv(summary)}
    assert "%" in outputs["html"]
    stuck = {k: re.findall(r"\d%", v) for k, v in outputs.items()}
    assert stuck == {"html": [], "csv": []}


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_card_labels_and_values_stay_on_one_line_at_every_width(summary: WeeklySummary,
                                                                tmp_path: Path) -> None:
    """The weekly page shares the run report's cards (_html.CSS): the same widths apply."""
    page = tmp_path / "weekly.html"
    page.write_text(render_html(summary), encoding="utf-8")
    assert wrapped_cards(page) == []


def test_a_runs_own_spike_is_the_one_its_week_shows(tmp_path: Path) -> None:
    """`run_spike` (the run report's "Longest-run spike") judges one run by the weekly
    summary's rules: the same numbers as the week that holds it, the same "not enough history"
    for a new athlete, and nothing to compare with for a run without an athlete."""
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for t in (M - 40 * DAY_S, M - 25 * DAY_S, M - 12 * DAY_S):
            h.run("Spiky", t, analysis_doc(running_s=1200), device=0xA1)
        long_run = h.run("Spiky", M + DAY_S, analysis_doc(running_s=3000), device=0xA1)
        later = h.run("Spiky", M + 9 * DAY_S, analysis_doc(running_s=1500), device=0xA1)
        h.run("Newcomer", M - 2 * DAY_S, analysis_doc(running_s=1200), device=0xB1)
        young = h.run("Newcomer", M, analysis_doc(running_s=1800), device=0xB1)
        orphan = lib.add_file(write_run(tmp_path / "orphan", 0x0F, 1,
                                        start_unix_ms=M * 1000)).run
        week = next(a for a in weekly_summary(lib, W47).athletes if a.name == "Spiky").spike
        mine = run_spike(lib, long_run)
        after = run_spike(lib, later)
        new = run_spike(lib, young)
        none = run_spike(lib, orphan)
    assert week.run_id == long_run.id
    assert mine == week
    assert (mine.category, mine.measure) == ("large", "running time")
    assert mine.pct == pytest.approx(150.0)
    assert mine.previous_longest == pytest.approx(20.0)
    # the next run is judged against the long one (the longest of its 30 days before)
    assert after.pct == pytest.approx(-50.0)
    assert after.category == "none"
    assert (new.category, new.history_runs) == ("not_enough_history", 1)
    assert none.category == "no_history"
    assert math.isnan(none.pct)



def test_a_long_name_and_a_note_under_the_running_time_fit_a_phone(tmp_path: Path) -> None:
    """An athlete's name of one long word, and the roster's "no running in the 4 weeks before"
    (a number's cell does not wrap) must not make the page wider than a 390 px phone."""
    name = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaft"
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        h.run(name, M - 42 * DAY_S, analysis_doc(running_s=1200), device=0xB9)
        h.run(name, M, analysis_doc(running_s=1200), device=0xB9)
        s = weekly_summary(lib, W47)
    page = tmp_path / "weekly.html"
    page.write_text(render_html(s), encoding="utf-8")
    assert "no running in the 4 weeks before" in page.read_text(encoding="utf-8")
    check = check_page(page, ["roster"], tmp_path / "weekly.png", width=390)
    assert check.overflow_px == 0
    assert scrolled_tables(page, width=390) == []
