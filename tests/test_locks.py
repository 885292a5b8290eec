"""SQLite's in-process writer lock (`helpline.locks.PriorityLock`): the message writer's
batches go before units queued earlier; otherwise first come, first served; a waiter cancelled
before or after it was handed the lock never leaves the lock taken."""

from __future__ import annotations

import asyncio

import pytest

from helpline.locks import PriorityLock

pytestmark = pytest.mark.asyncio


async def _take(lock: PriorityLock, name: str, order: list[str], *, urgent: bool = False) -> None:
    async with lock.hold(urgent=urgent):
        order.append(name)
        await asyncio.sleep(0)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_urgent_waiters_go_before_those_queued_earlier() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()
    tasks = [asyncio.create_task(_take(lock, "unit1", order))]
    await _settle()
    tasks.append(asyncio.create_task(_take(lock, "unit2", order)))
    await _settle()
    tasks.append(asyncio.create_task(_take(lock, "batch1", order, urgent=True)))
    await _settle()
    tasks.append(asyncio.create_task(_take(lock, "batch2", order, urgent=True)))
    await _settle()
    assert lock.waiting == 4 and order == []
    lock.release()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["batch1", "batch2", "unit1", "unit2"]
    assert not lock.locked() and lock.waiting == 0


async def test_a_free_lock_is_taken_at_once_and_held_exclusively() -> None:
    lock = PriorityLock()
    inside = 0
    most = 0

    async def work(i: int) -> None:
        nonlocal inside, most
        async with lock.hold(urgent=i % 3 == 0):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.wait_for(asyncio.gather(*(work(i) for i in range(30))), 5)
    assert most == 1
    assert not lock.locked()
    async with lock.hold():  # nothing waits: taken without a wait
        assert lock.locked()


async def test_the_others_are_served_whenever_no_batch_waits() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()
    unit = asyncio.create_task(_take(lock, "unit", order))
    await _settle()
    batch = asyncio.create_task(_take(lock, "batch1", order, urgent=True))
    await _settle()
    lock.release()
    await asyncio.wait_for(batch, 5)
    # The batch is done and no other is waiting: the unit has the lock, before any newcomer.
    late = asyncio.create_task(_take(lock, "batch2", order, urgent=True))
    await asyncio.wait_for(asyncio.gather(unit, late), 5)
    assert order == ["batch1", "unit", "batch2"]


async def test_a_waiter_cancelled_while_waiting_is_skipped() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()
    gone = asyncio.create_task(_take(lock, "gone", order, urgent=True))
    stays = asyncio.create_task(_take(lock, "stays", order))
    await _settle()
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert lock.waiting == 1
    lock.release()
    await asyncio.wait_for(stays, 5)
    assert order == ["stays"] and not lock.locked()


async def test_a_waiter_cancelled_after_it_was_handed_the_lock_hands_it_on() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()
    first = asyncio.create_task(_take(lock, "first", order))
    second = asyncio.create_task(_take(lock, "second", order))
    await _settle()
    lock.release()  # handed to `first`, which has not run yet
    first.cancel()  # ...and is cancelled before it does
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 5)
    assert order == ["second"] and not lock.locked() and lock.waiting == 0


async def test_an_error_inside_releases_the_lock() -> None:
    lock = PriorityLock()
    with pytest.raises(RuntimeError, match="boom"):
        async with lock.hold(urgent=True):
            raise RuntimeError("boom")
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
