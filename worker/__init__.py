"""newsworker: a streaming news-processing worker (Faust on Kafka, dedup state in Redis)."""

__version__ = "0.1.0"
