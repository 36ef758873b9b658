"""The ``asyncio`` backend: coroutines on the running event loop, sync callables on threads.

Used with the engine's ``run_async`` driver, so the engine and every coroutine share
one loop. A sync callable runs on a thread pool; if it returns an awaitable (dagron's
``lambda: train_async("a")``), the awaitable is awaited back on the loop.

Concurrency hazards: every method runs on the loop's thread except the thread-pool
calls, which only compute a value and never touch backend state. ``abandon`` cancels
the node's asyncio task (a timed-out coroutine really stops; a thread does not).
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any

from dagforge.execution.backends.base import Backend
from dagforge.execution.jobs import (
    K_TASK,
    Event,
    Job,
    NodeMetrics,
    call_node,
    check_task_outputs,
    done,
    failed,
    format_error,
    measure_value,
)


def _is_coroutine_callable(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


class AsyncioBackend(Backend):
    """Runs coroutine tasks on the event loop; sync ones on ``max_workers`` threads."""

    name = "asyncio"

    def __init__(self, max_workers: int | None = None, max_tasks: int = 10_000) -> None:
        super().__init__()
        self.max_workers = max_workers
        self.max_tasks = max_tasks
        self.worker_names = ["event-loop", "thread-pool"]
        self._tasks: dict[tuple[int, int], asyncio.Task] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._queue: asyncio.Queue | None = None
        self._abandoned = False

    @property
    def capacity(self) -> int:
        return self.max_tasks

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="dagforge-async")
        self._tasks = {}
        self._abandoned = False

    def submit(self, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks[(job.idx, job.attempt)] = task

    async def _run(self, job: Job) -> None:
        idx, attempt, kind, fn, args, kwargs, name, outputs, serializer = job
        wid = 0
        t0 = perf_counter()
        event: Event
        try:
            if _is_coroutine_callable(fn):
                value = await call_node(kind, fn, args, kwargs, False)
            else:
                wid = 1
                loop = asyncio.get_running_loop()
                value = await loop.run_in_executor(
                    self._pool, call_node, kind, fn, args, kwargs, False
                )
                if inspect.isawaitable(value):
                    wid = 0
                    value = await value
            if kind == K_TASK:
                value = check_task_outputs(name, outputs, value)
            t1 = perf_counter()
            metrics = None
            if serializer is not None:
                s_ms, d_ms, total, sizes = measure_value(name, kind, value, serializer)
                metrics = NodeMetrics((t1 - t0) * 1000.0, s_ms, d_ms, total, sizes)
            event = done(idx, attempt, value, t0, t1, wid, metrics)
        except asyncio.CancelledError:
            return  # abandoned (timeout or interrupt): the engine already settled it
        except (Exception, SystemExit) as exc:  # SystemExit is the node's failure too
            event = failed(idx, attempt, exc, format_error(exc), t0, perf_counter(), wid)
        except KeyboardInterrupt as exc:  # to the engine, which cancels the run; escaping
            # here would leave the event loop instead of reaching the engine's loop
            event = failed(idx, attempt, exc, format_error(exc), t0, perf_counter(), wid)
        finally:
            self._tasks.pop((idx, attempt), None)
        self._queue.put_nowait(event)  # type: ignore[union-attr]

    def wait(self, timeout: float | None) -> list[Event]:
        raise RuntimeError("the asyncio backend is driven by the engine's run_async loop")

    async def wait_async(self, timeout: float | None) -> list[Event]:
        queue = self._queue
        assert queue is not None
        try:
            first = await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            return []
        events = [first]
        while not queue.empty():
            events.append(queue.get_nowait())
        return events

    def abandon(self, idx: int, attempt: int) -> None:
        task = self._tasks.pop((idx, attempt), None)
        if task is not None:
            task.cancel()
            # A sync callable keeps its pool thread until it returns; shutdown must not
            # wait for it (execute() returns once the DAG is done).
            self._abandoned = True

    def shutdown(self, wait: bool = True) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=wait and not self._abandoned, cancel_futures=True)
            self._pool = None
