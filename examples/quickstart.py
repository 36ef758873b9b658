"""The dagprofiler quickstart DAG (seed 000), written for dagforge.

collect -> process -> classify, with the Task Standard's declared inputs and outputs:
edges route `data` to process, `labels` to classify, and `features` to classify.
"""

import numpy as np

from dagforge import DAG, Config, Task


class CollectData(Task):
    inputs = []
    outputs = ["data", "labels"]
    config_deps = ["N"]

    def compute(self, cfg=None):
        N = cfg.N
        return {
            "data": np.random.randn(N, 10),
            "labels": np.random.randint(0, 3, N),
        }

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N * 10


class ProcessData(Task):
    inputs = ["data"]
    outputs = ["features"]
    config_deps = ["N"]

    def compute(self, data, cfg=None):
        return {"features": data**2}

    @staticmethod
    def estimate_instructions(cfg):
        return cfg.N * 100


class Classify(Task):
    inputs = ["features", "labels"]
    outputs = ["predictions"]

    def compute(self, features, labels, cfg=None):
        # A nearest-centroid classifier on the squared features: small but real work.
        centroids = np.stack([features[labels == k].mean(axis=0) for k in range(3)])
        distances = ((features[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
        return {"predictions": distances.argmin(axis=1)}


def build(n: int = 10000) -> DAG:
    return DAG(
        tasks={
            "collect": CollectData(),
            "process": ProcessData(),
            "classify": Classify(),
        },
        edges=[
            ("collect", "process"),  # auto-routes matching outputs -> inputs
            ("collect", "classify"),
            ("process", "classify"),
        ],
        config=Config(N=n),
    )


dag = build()
