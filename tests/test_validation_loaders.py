"""The validation loaders on small hand-made files shaped like the shared data sets.

The held-out recordings of each data set may differ in detail from the ones here (a trial
without a reference, one walking bout, a single contact, gaps, missing metadata); the loaders
must take them or skip them, never crash.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio

from imurun.signal.events import Side
from imurun.validation.datasets import load_mobgap_lab, load_voisard_ipol

FS = 100.0


def _lower_back(n: int, gaps: bool = False) -> dict[str, object]:
    t = np.arange(n) / FS
    acc_g = np.column_stack([1.0 + 0.1 * np.sin(2 * np.pi * 1.8 * t), 0.02 * np.sin(t),
                             0.05 * np.cos(2 * np.pi * 1.8 * t)])
    gyr = np.column_stack([np.sin(t), np.cos(t), 0.5 * np.sin(2 * t)]) * 10.0
    if gaps:
        acc_g[300:320] = np.nan
    return {"Acc": acc_g, "Gyr": gyr, "Fs": {"Acc": FS, "Gyr": FS}}


def _wb(start: float, end: float, ics: list[float], sides: list[str]) -> dict[str, object]:
    return {"Start": start, "End": end,
            "InitialContact_Event": np.asarray(ics, dtype=float),
            "InitialContact_LeftRight": np.asarray(sides, dtype=object),
            "FinalContact_Event": np.asarray([x + 0.6 for x in ics]),
            "FinalContact_LeftRight": np.asarray(sides, dtype=object),
            "Turn_Start": np.asarray([]), "Turn_End": np.asarray([])}


def test_mobgap_loader_takes_odd_trials_and_skips_those_without_a_reference(
        tmp_path: Path) -> None:
    folder = tmp_path / "mobgap_lab" / "XX" / "007"
    folder.mkdir(parents=True)
    data = {"TimeMeasure1": {
        "Test1": {
            # one walking bout, its contacts listed twice where it meets itself, a data gap
            "Trial1": {"SU": {"LowerBack": _lower_back(1000, gaps=True)},
                       "Standards": {"INDIP": {"MicroWB": _wb(1.0, 8.0, [1.2, 1.8, 1.8, 2.4],
                                                             ["Left", "Right", "Right", "Left"])}}},
            # a single contact with a single label (MATLAB stores them as scalars)
            "Trial2": {"SU": {"LowerBack": _lower_back(800)},
                       "Standards": {"INDIP": {"MicroWB": _wb(2.0, 3.0, [2.5], ["Right"])}}},
            # no INDIP reference: skipped
            "Trial3": {"SU": {"LowerBack": _lower_back(800)},
                       "Standards": {"Stereophoto": {"InitialContact_Event": 1.0}}},
            # labels that do not pair with the events: sides unknown
            "Trial4": {"SU": {"LowerBack": _lower_back(800)},
                       "Standards": {"INDIP": {"MicroWB": _wb(1.0, 6.0, [1.5, 2.0], ["Left"])}}},
        }}}
    sio.savemat(folder / "data.mat", {"data": data})
    trials = {t.trial_id: t for t in load_mobgap_lab(tmp_path)}
    assert sorted(trials) == ["XX/007/Test1/Trial1", "XX/007/Test1/Trial2",
                              "XX/007/Test1/Trial4"]
    t1 = trials["XX/007/Test1/Trial1"]
    # the duplicate is merged, and so is its toe-off; every reference time is one sample
    # earlier than written (MATLAB's 1-based sample times: the loader's docstring)
    np.testing.assert_allclose(t1.ref_ic_s, np.array([1.2, 1.8, 2.4]) - 1 / FS)
    np.testing.assert_allclose(t1.ref_to_s, np.array([1.8, 2.4, 3.0]) - 1 / FS)
    (window,) = t1.eval_windows_s
    np.testing.assert_allclose(window, (1.0 - 1 / FS, 8.0))  # an inclusive end stays
    assert "1 reference initial contacts and 1 toe-offs merged" in " ".join(t1.notes)
    assert t1.segments == ((0, 300), (320, 1000))  # the gap splits the trial
    assert t1.bf_gyr_rads is not None
    assert abs(float(np.nanmean(t1.bf_acc_ms2[:, 2])) - 9.80665) < 0.2  # g -> m/s², levelled
    t2 = trials["XX/007/Test1/Trial2"]
    np.testing.assert_allclose(t2.ref_ic_s, [2.5 - 1 / FS])
    assert t2.ref_ic_side.tolist() == [Side.RIGHT]
    assert trials["XX/007/Test1/Trial4"].ref_ic_side.tolist() == [Side.UNKNOWN] * 2


def test_voisard_loader_without_trial_boundaries_scores_the_whole_recording(
        tmp_path: Path) -> None:
    folder = tmp_path / "voisard_ipol"
    folder.mkdir()
    n = 1200
    t = np.arange(n) / FS
    rows = np.column_stack([np.arange(n), 9.81 + 0.5 * np.sin(2 * np.pi * 1.8 * t),
                            0.1 * np.sin(t), -0.3 * np.cos(2 * np.pi * 1.8 * t),
                            0.1 * np.sin(t), 0.1 * np.cos(t), 0.05 * np.sin(2 * t),
                            np.zeros(n), np.zeros(n), np.zeros(n)])
    header = ("Acquisition frequency: 100 Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\t"
              "Gyr_Z\tMag_X\tMag_Y\tMag_Z\n")
    body = "\n".join("\t".join(f"{v:.6f}" for v in r) for r in rows)
    (folder / "11-1_lb.txt").write_text(header + body + "\n")
    (folder / "11-1.json").write_text(json.dumps({
        "Subject": 11, "Trial": 1, "Height": 170.0,
        "LeftFootEvents": [[100, 160], [320, 380]], "RightFootEvents": [[210, 270]]}))
    (trial,) = load_voisard_ipol(tmp_path)
    assert trial.trial_id == "11-1"
    assert trial.eval_windows_s == ((0.0, (n - 1) / FS),)
    assert trial.turn_windows_s == ()
    assert trial.ref_ic_s.tolist() == [1.6, 2.7, 3.8]
    assert trial.ref_ic_side.tolist() == [Side.LEFT, Side.RIGHT, Side.LEFT]
    assert trial.subject.mass_kg is None


def test_alcantara_loader_takes_missing_metadata(tmp_path: Path) -> None:
    from imurun.validation.datasets import load_alcantara2022

    folder = tmp_path / "alcantara2022"
    folder.mkdir()
    n, fs = 1000, 500.0
    t = np.arange(n) / fs
    phase = (t % 0.33) / 0.33
    stance = phase < 0.7
    grf = np.where(stance, 2.4 * np.sin(np.pi * np.clip(phase / 0.7, 0, 1)), 0.0)
    vert = np.maximum(grf, 0.0)
    ap = 0.2 * np.sin(2 * np.pi * phase)
    np.savetxt(folder / "Accelerometer_one_sub.csv", np.r_[vert, ap][None, :], delimiter=",")
    np.savetxt(folder / "GRF_one_sub.csv", grf[None, :], delimiter=",")
    (folder / "Sub_Info_one_sub.csv").write_text(
        "Sub,Condition,Sex,Age,Height,Mass,RFS,MFS,FFS,Speed,Slope,StepFreq\n"
        "9,NA,f,NA,NA,61,NA,NA,NA,3.0,NA,NA\n")
    (trial,) = load_alcantara2022(tmp_path)
    assert trial.n_samples == n
    assert trial.condition.slope_pct is None
    assert trial.condition.foot_strike is None
    assert trial.condition.label == "3 m/s, ? %"
    assert trial.subject.height_m is None
    assert trial.subject.mass_kg == 61.0
    assert trial.ref_ic_s.size >= 5


def test_mobgap_loader_reads_the_optical_reference_by_the_same_rules(tmp_path: Path) -> None:
    """``reference="Stereophoto"``: the same trials, the optical bouts, INDIP's rules."""
    folder = tmp_path / "mobgap_lab" / "XX" / "008"
    folder.mkdir(parents=True)
    indip = _wb(1.0, 8.0, [1.2, 1.8, 2.4, 3.0], ["Left", "Right", "Left", "Right"])
    # a NaN contact (its label stays), a contact listed twice, fewer contacts than INDIP
    optical = _wb(1.6, 3.1, [1.78, float("nan"), 2.4, 2.45, 3.1],
                  ["Right", "Left", "Left", "Left", "Right"])
    data = {"TimeMeasure1": {"Test1": {
        "Trial1": {"SU": {"LowerBack": _lower_back(1000)},
                   "Standards": {"INDIP": {"MicroWB": indip},
                                 "Stereophoto": {"MicroWB": optical, "Fs": FS}}},
        # no optical reference: only in the INDIP load
        "Trial2": {"SU": {"LowerBack": _lower_back(800)},
                   "Standards": {"INDIP": {"MicroWB": _wb(2.0, 3.0, [2.5], ["Right"])}}},
    }}}
    sio.savemat(folder / "data.mat", {"data": data})
    by_indip = {t.trial_id: t for t in load_mobgap_lab(tmp_path)}
    (opt,) = load_mobgap_lab(tmp_path, reference="Stereophoto")
    assert sorted(by_indip) == ["XX/008/Test1/Trial1", "XX/008/Test1/Trial2"]
    ind = by_indip["XX/008/Test1/Trial1"]
    assert opt.trial_id == ind.trial_id
    assert opt.reference.startswith("Stereophoto")
    assert ind.reference.startswith("INDIP")
    # the INDIP load is what it was
    np.testing.assert_allclose(ind.ref_ic_s, np.array([1.2, 1.8, 2.4, 3.0]) - 1 / FS)
    # the same signals
    np.testing.assert_array_equal(opt.bf_acc_ms2, ind.bf_acc_ms2)
    assert opt.segments == ind.segments
    # MATLAB's 1-based times one sample earlier, NaN dropped, the duplicate merged
    np.testing.assert_allclose(opt.ref_ic_s, np.array([1.78, 2.4, 3.1]) - 1 / FS)
    assert opt.ref_ic_side.tolist() == [Side.RIGHT, Side.LEFT, Side.RIGHT]
    (window,) = opt.eval_windows_s
    np.testing.assert_allclose(window, (1.6 - 1 / FS, 3.1))
    assert "1 reference initial contacts" in " ".join(opt.notes)
    # its final contacts are toe-offs like INDIP's (NaN dropped, merged likewise)
    np.testing.assert_allclose(opt.ref_to_s, np.array([2.38, 3.0, 3.7]) - 1 / FS)


def test_mobgap_loader_refuses_an_unknown_reference(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown mobgap_lab reference"):
        load_mobgap_lab(tmp_path, reference="Vicon")
