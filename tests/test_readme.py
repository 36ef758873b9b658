"""The README is true as written: its Python and shell blocks run, and give what it says.

Every fenced ``python`` block runs as a script of its own (so ``if __name__ ==
"__main__":`` blocks run too); a one-line expression followed by a comment holding a
Python literal (``result.outputs  # {"final": 6}``) is checked as an assertion. Every
``bash`` block runs command by command in a scratch directory that sees the repository's
``examples/``, with this venv's ``dagforge`` first on PATH. ``dagforge serve ... &``
starts in the background on a free port (and ``DAGFORGE_URL`` points the following
commands at it). Three kinds of line are not run, for stated reasons: ``make test``
(this test is part of it), ``make demo`` (run as the command its recipe runs, without
rebuilding the shared venv) and ``pip install`` (this venv already has every extra).
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tokenize
from pathlib import Path

import pytest

import dagforge
from loopback import free_port as _free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w+)\s*\n(.*?)^```\s*$", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


# -- python --------------------------------------------------------------------------------


def with_assertions(source: str) -> tuple[str, int]:
    """``expr  # literal`` lines become ``assert expr == literal``; returns (source, count)."""
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string[1:].strip()
    lines = source.splitlines()
    checks = 0
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Expr) or node.lineno != node.end_lineno:
            continue
        comment = comments.get(node.lineno)
        if not comment:
            continue
        try:
            expected = ast.literal_eval(comment)
        except (ValueError, SyntaxError):
            continue
        expr = node.value
        if isinstance(expr, ast.Call) and getattr(expr.func, "id", None) == "print":
            expr = expr.args[0]
        line = lines[node.lineno - 1]
        indent = line[: len(line) - len(line.lstrip())]
        code = ast.unparse(expr)
        lines[node.lineno - 1] = (
            f"{indent}assert ({code}) == {expected!r}, ({code!r}, {code}, {expected!r})"
        )
        checks += 1
    return "\n".join(lines) + "\n", checks


@pytest.fixture
def scratch(tmp_path):
    """A working directory where ``examples/`` is the repository's."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("DAGFORGE_URL", None)
    env.pop("DAGFORGE_DEBUG", None)
    env.update(extra)
    return env


def test_the_readme_has_blocks_to_check():
    assert len(blocks("python")) >= 6
    assert len(blocks("bash")) >= 4


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_block(index, scratch):
    source, _ = with_assertions(blocks("python")[index])
    script = scratch / f"readme_block_{index}.py"
    script.write_text(source)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=scratch,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, f"README python block {index}:\n{source}\n{done.stderr}"
    assert "Traceback" not in done.stderr


def test_the_python_blocks_check_their_documented_results():
    total = sum(with_assertions(b)[1] for b in blocks("python"))
    assert total >= 5


# -- bash ----------------------------------------------------------------------------------


def commands(block: str) -> list[str]:
    """The block's commands: comments dropped, ``\\`` continuations joined."""
    out: list[str] = []
    pending = ""
    for raw in block.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append((pending + line).strip())
        pending = ""
    return [c for c in out if c]


def _wait_for(port: int, proc: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dagforge serve exited: {proc.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"dagforge serve did not listen on {port} within {limit}s")


def check_output(command: str, out: str) -> None:
    """What the README says a command prints."""
    if command == "dagforge --version":
        assert out.strip() == f"dagforge {dagforge.__version__}"
    elif command.startswith("dagforge trigger hello"):
        run = json.loads(out)
        assert run["status"] == "succeeded"
        assert run["outputs"] == {"add_one": {"x": 11}}
    elif command == "dagforge runs show latest --output json":
        assert json.loads(out)["outputs"] == {"add_one": {"x": 11}}
    elif command.startswith("dagforge spec run"):
        assert "running 'filling-a-glass-of-water'" in out or "running" in out


def run_block(block: str, cwd: Path) -> list[str]:
    """Run a README shell block; returns the commands it ran."""
    env = _env()
    servers: list[subprocess.Popen] = []
    ran: list[str] = []
    try:
        for command in commands(block):
            words = shlex.split(command)
            if command in ("make test", "make lint", "make docs", "make bench"):
                continue  # make test runs this file; lint and docs run on their own in CI
            if words[:2] == ["pip", "install"]:
                continue  # this venv has every extra already
            if command == "make demo":
                words = [sys.executable, "examples/demo.py", "--out", "demo-output"]
            if words[0] == "python":
                words[0] = sys.executable
            if words[-1] == "&":
                assert words[:2] == ["dagforge", "serve"], command
                port = _free_port()
                words = words[:-1]
                words[words.index("--port") + 1] = str(port)
                proc = subprocess.Popen(
                    words,
                    cwd=cwd,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                servers.append(proc)
                _wait_for(port, proc)
                env["DAGFORGE_URL"] = f"http://127.0.0.1:{port}"
                ran.append(command)
                continue
            done = subprocess.run(
                words, cwd=cwd, env=env, capture_output=True, text=True, timeout=240
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr, done.stderr
            check_output(command, done.stdout)
            ran.append(command)
    finally:
        for proc in servers:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)
            if proc.stderr is not None:
                proc.stderr.close()
    return ran


@pytest.mark.parametrize("index", range(len(blocks("bash"))))
def test_shell_block(index, scratch):
    block = blocks("bash")[index]
    ran = run_block(block, scratch)
    assert ran or all(c.startswith(("make", "pip")) for c in commands(block))
    if "make demo" in block:
        for name in ("profile.json", "trace.json", "gantt.png", "dag.mmd"):
            assert (scratch / "demo-output" / name).is_file(), name


def test_the_walkthrough_runs_every_step():
    walkthrough = next(b for b in blocks("bash") if "dagforge serve" in b)
    steps = [shlex.split(c)[:3] for c in commands(walkthrough)]
    for step in (
        ["dagforge", "serve", "--port"],
        ["dagforge", "register", "function"],
        ["dagforge", "register", "dag"],
        ["dagforge", "register", "trigger"],
        ["dagforge", "trigger", "hello"],
        ["dagforge", "runs", "ls"],
    ):
        assert step in steps, step
    serve = next(c for c in commands(walkthrough) if c.startswith("dagforge serve"))
    assert "--functions-path" in serve and "--allow-module" in serve


def test_the_readme_names_every_extra():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    text = README.read_text()
    for name in extras:
        if name == "dev":
            continue
        assert f"| `{name}` |" in text, f"the README's extras table lacks {name!r}"
