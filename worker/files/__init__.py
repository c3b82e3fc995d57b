"""Files in and out of the pipeline without a stream: readers (`inputs`), the Kafka feeder
(`produce`) and offline dedup for backfills (`offline`, `newsworker dedup`).
"""
