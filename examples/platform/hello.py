"""Functions for the README's platform walkthrough (registered by import path).

A python function on the platform takes keyword arguments (the trigger's arguments,
overlaid by the outputs of the nodes it reads from) and returns a JSON-able dict.
"""

from __future__ import annotations


def double(x: int = 0, **_: object) -> dict:
    """``{"x": 2x}``."""
    return {"x": x * 2}


def add_one(x: int = 0, **_: object) -> dict:
    """``{"x": x + 1}``."""
    return {"x": x + 1}
