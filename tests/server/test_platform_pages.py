"""Registry listings (/functions, /dags, /triggers) in pages: capped limit, cursor."""

from __future__ import annotations

import httpx
from helpers import chain_spec

from dagforge import Client


def test_registry_listings_come_in_pages(make_server):
    server = make_server(max_list=50)
    names = sorted(["a#b", "é f", "plain", "x?y", "z", "with space", "ünï"])
    with Client(server.url) as c:
        for name in names:
            c.register_function(name, path="platform_functions:double")
            c.register_dag(chain_spec(name))
        for k in range(230):  # more than one page (the default: 50 here, --max-list)
            c.register_trigger(
                {"trigger_name": f"t{k:03d}", "type": "dag", "priority": "gold", "dags": ["z"]}
            )
        for kind, key, expected in (
            ("functions", "name", names),
            ("dags", "name", names),
            ("triggers", "trigger_name", [f"t{k:03d}" for k in range(230)]),
        ):
            seen, cursor, pages = [], None, 0
            while pages < 1000:  # bounded
                page, cursor = c.registry_page(kind, limit=3, cursor=cursor)
                pages += 1
                assert len(page) <= 3
                seen += [item[key] for item in page]
                if cursor is None:
                    break
            assert seen == expected  # by name, each once
            assert pages == len(expected) // 3 + 1
        assert [f["name"] for f in c.list_functions()] == names
        assert [t["trigger_name"] for t in c.list_triggers()] == [f"t{k:03d}" for k in range(230)]
    reply = httpx.get(server.url + "/functions", params={"limit": 2})
    assert [f["name"] for f in reply.json()] == names[:2]
    nxt = reply.headers["x-next-cursor"]
    assert reply.headers["link"] == f'</functions?limit=2&cursor={nxt}>; rel="next"'
    follow = httpx.get(server.url + f"/functions?limit=2&cursor={nxt}")
    assert [f["name"] for f in follow.json()] == names[2:4]
    assert httpx.get(server.url + "/functions").headers.get("x-next-cursor") is None  # one page
    over = httpx.get(server.url + "/triggers", params={"limit": 51})
    assert over.status_code == 422 and "limit" in over.text  # capped by --max-list
    bad = httpx.get(server.url + "/dags", params={"cursor": "%%%"})
    assert bad.status_code == 422 and "cursor" in bad.text
    assert httpx.get(server.url + "/triggers").json()[0]["trigger_name"] == "t000"
    assert len(httpx.get(server.url + "/triggers").json()) == 50  # the default page: capped


def test_registry_pages_need_the_token_unless_reads_are_public(make_server, tmp_path):
    server = make_server(token="s3cret")
    assert httpx.get(server.url + "/dags", params={"limit": 1}).status_code == 401
    with Client(server.url, token="s3cret") as c:
        c.register_dag(chain_spec("one"))
        assert c.registry_page("dags", limit=1) == ([chain_spec("one")], "b25l")
    public = make_server(data_dir=tmp_path / "pub", token="s3cret", public_reads=True)
    assert httpx.get(public.url + "/dags", params={"limit": 1}).status_code == 200


def test_a_page_ending_on_the_longest_name_has_a_cursor_the_server_takes_back(make_server):
    # 200 characters of 4 UTF-8 bytes: an 1067-character cursor (the registry listings
    # once capped cursors at 400 characters, so such a page's next one was a 422)
    server = make_server()
    longest = "\U0001f600" * 200
    with Client(server.url) as c:
        for name in ("a", longest, "\U0001f601"):
            c.register_function(name, path="platform_functions:double")
        first = httpx.get(server.url + "/functions", params={"limit": 2})
        assert [f["name"] for f in first.json()] == ["a", longest]
        nxt = first.headers["x-next-cursor"]
        assert len(nxt) > 1000
        rest = httpx.get(server.url + "/functions", params={"limit": 2, "cursor": nxt})
        assert rest.status_code == 200, rest.text
        assert [f["name"] for f in rest.json()] == ["\U0001f601"]


def test_dagforge_serve_max_list_caps_the_pages(tmp_path):
    from helpers import free_port, spawn_serve

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["--port", str(port), "--data-dir", str(tmp_path / "data")]
    proc = spawn_serve(url, [*args, "--allow-module", "platform_functions", "--max-list", "3"])
    try:
        with Client(url) as c:
            for name in ("a", "b", "c", "d"):
                c.register_function(name, path="platform_functions:double")
        assert [f["name"] for f in httpx.get(url + "/functions").json()] == ["a", "b", "c"]
        over = httpx.get(url + "/functions", params={"limit": 4})
        assert over.status_code == 422 and "limit" in over.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
