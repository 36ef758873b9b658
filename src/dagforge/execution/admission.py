"""Admission: which ready node may start now.

Checked in this order for the head of the ready heap: global concurrency
(``max_conc``; a synchronous backend runs one at a time: each ``Start`` is applied,
in place, by the driver before the next dispatch), exclusive nodes (one
runs with nothing else running), then resources (``try_acquire`` through the pool's
cached take; the loop never blocks on the pool).

Resource fairness: a node whose requirement does not fit *now* is parked in
``blocked``, and later nodes may start around it (backfill) only as far as it cannot
starve. Two rules, chosen per run:

- EASY backfilling, when the run has cost estimates (``costs=``, a guiding profile, or
  a node's ``cost`` option; see ``Run.est``): the parked node parked first — the one
  overtaken most — is the *head* and gets a reservation: the earliest time ``t_res``
  at which, by the estimated ends of the running nodes that hold resources, what it
  needs is free, and the ``extra`` left over then. A later node starts now only if it
  fits now and either its estimate says it ends by ``t_res`` or it fits in ``extra``
  (which it then uses up) — so, as far as the estimates are right, nothing started
  around the head delays it. A holder past its estimate counts as ending now, so the
  reservation never moves later than the first one computed: from then on only nodes
  fitting in ``extra`` start, and the head waits only for what runs. If ``t_res``
  cannot be known (a holder has no estimate), the head reserves what it asked for at
  once: later nodes then only get what is left after it.
  The other parked nodes wait their turn as head, oldest first.
- Bounded overtaking, without estimates: later nodes may start around a parked node
  until ``overtake_limit`` of them have; from then on it reserves what it asked for,
  and later nodes are admitted only if they fit in what is left after every
  reservation. A large request waits behind at most ``overtake_limit`` smaller ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from dagforge.execution.state import RunState
from dagforge.options import DEFAULT_OPTIONS

_INF = float("inf")


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
        else:
            self.easy = None  # no parked node: no reservation in this pass
            self.has_head = False
        opts = self.opts
        keys = self.keys
        int_keys = self.int_keys
        n = self.n
        # a synchronous backend runs one job at a time, in place, when the driver applies
        # its Start: one started node ends this pass (the driver dispatches again after)
        cap = 1 if self.backend.synchronous else self.max_conc
        launch = self._launch
        heappop = heapq.heappop
        callbacks, held, est = self.callbacks, self.held, self.est
        takes, names = self.takes, self.names
        while heap and not self.stopping:
            if self.in_flight >= cap:
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
                    if takes[i](req, names[i]):  # this run's compiled take (planning)
                        if callbacks is None and est is None:  # _acquired, inlined
                            held[(i, self.attempt[i] + 1)] = req
                        else:
                            self._acquired(i, req)
                        launch(i)
                        continue
                    shadow = pool.available
                if (
                    req.fits(shadow)
                    and (self.easy is None or self._backfills(i, req))
                    and takes[i](req, names[i])
                ):
                    _subtract(shadow, req)
                    self._acquired(i, req)
                    if self.overtaken:
                        self._overtake(shadow)
                    launch(i)
                else:
                    self.overtaken[i] = 0
                    if est is not None:
                        if not self.has_head:  # the first node parked: the head
                            self._reserve(req, shadow)
                    elif not self.overtake_limit:
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
        what later nodes in this pass may still take); with estimates (EASY) the count
        only orders the parked nodes (the most overtaken is the head).
        """
        overtaken = self.overtaken
        if self.est is not None:
            for j in overtaken:
                overtaken[j] += 1
            return
        limit = self.overtake_limit
        reqs = self.reqs
        assert reqs is not None  # nodes are parked only when a pool checks requirements
        for j in overtaken:
            count = overtaken[j] = overtaken[j] + 1
            if count == limit and shadow is not None:
                _subtract(shadow, reqs[j])

    def _dispatch_blocked(self) -> dict | None:
        """Retry parked nodes in key order; return what is left for the rest.

        The scan is the hot spot of a large pool-bound run (every dispatch walks every
        parked node), so it is kept cheap: ``shadow`` only shrinks during a scan, so a
        requirement that did not fit it does not fit it later in the same scan either —
        each parked node with an equal requirement is then refused by one dict lookup
        and a dict compare instead of ``fits`` (``no_fit``); with EASY, once the head has
        its reservation and every distinct requirement of the run was refused, the rest
        is kept without a look."""
        pool = self.pool
        shadow = pool.available
        reqs = self.reqs
        assert reqs is not None  # nodes are parked only when a pool checks requirements
        still: list[Any] = []
        keep = still.append
        easy = self.est is not None
        self.easy = None
        self.has_head = False
        blocked = self.blocked
        keys, n, int_keys = self.keys, self.n, self.int_keys
        idx = [
            (k if keys is None else (k % n if int_keys else k[2])) for k in blocked
        ]  # _idx, inlined
        if easy and len(blocked) > 1:  # oldest first: the most overtaken, then the key
            overtaken = self.overtaken
            order = sorted(range(len(blocked)), key=[-overtaken[i] for i in idx].__getitem__)
            blocked = [blocked[j] for j in order]
            idx = [idx[j] for j in order]
        opts, takes, names = self.opts, self.takes, self.names
        cap = 1 if self.backend.synchronous else self.max_conc  # as in dispatch
        no_fit: dict[int, Any] = {}  # requirement hash -> a requirement that did not fit
        kinds = -1  # distinct requirements of the run, exact (-1 or 0: no shortcut)
        if easy:
            kinds = self.req_kinds
            if kinds < 0:  # an exclusive node, parked, shrinks shadow: no shortcut then
                kinds = self.req_kinds = (
                    0
                    if any(o.exclusive for o in opts)
                    else len({frozenset(r._resources.items()) for r in reqs if r is not None})
                )
        for pos, (key, i) in enumerate(zip(blocked, idx, strict=True)):
            if kinds > 0 and self.has_head and len(no_fit) == kinds:
                # EASY, the head reserved and no requirement fits what is left: nothing
                # else can start in this scan (and nothing else changes), keep the rest.
                still.extend(blocked[pos:])
                break
            req = reqs[i]
            if self.stopping or self.exclusive_running or self.in_flight >= cap:
                keep(key)
                continue
            if opts[i].exclusive and self.in_flight:
                keep(key)
                _subtract(shadow, req)
                continue
            seen = no_fit.get(req._hash)
            if seen is not None and (seen is req or seen._resources == req._resources):
                fits = False
            else:
                fits = req.fits(shadow)
                if not fits:
                    if seen is not None:  # two kinds, one hash: len(no_fit) undercounts
                        kinds = -1
                    no_fit[req._hash] = req
            if fits and (self.easy is None or self._backfills(i, req)) and takes[i](req, names[i]):
                _subtract(shadow, req)
                self._acquired(i, req)
                del self.overtaken[i]
                self._overtake(None)  # later parked nodes reserve when visited below
                self._launch(i)
            else:
                if easy:
                    if not self.has_head:
                        self._reserve(req, shadow)  # EASY: the head's reservation
                elif self.overtaken[i] >= self.overtake_limit:
                    _subtract(shadow, req)  # overtaken enough: now it reserves
                keep(key)
        self.blocked = still
        if self.in_flight >= cap:
            return None
        return shadow

    # -- EASY backfilling (see the module docstring) --------------------------------------

    def _reserve(self, req: Any, shadow: dict) -> None:
        """Reserve for the head: find ``t_res`` and ``extra`` (``self.easy``), or, if the
        reservation time cannot be told, take ``req`` out of ``shadow``."""
        self.has_head = True
        t_res, extra = self._reservation(req, shadow)
        if extra is None:
            _subtract(shadow, req)  # unknown: reserve now, wait for what runs
        else:
            self.easy = (t_res, extra)

    def _reservation(self, req: Any, shadow: dict) -> tuple[float, dict | None]:
        """When the running nodes' estimated ends free enough for ``req`` (from what is
        free now, ``shadow``), and what is left over then; ``(inf, None)`` when unknown."""
        avail = dict(shadow)
        ends = self.est_end
        now = self.clock()
        # A holder past its estimate ends any moment (now): the reservation never moves
        # later than the first one, so nothing started around the head can delay it
        # past that, even when estimates are short.
        holders = sorted(
            ((max(ends.get(i, _INF), now), r) for (i, _a), r in list(self.held.items())),
            key=lambda e: e[0],
        )
        for t, r in holders:
            if t == _INF:
                break
            for k, amount in r._resources.items():
                avail[k] = avail.get(k, 0) + amount
            if req.fits(avail):
                _subtract(avail, req)
                return t, avail
        return _INF, None

    def _backfills(self, i: int, req: Any) -> bool:
        """May node ``i`` start around the head (``self.easy``)? If its estimate ends by
        the reservation, or it fits in what the reservation leaves (then it takes that)."""
        t_res, extra = self.easy  # type: ignore[misc]
        e = self.est[i]  # type: ignore[index]
        if e is not None and self.clock() + e <= t_res:
            return True
        if req.fits(extra):
            _subtract(extra, req)
            return True
        return False

    def _acquired(self, i: int, req: Any) -> None:
        """Node ``i`` took ``req`` from the pool for the attempt about to start: hold it (and
        note when, by its estimate, it comes back)."""
        self.held[(i, self.attempt[i] + 1)] = req  # for the attempt _launch starts next
        est = self.est
        if est is not None:  # when this node's resources come back, by its estimate
            e = est[i]
            self.est_end[i] = _INF if e is None else self.clock() + e
        cb = self.callbacks
        if cb is not None and cb.on_resource_acquired is not None:
            cb.on_resource_acquired(self.names[i], req)

    def early_release(self, i: int, attempt: int) -> None:
        """Give back what attempt ``attempt`` of node ``i`` holds; a threads worker calls
        this right after the call, before it takes the engine lock (only without
        callbacks, which must run on the engine). The pool has its own lock."""
        req = self.held.pop((i, attempt), None)
        if req is not None:
            self.gives[i](req, self.names[i])

    def _early_release(self) -> Callable[[int, int], None]:
        """:meth:`early_release` as a closure over the run's state (a worker calls it once
        per node, so it skips the attribute lookups). From now on every attempt a worker
        finishes gives its resources back here, so ``_complete`` skips the ``held`` pop
        (``early_attached``)."""
        pop, names, gives = self.held.pop, self.names, self.gives
        self.early_attached = True

        def release(i: int, attempt: int) -> None:
            req = pop((i, attempt), None)
            if req is not None:
                gives[i](req, names[i])  # this run's compiled give (planning)

        return release

    def _release(self, i: int, attempt: int) -> None:
        """Give back what attempt ``attempt`` of node ``i`` holds (if it still does) and tell
        the callbacks."""
        req = self.held.pop((i, attempt), None)
        if req is None:
            return
        self.gives[i](req, self.names[i])
        cb = self.callbacks
        if cb is not None and cb.on_resource_released is not None:
            cb.on_resource_released(self.names[i], req)
