from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.kinds import CATALOG, POOL_QUEUES, SYSTEM_QUEUE, get_kind


def test_every_kind_routes_to_a_pool_queue_or_the_system_queue() -> None:
    for kind in CATALOG.values():
        assert kind.queue in (*POOL_QUEUES, SYSTEM_QUEUE)
        assert kind.name.split(".")[0] in (*POOL_QUEUES, "system")
        assert kind.soft_time_limit_s < kind.time_limit_s


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_kind("nope")
    assert "system.echo" in caught.value.details["known_kinds"]
