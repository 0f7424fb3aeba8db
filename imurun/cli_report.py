"""The report commands of ``imurun``: ``report`` and ``weekly`` (parse, call, print).

Registered by :func:`add_report_commands`; errors and exit codes are those of
:mod:`imurun.cli`. The work is done by :mod:`imurun.report.run_report` and
:mod:`imurun.report.weekly`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def cmd_report(a: argparse.Namespace) -> int:
    """``imurun report RUN``: a library run (id prefix or ``latest``), or any analysable file."""
    from imurun.cli import check_output, writing
    from imurun.report.run_report import report_path, write_run_report

    p = Path(a.run)
    home = getattr(a, "home", None)
    if p.is_dir():  # a phone's export folder is a recording; any other folder is refused
        from imurun.ingest.files import sniff

        sniff(p)
    is_file = p.is_file() or p.is_dir()
    if a.out is not None:
        check_output(a.out, option="--out", inputs=[p] if is_file else [], home=home)
    if is_file:  # a bare file: analysis JSON or a recording, no library, no baseline
        if a.out is None:  # beside the file, but never among a library's own files
            check_output(p.with_suffix(".report.html"), option="the default report file (see --out)",
                         home=home)
        return _report_file(p, a.out)
    if "/" in a.run or os.sep in a.run or "." in a.run:  # meant as a file: a run id is hex
        from imurun.errors import FileFormatError

        raise FileFormatError(str(p), "cannot read: " + ("a directory, not a file" if p.exists()
                                                         else "No such file or directory"))
    from imurun.cli_progress import counter
    from imurun.store.library import Library

    with Library.open(getattr(a, "home", None), create=False, progress=counter) as lib:
        run = lib.run(a.run)
        target = Path(a.out) if a.out is not None else report_path(lib.root, run.id)
        with writing(target):
            out = write_run_report(lib, run, target)
    _say(f"wrote {out} (run {run.short_id}{', ' + run.athlete_name if run.athlete_name else ''})")
    return EXIT_OK


def _report_file(p: Path, out: str | None) -> int:
    from imurun.cli import writing
    from imurun.report.run_report import ReportContext, render_run_report
    from imurun.signal.results import RunAnalysis
    from imurun.store._files import atomic_write_bytes

    if p.suffix.lower() == ".json":
        from imurun.errors import FileFormatError, SignalError

        try:
            result = RunAnalysis.from_json(p.read_bytes())
        except (SignalError, KeyError, TypeError, ValueError, AttributeError) as e:
            # (AttributeError: an object where the schema has another kind of value, as
            # imurun.analysis.load_analysis catches too)
            reason = e.args[0] if isinstance(e, SignalError) else f"missing or bad {e}"
            raise FileFormatError(str(p), f"not an imurun analysis ({reason})") from e
    else:
        from imurun.analysis import analyze

        result = analyze(p)
    target = Path(out) if out else p.with_suffix(".report.html")
    page = render_run_report(result, ReportContext(file_name=p.name)).encode("utf-8")
    with writing(target):
        atomic_write_bytes(target, page)
    _say(f"wrote {target}")
    return EXIT_OK


def cmd_weekly(a: argparse.Namespace) -> int:
    from imurun.cli import check_output, writing
    from imurun.cli_progress import counter
    from imurun.report.weekly import IsoWeek, weekly_summary, write
    from imurun.store._files import atomic_write_bytes
    from imurun.store.library import Library

    if a.out is not None:
        check_output(a.out, option="--out", home=getattr(a, "home", None))
    week = IsoWeek.parse(a.week)
    with Library.open(getattr(a, "home", None), create=False, progress=counter) as lib:
        summary = weekly_summary(lib, week, athletes=a.athlete or None)
        root = lib.root
    text = write(summary, a.format)
    if a.out is None and a.format != "html":
        sys.stdout.write(text)
        if summary.outdated_note:  # standard output is the CSV or JSON itself
            print(f"imurun: note: {summary.outdated_note}", file=sys.stderr)
        return EXIT_OK
    # a summary of some athletes never takes the place of the whole team's
    who = "".join(f"-{_slug(x.name)}" for x in summary.athletes) if a.athlete else ""
    out = Path(a.out) if a.out else root / "reports" / f"weekly-{week.label}{who}.html"
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, text.encode("utf-8"))
    checks = [x.name for x in summary.athletes if x.attention == "check_in"]
    _say(f"wrote {out}: week {week.label}, {len(summary.athletes)} athlete(s), "
         f"{sum(x.runs for x in summary.athletes)} run(s)"
         + (f"; check in with {', '.join(checks)}" if checks else ""))
    if summary.outdated_note:
        _say(summary.outdated_note)
    return EXIT_OK


def _slug(name: str) -> str:
    """A name as a safe file-name part (letters, digits, ``-``, ``_``)."""
    out = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip())
    return out[:40] or "athlete"


def add_report_commands(sub: Any) -> None:
    """Add ``report`` and ``weekly`` to ``imurun``'s subparsers."""
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", default=argparse.SUPPRESS, metavar="DIR",
                      help="library directory (default: $IMURUN_HOME or the user data directory)")
    s = sub.add_parser("report", parents=[home], help="write a run's report (one HTML file)")
    s.add_argument("run", help="run id (4+ leading hex digits) or 'latest'; or a file (an "
                               "analysis JSON or any recording, a phone's export folder too) to "
                               "report without the library")
    s.add_argument("--out", default=None, metavar="FILE",
                   help="HTML file to write (default: HOME/reports/run-<id>.html; for a "
                        "file, NAME.report.html beside it)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("weekly", parents=[home],
                       help="the coach's weekly summary: every athlete, check-ins first")
    s.add_argument("--week", default="this", metavar="YYYY-Www",
                   help="ISO week, e.g. 2026-W47, or 'this' (default) / 'last'")
    s.add_argument("--athlete", action="append", metavar="NAME",
                   help="only this athlete (name or id; repeatable)")
    s.add_argument("--format", choices=("html", "csv", "json"), default="html",
                   help="html (default), csv or json (docs/reports.md)")
    s.add_argument("--out", default=None, metavar="PATH",
                   help="file to write (default: HOME/reports/weekly-<week>[-<names>].html for html, "
                        "standard output for csv and json)")
    s.set_defaults(func=cmd_weekly)
