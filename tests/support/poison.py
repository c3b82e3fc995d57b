"""Stand-ins for inputs that break a prepare process from below Python (a crash in native code, a
parse that does not end): `Preparer(remote=...)` runs these in its processes instead of the real
stage function. A chunk holding a marked message dies or hangs exactly as such an input would
make it; any other chunk is prepared for real."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from worker.service.preparer import _prepare_remote

#: In a message's bytes: the process preparing it is killed by a signal, as a segfault would.
CRASH = b"@@crash-the-prepare-process@@"
#: In a message's bytes: the process preparing it never finishes.
HANG = b"@@hang-the-prepare-process@@"


def prepare_or_break(wires: list[Any], **kwargs: Any) -> Any:
    for value, *_ in wires:  # the first marked message in the chunk breaks it
        if CRASH in value:
            os.kill(os.getpid(), signal.SIGSEGV)
        if HANG in value:
            while True:
                time.sleep(1)
    return _prepare_remote(wires, **kwargs)
