"""The engine of one revision against another's, like for like: the same rules folder and the same
stored cases, so only the engine differs.

    # the cases: bench/impact.py --ruleset R --cases 100000 --keep /tmp/cases_R.jsonl --corpus-only
    # this tree:      .venv/bin/python bench/engine_ab.py RULES_DIR /tmp/cases_R.jsonl
    # another commit: git worktree add /tmp/old REV; cd /tmp/old &&
    #                 PYTHONPATH=/tmp/old /work/main/.venv/bin/python /work/main/bench/engine_ab.py RULES_DIR ...

Run the two alternately (drift hits both alike). Prints, per corpus, the median µs of a decision
with the durable backend, explain=fired and explain=full, over the first --cases valid cases.
It imports only engine.rulebook and engine.errors, so it runs against any revision's engine.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]  # bench/engine.py would shadow the engine package: take it from PYTHONPATH or the venv

from engine.errors import CaseError, DecisionConflict  # noqa: E402
from engine.rulebook import RuleBook  # noqa: E402


def median_us(decide, cases, explain: str) -> float:
    times = []
    for c in cases:
        t = time.perf_counter()
        decide(c["case"], as_of=c["as_of"], explain=explain)
        times.append(time.perf_counter() - t)
    times.sort()
    return round(times[len(times) // 2] * 1e6, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rules")
    ap.add_argument("corpora", nargs="+", help="JSON Lines of {ruleset, case, as_of}")
    ap.add_argument("--cases", type=int, default=2000)
    args = ap.parse_args()
    book = RuleBook.load(args.rules)
    for path in args.corpora:
        items = [json.loads(line) for _, line in zip(range(args.cases * 2), open(path, encoding="utf-8"))]
        loaded = book.get(items[0]["ruleset"])
        valid = []
        for c in items:  # warm-up, and only cases this rules folder decides
            try:
                loaded.decide(c["case"], as_of=c["as_of"])
            except (CaseError, DecisionConflict):
                continue
            valid.append(c)
        valid = valid[:args.cases]
        print(f"{loaded.ruleset.name:14} {len(valid):6} cases  fired {median_us(loaded.decide, valid, 'fired'):7} µs"
              f"  full {median_us(loaded.decide, valid, 'full'):7} µs")


if __name__ == "__main__":
    main()
