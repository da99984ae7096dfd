"""Start-up: loading and compiling every rule set (rules/*.yaml and the calendar), in a fresh process.

    .venv/bin/python bench/startup.py [--runs 7]

Each run is a new Python process that imports the engine, then times RuleBook.load("rules")
for the durable-rules backend (what a server worker does) and, separately, for the Python
backend; it also reports the whole process (interpreter, imports, load). Median of the runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r'''
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from engine.rulebook import RuleBook
t1 = time.perf_counter()
book = RuleBook.load({rules!r}, backend={backend!r})
t2 = time.perf_counter()
assert not book.errors, book.all_problems()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "rulesets": len(book.rulesets),
                  "rules": sum(len(l.ruleset.rules) for l in book.rulesets.values())}}))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    for backend in ("durable", "python"):
        loads, imports, wall = [], [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), rules=str(ROOT / "rules"),
                                                                     backend=backend)],
                                 capture_output=True, text=True, check=True).stdout
            wall.append(time.perf_counter() - t)
            r = json.loads(out)
            loads.append(r["load_s"])
            imports.append(r["import_s"])
        load = statistics.median(loads)
        print(f"{backend:8} {r['rulesets']} rule sets, {r['rules']} rules: load+compile median {load * 1000:.0f} ms "
              f"(min {min(loads) * 1000:.0f}, max {max(loads) * 1000:.0f}; {args.runs} runs); engine import "
              f"{statistics.median(imports) * 1000:.0f} ms; whole process {statistics.median(wall) * 1000:.0f} ms"
              + ("   goal < 500 ms: " + ("met" if load < 0.5 else "NOT met") if backend == "durable" else ""))


if __name__ == "__main__":
    main()
