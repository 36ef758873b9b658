"""A real uvicorn server on a free loopback port with the UI functions registered.

The shared helpers (``TOKEN``, ``Server``, ``register``, ...) live in ``ui_helpers.py``;
this file keeps the fixtures and puts its folder on ``sys.path`` for ``ui_helpers``
and ``ui_functions``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui_helpers import Server


@pytest.fixture
def make_server(tmp_path):
    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    started: list[Server] = []

    def make(**kwargs):
        kwargs.setdefault("data_dir", tmp_path / f"data{len(started)}")
        kwargs.setdefault("allow_modules", ("ui_functions",))
        server = Server(create_app(Settings(**kwargs))).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
