"""``python -m imurun`` is the ``imurun`` command."""

import sys

from imurun._entry import main

sys.exit(main())
