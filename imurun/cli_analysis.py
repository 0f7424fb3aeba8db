"""The analysis commands of ``imurun``: ``analyze`` and ``stream --live`` (parse, call, print).

Registered by :func:`add_analysis_commands`; errors and exit codes are those of
:mod:`imurun.cli`. The work is done by :func:`imurun.analysis.analyze` and
:class:`imurun.analysis_live.LiveStreamHook`.
"""

from __future__ import annotations

import argparse
from typing import Any

from imurun.errors import UsageError

EXIT_OK = 0


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def _columns(text: str) -> dict[str, str]:
    from imurun.ingest.columns import ColumnError, parse_mapping

    try:
        return parse_mapping(text)
    except ColumnError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def add_file_options(s: argparse.ArgumentParser) -> None:
    """Options of commands that read a data file: units and CSV columns."""
    s.add_argument("--acc-unit", choices=("m/s2", "g"), default=None,
                   help="acceleration unit of a CSV or Xsens file (default: what the column "
                        "names say, else m/s2)")
    s.add_argument("--gyr-unit", choices=("rad/s", "deg/s"), default=None,
                   help="angular rate unit of a CSV or Xsens file (default: what the column "
                        "names say, else rad/s)")
    s.add_argument("--columns", type=_columns, default=None, metavar="KEY=NAME,...",
                   help="CSV columns when the header names do not say them, e.g. "
                        "time=Timestamp,acc_x=AX,acc_y=AY,acc_z=AZ (keys: time, acc_x..z, "
                        "gyr_x..z)")
    s.add_argument("--time-unit", choices=("s", "ms", "us", "ns"), default=None,
                   help="unit of a CSV time column of numbers (default: its name, else seconds "
                        "unless only ms, us or ns give a plausible sample rate; a unit that "
                        "gives a rate outside 5 Hz-5 kHz is refused)")


def file_options(a: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`imurun.ingest.files.load_recording` from the options."""
    return {"acc_unit": a.acc_unit, "gyr_unit": a.gyr_unit, "columns": a.columns,
            "time_unit": a.time_unit}


def cmd_analyze(a: argparse.Namespace) -> int:
    from imurun.analysis import analyze, format_report, write_analysis_json, write_steps_csv
    from imurun.cli import check_output, same_file

    inputs = [a.file, *([a.baseline] if a.baseline else [])]
    if a.json:
        check_output(a.json, option="--json", inputs=inputs)
    if a.steps_csv:
        check_output(a.steps_csv, option="--steps-csv", inputs=inputs)
        if a.json and same_file(a.json, a.steps_csv):
            raise UsageError("--json and --steps-csv name the same file: give two file names")
    result = analyze(a.file, mass_kg=a.mass_kg, baseline=a.baseline, **file_options(a))
    _say(format_report(result))
    if a.json:
        write_analysis_json(result, a.json)
        _say(f"\nwrote the analysis to {a.json}")
    if a.steps_csv:
        n = write_steps_csv(result, a.steps_csv)
        _say(f"wrote {n} steps to {a.steps_csv}")
    return EXIT_OK


def live_hook(a: argparse.Namespace) -> Any:
    """The ``on_event`` hook for ``imurun stream|replay --live`` (``None`` without ``--live``)."""
    if not getattr(a, "live", False):
        return None
    from imurun.analysis_live import LiveStreamHook

    return LiveStreamHook(lambda line: _say(f"  {line}"), report_every_s=a.live_every)


def positive_number(s: str) -> float:
    try:
        v = float(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError("expected a number") from e
    if not v > 0:
        raise argparse.ArgumentTypeError("expected a positive number")
    return v


def add_analysis_commands(sub: Any) -> None:
    """Add ``analyze`` and the ``--live`` option of ``stream`` and ``replay`` to ``imurun``."""
    s = sub.add_parser("analyze", help="analyse a run: steps, summary, form indicators")
    s.add_argument("file", help="any supported file (session, stored run, CSV, Xsens text, "
                                "phyphox or Sensor Logger export: folder, zip or one of its "
                                "files)")
    s.add_argument("--json", metavar="OUT", default=None,
                   help="write the analysis (imurun.analysis/1 JSON)")
    s.add_argument("--steps-csv", metavar="OUT", default=None, help="write one row per step")
    add_file_options(s)
    s.add_argument("--mass-kg", type=positive_number, default=None,
                   help="body mass (enables vertical stiffness)")
    s.add_argument("--baseline", metavar="JSON", default=None,
                   help="an earlier analysis of the same runner to compare the indicators with")
    s.set_defaults(func=cmd_analyze)
    for name in ("stream", "replay"):
        cmd = sub.choices.get(name)
        if cmd is None:
            raise UsageError(f"the {name} command must be registered before the analysis "
                             "commands")
        cmd.add_argument("--live", action="store_true",
                         help="print rolling cadence, contact time and bounce while "
                              f"{'streaming' if name == 'stream' else 'replaying'}")
        cmd.add_argument("--live-every", type=positive_number, default=5.0, metavar="S",
                         help="seconds between live lines (default 5)")
