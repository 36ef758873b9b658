"""`dagforge register function NAME --path mod:fn --resources cpu=2,gpu=1` against real
servers: with ``--resources`` (the requirement is registered, shown by ``functions
show``; beyond the capacity it is refused), and without (the server's 422, one line).
A malformed value is a usage error naming the option, before any request is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Server, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "platform"


@pytest.fixture
def start(tmp_path, monkeypatch):
    """``start(resources=...)``: a platform (may import ``hello``) on a free port."""
    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    monkeypatch.syspath_prepend(str(EXAMPLES))
    servers: list[Server] = []

    def make(**kwargs) -> Server:
        settings = Settings(
            data_dir=tmp_path / f"data{len(servers)}", allow_modules=("hello",), **kwargs
        )
        server = Server(create_app(settings)).__enter__()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.__exit__(None, None, None)


def _errors(outcome) -> list[str]:
    return [line for line in outcome.err.splitlines() if line.strip()]


def test_resources_are_sent_and_checked_by_a_server_with_a_capacity(cli, start) -> None:
    import httpx

    server = start(resources={"cpu": 4, "gpu": 1})
    url = ("--url", server.url)
    outcome = cli(
        "register", "function", "dbl", "--path", "hello:double", "--resources", "cpu=2,gpu=1", *url
    )
    assert outcome.code == 0, outcome.text
    stored = httpx.get(f"{server.url}/functions/dbl").json()
    assert stored["resources"] == {"cpu": 2, "gpu": 1}
    assert stored["path"] == "hello:double"
    shown = cli("functions", "show", "dbl", "--output", "json", *url)
    assert shown.code == 0 and json.loads(shown.out)["resources"] == {"cpu": 2, "gpu": 1}

    # fractions pass as they are; a JSON body takes --resources too
    body = json.dumps({"name": "inc", "path": "hello:add_one"})
    outcome = cli("register", "function", body, "--resources", "cpu=0.5", *url)
    assert outcome.code == 0, outcome.text
    assert httpx.get(f"{server.url}/functions/inc").json()["resources"] == {"cpu": 0.5}

    # the server refuses what could never fit: one line naming resource and capacity
    outcome = cli(
        "register", "function", "big", "--path", "hello:double", "--resources", "cpu=8", *url
    )
    errors = _errors(outcome)
    assert outcome.code == 2 and "Traceback" not in outcome.text, outcome.text
    assert len(errors) == 1 and errors[0].startswith("error: "), outcome.err
    assert "cpu" in errors[0] and "4" in errors[0], errors
    outcome = cli(
        "register", "function", "odd", "--path", "hello:double", "--resources", "tpu=1", *url
    )
    assert outcome.code == 2 and "'tpu'" in outcome.err, outcome.text
    assert httpx.get(f"{server.url}/functions/big").status_code == 404


def test_without_a_server_capacity_the_422_is_one_line(cli, start) -> None:
    import httpx

    server = start()
    url = ("--url", server.url)
    outcome = cli(
        "register", "function", "dbl", "--path", "hello:double", "--resources", "cpu=2", *url
    )
    errors = _errors(outcome)
    assert outcome.code == 2 and "Traceback" not in outcome.text, outcome.text
    assert len(errors) == 1 and errors[0].startswith("error: "), outcome.err
    assert "--resources" in errors[0] and "cpu=2" in errors[0], errors
    assert httpx.get(f"{server.url}/functions/dbl").status_code == 404
    # without the option the same registration is accepted, with no requirement
    outcome = cli("register", "function", "dbl", "--path", "hello:double", *url)
    assert outcome.code == 0, outcome.text
    assert "resources" not in httpx.get(f"{server.url}/functions/dbl").json()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("cpu=x", "cpu='x' is not a number"),
        ("cpu", "'cpu' is not name=amount"),
        ("", "name=amount pairs"),
        ("cpu=-1", "positive finite number"),
        ("cpu=inf", "positive finite number"),
        ("cpu=1,cpu=2", "given twice"),
        ("a b=1", "'a b' is not allowed"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_option(cli, value, fragment) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: no request may be needed
    outcome = cli("register", "function", "f", "--path", "m:f", "--resources", value, "--url", url)
    errors = _errors(outcome)
    assert outcome.code == 2 and "Traceback" not in outcome.text, outcome.text
    assert errors[0].startswith("error: ") and "--resources" in errors[0], outcome.err
    assert fragment in errors[0], outcome.err
    assert "cannot reach" not in outcome.err
    assert len(errors) <= 2, outcome.err  # the culprit, then the --help hint


def test_resources_in_the_body_and_the_option_is_a_usage_error(cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    body = json.dumps({"name": "f", "path": "m:f", "resources": {"cpu": 1}})
    outcome = cli("register", "function", body, "--resources", "cpu=2", "--url", url)
    assert outcome.code == 2 and "not both" in outcome.err and "--resources" in outcome.err
