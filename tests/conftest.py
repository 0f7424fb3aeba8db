"""Test-wide configuration.

Hypothesis runs derandomised and without an example database by default, so every CI run (and
every developer's run) tries the same examples and a failure reproduces. For a wider local
search: ``HYPOTHESIS_PROFILE=explore pytest``.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
