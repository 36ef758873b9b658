"""Deterministic DAG shapes for dagforge's benchmarks.

Every generator returns ``(names, parents)``:

* ``names`` -- list of node names in a topological order (parents before children);
* ``parents`` -- dict mapping EVERY name to the list of its parents' names (``[]`` for
  roots). The list order is the edge-insertion order, i.e. the positional order in
  which a node receives its parents' results.

Nothing here imports dagforge or any peer, so any benchmark (and any Python >= 3.11)
can use it. Shapes are pure functions of their arguments: same arguments, same graph,
on any machine and any ``PYTHONHASHSEED``.

Shapes can also be named by a spec string, e.g. ``"chain:10000"``,
``"fanout:10000"``, ``"layered:1000000"`` or ``"layered:10000:layers=50,max_parents=2,seed=1"``
(see :func:`from_spec`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

Shape = tuple[list[str], dict[str, list[str]]]

__all__ = [
    "SHAPES",
    "Shape",
    "chain",
    "children",
    "edge_count",
    "fanout",
    "from_spec",
    "heterogeneous",
    "heterogeneous_bound",
    "layered",
    "leaves",
    "roots",
    "validate",
]


def chain(n: int) -> Shape:
    """A chain of ``n`` nodes: ``c0 -> c1 -> ... -> c{n-1}``."""
    if n < 1:
        raise ValueError("chain needs n >= 1")
    names = [f"c{i}" for i in range(n)]
    parents: dict[str, list[str]] = {names[0]: []}
    for i in range(1, n):
        parents[names[i]] = [names[i - 1]]
    return names, parents


def fanout(n: int) -> Shape:
    """Fan-out/fan-in ``1 -> n -> 1``: ``src``, ``m0..m{n-1}``, ``sink`` (``n + 2`` nodes).

    ``sink`` receives the ``n`` middle results positionally, in ``m0..m{n-1}`` order.
    """
    if n < 1:
        raise ValueError("fanout needs n >= 1")
    mids = [f"m{i}" for i in range(n)]
    names = ["src", *mids, "sink"]
    parents: dict[str, list[str]] = {"src": []}
    for m in mids:
        parents[m] = ["src"]
    parents["sink"] = list(mids)
    return names, parents


def layered(n: int, layers: int = 100, max_parents: int = 3, seed: int = 0) -> Shape:
    """A random layered DAG of ``n`` nodes in ``layers`` layers.

    Layer sizes differ by at most one (the first ``n % layers`` layers get the extra
    node). Every node outside layer 0 gets between 1 and ``max_parents`` distinct
    parents drawn from the previous layer with ``random.Random(seed)`` (capped by the
    previous layer's size). Nodes are named ``n{i}`` in layer order, so ``names`` is a
    topological order. Some nodes end up with no children: they are leaves too.
    """
    if n < 1:
        raise ValueError("layered needs n >= 1")
    if layers < 1 or max_parents < 1:
        raise ValueError("layered needs layers >= 1 and max_parents >= 1")
    layers = min(layers, n)
    rng = random.Random(seed)
    base, extra = divmod(n, layers)
    names = [f"n{i}" for i in range(n)]
    parents: dict[str, list[str]] = {}
    start = 0
    prev: list[str] = []
    randint, sample = rng.randint, rng.sample
    for layer in range(layers):
        size = base + (1 if layer < extra else 0)
        cur = names[start : start + size]
        if layer == 0:
            for name in cur:
                parents[name] = []
        else:
            hi = min(max_parents, len(prev))
            for name in cur:
                parents[name] = sample(prev, randint(1, hi))
        prev = cur
        start += size
    return names, parents


SHAPES: dict[str, Callable[..., Shape]] = {
    "chain": chain,
    "fanout": fanout,
    "layered": layered,
}


def from_spec(spec: str) -> Shape:
    """Build a shape from ``"kind:n"`` or ``"kind:n:key=value,key=value"``."""
    kind, _, rest = spec.partition(":")
    if kind not in SHAPES or not rest:
        raise ValueError(f"bad shape spec {spec!r}; expected one of {sorted(SHAPES)} as 'kind:n'")
    n_text, _, opts = rest.partition(":")
    kwargs: dict[str, int] = {}
    if opts:
        for item in opts.split(","):
            key, _, value = item.partition("=")
            kwargs[key.strip()] = int(value)
    return SHAPES[kind](int(n_text.replace("_", "")), **kwargs)


# ----------------------------------------------------------------------------- helpers


def children(parents: dict[str, list[str]]) -> dict[str, list[str]]:
    """Invert ``parents``: name -> list of children (every name is a key)."""
    kids: dict[str, list[str]] = {name: [] for name in parents}
    for name, ps in parents.items():
        for p in ps:
            kids[p].append(name)
    return kids


def roots(names: list[str], parents: dict[str, list[str]]) -> list[str]:
    """Nodes with no parents, in ``names`` order."""
    return [name for name in names if not parents[name]]


def leaves(names: list[str], parents: dict[str, list[str]]) -> list[str]:
    """Nodes that are nobody's parent, in ``names`` order.

    Requesting the leaves from a pull-based scheduler (dask) runs every node.
    """
    has_child: set[str] = set()
    for ps in parents.values():
        has_child.update(ps)
    return [name for name in names if name not in has_child]


def edge_count(parents: dict[str, list[str]]) -> int:
    return sum(len(ps) for ps in parents.values())


def validate(names: list[str], parents: dict[str, list[str]]) -> None:
    """Raise ``ValueError`` unless ``names`` is a duplicate-free topological order
    covering exactly ``parents``' keys."""
    if len(set(names)) != len(names):
        raise ValueError("duplicate names")
    if set(names) != set(parents):
        raise ValueError("names and parents keys differ")
    seen: set[str] = set()
    for name in names:
        ps = parents[name]
        if len(set(ps)) != len(ps):
            raise ValueError(f"{name} has a duplicate parent")
        missing = [p for p in ps if p not in seen]
        if missing:
            raise ValueError(f"{name} comes before its parents {missing[:3]}")
        seen.add(name)


if __name__ == "__main__":  # pragma: no cover - tiny CLI for eyeballing shapes
    import sys

    for spec in sys.argv[1:] or ["chain:10", "fanout:5", "layered:20:layers=4"]:
        names, parents = from_spec(spec)
        validate(names, parents)
        print(
            f"{spec}: {len(names)} nodes, {edge_count(parents)} edges, "
            f"{len(roots(names, parents))} roots, {len(leaves(names, parents))} leaves"
        )


HETEROGENEOUS_CAPS = {"cpu": 8, "gpu": 2, "memory_mb": 16000}


def heterogeneous(n: int, unit: float) -> tuple[list[str], dict[str, list[str]], dict, dict]:
    """The mixed cpu/gpu/memory workload (seed 0) resources_bench and simulate_bench share.

    Returns names, parents, durations in seconds (1-3 ``unit``) and requirements: 20 %
    gpu nodes, 40 % medium cpu/memory nodes, 40 % small ones, against
    :data:`HETEROGENEOUS_CAPS`.
    """
    rng = random.Random(0)
    names, parents = layered(n, layers=10, max_parents=2, seed=0)
    dur: dict[str, float] = {}
    req: dict[str, dict[str, int]] = {}
    for name in names:
        kind = rng.random()
        if kind < 0.2:
            req[name] = {"gpu": 1, "cpu": 2, "memory_mb": 4000}
        elif kind < 0.6:
            req[name] = {"cpu": rng.choice([1, 2, 4]), "memory_mb": rng.choice([1000, 2000])}
        else:
            req[name] = {"cpu": 1, "memory_mb": 500}
        dur[name] = unit * rng.choice([1, 2, 3])
    return names, parents, dur, req


def heterogeneous_bound(
    names: list[str], parents: dict[str, list[str]], dur: dict, req: dict, caps: dict
) -> tuple[float, float, float]:
    """(lower bound, critical path, resource area): no schedule can end sooner."""
    longest: dict[str, float] = {}
    for name in names:
        longest[name] = dur[name] + max((longest[p] for p in parents[name]), default=0.0)
    cp = max(longest.values())
    area = max(sum(dur[x] * req[x].get(r, 0) for x in names) / c for r, c in caps.items())
    return max(cp, area), cp, area
