"""Mistakes a new user makes at the command line: one clear line, the right exit code, and
nothing written where it does not belong.

Found by following the documentation as a new user would (the audit of session 12); each test
names what the command did before."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import pytest

from imurun.analysis import analyze, format_report
from imurun.cli import EXIT_FILE
from imurun.ingest.files import load_recording
from imurun.ingest.recording import Recording
from imurun.store.library import Library, RunRecord
from tests.cli_support import one_line, run
from tests.library_support import DEVICE_A, analysis_json, write_run

REPO = Path(__file__).resolve().parents[1]
SESSION = REPO / "recordings" / "clean-run.imrs"
STORED_RUN = REPO / "recordings" / "stored-run.imrn"
EXIT_NOT_FOUND = 7


def _tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


# ------------------------------------------------------------ a --home that is not a library
_READING = [["runs"], ["show", "latest"], ["athlete", "list"], ["sensor", "list"],
            ["weekly"], ["weekly", "--format", "json"], ["report", "latest"],
            ["store", "check"], ["store", "restore"], ["store", "reanalyze"],
            ["store", "set-aside", "latest"], ["share", "--athlete", "Ana", "--out", "{tmp}/a.zip"],
            ["export", "latest", "--fit", "{tmp}/a.fit"], ["attach", "latest", "{tmp}/w.fit"],
            ["athlete", "set", "Ana", "--mass-kg", "60"], ["sensor", "bind", "1d0c5e7500000001", "Ana"]]


@pytest.mark.parametrize("argv", _READING, ids=lambda a: "-".join(a[:2]))
@pytest.mark.parametrize("where", ["missing", "a-folder"])
def test_a_home_that_is_no_library_is_exit_7_and_nothing_is_written(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], where: str) -> None:
    """A mistyped ``--home`` (or a folder of other files) was silently made an empty library:
    ``runs`` said "no runs in ..." (exit 0), ``weekly`` wrote ``reports/`` and ``runs/`` into
    the folder; cli.md gives exit 7 for "no such library"."""
    home = tmp_path / "my-documents"
    if where == "a-folder":
        home.mkdir()
        (home / "notes.txt").write_text("mine\n")
    before = _tree(home) if home.exists() else None
    code, out, err = run(capsys, "--home", str(home), *(a.format(tmp=tmp_path) for a in argv))
    assert code == EXIT_NOT_FOUND, err
    line = one_line(err, str(home))
    assert ("no library at" if where == "missing" else "is not an imurun library") in line
    assert out == ""
    assert (_tree(home) if home.exists() else None) == before


@pytest.mark.parametrize("argv", [["athlete", "add", "Ana"], ["import", str(SESSION)]],
                         ids=["athlete-add", "import"])
def test_the_commands_that_bring_things_in_still_make_a_library(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]) -> None:
    home = tmp_path / "new" / "home"
    code, _, err = run(capsys, "--home", str(home), *argv)
    assert code == 0, err
    code, out, err = run(capsys, "--home", str(home), "athlete", "list")
    assert code == 0, err


def _one_analysed_run(tmp_path: Path) -> tuple[Path, RunRecord]:
    """A library (``tmp_path/home``) holding one 20-s run with an analysis."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        r = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1, seconds=20.0)).run
        return home, lib.set_analysis(r.id, analysis_json(50, seed=3))


def test_a_library_that_lost_its_index_is_still_a_library(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """library.md: `rm index.sqlite3`, and the next command (`runs`) rebuilds it."""
    home, r = _one_analysed_run(tmp_path)
    (home / "index.sqlite3").unlink()
    code, out, err = run(capsys, "--home", str(home), "runs")
    assert code == 0, err
    assert r.id[:10] in out


def test_library_open_without_create_refuses_and_leaves_the_folder_alone(tmp_path: Path) -> None:
    from imurun.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no library at"):
        Library.open(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()
    (tmp_path / "folder").mkdir()
    with pytest.raises(NotFoundError, match="not an imurun library"):
        Library.open(tmp_path / "folder", create=False)
    assert _tree(tmp_path / "folder") == []
    with Library.open(tmp_path / "lib"):
        pass
    with Library.open(tmp_path / "lib", create=False) as lib:
        assert lib.root == tmp_path / "lib"


# ------------------------------------------------------------ --columns on what is no CSV
@pytest.mark.parametrize(("command", "what"), [
    (c, w) for c in ("analyze", "info", "import")
    for w in ("session", "stored-run", "directory", "missing", "zip")
    if not (c == "import" and w in ("directory", "zip"))])  # (import's: a library, a bundle)
def test_columns_for_a_file_that_is_no_csv_says_what_the_file_is(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, what: str) -> None:
    """``--columns`` sent every input to the CSV reader: a session or stored run was "cannot
    read as UTF-8 text: line 1 holds the byte 0xa4 ... save it as UTF-8", a missing file
    "[Errno 2] No such file or directory: '...'", a folder "[Errno 21] Is a directory"."""
    src = {"session": SESSION, "stored-run": STORED_RUN}.get(what)
    path = tmp_path / {"directory": "folder", "missing": "no-such.csv", "zip": "export.zip"}.get(
        what, src.name if src is not None else "")
    if src is not None:
        shutil.copy(src, path)
    elif what == "directory":
        path.mkdir()
    elif what == "zip":
        import zipfile

        with zipfile.ZipFile(path, "w") as z:
            z.writestr("data.csv", "t,a1,a2,a3\n0,0,0,9.81\n")
    code, out, err = run(capsys, "--home", str(tmp_path / "home"), command, str(path),
                         "--columns", "time=t,acc_x=a1,acc_y=a2,acc_z=a3")
    assert code == EXIT_FILE, err
    line = one_line(err, str(path))
    assert "UTF-8" not in line, line
    assert "Errno" not in line, line
    expect = {"session": "a session file names its own channels",
              "stored-run": "a stored-run file names its own channels",
              "directory": "not of a directory", "missing": "No such file or directory",
              "zip": "not to a zip file"}[what]
    assert expect in line, line
    assert out == ""


def test_columns_for_a_missing_file_is_a_file_not_found_error_in_python(tmp_path: Path) -> None:
    """As without ``columns`` (tests/test_api_guide.py): ``except FileNotFoundError`` works."""
    import imurun

    with pytest.raises(FileNotFoundError):
        imurun.analyze(tmp_path / "no-such.csv", columns={"time": "t", "acc_x": "a1",
                                                         "acc_y": "a2", "acc_z": "a3"})


def test_time_unit_for_a_session_names_csv_files_only(capsys: pytest.CaptureFixture[str]) -> None:
    """``--time-unit`` is refused for Xsens files too: the message said "CSV and Xsens files"."""
    code, _, err = run(capsys, "info", str(SESSION), "--time-unit", "ms")
    assert code == EXIT_FILE
    one_line(err, "--time-unit", "applies to CSV files only", "SI units")


# ------------------------------------------------------------ report of a phone's export folder
def test_report_takes_a_phone_export_folder_as_any_recording(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """cli.md: `RUN` may be "any recording", and a phone's export folder is one (`analyze`,
    `info` and `import` read it); `report` said "a run is named by at least 4 hex digits of
    its id ..., not 'export'" (exit 2)."""
    import imurun
    from tests.phyphox_support import Export

    rec = imurun.load_recording(SESSION)
    t = rec.t_s - rec.t_s[0]
    folder = Export(t_acc=t, acc=rec.acc_ms2, t_gyr=t, gyr=rec.gyr_rads).write_folder(
        tmp_path / "export")
    code, out, err = run(capsys, "--home", str(tmp_path / "home"), "report", str(folder))
    assert code == 0, err
    page = tmp_path / "export.report.html"
    assert out.strip() == f"wrote {page}"
    assert "<h2" in page.read_text(encoding="utf-8")
    assert not (tmp_path / "home").exists()  # a file is reported without a library


def test_report_of_a_folder_that_is_no_recording_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    code, out, err = run(capsys, "report", str(tmp_path / "photos"))
    assert code == EXIT_FILE, err
    one_line(err, str(tmp_path / "photos"), "cannot read a directory as a recording")
    assert out == ""


# ------------------------------------------------------------ analyze: every "–" says why
def _first_seconds(path: Path, seconds: float) -> Recording:
    rec = load_recording(path)
    n = int(seconds * rec.fs_hz)
    assert rec.gyr_rads is not None
    return Recording.from_arrays(rec.t_s[:n] - rec.t_s[0], rec.acc_ms2[:n], rec.gyr_rads[:n])


def test_an_unmeasured_step_time_variability_says_why() -> None:
    """Every other unmeasured row of ``imurun analyze`` says why; this one printed "– %"."""
    def row(text: str) -> str:
        (line,) = [ln for ln in text.splitlines() if "step time variability" in ln]
        return line

    full = analyze(SESSION)
    assert row(format_report(full)) == (
        f"    step time variability  {full.summary.step_time_cv_pct:.1f} %")

    short = analyze(_first_seconds(SESSION, 18.0))  # the first running steps only
    assert 0 < short.summary.n_steps < 22
    assert row(format_report(short)) == (
        "    step time variability  –  (too few running steps in a row: it needs bouts of at "
        "least 22 (each foot's step time against its median over 11 steps))")

    still = analyze(_first_seconds(SESSION, 12.0))  # standing and walking
    assert still.summary.n_steps == 0
    assert row(format_report(still)) == (
        "    step time variability  –  (no running in this recording)")


# ------------------------------------------------------------ --help
def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    from imurun.cli import build_parser

    out: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        out.append((" ".join(path), parser))
        for act in parser._actions:
            if isinstance(act, argparse._SubParsersAction):
                for name, sub in act.choices.items():
                    walk(sub, [*path, name])

    walk(build_parser(), [])
    return out


def test_every_option_and_argument_says_what_it_is_in_help() -> None:
    """`imurun sync --help` showed `--timeout TIMEOUT` with no word (cli.md: default 3), and so
    did 22 more options and arguments (`--seed`, `--json`, `athlete set --mass-kg`, ...)."""
    bare = [f"{cmd}: {'/'.join(act.option_strings) or act.dest}"
            for cmd, parser in _commands() for act in parser._actions
            if not isinstance(act, argparse._HelpAction | argparse._SubParsersAction)
            and not act.help]
    assert bare == []


def test_the_options_of_every_command_are_in_the_docs_and_the_docs_in_help() -> None:
    docs = "\n".join((REPO / "docs" / n).read_text(encoding="utf-8") for n in ("cli.md", "ble.md"))
    options = {o for _, parser in _commands() for act in parser._actions
               if act.help != argparse.SUPPRESS for o in act.option_strings
               if o.startswith("--") and o != "--help"}
    assert sorted(o for o in options if o not in docs) == []
    documented = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z](?=[\s\]`=,.)|])", docs))
    assert sorted(documented - options - {"--speed-max"}) == []  # (an anchor: #the-clock-at---speed-max)


# ------------------------------------------------------------ attach a file that is no FIT
def test_attaching_a_file_that_is_no_fit_says_so_once(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """It said "w.csv: damaged FIT file: w.csv: not a FIT file (no .FIT signature)"."""
    home, r = _one_analysed_run(tmp_path)
    for content in (b"", b"time,speed\n0,3.1\n"):
        watch = tmp_path / "w.csv"
        watch.write_bytes(content)
        code, out, err = run(capsys, "--home", str(home), "attach", "latest", str(watch))
        assert code == EXIT_FILE, err
        line = one_line(err, f"{watch}: not a FIT file (no .FIT signature)")
        assert "damaged" not in line
        assert line.count(str(watch)) == 1
        assert out == ""


# ------------------------------------------------------------ a port that is a folder or a file
@pytest.mark.parametrize("command", ["sync", "stream"])
@pytest.mark.parametrize("what", ["a directory", "a regular file"])
def test_a_port_that_is_a_folder_or_a_file_is_said_at_once(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, what: str) -> None:
    """It was retried as a port being plugged in, then "opening serial port X timed out after
    3 s" (exit 4): a folder or a file never becomes a port."""
    import time

    port = tmp_path / "port"
    if what == "a directory":
        port.mkdir()
    else:
        port.write_text("not a tty\n")
    out_args = (["--store", str(tmp_path / "runs")] if command == "sync"
                else ["--out", str(tmp_path / "live.imrs")])
    t0 = time.monotonic()
    code, out, err = run(capsys, command, "--port", str(port), "--timeout", "30", *out_args)
    assert time.monotonic() - t0 < 10.0  # not the 30 s of --timeout
    assert code == 4, err
    one_line(err, f"serial port {port} is {what}, not a serial port")
    assert not (tmp_path / "live.imrs").exists()


# ------------------------------------------------------------ an output that names a recording
@pytest.mark.parametrize("argv", [
    ["export", str(SESSION), "--csv", "{rec}"], ["analyze", str(SESSION), "--json", "{rec}"],
    ["analyze", str(SESSION), "--steps-csv", "{rec}"], ["report", str(SESSION), "--out", "{rec}"],
], ids=["export-csv", "analyze-json", "analyze-steps-csv", "report-out"])
@pytest.mark.parametrize("kind", ["session", "stored-run"])
def test_an_output_never_replaces_another_recording(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], kind: str) -> None:
    """`imurun export a.imrs --csv b.imrs` wrote the CSV over the recording b.imrs (exit 0): only
    the command's own input was protected. cli.md: "a recording is not [replaced]"."""
    rec = tmp_path / ("b.imrs" if kind == "session" else "b.imrn")
    shutil.copy(SESSION if kind == "session" else STORED_RUN, rec)
    before = rec.read_bytes()
    code, out, err = run(capsys, *(a.format(rec=rec) for a in argv))
    assert code == 2, err
    one_line(err, str(rec), f"is a recording (a {kind} file)")
    assert out == ""
    assert rec.read_bytes() == before


def test_stream_force_and_other_outputs_still_replace_what_they_should(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Derived files are replaced as before; only a recording is kept."""
    out = tmp_path / "run.csv"
    out.write_text("an earlier export\n")
    code, _, err = run(capsys, "export", str(SESSION), "--csv", str(out))
    assert code == 0, err
    assert out.read_text().startswith("# start_unix_s:")


# ------------------------------------------------------------ an analysis JSON that is none
@pytest.mark.parametrize(("content", "expect"), [
    (SESSION.read_bytes()[:4096], "not valid JSON: not UTF-8 text (byte 0x"),
    (b'{"schema": "imurun.analysis/1", "summary": 5, "indicators": [], "steps": []}',
     "not an imurun analysis (missing or bad"),  # (every required key there: the summary's type)
], ids=["a-recording-named-json", "summary-not-an-object"])
def test_report_of_a_json_that_is_no_analysis_is_one_line_exit_3(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, expect: str) -> None:
    """A recording saved as .json said "missing or bad 'utf-8' codec can't decode byte 0xa4 in
    position 8: invalid start byte"; a summary that is not an object was "imurun: unexpected
    error: AttributeError" (exit 1, "a bug: please report")."""
    f = tmp_path / "run.json"
    f.write_bytes(content)
    code, out, err = run(capsys, "report", str(f))
    assert code == EXIT_FILE, err
    line = one_line(err, str(f), "not an imurun analysis", expect)
    assert "codec" not in line
    assert out == ""


def test_a_recording_given_as_the_baseline_says_it_is_no_json(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "analyze", str(SESSION), "--baseline", str(SESSION))
    assert code == EXIT_FILE, err
    line = one_line(err, "cannot be the baseline", "not UTF-8 text", "a binary file?")
    assert "codec" not in line


# ------------------------------------------------------------ a run without running
def test_the_summary_line_of_a_run_without_running_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """library.md's walking trial printed "0 steps, cadence - /min, contact - (-), bounce -,
    braking -, pelvic drop L - R -": a row of dashes, with "(-)" unexplained."""
    import numpy as np

    from tests.ingest_support import write_csv

    rng = np.random.default_rng(1)
    t = np.arange(3000) / 200.0  # 15 s of standing still: no steps at all
    acc = np.array([0.0, 0.0, 9.81]) + rng.normal(0, 0.02, (t.size, 3))
    rec = write_csv(tmp_path / "still.csv", t, acc, rng.normal(0, 0.005, (t.size, 3)))
    code, out, err = run(capsys, "--home", str(tmp_path / "home"), "import", str(rec))
    assert code == 0, err
    (line,) = [ln for ln in out.splitlines() if ln.startswith("  ") and "no athlete" in ln]
    assert line.endswith(": no running found (0 walking steps): no running metrics"), line
    assert "(-)" not in out
