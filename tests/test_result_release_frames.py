"""``ExecutionResult.release_frames()``: a kept result does not keep a failed node's locals."""

from __future__ import annotations

import gc
import weakref

from dagforge import DAG


class Big:
    """Stands for what a failing function had loaded."""


def test_release_frames_lets_a_failed_node_s_locals_go_and_keeps_the_text():
    refs = []

    def load_then_fail():
        data = Big()
        refs.append(weakref.ref(data))
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise ValueError("it failed") from exc

    dag = DAG()
    dag.add_node("n", load_then_fail)
    result = dag.execute()
    assert result["n"].status == "failed"
    gc.collect()
    assert refs[0]() is not None  # the traceback's frames hold ``data``
    assert result.release_frames() is result
    gc.collect()
    assert refs[0]() is None
    error = result["n"].error
    assert isinstance(error, ValueError) and error.__traceback__ is None
    assert error.__cause__.__traceback__ is None  # the chain too
    assert "load_then_fail" in result["n"].traceback  # the formatted text stays
    assert "KeyError" in result["n"].traceback


def test_release_frames_covers_retried_attempts():
    calls = []

    def flaky():
        calls.append(1)
        data = Big()
        calls.append(weakref.ref(data))
        raise RuntimeError("again")

    dag = DAG()
    dag.add_node("n", flaky, retries=1)
    result = dag.execute()
    attempts = result["n"].attempts
    assert len(attempts) == 2 and all(a.error is not None for a in attempts)
    result.release_frames()
    gc.collect()
    assert all(a.error.__traceback__ is None for a in attempts)
    assert all(r() is None for r in calls if isinstance(r, weakref.ref))
