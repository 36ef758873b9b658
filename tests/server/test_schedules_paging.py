"""Bounded schedule listings: ``GET /schedules`` answers one page (``limit`` ≤
``Settings.max_list``) with ``X-Next-Cursor`` / ``Link: rel="next"``, and the dashboard's
``/ui/registry`` shows one page per section with an escaped "next page" link. Walking
the cursors lists every entry exactly once; a bad cursor or limit is a 422 naming it."""

from __future__ import annotations

import html
import re

import httpx
from helpers import setup_chain
from typer.testing import CliRunner

from dagforge import Client
from dagforge.cli import app as cli

# names that need escaping in HTML and quoting in URLs, and one beyond ASCII
NAMES = [f"s{i:02d}<&\"'>" if i % 3 == 0 else f"s{i:02d}-é" for i in range(12)]


def _register_schedules(url: str, names: list[str]) -> None:
    for name in names:
        body = {"name": name, "trigger": "t", "cron": "30 2 * * *"}
        r = httpx.post(f"{url}/register/schedule", json=body)
        assert r.status_code == 201, r.text


def _walk(url: str, first: str, bound: int = 50) -> tuple[list[list[str]], set[str]]:
    """Follow Link: rel="next" from ``first``; the names per page and the cursors seen."""
    pages: list[list[str]] = []
    cursors: set[str] = set()
    target: str | None = first
    for _ in range(bound):
        if target is None:
            break
        r = httpx.get(url + target)
        assert r.status_code == 200, r.text
        pages.append([s["name"] for s in r.json()])
        nxt = r.headers.get("x-next-cursor")
        if nxt is None:
            assert "link" not in r.headers
            target = None
            continue
        assert nxt not in cursors
        cursors.add(nxt)
        link = re.fullmatch(r'<(/schedules\?[^>]+)>; rel="next"', r.headers["link"])
        assert link, r.headers["link"]
        assert f"cursor={nxt}" in link.group(1)
        target = link.group(1)
    assert target is None, "the walk did not end"
    return pages, cursors


def test_get_schedules_is_capped_and_the_cursor_walks_every_one_once(make_server) -> None:
    server = make_server(max_list=5)
    url = server.url
    with Client(url) as c:
        setup_chain(c, priority="silver", trigger="t")
    _register_schedules(url, NAMES)

    first = httpx.get(f"{url}/schedules")  # the default page is capped by max_list too
    assert first.status_code == 200
    assert len(first.json()) == 5 and "x-next-cursor" in first.headers

    pages, cursors = _walk(url, "/schedules?limit=4")
    assert len(cursors) == 3
    assert [len(p) for p in pages] == [4, 4, 4, 0]  # the last full page has a next link
    walked = [n for p in pages for n in p]
    assert walked == sorted(NAMES)  # by name, each exactly once
    pages5, _ = _walk(url, "/schedules?limit=5")
    assert [len(p) for p in pages5] == [5, 5, 2]
    assert [n for p in pages5 for n in p] == sorted(NAMES)
    page = httpx.get(f"{url}/schedules", params={"limit": 5}).json()
    assert all(s["trigger"] == "t" and "next_due" in s for s in page)  # described rows

    for params, word in [
        ({"limit": 6}, "limit"),  # over max_list
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "czAw="}, "cursor"),  # padded: not what the server hands out
        ({"cursor": "//8"}, "cursor"),  # not base64url, not UTF-8
        ({"cursor": "A" * 2000}, "cursor"),
    ]:
        r = httpx.get(f"{url}/schedules", params=params)
        assert r.status_code == 422, (params, r.text)
        assert word in r.text, (params, r.text)
    bad = httpx.get(f"{url}/schedules", params={"cursor": "!!!"}).json()["detail"]
    assert "'!!!' is not one this server handed out" in bad

    with Client(url) as c:
        assert [s.name for s in c.list_schedules()] == sorted(NAMES)  # every page
        items, nxt = c.schedules_page(limit=3)
        assert [s.name for s in items] == sorted(NAMES)[:3] and nxt is not None
        items, _ = c.schedules_page(limit=3, cursor=nxt)
        assert [s.name for s in items] == sorted(NAMES)[3:6]
    out = CliRunner().invoke(cli, ["schedules", "ls", "--url", url, "--output", "json"])
    assert out.exit_code == 0, out.output
    import json

    assert sorted(s["name"] for s in json.loads(out.output)) == sorted(NAMES)


def _section_rows(page: str, attr: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'<tr {attr}="([^"]*)"', page)]


def _next_link(page: str, section: str) -> str | None:
    pager = re.search(rf'<p class="pager" data-section="{section}">(.*?)</p>', page, re.S)
    if pager is None:
        return None
    link = re.search(r'<a class="next-page" rel="next" href="([^"]*)">', pager.group(1))
    return None if link is None else link.group(1)


def test_the_registry_page_is_capped_with_escaped_next_links(make_server) -> None:
    server = make_server(max_list=5)
    url = server.url
    with Client(url) as c:
        setup_chain(c, priority="silver", trigger="t")
        for i in range(9):  # 12 functions in all with setup_chain's three
            c.register_function(f"fn{i}", path="platform_functions:double")
        for i in range(6):
            c.register_trigger(
                {"trigger_name": f"t{i}", "type": "dag", "priority": "gold", "dags": ["chain"]}
            )
    _register_schedules(url, NAMES)
    with Client(url) as c:
        functions = sorted(f.name for f in c.list_functions())
        triggers = sorted(t.trigger_name for t in c.list_triggers())
    assert len(functions) == 12 and len(triggers) == 7

    page = httpx.get(f"{url}/ui/registry").text
    assert len(_section_rows(page, "data-function")) == 5  # the default page: max_list
    assert len(_section_rows(page, "data-schedule")) == 5
    assert _next_link(page, "dags") is None  # one DAG: no pager

    for section, attr, everything in [
        ("functions", "data-function", functions),
        ("schedules", "data-schedule", sorted(NAMES)),
        ("triggers", "data-trigger", triggers),
    ]:
        seen: list[str] = []
        target: str | None = f"/ui/registry?limit=4&{section}_cursor="
        for _ in range(20):
            if target is None:
                break
            r = httpx.get(url + target)
            assert r.status_code == 200, (target, r.text)
            rows = _section_rows(r.text, attr)
            assert len(rows) <= 4
            seen.extend(rows)
            raw = _next_link(r.text, section)
            if raw is not None:
                assert "&amp;" in raw and "&" not in raw.replace("&amp;", "")  # escaped
                target = html.unescape(raw)
                assert target.startswith("/ui/registry?")
            else:
                target = None
        assert target is None, section
        assert seen == everything, section  # each exactly once, by name

    # another section's cursor keeps this one's page: sections page independently
    r = httpx.get(f"{url}/ui/registry?limit=4")
    nxt = html.unescape(_next_link(r.text, "functions") or "")
    r = httpx.get(url + nxt)
    assert _section_rows(r.text, "data-function") == functions[4:8]
    assert _section_rows(r.text, "data-schedule") == sorted(NAMES)[:4]
    assert 'class="first-page"' in r.text

    for query, word in [
        ("limit=6", "limit must be a number from 1 to 5"),
        ("limit=0", "limit must be a number from 1 to 5"),
        ("limit=x", "limit 'x' is not a number"),
        ("functions_cursor=%21%21", "functions_cursor: cursor '!!' is not one"),
        ("schedules_cursor=czAw%3D", "schedules_cursor: cursor"),
    ]:
        r = httpx.get(f"{url}/ui/registry?{query}")
        assert r.status_code == 422, (query, r.text)
        assert word in r.json()["detail"], (query, r.text)
