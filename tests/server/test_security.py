"""The platform under hostile input: real `dagforge serve` processes on free loopback
ports (default settings, token mode, allow-listed modules), each attack of issue 10
tried, the refusal asserted and marker files proving that nothing ran."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from helpers import ServerThread, free_port, serve_process, spawn_serve

from dagforge import Client, ClientError

HERE = Path(__file__).resolve().parent


class Serve:
    """`python -m dagforge.cli serve ...` in a subprocess; killed on exit."""

    def __init__(self, data_dir: Path, *args: str, host: str = "127.0.0.1", preexec=None):
        self.preexec = preexec  # runs in the server process before it starts
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.args = ["--host", host, "--port", str(self.port), "--data-dir", str(data_dir), *args]
        self.proc: subprocess.Popen | None = None

    def popen(self) -> subprocess.Popen:
        return serve_process(list(self.args), preexec=self.preexec)

    def __enter__(self) -> Serve:
        self.proc = spawn_serve(self.url, list(self.args), preexec=self.preexec)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)


def wait_finished(c: Client, run_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        record = c.run(run_id)
        if record["status"] not in ("queued", "running"):
            return record
        assert time.monotonic() < deadline, record
        time.sleep(0.02)


def function_trigger(fn: str, name: str | None = None) -> dict:
    return {
        "trigger_name": name or fn,
        "type": "function",
        "priority": "gold",
        "dags": "",
        "functions": [fn],
    }


def gated_then(fn: str, name: str = "gated_chain") -> dict:
    """A spec: ``gated`` (held by a gate file) then ``fn``."""

    def node(node_id: str, nxt: str = "", after: tuple = ()) -> dict:
        return {
            "node_id": node_id,
            "properties": {
                "label": node_id,
                "primitive": "serial",
                "condition": {},
                "next": nxt,
                "branch_1": "",
                "branch_2": "",
                "arguments": {},
                "outputs_from": list(after),
            },
        }

    return {"name": name, "dag": [node("gated", fn), node(fn, "", ("gated",))]}


# -- default settings: no python, no http, bounded input ---------------------------------


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    with Serve(tmp_path_factory.mktemp("default")) as server:
        yield server


def test_default_server_runs_no_python_and_reaches_no_url(default_server, tmp_path):
    marker = tmp_path / "ran"
    with Client(default_server.url) as c:
        for path in ("os:system", "subprocess:getoutput", "platform_functions:double"):
            with pytest.raises(ClientError) as err:
                c.register_function("evil", path=path)
            assert err.value.status_code == 422 and "--allow-module" in str(err.value)
        with pytest.raises(ClientError) as err:
            c.register_function("ssrf", url="http://127.0.0.1:9/secret")
        assert err.value.status_code == 422 and "--allow-url" in str(err.value)
        assert c.list_functions() == []
        c.register_trigger(function_trigger("evil"))
        done = c.trigger("evil", {"command": f"touch {marker}"}, wait=True, timeout=30)
    assert done["status"] == "failed" and "evil" in done["error"]
    assert not marker.exists()


def test_deep_nan_and_bad_weights_are_refused_and_leave_every_listing_working(default_server):
    url = default_server.url
    deep: object = "x"
    for _ in range(260):
        deep = {"k": deep}
    body = {"name": "deepdag", "dag": [], "extra": deep}
    r = httpx.post(f"{url}/register/dag", json=body)
    assert r.status_code == 422, r.text
    assert "64" in r.text and r.json()["detail"]["errors"][0]["path"].startswith("body.extra.k")
    raw = '{"a": ' + "[" * 20_000 + "]" * 20_000 + "}"  # beyond the JSON parser's own depth
    r = httpx.post(f"{url}/register/dag", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nested deeper than 64" in r.text
    httpx.post(f"{url}/register/trigger", json=function_trigger("f", "deep_t")).raise_for_status()
    r = httpx.post(f"{url}/run/deep_t", json={"a": deep})
    assert r.status_code == 422 and "arguments.a.k" in r.text
    for raw in ('{"x": NaN}', '{"x": [1, Infinity]}', '{"x": -Infinity}'):
        r = httpx.post(
            f"{url}/run/deep_t", content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and "NaN/Infinity" in r.text, (raw, r.text)
    for weights in ({"gold": 10**30}, {"gold": "3"}, {"gold": True}, {"gold": 0}):
        r = httpx.put(f"{url}/config/weights", json=weights)
        assert r.status_code == 422 and "1 to 1000" in r.text, (weights, r.text)
    assert httpx.get(f"{url}/config/weights").json()["gold"] == 3
    for listing in ("/functions", "/dags", "/triggers", "/runs", "/"):
        assert httpx.get(url + listing).status_code == 200, listing


def test_names_are_escaped_in_the_page_and_cannot_forge_log_lines(default_server):
    url = default_server.url
    names = [
        "<img src=x onerror=alert(1)>",
        "t, 2099-01-01 00:00:00.000, forged",
        "line\u2028break\x85next",
        'quote" and more',
    ]
    with Client(url) as c:
        for name in names:
            c.register_trigger(function_trigger("nothing", name))
            wait_finished(c, c.trigger(name)["run_id"])
        page = httpx.get(url + "/").text
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    text = (default_server.data_dir / "requests.log").read_text()
    lines = text.splitlines()  # also splits on U+2028 / U+0085: none may be in a line
    assert len(lines) == len(re.findall("\n", text)) >= len(names)
    field = re.compile(r'(?:^|, )("(?:[^"\\]|\\.)*"|[^,"]*)')
    logged = set()
    for line in lines:
        fields = field.findall(line)
        assert ", ".join(fields) == line  # the fields and separators are the whole line
        assert len(fields) == 10, line  # DAGit's ten fields, whatever the names hold
        assert fields[6] == "gold"
        logged.add(json.loads(fields[7]) if fields[7].startswith('"') else fields[7])
    assert set(names) <= logged
    jsonl = (default_server.data_dir / "requests.jsonl").read_text()
    records = [json.loads(x) for x in jsonl.split("\n") if x]
    assert {r["trigger"] for r in records} >= set(names)
    assert all("queue_delay" in r and r["status"] == "failed" for r in records)


def test_a_trailing_slash_run_answers_like_the_plain_route(default_server):
    url = default_server.url
    httpx.post(f"{url}/register/trigger", json=function_trigger("f", "slash")).raise_for_status()
    r = httpx.post(f"{url}/run/slash/", json={})
    assert r.status_code == 202 and r.json()["status"] == "queued"
    r = httpx.post(f"{url}/run/slash/?wait=true&timeout=0", json={})
    assert r.status_code == 422  # ?timeout is validated there too


# -- allow-listed modules -------------------------------------------------------------------


@pytest.fixture(scope="module")
def allowed_server(tmp_path_factory):
    args = ["--allow-module", "platform_functions", "--workers", "1", "--max-queued", "3"]
    with Serve(tmp_path_factory.mktemp("allowed"), *args, "--max-iterations", "50") as server:
        yield server


@pytest.mark.parametrize(
    "path",
    [
        "platform_functions:os.system",  # a module the allowed module imported
        "platform_functions:os.remove",
        "platform_functions:time.sleep",
        "platform_functions:Path.write_text",  # a class imported from pathlib
        "platform_functions:_mark.__globals__",  # dunder hop
        "platform_functions_evil:double",  # a prefix is not a package
        "os:system",
    ],
)
def test_allow_module_refuses_hops_and_imported_callables(allowed_server, path):
    with Client(allowed_server.url) as c:
        with pytest.raises(ClientError) as err:
            c.register_function("evil", path=path)
        assert err.value.status_code == 422, err.value
        assert "evil" not in {f["name"] for f in c.list_functions()}


def test_allowed_functions_run_and_nan_outputs_fail_their_node(allowed_server, tmp_path):
    with Client(allowed_server.url) as c:
        c.register_function("double", path="platform_functions:double")
        c.register_trigger(function_trigger("double"))
        ok = c.trigger("double", {"x": 4, "marker_dir": str(tmp_path)}, wait=True)
        assert ok["status"] == "succeeded" and ok["outputs"] == {"double": {"x": 8}}
        assert len(list(tmp_path.iterdir())) == 1
        c.register_function("nan_out", path="platform_functions:nan_out")
        c.register_trigger(function_trigger("nan_out"))
        bad = c.trigger("nan_out", {"x": 1}, wait=True)
        assert bad["status"] == "failed" and bad["nodes"]["nan_out"]["status"] == "failed"
        assert "SerializationError" in bad["error"] and "'ratio'" in bad["error"]
        assert "nan_out" in bad["error"]
        assert "ratio" not in json.dumps(c.outputs(bad["run_id"]))


def test_loop_bound_over_the_servers_cap_is_refused(allowed_server):
    spec = {**gated_then("double", "loopy"), "max_iterations": 10**9}
    r = httpx.post(f"{allowed_server.url}/register/dag", json=spec)
    assert r.status_code == 422 and "--max-iterations" in r.text
    assert r.json()["detail"]["errors"][0]["path"] == "max_iterations"


def test_cancel_queue_bound_and_snapshot(allowed_server, tmp_path):
    """One worker: a gated run holds it, the rest wait. Cancelled runs start nothing
    new (marker files), a full class answers 429, a queued run runs what it was
    accepted with, and a restart resumes none of the cancelled runs."""
    gate = tmp_path / "gate"
    marks = tmp_path / "marks"
    args = {"gate": str(gate), "marker_dir": str(marks)}
    url = allowed_server.url
    with Client(url) as c:
        for fn in ("gated", "double", "add_one"):
            c.register_function(fn, path=f"platform_functions:{fn}")
        c.register_dag(gated_then("double"))
        c.register_trigger({**function_trigger("x"), "type": "dag", "dags": ["gated_chain"]})
        c.register_trigger(function_trigger("double", "plain"))
        running = c.trigger("x", {"x": 1, **args})["run_id"]
        deadline = time.monotonic() + 30
        while c.run(running)["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        queued = c.trigger("x", {"x": 2, **args})["run_id"]
        snap = c.trigger("plain", {"x": 5})["run_id"]
        filler = c.trigger("plain", {"x": 6})["run_id"]
        with pytest.raises(ClientError) as err:  # --max-queued 3 per class
            c.trigger("plain", {"x": 7})
        assert err.value.status_code == 429 and err.value.retry_after
        # re-registering after the accept does not change what the queued run executes
        c.register_function("double", path="platform_functions:add_one")
        assert c.cancel(queued)["status"] == "cancelled"
        assert c.cancel(running)["status"] == "cancelled"
        with pytest.raises(ClientError) as err:
            c.cancel(running)
        assert err.value.status_code == 409
        gate.touch()
        assert wait_finished(c, snap)["status"] == "succeeded"
        assert c.outputs(snap) == {"double": {"x": 10}}  # the snapshot: double, not add_one
        assert c.wait(filler)["status"] == "succeeded"
        for run_id in (running, queued):
            record = c.run(run_id)
            assert record["status"] == "cancelled", record
    # the node after the gate never started in either cancelled run
    assert not any(f.name.startswith("double") for f in marks.iterdir()) if marks.exists() else True
    log = (allowed_server.data_dir / "requests.jsonl").read_text().splitlines()
    statuses = {json.loads(x)["run_id"]: json.loads(x)["status"] for x in log}
    assert statuses[running] == statuses[queued] == "cancelled"


def test_cancelled_runs_are_not_resumed_after_a_restart(tmp_path):
    gate = tmp_path / "gate"
    marks = tmp_path / "marks"
    data = tmp_path / "data"
    args = ["--allow-module", "platform_functions", "--workers", "1"]
    with Serve(data, *args) as server, Client(server.url) as c:
        c.register_function("gated", path="platform_functions:gated")
        c.register_function("double", path="platform_functions:double")
        c.register_dag(gated_then("double"))
        c.register_trigger({**function_trigger("x"), "type": "dag", "dags": ["gated_chain"]})
        first = c.trigger("x", {"gate": str(gate), "marker_dir": str(marks)})["run_id"]
        second = c.trigger("x", {"gate": str(gate), "marker_dir": str(marks)})["run_id"]
        c.cancel(second)
        c.cancel(first)
    gate.touch()  # the killed server's gated node would have gone on to 'double'
    with Serve(data, *args) as server, Client(server.url) as c:
        c.register_trigger(function_trigger("double", "probe"))
        assert c.trigger("probe", {"x": 1}, wait=True)["status"] == "succeeded"
        assert c.run(first)["status"] == c.run(second)["status"] == "cancelled"
    assert not marks.exists()  # 'double' of the cancelled runs never ran


def test_listings_are_bounded_summaries_with_a_cursor(allowed_server):
    with Client(allowed_server.url) as c:
        c.register_function("add_one", path="platform_functions:add_one")
        c.register_trigger(function_trigger("add_one"))
        ids = {c.trigger("add_one", {"x": k})["run_id"] for k in range(7)}
        seen: list[str] = []
        cursor = None
        for _ in range(100):
            page, cursor = c.runs_page(limit=3, cursor=cursor)
            assert all("outputs" not in r and "arguments" not in r for r in page)
            seen.extend(r["run_id"] for r in page)
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) and ids <= set(seen)
    r = httpx.get(f"{allowed_server.url}/runs", params={"limit": 10_000})
    assert r.status_code == 422
    r = httpx.get(f"{allowed_server.url}/runs", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422 and "cursor" in r.text


# -- a token, and where the server may listen ----------------------------------------------


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    args = ["--token", "s3cret", "--allow-module", "platform_functions"]
    with Serve(tmp_path_factory.mktemp("token"), *args) as server:
        yield server


WRITES = [
    ("POST", "/register/function", {"name": "f", "path": "platform_functions:double"}),
    ("POST", "/register/dag", {"name": "d", "dag": []}),
    ("POST", "/register/trigger", function_trigger("double")),
    ("DELETE", "/functions/f", None),
    ("DELETE", "/dags/d", None),
    ("DELETE", "/triggers/t", None),
    ("POST", "/run/t", {}),
    ("POST", "/run/t/", {}),
    ("PUT", "/config/weights", {"gold": 4}),
    ("POST", "/runs/r/cancel", None),
]
READS = [
    "/functions",
    "/functions/f",
    "/dags",
    "/triggers",
    "/runs",
    "/runs/r",
    "/runs/r/outputs",
    "/runs/r/trace",
    "/runs/r/profile",
    "/config/weights",
    "/",
]


def test_token_guards_writes_and_reads_and_odd_headers_get_401(token_server):
    odd = [
        {"Authorization": "Bearer s3crét"},  # non-ASCII
        {"Authorization": "Bearer \xff\xfe"},
        {"Authorization": "Bearer wrong"},
        {},
    ]
    with httpx.Client(base_url=token_server.url) as h:
        for method, path, body in WRITES:
            for headers in odd:
                raw = {k: v.encode("latin-1") for k, v in headers.items()}
                r = h.request(method, path, json=body, headers=raw)
                assert r.status_code == 401, (method, path, headers, r.text)
        for path in READS:
            for headers in odd:
                raw = {k: v.encode("latin-1") for k, v in headers.items()}
                assert h.get(path, headers=raw).status_code == 401, (path, headers)
            good = h.get(path, headers={"Authorization": "Bearer s3cret"})
            assert good.status_code in (200, 404), (path, good.text)


def test_public_reads_open_reads_only(tmp_path):
    with Serve(tmp_path, "--token", "tok", "--public-reads") as server:
        for path in ("/functions", "/runs", "/", "/config/weights"):
            assert httpx.get(server.url + path).status_code == 200
        r = httpx.post(server.url + "/register/dag", json={"name": "d", "dag": []})
        assert r.status_code == 401


def test_a_non_loopback_bind_needs_a_token_or_insecure(tmp_path):
    refused = Serve(tmp_path / "a", host="0.0.0.0").popen()
    try:
        assert refused.wait(timeout=30) == 2
        assert "--token" in refused.stderr.read().decode()
    finally:
        refused.kill()
    server = Serve(tmp_path / "b", "--insecure", host="0.0.0.0")
    with server:
        assert httpx.get(server.url + "/functions").status_code == 200
    assert b"warning" in server.proc.stderr.read()


# -- http functions only reach allowed places --------------------------------------------


def test_allow_url_limits_http_functions_and_hides_error_bodies(tmp_path):
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    fn = FastAPI()

    @fn.post("/fns/square")
    def square(body: dict):
        return {"x": body["arguments"].get("x", 0) ** 2}

    @fn.post("/fns/broken")
    def broken(body: dict):
        return PlainTextResponse("SECRET-INTERNAL-DETAIL " * 50, status_code=500)

    @fn.post("/admin")
    def admin(body: dict):
        return {"secret": "admin data"}

    with ServerThread(fn) as fserver:
        base = fserver.url
        with Serve(tmp_path, "--allow-url", f"{base}/fns") as server, Client(server.url) as c:
            c.register_function("square", url=f"{base}/fns/square")
            c.register_function("broken", url=f"{base}/fns/broken")
            for bad in (
                f"{base}/admin",
                f"{base}/fnsx/square",
                f"{base}/fns/../admin",
                f"{base}/fns/%2e%2e/admin",
                f"http://127.0.0.1:{free_port()}/fns/square",
                f"http://user@127.0.0.1:{fserver.port}/fns/square",
                "http://169.254.169.254/latest/meta-data",
                "file:///etc/passwd",
            ):
                with pytest.raises(ClientError) as err:
                    c.register_function("evil", url=bad)
                assert err.value.status_code == 422, bad
            c.register_trigger(function_trigger("square"))
            c.register_trigger(function_trigger("broken"))
            assert c.trigger("square", {"x": 7}, wait=True)["outputs"] == {"square": {"x": 49}}
            failed = c.trigger("broken", {}, wait=True)
            assert failed["status"] == "failed" and "500" in failed["error"]
            assert "SECRET" not in failed["error"] and len(failed["error"]) < 2100


# -- load: 16 clients waiting for their runs ------------------------------------------------


def test_sixteen_clients_waiting_get_no_errors(tmp_path):
    with Serve(tmp_path, "--allow-module", "platform_functions") as server:
        with Client(server.url) as c:
            c.register_function("add_one", path="platform_functions:add_one")
            c.register_trigger({**function_trigger("add_one", "load"), "priority": "silver"})
        errors, results = load(server.url)
    assert errors == []
    assert sorted(results) == sorted(k * 100 + j + 1 for k in range(16) for j in range(5))


def load(url: str) -> tuple[list[str], list[int]]:
    errors: list[str] = []
    results: list[int] = []

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as h:
            for j in range(5):
                r = h.post("/run/load", params={"wait": "true"}, json={"x": k * 100 + j})
                if r.status_code != 200 or r.json()["status"] != "succeeded":
                    errors.append(f"{r.status_code} {r.text[:200]}")
                else:
                    results.append(r.json()["outputs"]["add_one"]["x"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return errors, results


# -- a real storage fault: the server's file-size limit stands in for a full disk ---------


def test_a_full_disk_answers_503_and_accepted_runs_finish_once_space_is_back(tmp_path):
    import resource

    limit = 300_000  # the journal's WAL reaches this after a few runs

    def small_files() -> None:  # in the server process only
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    args = ["--allow-module", "platform_functions", "--workers", "1"]
    server = Serve(tmp_path, *args, preexec=small_files)
    with server, Client(server.url) as c:
        c.register_function("double", path="platform_functions:double")
        c.register_trigger(function_trigger("double"))
        accepted, refused = [], None
        with httpx.Client(base_url=server.url, timeout=30) as h:
            for k in range(3000):
                r = h.post("/run/double", json={"x": k})
                if r.status_code == 503:
                    refused = r
                    break
                assert r.status_code == 202, r.text  # never 404 or 500 on the way
                accepted.append(r.json()["run_id"])
        assert refused is not None and refused.headers["retry-after"]
        assert "journal" in refused.text and accepted
        assert c.runs_page(limit=1)[0]  # reads still answer during the fault
        unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, unlimited)  # space is back
        deadline = time.monotonic() + 60
        while True:
            runs, cursor = c.runs_page(limit=500)
            while cursor:
                more, cursor = c.runs_page(limit=500, cursor=cursor)
                runs += more
            if all(r["status"] not in ("queued", "running") for r in runs):
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.1)
        assert sorted(r["run_id"] for r in runs) == sorted(accepted)  # the 503 left nothing
        assert {r["status"] for r in runs} == {"succeeded"}
        assert c.outputs(accepted[-1]) == {"double": {"x": 2 * (len(accepted) - 1)}}


def test_a_queued_run_runs_its_snapshot_also_after_a_restart(tmp_path):
    gate = tmp_path / "gate"
    data = tmp_path / "data"
    args = ["--allow-module", "platform_functions", "--workers", "1"]
    with Serve(data, *args) as server, Client(server.url) as c:
        c.register_function("gated", path="platform_functions:gated")
        c.register_function("double", path="platform_functions:double")
        c.register_trigger(function_trigger("gated"))
        c.register_trigger(function_trigger("double"))
        holder = c.trigger("gated", {"x": 1, "gate": str(gate)})["run_id"]
        deadline = time.monotonic() + 30
        while c.run(holder)["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        queued = c.trigger("double", {"x": 21})["run_id"]
    with Serve(data, *args) as server, Client(server.url) as c:
        # the resumed holder takes the one worker again; the queued run waits behind it
        c.register_function("double", path="platform_functions:add_one")
        assert c.run(queued)["status"] == "queued"
        gate.touch()
        assert c.wait(holder, timeout=60)["status"] == "succeeded"
        done = c.wait(queued, timeout=60)
    assert done["status"] == "succeeded"
    assert done["outputs"] == {"double": {"x": 42}}  # what was accepted, not add_one's 22


def test_a_token_must_be_printable_ascii(tmp_path):
    from dagforge.errors import RegistryError
    from dagforge.server.platform import Platform, Settings

    for bad in ("sécret", "", "tab\there"):
        with pytest.raises(RegistryError, match="--token must be non-empty printable ASCII"):
            Platform(Settings(data_dir=tmp_path, token=bad))
