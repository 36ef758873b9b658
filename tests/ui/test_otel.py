"""OpenTelemetry spans (dagforge/otel.py) with the SDK's in-memory exporter."""

from __future__ import annotations

import time

import httpx
import pytest
from ui_helpers import register

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from dagforge import DAG
from dagforge.execution.callbacks import ExecutionCallbacks
from dagforge.execution.executor import Executor
from dagforge.otel import OtelCallbacks, combine

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter():
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    exp.tracer = provider.get_tracer("test")
    return exp


def test_library_run_one_span_per_run_and_attempt(exporter):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first try fails")
        return 2

    dag = DAG()
    dag.add_node("a", lambda: 1)
    dag.add_node("flaky", flaky, retries=1, retry_delay=0)
    dag.add_node("c", lambda a, f: a + f)
    dag.add_edge("a", "c")
    dag.add_edge("flaky", "c")
    tracing = OtelCallbacks(exporter.tracer, traceparent=PARENT)
    result = Executor(
        dag, backend="threads", max_workers=2, profile=True, callbacks=tracing.callbacks()
    ).execute()
    assert result.ok
    assert tracing.done.wait(10)  # node spans are built off the run's critical path
    spans = exporter.get_finished_spans()
    run = [s for s in spans if s.name == "dagforge.run"]
    nodes = [s for s in spans if s.name == "dagforge.node"]
    assert len(run) == 1 and len(nodes) == 4  # a, c and two attempts of flaky
    assert format(run[0].context.trace_id, "032x") == TRACE_ID  # parented on traceparent
    assert run[0].parent.span_id == 0x00F067AA0BA902B7
    assert all(n.parent.span_id == run[0].context.span_id for n in nodes)
    tries = sorted(
        (n for n in nodes if n.attributes["dagforge.node"] == "flaky"),
        key=lambda n: n.attributes["dagforge.attempt"],
    )
    assert [t.attributes["dagforge.status"] for t in tries] == ["failed", "succeeded"]
    assert tries[0].status.status_code == StatusCode.ERROR
    assert tries[0].events[0].name == "exception"
    c = next(n for n in nodes if n.attributes["dagforge.node"] == "c")
    assert c.attributes["dagforge.worker"].startswith("thread")
    assert c.attributes["dagforge.bytes_out"] > 0
    assert all(n.end_time >= n.start_time for n in nodes)


def test_combine_calls_every_hook_in_order():
    seen = []
    a = ExecutionCallbacks(on_node_start=lambda n: seen.append(("a", n)))
    b = ExecutionCallbacks(
        on_node_start=lambda n: seen.append(("b", n)), on_run_complete=lambda r: seen.append("end")
    )
    dag = DAG()
    dag.add_node("x", lambda: 1)
    Executor(dag, callbacks=combine(a, None, b)).execute()
    assert seen == [("a", "x"), ("b", "x"), "end"]


def test_platform_spans_parented_on_the_request(make_server, exporter, function_echo):
    server = make_server(allow_urls=("127.0.0.0/8",))
    server.app.state.platform.monitor.tracer = exporter.tracer
    register(server.url)
    r = httpx.post(
        f"{server.url}/run/broken?wait=true", json={"x": 1}, headers={"traceparent": PARENT}
    )
    assert r.json()["status"] == "failed"
    spans = _spans_when_run_ended(exporter)
    run = next(s for s in spans if s.name == "dagforge.run")
    assert format(run.context.trace_id, "032x") == TRACE_ID
    assert run.attributes["dagforge.run_id"] == r.json()["run_id"]
    assert run.status.status_code == StatusCode.ERROR
    nodes = {s.attributes["dagforge.node"]: s for s in spans if s.name == "dagforge.node"}
    assert nodes["explode"].attributes["dagforge.status"] == "failed"
    assert nodes["start"].attributes["dagforge.status"] == "succeeded"

    # an http function receives the running node's traceparent
    exporter.clear()
    url, seen = function_echo
    httpx.post(f"{server.url}/register/function", json={"name": "echo", "kind": "http", "url": url})
    httpx.post(
        f"{server.url}/register/dag",
        json={
            "name": "remote",
            "dag": [
                {
                    "node_id": "echo",
                    "properties": {"label": "echo", "primitive": "serial", "next": ""},
                }
            ],
        },
    )
    httpx.post(
        f"{server.url}/register/trigger",
        json={"trigger_name": "remote", "type": "dag", "priority": "gold", "dags": ["remote"]},
    )
    r = httpx.post(f"{server.url}/run/remote?wait=true", json={}, headers={"traceparent": PARENT})
    assert r.json()["status"] == "succeeded", r.text
    node = next(s for s in _spans_when_run_ended(exporter) if s.name == "dagforge.node")
    assert seen == [f"00-{TRACE_ID}-{node.context.span_id:016x}-01"]


def _spans_when_run_ended(exporter, bound=200):
    for _ in range(bound):
        spans = exporter.get_finished_spans()
        if any(s.name == "dagforge.run" for s in spans):
            return spans
        time.sleep(0.05)
    raise AssertionError("the run's span never ended")


@pytest.fixture
def function_echo():
    from fastapi import FastAPI, Header
    from ui_helpers import Server

    app = FastAPI()
    seen: list[str | None] = []

    @app.post("/echo")
    def echo(body: dict, traceparent: str | None = Header(None)) -> dict:
        seen.append(traceparent)
        return {"ok": True}

    server = Server(app).start()
    for _ in range(100):
        try:
            httpx.get(server.url + "/docs")
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield server.url + "/echo", seen
    server.stop()


def test_serve_otel_uses_the_global_provider_or_names_the_exporter(monkeypatch, exporter):
    from opentelemetry import trace

    from dagforge.server.observability import tracer_from_environment

    class Proxy:  # what the API hands out when nobody configured a provider
        pass

    Proxy.__name__ = "ProxyTracerProvider"
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: Proxy())
    import importlib.util

    if importlib.util.find_spec("opentelemetry.exporter") is None:
        with pytest.raises(ValueError, match=r"dagforge\[otlp\]"):
            tracer_from_environment()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    tracer = tracer_from_environment()
    tracer.start_span("x").end()
    assert [s.name for s in exporter.get_finished_spans()] == ["x"]


def test_serve_otel_service_name_from_the_environment(monkeypatch):
    from dagforge.server.observability import service_resource

    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert service_resource().attributes["service.name"] == "dagforge"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=etl-a,deployment.environment=prod")
    attrs = service_resource().attributes
    assert attrs["service.name"] == "etl-a" and attrs["deployment.environment"] == "prod"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "etl-b")
    assert service_resource().attributes["service.name"] == "etl-b"
