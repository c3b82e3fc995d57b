"""The worker's one error taxonomy, and the one function that maps an exception to an action.

- `PoisonInput`: the message itself is bad (not JSON, not UTF-8, wrong types, no text, too big).
  Retrying cannot help: it becomes a dead letter with `reason` and the agent moves on.
- `TransientError`: something outside the message is down or slow (Redis, the broker). The batch
  is retried with back-off and consumption pauses; nothing is committed past it.
- `ConfigurationError`: found at start (a topic that does not exist); the worker refuses to start.
- anything else is a bug: it is logged loudly and the process crashes, so that the orchestrator
  restarts it and the uncommitted batch is redelivered (at-least-once; dedup makes replays harmless).
"""

from __future__ import annotations

import enum


class NewsworkerError(Exception):
    """Base of every error the worker raises on purpose."""


class PoisonInput(NewsworkerError):
    """The message cannot be processed, ever. `reason` is a short, bounded class for metrics."""

    def __init__(self, reason: str, message: str, *, article_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.article_id = article_id  # when the message could be parsed far enough to know it


class TransientError(NewsworkerError):
    """A dependency failed; the same work may succeed later."""


class DedupStoreUnavailable(TransientError):
    """Redis could not be reached or answered with a connection-level error."""


class DedupStoreRefused(DedupStoreUnavailable):
    """Redis answered but refused the command for now: full (`oom`: `maxmemory` reached under
    `noeviction`), a read-only replica after a failover (`readonly`), still loading its data
    (`loading`), busy with a long script (`busy`), failing to persist (`misconf`), a cluster
    reconfiguring, or a cluster node taken for a single server (`cluster`), an ACL that denies
    the worker's user a command or its keys (`noperm`), a database number in the Redis URL that
    the server does not have (`db`), a URL that names no writable Redis primary (`server`: a
    Sentinel's port, a server in protected mode, another service). It passes once an operator
    or the server fixes the cause, so it is retried like an outage; `kind` (one of
    `REFUSAL_KINDS`) says which, for metrics and logs.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: The `DedupStoreRefused.kind` values (a closed set: a metric label).
REFUSAL_KINDS = (
    "oom", "readonly", "loading", "busy", "misconf", "cluster", "noperm", "db", "server", "replicas", "auth",
)  # fmt: skip

#: What an operator does about each kind of refusal (`DedupStoreRefused.kind`), for the log line.
REFUSAL_HINTS: dict[str, str] = {
    "oom": "Redis is full (used_memory reached maxmemory under noeviction): raise maxmemory "
    "(CONFIG SET works live); a shorter NEWSWORKER_DEDUP_WINDOW_SECONDS frees memory only as "
    "older generations expire (docs/DEDUP.md sizes the index)",
    "readonly": "Redis is a read-only replica (a failover?): point NEWSWORKER_REDIS_URL at the primary",
    "loading": "Redis is loading its data set",
    "busy": "Redis is busy running a script",
    "misconf": "Redis cannot persist to disk and refuses writes (stop-writes-on-bgsave-error)",
    "cluster": "the Redis cluster is down or resharding; or NEWSWORKER_REDIS_CLUSTER does not match the "
    "server: true for a Redis Cluster (its nodes answer MOVED), false for a single server (\"cluster "
    "mode is not enabled\"); set it and restart",
    "noperm": "the Redis ACL denies the worker's user a command or a key it needs: grant what "
    "deploy/README.md, \"A Redis user for the worker\", lists (keys under NEWSWORKER_REDIS_KEY_PREFIX)",
    "db": "NEWSWORKER_REDIS_URL names a database number (its /N) the server does not have (its "
    "`databases` setting, 16 by default; a Redis Cluster has only 0): fix the URL and restart",
    "server": "NEWSWORKER_REDIS_URL names no Redis primary the worker can write to: a Sentinel's port "
    "(name the primary's address), a Redis in protected mode (bind it to the worker's network and set "
    "a password), or another service: fix the URL and restart",
    "replicas": "Redis refuses writes until enough replicas acknowledge them (its min-replicas-to-write "
    "and min-replicas-max-lag): bring the replicas back, or lower the setting",
    "auth": "Redis refuses the worker's credentials (a rotated password, a removed or disabled ACL user): "
    "NEWSWORKER_REDIS_PASSWORD_FILE is read again at every new connection (unless NEWSWORKER_REDIS_URL "
    "names the user: set NEWSWORKER_REDIS_USERNAME instead), so updating the file (a Kubernetes Secret) "
    "is enough; a password in NEWSWORKER_REDIS_PASSWORD or the URL needs a restart with the new one",
}


class PublishFailed(TransientError):
    """An output could not be published; offsets must not move past it."""


class ConfigurationError(NewsworkerError):
    """The worker is configured for something that is not there (e.g. a misspelled topic).

    Raised at start, before any message is read; the command line prints it and exits 2.
    """


class Action(enum.Enum):
    DEAD_LETTER = "dead_letter"
    RETRY = "retry"
    CRASH = "crash"


def action_for(exc: BaseException) -> Action:
    """What the agent does about `exc`. Tested as a table in tests/unit/test_errors.py."""
    if isinstance(exc, PoisonInput):
        return Action.DEAD_LETTER
    if isinstance(exc, TransientError):
        return Action.RETRY
    # Connection problems surfacing from client libraries without our wrapping.
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return Action.RETRY
    return Action.CRASH
