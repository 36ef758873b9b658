"""Drop-in layers named after the seeds' originals: change the import, keep the code.

| original | layer |
|---|---|
| ``dagprofiler`` 0.1.0 | :mod:`dagforge.compat.dagprofiler` |
| ``tawazi`` 0.1.2 and 0.6.2 | :mod:`dagforge.compat.tawazi` |
| ``dagron`` (its documentation) | :mod:`dagforge.compat.dagron` |
| ``adage`` 0.11.0 | :mod:`dagforge.compat.adage` |
| DAGit (``functions``, ``deployment``, ``store_output``) | :mod:`dagforge.compat.dagit` |

Each layer mirrors its original's public module paths and names and translates them to
dagforge's graph, options and engine: no layer has a scheduler of its own. What differs
from each original is listed in ``docs/migrating.md``. Nothing here imports the
originals.
"""
