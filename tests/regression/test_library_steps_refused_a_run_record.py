"""Regression: ``Library.steps`` took a run id where its neighbours take the ``RunRecord``.

``lib.indicators(run)``, ``lib.analysis(run)`` and ``lib.run_analysis(run)`` take the
``RunRecord`` that ``lib.run("latest")`` gives; ``lib.steps`` took only the id string, and
``lib.steps(run)`` failed inside SQLite (``sqlite3.ProgrammingError: Error binding parameter
1``). It takes either now.
"""

from __future__ import annotations

from pathlib import Path

from imurun.store.library import Library
from imurun.workflows import import_path

RUN = Path(__file__).resolve().parents[2] / "recordings" / "stored-run.imrn"


def test_steps_of_a_run_record_are_those_of_its_id(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        import_path(lib, RUN)
        run = lib.run("latest")
        by_record = lib.steps(run)
        assert by_record == lib.steps(run.id)
        analysis = lib.run_analysis(run)
        assert analysis is not None
        assert len(by_record) == len(analysis.steps) > 100
