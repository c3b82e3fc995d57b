"""The producer's partitioner: Kafka's default, hashed in compiled code.

The Java client's default partitioner (and aiokafka's `DefaultPartitioner`) sends a keyed message to
partition `(murmur2(key) & 0x7fffffff) % partition count`, murmur2 with the seed 0x9747b28c.
aiokafka computes murmur2 in pure Python, ~4 µs for an article id; the `murmurhash2` package's
compiled one takes ~0.2 µs and gives the same hash (tests/unit/service/test_partitioner.py checks it
against aiokafka's on random keys), so every output keeps the partition any Kafka client would
choose for its key. Keyless messages go where aiokafka's default sends them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner
from murmurhash2 import murmurhash2

#: Kafka's murmur2 seed (org.apache.kafka.common.utils.Utils.murmur2)
KAFKA_SEED = 0x9747B28C

_keyless = DefaultPartitioner()


def kafka_partitioner(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """aiokafka's `partitioner(key_bytes, all_partitions, available_partitions)`: the partition
    Kafka's default partitioner picks for `key` (`all_partitions` is sorted by id)."""
    if key is None:
        return int(_keyless(key, all_partitions, available))
    return all_partitions[(murmurhash2(bytes(key), KAFKA_SEED) & 0x7FFFFFFF) % len(all_partitions)]
