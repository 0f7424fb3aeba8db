"""Test-wide configuration.

Hypothesis runs derandomised and without an example database by default, so every CI run (and
every developer's run) tries the same examples and a failure reproduces. For a wider local
search: ``HYPOTHESIS_PROFILE=explore pytest``.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

from hypothesis import settings

# garmin-fit-sdk (a dev dependency) installs a top-level package named "tests" into
# site-packages, which would shadow this directory for ``from tests.sim_support import ...``.
# Bind the name to this directory before any test module is imported.
_here = Path(__file__).resolve().parent
if getattr(sys.modules.get("tests"), "__path__", [None])[0] != str(_here):
    _pkg = types.ModuleType("tests")
    _pkg.__path__ = [str(_here)]
    sys.modules["tests"] = _pkg
if str(_here) not in sys.path:
    sys.path.insert(0, str(_here))  # helper modules are also imported by bare name

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
