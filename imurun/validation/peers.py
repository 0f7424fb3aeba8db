"""The section of ``docs/validation.md`` on published lower-back detectors (mobgap).

The numbers come from the ``walking_peers`` entry of ``benchmarks/results/latest.json``, which
``make bench`` (``benchmarks/walking_peers.py``) measures in the benchmark environment: mobgap
is a benchmark-only peer, not installed where ``make validate`` runs. This module only reads
and renders that entry; when it is absent (or the peer was skipped) the section says "not
measured". Every number shown is read from the entry; nothing is typed by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imurun.validation._markdown import table as _table
from imurun.validation.evaluate import TARGETS

__all__ = ["BENCH_RESULTS", "load_walking_peers", "walking_peers_limits", "walking_peers_section"]

#: The committed benchmark results (``make bench`` writes them).
BENCH_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "latest.json"

TITLE = "Published lower-back detectors on the same recordings"
_DATASETS = ("mobgap_lab", "voisard_ipol")
_CLASSIFIERS = ("LrcMcCamley", "LrcUllrich")


def load_walking_peers(path: Path | None = None) -> dict[str, Any] | None:
    """The ``walking_peers`` entry of the benchmark results with its measurement stamp.

    ``None`` when the file or the entry is missing. The stamp (``utc``, ``imurun_version``)
    is the entry's own ``measured`` when it was merged in alone, else the file's header.
    """
    p = BENCH_RESULTS if path is None else Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = doc.get("results", {}).get("walking_peers")
    if not isinstance(entry, dict):
        return None
    stamp = entry.get("measured") or {k: doc.get(k) for k in ("utc", "imurun_version",
                                                              "python")}
    return {**entry, "measured": stamp}


def _num(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    return f"{x:.1f}{unit}"


def _measured(ds: Mapping[str, Any]) -> bool:
    peers = ds.get("peers")
    return isinstance(peers, dict) and "skipped" not in peers and bool(peers)


def _version(entry: Mapping[str, Any]) -> str | None:
    for ds in entry.get("datasets", {}).values():
        if isinstance(ds, dict) and "mobgap" in ds:
            return str(ds["mobgap"].get("mobgap_version"))
    return None


def _rows(ds: Mapping[str, Any]) -> list[list[str]]:
    ours = ds["imurun"]
    rows = [["imurun", ours.get("input", ""), _num(ours["precision_pct"]),
             _num(ours["recall_pct"]), _num(ours["f1_pct"]), _num(ours["bias_ms"]),
             _num(ours.get("sd_ms")), _num(ours["mae_ms"]), _num(ours["lr_pct"]), "–", "–",
             "1"]]
    for name, p in ds["peers"].items():
        if "error" in p:
            rows.append([name, "failed: " + str(p["error"])[:80], *["–"] * 10])
            continue
        lr = p.get("lr", {})
        own = lr.get("pipeline", {}).get("lr_pct")
        cls = [_num(lr.get(c, {}).get("lr_pct")) if c in lr else "–" for c in _CLASSIFIERS]
        if own is not None:  # the full pipeline classifies with LrcUllrich (msproject_all)
            cls = ["–", _num(own)]
        rows.append([name, p.get("input", ""), _num(p["precision_pct"]),
                     _num(p["recall_pct"]), _num(p["f1_pct"]), _num(p["bias_ms"]),
                     _num(p.get("sd_ms")), _num(p["mae_ms"]), "–", *cls,
                     f"{p['time_ratio_peer_over_imurun']:g}"])
    return rows


def _comparison(name: str, ds: Mapping[str, Any]) -> str:
    """Generated sentences: the best mobgap figures against imurun's, and where one is better."""
    ours = ds["imurun"]
    peers = {k: v for k, v in ds["peers"].items() if "error" not in v}
    if not peers:
        return f"On {name}, every mobgap method failed (see the table)."

    def best(key: str, higher: bool) -> tuple[str, float] | None:
        vals = [(k, float(v[key])) for k, v in peers.items() if v.get(key) is not None]
        if not vals:
            return None
        return (max if higher else min)(vals, key=lambda kv: kv[1])

    lr = [(f"{k} + {c}", float(m["lr_pct"])) for k, v in peers.items()
          for c, m in v.get("lr", {}).items() if m.get("lr_pct") is not None]
    parts = []
    for key, label, unit, higher in (("f1_pct", "IC F1", " %", True),
                                     ("mae_ms", "IC MAE", " ms", False)):
        got = best(key, higher)
        if got is not None:
            parts.append(f"{label} {_num(got[1])}{unit} ({got[0]}) against "
                         f"{_num(ours.get(key))}{unit}")
    if lr:
        k, x = max(lr, key=lambda kv: kv[1])
        parts.append(f"L/R {_num(x)} % ({k}) against {_num(ours.get('lr_pct'))} %")
    text = f"On {name}, mobgap's best: " + "; ".join(parts) + "."
    better: list[str] = []
    for key, label, higher in (("f1_pct", "IC F1", True), ("precision_pct", "precision", True),
                               ("recall_pct", "recall", True), ("mae_ms", "IC MAE", False),
                               ("sd_ms", "IC SD", False)):
        for peer, v in peers.items():
            a, b = v.get(key), ours.get(key)
            if a is not None and b is not None and (a > b if higher else a < b):
                better.append(f"{label} of {peer} ({_num(a)} against {_num(b)})")
    for k, x in lr:
        if ours.get("lr_pct") is not None and x > ours["lr_pct"]:
            better.append(f"L/R of {k} ({_num(x)} against {_num(ours['lr_pct'])} %)")
    if better:
        return text + " Better than imurun: " + "; ".join(better) + "."
    return text + " No mobgap method is better than imurun on any measure in the table."


def walking_peers_section(entry: Mapping[str, Any] | None) -> str:
    """Markdown of the section; ``entry`` from :func:`load_walking_peers` (``None``: absent)."""
    lines = [f"### {TITLE}", ""]
    add = lines.append
    datasets = {} if entry is None else entry.get("datasets", {})
    measured = {k: v for k, v in datasets.items() if k in _DATASETS and isinstance(v, dict)
                and "imurun" in v and _measured(v)}
    if not measured:
        why = ""
        if entry is not None:
            reasons = {str(v.get("peers", {}).get("skipped") or v.get("skipped"))
                       for v in datasets.values() if isinstance(v, dict)} - {"None"}
            why = f" ({'; '.join(sorted(reasons))})" if reasons else ""
        add("**Not measured**" + why + ". `make bench` measures mobgap's published detectors "
            "on these recordings (`benchmarks/walking_peers.py`; mobgap is installed only in "
            "the benchmark environment) and writes them to `benchmarks/results/latest.json`, "
            "from which this section is generated.")
        add("")
        return "\n".join(lines)
    assert entry is not None
    stamp = entry.get("measured", {})
    add(f"How do the maintained, published lower-back detectors do on exactly these "
        f"recordings, scored by exactly the rules above? Measured on {stamp.get('utc')} with "
        f"mobgap {_version(entry)} (Mobilise-D's open-source gait library) and imurun "
        f"{stamp.get('imurun_version')} by `benchmarks/walking_peers.py`; `make bench` "
        "remeasures it (this suite alone: `python -m benchmarks.run --merge walking_peers` "
        "with `IMURUN_BENCH_PYTHON` set to the benchmark environment). The numbers below are "
        "read from `benchmarks/results/latest.json`.")
    add("")
    add("* mobgap's IC detectors `IcdIonescu` (McCamley's CWT method as modified by Ionescu; "
        "the one mobgap's pipelines use), `IcdShinImproved` and `IcdHKLeeImproved` (Lee 2010, "
        "improved), at their defaults, run on each **reference evaluation window** (the same "
        "windows imurun is scored in), as mobgap evaluates its own IC detectors. This is "
        "generous to them: they are told where the walking is; imurun runs on the whole "
        "recording and finds it itself.")
    add("* Their contacts' sides from `LrcMcCamley` and `LrcUllrich` (pretrained "
        "`msproject_all`), on the same windows.")
    add("* `MobilisedPipeline`: mobgap's full pipeline on the whole recording with no reference "
        "window (its gait sequence detection, `IcdIonescu`, `LrcUllrich`): "
        "`MobilisedPipelineHealthy` for healthy adults, `MobilisedPipelineImpaired` for the "
        "participant with MS, as mobgap recommends. This is the like-for-like comparison.")
    add("* Inputs: the same levelled body-frame signals imurun gets, in mobgap's conventions "
        "(vertical, mediolateral and anteroposterior axes; m/s²; deg/s); the same references, "
        "matching and rules as the tables above. IC SD: the standard deviation of the matched "
        "errors (their spread once a constant offset is removed). Time ratio: the peer's wall time over "
        "imurun's for the same trials (imurun on the whole recordings, the window-based peers "
        "on the windows only), measured after an untimed warm-up.")
    add("")
    head = ["method", "input", "precision %", "recall %", "IC F1 %", "IC bias ms",
            "IC SD ms", "IC MAE ms", "L/R % (own)", "L/R % LrcMcCamley", "L/R % LrcUllrich",
            "time ratio"]
    for name, ds in measured.items():
        add(f"{name} ({ds['trials']} trials, {ds['imurun']['n_ref']} scored reference ICs):")
        add("")
        add(_table(head, _rows(ds)))
        add("")
    for name, ds in measured.items():
        add(_comparison(name, ds))
        add("")
    if entry.get("in_sample"):
        add("In-sample: " + str(entry["in_sample"]))
        add("")
    return "\n".join(lines)


def walking_peers_limits(entry: Mapping[str, Any] | None) -> str:
    """One generated bullet for the Limits: whether the published detectors meet the targets."""
    datasets = {} if entry is None else entry.get("datasets", {})
    measured = {k: v for k, v in datasets.items() if k in _DATASETS and isinstance(v, dict)
                and "imurun" in v and _measured(v)}
    if not measured:
        return ("* How mobgap's published lower-back detectors do on these recordings is not "
                "measured here (section \"" + TITLE + "\").")
    met: list[str] = []
    for t in TARGETS:
        ds = measured.get(t.dataset)
        if ds is None or t.key not in ("ic_f1", "ic_mae", "side"):
            continue
        for peer, v in ds["peers"].items():
            if "error" in v:
                continue
            if t.key == "side":
                vals = [m.get("lr_pct") for m in v.get("lr", {}).values()]
            else:
                vals = [v.get("f1_pct" if t.key == "ic_f1" else "mae_ms")]
            limit = t.limit * (100 if t.unit == "%" else 1e3)
            for x in vals:
                if x is not None and (x >= limit if t.op == ">=" else x <= limit):
                    met.append(f"{t.description} on {t.dataset} ({peer})")
    if met:
        return ("* Some walking targets are met by a published mobgap detector on these "
                "recordings: " + "; ".join(sorted(set(met))) + " (section \"" + TITLE + "\").")
    return ("* None of mobgap's published lower-back detectors (Mobilise-D) meets any of the "
            "walking targets (IC F1, IC MAE, left/right) on these recordings, scored by the "
            "same rules (section \"" + TITLE + "\"): the targets ask more than the "
            "maintained published methods achieve on these references.")
