"""``python -m confine``: the same as the ``confine`` command."""

import sys

from confine.cli import main

sys.exit(main())
