"""``python -m gan_l2_lib sweep ...``: see ``gan_l2_lib.sweep.main``."""

import sys

from .sweep import main

sys.exit(main())
