"""`bench/run.py --trace DIR`: what a `helpline serve` process ran, step by step.

Loaded by every Python process the bench starts (this directory is put first on their
`PYTHONPATH`), it acts only in a `helpline serve` process with `HELPLINE_BENCH_TRACE` set (a
path prefix). It notes, on the system's monotonic clock (`perf_counter`, the one the generator
times messages with):

- every step of every HTTP request and WebSocket connection's coroutine (from one resumption
  to the next suspension): wall time, the loop thread's CPU time, and where it resumed and
  suspended (function:line of the innermost awaiting frame);
- each message handed to the message writer (by `client_id`), each batch's start and end,
  each flush of the sockets' frames (`flush`);
- uvicorn's protocol callbacks (HTTP and WebSocket `data_received`, `connection_made`,
  `connection_lost`), each group-commit flush (`Batcher`), each garbage collection.

Everything is kept in memory and written as JSON at exit (`<prefix>.<pid>.json`); the
instruments cost the server a few per cent of CPU. `bench/trace_messages.py` reads it with the
generator's own file. Never imported by Helpline itself.
"""

from __future__ import annotations

import os
import sys

if "serve" in sys.argv and os.environ.get("HELPLINE_BENCH_TRACE"):
    import asyncio.events
    import atexit
    import gc
    import json
    import time
    import types
    from typing import Any

    _pc, _cpu = time.perf_counter, time.thread_time
    _steps: list[tuple[Any, ...]] = []
    _calls: list[tuple[float, float, str]] = []
    _submitted: dict[str, float] = {}
    _batches: list[tuple[float, float, list[str]]] = []

    def _where(coro: Any) -> str | None:
        """The innermost frame of an awaiting chain, as function:line."""
        last, c = None, coro
        for _ in range(64):
            frame = getattr(c, "cr_frame", None) or getattr(c, "gi_frame", None)
            if frame is not None:
                last = f"{frame.f_code.co_name}:{frame.f_lineno}"
            c = getattr(c, "cr_await", None) or getattr(c, "gi_yieldfrom", None)
            if c is None:
                break
        return last

    @types.coroutine
    def _timed(coro: Any, label: str) -> Any:
        """Drives `coro` as its task would, noting each step."""
        it = coro.__await__()
        value: Any = None
        exc: BaseException | None = None
        while True:
            resumed = _where(coro)
            cpu, t = _cpu(), _pc()
            try:
                y = it.throw(exc) if exc is not None else it.send(value)
            except StopIteration as stop:
                _steps.append((t, _pc() - t, _cpu() - cpu, label, resumed, None))
                return stop.value
            except BaseException:
                _steps.append((t, _pc() - t, _cpu() - cpu, label, resumed, "raised"))
                raise
            _steps.append((t, _pc() - t, _cpu() - cpu, label, resumed, _where(coro)))
            try:
                value, exc = (yield y), None
            except BaseException as e:  # thrown into the coroutine, as its task would
                value, exc = None, e

    def _install() -> None:
        from helpline import app as happ
        from helpline import httpproto, wsproto
        from helpline.chats import gateway, writer
        from helpline.kit import batching

        call = happ.HelplineApp.__call__

        async def app_call(self: Any, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                label = f"{scope['type']} {scope['path']}"
                return await _timed(call(self, scope, receive, send), label)  # type: ignore[no-any-return]
            return await call(self, scope, receive, send)

        happ.HelplineApp.__call__ = app_call  # type: ignore[method-assign]

        submit = writer.MessageWriter.submit

        def writer_submit(
            self: Any, author: Any, chat_id: str, text: str, cid: str, done: Any
        ) -> bool:
            _submitted[cid] = _pc()
            return submit(self, author, chat_id, text, cid, done)  # type: ignore[no-any-return]

        writer.MessageWriter.submit = writer_submit  # type: ignore[method-assign]
        write = writer.SqliteBatch.write

        def batch_write(self: Any, items: list[Any], at: Any) -> Any:
            t = _pc()
            try:
                return write(self, items, at)
            finally:
                _batches.append((t, _pc(), [i.client_id for i in items]))

        writer.SqliteBatch.write = batch_write  # type: ignore[method-assign]

        def wrap(cls: Any, name: str, label: str) -> None:
            inner = getattr(cls, name)

            def timed(self: Any, *args: Any) -> Any:
                t = _pc()
                try:
                    return inner(self, *args)
                finally:
                    _calls.append((t, _pc() - t, label))

            setattr(cls, name, timed)

        wrap(gateway._Flush, "run", "flush")
        for name in ("data_received", "connection_made", "connection_lost"):
            wrap(httpproto.HttpToolsProtocol, name, f"http {name}")
            wrap(wsproto.WebSocketProtocol, name, f"ws {name}")

        batcher_run = batching.Batcher._run

        async def batcher(self: Any) -> None:
            flush = getattr(self._flush, "__qualname__", "flush")
            return await _timed(batcher_run(self), f"batch {flush}")  # type: ignore[no-any-return]

        batching.Batcher._run = batcher  # type: ignore[method-assign]

        started = [0.0]

        def collected(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                started[0] = _pc()
            else:
                _calls.append((started[0], _pc() - started[0], f"gc {info.get('generation')}"))

        gc.callbacks.append(collected)

        # Under uvloop (the default) the loop's own callbacks cannot be timed from Python; with
        # HELPLINE_EVENT_LOOP=asyncio every handle the loop runs is noted too, by its task's
        # coroutine or its callback: what the loop did that the notes above do not name.
        handle_run = asyncio.events.Handle._run

        def timed_handle(self: Any) -> None:
            t = _pc()
            try:
                handle_run(self)
            finally:
                cb = self._callback
                task = getattr(cb, "__self__", None)
                if hasattr(task, "get_coro"):
                    what = "task " + getattr(task.get_coro(), "__qualname__", "?")
                else:
                    what = "callback " + getattr(cb, "__qualname__", type(cb).__name__)
                _calls.append((t, _pc() - t, "handle " + what))

        asyncio.events.Handle._run = timed_handle  # type: ignore[method-assign]

    def _write() -> None:
        path = f"{os.environ['HELPLINE_BENCH_TRACE']}.{os.getpid()}.json"
        with open(path, "w") as f:
            json.dump(
                {
                    "steps": _steps,
                    "calls": _calls,
                    "submitted": _submitted,
                    "batches": _batches,
                },
                f,
            )

    _install()
    atexit.register(_write)
