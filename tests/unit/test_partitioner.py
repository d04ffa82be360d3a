"""Keys land on the partition every other Kafka client would choose (murmur2, as in the Java client)."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from casehub.ground.publish import murmur2, partition_for

# org.apache.kafka.common.utils.UtilsTest#testMurmur2: the Java client's own expectations (signed ints)
JAVA = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


def signed(n: int) -> int:
    return n - (1 << 32) if n >= 1 << 31 else n


def test_java_clients_test_vectors():
    assert {k: signed(murmur2(k.encode())) for k in JAVA} == JAVA


@given(st.binary(max_size=200))
def test_same_hash_as_aiokafka_for_any_key(key):
    assert murmur2(key) == aiokafka_murmur2(key)


@given(st.binary(min_size=1, max_size=80), st.integers(1, 64))
def test_partition_is_the_default_partitioners(key, count):
    parts = list(range(count))
    assert partition_for(key, parts) == parts[(aiokafka_murmur2(key) & 0x7FFFFFFF) % count]
