"""The ``imurun`` console script: a Ctrl-C while the command is still loading exits cleanly.

The generated script imports this module and calls :func:`main`. Loading the command line
(and what it imports) takes a noticeable fraction of a second; a Ctrl-C then used to end in a
Python traceback. Here it is the same one-line message and exit status 130 as a Ctrl-C later.
``import imurun`` itself is kept light for the same reason (its exports load lazily).
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from imurun.cli import main as cli_main
    except KeyboardInterrupt:
        print("imurun: interrupted", file=sys.stderr)
        return 130
    return cli_main()
