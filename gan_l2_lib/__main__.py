"""``python -m gan_l2_lib sweep ...``: see ``gan_l2_lib.cli.main``."""

import sys

from .cli import main

sys.exit(main())
