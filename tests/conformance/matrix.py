"""Run the conformance suite and write its outcome table into docs/execution.md.

    .venv/bin/python tests/conformance/matrix.py            # run, then rewrite the table
    .venv/bin/python tests/conformance/matrix.py --check    # exit 1 if the doc is stale

The table sits between ``<!-- conformance:start -->`` and ``<!-- conformance:end -->``.
Cells: ✓ passed; n/a skipped as not applicable (the reason is a footnote); ✗ known gap
(an ``xfail(strict=True)`` cell, reason as footnote); FAIL failed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "execution.md"
START, END = "<!-- conformance:start -->", "<!-- conformance:end -->"
BACKENDS = ("inline", "threads", "processes", "asyncio", "dask")


class Collector:
    def __init__(self) -> None:
        self.cells: dict[str, dict[str, tuple[str, str]]] = {}
        self.order: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:
        m = re.match(r".*::test_(\w+)\[(\w+)\]$", report.nodeid)
        if m is None:
            return
        scenario, backend = m.groups()
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            if scenario not in self.cells:
                self.cells[scenario] = {}
                self.order.append(scenario)
            if hasattr(report, "wasxfail"):
                self.cells[scenario][backend] = ("xfail", str(report.wasxfail))
            elif report.skipped:
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
                reason = reason.removeprefix("Skipped: ").removeprefix("n/a: ")
                self.cells[scenario][backend] = ("skip", reason)
            else:
                self.cells[scenario][backend] = (report.outcome, "")


def table(c: Collector) -> str:
    notes: list[str] = []
    lines = [
        "| scenario | " + " | ".join(f"`{b}`" for b in BACKENDS) + " |",
        "|---|" + "---|" * len(BACKENDS),
    ]
    for scenario in c.order:
        row = []
        for b in BACKENDS:
            outcome, reason = c.cells[scenario].get(b, ("missing", ""))
            mark = {"passed": "✓", "skip": "n/a", "xfail": "✗", "failed": "FAIL"}.get(
                outcome, outcome
            )
            if reason:
                if reason not in notes:
                    notes.append(reason)
                mark += f" [{notes.index(reason) + 1}]"
            row.append(mark)
        lines.append(f"| {scenario.replace('_', ' ')} | " + " | ".join(row) + " |")
    lines.append("")
    for k, note in enumerate(notes, 1):
        lines.append(f"[{k}] {note}  ")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    c = Collector()
    code = pytest.main([str(HERE), "-q", "-p", "no:cacheprovider"], plugins=[c])
    text = DOC.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} has no {START} ... {END} section for the table")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table(c)}{END}{tail}"
    if "--check" in argv:
        return 0 if new == text and code == 0 else 1
    DOC.write_text(new)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
