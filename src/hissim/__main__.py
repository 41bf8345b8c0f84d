"""``python -m hissim``."""

import sys

from hissim.cli import main

sys.exit(main())
