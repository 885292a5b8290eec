"""`helpline.turns`: arrivals' steps are let in one per iteration of the event loop, in the
order they asked, and a waiter that left gives way (decision 051); a turn comes at a moment
without message work, or after `MAX_WAIT_S` (decision 052)."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest

from helpline import turns
from helpline.turns import busy_while, message_work, take_turn

pytestmark = pytest.mark.asyncio


class Ticker:
    """Marks each iteration of the loop: a callback that reschedules itself (`call_soon` runs
    in the next iteration)."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.loop = asyncio.get_running_loop()
        self.running = True
        self.loop.call_soon(self.tick)

    def tick(self) -> None:
        if self.running:
            self.log.append("|")
            self.loop.call_soon(self.tick)


async def test_waiters_are_let_in_one_an_iteration_in_order() -> None:
    log: list[str] = []

    async def arrival(name: str) -> None:
        await take_turn()
        log.append(name)

    ticker = Ticker(log)
    await asyncio.gather(*(arrival(str(i)) for i in range(5)))
    ticker.running = False
    steps = [x for x in log if x != "|"]
    assert steps == ["0", "1", "2", "3", "4"]
    # Between any two arrivals' steps the loop went round at least once.
    between = "".join(log).split("|")
    assert all(len(chunk) <= 1 for chunk in between), log


async def test_without_the_turns_they_would_all_run_in_one_iteration() -> None:
    """The check above can fail: the same arrivals with no turn to take run back to back."""
    log: list[str] = []

    async def arrival(name: str) -> None:
        await asyncio.sleep(0)
        log.append(name)

    ticker = Ticker(log)
    await asyncio.gather(*(arrival(str(i)) for i in range(5)))
    ticker.running = False
    assert any(len(chunk) > 1 for chunk in "".join(log).split("|")), log


async def test_a_waiter_that_left_gives_way() -> None:
    done: list[str] = []

    async def arrival(name: str) -> None:
        await take_turn()
        done.append(name)

    first = asyncio.create_task(arrival("first"))
    gone = asyncio.create_task(arrival("gone"))
    last = asyncio.create_task(arrival("last"))
    await asyncio.sleep(0)  # all three are waiting
    gone.cancel()
    await asyncio.gather(first, last)
    assert done == ["first", "last"]
    assert gone.cancelled()


async def test_a_later_arrival_after_the_queue_emptied_is_let_in_too() -> None:
    await take_turn()
    await asyncio.sleep(0)
    await asyncio.wait_for(take_turn(), timeout=1)


async def test_a_finished_loop_is_not_kept_alive() -> None:
    """What is kept per loop is kept under the loop weakly and keeps no reference to it: a loop
    that took turns and closed (another thread's, here) is freed."""
    seen: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def arrival() -> None:
        seen.append(weakref.ref(asyncio.get_running_loop()))
        await take_turn()

    thread = threading.Thread(target=lambda: asyncio.run(arrival()))
    thread.start()
    thread.join(timeout=10)
    gc.collect()
    assert seen and seen[0]() is None


class Work(Ticker):
    """Message work under way for `left` iterations of the loop, as a probe sees it."""

    def __init__(self, log: list[str], left: int) -> None:
        self.left = left
        super().__init__(log)

    def tick(self) -> None:
        self.left = max(0, self.left - 1)
        super().tick()

    def busy(self) -> bool:
        return self.left > 0


async def test_a_turn_waits_for_a_moment_without_message_work() -> None:
    loop = asyncio.get_running_loop()
    log: list[str] = []
    work = Work(log, left=5)
    remove = busy_while(loop, work.busy)
    seen: list[int] = []

    async def arrival() -> None:
        await take_turn()
        seen.append(work.left)

    try:
        assert message_work(loop)
        await asyncio.wait_for(arrival(), 5)
    finally:
        work.running = False
        remove()
    assert seen == [0]
    assert not message_work(loop)


async def test_without_a_probe_the_same_turn_comes_during_the_work() -> None:
    """The check above can fail: with nothing reporting the work, the turn comes at once."""
    log: list[str] = []
    work = Work(log, left=5)
    seen: list[int] = []

    async def arrival() -> None:
        await take_turn()
        seen.append(work.left)

    await asyncio.wait_for(arrival(), 5)
    work.running = False
    assert seen and seen[0] > 0


async def test_work_that_never_ends_delays_a_turn_by_the_bound_only() -> None:
    loop = asyncio.get_running_loop()
    remove = busy_while(loop, lambda: True)
    try:
        asked = loop.time()
        await asyncio.wait_for(take_turn(), 5)
        waited = loop.time() - asked
    finally:
        remove()
    assert waited >= turns.MAX_WAIT_S


async def test_under_work_that_never_ends_waiters_past_the_bound_go_one_an_iteration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bound is each waiter's own: arrivals queued together wait it out once, then are let
    in one an iteration as without probes, not one a bound (a reconnecting crowd while messages
    never pause would otherwise be held to 200 a second)."""
    loop = asyncio.get_running_loop()
    # The loop's clock held still, then moved past the bound: on the real one, waiters that
    # asked microseconds apart pass their bounds microseconds apart, and an iteration between
    # two of them could find the second not yet due.
    clock = [loop.time()]
    monkeypatch.setattr(loop, "time", lambda: clock[0])
    remove = busy_while(loop, lambda: True)
    log: list[str] = []

    async def arrival(name: str) -> None:
        await take_turn()
        log.append(name)

    ticker = Ticker(log)
    try:
        arrivals = asyncio.gather(*(arrival(str(i)) for i in range(5)))
        for _ in range(20):
            await asyncio.sleep(0)
        assert set(log) == {"|"}  # within the bound, work that never ends lets nobody in
        clock[0] += 2 * turns.MAX_WAIT_S
        for _ in range(20):
            await asyncio.sleep(0)
        assert arrivals.done()
    finally:
        ticker.running = False
        remove()
    steps = "".join(log)
    first = steps.index("0")
    # From the first one let in, one an iteration: no iteration without an arrival between.
    assert steps[first:].replace("|", "")[:5] == "01234"
    assert all(len(chunk) == 1 for chunk in steps[first:].split("|")[:5]), log


async def test_past_so_many_waiting_a_step_that_may_goes_on_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Decision 053: a departure waits for its turn only while fewer than `unless_waiting`
    steps wait; past that it goes on at once, and those waiting keep their order."""
    monkeypatch.setattr(turns, "MAX_WAIT_S", 60.0)  # nobody is let in while the work lasts
    loop = asyncio.get_running_loop()
    working = True
    remove = busy_while(loop, lambda: working)
    log: list[str] = []

    async def step(name: str, unless_waiting: int | None = None) -> None:
        await take_turn(unless_waiting=unless_waiting)
        log.append(name)

    try:
        waiting = [asyncio.ensure_future(step(str(i))) for i in range(2)]
        waiting.append(asyncio.ensure_future(step("a", unless_waiting=3)))  # two wait: it too
        late = asyncio.ensure_future(step("b", unless_waiting=3))  # three wait: it goes on
        for _ in range(20):
            await asyncio.sleep(0)
        assert log == ["b"] and late.done()
        working = False
        await asyncio.wait_for(asyncio.gather(*waiting), 5)
    finally:
        remove()
    assert log == ["b", "0", "1", "a"]
