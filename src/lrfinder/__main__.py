"""``python -m lrfinder``: the same command line as ``lrfinder``."""

import sys

from .cli import main

sys.exit(main())
