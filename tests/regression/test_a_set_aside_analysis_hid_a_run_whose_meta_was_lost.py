"""A damaged analysis set aside beside a run was taken for a second run file.

``store check --repair`` keeps a damaged ``analysis.json`` as ``analysis.json.damaged-<time>``
in the run's directory. When that run's ``meta.json`` was later lost, the check found two
candidate run files, said "no run file (an import or sync was interrupted)", did not write the
``meta.json`` again, and its repair rebuilt the index without the run: the run vanished from
the library (its bytes stayed on disk) and the command said "repaired". Files kept beside a run
(analysis, watch files, a set-aside note left by a restore) are never its run file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imurun.cli import main
from imurun.store.library import Library
from tests.library_support import DEVICE_A, analysis_json, write_run


@pytest.mark.parametrize("beside", ["analysis.json.damaged-20261120T080000", "set-aside.json"])
def test_a_run_whose_meta_was_lost_is_found_beside_what_is_kept_with_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], beside: str) -> None:
    home = tmp_path / "home"
    with Library.open(home) as lib:
        run = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1)).run
        lib.set_analysis(run.id, analysis_json(10))
    (run.directory / beside).write_text('{"kept": "beside the run"}\n')
    (run.directory / "meta.json").unlink()
    assert main(["--home", str(home), "store", "check", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "no run file" not in out
    assert "wrote meta.json" in out
    with Library.open(home) as lib:
        assert [r.id for r in lib.runs()] == [run.id]
    assert (run.directory / "meta.json").exists()
    assert main(["--home", str(home), "store", "check"]) == 0
