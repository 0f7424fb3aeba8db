"""One sync at a time per store: a second is refused at once, naming the first; a killed one
leaves no lock behind.

Real processes and a real OS lock (flock): a holder process takes the lock the way a sync does,
or a real ``imurun sync`` runs against the virtual sensor on a pseudo-terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from imurun.cli import main
from imurun.device.sync import RunSink, SyncReport
from imurun.store.library import Library
from imurun.store.lock import StoreBusyError
from imurun.store.rundir import RunDirectory
from imurun.workflows import store_and_analyse
from tests.library_support import DEVICE_A, write_run
from tests.sim_support import virtual_sensor, wait_for

_HOLDER = """
import sys
from pathlib import Path
from imurun.store.library import Library
from imurun.store.rundir import RunDirectory
kind, root, what, shared = sys.argv[1:5]
if kind == "library":
    lib = Library.open(Path(root))
    lock = lib.lock(what, shared=shared == "shared")
else:
    lock = RunDirectory(Path(root)).lock(what)
with lock:
    print("held", flush=True)
    sys.stdin.read()  # until the test closes it, or kills this process
"""


def _holder(kind: str, root: Path, what: str = "sync", *,
            shared: bool = False) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", _HOLDER, kind, str(root), what,
                          "shared" if shared else "alone"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline() == "held\n"
    return p


@pytest.fixture
def killed() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)
        for pipe in (p.stdin, p.stdout):
            if pipe is not None:
                pipe.close()


def test_a_second_writer_is_refused_at_once_and_a_killed_holder_frees_the_library(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        killed: list[subprocess.Popen[str]]) -> None:
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1, seconds=5.0)
    Library.open(home).close()
    sync = _holder("library", home)
    killed.append(sync)
    reached: list[RunSink] = []

    def run_sync(sink: RunSink) -> SyncReport:  # never reached: refused before the sensor
        reached.append(sink)
        raise AssertionError("the sensor was reached")

    with Library.open(home) as lib:
        with pytest.raises(StoreBusyError) as e:
            store_and_analyse(lib, run_sync)
        assert e.value.pid == sync.pid
        assert reached == []
    # the CLI: exit 6, one line naming the other process; a port that does not exist is not
    # even looked at
    for cmd in (["sync", "--port", str(tmp_path / "no-such-port")], ["import", str(src)],
                ["store", "check", "--repair"]):
        assert main(["--home", str(home), *cmd]) == 6, cmd
        out, err = capsys.readouterr()
        assert err.count("\n") == 1
        assert f"in use by another imurun process (pid {sync.pid}: sync since " in err
        assert "run it again when that has finished" in err
    with Library.open(home) as lib:
        assert lib.runs() == []

    # killed with SIGKILL: the kernel lets go of its lock (its line stays in the file)
    os.kill(sync.pid, signal.SIGKILL)
    sync.wait(10)
    assert str(sync.pid) in (home / ".lock").read_text()
    assert main(["--home", str(home), "import", str(src)]) == 0
    assert "1 new run(s)" in capsys.readouterr().out
    assert main(["--home", str(home), "store", "check", "--repair"]) == 0


def test_imports_share_the_library_but_not_with_a_sync(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        killed: list[subprocess.Popen[str]]) -> None:
    home = tmp_path / "home"
    Library.open(home).close()
    importer = _holder("library", home, "import", shared=True)
    killed.append(importer)
    assert main(["--home", str(home), "import", str(write_run(tmp_path / "in", DEVICE_A, 1,
                                                               seconds=5.0))]) == 0
    assert "1 new run(s)" in capsys.readouterr().out
    assert main(["--home", str(home), "sync", "--port", str(tmp_path / "no-such-port")]) == 6
    assert f"(pid {importer.pid}: import since " in capsys.readouterr().err
    assert importer.stdin is not None
    importer.stdin.close()  # done: it lets go
    assert importer.wait(10) == 0
    assert main(["--home", str(home), "sync", "--port", str(tmp_path / "no-such-port")]) == 4


def test_a_second_sync_into_a_plain_store_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        killed: list[subprocess.Popen[str]]) -> None:
    store = tmp_path / "store"
    RunDirectory(store)
    first = _holder("store", store)
    killed.append(first)
    cmd = ["sync", "--port", str(tmp_path / "no-such-port"), "--store", str(store)]
    assert main(cmd) == 6
    assert f"{store} is in use by another imurun process (pid {first.pid}: sync since " \
        in capsys.readouterr().err
    first.kill()
    first.wait(10)
    assert main(cmd) == 4  # free again: on to the port, which does not exist


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_two_syncs_of_one_sensor_into_one_library(tmp_path: Path) -> None:
    """The same sensor reached twice: the second sync is refused while the first runs (it
    touches neither the sensor nor the library), the first is killed half-way, and the next
    sync completes: every run byte-exact, once, with its duration, no partial file left."""
    home = tmp_path / "home"
    env = {**os.environ, "IMURUN_HOME": str(home)}
    # 20 kB/s: the two runs take about 13 s, so the first sync is still running after the
    # second one's start-up, even on a loaded machine (at 40 kB/s it could finish first)
    with virtual_sensor(tmp_path, "--seed", "23", "--runs", "2", "--minutes", "2",
                        "--rate", "20000") as s:
        flash = sorted(p.read_bytes() for p in s.flash.glob("run-*.imrn"))
        partial = home / "runs" / ".partial"
        log = tmp_path / "first.log"
        with open(log, "wb") as fh:
            first = subprocess.Popen([sys.executable, "-m", "imurun", "sync", "--port",
                                      str(s.link)], stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            def mid_run() -> bool:
                parts = list(partial.glob("*.part")) if partial.exists() else []
                return any(p.stat().st_size > 20_000 for p in parts) or first.poll() is not None
            wait_for(mid_run, 60, "the first sync to be part-way through a run")
            assert first.poll() is None, log.read_text()
            before = {p.name: p.stat().st_size for p in partial.glob("*.part")}
            second = subprocess.run([sys.executable, "-m", "imurun", "sync", "--port",
                                     str(s.link)], capture_output=True, text=True, timeout=60,
                                    env=env)
            assert second.returncode == 6, second.stdout + second.stderr
            assert f"in use by another imurun process (pid {first.pid}: sync since" \
                in second.stderr
            assert second.stdout == ""
            assert first.poll() is None, log.read_text()  # the first goes on
            wait_for(lambda: any(p.stat().st_size > before.get(p.name, 0)
                                 for p in partial.glob("*.part")) or first.poll() is not None,
                     60, "the first sync to go on")
            assert first.poll() is None, "the first sync ended before it could be killed " \
                "half-way: " + log.read_text()
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        third = subprocess.run([sys.executable, "-m", "imurun", "sync", "--port", str(s.link)],
                               capture_output=True, text=True, timeout=120, env=env)
        assert third.returncode == 0, third.stdout + third.stderr
        assert "resumed at byte" in third.stdout
    with Library.open(home) as lib:
        runs = lib.runs()
        assert sorted(r.path.read_bytes() for r in runs) == flash
        assert all(r.duration_s is not None for r in runs)
        assert lib.check().ok
    assert not list(partial.iterdir())


def test_a_restore_is_refused_beside_a_sync_but_not_beside_an_import(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        killed: list[subprocess.Popen[str]]) -> None:
    """A run restored may take the place of held copies of its sensor run, as an import does:
    it holds the lock shared, so never beside a sync (and the copy stays set aside)."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1, seconds=5.0)).run
        kept = lib.set_aside(run.id)
    sync = _holder("library", home)
    killed.append(sync)
    assert main(["--home", str(home), "store", "restore", run.short_id]) == 6
    assert f"(pid {sync.pid}: sync since " in capsys.readouterr().err
    assert kept.is_dir()
    assert sync.stdin is not None
    sync.stdin.close()
    assert sync.wait(10) == 0
    importer = _holder("library", home, "import", shared=True)  # beside an import: fine
    killed.append(importer)
    assert main(["--home", str(home), "store", "restore", run.short_id]) == 0
    assert run.path.exists()
