"""Priority classes under load on a real server: gold served most, bronze never starved.

One run worker is held by a run that waits for a gate file, so every other run is queued
before dispatching starts: the order below is decided by the WRR picker alone, not by
timing. The request log (one line per finished run, written in order by the single
worker) gives the dispatch order.
"""

from __future__ import annotations

import json
import time
from itertools import pairwise

from dagforge import Client


def _setup(c: Client) -> None:
    for fn in ("gated", "add_one"):
        c.register_function(fn, path=f"platform_functions:{fn}")
    for name, fn, priority in (
        ("hold", "gated", "gold"),
        ("g", "add_one", "gold"),
        ("s", "add_one", "silver"),
        ("b", "add_one", "bronze"),
    ):
        c.register_trigger(
            {
                "trigger_name": name,
                "type": "function",
                "priority": priority,
                "dags": "",
                "functions": [fn],
            }
        )


def _dispatch_order(c: Client, ids: list[str], log) -> list[str]:
    deadline = time.monotonic() + 60
    while True:
        statuses = [c.run(i)["status"] for i in ids]
        if all(s == "succeeded" for s in statuses):
            break
        assert time.monotonic() < deadline, statuses
        time.sleep(0.05)
    return [json.loads(line)["trigger"] for line in log.read_text().splitlines()]


def test_bronze_is_never_starved_by_a_stream_of_gold(make_server, tmp_path):
    data = tmp_path / "prio"
    gate = tmp_path / "gate"
    server = make_server(workers=1, data_dir=data)
    with Client(server.url) as c:
        _setup(c)
        ids = [c.trigger("hold", {"gate": str(gate)})["run_id"]]
        while c.run(ids[0])["status"] != "running":  # the worker is held
            time.sleep(0.01)
        ids += [c.trigger("g", {"x": k})["run_id"] for k in range(12)]
        ids += [c.trigger("b", {"x": k})["run_id"] for k in range(3)]  # queued last
        gate.touch()
        order = _dispatch_order(c, ids, data / "requests.jsonl")[1:]  # after "hold"
    assert sorted(order) == ["b"] * 3 + ["g"] * 12
    bronze = [k for k, t in enumerate(order) if t == "b"]
    # weights gold 3 : bronze 1 -> at most 3 gold runs before each bronze one, so all
    # bronze runs are served while gold runs are still waiting
    gaps = [bronze[0]] + [b - a - 1 for a, b in pairwise(bronze)]
    assert all(gap <= 3 for gap in gaps), order
    assert bronze[-1] < len(order) - 1 and order[-1] == "g"


def test_gold_goes_first_and_weights_can_change(make_server, tmp_path):
    data = tmp_path / "prio2"
    gate = tmp_path / "gate"
    server = make_server(workers=1, data_dir=data)
    with Client(server.url) as c:
        _setup(c)
        c.set_weights({"gold": 1, "silver": 1, "bronze": 4})  # the operator favours bronze
        ids = [c.trigger("hold", {"gate": str(gate)})["run_id"]]
        while c.run(ids[0])["status"] != "running":
            time.sleep(0.01)
        ids += [c.trigger("b", {"x": k})["run_id"] for k in range(8)]
        ids += [c.trigger("s", {"x": k})["run_id"] for k in range(2)]
        ids += [c.trigger("g", {"x": k})["run_id"] for k in range(2)]
        gate.touch()
        order = _dispatch_order(c, ids, data / "requests.jsonl")[1:]
    assert len(order) == 12
    # with 1:1:4 the first six picks serve every class, and bronze four times
    assert sorted(order[:6]) == ["b", "b", "b", "b", "g", "s"], order
