"""Result building: the run's arrays become an ``ExecutionResult`` once it settled."""

from __future__ import annotations

from dagforge.errors import NodeTimeoutError
from dagforge.execution import states as S
from dagforge.execution.result import Attempt, ExecutionResult
from dagforge.execution.state import RunState


class Building(RunState):
    """Record attempts as they end; build the result at the end."""

    def finish(self) -> ExecutionResult:
        """The run settled: RUNNING -> SUCCEEDED/FAILED/CANCELLED, learn the inline schedule if
        the run was one, let the backend finalize, and build the
        ``ExecutionResult``."""
        t1 = self.clock()
        if (
            self._learn_schedule is not None
            and len(self.order) == self.n
            and self.status.count(S.SUCCEEDED) == self.n
        ):  # every node ran once, in heap order: that order is the compiled schedule
            self.plan.schedules[self._learn_schedule] = list(self.order)  # type: ignore[union-attr]
        finalize = getattr(self.backend, "finalize", None)
        if finalize is not None:
            finalize(self)  # e.g. fetch values from a cluster that is about to close
        if self.interrupted:
            final = S.RUN_CANCELLED
        elif self.fatal is not None or self.errors:
            final = S.RUN_FAILED
        else:
            final = S.RUN_SUCCEEDED
        S.check_run_transition(self.state, final)
        self.state = final
        edge_bytes = self._edge_bytes() if self.profiling else None
        result = ExecutionResult(
            names=self.names,
            index=self.dag._index,
            status=self.status,
            values=self.values,
            starts=self.starts,
            ends=self.ends,
            workers=self.workers,
            worker_names=list(self.backend.worker_names),
            errors=self.errors,
            reasons=self.reasons,
            attempts=self.attempts,
            metrics=self.metrics,
            leaves=self.outputs_of if self.outputs_of is not None else self._leaves(),
            t0=self.t0,
            t1=t1,
            wall_start=self.wall_start,
            run_status=final,
            backend=self.backend.name,
            edge_bytes=edge_bytes,
            order=self.order,
            tracing=self.tracing,
            interrupted=self.interrupted,
            dag=self.dag,
            logs=self.capture.logs if self.capture is not None else None,
        )
        cb = self.callbacks
        if cb is not None and cb.on_run_complete is not None:
            cb.on_run_complete(result)
        return result

    def _leaves(self) -> list[int]:
        """The nodes with no children (what ``result.outputs`` reports by default), cached on
        the plan."""
        plan = self.plan
        if plan is not None and plan.leaves is not None and len(plan.fns) == self.n:
            return plan.leaves
        leaves = [i for i in range(self.n) if not self.succ[i]]
        if plan is not None:
            plan.leaves = leaves
        return leaves

    def _edge_bytes(self) -> dict[tuple[str, str], int]:
        """Bytes that crossed each edge: the sizes of the outputs the edge routes."""
        out: dict[tuple[str, str], int] = {}
        names = self.names
        routed: dict[tuple[int, int], list[str]] = {}
        for v, binding in self.bindings.items():
            for u, o, _ in binding:
                routed.setdefault((u, v), []).append(o)
        bytes_in: dict[int, int] = {}
        for u in range(self.n):
            m = self.metrics.get(u)
            if m is None:
                continue
            for v in self.succ[u]:
                if self.status[v] == S.SKIPPED and self.status[u] == S.SUCCEEDED and v in self.dead:
                    size = 0
                elif (u, v) in routed:
                    size = sum(m.output_bytes.get(o, 0) for o in routed[(u, v)])
                else:
                    size = m.bytes_out
                out[(names[u], names[v])] = size
                bytes_in[v] = bytes_in.get(v, 0) + size
        for v, total in bytes_in.items():
            m = self.metrics.get(v)
            if m is not None:
                m.bytes_in = total
        return out

    def _record_attempt(self, i, attempt, ok, err, t_start, t_end, wid) -> None:
        """Keep one ``Attempt`` of node ``i`` (nodes with retries or a timeout), times relative
        to the run start."""
        status = (
            "succeeded" if ok else ("timed_out" if isinstance(err, NodeTimeoutError) else "failed")
        )
        wname = self.backend.worker_names[wid] if 0 <= wid < len(self.backend.worker_names) else "?"
        self.attempts.setdefault(i, []).append(
            Attempt(attempt, t_start - self.t0, t_end - self.t0, wname, status, err)
        )
