"""Pictures: Gantt charts and DAG drawings are real, non-empty PNG/SVG files."""

from __future__ import annotations

import pytest

from dagforge.execution.executor import Executor
from dagforge.profiling import Profile, run_profile
from dagforge.scheduling.simulate import simulate

pytest.importorskip("matplotlib")

from dagforge.profiling import plot

PNG = b"\x89PNG\r\n\x1a\n"


def _run(dag):
    return Executor(
        dag, backend="threads", max_workers=2, enable_tracing=True, profile=True
    ).execute()


def test_gantt_of_a_result_has_one_row_per_worker(quickstart, tmp_path):
    result = _run(quickstart)
    fig = plot.gantt(result, tmp_path / "g.png")
    data = (tmp_path / "g.png").read_bytes()
    assert data.startswith(PNG) and len(data) > 2000
    ax = fig.axes[0]
    used = {r.worker for r in result.results.values()}
    assert [t.get_text() for t in ax.get_yticklabels()] == [w for w in result.workers if w in used]
    assert len(ax.patches) == 3  # one bar per node


def test_gantt_svg_of_profile_and_simulation(quickstart, tmp_path, seed_fixture_path):
    p = run_profile(quickstart, seed=1, backend="threads", max_workers=2)
    plot.gantt(p, tmp_path / "p.svg")
    text = (tmp_path / "p.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    # a dagprofiler profile has no positions: nodes are laid end to end
    fig = plot.gantt(Profile.load(seed_fixture_path), tmp_path / "seq.png")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["sequential"]
    simulate(p, workers=2).gantt(tmp_path / "sim.png")
    assert (tmp_path / "sim.png").read_bytes().startswith(PNG)


def test_draw_dag_colours_status_and_widths_by_weight(quickstart, tmp_path):
    result = _run(quickstart)
    p = Profile.from_result(result)
    fig = plot.draw_dag(quickstart, tmp_path / "dag.png", result=result, profile=p)
    assert (tmp_path / "dag.png").read_bytes().startswith(PNG)
    arrows = {
        (a.xyann, a.xy): a.arrow_patch.get_linewidth()
        for a in fig.axes[0].texts
        if getattr(a, "arrow_patch", None) is not None
    }
    assert len(arrows) == 3
    widths = sorted(arrows.values())
    assert widths[0] < widths[-1]  # 640,000 bits vs 6,400,000 bits
    plot.draw_dag(p, tmp_path / "dag.svg")
    assert "<svg" in (tmp_path / "dag.svg").read_text()


def test_layered_layout_depths(tawazi):
    pos = plot.layered_layout(tawazi.nodes, tawazi.edges)
    assert pos["A"][1] == 0 and pos["B"][1] == pos["C"][1] == pos["D"][1] == -1
    assert pos["E"][1] == -2
    assert len({pos[n][0] for n in "BCD"}) == 3


def test_unknown_suffix_is_refused(quickstart, tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        plot.gantt(_run(quickstart), tmp_path / "g.gif")
