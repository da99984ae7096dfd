"""Median and p99 microseconds per decision, per rule set and backend.

    .venv/bin/python bench/engine.py [--cases 3000] [--explain full]

Cases are generated from each rule set's inputs (the same generator the
differential tests use), with a fixed seed; invalid ones are skipped. A benchmark,
not a test: numbers on a shared 2-core machine drift, compare within one run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from engine.errors import CaseError  # noqa: E402
from engine.rulebook import RuleBook  # noqa: E402
from tests.test_backends_agree import AS_OF, _cases  # noqa: E402


def generate(ruleset, n: int) -> list:
    out = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=_cases(ruleset), as_of=AS_OF)
    def collect(case, as_of):
        out.append((case, as_of))
    collect()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--explain", default="fired", choices=("fired", "full"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    books = {b: RuleBook.load(ROOT / "rules", backend=b) for b in ("durable", "python")}
    print(f"load+compile all rule sets, both backends: {(time.perf_counter() - t0) * 1000:.0f} ms")
    print(f"{'rule set':16} {'backend':8} {'cases':>6} {'median µs':>10} {'p99 µs':>8}")
    for name in sorted(books["python"].rulesets):
        cases = generate(books["python"].get(name).ruleset, args.cases)
        valid = []
        for case, as_of in cases:
            try:
                books["python"].decide(name, case, as_of=as_of)
                valid.append((case, as_of))
            except CaseError:
                pass
        for backend, book in books.items():
            loaded = book.get(name)
            times = []
            for case, as_of in valid:
                t = time.perf_counter_ns()
                loaded.decide(case, as_of=as_of, explain=args.explain)
                times.append((time.perf_counter_ns() - t) / 1000)
            times.sort()
            p99 = times[int(len(times) * 0.99) - 1] if times else 0
            print(f"{name:16} {backend:8} {len(times):6} {statistics.median(times):10.1f} {p99:8.1f}")


if __name__ == "__main__":
    main()
