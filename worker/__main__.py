"""`python -m worker ...` is `newsworker ...`."""

import sys

from worker.cli import main

# Guarded: the prepare processes (worker/service/preparer.py) are spawned, and a spawned process imports
# the parent's main module again, as `__mp_main__`.
if __name__ == "__main__":
    sys.exit(main())
