"""Admission: which ready node may start now.

Checked in this order for the head of the ready heap: global concurrency
(``max_conc``; a synchronous backend runs one at a time anyway), exclusive nodes (one
runs with nothing else running), then resources (``try_acquire`` through the pool's
cached take; the loop never blocks on the pool).

Resource fairness (bounded overtaking): a node whose requirement does not fit *now* is
parked in ``blocked``. Later nodes may start around it (backfill) until
``overtake_limit`` of them have; from then on it reserves what it asked for, and later
nodes are admitted only if they fit in what is left after every reservation. A large
request therefore waits behind at most ``overtake_limit`` smaller ones, never forever.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from dagforge.execution.state import RunState
from dagforge.options import DEFAULT_OPTIONS


def _subtract(shadow: dict, req: Any) -> None:
    """Take ``req`` out of ``shadow`` (what later nodes of this pass may still use)."""
    for k, amount in req._resources.items():
        shadow[k] = shadow.get(k, 0) - amount


class Admission(RunState):
    """``dispatch`` and the pool bookkeeping around it."""

    def dispatch(self) -> None:
        """Start every ready node that admission allows, best key first."""
        if self.stopping:
            return
        if self.fast_inline:
            self._dispatch_inline()
            return
        heap = self.heap
        pool = self.pool if self.reqs is not None else None
        reqs: Sequence[Any] = self.reqs if self.reqs is not None else ()  # () when no pool
        shadow = None
        if pool is not None and self.blocked:
            shadow = self._dispatch_blocked()
            if shadow is None:
                return
        opts = self.opts
        keys = self.keys
        int_keys = self.int_keys
        n = self.n
        sync = self.backend.synchronous
        launch = self._launch
        heappop = heapq.heappop
        callbacks, held = self.callbacks, self.held
        while heap and not self.stopping:
            if self.in_flight >= self.max_conc and not sync:
                return
            if self.exclusive_running:
                return
            key = heap[0]
            i = key if keys is None else (key % n if int_keys else key[2])
            o = opts[i]
            if o is not DEFAULT_OPTIONS and o.exclusive and self.in_flight:
                return  # an exclusive node waits for the workers to drain
            if pool is not None and reqs[i] is not None:
                heappop(heap)
                req = reqs[i]
                if shadow is None:
                    # Nothing parked in this pass: no reservations to respect.
                    c = req._vec  # the take the pool built for req (see _vector)
                    if (
                        c[1][0](req, self.names[i])
                        if c is not None and c[0] is pool and c[1] is not None
                        else pool._take_if_fits(req, self.names[i])
                    ):
                        if callbacks is None:  # _acquired, inlined for the common case
                            held[(i, self.attempt[i] + 1)] = req
                        else:
                            self._acquired(i, req)
                        launch(i)
                        continue
                    shadow = pool.available
                if req.fits(shadow) and pool._take_if_fits(req, self.names[i]):
                    _subtract(shadow, req)
                    self._acquired(i, req)
                    if self.overtaken:
                        self._overtake(shadow)
                    launch(i)
                else:
                    self.overtaken[i] = 0
                    if not self.overtake_limit:
                        _subtract(shadow, req)  # reserve at once
                    self.blocked.append(key)
                    if len(self.blocked) > 256:
                        return
                continue
            heappop(heap)
            if self.overtaken:
                self._overtake(shadow)
            launch(i)

    def _launch_one_general(self) -> None:
        """Pop the head of the ready heap and start it through ``_launch``."""
        key = heapq.heappop(self.heap)
        self._launch(self._idx(key))

    def _overtake(self, shadow: dict | None) -> None:
        """A node starts while others are parked: each parked node was overtaken once.

        A parked node that reaches the limit starts reserving at once (``shadow`` is
        what later nodes in this pass may still take).
        """
        overtaken = self.overtaken
        limit = self.overtake_limit
        reqs = self.reqs
        assert reqs is not None  # nodes are parked only when a pool checks requirements
        for j in overtaken:
            count = overtaken[j] = overtaken[j] + 1
            if count == limit and shadow is not None:
                _subtract(shadow, reqs[j])

    def _dispatch_blocked(self) -> dict | None:
        """Retry parked nodes in key order; return what is left for the rest."""
        pool = self.pool
        shadow = pool.available
        reqs = self.reqs
        assert reqs is not None  # nodes are parked only when a pool checks requirements
        still = []
        for key in self.blocked:
            i = self._idx(key)
            req = reqs[i]
            if self.stopping or self.exclusive_running or self.in_flight >= self.max_conc:
                still.append(key)
                continue
            if self.opts[i].exclusive and self.in_flight:
                still.append(key)
                _subtract(shadow, req)
                continue
            if req.fits(shadow) and pool._take_if_fits(req, self.names[i]):
                _subtract(shadow, req)
                self._acquired(i, req)
                del self.overtaken[i]
                self._overtake(None)  # later parked nodes reserve when visited below
                self._launch(i)
            else:
                if self.overtaken[i] >= self.overtake_limit:
                    _subtract(shadow, req)  # overtaken enough: now it reserves
                still.append(key)
        self.blocked = still
        if self.in_flight >= self.max_conc and not self.backend.synchronous:
            return None
        return shadow

    def _acquired(self, i: int, req: Any) -> None:
        self.held[(i, self.attempt[i] + 1)] = req  # for the attempt _launch starts next
        cb = self.callbacks
        if cb is not None and cb.on_resource_acquired is not None:
            cb.on_resource_acquired(self.names[i], req)

    def early_release(self, i: int, attempt: int) -> None:
        """Give back what attempt ``attempt`` of node ``i`` holds; a threads worker calls
        this right after the call, before it takes the engine lock (only without
        callbacks, which must run on the engine). The pool has its own lock."""
        req = self.held.pop((i, attempt), None)
        if req is not None:
            c = req._vec  # the give the pool built for req (see ResourcePool._vector)
            if c is not None and c[0] is self.pool and c[1] is not None:
                c[1][1](req, self.names[i])
            else:
                self.pool._give_back(req, self.names[i])

    def _early_release(self) -> Callable[[int, int], None]:
        """:meth:`early_release` as a closure over the run's state (a worker calls it once
        per node, so it skips the attribute lookups)."""
        pop, names, pool = self.held.pop, self.names, self.pool

        def release(i: int, attempt: int) -> None:
            req = pop((i, attempt), None)
            if req is not None:
                c = req._vec  # the give the pool built for req (see ResourcePool._vector)
                if c is not None and c[0] is pool and c[1] is not None:
                    c[1][1](req, names[i])
                else:
                    pool._give_back(req, names[i])

        return release

    def _release(self, i: int, attempt: int) -> None:
        req = self.held.pop((i, attempt), None)
        if req is None:
            return
        self.pool._give_back(req, self.names[i])
        cb = self.callbacks
        if cb is not None and cb.on_resource_released is not None:
            cb.on_resource_released(self.names[i], req)
