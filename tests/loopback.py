"""Loopback servers for the tests of every folder: a free port, and uvicorn in a thread.

Importable as ``from loopback import ...`` (the root ``conftest.py`` puts this folder on
``sys.path``; a uniquely named module, since every folder has a ``conftest``).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class UvicornThread:
    """An ASGI app on uvicorn in a background thread, on a free loopback port.

    ``start()``/``stop()`` or ``with``; starting waits (at most 20 s) until uvicorn
    serves, stopping sets ``should_exit`` and joins the thread (at most 20 s).
    """

    def __init__(self, app: Any, *, lifespan: str = "auto"):
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def __enter__(self) -> UvicornThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
