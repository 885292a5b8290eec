"""The garbage-collection policy for long-lived connections (helpline.gcpolicy): what survives
a full collection is frozen, so the next one walks only what is new; a thaw gives everything
back to the collector; pauses and loop lag are observed."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
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


async def test_survivors_are_frozen_by_the_collection_itself(thawed: None) -> None:
    policy = GcPolicy(freeze_survivors=True, thaw_s=0)
    policy.install()
    try:
        kept = [Node() for _ in range(1000)]
        gc.collect()
        # No turn of the loop needed: frozen in the collector's own callback.
        assert tracked(kept) == 0
        del kept
    finally:
        await policy.close()


async def test_garbage_made_right_after_a_full_collection_is_not_frozen(thawed: None) -> None:
    policy = GcPolicy(freeze_survivors=True, thaw_s=0)
    policy.install()
    try:
        gc.collect()
        young = Node()  # a cycle made after the collection, dead before the loop's next turn
        gone = weakref.ref(young)
        del young
        await settle()
        assert gc.get_freeze_count() > 0  # the collection's survivors are frozen ...
        gc.collect(1)  # ... the young garbage is not: a collection of the young frees it
        assert gone() is None
    finally:
        await policy.close()


async def test_full_collections_come_every_full_every_collections_of_generation_1(
    thawed: None,
) -> None:
    before = gc.get_threshold()
    policy = GcPolicy(freeze_survivors=True, thaw_s=0, full_every=2)
    policy.install()
    # CPython also waits for the long-lived objects to grow by a quarter of the last full
    # collection's survivors: install's collection counted everything this worker holds before
    # freezing it (more after some modules than others); one more counts only what is not frozen.
    gc.collect()
    try:
        assert gc.get_threshold() == (before[0], before[1], 2)
        stats = gc.get_stats()
        kept = [Node() for _ in range(200_000)]  # long-lived objects arriving, like connections
        after = gc.get_stats()
        middle = after[1]["collections"] - stats[1]["collections"]
        full = after[2]["collections"] - stats[2]["collections"]
        assert middle >= 10
        # Python's own threshold (10): a full collection at most every 11th of generation 1;
        # with 2, every 3rd, and another quarter grown since the last full collection's
        # survivors (frozen: a quarter of a small number).
        assert full * 5 >= middle
        assert tracked(kept) < len(kept)  # most of them already frozen on the way
        del kept
    finally:
        await policy.close()
    assert gc.get_threshold() == before


async def test_by_default_the_thresholds_are_pythons(thawed: None) -> None:
    before = gc.get_threshold()
    policy = GcPolicy(thaw_s=0)
    policy.install()
    try:
        assert gc.get_threshold() == before
    finally:
        await policy.close()


async def test_the_switch_interval_is_set_while_installed_and_restored(thawed: None) -> None:
    before = sys.getswitchinterval()
    policy = GcPolicy(thaw_s=0, switch_s=0.001)
    policy.install()
    try:
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        await policy.close()
    assert sys.getswitchinterval() == before
    untouched = GcPolicy(thaw_s=0, switch_s=0)
    untouched.install()
    try:
        assert sys.getswitchinterval() == before
    finally:
        await untouched.close()


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
