"""Workflow functions for the DAGit tests (registered by import path on the platform)."""

from __future__ import annotations


def fetch_sentences(**args):
    return {"sentences": ["good day", "bad day", "fine"], "source": args.get("url", "")}


def calculate_sentiment(sentences, **_):
    return {"polarity": [1.0 if "good" in s else -1.0 if "bad" in s else 0.0 for s in sentences]}


def create_sentiment_report(sentences, polarity, **_):
    return {"report": [f"{s}: {p:+.1f}" for s, p in zip(sentences, polarity, strict=True)]}


def dagit_report(params):
    """DAGit's merge recipe: the list of upstream outputs, in outputs_from order."""
    fetched, scored = params
    return {
        "report": [
            f"{s}: {p:+.1f}" for s, p in zip(fetched["sentences"], scored["polarity"], strict=True)
        ]
    }


def double(number, **_):
    return {"result": number * 2, "activation_id": "x"}
