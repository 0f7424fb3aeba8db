"""phyphox exports (zip, folder, one set's CSV): samples, start, pauses, and every refusal.

The exports are written by :mod:`tests.phyphox_support` as the app writes them, from the
samples of ``recordings/clean-run.imrs``. Before this reader, a phyphox zip was "a zip file,
but not a Sensor Logger export", and a set's CSV was read alone: no gyroscope from the other
set, no start, and a pause (which phyphox's experiment time does not count) squeezed out, the
samples on either side of it joined as if they were consecutive.
"""

from __future__ import annotations

import zipfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from imurun.cli import EXIT_FILE, EXIT_OK, main
from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording, sniff
from imurun.ingest.recording import GapCause, Recording
from tests.phyphox_support import FLAVOURS, T0_UNIX_S, Export

REPO = Path(__file__).resolve().parents[1]
CLEAN = REPO / "recordings" / "clean-run.imrs"


@cache
def _clean() -> Recording:
    return load_recording(CLEAN)


def _export(**kw: object) -> Export:
    rec = _clean()
    assert rec.gyr_rads is not None
    t = rec.t_s - rec.t_s[0]
    return Export(t_acc=t, acc=rec.acc_ms2.copy(), t_gyr=t, gyr=rec.gyr_rads.copy(), **kw)  # type: ignore[arg-type]


def _nearest(ts: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the sample of ``ts`` nearest each of ``t``."""
    j = np.clip(np.searchsorted(ts, t), 1, len(ts) - 1)
    return np.where(np.abs(ts[j - 1] - t) <= np.abs(ts[j] - t), j - 1, j)


def _same(rec: Recording, exp: Export) -> None:
    np.testing.assert_allclose(rec.t_s, exp.t_acc, atol=1e-8)
    np.testing.assert_allclose(rec.acc_ms2, exp.acc, rtol=1e-8, atol=1e-8)
    assert rec.gyr_rads is not None
    assert exp.gyr is not None
    np.testing.assert_allclose(rec.gyr_rads, exp.gyr, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(("sep", "decimal"), FLAVOURS)
def test_every_csv_flavour_of_the_zip_is_read(tmp_path: Path, sep: str, decimal: str) -> None:
    exp = _export(sep=sep, decimal=decimal)
    z = exp.write_zip(tmp_path / "Run 2024-11-19 09-00-00.zip")
    # before: "a zip file, but not a Sensor Logger export"
    assert sniff(z) == "phyphox"
    rec = load_recording(z)
    assert rec.meta.source_format == "phyphox"
    _same(rec, exp)
    assert rec.meta.start_unix_s == T0_UNIX_S
    assert rec.gaps == ()
    assert any("Gyroscope.csv interpolated onto Accelerometer.csv's times" in n
               for n in rec.meta.notes)


def test_the_folder_and_one_of_its_csv_files_read_the_same(tmp_path: Path) -> None:
    exp = _export(sep=";", decimal=",")
    d = exp.write_folder(tmp_path / "export")
    whole = load_recording(d)
    _same(whole, exp)
    for one in ("Accelerometer.csv", "Gyroscope.csv"):
        # before: Accelerometer.csv alone, without the gyroscope, the start or the pauses
        rec = load_recording(d / one)
        np.testing.assert_array_equal(rec.acc_ms2, whole.acc_ms2)
        assert rec.gyr_rads is not None
        assert rec.meta.start_unix_s == T0_UNIX_S


def test_a_pause_is_a_gap_never_interpolated_across(tmp_path: Path) -> None:
    rec_t = _export().t_acc
    first_after = float(rec_t[rec_t >= 27.5][0])
    resume = first_after - 0.001  # the gyroscope's first sample after it comes 2.5 ms later
    exp = _export(pauses=[(20.0, resume - 20.0)])
    acc = exp.acc
    assert exp.gyr is not None
    exp.t_gyr = rec_t + 0.0025  # sampled apart from the accelerometer
    exp.gyr = np.column_stack([np.interp(exp.t_gyr, rec_t, exp.gyr[:, k]) for k in range(3)])
    rec = load_recording(exp.write_zip(tmp_path / "paused.zip"))
    # before (one CSV read alone): 7.5 s of the run gone without a gap, the samples on either
    # side of the pause 5 ms apart
    (gap,) = rec.gaps
    assert gap.cause == GapCause.PAUSED
    assert gap.start_s < 20.0
    assert gap.end_s >= resume
    assert gap.end_s - gap.start_s == pytest.approx(7.5, abs=0.02)
    kept = (rec_t < 20.0) | (rec_t >= resume)
    at = _nearest(rec_t, rec.t_s)
    assert kept[at].all()
    # each at its wall-clock time: after the pause to the ms of meta/time.csv's system times
    np.testing.assert_allclose(rec.t_s, rec_t[at], atol=5e-4)
    np.testing.assert_allclose(rec.acc_ms2, acc[at], atol=1e-8)
    # the gyroscope: interpolated between its own samples, never across the pause: the first
    # accelerometer sample after it, with no gyroscope sample before it since, is left out
    before, after = rec.t_s < 20.0, rec.t_s >= resume
    assert before.any()
    assert after.any()
    assert (before | after).all()
    assert rec.t_s[after][0] > first_after + 0.004
    g = _clean().gyr_rads
    assert g is not None
    truth = np.column_stack([np.interp(rec.t_s, rec_t, g[:, k]) for k in range(3)])
    np.testing.assert_allclose(rec.gyr_rads, truth, atol=0.1)  # (a noisy signal, shifted)
    assert rec.meta.start_unix_s == T0_UNIX_S
    assert any("the measurement was paused once (7.5 s;" in n for n in rec.meta.notes)


def test_acceleration_with_g_raw_data_without_gyroscope(tmp_path: Path) -> None:
    exp = _export(raw_data=True)
    exp.gyr = exp.t_gyr = None
    rec = load_recording(exp.write_zip(tmp_path / "Acceleration with g.zip"))
    np.testing.assert_allclose(rec.acc_ms2, exp.acc, rtol=1e-8, atol=1e-8)
    assert rec.gyr_rads is None
    assert rec.meta.start_unix_s == T0_UNIX_S
    assert any("Raw Data.csv (no gyroscope)" in n for n in rec.meta.notes)


def test_linear_acceleration_is_refused_naming_what_to_record(tmp_path: Path) -> None:
    exp = _export(linear=True)
    k = int(_clean().fs_hz)
    exp.acc = exp.acc - np.column_stack([np.convolve(exp.acc[:, j], np.ones(k) / k, mode="same")
                                         for j in range(3)])
    z = exp.write_zip(tmp_path / "linear.zip")
    with pytest.raises(FileFormatError, match=r"holds no gravity .*phyphox: 'Acceleration with "
                                              r"g', not 'Linear Acceleration'"):
        load_recording(z)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_zip_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             cut: float) -> None:
    whole = _export().write_zip(tmp_path / "whole.zip").read_bytes()
    z = tmp_path / "cut.zip"
    z.write_bytes(whole[: int(len(whole) * cut)])
    # before: "a zip file, but not a Sensor Logger export (no TotalAcceleration.csv ...)"
    with pytest.raises(FileFormatError, match="damaged or incomplete zip"):
        load_recording(z)
    assert main(["info", str(z)]) == EXIT_FILE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_a_damaged_member_names_the_zip(tmp_path: Path) -> None:
    z = _export().write_zip(tmp_path / "x.zip")
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("Gyroscope.csv")
    at = info.header_offset + 30 + len(info.filename) + 200  # inside its compressed bytes
    data[at] ^= 0xFF
    z.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=r"x\.zip: cannot read Gyroscope\.csv from the "
                                              r"zip .*get the export again"):
        load_recording(z)


def test_nan_padding_at_the_end_is_dropped_other_nans_are_refused(tmp_path: Path) -> None:
    d = _export().write_folder(tmp_path / "e")
    f = d / "Accelerometer.csv"
    lines = f.read_text(encoding="utf-8").splitlines()
    f.write_text("\n".join([*lines, lines[-1].rsplit(",", 1)[0] + ",NaN"]) + "\n",
                 encoding="utf-8")
    rec = load_recording(d)
    assert rec.n_samples == len(lines) - 1
    assert any("1 row(s) at its end" in n for n in rec.meta.notes)
    cells = lines[500].split(",")
    lines[500] = ",".join([cells[0], "NaN", *cells[2:]])
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"Accelerometer\.csv: 1 row\(s\) hold NaN .*the "
                                              r"first on line 501"):
        load_recording(d)


def test_a_value_that_is_no_number_is_named_at_its_line(tmp_path: Path) -> None:
    d = _export(sep="\t", decimal=",").write_folder(tmp_path / "e")
    f = d / "Gyroscope.csv"
    lines = f.read_text(encoding="utf-8").splitlines()
    cells = lines[41].split("\t")
    lines[41] = "\t".join([cells[0], "abc", *cells[2:]])
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"Gyroscope\.csv: values are not all numbers: "
                                              r"line 42, column 2 \(Gyroscope x \(rad/s\)\) holds "
                                              r"'abc'"):
        load_recording(d)


def test_a_folder_without_its_time_file_is_refused(tmp_path: Path) -> None:
    d = _export(pauses=[(20.0, 5.0)]).write_folder(tmp_path / "e")
    (d / "meta" / "time.csv").unlink()
    with pytest.raises(FileFormatError, match=r"meta/time\.csv, which says when the experiment "
                                              r"started and when it was paused, is missing"):
        load_recording(d)


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], r"line 2: the first event is PAUSE"),
    (lambda ls: [*ls[:3], ls[3].replace("1732003225", "1732003210")],
     r"line 4: the START is before the PAUSE of line 3"),
    (lambda ls: [ls[0], ls[1], ls[1]], r"line 3: two START events in a row"),
    (lambda ls: [ls[0], ls[1].replace("1732003200", "17320")], r"line 2: system time .* not a "
                                                               r"Unix time"),
])
def test_a_bad_time_file_is_named_at_its_line(tmp_path: Path, edit: object, reason: str) -> None:
    d = _export(pauses=[(20.0, 5.0)]).write_folder(tmp_path / "e")
    f = d / "meta" / "time.csv"
    lines = f.read_text(encoding="utf-8").splitlines()
    f.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(FileFormatError, match=r"meta/time\.csv: " + reason):
        load_recording(d)


def test_a_csv_alone_is_still_a_generic_csv(tmp_path: Path) -> None:
    d = _export().write_folder(tmp_path / "e")
    alone = tmp_path / "Accelerometer.csv"
    alone.write_bytes((d / "Accelerometer.csv").read_bytes())
    assert sniff(alone) == "csv"
    rec = load_recording(alone)
    assert rec.gyr_rads is None
    assert rec.meta.start_unix_s is None


def test_import_keeps_one_zip_and_finds_it_held_in_every_form(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = _export(pauses=[(20.0, 5.0)])
    z = exp.write_zip(tmp_path / "Run.zip")
    d = exp.write_folder(tmp_path / "Run")
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "athlete", "add", "Ana"]) == EXIT_OK
    # before: "a zip file without manifest.json" (taken for a bundle)
    assert main([*home, "import", str(z), "--athlete", "Ana"]) == EXIT_OK
    assert "1 new run(s)" in capsys.readouterr().out
    for again in (d, d / "Gyroscope.csv"):
        assert main([*home, "import", str(again)]) == EXIT_OK
        assert "0 new run(s), 1 already held" in capsys.readouterr().out
    assert main([*home, "import", str(z), "--acc-unit", "g"]) == EXIT_FILE
    assert "do not apply to a phyphox export" in capsys.readouterr().err
    from imurun.store.library import Library

    with Library.open(tmp_path / "home") as lib:
        (run,) = lib.runs(athlete="Ana")
        assert run.start_unix_s == T0_UNIX_S
        assert run.path.suffix == ".zip"
        with zipfile.ZipFile(run.path) as zf:
            assert sorted(zf.namelist()) == ["Accelerometer.csv", "Gyroscope.csv",
                                             "meta/device.csv", "meta/time.csv"]
        held = load_recording(run.path)
    assert len(held.gaps) == 1


def test_the_export_analyses_as_the_run_it_holds(tmp_path: Path) -> None:
    from imurun.analysis import analyze

    exp = _export(sep="\t", decimal=",")
    assert exp.gyr is not None
    exp.t_gyr = exp.t_acc + 0.0025
    exp.gyr = np.column_stack([np.interp(exp.t_gyr, exp.t_acc, exp.gyr[:, k]) for k in range(3)])
    theirs = analyze(exp.write_zip(tmp_path / "run.zip"))
    ours = analyze(_clean())
    assert theirs.summary.n_steps == ours.summary.n_steps > 50
    assert theirs.summary.cadence_spm == pytest.approx(ours.summary.cadence_spm, rel=0.01)


def test_a_pause_is_no_lost_data(tmp_path: Path) -> None:
    """A pause was a gap of the source: samples missing, and in the analysis "no samples (lost
    data)", which the weekly summary counts as time lost (a reason to look above 5 %). The
    runner pressed pause; nothing was lost."""
    from imurun import analyze
    from imurun.cli import main as cli_main
    from imurun.report.run_report import render_run_report

    exp = _export(pauses=[(20.0, 7.5)])
    path = exp.write_zip(tmp_path / "paused.zip")
    rec = load_recording(path)
    (gap,) = rec.gaps
    assert gap.cause == GapCause.PAUSED  # before: SOURCE
    assert gap.n_missing == 0
    assert rec.stats.samples_missing == 0  # before: 1501
    q = analyze(path).summary.quality
    t = {x.reason: x.seconds for x in q.time}
    assert t["paused"] == pytest.approx(7.5, abs=0.02)  # before: no such line
    assert t["gap"] == pytest.approx(0.0, abs=0.01)  # before: 7.5 s of "lost data"
    assert dict((c, n) for c, n, _ in q.gaps_by_cause) == {"paused": 1}
    html = render_run_report(analyze(path))
    assert ">Paused<" in html
    # a gap that is not a pause (samples dropped from the same export) stays lost data
    keep = (exp.t_acc < 40.0) | (exp.t_acc >= 42.0)
    holed = Export(t_acc=exp.t_acc[keep], acc=exp.acc[keep], t_gyr=exp.t_acc[keep],
                   gyr=None if exp.gyr is None else exp.gyr[keep], pauses=exp.pauses)
    rec2 = load_recording(holed.write_zip(tmp_path / "holed.zip"))
    assert sorted(str(g.cause) for g in rec2.gaps) == ["paused", "source"]
    assert rec2.stats.samples_missing > 0
    home = tmp_path / "home"
    assert cli_main(["--home", str(home), "athlete", "add", "Ana"]) == EXIT_OK
    assert cli_main(["--home", str(home), "import", str(path), "--athlete", "Ana"]) == EXIT_OK
    import datetime as dt

    from imurun.report.weekly import IsoWeek, weekly_summary
    from imurun.store.library import Library

    with Library.open(home) as lib:
        week = IsoWeek.of(dt.datetime.fromtimestamp(T0_UNIX_S).date())
        (ana,) = weekly_summary(lib, week).athletes
        assert ana.quality.lost_s == pytest.approx(0.0, abs=0.01)  # before: 7.5 s


def _report_drawing(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[
        list[str], list[str], set[str], str, dict[str, tuple[str, str]]]:
    """Analyse and report ``path``: (timeline bouts, its legend, kinds of band behind the plots
    over the run, the text above those plots, the data-quality cards: label -> value, note)."""
    import re
    from typing import Any

    from imurun import analyze
    from imurun.report import plots
    from imurun.report.run_report import render_run_report

    legends: list[list[str]] = []
    kinds: set[str] = set()
    real_activity, real_over_run = plots.activity_figure, plots.over_run_figure

    def activity(*args: Any, **kw: Any) -> Any:
        fig = real_activity(*args, **kw)
        legends.append([t.get_text() for t in fig.axes[0].get_legend().get_texts()])
        return fig

    def over_run(layers: Any, bands: Any, *args: Any, **kw: Any) -> Any:
        kinds.update(b.kind for b in bands)
        return real_over_run(layers, bands, *args, **kw)

    monkeypatch.setattr(plots, "activity_figure", activity)
    monkeypatch.setattr(plots, "over_run_figure", over_run)
    result = analyze(path)
    html = render_run_report(result)
    (legend,) = legends
    section = html.split('id="over-the-run"', 1)[1]
    intro = re.sub(r"<[^>]+>", "", section.split("</p>", 1)[0].split("<p>", 1)[1])
    quality = html.split('id="data-quality"', 1)[1]
    cards = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r'<div class="label">([^<]*)</div><div class="value">([^<]*)</div>'
        r'<div class="base">([^<]*)</div>', quality)}
    return result.activity.labels(), legend, kinds, intro, cards


def test_a_pause_shows_as_paused_in_the_report_not_as_no_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner paused at a traffic light: the report's activity timeline and the bands behind
    its plots drew the pause as lost data (red, "no data"; pink, "pink: no data")."""
    exp = _export(pauses=[(20.0, 7.5)])
    labels, legend, kinds, intro, cards = _report_drawing(exp.write_zip(tmp_path / "paused.zip"),
                                                   monkeypatch)
    assert "paused" in labels  # before: "gap"
    assert "gap" not in labels
    assert "paused" in legend  # before: "no data"
    assert "no data" not in legend
    assert "paused" in kinds  # before: "gap"
    assert "gap" not in kinds
    assert "light blue: paused" in intro
    assert "pink: no data" not in intro  # nothing was lost
    assert cards["Gaps"] == ("0", "none lost; paused once (7.5 s)")  # before: 1, 7.5 s in all
    # samples lost from an export without a pause are still no data, and nothing says paused
    keep = (exp.t_acc < 40.0) | (exp.t_acc >= 42.0)
    holed = Export(t_acc=exp.t_acc[keep], acc=exp.acc[keep], t_gyr=exp.t_acc[keep],
                   gyr=None if exp.gyr is None else exp.gyr[keep])
    labels, legend, kinds, intro, cards = _report_drawing(holed.write_zip(tmp_path / "holed.zip"),
                                                   monkeypatch)
    assert "gap" in labels
    assert "paused" not in labels
    assert "no data" in legend
    assert "paused" not in legend
    assert "gap" in kinds
    assert "paused" not in intro
    assert "pink: no data" in intro
    assert cards["Gaps"][0] == "1"
    assert "paused" not in cards["Gaps"][1]


def test_telling_an_export_apart_reads_only_the_first_lines(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Telling a zip or folder apart (phyphox, Sensor Logger, which both name a file
    Accelerometer.csv) read each CSV in full to look at its header, and loading read them again:
    four full reads of each set of an hour-long export of hundreds of megabytes. Now the
    headers are read alone, and loading reads each file once."""
    from imurun.ingest import phone

    full: list[str] = []
    original = phone.TextReader.__call__

    def counting(self: phone.TextReader) -> str:
        full.append(f"{self._where}:{self._name}")
        return original(self)

    monkeypatch.setattr(phone.TextReader, "__call__", counting)
    for path in (_export().write_zip(tmp_path / "e.zip"), _export().write_folder(tmp_path / "d")):
        full.clear()
        assert sniff(str(path)) == "phyphox"
        assert full == []  # the headers only
        load_recording(path)
        assert full, "loading reads the files"
        assert len(full) == len(set(full)), full  # each file once
