"""The Gantt chart: every bar identifiable, the legend outside the bars."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from dagforge.execution.result import ExecutionResult
from dagforge.graph import DAG
from dagforge.profiling.plot import STATUS_COLORS, gantt


def _result():
    import time

    from dagforge import Executor

    def slow():
        time.sleep(0.05)
        return 1

    dag = DAG()
    dag.add_node("long_one", slow)
    dag.add_node("tiny", lambda x: x)  # a bar far too short for its label
    dag.add_node("boom", lambda x: 1 / 0)
    dag.add_node("after", lambda x: x)
    dag.add_edge("long_one", "tiny")
    dag.add_edge("tiny", "boom")
    dag.add_edge("boom", "after")
    result = Executor(dag, backend="inline", fail_fast=False).execute()
    assert isinstance(result, ExecutionResult)
    return result


def test_every_bar_is_named_and_the_legend_is_outside(tmp_path):
    result = _result()
    fig = gantt(result, tmp_path / "g.png")
    ax = fig.axes[0]
    fig.canvas.draw()
    legend = ax.get_legend()
    assert legend is not None
    legend_box = legend.get_window_extent()
    axes_box = ax.get_window_extent()
    assert legend_box.x0 >= axes_box.x1  # right of the plot: over no bar
    named = {t.get_text() for t in legend.get_texts()}
    ran = [n for n, r in result.results.items() if r.start is not None]
    assert set(ran) <= named  # each bar that ran has its colour in the legend
    colours = {}
    for patch, text in zip(legend.get_patches(), legend.get_texts(), strict=True):
        colours[text.get_text()] = patch.get_facecolor()
    bars = [p for p in ax.patches]
    assert len(bars) == len(ran)
    assert len({colours[n] for n in ran}) == len(ran)  # one colour per node
    assert "failed" in named  # the failed bar's hatch is explained
    assert "tiny" not in {t.get_text() for t in ax.texts}  # too short to carry its label
    assert (tmp_path / "g.png").stat().st_size > 0


def test_many_nodes_fall_back_to_status_colours_with_an_outside_legend():
    dag = DAG()
    for i in range(25):
        dag.add_node(f"n{i:02d}", lambda: 0)
    from dagforge import Executor

    result = Executor(dag, backend="inline").execute()
    fig = gantt(result)
    ax = fig.axes[0]
    fig.canvas.draw()
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["succeeded"]
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1
    assert STATUS_COLORS["succeeded"]
