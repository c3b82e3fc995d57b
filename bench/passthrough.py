"""The transport's ceiling: a bare Faust agent that only forwards messages, run like the worker.

Same Faust settings as the worker (`worker.service.app.faust_options` from the same `NEWSWORKER_*`
environment), the same app class (`new_faust_app`: the worker's consumer hand-off and monitor,
worker/service/consumer.py, and its fetch wait), same batching
(`stream.take_events(batch_size, within=batch_timeout)`), same way of publishing (one
`producer.send` per message, then every delivery of the batch awaited before the next batch is
taken). It does no other work: each input message goes, key and value unchanged, to the clean
topic. Whatever throughput it reaches is what Faust, aiokafka and the
broker allow on this machine; the worker is measured as a share of it.

Run as a process: `python bench/passthrough.py` (settings from the environment, as the worker).
With `BENCH_PRODUCER=faust-default` it keeps Faust's own producer batching (aiokafka's 16 KiB
batches) instead of the worker's: the reference the throughput target was first stated against.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faust

from worker.config import Settings
from worker.service.app import faust_options, new_faust_app


def build_app(settings: Settings) -> faust.App:
    options = faust_options(settings)
    if os.environ.get("BENCH_PRODUCER") == "faust-default":
        options.pop("producer_max_batch_size")
    app = new_faust_app(settings, options)  # the worker's fetch wait too
    source = app.topic(settings.input_topic, value_serializer="raw", key_serializer="raw", allow_empty=True)

    @app.agent(source, name="bench.passthrough")
    async def forward(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_seconds):
            producer = app.producer
            pending = []
            for event in events:
                message = event.message
                pending.append(
                    await producer.send(
                        settings.clean_topic,
                        message.key,
                        message.value,
                        partition=None,
                        timestamp=None,
                        headers=None,
                    )
                )
            await asyncio.gather(*pending)

    return app


def main() -> None:
    app = build_app(Settings())
    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
