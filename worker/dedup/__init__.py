"""Dedup: fingerprints, the duplicate decision and the Redis store that remembers articles.

`fingerprint` (exact hash, MinHash sketch, LSH claim keys; pure), `decision` (what an article is,
given what the store answered; pure), `store` (the Redis side: atomic check-and-record in a time
window, generations, Cluster-safe keys). Only `store` imports a Redis client.
"""
