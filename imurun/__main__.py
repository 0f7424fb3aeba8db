"""``python -m imurun`` is the ``imurun`` command."""

import sys

from imurun.cli import main

sys.exit(main())
