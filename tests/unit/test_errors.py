from __future__ import annotations

import pytest

from worker.errors import (
    Action,
    DedupStoreRefused,
    DedupStoreUnavailable,
    PoisonInput,
    PublishFailed,
    action_for,
)


@pytest.mark.parametrize(
    ("exc", "action"),
    [
        (PoisonInput("invalid_json", "bad"), Action.DEAD_LETTER),
        (DedupStoreUnavailable("down"), Action.RETRY),
        (DedupStoreRefused("oom", "maxmemory reached"), Action.RETRY),  # a full Redis is an outage
        (PublishFailed("refused"), Action.RETRY),
        (ConnectionResetError(), Action.RETRY),
        (TimeoutError(), Action.RETRY),
        (KeyError("bug"), Action.CRASH),
        (ZeroDivisionError(), Action.CRASH),
    ],
)
def test_action_table(exc: BaseException, action: Action) -> None:
    assert action_for(exc) is action
