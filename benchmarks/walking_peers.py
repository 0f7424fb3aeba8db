"""Walking events on real lower-back data: mobgap's published detectors beside imurun's.

``run()`` takes the two real walking data sets that ``docs/validation.md`` scores imurun on
(``mobgap_lab``: Mobilise-D INDIP reference, McRoberts at the lower back; ``voisard_ipol``:
foot-sensor reference, Xsens at L5), loads them with imurun's own loaders
(:mod:`imurun.validation.datasets`: SI units, sacrum body frame, reference events in seconds)
and, on the same samples:

* runs imurun's walking detector as ``docs/validation.md`` does (whole recording);
* runs mobgap's initial-contact detectors ``IcdIonescu``, ``IcdShinImproved`` and
  ``IcdHKLeeImproved`` (their defaults) on each **reference evaluation window** (the INDIP micro
  walking bouts, the voisard ``TrialBoundaries``), split where a window crosses a gap in the
  samples. This is how mobgap evaluates its own IC detectors (on the reference walking bouts,
  ``IcdEmulationPipeline``), and it is generous to them: they are told where walking is, while
  imurun finds it itself;
* classifies the sides of each detector's contacts with ``LrcMcCamley`` and ``LrcUllrich``
  (its default pretrained model ``msproject_all``), on the same windows;
* runs mobgap's full pipeline (gait sequence detection, then IC and left/right) on the whole
  recording, the variant mobgap recommends for the participant's cohort
  (``MobilisedPipelineHealthy`` for healthy adults, ``MobilisedPipelineImpaired`` for MS),
  with no reference window given: that is the like-for-like comparison with imurun.

Every output is scored by imurun's own rules (:func:`imurun.validation.evaluate.
score_detections`): one-to-one nearest matching within 200 ms, reference contacts closer than
100 ms merged, events near the recording's ends not scored, left/right over matched contacts
whose reference side is known. The numbers are therefore comparable with ``docs/validation.md``.

mobgap's conventions (its docs and ``mobgap.consts``): body frame ``acc_is`` (up), ``acc_ml``
(right), ``acc_pa`` (forward) in m/s², angular rate in deg/s about the same axes. imurun's body
frame is x forward, y left, z up, so ``is, ml, pa = z, -y, x``.

mobgap is a benchmark-only peer (the ``bench`` extra; it needs ``pingouin<0.7`` beside
gaitmap). It runs in ``IMURUN_BENCH_PYTHON`` (``.venv-bench``, which ``make bench`` builds),
or in this process when importable here; the arrays reach it through a temporary ``.npz``. Its
times are measured inside that process after one untimed warm-up call of every algorithm;
imurun's in this process. Without mobgap the result says why it was skipped.

Run: ``python -m benchmarks.walking_peers`` (prints JSON).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imurun is imported only in the parent process
    from imurun.validation.datasets import Trial
    from imurun.validation.evaluate import TrialResult

DATASETS = ("mobgap_lab", "voisard_ipol")
IC_DETECTORS = ("IcdIonescu", "IcdShinImproved", "IcdHKLeeImproved")
LR_CLASSIFIERS = ("LrcMcCamley", "LrcUllrich")
PIPELINE = "MobilisedPipeline"
#: Shortest piece of a window handed to a mobgap detector, s (shorter pieces hold < 2 steps).
MIN_PIECE_S = 1.0
#: mobgap's ``sensor_height_m`` (only its stride length uses it, not the events) when a data
#: set does not give it: this fraction of body height.
SENSOR_HEIGHT_RATIO = 0.53
#: What mobgap's documentation says about where its defaults come from (read in mobgap 1.2.0's
#: docstrings; the benchmark records it beside the numbers).
IN_SAMPLE_NOTE = (
    "mobgap's docstrings say: LrcUllrich's pretrained models were trained on the MS-Project "
    "data set (Angelini et al. 2020, people with progressive MS), not on these recordings; the "
    "IC and gait-sequence detectors are ports of the Mobilise-D TVS recommended MATLAB "
    "algorithms, and the algorithms of MobilisedPipelineHealthy/Impaired were selected by "
    "benchmarking in the Mobilise-D technical validation study (Mico-Amigo et al. 2023). "
    "mobgap_lab is mobgap's own example lab data, stored in that study's lab format (time "
    "measure / test / trial, INDIP reference); the docs do not say whether these two "
    "participants were among the data the algorithms were selected on, so mobgap_lab may be "
    "in-sample for mobgap's choices, as it is for imurun's walking settings. voisard_ipol is "
    "outside Mobilise-D.")


# ------------------------------------------------------------------------------ scoring
def _pieces(n: int, segments: Sequence[tuple[int, int]], fs: float,
            windows_s: Sequence[tuple[float, float]] | None,
            min_s: float = MIN_PIECE_S) -> list[tuple[int, int]]:
    """``[start, stop)`` sample ranges: each window intersected with each gap-free segment.

    ``windows_s`` ``None``: the segments themselves (the whole recording). Pieces shorter
    than ``min_s`` are left out.
    """
    wins = ([(0, n)] if windows_s is None else
            [(int(np.ceil(a * fs)), int(np.floor(b * fs)) + 1) for a, b in windows_s])
    out = []
    for a, b in wins:
        for s0, s1 in segments:
            lo, hi = max(a, s0, 0), min(b, s1, n)
            if hi > lo and hi - lo >= min_s * fs:
                out.append((lo, hi))
    return out


def side_codes(labels: Sequence[str]) -> np.ndarray:
    """mobgap's ``"left"``/``"right"`` labels as imurun :class:`~imurun.signal.events.Side`."""
    from imurun.signal.events import Side

    codes = {"left": Side.LEFT, "right": Side.RIGHT}
    return np.array([codes.get(str(x), Side.UNKNOWN) for x in labels], dtype=np.int8)


def metrics(results: Sequence[TrialResult]) -> dict[str, Any]:
    """Pooled IC and left/right metrics of scored trials, as JSON numbers (%, ms)."""
    from imurun.validation.evaluate import summarise

    g = summarise(results, "")
    ic = g.ic

    def pct(x: float) -> float | None:
        return round(100 * x, 1) if np.isfinite(x) else None

    def ms(x: float) -> float | None:
        return round(1e3 * x, 1) if np.isfinite(x) else None

    return {"n_ref": ic.n_ref, "n_det": ic.n_det, "tp": ic.tp, "fp": ic.fp, "fn": ic.fn,
            "precision_pct": pct(ic.precision), "recall_pct": pct(ic.recall),
            "f1_pct": pct(ic.f1), "bias_ms": ms(ic.bias_s), "mae_ms": ms(ic.mae_s),
            "sd_ms": ms(ic.sd_s),
            "lr_pct": pct(g.side_accuracy), "lr_n": g.side_n}


def score_peer(trials: Sequence[Trial], ic_s: Sequence[np.ndarray],
               sides: Sequence[np.ndarray | None] | None = None) -> dict[str, Any]:
    """Score one detector's initial contacts (and sides) on ``trials`` by imurun's rules.

    ``ic_s[k]``: the contacts found in ``trials[k]``, s on its time base; ``sides[k]``: their
    side codes (``None``: unknown). Returns :func:`metrics` of all trials pooled.
    """
    from imurun.validation.evaluate import score_detections

    sd = [None] * len(trials) if sides is None else list(sides)
    if not len(trials) == len(ic_s) == len(sd):
        raise ValueError("one list of contacts (and of sides) per trial")
    return metrics([score_detections(tr, ic, s) for tr, ic, s in zip(trials, ic_s, sd,
                                                                         strict=True)])


# ------------------------------------------------------------------------------ parent
def _cohort(tr: Trial) -> str:
    return tr.trial_id.split("/")[0] if tr.dataset == "mobgap_lab" else "HA"


def _mobgap_arrays(tr: Trial) -> tuple[np.ndarray, np.ndarray]:
    """Acceleration (m/s²) and angular rate (deg/s) as mobgap's ``is, ml, pa`` columns."""
    acc = tr.bf_acc_ms2[:, [2, 1, 0]] * np.array([1.0, -1.0, 1.0])
    if tr.bf_gyr_rads is None:
        raise ValueError(f"{tr.trial_id}: mobgap's side classifiers need a gyroscope")
    gyr = np.degrees(tr.bf_gyr_rads[:, [2, 1, 0]]) * np.array([1.0, -1.0, 1.0])
    return acc, gyr


def _peer_input(trials: Sequence[Trial], path: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for k, tr in enumerate(trials):
        acc, gyr = _mobgap_arrays(tr)
        arrays[f"acc{k}"], arrays[f"gyr{k}"] = acc, gyr
        height = tr.subject.height_m if tr.subject.height_m is not None else 1.75
        meta.append({"trial": tr.trial_id, "fs": tr.fs_hz, "cohort": _cohort(tr),
                     "height_m": height, "sensor_height_m": SENSOR_HEIGHT_RATIO * height,
                     "windows": _pieces(tr.n_samples, tr.segments, tr.fs_hz, tr.eval_windows_s),
                     "segments": _pieces(tr.n_samples, tr.segments, tr.fs_hz, None)})
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _run_peers(trials: Sequence[Trial]) -> dict[str, Any]:
    """mobgap on ``trials``: here when importable, else in ``IMURUN_BENCH_PYTHON``."""
    import importlib.util

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.json"
        _peer_input(trials, src)
        if importlib.util.find_spec("mobgap") is not None:
            _peer_main(str(src), str(dst))
            where = "in process"
        else:
            python = os.environ.get("IMURUN_BENCH_PYTHON")
            if not python:
                return {"skipped": "mobgap not importable here; set IMURUN_BENCH_PYTHON to a "
                                   "Python with the bench extra (make bench builds .venv-bench)"}
            root = Path(__file__).resolve().parents[1]
            proc = subprocess.run([python, "-m", "benchmarks.walking_peers", "--peer", str(src),
                                   str(dst)], cwd=root, capture_output=True, text=True,
                                  timeout=1800, check=False)
            if proc.returncode != 0 or not dst.exists():
                return {"skipped": f"mobgap subprocess ({python}) failed: "
                                   f"{proc.stderr.strip()[-600:]}"}
            where = f"subprocess {python}"
        out: dict[str, Any] = json.loads(dst.read_text())
    out["where"] = where
    return out


def _dataset(name: str) -> dict[str, Any]:
    from imurun.validation.datasets import DatasetNotFoundError, load_dataset
    from imurun.validation.evaluate import evaluate_trial

    try:
        trials = load_dataset(name)
    except DatasetNotFoundError as e:
        return {"skipped": str(e)}
    evaluate_trial(trials[0])  # warm-up, untimed, as for the peers
    ours = [evaluate_trial(tr) for tr in trials]
    ours_s = sum(r.runtime_s for r in ours)
    res: dict[str, Any] = {
        "trials": len(trials),
        "recorded_s": round(sum(tr.duration_s for tr in trials), 1),
        "window_s": round(sum(b - a for tr in trials for a, b in tr.eval_windows_s), 1),
        # window pieces (between gaps in the samples) too short to hand to a mobgap detector
        "short_pieces_left_out": sum(
            len(_pieces(tr.n_samples, tr.segments, tr.fs_hz, tr.eval_windows_s, 0.0))
            - len(_pieces(tr.n_samples, tr.segments, tr.fs_hz, tr.eval_windows_s))
            for tr in trials),
        "imurun": {**metrics(ours), "input": "whole recording", "wall_s": round(ours_s, 4)},
    }
    peer = _run_peers(trials)
    if "skipped" in peer:
        res["peers"] = peer
        return res
    res["mobgap"] = {k: peer[k] for k in ("mobgap_version", "numpy", "where")}
    peers: dict[str, Any] = {}
    for det, out in peer["detectors"].items():
        if "error" in out:
            peers[det] = out
            continue
        ics = [np.asarray(t["ic"], dtype=np.float64) / tr.fs_hz
               for t, tr in zip(out["trials"], trials, strict=True)]
        entry = {**score_peer(trials, ics), "input": out["input"],
                 "wall_s": round(out["wall_s"], 4),
                 "time_ratio_peer_over_imurun": round(out["wall_s"] / ours_s, 2),
                 "failed_pieces": out["failed_pieces"]}
        entry.pop("lr_pct")
        entry.pop("lr_n")
        lr: dict[str, Any] = {}
        for clf in out.get("classifiers", ()):
            sides = [side_codes(t["lr"][clf]) for t in out["trials"]]
            m = score_peer(trials, ics, sides)
            lr[clf] = {"lr_pct": m["lr_pct"], "lr_n": m["lr_n"]}
            if clf in out["lr_wall_s"]:  # the pipeline's sides are timed within it
                lr[clf]["wall_s"] = round(out["lr_wall_s"][clf], 4)
        entry["lr"] = lr
        if "pipelines" in out:
            entry["pipelines"] = out["pipelines"]
        if out.get("errors"):
            entry["errors"] = out["errors"]
        peers[det] = entry
    res["peers"] = peers
    return res


def run() -> dict[str, Any]:
    """Score imurun and mobgap on both walking data sets; see the module doc."""
    from imurun.validation.datasets import MERGE_REFERENCE_IC_S
    from imurun.validation.evaluate import TOLERANCE_S

    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "rules": {"tolerance_s": TOLERANCE_S["walking"],
                  "merge_reference_ic_s": MERGE_REFERENCE_IC_S,
                  "scored_by": "imurun.validation.evaluate.score_detections"},
        "in_sample": IN_SAMPLE_NOTE,
        "datasets": {name: _dataset(name) for name in DATASETS},
    }
    out["total_s"] = round(time.perf_counter() - t0, 1)
    return out


# ------------------------------------------------------------------------------ peer side
def _peer_main(src: str, dst: str) -> None:
    """In the bench environment: run mobgap on the arrays of ``src``, write JSON to ``dst``.

    Imports only NumPy, pandas and mobgap (not imurun).
    """
    import warnings

    import mobgap
    import pandas as pd
    from mobgap import initial_contacts as icd
    from mobgap import laterality as lrc

    d = np.load(src)
    meta = json.loads(str(d["meta"]))
    cols = ["acc_is", "acc_ml", "acc_pa", "gyr_is", "gyr_ml", "gyr_pa"]
    frames = [pd.DataFrame(np.hstack([d[f"acc{k}"], d[f"gyr{k}"]]), columns=cols)
              for k in range(len(meta))]
    detectors = {name: getattr(icd, name) for name in IC_DETECTORS}
    classifiers = {"LrcMcCamley": lambda: lrc.LrcMcCamley(),
                   "LrcUllrich": lambda: lrc.LrcUllrich(
                       **lrc.LrcUllrich.PredefinedParameters.msproject_all)}
    assert tuple(classifiers) == LR_CLASSIFIERS
    out: dict[str, Any] = {"mobgap_version": mobgap.__version__, "numpy": np.__version__,
                           "detectors": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mobgap warns about short sequences; results tell
        runs: dict[str, Any] = {name: (lambda c=cls: _peer_detector(c, classifiers, frames, meta))
                                for name, cls in detectors.items()}
        runs[PIPELINE] = lambda: _peer_pipeline(frames, meta)
        for name, go in runs.items():
            try:
                out["detectors"][name] = go()
            except Exception as e:  # noqa: BLE001 - a peer failing is a result, not a crash
                out["detectors"][name] = {"error": f"{type(e).__name__}: {e}"[:300]}
    Path(dst).write_text(json.dumps(out))


def _peer_detector(cls: Any, classifiers: dict[str, Any], frames: list[Any],
                   meta: list[dict[str, Any]]) -> dict[str, Any]:
    """One IC detector on every window piece, then each side classifier on its contacts."""
    fs0 = meta[0]["fs"]
    a, b = meta[0]["windows"][0]
    warm = cls().detect(frames[0].iloc[a:b], sampling_rate_hz=fs0).ic_list_
    for make in classifiers.values():  # warm-up, untimed (loads the pretrained model)
        make().predict(frames[0].iloc[a:b], warm, sampling_rate_hz=fs0)
    wall = 0.0
    lr_wall = dict.fromkeys(classifiers, 0.0)
    failed = 0
    trials = []
    for df, m in zip(frames, meta, strict=True):
        fs = m["fs"]
        ics: list[int] = []
        lrs: dict[str, list[str]] = {c: [] for c in classifiers}
        for lo, hi in m["windows"]:
            data = df.iloc[lo:hi]
            t0 = time.perf_counter()
            try:
                ic_list = cls().detect(data, sampling_rate_hz=fs).ic_list_
            except Exception:  # noqa: BLE001 - a piece the peer cannot process is a miss
                failed += 1
                continue
            finally:
                wall += time.perf_counter() - t0
            ics += [int(i) + lo for i in ic_list["ic"]]
            for c, make in classifiers.items():
                t0 = time.perf_counter()
                if len(ic_list):
                    lab = make().predict(data, ic_list, sampling_rate_hz=fs).ic_lr_list_
                    lrs[c] += [str(x) for x in lab["lr_label"]]
                lr_wall[c] += time.perf_counter() - t0
        trials.append({"ic": ics, "lr": lrs})
    return {"input": "reference windows", "wall_s": wall, "lr_wall_s": lr_wall,
            "failed_pieces": failed, "classifiers": list(classifiers), "trials": trials}


def _peer_pipeline(frames: list[Any], meta: list[dict[str, Any]]) -> dict[str, Any]:
    """mobgap's full pipeline (cohort-recommended variant) on each gap-free whole recording."""
    from mobgap.data import GaitDatasetFromData
    from mobgap.pipeline import MobilisedPipelineHealthy, MobilisedPipelineImpaired

    sensor_cols = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]  # = is, ml, pa

    def one(k: int, lo: int, hi: int) -> Any:
        m = meta[k]
        df = frames[k].iloc[lo:hi].reset_index(drop=True)
        df.columns = sensor_cols
        ds = GaitDatasetFromData(
            {(m["trial"], lo): {"LowerBack": df}}, m["fs"],
            {(m["trial"], lo): {"cohort": m["cohort"], "height_m": m["height_m"],
                                "sensor_height_m": m["sensor_height_m"]}},
            {(m["trial"], lo): {"measurement_condition": "laboratory"}},
            index_cols=["trial", "start"])
        pipe = (MobilisedPipelineImpaired() if m["cohort"] in ("MS", "PD", "PFF")
                else MobilisedPipelineHealthy())
        return pipe.safe_run(ds[0]), type(pipe).__name__

    lo, hi = meta[0]["segments"][0]
    one(0, lo, hi)  # warm-up, untimed
    wall, failed, trials = 0.0, 0, []
    used: dict[str, int] = {}
    errors: list[str] = []
    for k, m in enumerate(meta):
        ics: list[int] = []
        lrs: list[str] = []
        for lo, hi in m["segments"]:
            t0 = time.perf_counter()
            try:
                pipe, which = one(k, lo, hi)
            except Exception as e:  # noqa: BLE001 - a recording the peer cannot process
                failed += 1
                errors.append(f"{m['trial']}: {type(e).__name__}: {e}"[:200])
                continue
            finally:
                wall += time.perf_counter() - t0
            used[which] = used.get(which, 0) + 1
            ic = pipe.raw_ic_list_
            if len(ic):
                ics += [int(i) + lo for i in ic["ic"]]
                lrs += [str(x) for x in ic["lr_label"]]
        trials.append({"ic": ics, "lr": {"pipeline": lrs}})
    return {"input": "whole recording (own gait sequence detection)", "wall_s": wall,
            "lr_wall_s": {}, "failed_pieces": failed,
            "classifiers": ["pipeline"], "pipelines": used, "errors": errors[:5],
            "trials": trials}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer":
        _peer_main(sys.argv[2], sys.argv[3])
        sys.exit(0)
    print(json.dumps(run(), indent=2))
