"""No traceback for a user's mistake: every command, given bad input, answers in a line or two.

Each case names the command, its bad input, the exit code (2 for a usage error, 1 for a
run or service that failed) and a fragment the message must contain (the culprit). The
last test checks that the walk covers every command the CLI has.
"""

from __future__ import annotations

import json

import pytest

from dagforge.cli import app

from .conftest import free_port


def assert_clean(outcome, code: int, fragment: str) -> None:
    text = outcome.text
    assert "Traceback" not in text, text
    assert outcome.code == code, text
    assert fragment in text, text
    errors = [line for line in outcome.err.splitlines() if line.strip()]
    assert errors and errors[0].startswith("error: "), outcome.err
    # one or two lines: the culprit, then at most a hint (a spec lists each JSON path)
    if "more error(s)" not in outcome.err:
        assert len(errors) <= 2, outcome.err


def _files(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"name": "x", ')
    return {"bad": str(bad_json), "missing": str(tmp_path / "missing.json")}


def local_cases(tmp_path):
    f = _files(tmp_path)
    cyc = "cyclic:dag"
    return [
        # run / show / trace / profile: module references, cyclic DAGs, options
        (("run", cyc), 2, "a -> b -> a"),
        (("trace", cyc, "-o", str(tmp_path / "t.json")), 2, "a -> b -> a"),
        (("profile", cyc, "-o", str(tmp_path / "p.json")), 2, "a -> b -> a"),
        (("show", "nosuchmodule:dag"), 2, "nosuchmodule"),
        (("run", "miswired:dag"), 2, "lonely"),
        (("trace", "miswired:dag", "-o", str(tmp_path / "t.json")), 2, "lonely"),
        (("run", "broken:dag"), 2, "broken.py:5: NameError: name 'undefined_name'"),
        (("run", "nosuchmodule:dag"), 2, "nosuchmodule"),
        (("run", "good:nodag"), 2, "no attribute 'nodag'"),
        (("run", "good"), 2, "MODULE:OBJECT"),
        (("run", "nofile.py:dag"), 2, "no such file: nofile.py"),
        (("run", "good:dag", "--backend", "gpu"), 2, "unknown backend 'gpu'"),
        (("run", "good:dag", "--workers", "0"), 2, "--workers"),
        (("run", "good:dag", "--max-concurrency", "0"), 2, "--max-concurrency"),
        (("trace", "good:dag", "--backend", "gpu"), 2, "unknown backend 'gpu'"),
        (("trace", "good:dag", "--workers", "0"), 2, "--workers"),
        (("profile", "good:dag", "--workers", "0"), 2, "--workers"),
        (("profile", "good:dag", "--backend", "gpu"), 2, "unknown backend 'gpu'"),
        (("run", "good:failing"), 1, "ZeroDivisionError"),
        (("show", "good:dag", "--format", "svg"), 2, "--format 'svg'"),
        (("run", "good:dag", "--output", "xml"), 2, "--output 'xml'"),
        # profiles
        (("compare", f["missing"], f["bad"]), 2, "missing.json"),
        (("compare", f["bad"], f["bad"]), 2, "bad.json"),
        (("simulate", f["missing"]), 2, "missing.json"),
        (("simulate", f["bad"], "--workers", "0"), 2, "--workers"),
        # specs
        (("spec", "validate", f["missing"]), 2, "missing.json"),
        (("spec", "validate", f["bad"]), 2, "bad.json"),
        (("spec", "show", f["missing"]), 2, "missing.json"),
        (("spec", "show", f["missing"], "--output", "xml"), 2, "--output 'xml'"),
        (
            ("spec", "run", "../../examples/specs/x.json", "--functions", "nosuchmod"),
            2,
            "x.json",
        ),
        # the platform's commands that fail before they talk to a server
        (("serve", "--weights", "{oops", "--port", str(free_port())), 2, "not valid JSON"),
        (("serve", "--backend", "gpu", "--port", str(free_port())), 2, "gpu"),
        (("serve", "--workers", "0"), 2, "--workers"),
        (("serve", "--functions-path", f["missing"]), 2, "missing.json"),
        (("register", "dag", f["missing"]), 2, "no such file"),
        (("register", "dag", f["bad"]), 2, "not valid JSON"),
        (("register", "trigger", f["missing"]), 2, "no such file"),
        (("register", "function", "double"), 2, "--path MODULE:FUNC or --http URL"),
        (("register", "function", f["bad"]), 2, "not valid JSON"),
        (("trigger", "t", "--args", "{oops"), 2, "not valid JSON"),
        (("trigger", "t", "--args", "[1]"), 2, "JSON object"),
        (
            ("deploy", "k8s", "f", "--image", "i:1", "--min-replicas", "5", "--max-replicas", "1"),
            2,
            "replicas",
        ),
        (
            (
                *("deploy", "k8s-platform", "--image", "i:1", "--database-url-secret", "s"),
                *("--service-type", "Bogus"),
            ),
            2,
            "Bogus",
        ),
        (("deploy", "k8s-platform", "--image", "i:1"), 2, "--database-url-secret"),
        # the platform's database and the static report
        (("db", "check", "--database-url", "nosuch://x"), 2, "unsupported scheme 'nosuch'"),
        (("db", "upgrade", "--database-url", "nosuch://x"), 2, "unsupported scheme 'nosuch'"),
        (("report", f["missing"]), 2, "missing.json"),
        (("report", f["bad"]), 2, "bad.json"),
        (("schedules", "add", f["missing"]), 2, "no such file"),
        # usage mistakes the parser catches
        (("bogus",), 2, "No such command 'bogus'"),
        (("run",), 2, "Missing argument"),
        (("runs", "show"), 2, "Missing argument"),
    ]


def test_every_local_mistake_is_a_short_message(cli, dags):
    spec_dir = dags / "examples" / "specs"
    spec_dir.mkdir(parents=True)
    for argv, code, fragment in local_cases(dags):
        assert_clean(cli(*argv), code, fragment)


def test_spec_run_names_an_unimportable_functions_module(cli, dags):
    from pathlib import Path

    spec = Path(__file__).resolve().parents[2] / "examples/specs/filling-a-glass-of-water.json"
    outcome = cli("spec", "run", str(spec), "--functions", "nosuchmod", "--args", "{}")
    assert_clean(outcome, 2, "nosuchmod")
    outcome = cli("spec", "run", str(spec), "--functions", "good", "--args", "{oops")
    assert_clean(outcome, 2, "--args")


def remote_cases(url: str):
    base = ("--url", url)
    return [
        ("trigger", "t", *base),
        ("register", "function", "f", "--path", "m:f", *base),
        ("register", "dag", '{"name": "d", "dag": []}', *base),
        ("register", "trigger", '{"trigger_name": "t"}', *base),
        ("runs", "ls", *base),
        ("runs", "show", "latest", *base),
        ("runs", "logs", "abc", *base),
        ("runs", "cancel", "abc", *base),
        ("runs", "retry", "abc", *base),
        ("functions", "ls", *base),
        ("functions", "show", "f", *base),
        ("dags", "ls", *base),
        ("dags", "show", "d", *base),
        ("triggers", "ls", *base),
        ("triggers", "show", "t", *base),
        ("schedules", "ls", *base),
        ("schedules", "rm", "s", *base),
    ]


def test_an_unreachable_server_is_named_with_the_fix(cli):
    url = f"http://127.0.0.1:{free_port()}"
    for argv in remote_cases(url):
        outcome = cli(*argv)
        assert_clean(outcome, 1, f"cannot reach the dagforge platform at {url}")
        assert "dagforge serve" in outcome.err


def test_an_unreachable_dask_scheduler_is_one_line(cli, dags):
    pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        port = free_port()
        outcome = cli("run", "good:dag", "--backend", f"dask://127.0.0.1:{port}")
    assert_clean(outcome, 1, f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")


def test_server_side_mistakes(cli, platform):
    url = ("--url", platform.url)
    assert_clean(cli("trigger", "nosuch", *url), 2, "no trigger named 'nosuch'")
    assert_clean(cli("runs", "show", "nosuchrun", *url), 2, "nosuchrun")
    assert_clean(cli("runs", "logs", "latest", *url), 2, "no runs on this server yet")
    assert_clean(cli("functions", "show", "nosuch", *url), 2, "nosuch")
    assert_clean(cli("runs", "retry", "nosuchrun", *url), 2, "nosuchrun")
    # a python path outside --allow-module, and one the server cannot import
    outcome = cli("register", "function", "f", "--path", "os:system", *url)
    assert_clean(outcome, 2, "not in the allowed packages")
    outcome = cli("register", "function", "f", "--path", "hello:nosuch", *url)
    assert_clean(outcome, 2, "has no attribute")
    outcome = cli("register", "function", "f", "--path", "hello.nothere:f", *url)
    assert_clean(outcome, 2, "cannot import 'hello.nothere:f'")
    assert "--functions-path" in outcome.err and "PYTHONPATH" in outcome.err
    bad_dag = json.dumps({"name": "d", "dag": [{"node_id": "x"}]})
    assert_clean(cli("register", "dag", bad_dag, *url), 2, "dag[0]")


def test_debug_shows_the_traceback(cli, dags, capsys):
    from dagforge.cli import main
    from dagforge.errors import CycleError

    with pytest.raises(CycleError):
        main(["--debug", "run", "cyclic:dag"])


def test_debug_from_the_environment(cli, dags, monkeypatch):
    from dagforge.cli import main
    from dagforge.errors import CycleError

    monkeypatch.setenv("DAGFORGE_DEBUG", "1")
    with pytest.raises(CycleError):
        main(["run", "cyclic:dag"])


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("uvicorn", ("serve", "--port", "0"), "server"),
        ("httpx", ("trigger", "t", "--url", "http://127.0.0.1:9"), "server"),
        ("httpx", ("runs", "ls", "--url", "http://127.0.0.1:9"), "server"),
        ("kubernetes", ("deploy", "k8s", "f", "--image", "i:1", "--apply"), "k8s"),
    ],
)
def test_a_missing_extra_names_the_pip_install(cli, monkeypatch, tmp_path, module, argv, extra):
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)  # import it -> ModuleNotFoundError
    outcome = cli(*argv)
    assert_clean(outcome, 1, f"{module} is not installed: pip install 'dagforge[{extra}]'")
    assert len(outcome.err.strip().splitlines()) == 1


def _paths(command, prefix=()):
    subs = getattr(command, "commands", None)
    if not subs:
        return {" ".join(prefix)}
    found = set()
    for name, sub in subs.items():
        found |= _paths(sub, (*prefix, name))
    return found


def test_the_walk_covers_every_command(tmp_path):
    import typer

    tried = set()
    for argv, _, _ in local_cases(tmp_path):
        tried.add(argv[0])
        tried.add(" ".join(argv[:2]))
    for argv in remote_cases("http://x"):
        tried.add(" ".join(argv[:2]))
        tried.add(argv[0])
    tried |= {"spec run"}
    every = _paths(typer.main.get_command(app))
    untested = sorted(p for p in every if p not in tried and p != "spec schema")
    assert not untested, f"commands without a bad-input case: {untested}"
