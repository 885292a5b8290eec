"""The garbage-collection policy for long-lived connections (helpline.gcpolicy): what survives
a full collection is frozen, so the next one walks only what is new; a thaw gives everything
back to the collector; pauses and loop lag are observed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from helpline import observability as metrics
from helpline.gcpolicy import (
    BUSY_FULL_EVERY,
    CALM_S,
    LEAVING_PER_CHECK,
    QUIET_S,
    GcPolicy,
)

pytestmark = pytest.mark.asyncio


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def tracked(objs: Sequence[object], generation: int | None = None) -> int:
    """How many of objs the collector walks (frozen ones are in no generation): in any
    generation, or in `generation`."""
    ids = {id(o) for o in gc.get_objects(generation)}
    return sum(id(o) in ids for o in objs)


def samples(generation: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "helpline_gc_pause_seconds_count", {"generation": generation}
    )
    return value or 0.0


# What the worker froze before a test stays frozen: each policy's `install` freezes what the
# worker holds, so `tracked` and the collections here walk only what is new, and every test looks
# only at objects it makes itself. (A fixture unfroze the worker's whole heap around each test
# until the sixth round: late in a pass that is ~2 million objects, the earlier tests' apps
# frozen at their start-ups, and every collection and `gc.get_objects()` here walked them all:
# 18 to 23 s for these nine tests; docs/testing.md, "Sixth round".)


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_survivors_of_a_full_collection_are_frozen() -> None:
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


async def test_survivors_are_frozen_by_the_collection_itself() -> None:
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


async def test_garbage_made_right_after_a_full_collection_is_not_frozen() -> None:
    policy = GcPolicy(freeze_survivors=True, thaw_s=0)
    policy.install()
    try:
        survivor = Node()
        gc.collect()
        young = Node()  # a cycle made after the collection, dead before the loop's next turn
        gone = weakref.ref(young)
        del young
        await settle()
        assert tracked([survivor]) == 0  # the collection's survivors are frozen ...
        gc.collect(1)  # ... the young garbage is not: a collection of the young frees it
        assert gone() is None
    finally:
        await policy.close()


async def test_full_collections_come_every_full_every_collections_of_generation_1() -> None:
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


async def test_by_default_the_thresholds_are_pythons() -> None:
    before = gc.get_threshold()
    policy = GcPolicy(thaw_s=0)
    policy.install()
    try:
        assert gc.get_threshold() == before
    finally:
        await policy.close()


async def test_the_switch_interval_is_set_while_installed_and_restored() -> None:
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


async def test_without_the_policy_survivors_stay_with_the_collector() -> None:
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


async def test_a_thaw_lets_the_collector_free_cycles_that_died_frozen() -> None:
    policy = GcPolicy(freeze_survivors=True, thaw_s=0.05)
    policy.install()
    try:
        kept = [Node() for _ in range(1000)]
        gc.collect()
        await settle()
        assert tracked(kept) == 0
        del kept  # now garbage, in cycles, frozen: nothing frees it until the thaw
        armed = policy._thaw
        for _ in range(100):  # bounded: the thaw is due after 50 ms
            await asyncio.sleep(0.01)
            # The thaw re-arms itself. (Not gc.get_freeze_count() each turn: it counts every
            # frozen object, and a worker late in a pass holds ~2 million.)
            if policy._thaw is not armed:
                break
        assert gc.get_freeze_count() == 0
        assert gc.collect() >= 1000
    finally:
        await policy.close()


async def test_loop_lag_is_observed_and_close_removes_the_hooks() -> None:
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


class Opened:
    """A hub's count of connections ever opened, moved by the test."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        return self.count


@contextlib.asynccontextmanager
async def watching(**kwargs: Any) -> AsyncIterator[tuple[GcPolicy, Opened]]:
    """A policy counting a fake hub's connections; Python's thresholds again once closed."""
    before = gc.get_threshold()
    opened = Opened()
    policy = GcPolicy(thaw_s=0, arrivals=opened, **kwargs)
    policy.install()
    try:
        yield policy, opened
    finally:
        await policy.close()
    assert gc.get_threshold() == before  # closed mid-burst too


async def test_full_collections_are_smaller_only_while_connections_arrive_in_numbers() -> None:
    before = gc.get_threshold()
    async with watching(arrival_rate=50) as (policy, opened):
        t = policy._seen_at  # the loop's clock at install; the test moves it by hand
        opened.count += 40  # 40 in a second: not a burst
        policy.sample(t + 1)
        assert gc.get_threshold() == before and not policy.busy
        opened.count += 300  # 300 in a second: a shift start, a reconnection storm
        policy.sample(t + 2)
        assert policy.busy
        assert gc.get_threshold() == (before[0], before[1], BUSY_FULL_EVERY)
        opened.count += 10
        policy.sample(t + 3)  # slower for a moment: still the burst's threshold ...
        opened.count += 200
        policy.sample(t + 4)  # ... and the burst goes on
        opened.count += 5
        policy.sample(t + 5)
        policy.sample(t + 4 + CALM_S - 0.5)
        assert gc.get_threshold()[2] == BUSY_FULL_EVERY
        policy.sample(t + 4 + CALM_S)  # calm for CALM_S: the steady threshold is back
        assert gc.get_threshold() == before and not policy.busy
        opened.count += 60
        policy.sample(t + 4 + CALM_S + 1)  # a second burst moves it again
        assert gc.get_threshold()[2] == BUSY_FULL_EVERY


async def test_a_configured_full_threshold_is_the_steady_one() -> None:
    async with watching(full_every=5, arrival_rate=50) as (policy, opened):
        t = policy._seen_at
        assert gc.get_threshold()[2] == 5
        opened.count += 100
        policy.sample(t + 0.5)  # 200 a second
        assert gc.get_threshold()[2] == BUSY_FULL_EVERY
        policy.sample(t + 0.5 + CALM_S)
        assert gc.get_threshold()[2] == 5


async def test_without_a_rate_arrivals_never_move_the_threshold() -> None:
    before = gc.get_threshold()
    async with watching(arrival_rate=0) as (policy, opened):
        opened.count += 10_000
        policy.sample(policy._seen_at + 1)
        assert gc.get_threshold() == before and not policy.busy
        assert policy._sampler is None


class Leaf:
    """Tracked by the collector, freed by reference counting alone (no cycle)."""


@contextlib.contextmanager
def collector_off() -> Any:
    # CPython's own collections would blur the counts these tests read.
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextlib.asynccontextmanager
async def installed(**options: Any) -> AsyncIterator[GcPolicy]:
    """A policy installed (no thaw) with CPython's own collections off meanwhile."""
    policy = GcPolicy(thaw_s=0, **options)
    policy.install()
    try:
        with collector_off():
            yield policy
    finally:
        await policy.close()


_quiet = [0.0]


def quiet() -> float:
    """A time of the loop's clock `QUIET_S` past anything collected so far, the check's own
    collections (at the times given before) included: `check_young(at)`."""
    _quiet[0] = max(_quiet[0], asyncio.get_running_loop().time()) + QUIET_S
    return _quiet[0]


async def test_frozen_objects_dying_hide_the_young_generation_and_the_check_collects_it() -> None:
    async with installed(young_limit=2000) as policy:
        held = [Leaf() for _ in range(3000)]
        gc.freeze()  # as after a full collection: long-lived, like connections
        count = gc.get_count()[0]
        for i in range(len(held)):
            # A pinged connection replaces frozen objects with new ones (a timer, a
            # future): each death counts the young generation down, each birth up.
            held[i] = Leaf()
        # CPython's count says nothing happened; its list holds every new object.
        assert gc.get_count()[0] <= count + 100 < gc.get_threshold()[0]
        assert tracked(held, 0) == len(held)
        assert policy.check_young(quiet()) == 0
        assert tracked(held, 0) == 0
        assert tracked(held, 1) == len(held)  # survivors, one generation up
        assert policy.young_checked == 1
        assert policy.check_young(quiet()) is None  # the list is short again


async def test_under_the_limit_the_check_collects_nothing() -> None:
    async with installed(young_limit=5000) as policy:
        gc.collect(0)
        held = [Leaf() for _ in range(1000)]
        assert policy.check_young(quiet()) is None
        assert tracked(held, 0) == len(held)
        assert policy.young_checked == 0


async def test_the_check_collects_the_middle_generation_past_its_share_of_objects() -> None:
    async with installed(young_limit=500) as policy:
        gc.collect(1)
        held = [Leaf() for _ in range(1000)]
        assert policy.check_young(quiet()) == 0  # 1,000: past the limit, not 4 × 500 with gen 1
        more = [Leaf() for _ in range(1500)]
        before = gc.get_stats()[1]["collections"]
        assert policy.check_young(quiet()) == 1  # 1,500 young + 1,000 middle: past 4 × 500
        assert gc.get_stats()[1]["collections"] == before + 1
        # Survivors of two collections: frozen, as a full collection's are.
        assert tracked(held + more) == 0


async def test_the_check_collects_the_middle_generation_when_cpython_would() -> None:
    async with installed(young_limit=500) as policy:
        _, middle, _ = gc.get_threshold()
        for _ in range(middle + 1):
            gc.collect(0)  # each young collection counts towards the middle one's
        held = [Leaf() for _ in range(1000)]
        before = gc.get_stats()[1]["collections"]
        assert policy.check_young(quiet()) == 1
        assert gc.get_stats()[1]["collections"] == before + 1
        assert tracked(held, 1) == 0  # on to the oldest generation
        assert gc.get_count()[1] == 0


async def test_the_check_leaves_the_young_generation_to_cpython_while_cpython_collects_it() -> None:
    """Under message load CPython's count drives several young collections a second: the check
    acts only once collections, its own too, have stopped for `QUIET_S` (scenario 1: checking
    every 100 ms took over from CPython's count and doubled them)."""
    async with installed(young_limit=1000) as policy:
        held = [Leaf() for _ in range(1500)]
        gc.collect(0)  # CPython's own, say
        at = asyncio.get_running_loop().time()
        held += [Leaf() for _ in range(1500)]
        assert policy.check_young(at + QUIET_S - 0.01) is None
        assert tracked(held[1500:], 0) == 1500
        assert policy.check_young(at + QUIET_S) == 0  # quiet long enough: its turn
        assert tracked(held, 0) == 0
        held += [Leaf() for _ in range(1500)]
        # Nor within `QUIET_S` of its own: it never takes over from CPython's count.
        assert policy.check_young(at + QUIET_S + 0.1) is None
        assert policy.check_young(at + 2 * QUIET_S + 0.1) is not None


async def test_the_check_rests_while_connections_leave_in_numbers() -> None:
    left = [0]
    async with installed(young_limit=500, departures=lambda: left[0]) as policy:
        gc.collect(1)
        t = quiet()
        held = [Leaf() for _ in range(1000)]
        left[0] += LEAVING_PER_CHECK  # a few closed since the last check: not in numbers
        assert policy.check_young(t) == 0
        held += [Leaf() for _ in range(1000)]
        left[0] += 1000  # everyone closing at once
        leaving = t + QUIET_S  # quiet since its collection, and past the limit again
        assert policy.check_young(leaving) is None
        assert tracked(held[1000:], 0) == 1000  # left for CPython's own count
        assert policy.check_young(leaving + CALM_S - 0.01) is None  # not calm yet
        assert policy.check_young(leaving + CALM_S) is not None
        assert tracked(held, 0) == 0


async def test_the_check_runs_on_the_loop_only_while_installed_and_with_a_limit() -> None:
    off = GcPolicy(thaw_s=0)
    off.install()
    try:
        assert off._young is None
    finally:
        await off.close()
    on = GcPolicy(thaw_s=0, young_limit=2000)
    on.install()
    check = on._young
    assert check is not None and not check.cancelled()
    await on.close()
    assert check.cancelled() and on._young is None
