"""Issue 11: the cache key is stable across processes and changes exactly when it should."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dagforge import DAG, Executor, Task
from dagforge.execution.cache import ResultCache, code_identity
from dagforge.tasks import task

MODULE = """
import functools

SCALE = 3

def helper(x):
    return [v * SCALE for v in x]

def compute(xs):
    squares = [v * v for v in xs]
    pick = lambda v: v % 2 == 0
    def inner(v):
        return v + 1
    return helper([inner(v) for v in squares if pick(v)])
"""


def load(tmp_path: Path, source: str, name: str = "usermod"):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def key_in_new_process(tmp_path: Path, source: str) -> str:
    path = tmp_path / "prog_mod.py"
    path.write_text(textwrap.dedent(source))
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import prog_mod, hashlib;"
        "from dagforge.execution.cache import code_identity;"
        "print(hashlib.sha256(code_identity(prog_mod.compute)).hexdigest())"
    )
    env = dict(os.environ, PYTHONHASHSEED="random")
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    return out.stdout.strip()


def test_key_is_stable_across_processes_with_comprehensions_lambdas_and_closures(tmp_path):
    keys = {key_in_new_process(tmp_path, MODULE) for _ in range(3)}
    assert len(keys) == 1


def test_editing_a_helper_of_the_same_module_changes_the_key(tmp_path):
    before = code_identity(load(tmp_path, MODULE, "m1").compute)
    edited = MODULE.replace("return [v * SCALE for v in x]", "return [v + SCALE for v in x]")
    after = code_identity(load(tmp_path, edited, "m1").compute)
    constant = MODULE.replace("SCALE = 3", "SCALE = 4")
    after_constant = code_identity(load(tmp_path, constant, "m1").compute)
    nested = MODULE.replace("return v + 1", "return v + 2")
    after_nested = code_identity(load(tmp_path, nested, "m1").compute)
    assert len({before, after, after_constant, after_nested}) == 4


def test_moving_code_down_a_line_keeps_the_key(tmp_path):
    before = code_identity(load(tmp_path, MODULE, "m2").compute)
    moved = code_identity(load(tmp_path, "\n\n# a comment\n" + MODULE, "m2").compute)
    assert before == moved


def test_lambda_defaults_give_distinct_keys():
    fns = {n: (lambda n=n: n * 2) for n in ("a", "b")}
    assert code_identity(fns["a"]) != code_identity(fns["b"])


def test_closure_values_count_but_mutable_state_does_not():
    counter = {"calls": 0}

    def make(scale):
        def f(x):
            counter["calls"] += 1
            return x * scale

        return f

    assert code_identity(make(2)) != code_identity(make(3))
    before = code_identity(make(2))
    counter["calls"] = 99
    assert code_identity(make(2)) == before


class Scaled(Task):
    inputs = ("xs",)
    outputs = ("ys",)
    config_deps = ("factor",)

    def compute(self, xs, cfg=None):
        return {"ys": self.apply(xs, cfg.factor)}

    @staticmethod
    def apply(xs, factor):
        return [x * factor for x in xs]


class ScaledOther(Scaled):
    @staticmethod
    def apply(xs, factor):
        return [x + factor for x in xs]


def test_a_task_method_it_calls_is_part_of_its_identity():
    assert code_identity(Scaled()) != code_identity(ScaledOther())


def source_task():
    @task(outputs=["xs"])
    def src():
        return {"xs": [1, 2]}

    return src


def test_config_deps_and_inputs_change_the_key_and_reruns_hit(tmp_path):
    calls = []

    class Counted(Scaled):
        def compute(self, xs, cfg=None):
            calls.append(cfg.factor)
            return {"ys": self.apply(xs, cfg.factor)}

    def build(factor):
        return DAG(
            tasks={"src": source_task(), "scale": Counted()},
            edges=[("src", "scale")],
            config={"factor": factor},
        )

    assert Executor(build(2), cache=tmp_path).execute()["scale"].value == {"ys": [2, 4]}
    assert Executor(build(2), cache=tmp_path).execute()["scale"].reason.startswith("restored")
    assert Executor(build(5), cache=tmp_path).execute()["scale"].value == {"ys": [5, 10]}
    assert calls == [2, 5]
    cache = ResultCache(tmp_path / "k")
    assert cache.key(Counted(), [("factor", 2)], [], {"xs": [1]}) != cache.key(
        Counted(), [("factor", 2)], [], {"xs": [2]}
    )


def test_explicit_cache_key_replaces_the_code_identity(tmp_path):
    def make(body, key):
        d = DAG().add_node("a", body, cache_key=key)
        return Executor(d, cache=tmp_path).execute()

    assert make(lambda: "v1", "data-2024").outputs == {"a": "v1"}
    # Different code, same explicit key: restored (the user vouches for it).
    again = make(lambda: "v2", "data-2024")
    assert again.outputs == {"a": "v1"} and again.restored == 1
    assert make(lambda: "v2", "data-2025").outputs == {"a": "v2"}


@pytest.mark.parametrize("bad", ["", 5])
def test_cache_key_must_be_a_non_empty_string(bad):
    from dagforge.errors import OptionError

    with pytest.raises(OptionError, match="cache_key"):
        DAG().add_node("a", lambda: 1, cache_key=bad)


PIPELINE = """
import os, sys
from dagforge import DAG, Executor

def load():
    return [v * v for v in range(5)]          # a comprehension: its code is a nested const

def total(xs):
    if os.environ.get("BREAK") == "1":
        raise RuntimeError("disk full")
    return sum(map(lambda v: v + 1, xs))      # and a lambda

d = DAG().add_node("load", load).add_node("total", total).add_edge("load", "total")
r = Executor(d, checkpoint=sys.argv[1]).execute()
print(r["load"].reason or "ran", "|", r["total"].status, r["total"].value)
"""


def test_checkpoint_resume_works_in_a_new_process_for_code_with_comprehensions(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(PIPELINE)
    ckpt = tmp_path / "ckpt"

    def run(breaks: bool) -> str:
        env = dict(os.environ, BREAK="1" if breaks else "0", PYTHONHASHSEED="random")
        out = subprocess.run(
            [sys.executable, str(script), str(ckpt)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=True,
        )
        return out.stdout.strip()

    assert run(breaks=True) == "ran | failed None"
    assert run(breaks=False) == "restored from the result cache | succeeded 35"
