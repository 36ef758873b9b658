#!/usr/bin/env bash
# Create (or refresh) the benchmark venv `.bench-venv` at the repo root.
#
# The peers (tawazi, dagron, dask) live ONLY in this venv; they are never added to
# dagforge's own pyproject dependencies. dagron 0.1.1 needs Python >= 3.12, so the
# venv is built on 3.12 when one can be found.
#
# Idempotent: re-running reuses the venv and skips packages that are already
# importable at the requested version. A peer that fails to install is reported
# and skipped; bench/overhead.py then reports it as "unavailable".
#
# Environment overrides:
#   BENCH_PYTHON=/path/to/python   interpreter to build the venv with
#   BENCH_VENV=path                venv location (default: <repo>/.bench-venv)
#   BENCH_FORCE=1                  reinstall everything
set -u

cd "$(dirname "$0")/.." || exit 1
REPO_ROOT="$(pwd)"
VENV="${BENCH_VENV:-$REPO_ROOT/.bench-venv}"
STAMP="$VENV/.bench-stamp"

note() { printf '[setup_peers] %s\n' "$*"; }

# --------------------------------------------------------------------------- python
find_python() {
    if [ -n "${BENCH_PYTHON:-}" ]; then
        echo "$BENCH_PYTHON"
        return 0
    fi
    local cands=("/root/.pyenv/versions/3.12.1/bin/python")
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root="$(pyenv root 2>/dev/null || true)"
        if [ -n "$root" ]; then
            # newest 3.12.x first
            local d
            for d in $(ls -d "$root"/versions/3.12* 2>/dev/null | sort -rV); do
                cands+=("$d/bin/python")
            done
        fi
    fi
    local p
    for p in "${cands[@]}"; do
        if [ -x "$p" ] && "$p" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    for p in python3.12 python3.13; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import venv' 2>/dev/null; then
            command -v "$p"
            return 0
        fi
    done
    return 1
}

PY_BASE="$(find_python)"
if [ -z "$PY_BASE" ]; then
    note "NOTE: no Python >= 3.12 found (tried /root/.pyenv/versions/3.12.1, \`pyenv root\`/versions/3.12*, python3.12 on PATH)."
    note "NOTE: falling back to python3; dagron (needs >= 3.12) will be reported as unavailable."
    PY_BASE="$(command -v python3)"
fi
note "base interpreter: $PY_BASE ($("$PY_BASE" -c 'import sys; print(sys.version.split()[0])'))"

if [ "${BENCH_FORCE:-0}" = "1" ] && [ -d "$VENV" ]; then
    note "BENCH_FORCE=1: removing $VENV"
    rm -rf "$VENV"
fi

# Recreate the venv if it was made from a different interpreter version.
if [ -x "$VENV/bin/python" ]; then
    want="$("$PY_BASE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    have="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)"
    if [ "$want" != "$have" ]; then
        note "existing venv is Python $have, wanted $want: recreating"
        rm -rf "$VENV"
    fi
fi
if [ ! -x "$VENV/bin/python" ]; then
    note "creating $VENV"
    "$PY_BASE" -m venv "$VENV" || { note "ERROR: could not create venv"; exit 1; }
    "$VENV/bin/python" -m pip install --quiet --upgrade pip || note "WARN: pip upgrade failed (continuing)"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)

# --------------------------------------------------------------------------- packages
FAILED=()
OK=()

# install_one LABEL CHECK_PY PIP_ARGS...
#   CHECK_PY: python snippet that exits 0 iff the package is already present as wanted
install_one() {
    local label="$1" check="$2"
    shift 2
    if [ "${BENCH_FORCE:-0}" != "1" ] && "$VENV/bin/python" -c "$check" >/dev/null 2>&1; then
        note "ok (already installed): $label"
        OK+=("$label")
        return 0
    fi
    note "installing: $label"
    if "${PIP[@]}" "$@"; then
        OK+=("$label")
    else
        note "WARN: could not install $label; the benchmark will report it as unavailable"
        FAILED+=("$label")
    fi
}

ver_check() { # module dist version
    printf 'import importlib.metadata as m, %s; assert m.version("%s") == "%s"' "$1" "$2" "$3"
}

install_one "psutil" "import psutil" psutil
install_one "numpy" "import numpy" numpy
install_one "dask[distributed]" "import dask, distributed" "dask[distributed]"
install_one "tawazi==0.6.2" "$(ver_check tawazi tawazi 0.6.2)" "tawazi==0.6.2"
install_one "dagron==0.1.1" "$(ver_check dagron dagron 0.1.1)" "dagron==0.1.1"
# dagforge itself, editable, so the bench always measures the working tree.
install_one "dagforge (-e .)" \
    "import dagforge, pathlib; assert pathlib.Path(dagforge.__file__).resolve().is_relative_to(pathlib.Path('$REPO_ROOT').resolve())" \
    -e "$REPO_ROOT"

{
    echo "python=$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
    echo "ok=${OK[*]:-}"
    echo "failed=${FAILED[*]:-}"
} >"$STAMP"

note "bench venv ready: $VENV"
if [ "${#FAILED[@]}" -gt 0 ]; then
    note "UNAVAILABLE (install failed): ${FAILED[*]}"
fi
exit 0
