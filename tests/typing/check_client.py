"""Checked by mypy only (``mypy tests/typing``): the Client's results are typed models."""

from __future__ import annotations

from typing import Any, assert_type

from dagforge import Client
from dagforge.server.api_models import (
    DagRecord,
    Deleted,
    FunctionRecord,
    Page,
    ProfileDocument,
    RetryAccepted,
    RunAccepted,
    RunDetail,
    RunSummary,
    Schedule,
    TriggerRecord,
)


def _results(c: Client) -> None:
    assert_type(c.trigger("t", {"x": 1}), RunAccepted)
    assert_type(c.trigger("t", wait=True), RunDetail | RunAccepted)
    assert_type(c.run("r"), RunDetail)
    assert_type(c.run("r").status, str)
    assert_type(c.run("r").nodes["n"].end, int | float | None)
    assert_type(c.wait("r"), RunDetail)
    assert_type(c.cancel("r"), RunDetail)
    assert_type(c.retry("r"), RetryAccepted)
    assert_type(c.retry("r").reused_nodes, int)
    assert_type(c.runs(), list[RunSummary])
    assert_type(c.runs_page(), Page[RunSummary])
    assert_type(c.runs_page().next_cursor, str | None)
    assert_type(c.get_function("f"), FunctionRecord)
    assert_type(c.registry_page("dags"), Page[DagRecord])
    assert_type(c.registry_page("triggers").items, list[TriggerRecord])
    assert_type(c.delete_dag("d"), Deleted)
    assert_type(c.list_schedules(), list[Schedule])
    assert_type(c.profile("r"), ProfileDocument)
    assert_type(c.outputs("r"), Any)
    assert_type(c.run("r")["status"], Any)  # still reads like the JSON object
