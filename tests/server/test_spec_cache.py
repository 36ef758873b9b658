"""The platform validates each distinct spec document once (Platform._checked_spec):
runs of one trigger share the validated model, a changed spec is validated anew, an
invalid one fails every run as before and is never kept."""

from __future__ import annotations

import pytest
from helpers import chain_spec

import dagforge.spec
from dagforge.server import platform as platform_module
from dagforge.server.platform import Platform, Settings


@pytest.fixture
def plat(tmp_path):
    p = Platform(Settings(data_dir=tmp_path, allow_modules=("platform_functions",)))
    for fn in ("double", "add_one", "slow_count"):
        p.db.put(
            "functions", fn, {"name": fn, "kind": "python", "path": f"platform_functions:{fn}"}
        )
    p.db.put("dags", "chain", chain_spec())
    p.db.put(
        "triggers",
        "t",
        {
            "trigger_name": "t",
            "type": "dag",
            "priority": "gold",
            "dags": ["chain"],
            "functions": "",
        },
    )
    yield p
    p.db.close()


@pytest.fixture
def validations(monkeypatch):
    calls: list[str] = []
    real = dagforge.spec.load_spec

    def counting(source, **kw):
        calls.append(source["name"] if isinstance(source, dict) else type(source).__name__)
        return real(source, **kw)

    monkeypatch.setattr(dagforge.spec, "load_spec", counting)
    return calls


def run_once(plat: Platform, x: int) -> dict:
    """Accept a run and execute it in this thread (no dispatcher threads started)."""
    run_id = plat.accept("t", {"x": x})["run_id"]
    assert plat.queues.get(timeout=5) == ("gold", run_id)
    plat._execute(run_id)
    return plat.db.run(run_id)


def test_runs_of_one_spec_validate_it_once_and_share_the_model(plat, validations) -> None:
    first, second = run_once(plat, 1), run_once(plat, 5)
    assert first["status"] == second["status"] == "succeeded"
    assert first["outputs"] != second["outputs"]  # each run computed its own arguments
    assert validations == ["chain"]
    assert len(plat._specs) == 1


def test_a_changed_spec_is_validated_again_and_runs_as_changed(plat, validations) -> None:
    before = run_once(plat, 1)
    plat.db.put("dags", "chain", chain_spec(steps=("double", "add_one")))
    after = run_once(plat, 1)
    assert before["status"] == after["status"] == "succeeded"
    assert set(before["nodes"]) == {"double", "add_one", "slow_count"}
    assert set(after["nodes"]) == {"double", "add_one"}
    assert validations == ["chain", "chain"]
    assert len(plat._specs) == 2


def test_an_invalid_spec_fails_every_run_and_is_not_kept(plat, validations) -> None:
    bad = chain_spec()
    bad["dag"][0]["properties"]["next"] = "nowhere"  # names a node the spec lacks
    plat.db.put("dags", "chain", bad)
    for _ in range(2):
        record = run_once(plat, 1)
        assert record["status"] == "failed"
        assert "nowhere" in record["error"]
    assert validations == ["chain", "chain"]
    assert plat._specs == {}


def test_the_kept_models_are_bounded(plat, monkeypatch) -> None:
    monkeypatch.setattr(platform_module, "MAX_SPECS", 3)
    for k in range(5):
        plat._checked_spec(chain_spec(name=f"c{k}"))
    assert len(plat._specs) == 3
    kept = [model.name for model in plat._specs.values()]
    assert kept == ["c2", "c3", "c4"]  # the oldest went first
