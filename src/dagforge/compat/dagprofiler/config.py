"""dagprofiler's ``Config`` (``dagprofiler.config``): dagforge's, unchanged."""

from __future__ import annotations

from dagforge.config import Config

__all__ = ["Config"]
