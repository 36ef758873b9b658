"""mkdocs hook: the API reference pages, generated from dagforge's public API.

One page per module that ``dagforge.__all__`` exports from, listing those names with
mkdocstrings (``::: dagforge.graph.DAG``), plus ``index.md`` from the README. Nothing is
written into ``docs/``: the pages exist only in the build (``File.generated``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]


def _exports() -> dict[str, list[str]]:
    import dagforge

    by_module: dict[str, list[str]] = defaultdict(list)
    for name, module in dagforge._EXPORTS.items():
        by_module[module].append(name)
    return dict(sorted(by_module.items()))


def _readme() -> str:
    text = (ROOT / "README.md").read_text()

    # README paths like `docs/platform.md` become links to the guides in the site.
    def link(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"[{name}]({name}.md)" if (ROOT / "docs" / f"{name}.md").is_file() else match[0]

    return re.sub(r"`docs/(\w+)\.md`", link, text)


def on_files(files: Files, config) -> Files:
    if files.get_file_from_path("index.md") is None:
        files.append(File.generated(config, "index.md", content=_readme()))
    lines = [
        "# API reference",
        "",
        "Everything `import dagforge` exports (`dagforge.__all__`), by the module that",
        "defines it. Generated from the docstrings.",
        "",
    ]
    for module, names in _exports().items():
        page = f"reference/{module}.md"
        body = [f"# `{module}`", ""]
        for name in names:
            body += [f"::: {module}.{name}", ""]
        files.append(File.generated(config, page, content="\n".join(body)))
        lines.append(f"- [`{module}`]({module}.md): " + ", ".join(f"`{n}`" for n in names))
    files.append(File.generated(config, "reference/index.md", content="\n".join(lines) + "\n"))
    return files
