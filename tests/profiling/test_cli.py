"""CLI commands of the profiling layer, on an app built here with ``register``."""

from __future__ import annotations

import json
import textwrap

import pytest
import typer
from typer.testing import CliRunner

from dagforge.cli.profiling import register
from dagforge.profiling import Profile

runner = CliRunner()

MODULE = textwrap.dedent(
    """
    import numpy as np
    from dagforge import DAG, Config, Task

    class Make(Task):
        outputs = ["values"]
        config_deps = ["N"]
        def compute(self, cfg=None):
            return {"values": np.random.randn(cfg.N)}
        @staticmethod
        def estimate_instructions(cfg):
            return cfg.N * 3

    class Use(Task):
        inputs = ["values"]
        outputs = ["total"]
        def compute(self, values, cfg=None):
            return {"total": float(values.sum())}

    def build(n=1000):
        return DAG(tasks={"make": Make(), "use": Use()}, edges=[("make", "use")],
                   config=Config(N=n))

    small = build(1000)
    """
)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so commands are addressed by name
        pass

    register(app)
    return app


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "cli_dag_module.py"
    path.write_text(MODULE)
    return path


def test_profile_writes_profile_trace_gantt_and_summary(app, module, tmp_path):
    out, trace, gantt = tmp_path / "p.json", tmp_path / "t.json", tmp_path / "g.png"
    res = runner.invoke(
        app,
        [
            "profile",
            f"{module}:build",
            "--seed",
            "42",
            "-o",
            str(out),
            "--trace",
            str(trace),
            "--gantt",
            str(gantt),
            "--backend",
            "threads",
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    p = Profile.load(out)
    assert p.seed == 42 and p.edge_weights["make->use"] == 8 * 8 * 1000
    assert "slowest nodes" in res.output and "heaviest edges" in res.output
    assert "critical path" in res.output and "make -> use" in res.output
    assert json.loads(trace.read_text())["traceEvents"]
    assert gantt.read_bytes().startswith(b"\x89PNG")


def test_profile_runs_aggregate(app, module, tmp_path):
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["profile", f"{module}:small", "--runs", "3", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert Profile.load(out).runs == 3


def test_compare_prints_a_table(app, module, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert runner.invoke(app, ["profile", f"{module}:small", "-o", str(a)]).exit_code == 0
    big = tmp_path / "big.py"
    big.write_text(MODULE + "\nsmall = build(4000)\n")
    assert runner.invoke(app, ["profile", f"{big}:small", "-o", str(b)]).exit_code == 0
    res = runner.invoke(app, ["compare", str(a), str(b)])
    assert res.exit_code == 0, res.output
    assert "config" in res.output and "1000" in res.output and "4000" in res.output
    assert "make->use" in res.output and "+300.0%" in res.output


def test_compare_reports_a_bad_profile_with_its_path(app, tmp_path, seed_fixture_path):
    bad = tmp_path / "bad.json"
    data = json.loads(seed_fixture_path.read_text())
    data["edge_weights"]["collect->process"] = -1
    bad.write_text(json.dumps(data))
    res = runner.invoke(app, ["compare", str(seed_fixture_path), str(bad)])
    assert res.exit_code == 2
    assert '$.edge_weights["collect->process"]' in res.output


def test_simulate_command(app, tmp_path, seed_fixture_path):
    res = runner.invoke(
        app,
        ["simulate", str(seed_fixture_path), "--workers", "2", "--gantt", str(tmp_path / "s.png")],
    )
    assert res.exit_code == 0, res.output
    assert "makespan: 5.627 ms" in res.output  # only collect was measured in that file
    assert (tmp_path / "s.png").exists()


def test_trace_command(app, module, tmp_path):
    out = tmp_path / "trace.json"
    res = runner.invoke(app, ["trace", f"{module}:build", "-o", str(out)])
    assert res.exit_code == 0, res.output
    events = [e for e in json.loads(out.read_text())["traceEvents"] if e["ph"] == "X"]
    assert [e["name"] for e in events] == ["make", "use"]
