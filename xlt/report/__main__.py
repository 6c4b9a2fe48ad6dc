"""``python -m xlt.report DIR``."""

import sys

from xlt.report.writer import main

sys.exit(main())
