"""A real uvicorn server on a free loopback port, and an HTTP function server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import ServerThread


@pytest.fixture
def make_server(tmp_path):
    """Start a platform server with given settings; stopped at teardown."""
    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    started = []

    def make(**kwargs):
        kwargs.setdefault("data_dir", tmp_path / "data")
        kwargs.setdefault("allow_modules", ("platform_functions", "spec_functions"))
        kwargs.setdefault("allow_urls", ("127.0.0.0/8",))  # the loopback function servers
        server = ServerThread(create_app(Settings(**kwargs))).__enter__()
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def function_server():
    """A real HTTP function (DAGit's contract) on a free port."""
    from fastapi import FastAPI

    from dagforge.store import get_value, open_store, put_value

    app = FastAPI()
    calls = []

    @app.post("/square")
    def square(body: dict):
        calls.append(body)
        args = dict(body.get("arguments") or {})
        if body.get("inputs"):
            store = open_store(body["store"])
            for name, key in body["inputs"].items():
                args[name] = get_value(store, key)
        x = args.get("x", 0)
        if isinstance(x, list):
            return {"x": sum(v * v for v in x)}
        return {"x": x * x}

    @app.post("/square_keys")
    def square_keys(body: dict):
        """Writes its output to the store and answers with the key (``keys``)."""
        calls.append(body)
        store = open_store(body["store"])
        key = body["output_prefix"] + "/x"
        put_value(store, key, body["arguments"]["x"] ** 2)
        return {"keys": {"x": key}}

    @app.post("/square_dagit")
    def square_dagit(body: dict):
        """DAGit's style: one stored object with every output, answered as ``key``."""
        calls.append(body)
        store = open_store(body["store"])
        key = body["output_prefix"] + "/response"
        put_value(store, key, {"x": body["arguments"]["x"] ** 2, "activation_id": "a1"})
        return {"activation_id": "a1", "key": key}

    @app.post("/broken")
    def broken(body: dict):
        raise ValueError("the function crashed")

    with ServerThread(app) as server:
        server.calls = calls
        yield server
