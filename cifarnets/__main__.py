"""``python -m cifarnets``: the same as the ``cifarnets`` command."""

import sys

from .cli import main

sys.exit(main())
