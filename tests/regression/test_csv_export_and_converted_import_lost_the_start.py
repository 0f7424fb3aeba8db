"""Regression: ``export --csv`` and ``import`` with unit or column options lost the start time.

``write_csv`` wrote ``time_s`` from the recording's start and nothing else: a stored run, a
session or a Unix-clock CSV came back from ``imurun export FILE --csv`` with no date, and a file
imported with ``--acc-unit``/``--gyr-unit``/``--columns`` (which the library keeps converted by
``write_csv``) became a run with "no date", outside the athlete's history, which then also took a
``--start`` it should have refused. A start given with ``--start`` could not be exported at all
(``imurun export RUN --csv`` was "no such file").

Now the CSV says its start in a comment line before the header (``# start_unix_s: ...``), which
the reader takes as the recording's start, and ``imurun export RUN --csv`` writes a library run
with the library's start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imurun.cli import EXIT_FILE, EXIT_OK, EXIT_USAGE, main
from imurun.consts import G_MS2
from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording
from imurun.ingest.recording import Recording
from imurun.store.library import Library, parse_local_time
from tests.library_support import T0_MS, write_run

REPO = Path(__file__).resolve().parents[2]
CLEAN = REPO / "recordings" / "clean-run.imrs"
T0_S = 1_732_003_200.125  # 2024-11-19T08:00:00.125Z


def _same_samples(a: Recording, b: Recording) -> None:
    assert b.n_samples == a.n_samples
    np.testing.assert_allclose(b.t_s, a.t_s, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(b.acc_ms2, a.acc_ms2, rtol=1e-8, atol=1e-9)
    assert (a.gyr_rads is None) == (b.gyr_rads is None)
    if a.gyr_rads is not None and b.gyr_rads is not None:
        np.testing.assert_allclose(b.gyr_rads, a.gyr_rads, rtol=1e-8, atol=1e-9)


def _unix_ms_csv_in_g(path: Path) -> Path:
    """The clean run as a logger writes it: ms since the epoch, acceleration in g, deg/s."""
    rec = load_recording(CLEAN)
    assert rec.gyr_rads is not None
    t_ms = np.round((T0_S + rec.t_s - rec.t_s[0]) * 1e3, 3)
    rows = np.column_stack([t_ms, rec.acc_ms2 / G_MS2, np.rad2deg(rec.gyr_rads)])
    np.savetxt(path, rows, delimiter=",", fmt=["%.3f"] + ["%.9g"] * 6, comments="",
               header="timestamp_ms,ax,ay,az,gx,gy,gz")
    return path


@pytest.mark.parametrize("kind", ["stored-run", "session"])
def test_export_csv_keeps_the_start(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    kind: str) -> None:
    src = write_run(tmp_path / "in") if kind == "stored-run" else CLEAN
    original = load_recording(src)
    assert original.meta.start_unix_s is not None
    out = tmp_path / "out.csv"
    assert main(["export", str(src), "--csv", str(out)]) == EXIT_OK
    back = load_recording(out)
    # before: None
    assert back.meta.start_unix_s == original.meta.start_unix_s
    _same_samples(original, back)
    if kind == "stored-run":
        assert back.meta.start_unix_s == pytest.approx(T0_MS / 1e3)
    capsys.readouterr()


def test_import_with_unit_options_keeps_a_unix_clock_start(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    src = _unix_ms_csv_in_g(tmp_path / "logger.csv")
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "athlete", "add", "Ana"]) == EXIT_OK
    assert main([*home, "import", str(src), "--acc-unit", "g", "--gyr-unit", "deg/s",
                 "--athlete", "Ana"]) == EXIT_OK
    with Library.open(tmp_path / "home") as lib:
        (run,) = lib.runs(athlete="Ana")
        # before: None (the converted copy had lost it): the run had "no date"
        assert run.start_unix_s == pytest.approx(T0_S, abs=1e-6)
        assert not run.start_given
        _same_samples(load_recording(src, acc_unit="g", gyr_unit="deg/s"),
                      load_recording(run.path))
    capsys.readouterr()
    # its own start is kept: --start is refused as for any dated recording (before: taken)
    assert main([*home, "import", str(src), "--acc-unit", "g", "--gyr-unit", "deg/s",
                 "--start", "2024-11-20 09:00"]) == EXIT_USAGE
    assert "has its own start time" in capsys.readouterr().err


def test_a_start_given_with_start_survives_export_and_import(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = load_recording(CLEAN)
    assert rec.gyr_rads is not None
    src = tmp_path / "no-date.csv"  # relative times, acceleration in g: read with --acc-unit g
    np.savetxt(src, np.column_stack([rec.t_s - rec.t_s[0], rec.acc_ms2 / G_MS2, rec.gyr_rads]),
               delimiter=",", fmt="%.9g", comments="",
               header="time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z")
    homes = [tmp_path / "home", tmp_path / "elsewhere"]
    for home in homes:
        assert main(["--home", str(home), "athlete", "add", "Ana"]) == EXIT_OK
    assert main(["--home", str(homes[0]), "import", str(src), "--acc-unit", "g", "--athlete",
                 "Ana", "--start", "2024-11-19 08:00"]) == EXIT_OK
    start = parse_local_time("2024-11-19 08:00")
    with Library.open(homes[0]) as lib:
        (run,) = lib.runs(athlete="Ana")
        assert run.start_unix_s == start
        held = load_recording(run.path)
    out = tmp_path / "shared.csv"
    capsys.readouterr()
    # before: exit 3, "no such file" (a run could not be exported with its start)
    assert main(["--home", str(homes[0]), "export", run.id[:8], "--csv", str(out)]) == EXIT_OK
    assert f"of run {run.short_id}" in capsys.readouterr().out
    assert load_recording(out).meta.start_unix_s == start
    assert main(["--home", str(homes[1]), "import", str(out), "--athlete", "Ana"]) == EXIT_OK
    with Library.open(homes[1]) as lib:
        (there,) = lib.runs(athlete="Ana", since_unix_s=start - 1, until_unix_s=start + 1)
        assert there.start_unix_s == start
        assert not there.start_given  # the file says it now
        _same_samples(held, load_recording(there.path))
    capsys.readouterr()
    assert main(["--home", str(homes[0]), "export", run.id[:8], "--csv", str(tmp_path / "x.csv"),
                 "--acc-unit", "g"]) == EXIT_USAGE
    assert "not to library run" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["yesterday", "12.5", "nan"])
def test_a_start_comment_that_is_no_date_is_refused_naming_its_line(
        tmp_path: Path, value: str) -> None:
    p = tmp_path / "x.csv"
    rows = "\n".join(f"{k / 100:.2f},0.1,0.2,9.8" for k in range(300))
    p.write_text(f"# made by hand\n# start_unix_s: {value}\ntime_s,acc_x,acc_y,acc_z\n{rows}\n",
                 encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"line 2: start_unix_s .* is not a Unix time"):
        load_recording(p)
    assert main(["info", str(p)]) == EXIT_FILE


def test_a_unix_time_column_wins_over_a_start_comment(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    rows = "\n".join(f"{T0_S + k / 100:.3f},0.1,0.2,9.8" for k in range(300))
    p.write_text(f"# start_unix_s: 1000000000.0\ntime_s,acc_x,acc_y,acc_z\n{rows}\n",
                 encoding="utf-8")
    assert load_recording(p).meta.start_unix_s == pytest.approx(T0_S, abs=1e-3)
