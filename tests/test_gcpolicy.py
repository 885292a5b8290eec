"""The garbage-collection policy for long-lived connections (helpline.gcpolicy): what survives
a full collection is frozen, so the next one walks only what is new; a thaw gives everything
back to the collector; pauses and loop lag are observed."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from helpline import observability as metrics
from helpline.gcpolicy import GcPolicy

pytestmark = pytest.mark.asyncio


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def tracked(objs: list[Node]) -> int:
    """How many of objs the collector walks (frozen ones are in no generation)."""
    ids = {id(o) for o in gc.get_objects()}
    return sum(id(o) in ids for o in objs)


def samples(generation: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "helpline_gc_pause_seconds_count", {"generation": generation}
    )
    return value or 0.0


@pytest_asyncio.fixture
async def thawed() -> AsyncIterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_survivors_of_a_full_collection_are_frozen(thawed: None) -> None:
    policy = GcPolicy(freeze_survivors=True, thaw_s=0)
    policy.install()
    try:
        kept = [Node() for _ in range(1000)]  # long-lived, like connections
        assert tracked(kept) == 1000
        before = samples("2")
        gc.collect()
        await settle()
        assert tracked(kept) == 0
        assert samples("2") == before + 1
        assert policy.full_collections == 1
        del kept
    finally:
        await policy.close()


async def test_without_the_policy_survivors_stay_with_the_collector(thawed: None) -> None:
    policy = GcPolicy(freeze_survivors=False, thaw_s=0)
    policy.install()
    try:
        kept = [Node() for _ in range(1000)]
        gc.collect()
        await settle()
        assert tracked(kept) == 1000
        del kept
    finally:
        await policy.close()


async def test_a_thaw_lets_the_collector_free_cycles_that_died_frozen(thawed: None) -> None:
    policy = GcPolicy(freeze_survivors=True, thaw_s=0.05)
    policy.install()
    try:
        kept = [Node() for _ in range(1000)]
        gc.collect()
        await settle()
        assert tracked(kept) == 0
        del kept  # now garbage, in cycles, frozen: nothing frees it until the thaw
        for _ in range(100):  # bounded: the thaw is due after 50 ms
            await asyncio.sleep(0.01)
            if gc.get_freeze_count() == 0:
                break
        assert gc.get_freeze_count() == 0
        assert gc.collect() >= 1000
    finally:
        await policy.close()


async def test_loop_lag_is_observed_and_close_removes_the_hooks(thawed: None) -> None:
    count = "helpline_event_loop_lag_seconds_count"
    before = metrics.REGISTRY.get_sample_value(count) or 0.0
    policy = GcPolicy(thaw_s=0)
    policy.install()
    for _ in range(100):  # bounded: a sample every 25 ms
        await asyncio.sleep(0.01)
        if (metrics.REGISTRY.get_sample_value(count) or 0.0) > before:
            break
    assert (metrics.REGISTRY.get_sample_value(count) or 0.0) > before
    await policy.close()
    assert policy._callback not in gc.callbacks
    kept = [Node() for _ in range(100)]
    gc.collect()
    await settle()
    assert tracked(kept) == 100
