/* dagforge dashboard: live updates by server-sent events and server-rendered fragments.
   Every text this script puts in the page goes through textContent (never innerHTML
   with data); innerHTML is only used for fragments the server rendered and escaped. */
"use strict";
var dagforge = (function () {
  var COLOURS = {
    pending: "#d9d9d9", queued: "#d9d9d9", ready: "#c6dbef", running: "#6baed6",
    retrying: "#fdae6b", succeeded: "#74c476", failed: "#fb6a4a", timed_out: "#e6550d",
    skipped: "#bdbdbd", cancelled: "#9e9ac8"
  };
  var MARKS = {
    pending: "\u25cb", queued: "\u25cb", ready: "\u25d4", running: "\u25b6", retrying: "\u21bb",
    succeeded: "\u2713", failed: "\u2717", timed_out: "\u231b", skipped: "-", cancelled: "\u2298"
  };

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? "{}" : body
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = JSON.parse(text); } catch (e) { data = { detail: text }; }
        if (!r.ok) {
          var detail = data && data.detail !== undefined ? data.detail : text;
          throw new Error(r.status + ": " + (typeof detail === "string" ? detail : JSON.stringify(detail)));
        }
        return data;
      });
    });
  }

  function swap(el, url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (r.ok) { return r.text().then(function (html) { el.innerHTML = html; }); }
    });
  }

  function setStatus(el, status) {
    el.textContent = status;
    el.dataset.status = status;
    el.className = "chip st-" + status;
  }

  function paintNode(g, state, count) {
    g.setAttribute("data-state", state);
    g.setAttribute("class", "node st-" + state);
    var rect = g.querySelector("rect");
    if (rect) { rect.setAttribute("fill", COLOURS[state] || "#eee"); }
    var label = g.querySelector(".state-label");
    if (label) { label.textContent = (MARKS[state] || "?") + " " + state + (count > 1 ? " x" + count : ""); }
    var title = g.querySelector("title");
    if (title) { title.textContent = g.getAttribute("data-node") + ": " + state; }
  }

  function triggerForm(form, nameOf, argsOf, out) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var args;
      try { args = JSON.parse(argsOf() || "{}"); } catch (e) { out.textContent = "arguments are not JSON: " + e.message; return; }
      if (args === null || typeof args !== "object" || Array.isArray(args)) { out.textContent = "arguments must be a JSON object"; return; }
      out.textContent = "…";
      post("/ui/api/trigger/" + encodeURIComponent(nameOf()), JSON.stringify(args)).then(function (d) {
        out.textContent = "";
        var a = document.createElement("a");
        a.href = "/ui/runs/" + encodeURIComponent(d.run_id);
        a.textContent = "run " + d.run_id.slice(0, 12) + " " + d.status;
        a.className = "new-run";
        out.appendChild(a);
        var rows = document.getElementById("runs-rows");
        if (rows) { swap(rows, rows.dataset.src); }
      }).catch(function (e) { out.textContent = e.message; });
    });
  }

  function runsList() {
    var form = document.getElementById("trigger-form");
    if (form) {
      triggerForm(form,
        function () { return document.getElementById("trigger-name").value; },
        function () { return document.getElementById("trigger-args").value; },
        document.getElementById("trigger-result"));
    }
    var rows = document.getElementById("runs-rows");
    if (!rows) { return; }
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) { return; }
      busy = true;
      swap(rows, rows.dataset.src).finally(function () { busy = false; });
    }, 1500);
  }

  function registryForms() {
    document.querySelectorAll("form.registry-trigger").forEach(function (form) {
      triggerForm(form,
        function () { return form.dataset.trigger; },
        function () { return form.querySelector("input[name=args]").value; },
        form.querySelector("[role=status]"));
    });
  }

  function runPage(runId) {
    var statusEl = document.getElementById("run-status");
    var panel = document.getElementById("panel");
    var cancel = document.getElementById("cancel-button");
    var retry = document.getElementById("retry-button");
    var out = document.getElementById("action-result");
    var nodes = {};
    document.querySelectorAll("#dag g.node").forEach(function (g) { nodes[g.getAttribute("data-node")] = g; });
    var pending = null;
    var last = 0;
    function refreshPanel() {
      if (pending) { return; }
      var wait = Math.max(0, 1000 - (Date.now() - last));
      pending = setTimeout(function () {
        last = Date.now();
        swap(panel, panel.dataset.src).finally(function () { pending = null; });
      }, wait);
    }
    function apply(state) {
      Object.keys(state.nodes || {}).forEach(function (n) {
        if (nodes[n]) { paintNode(nodes[n], state.nodes[n][0], state.nodes[n][1]); }
      });
      setStatus(statusEl, state.status);
      var live = state.status === "queued" || state.status === "running";
      cancel.hidden = !live;
      retry.hidden = !(state.status === "failed" || state.status === "cancelled");
    }
    var initial = document.getElementById("initial-state");
    if (initial) { apply(JSON.parse(initial.dataset.state)); }
    var finished = !(statusEl.dataset.status === "queued" || statusEl.dataset.status === "running");
    if (!finished && window.EventSource) {
      var es = new EventSource("/ui/runs/" + encodeURIComponent(runId) + "/events");
      es.addEventListener("state", function (ev) {
        var state = JSON.parse(ev.data);
        apply(state);
        refreshPanel();
      });
      es.addEventListener("done", function () {
        es.close();
        clearTimeout(pending); pending = null; last = 0;
        refreshPanel();
      });
    }
    cancel.addEventListener("click", function () {
      out.textContent = "cancelling…";
      post("/ui/api/runs/" + encodeURIComponent(runId) + "/cancel").then(function (d) {
        out.textContent = "run " + d.status;
        setStatus(statusEl, d.status);
        cancel.hidden = true;
        refreshPanel();
      }).catch(function (e) { out.textContent = e.message; });
    });
    retry.addEventListener("click", function () {
      out.textContent = "retrying…";
      post("/ui/api/runs/" + encodeURIComponent(runId) + "/retry").then(function (d) {
        out.textContent = "attempt " + d.attempt + " queued (reuses " + d.reused_nodes + " completed node(s))";
        setTimeout(function () { location.reload(); }, 300);  // follow the new attempt live
      }).catch(function (e) { out.textContent = e.message; });
    });
  }

  function refreshEvery(ms) {
    setInterval(function () {
      if (document.hidden) { return; }
      fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        if (fresh) { document.querySelector("main").replaceWith(fresh); }
      });
    }, ms);
  }

  return { runsList: runsList, runPage: runPage, registryForms: registryForms, refreshEvery: refreshEvery };
})();
