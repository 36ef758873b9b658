"""Schemathesis against the platform's own OpenAPI document: no request gets a 500,
without a token and against a token server with the right token (so the fuzzer gets
past authentication to the handlers)."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

from helpers import ServerThread  # noqa: E402

from dagforge.server.app import create_app  # noqa: E402
from dagforge.server.platform import Settings  # noqa: E402

_DOC = create_app(Settings(data_dir=tempfile.mkdtemp(prefix="dagforge-openapi-"))).openapi()
schema = schemathesis.openapi.from_dict(_DOC)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    settings_ = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        max_body=100_000,
        allow_modules=("platform_functions",),
    )
    with ServerThread(create_app(settings_)) as server:
        yield server


@pytest.fixture(scope="module")
def live_token(tmp_path_factory):
    settings_ = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz-token"),
        max_body=100_000,
        allow_modules=("platform_functions",),
        allow_urls=("http://127.0.0.1:9/",),
        token="fuzz-token",
    )
    with ServerThread(create_app(settings_)) as server:
        yield server


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_produces_a_server_error(case, live):
    response = case.call(base_url=live.url, timeout=10)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_with_the_token_produces_a_server_error(case, live_token):
    # the document declares the bearer scheme, so schemathesis makes up a token of its
    # own for each case: replace it with the server's
    case.headers = {**(case.headers or {}), "Authorization": "Bearer fuzz-token"}
    response = case.call(base_url=live_token.url, timeout=10)
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
    assert response.status_code != 401, (case.method, case.path)
