"""The documentation site builds strictly, with an API page for every public name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path):
    import dagforge

    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    home = (site / "index.html").read_text()
    assert "The platform: from" in home  # the README is the home page
    for guide in ("architecture", "cli", "distributed", "platform", "profiling"):
        assert (site / guide / "index.html").is_file(), guide
    for name, module in dagforge._EXPORTS.items():
        page = site / "reference" / module / "index.html"
        assert page.is_file(), module
        assert f'id="{module}.{name}"' in page.read_text(), f"{module}.{name}"
