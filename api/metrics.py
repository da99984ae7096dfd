"""Prometheus metrics. Under gunicorn (several processes) the multiprocess mode is used
when PROMETHEUS_MULTIPROC_DIR is set (`aftersales serve` sets it)."""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

DECISIONS = Counter("aftersales_decisions_total", "Decisions returned, by rule set and outcome",
                    ["ruleset", "outcome"])
LATENCY = Histogram("aftersales_decision_seconds", "Time to decide and log one decision request",
                    ["ruleset"], buckets=(.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
RELOAD_FAILURES = Counter("aftersales_reload_failures_total", "Rule-set edits refused at load", ["ruleset"])


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
