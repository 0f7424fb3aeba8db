"""The analysis commands of ``imurun``: ``analyze`` and ``stream --live`` (parse, call, print).

Registered by :func:`add_analysis_commands`; errors and exit codes are those of
:mod:`imurun.cli`. The work is done by :func:`imurun.analysis.analyze` and
:class:`imurun.analysis_live.LiveStreamHook`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from imurun.errors import UsageError

EXIT_OK = 0


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def cmd_analyze(a: argparse.Namespace) -> int:
    from imurun.analysis import analyze, format_report, write_steps_csv

    result = analyze(a.file, mass_kg=a.mass_kg, acc_unit=a.acc_unit, gyr_unit=a.gyr_unit,
                     baseline=a.baseline)
    _say(format_report(result))
    if a.json:
        Path(a.json).write_text(result.to_json(indent=1) + "\n", encoding="utf-8")
        _say(f"\nwrote the analysis to {a.json}")
    if a.steps_csv:
        n = write_steps_csv(result, a.steps_csv)
        _say(f"wrote {n} steps to {a.steps_csv}")
    return EXIT_OK


def live_hook(a: argparse.Namespace) -> Any:
    """The ``on_event`` hook for ``imurun stream --live`` (``None`` without ``--live``)."""
    if not getattr(a, "live", False):
        return None
    from imurun.analysis_live import LiveStreamHook

    return LiveStreamHook(lambda line: _say(f"  {line}"), report_every_s=a.live_every)


def _positive(s: str) -> float:
    try:
        v = float(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError("expected a number") from e
    if not v > 0:
        raise argparse.ArgumentTypeError("expected a positive number")
    return v


def add_analysis_commands(sub: Any) -> None:
    """Add ``analyze`` and the ``--live`` option of ``stream`` to ``imurun``'s subparsers."""
    s = sub.add_parser("analyze", help="analyse a run: steps, summary, form indicators")
    s.add_argument("file", help="any supported file (session, stored run, CSV, Xsens text)")
    s.add_argument("--json", metavar="OUT", default=None,
                   help="write the analysis (imurun.analysis/1 JSON)")
    s.add_argument("--steps-csv", metavar="OUT", default=None, help="write one row per step")
    s.add_argument("--acc-unit", choices=("m/s2", "g"), default=None)
    s.add_argument("--gyr-unit", choices=("rad/s", "deg/s"), default=None)
    s.add_argument("--mass-kg", type=_positive, default=None,
                   help="body mass (enables vertical stiffness)")
    s.add_argument("--baseline", metavar="JSON", default=None,
                   help="an earlier analysis of the same runner to compare the indicators with")
    s.set_defaults(func=cmd_analyze)
    stream = sub.choices.get("stream")
    if stream is None:
        raise UsageError("the stream command must be registered before the analysis commands")
    stream.add_argument("--live", action="store_true",
                        help="print rolling cadence, contact time and bounce while streaming")
    stream.add_argument("--live-every", type=_positive, default=5.0, metavar="S",
                        help="seconds between live lines (default 5)")
