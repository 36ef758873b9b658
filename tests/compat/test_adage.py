"""dagforge.compat.adage: adage's rule API on the engine, checked against adage 0.11.0, and a
dynamic run's state saved to JSON and loaded back."""

from __future__ import annotations

import json
import sys

import pytest

import dagforge.compat.adage as cadage
from dagforge.compat.adage.backends import InlineBackend, MultiProcBackend, ThreadBackend
from dagforge.errors import DynamicGraphError

adage = pytest.importorskip("adage", reason="adage 0.11.0 is a test extra")


# Tasks are module-level so adage's multiprocessing pool (and dagforge's processes) can run them.
def download(n):
    return [f"file{i}" for i in range(n)]


def process(name):
    return {"name": name, "size": len(name)}


def merge(*parts):
    return {"total": sum(p["size"] for p in parts), "count": len(parts)}


def explode(x):
    raise ValueError(f"cannot process {x}")


def build(mod, n=3):
    """The seed's map/reduce: the number of map nodes is known only after 'download' ran."""
    task = mod.adagetask
    t_download, t_process, t_merge = task(download), task(process), task(merge)

    def mapper(adageobj, src):
        parent = adageobj.dag.getNode(src)
        nodes = [
            adageobj.dag.addTask(t_process.s(f), nodename=f"process_{f}", depends_on=[parent])
            for f in parent.result
        ]
        ids = [x.identifier for x in nodes]

        def all_done(a):
            return all(a.dag.getNode(i).successful() for i in ids)

        def reducer(adageobj):
            parts = [adageobj.dag.getNode(i).result for i in ids]
            adageobj.dag.addTask(
                t_merge.s(*parts),
                nodename="merge",
                depends_on=[adageobj.dag.getNode(i) for i in ids],
            )

        adageobj.rules.append(mod.Rule(all_done, reducer))

    obj = mod.adageobject()
    first = obj.dag.addTask(t_download.s(n), nodename="download")
    op = mod.adageop(mapper)
    obj.rules = [
        mod.Rule(lambda a: a.dag.getNode(first.identifier).successful(), op.s(src=first.identifier))
    ]
    return obj


def shape(obj):
    dag = obj.dag
    names = {i: dag.getNode(i).name for i in dag.nodes()}
    nodes = sorted((names[i], str(dag.getNode(i).state)) for i in dag.nodes())
    edges = sorted((names[s], names[t]) for s, t in dag.edges())
    return nodes, edges


@pytest.fixture(autouse=True)
def _ship_this_module_by_value():
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.parametrize(
    "backend", [InlineBackend(), ThreadBackend(2), MultiProcBackend(2)], ids=str
)
def test_map_reduce_grows_like_adage(backend):
    theirs = build(adage)
    adage.rundag(theirs, default_trackers=False, update_interval=0.001)
    ours = build(cadage)
    cadage.rundag(ours, backend=backend, default_trackers=False)
    assert shape(ours) == shape(theirs)
    merged = ours.dag.getNodeByName("merge").result
    assert merged == theirs.dag.getNodeByName("merge").result == {"total": 15, "count": 3}
    assert (
        (len(ours.rules), len(ours.applied_rules))
        == (len(theirs.rules), len(theirs.applied_rules))
        == (0, 2)
    )


def test_a_failed_node_fails_the_workflow_and_leaves_its_children_unrun():
    def make(mod):
        obj = mod.adageobject()
        bad = obj.dag.addTask(mod.adagetask(explode).s("x"), nodename="bad")
        obj.dag.addTask(mod.adagetask(download).s(1), nodename="after", depends_on=[bad])
        obj.dag.addTask(mod.adagetask(download).s(2), nodename="other")
        return obj

    theirs, ours = make(adage), make(cadage)
    with pytest.raises(RuntimeError):
        adage.rundag(theirs, default_trackers=False, update_interval=0.001)
    with pytest.raises(RuntimeError, match="bad") as err:
        cadage.rundag(ours, backend=ThreadBackend(2), default_trackers=False)
    assert isinstance(err.value.__cause__, ValueError)
    assert shape(ours) == shape(theirs)
    assert dict(shape(ours)[0]) == {"bad": "FAILED", "after": "DEFINED", "other": "SUCCESS"}


def test_rules_may_only_add_edges_from_existing_nodes_to_new_ones():
    obj = cadage.adageobject()
    a = obj.dag.addTask(cadage.adagetask(download).s(1), nodename="a")
    b = obj.dag.addTask(cadage.adagetask(download).s(1), nodename="b")

    def bad_body(adageobj):
        adageobj.dag.addEdge(a, b)  # into an existing node: it may already have run

    obj.rules = [cadage.Rule(lambda o: o.dag.getNode(a.identifier).successful(), bad_body)]
    with pytest.raises(DynamicGraphError, match="existing node"):
        cadage.rundag(obj, backend=InlineBackend(), default_trackers=False)


def test_wait_until_no_more_nodes_of_a_kind_can_appear_then_merge():
    """The seed's PDF example: merge once no rule can add another PDF-producing node."""
    obj = cadage.adageobject()
    t = cadage.adagetask(process)
    roots = [obj.dag.addTask(cadage.adagetask(download).s(k), nodename=f"src{k}") for k in (1, 2)]

    def add_pdf(root):
        def body(adageobj):
            adageobj.dag.addTask(t.s(f"pdf-of-{root.name}"), nodename="pdf", depends_on=[root])

        return cadage.Rule(lambda o: o.dag.getNode(root.identifier).successful(), body)

    pdf_rules = [add_pdf(r) for r in roots]

    def no_more_pdfs(o):
        pending = [r for r in pdf_rules if any(x is r for x in o.rules)]
        pdfs = [o.dag.getNode(i) for i in o.dag.nodes() if o.dag.getNode(i).name == "pdf"]
        return not pending and pdfs and all(p.successful() for p in pdfs)

    def merge_pdfs(adageobj):
        pdfs = [
            adageobj.dag.getNode(i)
            for i in adageobj.dag.nodes()
            if adageobj.dag.getNode(i).name == "pdf"
        ]
        adageobj.dag.addTask(
            cadage.adagetask(merge).s(*[p.result for p in pdfs]), nodename="merged", depends_on=pdfs
        )

    obj.rules = [cadage.Rule(no_more_pdfs, merge_pdfs), *pdf_rules]
    cadage.rundag(obj, backend=ThreadBackend(2), default_trackers=False)
    merged = obj.dag.getNodeByName("merged")
    assert merged.successful() and merged.result["count"] == 2
    assert sorted(obj.dag.getNode(p).name for p in obj.dag.predecessors(merged.identifier)) == [
        "pdf",
        "pdf",
    ]


def test_run_state_saved_to_json_and_loaded_back(tmp_path):
    obj = build(cadage, n=2)
    path = tmp_path / "state.json"
    cadage.rundag(obj, backend=ThreadBackend(2), default_trackers=False, state_file=str(path))
    data = json.loads(path.read_text())
    assert data["format"] == "dagforge.adage-state/1"
    by_name = {n["name"]: n for n in data["dag"]["nodes"]}
    assert set(by_name) == {"download", "process_file0", "process_file1", "merge"}
    assert by_name["merge"]["result_keys"] == ["total", "count"]
    assert by_name["download"]["result_type"] == "list" and by_name["merge"]["state"] == "SUCCESS"
    assert data["applied"] == ["mapper", "reducer"] and data["rules"] == []
    loaded = cadage.load_state(path)
    assert shape(loaded) == shape(obj)
    m = loaded.dag.getNodeByName("merge")
    assert m.successful() and m.result_keys == ["total", "count"] and m.result is None
    assert m.submit_time == obj.dag.getNodeByName("merge").submit_time
    with pytest.raises(RuntimeError, match="saved state"):
        m.task()
    assert [r.name for r in loaded.applied_rules] == ["mapper", "reducer"]
    # saving what was loaded gives the same file
    again = cadage.save_state(loaded, tmp_path / "again.json")
    assert json.loads(again.read_text()) == data


def test_bad_state_files_are_refused_clearly(tmp_path):
    from dagforge.errors import SerializationError

    p = tmp_path / "x.json"
    p.write_text('{"dag": {}}')
    with pytest.raises(SerializationError, match="not an adage state file"):
        cadage.load_state(p)
    with pytest.raises(SerializationError, match="no such state file"):
        cadage.load_state(tmp_path / "missing.json")


def test_serialize_functions_match_adages_shape():
    from adage.serialize import node_to_json as their_node
    from adage.serialize import obj_to_json as their_obj

    from dagforge.compat.adage.serialize import node_to_json, noop_proxyserializer, obj_to_json

    theirs = build(adage)
    adage.rundag(theirs, default_trackers=False, update_interval=0.001)
    ours = build(cadage)
    cadage.rundag(ours, backend=InlineBackend(), default_trackers=False)

    def ser(node_fn, proxy):
        return lambda n: node_fn(n, lambda t: t.func.__name__, proxy)

    a = their_obj(theirs, lambda r: "rule", ser(their_node, lambda p: "proxy"))
    b = obj_to_json(ours, lambda r: "rule", ser(node_to_json, noop_proxyserializer))
    assert set(a) == set(b) and set(a["dag"]) == set(b["dag"])
    assert sorted(set(x) for x in a["dag"]["nodes"]) == sorted(set(x) for x in b["dag"]["nodes"])
    assert sorted((x["name"], x["state"], x["task"]) for x in a["dag"]["nodes"]) == sorted(
        (x["name"], x["state"], x["task"]) for x in b["dag"]["nodes"]
    )
    assert len(a["applied"]) == len(b["applied"]) == 2
