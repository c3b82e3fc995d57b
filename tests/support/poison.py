"""Stand-ins for inputs that break a prepare process from below Python (a crash in native code, a
parse that does not end): `Preparer(remote=...)` runs these in its processes instead of the real
stage function. A chunk holding a marked message dies or hangs exactly as such an input would
make it; any other chunk is prepared for real."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from worker.service.preparer import _prepare_remote

#: In a message's bytes: the process preparing it is killed by a signal, as a segfault would.
CRASH = b"@@crash-the-prepare-process@@"
#: In a message's bytes: the process preparing it never finishes.
HANG = b"@@hang-the-prepare-process@@"
#: In a message's bytes, before "N:<a file's path>@@": the process preparing it dies the first N
#: times (as one the kernel's OOM killer picked would); the file counts the deaths.
CRASH_TIMES = b"@@crash-times:"


def prepare_or_break(wires: list[Any], **kwargs: Any) -> Any:
    for value, *_ in wires:  # the first marked message in the chunk breaks it
        if CRASH in value:
            os.kill(os.getpid(), signal.SIGSEGV)
        if HANG in value:
            while True:
                time.sleep(1)
        if CRASH_TIMES in value:
            times, path = value.split(CRASH_TIMES, 1)[1].split(b"@@", 1)[0].decode().split(":", 1)
            died = int(Path(path).read_text()) if Path(path).exists() else 0
            if died < int(times):
                Path(path).write_text(str(died + 1))
                os.kill(os.getpid(), signal.SIGSEGV)
    return _prepare_remote(wires, **kwargs)
