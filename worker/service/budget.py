"""How many bytes of input the worker holds at once: a bound in bytes beside faust's in counts.

faust buffers a stream by *count* (`stream_buffer_maxsize`), and the agent's take, its batch
window and the batches in flight hold up to `batch_size` messages each. With articles of a few
KB that is a few MB; with articles of megabytes (a burst of long pages, all within
NEWSWORKER_MAX_MESSAGE_BYTES) the same counts held gigabytes: 200 articles of ~4 MB took the
worker and its prepare processes to 1.4 GB, over the Kubernetes manifest's 1 GiB limit, and a
worker killed for memory gets the same messages again after its restart: a crash loop
(docs/RELIABILITY.md). Two bounds of `limit` bytes each, so memory follows bytes, not counts:

- `ByteBoundedQueue`: faust's stream buffer (the consumer's side) also counts as full at `limit`
  bytes of message values. The consumer then waits to hand over more, as when it is full by count.
- `ByteBudget`: what the agent has taken and not yet delivered (the take buffer, the window, the
  batches in flight). The stream admits an event only while the budget has room (a processor of
  the stream, `admit`), and the agent gives the bytes back when the batch is delivered
  (`release`).

Both always take one message when they hold nothing, so a message larger than `limit` passes
alone instead of wedging the worker. Ordinary traffic never reaches either bound: they cost one
length and one comparison per message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mode.utils.queues import ThrowableQueue


def message_bytes(item: Any) -> int:
    """The size of an event's message value (0 for anything else a faust queue may hold)."""
    message = getattr(item, "message", None)
    value = getattr(message, "value", None)
    return len(value) if isinstance(value, bytes | bytearray | str) else 0


class ByteBudget:
    """Bytes taken and not yet given back, at most `limit` (or one message, when nothing is held)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.held = 0
        self._waiting = 0
        self._room = asyncio.Event()
        self._room.set()

    @property
    def exhausted(self) -> bool:
        """True when no more may come until bytes are given back: the limit is reached, or a
        message waits for room (it did not fit beside what is held)."""
        return self.held >= self.limit or self._waiting > 0

    def fits(self, size: int) -> bool:
        return self.held == 0 or self.held + size <= self.limit

    def try_acquire(self, size: int) -> bool:
        """Take `size` bytes if they fit now."""
        if self.fits(size):
            self.held += size
            return True
        return False

    async def acquire(self, size: int) -> None:
        """Take `size` bytes, waiting until they fit."""
        self._waiting += 1
        try:
            while not self.fits(size):
                self._room.clear()
                await self._room.wait()
        finally:
            self._waiting -= 1
        self.held += size

    def release(self, size: int) -> None:
        self.held = max(0, self.held - size)
        self._room.set()


class ByteBoundedQueue(ThrowableQueue[Any]):
    """faust's flow-control queue (`App.FlowControlQueue`), also full at `limit` bytes of values."""

    def __init__(self, *args: Any, byte_limit: int, **kwargs: Any) -> None:
        if byte_limit < 1:
            raise ValueError("byte_limit must be >= 1")
        self.byte_limit = byte_limit
        self.bytes = 0
        super().__init__(*args, **kwargs)

    def full(self) -> bool:
        # bytes >= byte_limit >= 1 means at least one message is in: an empty queue takes one
        return super().full() or self.bytes >= self.byte_limit

    def _put(self, item: Any) -> None:
        super()._put(item)  # type: ignore[misc]
        self.bytes += message_bytes(item)

    def _get(self) -> Any:
        item = super()._get()  # type: ignore[misc]
        self.bytes = max(0, self.bytes - message_bytes(item))
        return item

    def clear(self) -> None:
        super().clear()
        self.bytes = 0
