"""The static run report (profiling/report.py): one self-contained HTML file."""

from __future__ import annotations

import json
import re

import pytest

from dagforge import DAG
from dagforge.execution.executor import Executor
from dagforge.profiling import Profile
from dagforge.profiling.report import (
    bars_from_trace,
    dag_svg,
    gantt_svg,
    layout,
    write_report,
)

EVIL = "<img src=x onerror=alert(1)>"


def _run(profile=True):
    dag = DAG()
    dag.add_node("load", lambda: 3)
    dag.add_node("square", lambda x: x * x)
    dag.add_node(EVIL, lambda x: x + 1)

    def broken(x):
        print("about to fail")
        raise RuntimeError("no good")

    dag.add_node("broken", broken)
    dag.add_edge("load", "square")
    dag.add_edge("load", EVIL)
    dag.add_edge("square", "broken")
    return Executor(
        dag,
        backend="threads",
        max_workers=2,
        fail_fast=False,
        profile=profile,
        enable_tracing=True,
        capture_logs=True,
    ).execute()


def test_result_report_is_self_contained_and_escaped(tmp_path):
    result = _run()
    path = result.report(tmp_path / "run.html")
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    # nothing is fetched from anywhere: no scripts, no external links or sources
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert EVIL not in page and html_escaped(EVIL) in page
    for name in ("load", "square", "broken"):
        assert f'data-node="{name}"' in page
    assert page.count('class="bar ') == 4  # one Gantt bar per node that ran
    assert "✗ failed" in page and "✓ succeeded" in page  # state as text, not colour alone
    assert "RuntimeError: no good" in page and "about to fail" in page
    assert "Slowest nodes" in page and "Critical path" in page


def html_escaped(text):
    import html

    return html.escape(text)


def test_report_from_saved_profile_and_trace(tmp_path):
    result = _run()
    Profile.from_result(result).save(tmp_path / "profile.json")
    result.trace.save(tmp_path / "trace.json")
    out = write_report(
        tmp_path / "run.html", profile=tmp_path / "profile.json", trace=tmp_path / "trace.json"
    )
    page = out.read_text()
    assert page.count('class="bar ') == 4
    assert 'data-node="square"' in page and "Heaviest edges" in page
    bars = bars_from_trace(json.loads((tmp_path / "trace.json").read_text()))
    assert {b[0] for b in bars} == {"load", "square", EVIL, "broken"}
    assert {b[4] for b in bars} == {"succeeded", "failed"}


def test_report_needs_something_and_names_a_bad_trace(tmp_path):
    with pytest.raises(ValueError, match="needs a result"):
        write_report(tmp_path / "x.html")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValueError, match=r"bad\.json"):
        write_report(tmp_path / "x.html", trace=bad)


def test_layout_layers_and_loops():
    pos, layers, rows = layout(
        ["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    )
    assert [pos[n][0] for n in "abcd"] == [0, 1, 1, 2] and layers == 3 and rows == 2
    pos, layers, _ = layout(["x", "y"], [("x", "y"), ("y", "x")])  # a loop terminates
    assert pos["x"][0] == 0 and pos["y"][0] == 1


def test_big_dag_and_gantt_degrade():
    nodes = [f"tick#{i}" for i in range(10_000)]
    svg = dag_svg(nodes, [(nodes[i], nodes[i + 1]) for i in range(9_999)], {})
    assert "<svg" not in svg and "10000 nodes" in svg and "summarised" in svg
    from dagforge.profiling.report import Bar

    bars = [
        Bar(f"n{i}", f"w{i % 4}", i * 0.001, i * 0.001 + (i % 7) * 0.0001, "succeeded")
        for i in range(10_000)
    ]
    chart = gantt_svg(bars, max_bars=500)
    assert chart.count("<rect") == 500 and "9500 shorter attempts" in chart


def test_cli_report(tmp_path):
    from typer.testing import CliRunner

    from dagforge.cli import app

    result = _run()
    Profile.from_result(result).save(tmp_path / "profile.json")
    result.trace.save(tmp_path / "trace.json")
    out = tmp_path / "out.html"
    runner = CliRunner()
    done = runner.invoke(
        app,
        ["report", str(tmp_path / "trace.json"), str(tmp_path / "profile.json"), "-o", str(out)],
    )
    assert done.exit_code == 0, done.output
    assert out.read_text().count('class="bar ') == 4
    (tmp_path / "other.json").write_text('{"x": 1}')
    bad = runner.invoke(app, ["report", str(tmp_path / "other.json"), "-o", str(out)])
    assert bad.exit_code == 2 and "neither a dagforge profile" in bad.output


def test_report_draws_the_resource_timeline(tmp_path):
    from dagforge import ResourcePool

    pool = ResourcePool({"cpu": 2, "gpu": 1})
    dag = DAG()
    for k in range(4):
        dag.add_node(f"n{k}", lambda: 1)
    result = Executor(
        dag,
        backend="threads",
        max_workers=2,
        resource_pool=pool,
        requirements={"n0": {"cpu": 2}, "n1": {"gpu": 1}, "n2": {"cpu": 1}, "n3": {"cpu": 1}},
    ).execute()
    page = result.report(tmp_path / "r.html", timeline=pool).read_text()
    assert "Resource timeline" in page
    assert 'data-resource="cpu"' in page and 'data-resource="gpu"' in page
    assert "8 acquire/release events" in page and "peak 2 (100%)" in page
    rows = re.findall(r'<g class="resource-row" data-resource="(\w+)" data-capacity="(\w+)"', page)
    assert rows == [("cpu", "2"), ("gpu", "1")]  # one row per resource of the pool


def test_report_derives_the_timeline_from_resources_options(tmp_path):
    dag = DAG()
    dag.add_node("a", lambda: 1, resources={"memory": 3})
    dag.add_node("b", lambda: 2)
    page = Executor(dag, backend="threads").execute().report(tmp_path / "r.html").read_text()
    assert 'data-resource="memory"' in page and "no pool timeline" in page
    plain = DAG()
    plain.add_node("x", lambda: 1)
    page = Executor(plain, backend="threads").execute().report(tmp_path / "p.html").read_text()
    assert "Resource timeline" not in page
