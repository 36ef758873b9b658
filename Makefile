# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BENCH_VENV := .bench-venv

.PHONY: demo test bench bench-distributed lint typecheck docs venv venv-dev clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[cli,numpy,plot,interop]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(PY) examples/demo.py --out demo-output

test: $(VENV)/.installed-dev
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests bench examples tools
	$(VENV)/bin/ruff format --check src tests bench examples tools
	$(VENV)/bin/lint-imports  # the import layers of DESIGN.md section 2 (pyproject.toml)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy tests/typing

# Types (mypy on src/, config in pyproject.toml; the public names as users see them) and the
# import layers of DESIGN.md section 2 (import-linter contracts in pyproject.toml).
# All three always run (one pass shows every problem); the target fails if any did.
typecheck: $(VENV)/.installed-dev
	@status=0; \
	$(VENV)/bin/mypy || status=1; \
	$(VENV)/bin/mypy tests/typing || status=1; \
	$(VENV)/bin/lint-imports || status=1; \
	exit $$status

# The documentation site (mkdocs-material; API reference from the docstrings) in site/.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(VENV)/.installed-dev
	bash bench/setup_peers.sh
	$(BENCH_VENV)/bin/python bench/overhead.py
	$(BENCH_VENV)/bin/python bench/resources_bench.py
	$(PY) bench/profiling_overhead.py --backend inline
	$(PY) bench/profiling_overhead.py --backend threads
	$(PY) bench/dynamic_bench.py
	$(PY) bench/spec_bench.py

# Longer ones (minutes): a LocalCluster and real HTTP servers.
bench-distributed: $(VENV)/.installed-dev
	$(PY) bench/dask_bench.py
	$(PY) bench/platform_bench.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) demo-output site
