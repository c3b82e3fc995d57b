# The dedup store's op packing, compiled (worker/dedup/_store_ops.c); see worker/dedup/store.py.

def pack_ops(
    ops: list[tuple[bytes, bytes, bytes]], buckets: int, shards: int, per_bucket: int, /
) -> list[tuple[list[int], bytes, list[int]]]: ...
