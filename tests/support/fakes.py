"""Test doubles shared by the test tiers."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from worker.dedup.decision import (
    CLEAN,
    PENDING,
    REF_BYTES,
    ClaimView,
    StoreAnswer,
    StoredRecord,
    StoreItem,
)


class InMemoryStore:
    """The `DedupStore` protocol over dicts, with `RedisDedupStore`'s semantics: records first,
    then claims (set if absent), decisions recorded over pending records only."""

    def __init__(self) -> None:
        self.records: dict[bytes, StoredRecord] = {}
        self.refs: dict[bytes, bytes] = {}

    def _claim_ref(self, key: bytes, item: StoreItem) -> bytes | None:
        owner = self.refs.setdefault(key, item.ref)
        return None if owner == item.ref else owner

    async def check_and_record(self, items: Sequence[StoreItem]) -> list[StoreAnswer]:
        # In batch order, as the records pipeline runs: a later exact copy in the same batch finds
        # the earlier one's record.
        found = []
        for item in items:
            found.append(self.records.get(item.ref))
            self.records.setdefault(item.ref, item.record)
        answers = []
        for item, record in zip(items, found, strict=True):
            mine = record is not None and record.id == item.article_id
            own = record if mine else None
            if record is not None and not mine:
                answers.append(StoreAnswer(ClaimView(record, None, tuple(None for _ in item.fp.bands)), {}))
                continue
            fp = item.fp
            url_owner = self._claim_ref(b"u" + fp.url[:REF_BYTES], item) if fp.url is not None else None
            bands = tuple(self._claim_ref(b"b" + band[:REF_BYTES], item) for band in fp.bands)
            records = {ref: self.records[ref] for ref in (url_owner, *bands) if ref in self.records}
            answers.append(StoreAnswer(ClaimView(None, url_owner, bands, own), records))
        return answers

    async def await_decided(self, refs: Sequence[bytes]) -> dict[bytes, StoredRecord]:
        # Nothing else runs here: a record still pending is taken over at once.
        for ref in refs:
            if ref in self.records and self.records[ref].state == PENDING:
                self.records[ref] = msgspec.structs.replace(self.records[ref], state=CLEAN)
        return {ref: self.records[ref] for ref in refs if ref in self.records}

    async def record_decisions(
        self, decided: Sequence[tuple[StoreItem, StoredRecord]]
    ) -> list[StoredRecord | None]:
        out: list[StoredRecord | None] = []
        for item, record in decided:
            current = self.records.get(item.ref)
            if current is not None and current.state != PENDING:
                out.append(current)
            else:
                self.records[item.ref] = record
                out.append(None)
        return out
