"""Output paths of ``imurun``: the input is never overwritten, a recording only with ``--force``,
an output that cannot be written is one clear line and exit code 3 (before any work), a closed
pipe ends the command quietly, and a bad ``--baseline`` is a bad input file.

Run in-process (``imurun.cli.main``) with captured output, as ``tests/test_cli_files.py`` does,
plus real subprocesses where the operating system's pipe is the point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imurun.analysis import STEPS_CSV_COLUMNS
from imurun.cli import EXIT_FILE, EXIT_PIPE, EXIT_USAGE, main, writing
from imurun.errors import FileFormatError, StoreError
from imurun.store.library import Library
from tests.cli_support import one_line, run
from tests.library_support import DEVICE_A, analysis_json, write_run

REPO = Path(__file__).resolve().parents[1]
SESSION = REPO / "recordings" / "clean-run.imrs"
EXIT_DEVICE = 4


@pytest.fixture
def session(tmp_path: Path) -> Path:
    return Path(shutil.copy(SESSION, tmp_path / "copy.imrs"))


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A regular file: nothing can be written below it (whoever runs the tests, root too)."""
    p = tmp_path / "a-file"
    p.write_text("not a directory\n")
    return p


@pytest.fixture
def analysed_run(tmp_path: Path) -> tuple[Path, str, Path]:
    """A library with one analysed run: (home, run id, the run's file)."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run_ = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1, seconds=20.0)).run
        run_ = lib.set_analysis(run_.id, analysis_json(50, seed=3))
        return home, run_.id, run_.path


# ---------------------------------------------------------------------------- 1. the input
@pytest.mark.parametrize("spelling", ["same", "dotted"])
def test_export_csv_refuses_to_overwrite_its_input(capsys: pytest.CaptureFixture[str],
                                                   session: Path, spelling: str) -> None:
    before = session.read_bytes()
    target = session if spelling == "same" else session.parent / "x" / ".." / session.name
    code, out, err = run(capsys, "export", str(session), "--csv", str(target))
    assert code == EXIT_USAGE, err
    one_line(err, "--csv", "is the input file")
    assert out == ""
    assert session.read_bytes() == before


@pytest.mark.parametrize("option", ["--json", "--steps-csv"])
def test_analyze_refuses_to_overwrite_its_input_or_baseline(
        capsys: pytest.CaptureFixture[str], session: Path, tmp_path: Path, option: str) -> None:
    before = session.read_bytes()
    code, out, err = run(capsys, "analyze", str(session), option, str(session))
    assert code == EXIT_USAGE, err
    one_line(err, option, "is the input file")
    assert out == ""  # refused before the analysis
    assert session.read_bytes() == before
    base = tmp_path / "base.json"
    base.write_text("{}")
    code, _, err = run(capsys, "analyze", str(session), "--baseline", str(base), option, str(base))
    assert code == EXIT_USAGE, err
    assert base.read_text() == "{}"


def test_analyze_json_and_steps_csv_must_differ(capsys: pytest.CaptureFixture[str],
                                                session: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code, _, err = run(capsys, "analyze", str(session), "--json", str(out), "--steps-csv", str(out))
    assert code == EXIT_USAGE, err
    one_line(err, "same file")


def test_analyze_still_replaces_an_earlier_derived_output(capsys: pytest.CaptureFixture[str],
                                                          session: Path, tmp_path: Path) -> None:
    out, steps = tmp_path / "sub" / "a.json", tmp_path / "sub" / "steps.csv"
    out.parent.mkdir()
    out.write_text("old")
    code, printed, err = run(capsys, "analyze", str(session), "--json", str(out), "--steps-csv",
                             str(steps))
    assert code == 0, err
    assert json.loads(out.read_text())["schema"] == "imurun.analysis/1"
    assert steps.read_text().splitlines()[0] == ",".join(STEPS_CSV_COLUMNS)
    assert f"wrote the analysis to {out}" in printed


@pytest.mark.parametrize("option", ["--fit", "--steps-csv"])
def test_library_exports_refuse_to_overwrite_the_run_file(
        capsys: pytest.CaptureFixture[str], analysed_run: tuple[Path, str, Path],
        option: str) -> None:
    home, run_id, run_file = analysed_run
    before = run_file.read_bytes()
    code, _, err = run(capsys, "--home", str(home), "export", run_id[:8], option, str(run_file))
    assert code == EXIT_USAGE, err
    one_line(err, "is the input file")
    assert run_file.read_bytes() == before


def test_report_refuses_to_overwrite_the_file_it_reports(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    j = tmp_path / "a.json"
    j.write_text(json.dumps(analysis_json(50, seed=3)))
    before = j.read_bytes()
    code, _, err = run(capsys, "report", str(j), "--out", str(j))
    assert code == EXIT_USAGE, err
    one_line(err, "is the input file")
    assert j.read_bytes() == before


# ---------------------------------------------------------------------------- 1, 3. stream --out
def test_stream_keeps_an_existing_recording_unless_forced(capsys: pytest.CaptureFixture[str],
                                                          session: Path, tmp_path: Path) -> None:
    before = session.read_bytes()
    port = str(tmp_path / "no-such-port")
    code, out, err = run(capsys, "stream", "--port", port, "--out", str(session))
    assert code == EXIT_USAGE, err
    one_line(err, str(session), "exists", "--force")
    assert out == ""
    assert session.read_bytes() == before
    # --force goes on to the port (missing here: a device error, not a refusal)
    code, _, err = run(capsys, "stream", "--port", port, "--out", str(session), "--force")
    assert code == EXIT_DEVICE, err
    one_line(err, "not found")
    # nothing was received, so the recording is still there, and no leftover file
    assert session.read_bytes() == before
    assert sorted(p.name for p in session.parent.iterdir()) == [session.name]


def test_a_stream_that_receives_nothing_writes_no_file(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    out = tmp_path / "new.imrs"
    code, _, err = run(capsys, "stream", "--port", str(tmp_path / "no-such-port"),
                       "--out", str(out))
    assert code == EXIT_DEVICE, err
    assert list(tmp_path.iterdir()) == []  # so running it again needs no --force


def test_a_port_that_only_talks_nonsense_leaves_the_recording_as_it_was(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Bytes arrive (a GPS receiver on the port, say) but no sensor answers: even with --force
    the earlier recording stays; the stream's file appears only once a frame decodes."""
    from tests.sim_support import nonsense_port

    out = tmp_path / "keep.imrs"
    shutil.copyfile(SESSION, out)
    before = out.read_bytes()
    with nonsense_port() as port:
        code, _, err = run(capsys, "stream", "--port", port, "--out", str(out), "--force",
                           "--timeout", "0.5")
    assert code == EXIT_DEVICE, err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.imrs"]  # no leftover either


# ---------------------------------------------------------------------------- 2, 3, 6. unwritable
def _unwritable(kind: str, tmp_path: Path, blocker: Path) -> Path:
    if kind == "directory":
        d = tmp_path / "adir"
        d.mkdir(exist_ok=True)
        return d
    if kind == "proc":  # writable by permission bits for root, yet nothing can be created there
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc")
        return Path("/proc/imurun-test-output")
    return blocker / "below-a-file.out"


@pytest.mark.parametrize("kind", ["directory", "below-a-file", "proc"])
@pytest.mark.parametrize("argv", [
    ["analyze", "{session}", "--json", "{out}"],
    ["analyze", "{session}", "--steps-csv", "{out}"],
    ["export", "{session}", "--csv", "{out}"],
    ["stream", "--port", "{tmp}/no-such-port", "--out", "{out}"],
    ["report", "{analysis}", "--out", "{out}"],
    ["--home", "{tmp}/home", "weekly", "--out", "{out}"],
    ["--home", "{tmp}/home", "share", "--athlete", "Ana", "--out", "{out}"],
], ids=["analyze-json", "analyze-steps-csv", "export-csv", "stream", "report", "weekly", "share"])
def test_an_output_that_cannot_be_written_exits_3_before_any_work(
        capsys: pytest.CaptureFixture[str], session: Path, tmp_path: Path, blocker: Path,
        kind: str, argv: list[str]) -> None:
    out = _unwritable(kind, tmp_path, blocker)
    analysis = tmp_path / "a.json"
    analysis.write_text(json.dumps(analysis_json(50, seed=3)))
    args = [a.format(session=session, out=out, tmp=tmp_path, analysis=analysis) for a in argv]
    code, printed, err = run(capsys, *args)
    assert code == EXIT_FILE, err
    one_line(err, str(out), "cannot write")
    assert "unexpected" not in err
    assert printed == ""  # nothing done: no analysis printed, no stream started


@pytest.mark.parametrize("option", ["--fit", "--steps-csv"])
def test_library_exports_that_cannot_be_written_exit_3(
        capsys: pytest.CaptureFixture[str], analysed_run: tuple[Path, str, Path],
        blocker: Path, option: str) -> None:
    home, run_id, _ = analysed_run
    out = blocker / "x.out"
    code, _, err = run(capsys, "--home", str(home), "export", run_id[:8], option, str(out))
    assert code == EXIT_FILE, err
    one_line(err, str(out), "cannot write")


def test_a_write_failure_raised_by_the_store_is_reported_as_a_file_error(tmp_path: Path) -> None:
    target = tmp_path / "out.html"
    cause = OSError(28, "No space left on device", str(tmp_path / ".out.html.tmp-1-0"))
    with pytest.raises(FileFormatError, match="out.html: cannot write: No space left"), \
            writing(target):
        raise StoreError(f"cannot write {target}: no space") from cause
    other = OSError(5, "Input/output error", str(tmp_path / "library" / "runs" / "x.imrn"))
    with pytest.raises(StoreError), writing(target):  # about another file: unchanged
        raise StoreError("cannot read the run") from other


# before: `stream --duration -5` recorded a fraction of a second and exited 0, and a timeout of
# 0 reached the sensor and failed as a device problem (exit 4)
@pytest.mark.parametrize("argv", [["stream", "--duration", "-5"], ["stream", "--duration", "0"],
                                  ["stream", "--timeout", "0"], ["sync", "--timeout", "-1"]],
                         ids=["stream-duration-negative", "stream-duration-0",
                              "stream-timeout-0", "sync-timeout-negative"])
def test_durations_and_timeouts_must_be_positive(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, argv: list[str]) -> None:
    out_file = tmp_path / "live.imrs"
    where = ["--out", str(out_file)] if argv[0] == "stream" else ["--store", str(tmp_path / "s")]
    with pytest.raises(SystemExit) as e:
        main([argv[0], "--port", str(tmp_path / "no-such-port"), *where, *argv[1:]])
    assert e.value.code == EXIT_USAGE
    assert "expected a positive number" in capsys.readouterr().err
    assert not out_file.exists()


# before: `stream --timeout` set how long requests wait, but a silent stream still counted as
# lost after 3 s whatever it said
def test_stream_timeout_is_the_silence_a_stream_may_have() -> None:
    from imurun.cli import build_parser, stream_settings

    a = build_parser().parse_args(["stream", "--port", "p", "--out", "o.imrs", "--timeout", "9",
                                   "--duration", "30"])
    settings = stream_settings(a)
    assert settings.timeout_s == 9.0
    assert settings.duration_s == 30.0
    default = stream_settings(build_parser().parse_args(["stream", "--port", "p", "--out", "o"]))
    assert default.timeout_s == 3.0
    assert default.duration_s is None


# ---------------------------------------------------------------------------- 4. simulate
@pytest.mark.parametrize("case", ["link-is-a-directory", "link-is-a-file", "flash-is-a-file"])
def test_simulate_refuses_bad_link_or_flash_paths_before_starting(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, blocker: Path, case: str) -> None:
    link, flash = tmp_path / "sensor.tty", tmp_path / "flash"
    if case == "link-is-a-directory":
        link.mkdir()
    elif case == "link-is-a-file":
        link = blocker
    else:
        flash = blocker
    code, out, err = run(capsys, "simulate", "serial", "--link", str(link), "--flash", str(flash),
                         "--duration", "0.1")
    assert code == EXIT_FILE, err
    one_line(err, str(blocker if case != "link-is-a-directory" else link))
    assert "unexpected" not in err
    assert out == ""  # the sensor never started
    assert blocker.read_text() == "not a directory\n"


# ---------------------------------------------------------------------------- 5. closed pipe
@pytest.mark.parametrize("argv", [["info", str(SESSION)], ["runs"]], ids=["info", "runs"])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, argv: list[str]) -> None:
    """``imurun runs | head -1``: the reader is gone before imurun writes."""
    from imurun.store.library import Library

    with Library.open(tmp_path / "home"):  # (`runs` refuses a library that does not exist)
        pass
    read_end, write_end = os.pipe()
    os.close(read_end)  # a pipe nobody reads: every write fails with EPIPE
    try:
        p = subprocess.run([sys.executable, "-m", "imurun", "--home", str(tmp_path / "home"),
                            *argv], stdout=write_end, stderr=subprocess.PIPE, cwd=REPO,
                           timeout=120, check=False)
    finally:
        os.close(write_end)
    assert p.returncode == EXIT_PIPE, p.stderr
    assert p.stderr == b""


def test_a_closed_pipe_ends_a_live_stream_quietly_and_keeps_its_file(tmp_path: Path) -> None:
    """``imurun stream --live | head``: the live line is printed by a callback of the stream,
    whose failure stops the stream (a CallbackError); a closed pipe still ends the command as
    any other (exit 141, nothing said) and what arrived is in the file."""
    from imurun.ingest.files import load_recording
    from imurun.sim import SimulateOptions, virtual_serial_sensor

    out = tmp_path / "live.imrs"
    opts = SimulateOptions(link=tmp_path / "sensor.tty", flash=tmp_path / "flash", runs=0,
                           stream_minutes=2, realtime=False)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with virtual_serial_sensor(opts) as sim:
            p = subprocess.run([sys.executable, "-m", "imurun", "stream", "--port",
                                str(sim.link_path), "--out", str(out), "--live"],
                               stdout=write_end, stderr=subprocess.PIPE, cwd=REPO, timeout=120,
                               check=False)
    finally:
        os.close(write_end)
    assert p.returncode == EXIT_PIPE, p.stderr
    assert p.stderr == b""
    assert load_recording(out).n_samples > 0


# ---------------------------------------------------------------------------- 7. --baseline
@pytest.mark.parametrize("content", [
    '{"schema": "imurun.analysis/1"}',
    '{"schema": "imurun.weekly/1", "week": "2026-W47"}',
    "time_s,acc_x,acc_y,acc_z\n0,0,0,9.81\n",
    None,
], ids=["no-summary", "other-schema", "csv", "missing"])
def test_a_bad_baseline_is_a_bad_input_file_named_in_one_line(
        capsys: pytest.CaptureFixture[str], session: Path, tmp_path: Path,
        content: str | None) -> None:
    base = tmp_path / "base.json"
    if content is not None:
        base.write_text(content)
    code, out, err = run(capsys, "analyze", str(session), "--baseline", str(base))
    assert code == EXIT_FILE, err
    one_line(err, str(base), "baseline")
    assert "unexpected" not in err
    assert out == ""


# ---------------------------------------------------------------------------- 1b. library files
def _library_file(home: Path, run_file: Path, which: str) -> Path:
    return {"run": run_file, "meta": run_file.parent / "meta.json",
            "analysis": run_file.parent / "analysis.json", "index": home / "index.sqlite3",
            "wal": home / "index.sqlite3-wal", "profiles": home / "profiles.json",
            "new-in-run-dir": run_file.parent / "new.html"}[which]


def _snapshot_library(home: Path) -> dict[str, bytes]:
    return {p.relative_to(home).as_posix(): p.read_bytes() for p in sorted(home.rglob("*"))
            if p.is_file() and not p.name.startswith("index.sqlite3")}


@pytest.mark.parametrize("which", ["run", "meta", "analysis", "index", "wal", "profiles",
                                   "new-in-run-dir"])
@pytest.mark.parametrize("command", ["report", "weekly-html", "weekly-json", "export-fit",
                                     "export-steps", "export-csv", "share", "analyze-json"])
def test_no_output_may_name_a_file_the_library_manages(
        capsys: pytest.CaptureFixture[str], analysed_run: tuple[Path, str, Path],
        which: str, command: str) -> None:
    home, run_id, run_file = analysed_run
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
        lib.bind_sensor(DEVICE_A, "Ana")
    (home / "index.sqlite3-wal").touch(exist_ok=True)
    target = _library_file(home, run_file, which)
    before = _snapshot_library(home)
    argv = {"report": ["report", run_id[:8], "--out"],
            "weekly-html": ["weekly", "--week", "2026-W47", "--out"],
            "weekly-json": ["weekly", "--week", "2026-W47", "--format", "json", "--out"],
            "export-fit": ["export", run_id[:8], "--fit"],
            "export-steps": ["export", run_id[:8], "--steps-csv"],
            "export-csv": ["export", str(SESSION), "--csv"],
            "share": ["share", "--athlete", "Ana", "--out"],
            "analyze-json": ["analyze", str(SESSION), "--json"]}[command]
    code, _, err = run(capsys, "--home", str(home), *argv, str(target))
    assert code == EXIT_USAGE, err
    line = one_line(err, str(target))
    assert "of the library" in line or "is the input file" in line, line
    assert _snapshot_library(home) == before
    assert not (run_file.parent / "new.html").exists()
    code, out, err = run(capsys, "--home", str(home), "store", "check")
    assert code == 0, out + err


def test_a_library_file_is_refused_by_any_spelling_and_without_home(
        capsys: pytest.CaptureFixture[str], analysed_run: tuple[Path, str, Path],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, run_id, run_file = analysed_run
    monkeypatch.setenv("IMURUN_HOME", str(tmp_path / "another-home"))
    link = tmp_path / "link.json"
    link.symlink_to(run_file.parent / "meta.json")
    dotted = home / "runs" / ".." / "profiles.json"
    with Library.open(home) as lib:
        lib.add_athlete("Ana")
    before = _snapshot_library(home)
    for target in (link, dotted, home / "index.sqlite3"):  # found above the path, no --home
        code, _, err = run(capsys, "analyze", str(SESSION), "--json", str(target))
        assert code == EXIT_USAGE, err
        one_line(err, "of the library")
    # reporting a run's own analysis file would put the report in the run's directory
    code, _, err = run(capsys, "report", str(run_file.parent / "analysis.json"))
    assert code == EXIT_USAGE, err
    assert _snapshot_library(home) == before


def test_reports_and_other_files_beside_the_library_are_still_written(
        capsys: pytest.CaptureFixture[str], analysed_run: tuple[Path, str, Path]) -> None:
    home, run_id, _ = analysed_run
    code, out, err = run(capsys, "--home", str(home), "weekly", "--week", "2026-W47")
    assert code == 0, err
    code, out, err = run(capsys, "--home", str(home), "export", run_id[:8], "--steps-csv",
                         str(home / "reports" / "mine.csv"))
    assert code == 0, err
    assert (home / "reports" / "mine.csv").exists()
    code, out, err = run(capsys, "--home", str(home), "weekly", "--week", "2026-W47",
                         "--format", "csv", "--out", str(home / "week.csv"))
    assert code == 0, err


@pytest.mark.parametrize("where", ["runs", "runs/sensor", "set-aside", "home"])
def test_sync_store_may_not_be_a_folder_of_the_library(
        capsys: pytest.CaptureFixture[str], analysed_run: tuple[Path, str, Path],
        tmp_path: Path, where: str) -> None:
    """Plain run files inside a library's own folders would be taken for its runs (or drift)."""
    home, _, _ = analysed_run
    store = home if where == "home" else home / where
    before = _snapshot_library(home)
    code, out, err = run(capsys, "--home", str(home), "sync", "--port",
                         str(tmp_path / "no-such-port"), "--store", str(store))
    assert code == EXIT_USAGE, err
    one_line(err, f"--store {store}", "of the library", "sync without --store")
    assert out == ""  # refused before connecting to anything
    assert _snapshot_library(home) == before
    if where != "home":
        return
    # a folder beside the library is fine (the port is then what fails)
    code, _, err = run(capsys, "--home", str(home), "sync", "--port",
                       str(tmp_path / "no-such-port"), "--store", str(tmp_path / "plain"))
    assert code == EXIT_DEVICE, err


@pytest.mark.parametrize("argv", [
    ["import", "{tmp}/no-such.zip"], ["import", "{tmp}/no-such.imrn"],
    ["import", "{tmp}/no-such-dir/"], ["report", "{tmp}/no-such.json"],
    ["report", "{tmp}/no-such.imrs"], ["info", "{tmp}/no-such.csv"],
    ["analyze", "{tmp}/no-such.csv"]])
def test_a_missing_input_file_is_exit_3_named_in_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]) -> None:
    args = ["--home", str(tmp_path / "home"), *(a.format(tmp=tmp_path) for a in argv)]
    code, out, err = run(capsys, *args)
    assert code == EXIT_FILE, err
    one_line(err, str(Path(args[-1])), "No such file")
    assert out == ""


_INTERRUPT_WHILE_LOADING = """
import sys

class Interrupt:  # a Ctrl-C that arrives while the command line is being imported
    def find_spec(self, name, path=None, target=None):
        if name == "imurun.cli":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt())
from imurun._entry import main
sys.exit(main())
"""


def test_a_ctrl_c_while_the_command_loads_is_one_line_and_exit_130() -> None:
    """The console script imports the command line first; a Ctrl-C then was a traceback."""
    p = subprocess.run([sys.executable, "-c", _INTERRUPT_WHILE_LOADING], capture_output=True,
                       text=True, timeout=60, cwd=REPO)
    assert p.returncode == 130
    assert p.stderr == "imurun: interrupted\n"


def test_the_console_script_is_the_interrupt_safe_entry() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "imurun"]
    assert ep.value == "imurun._entry:main"
    p = subprocess.run([sys.executable, "-c", "import sys, imurun; "
                        "print(sorted(m for m in sys.modules if m.startswith(('numpy', "
                        "'importlib.metadata', 'imurun.'))))"],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.stdout.strip() == "[]"  # `import imurun` loads nothing heavy before the command
