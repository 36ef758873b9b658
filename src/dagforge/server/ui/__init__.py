"""The dashboard at ``/ui`` of ``dagforge serve``, and Swagger UI / ReDoc served offline.

Pages are rendered on the server from Jinja2 templates with autoescaping on, so every
name, argument, error and log line a user put in reaches the browser as text. The
browser side is one small script (``static/ui.js``) that listens to server-sent events
and swaps in HTML fragments the server rendered; the only third-party JavaScript is
Swagger UI and ReDoc from the npm registry, vendored under ``static/`` (see its
README), so ``/docs`` and ``/redoc`` render without internet.

Pages: ``/ui`` (runs: filter by status, trigger, class; pages of 50; live),
``/ui/runs/{id}`` (the DAG coloured by state and labelled, live by SSE; a Gantt chart
per worker; per-node status, attempts, error, traceback and logs; the profile tables;
cancel / retry), ``/ui/queues`` (waiting runs per class), ``/ui/registry`` (functions,
DAG specs drawn, triggers with a trigger form).

Auth: with ``--token`` the pages need it like every read (unless ``--public-reads``).
A browser cannot add an ``Authorization`` header to a link, so ``/ui/login`` takes the
token once and keeps it in an ``HttpOnly``, ``SameSite=Strict`` cookie scoped to
``/ui``; the header works too. Actions (trigger, cancel, retry) are POSTs that need
the token (when there is one), a JSON body and, if the browser sends an ``Origin``,
this server's: another site's page can neither act with a visitor's cookie nor drive
a token-less server on the visitor's machine.

Retry is the platform's (``Platform.retry``): the same run id, a new attempt, its
journaled nodes restored rather than run again; the page reloads to follow it.
"""

from __future__ import annotations

import asyncio
import html
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import Request

from dagforge.profiling.report import (
    STATE_COLOURS,
    STATE_MARKS,
    Bar,
    dag_svg,
    gantt_svg,
    legend,
    profile_tables,
    summary_table,
)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
COOKIE = "dagforge_token"
PAGE = 50  # runs per page
MAX_PAGE = 1_000_000  # the last page number a runs list takes (OFFSET stays an integer)
MAX_NODE_ROWS = 200  # node rows per page of a run
SSE_TICK = 0.25  # seconds between looks at a live run
SSE_LIFETIME = 15.0  # a stream ends after this long (the browser reconnects; shutdown waits less)
LIVE = ("queued", "running")
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


def _family(name: str) -> str:
    return name.split("#", 1)[0]


def spec_graph(spec: dict[str, Any] | None) -> tuple[list[str], list[tuple[str, str]]]:
    """Node ids and control edges (``next``, branches) of a DAGit spec."""
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    for entry in (spec or {}).get("dag", []) or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("node_id"), str):
            continue
        nodes.append(entry["node_id"])
        props = entry.get("properties") or {}
        targets: list[Any] = []
        nxt = props.get("next")
        targets.extend(nxt if isinstance(nxt, list) else [nxt])
        targets.extend([props.get("branch_1"), props.get("branch_2")])
        for t in targets:
            if isinstance(t, str) and t:
                edges.append((entry["node_id"], t))
    known = set(nodes)
    return nodes, [(s, t) for s, t in edges if t in known]


def aggregate(states: dict[str, str], spec_nodes: list[str], finished: bool) -> dict[str, Any]:
    """Spec-level state of each node from its instances' states: ``{node: [state, n]}``."""
    fam: dict[str, list[str]] = {}
    for inst, st in states.items():
        fam.setdefault(_family(inst), []).append(st)
    out: dict[str, Any] = {}
    for n in dict.fromkeys([*spec_nodes, *fam]):
        sts = fam.get(n, [])
        if not sts:
            state = "skipped" if finished else "pending"
        else:
            for pick in ("running", "retrying", "failed", "timed_out"):
                if pick in sts:
                    state = pick
                    break
            else:
                if all(s == "succeeded" for s in sts):
                    state = "succeeded"
                elif "cancelled" in sts:
                    state = "cancelled"
                else:
                    state = sts[-1]
        out[n] = [state, len(sts)]
    return out


class RunView:
    """Everything the run page shows, read from the journal, the monitor and memory."""

    def __init__(self, plat: Any, run_id: str):
        self.plat = plat
        self.record = plat.db.run(run_id)  # RegistryError for an unknown id
        self.id = run_id
        self.status = self.record["status"]
        self.live = self.status in LIVE
        snapshot = plat.db.snapshot(run_id) or {}
        self.spec = snapshot.get("spec")
        self.spec_nodes, self.spec_edges = spec_graph(self.spec)
        self.nodes: dict[str, dict[str, Any]] = {}
        if self.live:
            for inst in plat.db.completed_nodes(run_id):
                self.nodes[inst] = {"status": "succeeded", "journaled": True}
            started = self.record["started"]
            for inst, facts in (plat.monitor.live(run_id) or {}).items():
                entry = self.nodes.setdefault(inst, {})
                entry["status"] = facts["status"]
                entry["attempts"] = facts["attempts"]
                if started and facts["start"]:
                    entry["start"] = facts["start"] - started
                    if facts["end"]:
                        entry["end"] = facts["end"] - started
                entry["ran_now"] = True
        else:
            self.nodes = dict(self.record["nodes"] or {})
        self.states = {n: f.get("status", "pending") for n, f in self.nodes.items()}

    def aggregated(self) -> dict[str, Any]:
        return aggregate(self.states, self.spec_nodes, not self.live)

    def state_event(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for st in self.states.values():
            counts[st] = counts.get(st, 0) + 1
        return {
            "status": self.status,
            "nodes": self.aggregated(),
            "counts": counts,
            "instances": len(self.states),
            "finished": not self.live,
        }

    def dag_html(self) -> str:
        agg = self.aggregated()
        nodes = list(agg)
        states = {n: v[0] for n, v in agg.items()}
        notes = {n: f"x{v[1]}" for n, v in agg.items() if v[1] > 1}
        return dag_svg(nodes, self.spec_edges, states, notes, link=None)

    def bars(self) -> list[Bar]:
        """Attempts as Gantt bars: on their workers once the run has finished; while it
        runs (workers are known only at the end) packed into concurrency slots."""
        bars = []
        now = time.time() - (self.record["started"] or time.time())
        for name, f in self.nodes.items():
            start, end = f.get("start"), f.get("end")
            if start is None:
                continue
            bars.append(
                Bar(
                    name,
                    str(f.get("worker") or "?"),
                    start,
                    end or max(now, start),
                    f.get("status", ""),
                )
            )
        if not self.live:
            return bars
        free: list[float] = []  # end time of the last bar in each slot
        packed = []
        for b in sorted(bars, key=lambda b: b[2]):
            slot = next((k for k, t in enumerate(free) if t <= b[2]), None)
            if slot is None:
                slot = len(free)
                free.append(0.0)
            free[slot] = b[3]
            packed.append(Bar(b[0], f"slot {slot + 1}", b[2], b[3], b[4]))
        return packed

    def resource_facts(self) -> tuple[dict[str, Any], dict[str, float] | None]:
        """Each node's requirement and the capacity the run ran against: what the
        monitor learnt when the run started (live, or journaled: after a restart too),
        else derived from the accepted snapshot (its functions' and spec nodes'
        ``resources``; capacity unknown), else the ``resources`` options of the DAG of
        the result this server holds."""
        facts = self.plat.monitor.resource_facts(self.id)
        if facts and facts.get("requirements"):
            return dict(facts["requirements"]), facts.get("capacities")
        capacity = getattr(self.plat, "capacity", None)
        if capacity is not None:
            derived = capacity.requirements(self.plat.db.snapshot(self.id))
            if derived:
                return derived, None
        from dagforge.profiling.resource_usage import requirements_of

        result = None if self.live else self.plat.result(self.id)
        return (requirements_of(getattr(result, "dag", None)) if result is not None else {}), None

    def resource_usage(self, facts: Any = None) -> list[Any]:
        """Usage per resource from the nodes' start/end (running nodes: until now) and
        their requirements (``facts``, default :meth:`resource_facts`), against the
        run's capacity; ``[]`` when no node requires any or none has started."""
        from dagforge.profiling.resource_usage import usage_from_intervals

        reqs, capacities = facts if facts is not None else self.resource_facts()
        if not reqs:
            return []
        now = time.time() - (self.record["started"] or time.time())
        intervals = [
            (name, f["start"], f["end"] if f.get("end") is not None else max(now, f["start"]))
            for name, f in self.nodes.items()
            if f.get("start") is not None
        ]
        return usage_from_intervals(intervals, reqs, capacities)

    def resources_html(self, bars: list[Bar]) -> str:
        from dagforge.profiling.resource_usage import usage_svg

        try:
            facts = self.resource_facts()
            usages = self.resource_usage(facts)
        except Exception as exc:  # a timeline must never break the page
            return f"<p>no resource timeline: {type(exc).__name__}: {html.escape(str(exc))}</p>"
        if facts[0] and not any(u.steps for u in usages):  # no node requiring any started
            needs = "; ".join(
                f"{node}: " + ", ".join(f"{k}={v:g}" for k, v in need.items())
                for node, need in list(facts[0].items())[:20]
            )
            return (
                '<p class="resource-waiting">The timeline starts when the first node that '
                f"requires resources does. Requirements: {html.escape(needs)}.</p>"
            )
        if not usages:
            return (
                '<p class="resource-empty">No resource requirements: no node of this run '
                "declares resources (a function's or a spec node's <code>resources</code>, "
                "on a server started with <code>--resources</code>).</p>"
            )
        span = (min(b[2] for b in bars), max(b[3] for b in bars)) if bars else None
        return usage_svg(usages, span=span, note="From the nodes' start/end and requirements.")

    def profile_html(self) -> str:
        result = self.plat.result(self.id)
        if result is None:
            return (
                "<p>The profile tables appear when the run has finished (and while this "
                "server holds its result in memory).</p>"
            )
        from dagforge.profiling import Profile

        try:
            return profile_tables(Profile.from_result(result))
        except Exception as exc:  # a profile must never break the page
            return f"<p>no profile: {type(exc).__name__}: {html.escape(str(exc))}</p>"


def install_ui(app: Any, plat: Any) -> None:
    """Mount the dashboard, its static files and the offline /docs and /redoc."""
    from fastapi import HTTPException
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
    from fastapi.routing import APIRouter
    from fastapi.staticfiles import StaticFiles
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from markupsafe import Markup

    from dagforge.errors import RegistryError
    from dagforge.server.dispatch import CLASSES
    from dagforge.server.paging import BadCursor, cursor_for, name_from_cursor

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.globals.update(
        STATE_COLOURS=STATE_COLOURS, STATE_MARKS=STATE_MARKS, legend=Markup(legend())
    )
    env.filters["ts"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""
    env.filters["ms"] = lambda s: "" if s is None else f"{s * 1000:.1f}"
    env.filters["q"] = lambda s: quote(str(s), safe="")
    token = plat.settings.token
    expected = token.encode() if token else None

    def authorised(request: Request) -> bool:
        if expected is None:
            return True
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            given = header[7:].encode("utf-8", "surrogateescape")
            if secrets.compare_digest(given, expected):
                return True
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return False
        return secrets.compare_digest(cookie.encode("utf-8", "surrogateescape"), expected)

    def may_read(request: Request) -> bool:
        return plat.settings.public_reads or authorised(request)

    def page(request: Request, name: str, **context: Any) -> Any:
        if not may_read(request):
            query = f"?{request.url.query}" if request.url.query else ""
            target = quote(request.url.path + query)
            return RedirectResponse(f"/ui/login?next={target}", status_code=303)
        context.setdefault("authed", authorised(request))
        context.setdefault("token_mode", expected is not None)
        return HTMLResponse(env.get_template(name).render(request=request, **context))

    def fragment(request: Request, name: str, **context: Any) -> HTMLResponse:
        if not may_read(request):
            raise HTTPException(401, "this page needs the token: open /ui/login")
        return HTMLResponse(env.get_template(name).render(**context))

    def act(request: Request) -> None:
        if not authorised(request):
            raise HTTPException(
                401,
                "this action needs the token (log in at /ui/login or send "
                "'Authorization: Bearer <token>')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        # no other site may act through a visitor's browser (with or without a token):
        # a foreign Origin is refused, and only JSON bodies are taken — a cross-site
        # JSON POST needs a CORS preflight, which this server never grants
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is not None and origin.split("://", 1)[-1] != host:
            raise HTTPException(403, f"cross-site action refused (Origin {origin!r})")
        ctype = request.headers.get("content-type", "")
        if not ctype.split(";", 1)[0].strip().lower() == "application/json":
            raise HTTPException(
                415, f"actions take Content-Type application/json, got {ctype or 'none'!r}"
            )

    def view_or_404(run_id: str) -> RunView:
        try:
            return RunView(plat, run_id)
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None

    ui = APIRouter(prefix="/ui", include_in_schema=False)

    # -- login ---------------------------------------------------------------------------------

    def _next(target: str | None) -> str:
        return target if target and target.startswith("/ui") and "//" not in target else "/ui"

    @ui.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None) -> HTMLResponse:
        return HTMLResponse(
            env.get_template("login.html").render(
                next=_next(next), error=None, token_mode=expected is not None
            )
        )

    @ui.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Any:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        target = _next((form.get("next") or [""])[0])
        if expected is None or secrets.compare_digest(
            given.encode("utf-8", "surrogateescape"), expected
        ):
            reply = RedirectResponse(target, status_code=303)
            if expected is not None:
                reply.set_cookie(
                    COOKIE,
                    given,
                    httponly=True,
                    samesite="strict",
                    path="/ui",
                    max_age=86400,
                    secure=request.url.scheme == "https",
                )
            return reply
        return HTMLResponse(
            env.get_template("login.html").render(
                next=target, error="wrong token", token_mode=True
            ),
            status_code=401,
        )

    @ui.post("/logout")
    def logout() -> Any:
        reply = RedirectResponse("/ui/login", status_code=303)
        reply.delete_cookie(COOKIE, path="/ui")
        return reply

    # -- runs list ---------------------------------------------------------------------------

    def runs_query(status: str | None, trigger: str | None, cls: str | None, pg: int) -> Any:
        where, args = [], []
        if status:
            where.append("status = ?")
            args.append(status)
        if trigger:
            where.append("trigger = ?")
            args.append(trigger)
        if cls:
            where.append("priority = ?")
            args.append(cls)
        sql = "SELECT id, trigger, dag, priority, status, accepted, started, finished, error "
        sql += "FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY accepted DESC, id DESC LIMIT ? OFFSET ?"
        rows = plat.db._exec(sql, (*args, PAGE + 1, pg * PAGE))
        keys = ("id", "trigger", "dag", "priority", "status", "accepted", "started")
        runs = [dict(zip((*keys, "finished", "error"), r, strict=True)) for r in rows]
        return runs[:PAGE], len(runs) > PAGE

    def list_context(request: Request) -> dict[str, Any]:
        q = request.query_params
        status = q.get("status") or None
        trigger = q.get("trigger") or None
        cls = q.get("class") or None
        try:
            pg = max(int(q.get("page") or 0), 0)
        except ValueError:
            raise HTTPException(422, f"page {q.get('page')!r} is not a number") from None
        if pg > MAX_PAGE:
            raise HTTPException(422, f"page must be a number from 0 to {MAX_PAGE}")
        if status is not None and status not in STATUSES:
            raise HTTPException(422, f"status {status!r} is not one of {list(STATUSES)}")
        if cls is not None and cls not in CLASSES:
            raise HTTPException(422, f"class {cls!r} is not one of {list(CLASSES)}")
        runs, more = runs_query(status, trigger, cls, pg)
        filters = {"status": status or "", "trigger": trigger or "", "class": cls or ""}
        base = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
        return {
            "runs": runs,
            "more": more,
            "page": pg,
            "filters": filters,
            "base": base,
            "statuses": STATUSES,
            "classes": CLASSES,
        }

    @ui.get("", response_class=HTMLResponse)
    @ui.get("/", response_class=HTMLResponse)
    def runs_page(request: Request) -> Any:
        if not may_read(request):
            return page(request, "runs.html")
        context = list_context(request)
        cap = plat.settings.max_list  # the trigger menus show at most one registry page
        triggers = [t["trigger_name"] for t in plat.registry_page("triggers", cap + 1)]
        more_triggers = len(triggers) > cap
        triggers = triggers[:cap]
        chosen = context["filters"]["trigger"]
        if chosen and chosen not in triggers:
            triggers.append(chosen)  # the filter in use stays selectable
        return page(request, "runs.html", triggers=triggers, more_triggers=more_triggers, **context)

    @ui.get("/fragments/runs", response_class=HTMLResponse)
    def runs_rows(request: Request) -> HTMLResponse:
        return fragment(request, "runs_rows.html", **list_context(request))

    # -- one run -----------------------------------------------------------------------------

    def panel_context(v: RunView, request: Request) -> dict[str, Any]:
        try:
            npage = max(int(request.query_params.get("nodes_page") or 0), 0)
        except ValueError:
            npage = 0
        details = plat.monitor.details(v.id)
        names = list(v.nodes)
        big = len(names) > MAX_NODE_ROWS
        failed = [n for n in names if v.states.get(n) in ("failed", "timed_out")]
        for n in details:
            if details[n].get("traceback") and n not in failed:
                failed.append(n)
        shown = names[npage * MAX_NODE_ROWS : (npage + 1) * MAX_NODE_ROWS]
        bars = v.bars()
        rows = []
        for n in shown:
            f = v.nodes[n]
            d = details.get(n, {})
            rows.append(
                {
                    "name": n,
                    "status": f.get("status", "pending"),
                    "attempts": d.get("attempts")
                    or f.get("attempts")
                    or (1 if f.get("start") is not None else ""),
                    "worker": f.get("worker") or "",
                    "start": f.get("start"),
                    "duration": (f["end"] - f["start"])
                    if f.get("end") is not None and f.get("start") is not None
                    else None,
                    "restored": f.get("restored")
                    or (f.get("journaled", False) and not f.get("ran_now", False)),
                    "reason": f.get("reason") or "",
                    "error": d.get("error") or "",
                    "has_logs": bool(d.get("logs")),
                }
            )
        logged = [n for n in shown if details.get(n, {}).get("logs") and n not in failed]
        return {
            "run": v.record,
            "view": v,
            "rows": rows,
            "big": big,
            "summary": Markup(
                summary_table(
                    v.states,
                    lead=f"{len(names)} node instances, summarised by state and node family; "
                    f"the table lists {MAX_NODE_ROWS} a page.",
                )
            )
            if big
            else "",
            "npage": npage,
            "more_nodes": (npage + 1) * MAX_NODE_ROWS < len(names),
            "failed": [(n, details.get(n, {})) for n in failed[:MAX_NODE_ROWS]],
            "logged": [(n, details[n]) for n in logged],
            "gantt": Markup(gantt_svg(bars, max_bars=1500)),
            "resources": Markup(v.resources_html(bars)),
            "profile": Markup(v.profile_html()) if not v.live else "",
            "q": lambda s: quote(str(s), safe=""),
        }

    @ui.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str, request: Request) -> Any:
        if not may_read(request):
            return page(request, "run.html")
        v = view_or_404(run_id)
        return page(
            request,
            "run.html",
            dag=Markup(v.dag_html()),
            initial=json.dumps(v.state_event()),
            **panel_context(v, request),
        )

    @ui.get("/runs/{run_id}/panel", response_class=HTMLResponse)
    def run_panel(run_id: str, request: Request) -> HTMLResponse:
        v = view_or_404(run_id)
        return fragment(request, "run_panel.html", **panel_context(v, request))

    @ui.get("/runs/{run_id}/events")
    async def run_events(run_id: str, request: Request) -> Any:
        """Server-sent events: ``state`` whenever a node's state changes, then ``done``."""
        if not may_read(request):
            raise HTTPException(401, "this stream needs the token: open /ui/login")
        await asyncio.to_thread(view_or_404, run_id)

        async def stream() -> Any:
            sent: dict[str, Any] = {}
            last_status = None
            began = time.monotonic()
            quiet = 0.0
            yield "retry: 2000\n\n"
            while time.monotonic() - began < SSE_LIFETIME and not plat._stopping:
                if await request.is_disconnected():
                    return
                try:
                    state = await asyncio.to_thread(lambda: RunView(plat, run_id).state_event())
                except Exception as exc:  # journal trouble: say so, the browser retries
                    yield f"event: trouble\ndata: {json.dumps(str(exc))}\n\n"
                    return
                changed = {k: v for k, v in state["nodes"].items() if sent.get(k) != v}
                if changed or state["status"] != last_status:
                    sent.update(changed)
                    last_status = state["status"]
                    payload = dict(state, nodes=changed)
                    yield f"event: state\ndata: {json.dumps(payload)}\n\n"
                    quiet = 0.0
                elif quiet > 15:
                    yield ": still here\n\n"
                    quiet = 0.0
                if state["finished"]:
                    yield "event: done\ndata: {}\n\n"
                    return
                await asyncio.sleep(SSE_TICK)
                quiet += SSE_TICK

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @ui.get("/runs/{run_id}/nodes/{node}", response_class=HTMLResponse)
    def node_page(run_id: str, node: str, request: Request) -> Any:
        if not may_read(request):
            return page(request, "node.html")
        v = view_or_404(run_id)
        d = plat.monitor.details(v.id, node).get(node)
        if node not in v.nodes and d is None:
            raise HTTPException(404, f"run {run_id!r} has no node {node!r}")
        return page(
            request, "node.html", run=v.record, node=node, facts=v.nodes.get(node, {}), d=d or {}
        )

    # -- actions -----------------------------------------------------------------------------

    @ui.post("/api/trigger/{trigger}")
    async def ui_trigger(trigger: str, request: Request) -> Any:
        act(request)
        raw = await request.body()
        try:
            arguments = json.loads(raw or b"{}")
        except RecursionError:
            raise HTTPException(
                422, f"arguments: JSON nested deeper than {plat.settings.max_depth} levels"
            ) from None
        except ValueError as exc:
            raise HTTPException(422, f"arguments are not JSON: {exc}") from None
        if not isinstance(arguments, dict):
            raise HTTPException(422, "arguments must be a JSON object")
        from dagforge.server.dispatch import QueueFull
        from dagforge.server.guards import BadInput

        try:
            accepted = await asyncio.to_thread(plat.accept, trigger, arguments)
        except (BadInput, QueueFull) as exc:
            raise HTTPException(422 if isinstance(exc, BadInput) else 429, str(exc)) from None
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        return JSONResponse(accepted, status_code=202)

    @ui.post("/api/runs/{run_id}/cancel")
    def ui_cancel(run_id: str, request: Request) -> Any:
        act(request)
        from dagforge.server.platform import RunFinished

        try:
            record = plat.cancel(run_id)
        except RunFinished as exc:
            raise HTTPException(409, str(exc)) from None
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"run_id": run_id, "status": record["status"]}

    @ui.post("/api/runs/{run_id}/retry")
    def ui_retry(run_id: str, request: Request) -> Any:
        act(request)
        from dagforge.server.dispatch import QueueFull

        try:
            answer = plat.retry(run_id)  # the same run, a new attempt (Platform.retry)
        except QueueFull as exc:
            raise HTTPException(429, str(exc)) from None
        except RegistryError as exc:
            status = 404 if "no run" in str(exc) else 409
            raise HTTPException(status, str(exc)) from None
        return JSONResponse(
            {k: answer[k] for k in ("run_id", "status", "attempt", "reused_nodes")},
            status_code=202,
        )

    # -- queues and registries -----------------------------------------------------------------

    @ui.get("/queues", response_class=HTMLResponse)
    def queues_page(request: Request) -> Any:
        if not may_read(request):
            return page(request, "queues.html")
        sizes = plat.queues.sizes()
        weights = plat.queues.weights
        running = plat.db._exec(
            "SELECT id, trigger, priority, started FROM runs WHERE status='running' "
            "ORDER BY started LIMIT 100"
        )
        return page(
            request,
            "queues.html",
            classes=[(c, sizes.get(c, 0), weights.get(c)) for c in CLASSES],
            running=running,
            in_flight=plat.monitor.in_flight(),
        )

    registry_sections = ("triggers", "schedules", "dags", "functions")
    registry_size = min(100, plat.settings.max_list)  # as GET /functions: max_list caps

    def registry_context(request: Request) -> dict[str, Any]:
        """One page of each registry section; ``limit`` and ``<section>_cursor`` pick it."""
        q = request.query_params
        cap = plat.settings.max_list
        raw = q.get("limit")
        try:
            limit = registry_size if raw in (None, "") else int(raw)
        except ValueError:
            raise HTTPException(422, f"limit {raw!r} is not a number") from None
        if not 1 <= limit <= cap:
            raise HTTPException(422, f"limit must be a number from 1 to {cap}, got {limit}")
        after: dict[str, str | None] = {}
        for section in registry_sections:
            cursor = q.get(f"{section}_cursor") or None
            try:
                after[section] = None if cursor is None else name_from_cursor(cursor)
            except BadCursor as exc:
                raise HTTPException(422, f"{section}_cursor: {exc}") from None
        pages = {
            "triggers": plat.registry_page("triggers", limit, after["triggers"]),
            "schedules": plat.schedules.page(limit, after["schedules"]),
            "dags": plat.registry_page("dags", limit, after["dags"]),
            "functions": plat.registry_page("functions", limit, after["functions"]),
        }
        known = {"limit", *(f"{section}_cursor" for section in registry_sections)}
        kept = {k: v for k, v in q.items() if k in known}  # what the links carry over
        nexts: dict[str, str] = {}
        firsts: dict[str, str] = {}
        for section, rows in pages.items():
            key = "trigger_name" if section == "triggers" else "name"
            if after[section] is not None:
                first = {k: v for k, v in kept.items() if k != f"{section}_cursor"}
                firsts[section] = (
                    "/ui/registry" + (f"?{urlencode(first)}" if first else "") + f"#{section}"
                )
            if len(rows) == limit and rows and isinstance(rows[-1].get(key), str):
                nxt = {**kept, "limit": str(limit), f"{section}_cursor": cursor_for(rows[-1][key])}
                nexts[section] = f"/ui/registry?{urlencode(nxt)}#{section}"
        dags = []
        for spec in pages["dags"]:
            nodes, edges = spec_graph(spec)
            dags.append((spec.get("name", "?"), len(nodes), Markup(dag_svg(nodes, edges, {}))))
        return {
            "functions": pages["functions"],
            "dags": dags,
            "triggers": pages["triggers"],
            "schedules": pages["schedules"],
            "next_page": nexts,
            "first_page": firsts,
            "limit": limit,
        }

    @ui.get("/registry", response_class=HTMLResponse)
    def registry_page(request: Request) -> Any:
        if not may_read(request):
            return page(request, "registry.html")
        return page(
            request,
            "registry.html",
            capacity=getattr(getattr(plat, "capacity", None), "capacities", None),
            **registry_context(request),
        )

    app.include_router(ui)

    app.mount("/ui/static", StaticFiles(directory=str(STATIC)), name="ui-static")

    # -- Swagger UI and ReDoc from the vendored files (no CDN) ---------------------------------

    drop = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in drop]
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{title} - API",
            swagger_js_url="/ui/static/swagger-ui-bundle.js",
            swagger_css_url="/ui/static/swagger-ui.css",
            swagger_favicon_url="/ui/static/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{title} - API",
            redoc_js_url="/ui/static/redoc.standalone.js",
            redoc_favicon_url="/ui/static/favicon-32x32.png",
            with_google_fonts=False,
        )
