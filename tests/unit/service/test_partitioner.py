"""The producer's partitioner is Kafka's default: the same partition as aiokafka's (and the Java
client's) for every key, hashed in compiled code."""

from __future__ import annotations

import asyncio

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.config import Settings
from worker.service.app import faust_options, new_faust_app
from worker.service.partitioner import KAFKA_SEED, kafka_partitioner

aiokafka_default = DefaultPartitioner()


@settings(max_examples=2000, deadline=None)
@given(key=st.binary(max_size=300), count=st.integers(min_value=1, max_value=500))
def test_every_key_goes_where_kafka_s_default_partitioner_sends_it(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert kafka_partitioner(key, partitions, partitions) == aiokafka_default(key, partitions, partitions)


def test_known_hashes_of_the_java_client() -> None:
    # org.apache.kafka.common.utils.Utils.murmur2, as aiokafka's port computes it
    for key in (b"", b"a", b"ab", b"abc", b"abcd", b"21", "مقال-١".encode(), b"x" * 1000):
        assert kafka_partitioner(key, list(range(1 << 20)), []) == (murmur2(key) & 0x7FFFFFFF) % (1 << 20)
    assert KAFKA_SEED == 0x9747B28C


def test_partition_ids_are_taken_from_the_list_not_counted_from_zero() -> None:
    key = b"article-42"
    ids = [3, 5, 8]  # as aiokafka passes them: sorted ids, not necessarily 0..n-1
    assert kafka_partitioner(key, ids, ids) == aiokafka_default(key, ids, ids)
    assert kafka_partitioner(key, ids, ids) in ids


def test_a_keyless_message_goes_to_an_available_partition() -> None:
    for _ in range(50):
        assert kafka_partitioner(None, [0, 1, 2, 3], [2]) == 2
        assert kafka_partitioner(None, [0, 1, 2, 3], []) in (0, 1, 2, 3)


def test_the_producer_is_given_this_partitioner() -> None:
    assert faust_options(Settings())["producer_partitioner"] is kafka_partitioner

    async def main() -> None:
        # what faust hands to aiokafka's producer
        app = new_faust_app(Settings(app_id="partitioner-test"))
        assert app.producer._settings_default()["partitioner"] is kafka_partitioner  # type: ignore[attr-defined]

    asyncio.run(main())
