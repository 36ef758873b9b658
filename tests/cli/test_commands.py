"""The CLI's front door: --version, python -m dagforge, completion, --output json, runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagforge

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "examples" / "platform"


def test_version(cli):
    outcome = cli("--version")
    assert outcome.code == 0
    assert outcome.out.strip() == f"dagforge {dagforge.__version__}"


def test_python_dash_m_dagforge():
    done = subprocess.run(
        [sys.executable, "-m", "dagforge", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"dagforge {dagforge.__version__}"


def test_shell_completion_is_on(cli):
    assert "--install-completion" in cli("--help").out
    outcome = cli("--show-completion", "bash")
    assert outcome.code == 0
    assert "_DAGFORGE_COMPLETE" in outcome.out


def test_without_typer_the_command_line_names_the_extra():
    code = "import sys; sys.modules['typer'] = None\nfrom dagforge.cli import main\nmain([])\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: the dagforge command line needs typer: pip install 'dagforge[cli]'"
    )
    assert "Traceback" not in done.stderr


def test_run_and_show_as_json(cli, dags):
    outcome = cli("run", "good:dag", "--backend", "inline", "--output", "json")
    assert outcome.code == 0, outcome.err
    body = json.loads(outcome.out)
    assert body["ok"] is True
    assert [(n["node"], n["status"]) for n in body["nodes"]] == [
        ("a", "succeeded"),
        ("b", "succeeded"),
    ]
    shown = json.loads(cli("show", "good:dag", "--output", "json").out)
    assert shown == json.loads(cli("show", "good:dag", "--format", "json").out)
    assert shown["nodes"] == ["a", "b"]


def test_platform_walkthrough_with_json_listings(cli, platform):
    url = ("--url", platform.url)
    for fn in ("double", "add_one"):
        assert cli("register", "function", fn, "--path", f"hello:{fn}", *url).code == 0
    assert cli("register", "dag", str(PLATFORM / "hello-dag.json"), *url).code == 0
    assert cli("register", "trigger", str(PLATFORM / "hello-trigger.json"), *url).code == 0
    outcome = cli("trigger", "hello", "--args", '{"x": 5}', *url)
    assert outcome.code == 0, outcome.err
    finished = json.loads(outcome.out)
    assert finished["status"] == "succeeded"
    assert finished["outputs"] == {"add_one": {"x": 11}}

    runs = json.loads(cli("runs", "ls", "-o", "json", *url).out)
    assert [r["run_id"] for r in runs] == [finished["run_id"]]
    shown = json.loads(cli("runs", "show", "latest", "-o", "json", *url).out)
    assert shown["run_id"] == finished["run_id"]
    assert shown["outputs"] == {"add_one": {"x": 11}}
    logs = cli("runs", "logs", finished["run_id"], *url)
    assert logs.code == 0
    lines = logs.out.splitlines()
    assert lines[0] == f"run {finished['run_id']} of trigger 'hello'"
    assert [line.split()[:2] for line in lines[2:4]] == [
        ["double", "succeeded"],
        ["add_one", "succeeded"],
    ]
    assert lines[-1].strip().startswith("succeeded")
    table = cli("runs", "ls", *url)
    assert finished["run_id"] in table.out and "succeeded" in table.out

    functions = json.loads(cli("functions", "ls", "-o", "json", *url).out)
    assert sorted(f["name"] for f in functions) == ["add_one", "double"]
    assert json.loads(cli("functions", "show", "double", "-o", "json", *url).out)["path"] == (
        "hello:double"
    )
    assert [d["name"] for d in json.loads(cli("dags", "ls", "-o", "json", *url).out)] == ["hello"]
    triggers = json.loads(cli("triggers", "ls", "-o", "json", *url).out)
    assert [t["trigger_name"] for t in triggers] == ["hello"]
    assert json.loads(cli("triggers", "show", "hello", "-o", "json", *url).out)["dags"] == ["hello"]
    # cancelling a finished run is refused by the server, with the reason
    outcome = cli("runs", "cancel", "latest", *url)
    assert outcome.code == 2
    assert "already finished" in outcome.err


def test_dagforge_url_from_the_environment(cli, platform, monkeypatch):
    monkeypatch.setenv("DAGFORGE_URL", platform.url)
    outcome = cli("runs", "ls", "-o", "json")
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out) == []


def test_console_script_exists():
    script = Path(sys.executable).with_name("dagforge")
    done = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert done.returncode == 0, done.stderr
    for command in ("run", "profile", "serve", "register", "trigger", "runs", "spec"):
        assert command in done.stdout


def test_spec_show_as_json(cli):
    spec = ROOT / "examples" / "specs" / "filling-a-glass-of-water.json"
    outcome = cli("spec", "show", str(spec), "--output", "json")
    assert outcome.code == 0, outcome.err
    shown = json.loads(outcome.out)
    source = json.loads(spec.read_text())
    assert shown["name"] == source["name"] == "filling-a-glass-of-water"
    assert [n["node_id"] for n in shown["dag"]] == [n["node_id"] for n in source["dag"]]
    assert cli("spec", "show", str(spec)).out.startswith("flowchart TD")


NOISY = """
def talk(x: int = 0, **_):
    print("hello from talk", x)
    return {"x": x}


def fail(x: int = 0, **_):
    raise RuntimeError(f"no good: {x}")
"""


def test_runs_logs_show_captured_output_and_the_failure(cli, tmp_path, monkeypatch):
    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    from .conftest import Server

    (tmp_path / "cli_noisy.py").write_text(NOISY)
    monkeypatch.syspath_prepend(str(tmp_path))
    node = {"primitive": "serial", "condition": {}, "branch_1": "", "branch_2": ""}
    spec = {
        "name": "noisy",
        "dag": [
            {"node_id": "talk", "properties": {**node, "label": "talk", "next": "fail",
                                               "arguments": {}, "outputs_from": []}},
            {"node_id": "fail", "properties": {**node, "label": "fail", "next": "",
                                               "arguments": {}, "outputs_from": ["talk"]}},
        ],
    }  # fmt: skip
    trigger = {"trigger_name": "noisy", "type": "dag", "dags": ["noisy"], "functions": []}
    settings = Settings(data_dir=tmp_path / "data", allow_modules=("cli_noisy",))
    with Server(create_app(settings)) as server:
        url = ("--url", server.url)
        for fn in ("talk", "fail"):
            assert cli("register", "function", fn, "--path", f"cli_noisy:{fn}", *url).code == 0
        assert cli("register", "dag", json.dumps(spec), *url).code == 0
        assert cli("register", "trigger", json.dumps(trigger), *url).code == 0
        outcome = cli("trigger", "noisy", "--args", '{"x": 3}', *url)
        assert outcome.code == 1  # the run failed
        assert outcome.err.startswith("error: run ") and "runs logs" in outcome.err
        assert json.loads(outcome.out)["status"] == "failed"
        logs = cli("runs", "logs", "latest", *url)
        assert logs.code == 0, logs.err
        assert "stdout: hello from talk 3" in logs.out
        fail_line = next(line for line in logs.out.splitlines() if line.split()[:1] == ["fail"])
        assert "failed" in fail_line and "no good: 3" in fail_line
        only = json.loads(cli("runs", "logs", "latest", "--node", "talk", "-o", "json", *url).out)
        assert list(only["logs"]) == ["talk"]
        assert only["logs"]["talk"]["stdout"].strip() == "hello from talk 3"
        missing = cli("runs", "logs", "latest", "--node", "nope", *url)
        assert missing.code == 2 and "no node 'nope'" in missing.err


GATED = """
import time
from pathlib import Path


def hold(gate: str = "", **_):
    deadline = time.monotonic() + 20
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"held": True}
"""


def test_runs_cancel_a_running_run(cli, tmp_path, monkeypatch):
    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    from .conftest import Server

    (tmp_path / "cli_gated.py").write_text(GATED)
    monkeypatch.syspath_prepend(str(tmp_path))
    trigger = {"trigger_name": "hold", "type": "function", "functions": ["hold"], "dags": []}
    gate = tmp_path / "gate"
    settings = Settings(data_dir=tmp_path / "data", allow_modules=("cli_gated",))
    with Server(create_app(settings)) as server:
        url = ("--url", server.url)
        assert cli("register", "function", "hold", "--path", "cli_gated:hold", *url).code == 0
        assert cli("register", "trigger", json.dumps(trigger), *url).code == 0
        args = json.dumps({"gate": str(gate)})
        accepted = json.loads(cli("trigger", "hold", "--no-wait", "--args", args, *url).out)
        run_id = accepted["run_id"]
        try:
            outcome = cli("runs", "cancel", run_id, "-o", "json", *url)
            assert outcome.code == 0, outcome.err
            assert json.loads(outcome.out)["status"] in ("cancelled", "cancelling")
        finally:
            gate.write_text("open")
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = json.loads(cli("runs", "show", run_id, "-o", "json", *url).out)["status"]
            if status not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert status == "cancelled"


def test_serve_freezes_its_start_up_heap_before_serving(tmp_path):
    # what `dagforge serve` hands to uvicorn: the start-up objects are out of the garbage
    # collector's reach (gc.freeze), so full collections do not walk them on every pass
    code = (
        "import gc, sys, uvicorn\n"
        "def run(app, **kw):\n"
        "    print('frozen', gc.get_freeze_count(), 'tracked', len(gc.get_objects()))\n"
        "    sys.exit(0)\n"
        "uvicorn.run = run\n"
        "from dagforge.cli import main\n"
        f"main(['serve', '--data-dir', {str(tmp_path / 'data')!r}, '--port', '0'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    frozen, tracked = int(words[words.index("frozen") + 1]), int(words[-1])
    assert frozen > 10_000  # FastAPI, pydantic and SQLAlchemy's start-up objects
    assert tracked < frozen  # what the collector still walks is the smaller part
