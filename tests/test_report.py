"""The run report: content, baseline, escaping, self-containment, the CLI, and a real browser."""

from __future__ import annotations

import dataclasses
import html.parser
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imurun._timetext import time_parts, time_text
from imurun.analysis import analyze, format_report
from imurun.cli import main as imurun
from imurun.cli_library import impact_text
from imurun.ingest.files import load_recording
from imurun.ingest.recording import Gap, GapCause, Recording, Segment
from imurun.report.history import athlete_baseline
from imurun.report.run_report import (
    PLOTS,
    SECTIONS,
    WATCH_PLOTS,
    ReportContext,
    render_run_report,
    report_path,
    write_run_report,
)
from imurun.report.weekly import Spike
from imurun.signal.events import Side
from imurun.signal.results import RunAnalysis, Unavailable
from imurun.signal.summary import impact_reason, side_reasons, summarise
from imurun.store.library import Library
from imurun.workflows import analyse_runs
from tests.report_support import (
    ARTIFACTS,
    DAY_S,
    W47_MONDAY_NOON,
    History,
    analysis_doc,
    check_page,
    scrolled_tables,
    simulated_runs,
    truth_watch_fit,
    watch_fit,
    wrapped_cards,
)

NAME = '<script>alert("owned")</script> Ana'


class _Tags(html.parser.HTMLParser):
    """Every start tag with its attributes, and the ids."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    @property
    def ids(self) -> set[str]:
        return {str(a["id"]) for _, a in self.tags if a.get("id")}


def _parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three analysed 3-minute runs of one athlete, two days apart, as the sensor records them."""
    tmp = tmp_path_factory.mktemp("report")
    files = simulated_runs(tmp, minutes=(3.0, 3.0, 3.5), start_unix_s=W47_MONDAY_NOON - 4 * DAY_S)
    home = tmp / "home"
    with Library.open(home) as lib:
        lib.add_athlete(NAME, mass_kg=61.0)
        lib.bind_sensor(0x1D0C_5E75_0000_7E57, NAME)
        runs = [lib.add_file(f, source_name=f"<b>{f.name}</b>").run for f in files]
        done = analyse_runs(lib, runs)
    assert all(x.ok for x in done), [x.error for x in done]
    return home


@pytest.fixture(scope="module")
def report(library: Path) -> tuple[Path, str]:
    with Library.open(library) as lib:
        path = write_run_report(lib, lib.run("latest"))
    return path, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def watch_report(library: Path) -> tuple[Path, str]:
    """The report of the second run with a watch file of its true speed (three paces)."""
    from imurun.store.attach import attach_watch_fit

    with Library.open(library) as lib:
        run = lib.runs()[1]
        assert run.start_unix_s is not None
        wf = truth_watch_fit(library.parent / "w1.fit", library.parent / "truth" / "r1.npz",
                             run.start_unix_s)
        attach_watch_fit(lib, run, wf)
        path = write_run_report(lib, run, library.parent / "watch-report.html")
    return path, path.read_text(encoding="utf-8")


def test_report_has_every_section_and_plot(report: tuple[Path, str], library: Path) -> None:
    path, page = report
    with Library.open(library) as lib:
        assert path == report_path(lib.root, lib.run("latest").id)
    ids = _parse(page).ids
    assert set(SECTIONS) <= ids
    assert set(PLOTS) <= ids
    for word in ("Cadence", "Contact time", "Bounce", "Braking", "Pelvic drop", "Pelvic tilt",
                 "Pelvic rotation", "Left and right", "First vs last third", "Data quality"):
        assert word in page


def test_report_is_one_offline_file(report: tuple[Path, str]) -> None:
    _, page = report
    tags = _parse(page).tags
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) \
        in tags
    assert any(t == "meta" and a.get("http-equiv") == "Content-Security-Policy" for t, a in tags)
    assert not [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed")]
    for t, a in tags:
        for attr in ("src", "href"):
            v = a.get(attr)
            if v is not None:
                assert v.startswith(("data:image/png;base64,", "#")), (t, v[:60])
    assert "http://" not in page
    assert "https://" not in page


def test_wording_is_indicators_not_diagnoses(report: tuple[Path, str]) -> None:
    _, page = report
    assert "not diagnoses" in page
    assert "associated in research" in page
    assert "physiotherapist" in page
    for word in ("diagnosis:", "injury risk", "risk score", "you will get injured"):
        assert word not in page.lower()


def test_text_from_files_and_people_is_escaped(report: tuple[Path, str], library: Path) -> None:
    _, page = report
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; Ana" in page
    assert "&lt;b&gt;run-" in page  # the file name given at import
    # notes the analysis carries (they come from the file) are escaped too
    with Library.open(library) as lib:
        run = lib.run("latest")
        rec = load_recording(run.path)
    rec = dataclasses.replace(rec, gyr_rads=None, meta=dataclasses.replace(
        rec.meta, notes=("<img src=x onerror=alert(1)>",)))
    page = render_run_report(analyze(rec), ReportContext(athlete="<i>x</i>",
                                                         file_name="a\"b<c>.csv"))
    assert "<img src=x" not in page
    assert "<i>x</i>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "a&quot;b&lt;c&gt;.csv" in page


def test_accelerometer_only_says_what_was_not_measured(library: Path) -> None:
    with Library.open(library) as lib:
        rec = load_recording(lib.run("latest").path)
    result = analyze(dataclasses.replace(rec, gyr_rads=None))
    page = render_run_report(result)
    ids = _parse(page).ids
    assert {"plot-cadence", "plot-contact", "plot-activity"} <= ids
    assert "plot-pelvic-drop" not in ids
    assert "plot-tilt" not in ids
    assert "Not measured" in page
    assert "accelerometer only" in page


def test_a_start_entered_by_hand_dates_the_report(library: Path) -> None:
    import datetime as dt

    with Library.open(library) as lib:
        rec = load_recording(lib.run("latest").path)
    result = analyze(dataclasses.replace(rec, meta=dataclasses.replace(rec.meta, start_unix_s=None)))
    assert "Run of unknown date" in render_run_report(result)
    start = dt.datetime(2026, 11, 17, 18, 5).astimezone().timestamp()
    page = render_run_report(result, ReportContext(athlete="Ana", start_unix_s=start))
    assert "Ana: run of Tue 17 Nov 2026, 18:05 (start entered by hand)" in page
    assert "unknown date" not in page


def _text(page: str) -> str:
    """What a person reads: the page without tags, scripts, styles and images."""
    import html as html_mod

    page = re.sub(r"<script.*?</script>|<style.*?</style>|<svg.*?</svg>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html_mod.unescape(re.sub(r"<[^>]+>", " ", page)))


def _standing_still(seconds: float = 40.0, fs_hz: float = 100.0) -> Recording:
    rng = np.random.default_rng(0)
    n = int(seconds * fs_hz)
    acc = np.tile([0.0, 0.0, 9.81], (n, 1)) + rng.normal(0, 0.02, (n, 3))
    return Recording(np.arange(n) / fs_hz, acc, rng.normal(0, 0.005, (n, 3)), fs_hz,
                     (Segment(0, n),))


def test_without_running_the_report_says_why_in_plain_words() -> None:
    result = analyze(_standing_still())
    assert result.summary.n_steps == 0
    doc = result.to_dict()  # the JSON keeps its words for programs
    assert doc["unavailable"]["contact_balance_left_pct"] == "no running in this recording"
    assert "no running found: running metrics are null" in doc["notes"]
    assert "pass mass_kg" in doc["unavailable"]["vertical_stiffness_kn_m"]
    text = _text(render_run_report(result))
    start = text.rindex("Left and right")  # the section, not the menu
    left_right = text[start:text.index("First vs last third", start)]
    assert "– % of your ground contact time" not in left_right
    assert "known for – %" not in left_right
    assert "This run has no left/right balance: no running in this recording." in left_right
    assert "left − right" not in left_right  # no table of dashes
    for internal in ("running metrics are null", "mass_kg", "CLI --mass-kg", "accelerometer-only"):
        assert internal not in text
    assert "No running was found in this recording" in text
    assert "your body mass is not known: give it when you analyse the file" in text
    ctx = ReportContext(athlete="Ana", run_id="ab" * 32)
    assert ("add it to your athlete profile (imurun athlete set Ana --mass-kg KG)"
            in _text(render_run_report(result, ctx)))


def test_too_few_steps_per_foot_is_the_reason_given_for_no_balance(report: tuple[Path, str],
                                                                   library: Path) -> None:
    with Library.open(library) as lib:
        run = lib.run("latest")
        result = RunAnalysis.from_dict(lib.analysis(run) or {})
    steps = result.steps
    running = np.flatnonzero(steps.is_running)
    left = running[steps.side[running] == Side.LEFT][:7]
    right = running[steps.side[running] == Side.RIGHT][:5]
    few = steps.select(np.isin(np.arange(len(steps.ic_s)), np.concatenate([left, right])))
    why = "too few running steps of each foot: 7 left and 5 right, at least 10 of each are needed"
    assert side_reasons(few)["contact_balance_left_pct"] == why
    assert math.isnan(summarise(few, result.summary.quality, t_start_s=0.0)
                      .contact_balance_left_pct)
    assert "contact_balance_left_pct" not in side_reasons(steps)  # enough steps: no reason
    thin = dataclasses.replace(
        result, summary=dataclasses.replace(result.summary, contact_balance_left_pct=math.nan),
        unavailable=(*result.unavailable, Unavailable("contact_balance_left_pct", why)))
    text = _text(render_run_report(thin))
    assert f"This run has no left/right balance: {why}." in text
    assert "The foot was known for 100 % of the" in text
    assert "– % of your ground contact time" not in text


def test_baseline_is_the_runners_own_last_four_weeks(tmp_path: Path) -> None:
    t = W47_MONDAY_NOON
    with Library.open(tmp_path / "home") as lib:
        h = History(lib, tmp_path)
        for days, cad in ((40, 150.0), (20, 160.0), (10, 164.0), (3, 170.0), (-1, 190.0)):
            h.run("Ana", t - days * DAY_S, analysis_doc(running_s=900, values={
                "cadence_spm": cad}), device=0xA1)
        h.run("Ben", t - 2 * DAY_S, analysis_doc(running_s=900, values={"cadence_spm": 120.0}),
              device=0xB2)
        current = h.run("Ana", t, analysis_doc(running_s=900), device=0xA1)
        ana = lib.athlete("Ana").id
        base = athlete_baseline(lib, ana, t, exclude=(current.id,))
    assert base.n_runs == 3  # 40 days ago, tomorrow and Ben's runs are not in it
    assert base.metric("cadence_spm") == pytest.approx(164.0)
    assert base.indicator("overstriding") == pytest.approx(1.0)
    assert math.isnan(base.metric("vertical_stiffness_kn_m"))


def test_report_shows_the_baseline(report: tuple[Path, str]) -> None:
    _, page = report
    assert re.search(r"median of your 2 analysed runs of the 28 days before this one \(from "
                     r"\d\d \w\w\w to \d\d \w\w\w 2026\)", page)
    assert "4 weeks: " in page
    assert "your last 4 weeks" in page


def test_cli(library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    assert imurun(["--home", str(library), "report", "latest", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"wrote {out}" in capsys.readouterr().out
    with Library.open(library) as lib:
        run = lib.runs()[0]
        doc = lib.analysis(run)
    j = tmp_path / "a.json"
    j.write_text(RunAnalysis.from_dict(doc or {}).to_json())
    assert imurun(["report", str(j), "--out", str(tmp_path / "j.html")]) == 0
    assert imurun(["--home", str(library), "report", "ffffffff"]) == 7
    assert imurun(["--home", str(library), "report", "latest", "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("imurun: error: no run 'ffffffff'")
    assert "is a directory" in err[1]


def test_a_run_without_analysis_has_no_report(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = History(lib, tmp_path).run("Ana", W47_MONDAY_NOON, None, device=0xA1)
        lib.set_analysis_error(run.id, "no running found")
    assert imurun(["--home", str(home), "report", run.id[:8]]) == 2
    assert "its analysis failed: no running found" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_report_in_chromium(report: tuple[Path, str], watch_report: tuple[Path, str]) -> None:
    for (path, _), ids, width, shot in (
            (report, SECTIONS + PLOTS, 1100, "run-report.png"),
            (report, SECTIONS + PLOTS, 390, "run-report-phone.png"),
            (watch_report, SECTIONS + PLOTS + WATCH_PLOTS, 1100, "run-report-watch.png"),
            (watch_report, SECTIONS + PLOTS + WATCH_PLOTS, 390, "run-report-watch-phone.png")):
        res = check_page(path, list(ids), ARTIFACTS / shot, width=width)
        assert res.errors == []
        assert [m for m in res.console if m[0] in ("error", "warning")] == []
        assert res.missing == []
        assert res.broken_images == []
        assert all(u.startswith(("file:", "data:")) for u in res.requests), res.requests
        assert res.overflow_px <= 0, "the page is wider than the screen"
        assert "Ana: run of" in res.title
        assert res.screenshot.stat().st_size > 10_000


def test_a_bad_analysis_file_is_a_file_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for k, text in enumerate(("not json", '{"schema": "other/1"}',
                              '{"schema": "imurun.analysis/1"}')):
        f = tmp_path / f"bad{k}.json"
        f.write_text(text)
        assert imurun(["report", str(f)]) == 3
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert all(e.startswith("imurun: error: ") and "not an imurun analysis" in e for e in err)


def test_a_watch_file_brings_distance_pace_and_heart_rate(library: Path, tmp_path: Path) -> None:
    from imurun.store.attach import attach_watch_fit

    with Library.open(library) as lib:
        run = lib.runs()[0]
        assert run.start_unix_s is not None
        attach_watch_fit(lib, run, watch_fit(tmp_path / "w.fit", run.start_unix_s, 150,
                                             speed_mps=3.2))
        page = write_run_report(lib, run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Distance (watch)" in page
    assert "0.48" in page  # km: 149 s at 3.2 m/s
    assert "5:13" in page  # min/km at 3.2 m/s
    assert "Heart rate (watch)" in page


# ---------------------------------------------------------------------------- by pace
def _section(page: str, sid: str) -> str:
    start = page.index(f'<section id="{sid}">')
    return page[start:page.index("</section>", start)]


def test_by_pace_with_a_watch(watch_report: tuple[Path, str]) -> None:
    _, page = watch_report
    ids = _parse(page).ids
    assert {"by-pace", *WATCH_PLOTS} <= ids
    sec = _section(page, "by-pace")
    assert "imurun attach" not in sec
    assert "Stride length" in sec
    assert "Step length (watch)" in _section(page, "summary")
    head = re.search(r"<thead><tr><th>pace, min/km</th>(.*?)</tr></thead>", sec)
    assert head is not None
    bands = re.findall(r"(\d+):(\d\d)–(\d+):(\d\d)", head.group(1))
    assert len(bands) >= 3  # the simulated run's easy, faster and slower paces
    starts = [60 * int(a) + int(b) for a, b, _, _ in bands]
    assert starts == sorted(starts, reverse=True)  # slowest first
    assert all(60 * int(c) + int(d) - (60 * int(a) + int(b)) == 15 for a, b, c, d in bands)

    def row(label: str) -> list[float]:
        m = re.search(rf"<td>{re.escape(label)}</td>(.*?)</tr>", sec)
        assert m is not None, label
        return [float(x) for x in re.findall(r'<td class="num">([\d.]+)</td>', m.group(1))]

    assert all(n >= 60 for n in row("Steps"))
    cadence, step = row("Cadence, steps/min"), row("Step length, m")
    assert cadence == sorted(cadence)  # faster, higher cadence and longer steps
    assert step == sorted(step)
    assert row("Contact time, ms") == sorted(row("Contact time, ms"), reverse=True)
    assert all(0.8 < x < 1.6 for x in step)


def test_by_pace_without_a_watch_says_how_to_get_it(report: tuple[Path, str],
                                                     library: Path) -> None:
    _, page = report
    with Library.open(library) as lib:
        short = lib.run("latest").id[:10]
    sec = _section(page, "by-pace")
    assert f"<code>imurun attach {short} watch.fit</code>" in sec
    assert f"<code>imurun report {short}</code>" in sec
    assert "plot-by-pace" not in page


def test_by_pace_of_a_bare_file_and_of_a_watch_without_speed(library: Path) -> None:
    with Library.open(library) as lib:
        result = RunAnalysis.from_dict(lib.analysis(lib.run("latest")))
    sec = _section(render_run_report(result), "by-pace")
    assert "<code>imurun import FILE</code>" in sec
    assert "<code>imurun attach RUN watch.fit</code>" in sec
    sec = _section(render_run_report(result, ReportContext(watch_attached=True)), "by-pace")
    assert "has no speed" in sec


def _latest(library: Path) -> RunAnalysis:
    with Library.open(library) as lib:
        return RunAnalysis.from_dict(lib.analysis(lib.run("latest")) or {})


def test_pelvic_drop_plot_shows_the_baseline_of_each_stance_side(
        library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every "over the run" plot draws the runner's 4-week baseline, pelvic drop per side."""
    from imurun.report import plots
    from imurun.report.history import Baseline

    drawn: dict[str, tuple[float | None, tuple[plots.Reference, ...]]] = {}
    real = plots.over_run

    def over_run(layers: Any, bands: Any, ylabel: str, **kw: Any) -> str:
        key = "drop" if len(layers) == 2 else layers[0].label
        drawn[key] = (kw.get("reference"), tuple(kw.get("references", ())))
        return real(layers, bands, ylabel, **kw)

    monkeypatch.setattr(plots, "over_run", over_run)
    base = Baseline("ben", 0.0, 1.0, ("r1", "r2"), {
        "pelvic_drop_stance_left_deg": 8.0, "pelvic_drop_stance_right_deg": 6.6,
        "cadence_spm": 170.0})
    text = _text(render_run_report(_latest(library), ReportContext(athlete="Ben", baseline=base)))
    assert drawn["Cadence"][0] == 170.0
    refs = drawn["drop"][1]
    assert [(r.value, r.colour) for r in refs] == [(8.0, plots.LEFT_COLOUR),
                                                  (6.6, plots.RIGHT_COLOUR)]
    assert [r.label for r in refs] == ["left, last 4 weeks", "right, last 4 weeks"]
    assert "Dashed: your last 4 weeks (8.0° left and 6.6° right)." in text
    drawn.clear()  # without a baseline: no line, and the caption does not claim one
    text = _text(render_run_report(_latest(library)))
    assert drawn["drop"][1] == ()
    assert "Dashed" not in text


def test_pelvic_drop_plot_with_the_baseline_is_an_image_with_both_lines() -> None:
    """The dashed lines are drawn (pixels of each foot's colour in a full-width row)."""
    import base64
    import io

    from matplotlib.image import imread

    from imurun.report import plots

    t = np.linspace(0.0, 10.0, 200)
    layers = [plots.Layer(n, t, np.full(t.size, v), np.array([5.0]), np.array([v]), c)
              for n, v, c in (("left stance", 12.0, plots.LEFT_COLOUR),
                              ("right stance", 6.5, plots.RIGHT_COLOUR))]
    with_refs = plots.over_run(layers, [], "degrees", references=[
        plots.Reference(8.0, "left, last 4 weeks", plots.LEFT_COLOUR),
        plots.Reference(math.nan, "right, last 4 weeks", plots.RIGHT_COLOUR)])
    without = plots.over_run(layers, [], "degrees")
    assert with_refs != without

    def rgb(uri: str) -> Any:
        return imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")[..., :3]

    left = np.array([int(plots.LEFT_COLOUR[k:k + 2], 16) / 255 for k in (1, 3, 5)])
    rows_with = (np.abs(rgb(with_refs) - left).max(axis=2) < 0.02).sum(axis=1)
    rows_without = (np.abs(rgb(without) - left).max(axis=2) < 0.02).sum(axis=1)
    # a dashed line across the axes: one more row with many left-coloured pixels
    assert (rows_with > 150).sum() > (rows_without > 150).sum()


def _table_rows(page: str, sid: str) -> list[list[str]]:
    import html as html_mod

    sec = _section(page, sid)
    return [[html_mod.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", sec, flags=re.S)
            if "<td" in row]


def _number(cell: str) -> float:
    return float(re.sub(r"[^0-9.+\-]", "", cell.split()[0]).replace("−", "-"))


def test_left_right_and_thirds_differences_are_of_the_values_shown(library: Path) -> None:
    from imurun.signal.results import Drift

    result = _latest(library)
    s = result.summary
    spread = tuple(dataclasses.replace(sp, left_median=0.264, right_median=0.246)
                   if sp.name == "braking_mps" else sp for sp in s.spread)
    drift = (*s.drift, Drift("braking_mps", "m/s", 0.246, 0.264)) if not any(
        d.name == "braking_mps" for d in s.drift) else tuple(
        dataclasses.replace(d, first_third=0.246, last_third=0.264)
        if d.name == "braking_mps" else d for d in s.drift)
    thin = dataclasses.replace(result, summary=dataclasses.replace(
        s, spread=spread, drift=drift, pelvic_drop_stance_left_deg=5.56,
        pelvic_drop_stance_right_deg=5.44))
    page = render_run_report(thin)
    lr = {r[0]: r[1:] for r in _table_rows(page, "left-right")}
    assert lr["Braking"] == ["0.26 m/s", "0.25 m/s", "+0.01 m/s"]  # unrounded: +0.02
    assert lr["Pelvic drop (in this foot's stance)"] == ["5.6°", "5.4°", "+0.2°"]
    thirds = {r[0]: r[1:] for r in _table_rows(page, "thirds")}
    assert thirds["Braking"][:3] == ["0.25 m/s", "0.26 m/s", "+0.01 m/s"]
    for rows, first, second in ((lr, 0, 1), (thirds, 1, 0)):
        for label, cells in rows.items():
            if "–" in cells[:3]:
                continue
            assert _number(cells[2]) == pytest.approx(
                _number(cells[first]) - _number(cells[second]), abs=1e-9), label


def test_when_no_indicator_could_be_measured_the_summary_says_so() -> None:
    result = analyze(_standing_still())
    assert result.indicators
    assert all(i.level == "unknown" for i in result.indicators)
    summary = _text(_section(render_run_report(result), "summary"))
    assert "No form indicator was raised" not in summary
    assert ("No form indicator could be measured in this run: no running was found in this "
            "recording.") in summary


def test_a_walking_only_recording_measures_no_indicator() -> None:
    """voisard_ipol 1-1 (lower back, walking only): nothing was checked, so nothing is "not
    raised"."""
    import os

    shared = Path(os.environ.get("IMURUN_SHARED_DATA",
                                 Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    path = shared / "voisard_ipol" / "1-1_lb.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent (set IMURUN_SHARED_DATA)")
    result = analyze(load_recording(path))
    assert all(i.level == "unknown" for i in result.indicators)
    summary = _text(_section(render_run_report(result), "summary"))
    assert "No form indicator was raised" not in summary
    assert (f"No form indicator could be measured in this run: this recording has walking "
            f"({result.summary.n_walking_steps} steps) but no running, and the indicators are "
            "measured on running steps.") in summary


def test_some_indicators_not_measured_is_said_beside_none_raised(library: Path) -> None:
    result = _latest(library)
    inds = tuple(dataclasses.replace(i, level="unknown") if i.key == "form_drift" else
                 dataclasses.replace(i, level="not_raised") if i.level in (
                     "raised", "strongly_raised") else i for i in result.indicators)
    summary = _text(_section(render_run_report(dataclasses.replace(result, indicators=inds)),
                             "summary"))
    n = len(inds)
    k = sum(1 for i in inds if i.level == "unknown")
    assert f"No form indicator was raised in this run; {k} of the {n} could not be measured." \
        in summary


# ---------------------------------------------------------------------------- time axes
def _figures_drawn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every matplotlib figure the report renders, in order (rendered as usual too)."""
    from imurun.report import plots

    figs: list[Any] = []
    real = plots.png_data_uri

    def png(fig: Any) -> str:
        figs.append(fig)
        return real(fig)

    monkeypatch.setattr(plots, "png_data_uri", png)
    return figs


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> RunAnalysis:
    """A 1.5-minute recording of the virtual sensor (walk, run, walk), analysed."""
    tmp = tmp_path_factory.mktemp("short")
    files = simulated_runs(tmp, minutes=(1.5,), start_unix_s=W47_MONDAY_NOON, seed=9)
    result = analyze(load_recording(files[0]))
    assert result.summary.n_steps > 30
    return result


def _over_run_axes(figs: list[Any]) -> list[Any]:
    return [f.axes[0] for f in figs if f.axes and f.axes[0].get_ylabel()
            and f.axes[0].get_xlabel().endswith("since the start")]


def test_over_the_run_plots_span_the_recording_and_nothing_past_it(
        short_run: RunAnalysis, monkeypatch: pytest.MonkeyPatch) -> None:
    """The x axis is the recording, start to end; each minute's median sits among its steps.

    At the middle of each minute, the line of a 1.5-minute recording ran to 1.5 minutes, past
    the running, and the x axis stretched to it.
    """
    figs = _figures_drawn(monkeypatch)
    render_run_report(short_run)
    result = short_run
    t0 = result.source.t_start_s
    end_s = float(result.activity.end_s.max() - t0)
    run = result.running_steps
    t_run = np.where(np.isfinite(run.ic_s), run.ic_s, run.to_s) - t0
    axes = _over_run_axes(figs)
    assert len(axes) == 7  # cadence, contact, bounce, braking, pelvic drop, tilt, rotation
    for ax in axes:
        assert ax.get_xlabel() == "seconds since the start"  # 0.00, 0.06, ... minutes: no
        assert ax.get_xlim() == pytest.approx((0.0, end_s), abs=1e-6)
        for line in ax.get_lines():
            x = np.asarray(line.get_xdata(), dtype=np.float64)
            y = np.asarray(line.get_ydata(), dtype=np.float64)
            x = x[np.isfinite(x) & np.isfinite(y)]
            if line.get_linestyle() == "-" and x.size:  # a minute's median: among the steps
                assert x.min() >= t_run.min() - 1e-9
                assert x.max() <= t_run.max() + 1e-9


def test_a_long_run_is_drawn_in_whole_minutes(library: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    figs = _figures_drawn(monkeypatch)
    result = _latest(library)  # 3.5 minutes
    render_run_report(result)
    axes = _over_run_axes(figs)
    assert axes
    for ax in axes:
        assert ax.get_xlabel() == "minutes since the start"
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks == [round(t) for t in ticks]


def test_a_single_minute_median_is_drawn_as_a_point() -> None:
    from imurun.report import plots

    t = np.linspace(0.1, 0.4, 12)
    with plots.style():
        fig = plots.over_run_figure([plots.Layer("Cadence", t, np.full(12, 165.0),
                                                 np.array([0.25]), np.array([165.0]))], [],
                                    "steps/min", span_min=(0.0, 0.5))
    marks = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o"]
    assert [list(ln.get_xdata()) for ln in marks] == [[15.0]]  # seconds


def test_the_activity_legend_fits_in_its_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    """All five kinds of time (reboot-and-gaps.imrs has them): "no data" was cut off."""
    from imurun.report import plots

    figs = _figures_drawn(monkeypatch)
    labels = ["stand", "walk", "run", "gap", "run", "other", "walk", "stand"]
    edges = np.linspace(0.0, 1.4, len(labels) + 1)
    plots.activity_timeline(edges[:-1].tolist(), edges[1:].tolist(), labels)
    fig = figs[-1]
    renderer = fig.canvas.get_renderer()
    box = fig.axes[0].get_legend().get_window_extent(renderer)
    whole = fig.bbox
    assert box.x0 >= whole.x0
    assert box.x1 <= whole.x1
    assert box.y0 >= whole.y0
    assert box.y1 <= whole.y1
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["running", "walking", "standing", "other", "no data"]
    assert fig.axes[0].get_xlabel() == "seconds since the start"


@pytest.mark.parametrize("span_min", [(0.0, 2.0), (0.0, 150.0), (0.0, 10.0)])
def test_the_last_time_tick_of_a_plot_over_the_run_is_not_cut_off(
        span_min: tuple[float, float]) -> None:
    """A 2-minute run's axis ended in "12" (its "120" s cut at the image's edge), a 2.5-hour
    run's in "15": the figure's right margin held two digits of a label centred on its end."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from imurun.report import plots

    t = np.linspace(*span_min, 50)
    with plots.style():
        fig = plots.over_run_figure([plots.Layer("x", t, np.ones(50), t, np.ones(50))], [],
                                    "steps/min", span_min=span_min)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        ax = fig.axes[0]
        lo, hi = ax.get_xlim()
        shown = [lab for lab in ax.get_xticklabels()
                 if lab.get_text() and lo <= lab.get_position()[0] <= hi]
        assert shown[-1].get_position()[0] == pytest.approx(hi)  # a tick at the axis' end
        for lab in shown:
            box = lab.get_window_extent(renderer)
            assert fig.bbox.x0 <= box.x0
            assert box.x1 <= fig.bbox.x1, (lab.get_text(), box.x1, fig.bbox.x1)


def _standing_then_moving(late_periods: float, fs_hz: float = 100.0) -> Recording:
    """20 s still, then 20 s of movement on a new boot whose first sample comes
    ``late_periods`` periods after the last one (the sensor restarted; no sample missing)."""
    rng = np.random.default_rng(1)
    n = int(20 * fs_hz)
    t = np.r_[np.arange(n), n - 1 + late_periods + np.arange(n)] / fs_hz
    acc = np.tile([0.0, 0.0, 9.81], (2 * n, 1)) + rng.normal(0, 0.02, (2 * n, 3))
    acc[n:, 2] += 3.0 * np.sin(2 * np.pi * 0.5 * t[n:])  # moving slowly, no steps: "other"
    gyr = rng.normal(0, 0.005, (2 * n, 3))
    gap = Gap(float(t[n - 1]), float(t[n]), GapCause.REBOOT)
    return Recording(t, acc, gyr, fs_hz, (Segment(0, n, 1), Segment(n, 2 * n, 2)), (gap,))


@pytest.mark.parametrize("late", [1.2, 1.45])
def test_samples_up_to_one_and_a_half_periods_apart_leave_no_sliver_in_the_timeline(
        monkeypatch: pytest.MonkeyPatch, late: float) -> None:
    """At a change of activity where the next sample came 1-1.5 periods after the last one (no
    sample missing: not a gap for the clean-up, nor for the timeline), the bout before ended a
    period after its last sample and the next began at its first: the activity timeline drew a
    hairline of nothing between them, and that time counted nowhere."""
    from matplotlib.colors import to_hex

    from imurun.report import plots

    result = analyze(_standing_then_moving(late))
    figs = _figures_drawn(monkeypatch)
    page = render_run_report(result)
    assert 'id="plot-activity"' in page
    (fig,) = [f for f in figs if f.axes and f.axes[0].get_legend() is not None and any(
        t.get_text() == "standing" for t in f.axes[0].get_legend().get_texts())]
    bars = sorted((p.get_x(), p.get_x() + p.get_width(), to_hex(p.get_facecolor()))
                  for p in fig.axes[0].patches)
    assert [c for _, _, c in bars] == [plots.ACTIVITY_COLOURS[k] for k in ("stand", "other")]
    assert bars[0][1] == pytest.approx(bars[1][0], abs=1e-12)  # drawn edge to edge
    act = result.activity
    assert act.labels() == ["stand", "other"]
    assert act.end_s[0] == act.start_s[1]  # the bouts meet
    breakdown = {x.reason: x.seconds for x in result.summary.quality.time}
    assert breakdown["standing"] + breakdown["other"] == pytest.approx(
        result.summary.quality.duration_s, abs=1e-9)  # the time counts


def test_a_hole_of_a_missing_sample_is_still_a_gap_in_the_timeline() -> None:
    """1.5 periods is where the clean-up counts a sample missing: beyond it, a gap."""
    result = analyze(_standing_then_moving(2.2))
    act = result.activity
    assert act.labels() == ["stand", "gap", "other"]
    assert (act.end_s[1] - act.start_s[1]) * 100.0 == pytest.approx(1.2)


def test_gaps_card_says_how_much_was_filled_in() -> None:
    """reboot-and-gaps.imrs: "38 gaps, 2.1 s in all" beside "No data (gaps) 0:00" read as a
    contradiction; most of them are a few samples each, bridged and analysed."""
    path = Path(__file__).resolve().parent.parent / "recordings" / "reboot-and-gaps.imrs"
    result = analyze(load_recording(path))
    q = result.summary.quality
    assert q.bridged_gaps > 1
    text = _text(_section(render_run_report(result), "data-quality"))
    assert (f"{q.gap_s:.1f} s in all; {q.bridged_gaps} short ones filled in "
            f"({q.bridged_samples / q.fs_hz:.1f} s) and analysed") in text


def test_without_running_over_the_run_says_so_once() -> None:
    """Standing still: one sentence, not seven titles each with "Not measured: no running
    steps with this value"."""
    result = analyze(_standing_still())
    assert result.summary.n_steps == 0
    section = _section(render_run_report(result), "over-the-run")
    text = _text(section)
    assert "Not measured" not in text
    assert "<h3>" not in section
    assert "Nothing to plot: this recording has no running, and these plots show running " \
        "steps." in text


def test_a_report_of_a_bare_file_says_why_it_has_no_baseline() -> None:
    """`imurun report FILE`: no "4 weeks" under any value, and the page said nothing of why."""
    path = Path(__file__).resolve().parent.parent / "recordings" / "reboot-and-gaps.imrs"
    page = render_run_report(analyze(load_recording(path)), ReportContext(file_name=path.name))
    text = _text(_section(page, "summary"))
    assert "4 weeks:" not in text
    assert ("This report was made from a file outside the library, so there is no baseline of "
            "your own earlier runs to compare with.") in text
    library_run = ReportContext(athlete="Ana", run_id="ab" * 32, baseline_note="No analysed runs")
    assert "outside the library" not in _text(_section(
        render_run_report(analyze(load_recording(path)), library_run), "summary"))


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_on_a_phone_no_table_of_the_run_report_scrolls_sideways(
        report: tuple[Path, str], watch_report: tuple[Path, str]) -> None:
    """The About table's 64-character run id made it 700 px wide on a 390 px phone."""
    assert scrolled_tables(report[0], width=390) == []
    assert scrolled_tables(watch_report[0], width=390) == []


def test_the_balance_indicator_gives_its_threshold_with_a_unit(library: Path) -> None:
    """"... (0.5 percentage points from even; threshold 2)": 2 what?"""
    ind = {i.key: i for i in _latest(library).indicators}["asymmetry"]
    assert math.isfinite(ind.value)
    assert "from even; threshold 2 percentage points)." in ind.message


def test_the_balance_indicators_percentage_points_are_pt_as_everywhere_else(
        report: tuple[Path, str]) -> None:
    """Its box read "This run: 0.5 % points · threshold: 2.0 % points" where the weekly
    summary, the left/right table and docs/conventions.md write percentage points "pt"."""
    box = _text(report[1][report[1].index('id="indicator-asymmetry"'):])
    assert re.search(r"This run: \d+\.\d pt · threshold: 2\.0 pt", box), box[:200]
    assert "% points" not in _text(report[1])


def test_why_an_indicator_was_not_measured_is_said_once() -> None:
    """"Form drift: not measured in this run (needs at least 10 minutes ...)." was followed by
    "Why not measured: needs at least 10 minutes ..." in every such box."""
    result = analyze(_standing_still())
    page = render_run_report(result)
    for ind in result.indicators:
        assert ind.level == "unknown"
        box = page[page.index(f'id="indicator-{ind.key}"'):]
        box = _text(box[:box.index("</div>")])
        assert box.count("no running in this recording") == 1, box


def _cards(page: str) -> dict[str, tuple[str, str]]:
    """Summary card label -> (value, the line under it)."""
    import html as html_mod

    out = {}
    for label, value, rest in re.findall(
            r'<div class="card"><div class="label">(.*?)</div><div class="value">(.*?)</div>'
            r'(.*?)</div>(?=<div class="card">|</div>)', _section(page, "summary")):
        base = re.sub(r"<[^>]+>", "", rest)
        out[html_mod.unescape(label)] = (html_mod.unescape(re.sub(r"<[^>]+>", "", value)),
                                         html_mod.unescape(base))
    return out


def test_pelvic_drop_has_a_summary_card_per_stance_side(library: Path) -> None:
    """"Pelvic drop L / R: 11.9° / 6.7°" broke over two lines on a phone and on a desktop."""
    from imurun.report.history import Baseline

    result = _latest(library)
    s = result.summary
    base = Baseline("ben", 0.0, 1.0, ("r1",), {"pelvic_drop_stance_left_deg": 8.0,
                                               "pelvic_drop_stance_right_deg": 6.6})
    cards = _cards(render_run_report(result, ReportContext(athlete="Ben", baseline=base)))
    assert cards["Pelvic drop, left stance"] == (f"{s.pelvic_drop_stance_left_deg:.1f}°",
                                                 "4 weeks: 8.0°")
    assert cards["Pelvic drop, right stance"] == (f"{s.pelvic_drop_stance_right_deg:.1f}°",
                                                  "4 weeks: 6.6°")
    assert not any(" / " in v for v, _ in cards.values())
    no_gyro = dataclasses.replace(result, summary=dataclasses.replace(
        s, pelvic_drop_stance_left_deg=math.nan, pelvic_drop_stance_right_deg=math.nan))
    cards = _cards(render_run_report(no_gyro))
    assert cards["Pelvic drop"] == ("–", "")
    assert "Pelvic drop, left stance" not in cards


def _clipped(result: RunAnalysis, impact_g: float, pct: float, at_least: float) -> RunAnalysis:
    """``result`` as if ``pct`` % of its running steps had clipped the sensor at landing."""
    s = result.summary
    q = dataclasses.replace(s.quality, saturated_samples=120)
    summ = dataclasses.replace(s, quality=q, impact_g=impact_g, impact_clipped_pct=pct,
                               impact_at_least_g=at_least)
    unav = result.unavailable
    if not math.isfinite(impact_g):
        unav += (Unavailable("impact_g", impact_reason(summ) or ""),)
    return dataclasses.replace(result, summary=summ, unavailable=unav)


def test_clipped_landings_are_counted_and_said_in_the_report_and_the_text(
        short_run: RunAnalysis) -> None:
    """The report said "impact withheld for those steps" and nothing of what that did to the
    median; the text output said nothing at all."""
    some = _clipped(short_run, 3.1, 20.0, math.nan)
    quality = _text(_section(render_run_report(some), "data-quality"))
    assert ("20 % of the running steps clipped at landing: their impact is withheld per step "
            "and counts in the medians as at least the limit") in quality
    assert "20 % of the steps clipped the sensor: counted as at least its limit" in \
        format_report(some)
    most = _clipped(short_run, math.nan, 70.0, 3.95)
    quality = _text(_section(render_run_report(most), "data-quality"))
    assert "too many clipped for a median impact, which is at least 3.95 g" in quality
    assert ("Impact the accelerometer clipped at landing in 70 % of the running steps: the "
            "median impact is beyond the sensor's range, at least 3.95 g") in quality
    assert ("impact                 –  (the accelerometer clipped at landing in 70 % of the "
            "running steps") in format_report(most)


def test_show_says_how_clipping_counted_in_the_impact() -> None:
    """``imurun show`` printed the impact as "-" when half or more of the steps clipped, without
    the lower bound the analysis gives, and did not say when clipped steps counted in it."""
    assert impact_text({"impact_g": 2.9, "impact_clipped_pct": 0.0}) == "2.9 g"
    assert impact_text({"impact_g": 2.9, "impact_clipped_pct": 20.0}) == (
        "2.9 g (20 % of the steps clipped the sensor: counted as at least its limit)")
    assert impact_text({"impact_g": None, "impact_clipped_pct": 70.0,
                        "impact_at_least_g": 3.95}) == (
        "at least 3.95 g (70 % of the steps clipped the sensor)")
    assert impact_text({"impact_g": None}) == "-"  # (an analysis written before the keys)


def test_form_drift_is_over_the_run_not_with_fatigue(short_run: RunAnalysis) -> None:
    """The report titled the indicator "Form drift with fatigue" (an analysis written before the
    rename still holds that title) and read the thirds' changes "as you tire"."""
    old = dataclasses.replace(short_run, indicators=tuple(
        dataclasses.replace(i, title="Form drift with fatigue", level="raised")
        if i.key == "form_drift" else i for i in short_run.indicators))
    page = render_run_report(old)
    text = _text(page)
    assert "with fatigue" not in text
    assert "Form drift over the run" in _text(_section(page, "indicators"))
    assert "Form indicators raised in this run: Form drift over the run" in text
    thirds = _text(_section(page, "thirds"))
    for cause in ("pace", "slope", "fatigue"):
        assert cause in thirds
    assert "as you tire" not in thirds


#: A percent sign stuck to a number ("50.5%"): the convention is a space (docs/conventions.md).
STUCK_PERCENT = re.compile(r"\d%")


def test_percent_signs_follow_the_convention_in_every_output(
        library: Path, short_run: RunAnalysis, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The run report printed "50.5%" (its time table, thirds, clipped share) where the text
    output printed "50.5 %"."""
    outputs = {"report": _text(render_run_report(_latest(library))),
               "short report": _text(render_run_report(short_run)),
               "text": format_report(short_run)}
    for args in (["runs"], ["show", "latest"], ["report", "latest", "--out",
                                                str(tmp_path / "r.html")]):
        assert imurun(["--home", str(library), *args]) == 0
        outputs[" ".join(args[:2])] = capsys.readouterr().out
    assert "%" in outputs["report"]
    assert "%" in outputs["text"]
    stuck = {k: STUCK_PERCENT.findall(v) for k, v in outputs.items()}
    assert stuck == {k: [] for k in outputs}


@pytest.mark.slow
@pytest.mark.xdist_group("browser")
def test_card_labels_and_values_stay_on_one_line_at_every_width(
        report: tuple[Path, str], watch_report: tuple[Path, str]) -> None:
    """At 601-720 px the summary's cards were 150 px wide, 4 to a row: "Pelvic drop, right
    stance" took two lines and "164 steps/min" broke before its unit (from 360 to 1400 px: a
    value never breaks, a label only on a phone, into two lines at most)."""
    assert wrapped_cards(report[0]) == []
    assert wrapped_cards(watch_report[0]) == []


def test_an_unknown_step_side_names_the_step(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A step whose side is neither L, R nor null was refused as "missing or bad 'X'" (a bare
    KeyError of the side's value); the message now names the step and what a side may be."""
    import json

    from imurun import write_analysis_json

    good = tmp_path / "good.json"
    clean = Path(__file__).resolve().parent.parent / "recordings" / "clean-run.imrs"
    write_analysis_json(analyze(clean), good)
    doc = json.loads(good.read_text())
    doc["steps"][3]["side"] = "X"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert imurun(["report", str(bad)]) == 3
    assert "steps[3].side must be 'L', 'R' or null, got 'X'" in capsys.readouterr().err


def _spike_box(page: str) -> str:
    start = page.index('id="indicator-longest_run_spike"')
    return page[start:page.index("</div>", page.index("</p>", start))]


@pytest.mark.parametrize(("spike", "badge", "said", "in_summary"), [
    (Spike(35.0, "moderate", "r", "running time", 40.5, 30.0), "raised",
     "By running time, this run was 35 % longer than your longest run of the 30 days before it "
     "(30-100 % longer).", True),
    (Spike(120.0, "large", "r", "distance", 22.0, 10.0), "strongly raised",
     "By distance, this run was 120 % longer", True),
    (Spike(5.0, "none", "r", "running time", 31.5, 30.0), "not raised",
     "5 % longer than your longest run of the 30 days before it (at most 10 % longer).", False),
    (Spike(-25.0, "none", "r", "running time", 22.5, 30.0), "not raised",
     "no longer than your longest run of the 30 days before it.", False),
    (Spike(math.nan, "not_enough_history", "r", history_runs=1), "not measured",
     "Why not measured: not enough history yet: 1 run recorded before this one; a run is "
     "compared once at least 2 are, the first at least 14 days before it.", False),
    (Spike(math.nan, "no_history"), "not measured",
     "Why not measured: no run of yours in the 30 days before this one to compare with.", False),
])
def test_the_run_report_shows_the_runs_longest_run_spike(
        short_run: RunAnalysis, spike: Spike, badge: str, said: str, in_summary: bool) -> None:
    """Runners see load spikes too, not only their coach: the run's length against their own
    longest run of the 30 days before (Frandsen et al. 2025), as an indicator beside the form
    indicators, raised from more than 10 % longer; the summary names it only when raised."""
    page = render_run_report(short_run, ReportContext(athlete="Ana", run_id="r", spike=spike))
    box = _spike_box(page)
    assert '<span class="badge' in box
    assert f">{badge}</span>" in box
    assert said.replace("'", "&#x27;") in page.replace("\u00a0", " ")
    assert "Frandsen" in page
    assert "overuse" in box.lower() + page.lower()
    summary = page[page.index('id="summary"'):page.index('id="indicators"')]
    assert ("longer than your longest run of the 30 days before it" in summary) is in_summary
    if spike.category in ("moderate", "large"):
        assert "coach" in box
        assert "overuse" in box
        # a number keeps its unit on its line
        assert f"change: {spike.pct:+.0f}\u00a0%" in box
        assert "threshold: +10\u00a0%" in box
    assert "diagnos" not in box.lower()
    assert "predict" not in box.lower()


def test_a_short_runs_spike_reads_in_seconds_not_zero_minutes(short_run: RunAnalysis) -> None:
    """By running time, a 45-s run against a 30-s one read "This run: 1 min of running · your
    longest of the 30 days before: 0 min of running" (whole minutes)."""
    spike = Spike(50.0, "moderate", "r", "running time", 0.75, 0.5)  # minutes
    box = _spike_box(render_run_report(short_run, ReportContext(athlete="Ana", run_id="r",
                                                                spike=spike)))
    box = box.replace("\u00a0", " ")
    assert "This run: 45 s of running" in box
    assert "your longest of the 30 days before: 30 s of running" in box
    assert "0 min" not in box


def test_the_text_summary_of_a_short_recording_reads_in_seconds(short_run: RunAnalysis) -> None:
    """``imurun analyze`` printed "running 0.1 min (12 steps), ... standing 0.0 min" for a 6-s
    file: a nonzero time shown as zero, and tenths of a minute for seconds."""
    t = {x.reason: x.seconds for x in short_run.summary.quality.time}
    lines = format_report(short_run).splitlines()
    assert lines[0].split(", ")[-3] == "1.5 min"  # 90 s recorded
    running = next(x for x in lines if x.startswith("  running "))
    assert running.startswith(f"  running {t['running'] / 60:.1f} min ("), running
    assert f"walking {round(t['walking'])} s (" in running
    assert not re.search(r"\b0\.0 min\b", running)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0 min"), (0.2, "<1 s"), (0.5, "<1 s"), (0.51, "1 s"), (30.0, "30 s"), (59.4, "59 s"),
    (59.6, "1.0 min"), (90.0, "1.5 min"), (596.9, "9.9 min"), (597.1, "10 min"),
    (1500.0, "25 min"), (math.nan, "–"), (None, "–"), (math.inf, "–")])
def test_an_amount_of_time_reads_in_seconds_tenths_or_whole_minutes(
        seconds: float | None, text: str) -> None:
    assert time_text(seconds) == text


def test_a_zero_amount_of_time_takes_the_unit_of_what_it_is_part_of() -> None:
    """"0 min of 2 s recorded" read as if the part were the larger."""
    assert time_text(0.0, like=2.0) == "0 s"
    assert time_text(0.0, like=1500.0) == "0 min"
    assert time_text(0.0, like=math.nan) == "0 min"
    assert time_text(30.0, like=1500.0) == "30 s"  # only a zero takes it


def test_an_amount_of_time_is_never_shown_as_more_than_a_larger_one() -> None:
    """"25 s of 35 s recorded": shown amounts keep the order of the amounts, across every step
    (seconds, tenths of a minute, minutes), and no nonzero amount is shown as zero."""
    s = np.sort(np.concatenate([np.linspace(0.0, 4000.0, 40001), [59.5, 596.99, 597.0, 597.1]]))

    def shown(x: float) -> float:
        number, unit = time_parts(x)
        return float(number.lstrip("<")) * (60.0 if unit == "min" else 1.0)

    values = np.array([shown(float(x)) for x in s])
    assert np.all(np.diff(values) >= 0), s[np.flatnonzero(np.diff(values) < 0)]
    assert np.all(values[s > 0] > 0)


def test_a_report_without_a_library_has_no_spike_box(short_run: RunAnalysis) -> None:
    assert "longest_run_spike" not in render_run_report(short_run, ReportContext(file_name="x"))


def test_a_library_runs_report_says_its_spike(report: tuple[Path, str]) -> None:
    """The fixture's athlete recorded two runs in the 4 days before the reported one: too new
    a history to judge (the weekly summary's rule), and the box says so, and which condition
    failed: "2 runs recorded before this one; a run is compared once at least 2 are" alone read
    as a contradiction (it is the first run's 4 days, not the number of runs)."""
    _, page = report
    assert ("not enough history yet: 2 runs recorded before this one, the first 4 days before "
            "it; a run is compared once at least 2 are, the first at least 14 days before it"
            ) in _spike_box(page)


def test_an_undated_runs_report_has_no_spike_box(tmp_path: Path) -> None:
    """A recording from another logger imported without a start has no date: the report says
    so once ("no baseline"), not that no run of the 30 days before it was found."""
    t = np.arange(12 * 128) / 128.0
    rows = ["Accel_LN_X,Accel_LN_Y,Accel_LN_Z,System_Timestamp_Plot_Zeroed"]
    rows += [f"{0.3 * np.sin(x):.5f},0.2,{9.81 + 5 * np.sin(2 * np.pi * 2.8 * x):.5f},"
             f"{x * 1e3:.3f}" for x in t]
    csv = tmp_path / "logger.csv"
    csv.write_text("\n".join(rows) + "\n")
    home = str(tmp_path / "home")
    assert imurun(["--home", home, "athlete", "add", "Ana"]) == 0
    assert imurun(["--home", home, "import", str(csv), "--athlete", "Ana"]) == 0
    with Library.open(home) as lib:
        [run] = lib.runs()
        assert run.start_unix_s is None
        assert run.athlete_id is not None
        page = write_run_report(lib, run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "This run has no date, so there is no baseline." in page
    assert "longest_run_spike" not in page



def test_the_report_says_a_slow_recording_was_interpolated() -> None:
    slow = analyze(_standing_still(fs_hz=50.0))
    assert slow.summary.quality.analysed_fs_hz == pytest.approx(200.0)
    text = _text(render_run_report(slow))
    assert "50 Hz, interpolated to 200 Hz for the analysis, accelerometer and gyroscope" in text
    usual = _text(render_run_report(analyze(_standing_still())))
    assert "interpolated" not in usual


def test_a_walks_spike_box_says_it_has_no_running() -> None:
    from imurun.report.run_report import _spike_indicator

    box = _text(_spike_indicator(Spike(math.nan, "no_running")))
    assert "no running in this recording" in box
    assert "change:" not in box  # no "-100 %" against a run of 0 min
    assert "no run of yours" not in box


def test_a_plots_median_is_written_as_its_summary_card_writes_it(
        report: tuple[Path, str]) -> None:
    """The contact-time card read "254 ms" and the plot under it "Median 253.6 ms" (cadence:
    169 and 169.2 steps/min): one number, two roundings on one page."""
    page = report[1]
    cards = _cards(page)
    captions = dict(re.findall(r'<figure id="(plot-[a-z-]+)" class="plot">.*?<figcaption>'
                               r'(.*?)</figcaption>', page))
    for fid, label in (("plot-cadence", "Cadence"), ("plot-contact", "Contact time"),
                       ("plot-bounce", "Bounce"), ("plot-braking", "Braking")):
        value = cards[label][0]  # "169 steps/min"
        assert f"Median {value}." in captions[fid], (fid, value, captions[fid])


def test_a_long_runs_step_count_is_grouped_as_the_weekly_summary_groups_it(
        library: Path) -> None:
    """A 2.5-hour run's card read "23284" (and "1285 walking") where the weekly summary of its
    week read "23,512": one page of the two grouped its thousands."""
    result = _latest(library)
    long_run = dataclasses.replace(result, summary=dataclasses.replace(
        result.summary, n_steps=23284, n_walking_steps=1285))
    cards = _cards(render_run_report(long_run))
    assert cards["Running steps"] == ("23,284", "1,285 walking")


def test_gap_causes_are_words_not_the_jsons_keys(library: Path) -> None:
    """A stream with lost frames and a reboot read "35 × lost_frames (1.9 s), 1 × reboot" under
    "Link, sensor and mounting": the analysis' keys for programs, underscore and all."""
    from imurun.ingest.recording import GAP_CAUSE_WORDS, GapCause

    assert set(GAP_CAUSE_WORDS) == {c.value for c in GapCause}  # a new cause gets its words too
    result = _latest(library)
    q = dataclasses.replace(result.summary.quality, n_gaps=37, gaps_by_cause=(
        ("disconnect", 1, 4.3), ("lost_frames", 35, 1.9), ("reboot", 1, 0.0)))
    page = _text(render_run_report(dataclasses.replace(
        result, summary=dataclasses.replace(result.summary, quality=q))))
    assert ("37: 1 × link lost (4.3 s), 35 × frames lost on the link (1.9 s), "
            "1 × sensor restart (0.0 s)") in page
    assert "lost_frames" not in page


def test_the_pace_card_is_the_pace_show_and_the_weekly_summary_give(library: Path) -> None:
    """A run with a watch read "Running pace (watch) 5:41" in its report and "pace 5:40 /km" in
    `imurun show` and the weekly summary: the card took the median of the watch's seconds
    faster than 1.8 m/s (walks, stops and all), the others the median over the running steps."""
    from imurun.signal.pace import SpeedTrack

    result = _latest(library)
    ic = result.running_steps.ic_s
    track = SpeedTrack(np.arange(math.floor(ic.min()) - 5.0, math.ceil(ic.max()) + 5.0, 1.0),
                       np.full(int(math.ceil(ic.max()) - math.floor(ic.min())) + 10, 3.2))
    ctx = ReportContext(athlete="Ana", run_id="ab" * 32, watch_attached=True, watch_speed=track,
                        running_speed_mps=2.5)  # the watch's seconds: slower, some of them
    cards = _cards(render_run_report(result, ctx))
    assert cards["Running pace (watch)"][0] == "5:13 min/km"  # 1000 / 3.2 = 312.5 s: 5:13


LONG_NAME = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaft"
LONG_FILE = "SensorLoggerExport_2026-11-19_07-00-00_Morning_Run_Riverside.zip"


def test_a_long_name_or_file_name_never_makes_the_page_wider_than_a_phone(
        library: Path, tmp_path: Path) -> None:
    """A long athlete name or file name (a phone app's export) in the title made the run report
    506 px wide on a 390 px phone: one word that did not break."""
    page = tmp_path / "long.html"
    page.write_text(render_run_report(_latest(library), ReportContext(
        athlete=LONG_NAME, run_id="ab" * 32, file_name=LONG_FILE)), encoding="utf-8")
    check = check_page(page, ["summary"], tmp_path / "long.png", width=390)
    assert check.overflow_px == 0
    assert scrolled_tables(page, width=390) == []
