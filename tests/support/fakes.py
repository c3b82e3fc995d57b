"""Test doubles shared by the test tiers."""

from __future__ import annotations

from collections.abc import Sequence

from worker.dedup.decision import (
    ClaimView,
    StoreAnswer,
    StoredRecord,
    StoreItem,
    decode_record,
    encode_record,
    is_self,
)


class InMemoryStore:
    """The `DedupStore` protocol over dicts, with `RedisDedupStore`'s claim semantics."""

    def __init__(self) -> None:
        self.exact: dict[bytes, bytes] = {}
        self.refs: dict[bytes, bytes] = {}

    def _claim_ref(self, key: bytes, item: StoreItem) -> bytes | None:
        owner = self.refs.setdefault(key, item.ref)
        return None if owner == item.ref else owner

    async def check_and_record(self, items: Sequence[StoreItem]) -> list[StoreAnswer]:
        answers = []
        for item in items:
            stored = self.exact.setdefault(item.ref, encode_record(item.record))
            record = decode_record(stored)
            exact_owner = None if is_self(record, item.article_id, item.origin) else record
            url_owner = self._claim_ref(b"u" + item.fp.url, item) if item.fp.url is not None else None
            bands = tuple(self._claim_ref(b"b" + band, item) for band in item.fp.bands)
            records: dict[bytes, StoredRecord] = {
                ref: decode_record(self.exact[ref]) for ref in (url_owner, *bands) if ref in self.exact
            }
            answers.append(StoreAnswer(ClaimView(exact_owner, url_owner, bands), records))
        return answers

    async def mark_duplicates(self, marks: Sequence[tuple[StoreItem, str]]) -> None:
        return None
