"""Kill ``imurun`` at a chosen point inside it, as SIGKILL or a power cut would.

:func:`run_killed` runs ``python -m imurun ARGS`` in a subprocess whose ``os.replace`` (or
``os.fsync``, ``os.rename``...) ends the process with ``os._exit`` at the ``nth`` call whose
first argument names ``match``: no ``finally`` block, no clean-up, exactly what a killed
process leaves. A call to ``COMMIT`` of the index can be named too (``call="COMMIT"``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_KILLER = r"""
import os, sqlite3, sys
call, match, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = 0

def hit(arg):
    global seen
    if match in str(arg):
        seen += 1
        if seen == nth:
            os._exit(137)

if call == "COMMIT":
    class Conn(sqlite3.Connection):
        def execute(self, sql, *a):
            if sql.strip().upper().startswith("COMMIT"):
                hit("COMMIT")
            return super().execute(sql, *a)
    _connect = sqlite3.connect
    def connect(*a, **k):
        k.setdefault("factory", Conn)
        return _connect(*a, **k)
    sqlite3.connect = connect
else:
    orig = getattr(os, call)
    def killer(*a, **k):
        hit(a[0] if a else "")
        return orig(*a, **k)
    setattr(os, call, killer)

from imurun.cli import main
sys.exit(main(sys.argv[4:]))
"""

KILLED = 137


def run_killed(args: Sequence[str], *, call: str, match: str, nth: int = 1,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``imurun ARGS`` killed at the ``nth`` ``os.<call>`` naming ``match`` (exit 137 if reached)."""
    root = str(Path(__file__).resolve().parents[1])
    e = {**os.environ, **(env or {})}
    e["PYTHONPATH"] = os.pathsep.join(p for p in (root, e.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-c", _KILLER, call, match, str(nth), *args],
                          capture_output=True, text=True, timeout=120, env=e)
