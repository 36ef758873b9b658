"""Dashboard inputs are bounded and escaped: a huge ``page`` is a 422, a deep trigger body
is a 422, and a profile error's message is shown escaped."""

from __future__ import annotations

import httpx
from ui_helpers import register

from dagforge.server.ui import RunView


def test_huge_page_number_is_422_not_500(make_server):
    server = make_server()
    for path in ("/ui/fragments/runs", "/ui/"):
        r = httpx.get(f"{server.url}{path}?page=99999999999999999999999")
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
        assert "page" in r.json()["detail"]


def test_deep_trigger_body_is_422_not_500(make_server):
    server = make_server()
    register(server.url)
    body = b"[" * 3000 + b"]" * 3000
    r = httpx.post(
        f"{server.url}/ui/api/trigger/fan",
        content=b'{"a": ' + body + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, (r.status_code, r.text[:200])


def test_profile_error_message_is_escaped(monkeypatch):
    from dagforge.profiling import Profile

    def boom(result):
        raise ValueError("<script>alert(1)</script>")

    monkeypatch.setattr(Profile, "from_result", staticmethod(boom))
    view = RunView.__new__(RunView)
    view.plat = type("P", (), {"result": lambda self, run_id: object()})()
    view.id = "r"
    html = view.profile_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
