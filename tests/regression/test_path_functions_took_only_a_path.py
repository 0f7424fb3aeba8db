"""Regression: public functions that take a path failed on a path given as text.

``imurun.store.bundle.is_bundle("x.zip")`` raised ``AttributeError: 'str' object has no
attribute 'is_file'``, ``imurun.ingest.export.write_csv(rec, "run.csv")`` ``... no attribute
'with_name'``, ``imurun.sim.source.save_truth("t.npz", ...)`` ``... no attribute 'parent'`` and
``SeededSource(seed, cfg, "truth")`` ``unsupported operand type(s) for /: 'str' and 'str'`` when
it wrote its first run; ``imurun.store.rundir.file_crc32`` read text but was typed as taking a
``Path`` only. Paths are text or ``os.PathLike`` throughout (docs/api.md): they take
either now, as ``file_facts``, ``is_prefix_of`` and ``is_library_root`` do
(test_public_api_took_no_text.py). (``imurun.store._files`` and ``imurun.store.aside`` are the
library's own helpers, given a ``Path`` by their only callers: unchanged.)
"""

from __future__ import annotations

import os
import typing
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import imurun
from imurun.ingest.export import write_csv
from imurun.sim.firmware import SensorConfig
from imurun.sim.motion import generate, script_default
from imurun.sim.source import SeededSource, load_truth, save_truth
from imurun.store.bundle import is_bundle
from imurun.store.rundir import file_crc32

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "recordings" / "stored-run.imrn"


def test_is_bundle_takes_text(tmp_path: Path) -> None:
    z = tmp_path / "share.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("manifest.json", "{}")
    assert is_bundle(str(z)) is True
    assert is_bundle(str(RUN)) is False
    assert is_bundle(str(tmp_path)) is False  # a folder is a shared library, not a bundle


def test_write_csv_takes_text(tmp_path: Path) -> None:
    rec = imurun.load_recording(RUN)
    write_csv(rec, tmp_path / "as-path.csv")
    write_csv(rec, str(tmp_path / "sub" / "as-text.csv"))
    assert (tmp_path / "sub" / "as-text.csv").read_bytes() == \
        (tmp_path / "as-path.csv").read_bytes()


def test_save_and_load_truth_take_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    motion = generate(script_default(1.0, rng)[:2], rng=rng)
    counts = np.zeros((400, 6), dtype=np.int16)
    save_truth(str(tmp_path / "truth" / "t.npz"), motion, counts, tag="t")
    back = load_truth(str(tmp_path / "truth" / "t.npz"))
    assert back["meta"]["tag"] == "t"
    assert back["counts"].shape == (400, 6)


def test_a_seeded_source_takes_its_truth_folder_as_text(tmp_path: Path) -> None:
    source = SeededSource(1, SensorConfig(), str(tmp_path / "truth"))
    counts = source(2.0, "run-1")
    assert counts.shape == (400, 6)
    assert load_truth(tmp_path / "truth" / "run-1.npz")["counts"].shape == (400, 6)


@pytest.mark.parametrize(("fn", "param"), [
    (is_bundle, "path"), (write_csv, "path"), (save_truth, "path"), (load_truth, "path"),
    (file_crc32, "path"), (SeededSource.__init__, "truth_dir")])
def test_they_are_typed_as_taking_text(fn: Callable[..., object], param: str) -> None:
    """So that a type checker lets a user's script pass text (``file_crc32`` read text
    already: only its annotation said ``Path``)."""
    assert typing.get_type_hints(fn)[param] == str | os.PathLike[str]
