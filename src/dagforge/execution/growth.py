"""Growth: dynamic rules add nodes and edges to a running run.

After every completion (and at the start) each pending rule's predicate is asked
about the run (``dynamic.GraphView``); a rule that holds runs its body, whose additions
are applied all at once to the run's own copy of the DAG and to every per-node array.
A rule that raises ends the run (``fatal``), keeping nothing it added.
"""

from __future__ import annotations

from typing import Any

from dagforge.calling import kind_for, refuse
from dagforge.errors import DagforgeError, DynamicGraphError
from dagforge.execution import states as S
from dagforge.execution.planning import _ops_for, heap_key
from dagforge.execution.state import RunState


class Growth(RunState):
    """Apply the run's dynamic rules."""

    def _apply_rules(self) -> None:
        """Apply every rule whose predicate holds, until none does (rules may enable rules)."""
        from dagforge.dynamic import GraphBuilder, GraphView

        progressed = True
        while progressed and self.rules and not self.stopping:
            progressed = False
            for r in list(self.rules):
                try:
                    if not r.predicate(GraphView(self)):
                        continue
                    builder = GraphBuilder(self, r)
                    r.body(builder)
                    self._append(r, builder)
                except Exception as exc:
                    self._fatal(r, exc)
                    return
                self.rules.remove(r)
                self.rules.extend(builder.rules)
                progressed = True

    def _fatal(self, r: Any, exc: Exception) -> None:
        """Rule ``r`` raised ``exc``: end the run with it (dagforge's own errors as they are,
        anything else wrapped in ``DynamicGraphError``)."""
        # dagforge's own errors (DynamicGraphError, LoopLimitError, SpecError...) end the
        # run as they are; anything else a user's predicate or body raised is wrapped.
        if not isinstance(exc, DagforgeError):
            wrapped = DynamicGraphError(
                f"rule {r.name!r} raised {type(exc).__name__}: {exc}; nothing it added was kept"
            )
            wrapped.__cause__ = exc
            exc = wrapped
        self.fatal = exc
        self._stop(f"the run stopped: {exc}")

    def _append(self, r: Any, b: Any) -> None:
        """Apply a body's additions all at once (each was validated when the body added it)."""
        if not b.nodes:
            return
        dag = self.dag
        first = len(self.names)
        parents_of: dict[str, list[str]] = {}
        for src, dst in b.edges:
            parents_of.setdefault(dst, []).append(src)
        for name, fn, _ in b.nodes:
            kind = kind_for(self._arity(fn), len(parents_of.get(name, ())))
            if type(kind) is str:
                err = refuse(name, parents_of.get(name, []), fn, kind)
                raise DynamicGraphError(f"rule {r.name!r} adds an uncallable node: {err}")
        for name, fn, opts in b.nodes:
            dag._append_node(name, fn, opts)
        index = dag._index
        for src, dst in b.edges:  # checked by the builder: new targets, known sources
            dag._append_edge(index[src], index[dst])
        new = range(first, len(self.names))
        if self.reqs is not None:
            from dagforge.resources import ResourceRequirements

            for i in new:
                req = self.opts[i].resources
                req = ResourceRequirements.coerce(req) if req else None
                ops: tuple[Any, Any] = (None, None)
                if req is not None and self.pool is not None:
                    self.pool.check(req, node=self.names[i])
                    ops = _ops_for(self.pool, req)
                    self.req_kinds = -1  # maybe a new kind: admission counts again
                self.reqs.append(req)
                if self.pool is not None:  # else nothing limits them: no takes
                    self.takes.append(ops[0])
                    self.gives.append(ops[1])
        for i in new:
            self.n += 1
            self.status.append(S.PENDING)
            self.pending.append(len(self.pred[i]))
            self.values.append(None)
            self.starts.append(0.0)
            self.ends.append(0.0)
            self.workers.append(-1)
            self.attempt.append(0)
            fn = dag._tasks[i]
            self.fns.append(fn)
            kind = kind_for(self._arity(fn), len(self.pred[i]))
            assert type(kind) is int  # checked above: every added node is callable
            self.kinds.append(kind)
            self.keys.append(heap_key(self.opts[i].priority, 0.0, i))
            if self.est is not None:
                c = self.opts[i].cost
                self.est.append(None if c is None else float(c))
        for i in new:
            failed_parent = None
            for p in self.pred[i]:
                st = self.status[p]
                if st == S.SUCCEEDED:
                    self.pending[i] -= 1
                elif st in S.TERMINAL:
                    failed_parent = self.names[p]
            if self.status[i] != S.PENDING:
                continue
            if failed_parent is not None:
                self._skip(i, f"upstream node {failed_parent!r} did not succeed")
                self._skip_descendants(i, f"upstream node {failed_parent!r} did not succeed")
            elif not self.pending[i]:
                self._push(i)
