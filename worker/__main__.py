"""`python -m worker ...` is `newsworker ...`."""

import sys

from worker.cli import main

sys.exit(main())
