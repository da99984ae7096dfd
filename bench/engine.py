"""Engine, in process: µs per decision for our two backends, GoRules zen-engine and hand-written Python.

    .venv/bin/python bench/engine.py [--cases 10000] [--seed 1] [--ruleset NAME ...] [--json FILE]

For each rule set the same N generated valid cases (engine.tooling.cases, seeded: check's
boundary candidates around the base case and the rule tests' cases) are decided by:
  a       our durable-rules backend, explain=fired (the API default: the fired rules
          with their policy source and the facts they read)
  a_full  the same with explain=full (adds every rule that did not fire, and why)
  a_nomemo  (a) with the durable backend's match memo off: every stage a native assert
  b       our Python backend, explain=fired
  c       zen-engine (PyPI) on the JDM translation in bench/jdm/ (scrap_pricing, sla)
  d       the hand-written Python function in bench/handwritten.py (scrap_pricing, sla,
          depreciation) — the practical limit
Before timing, every case's outputs are compared: a, b (and a_full) must give the same
decision, c and d the decision b gives (money compared as Decimal to the fen; zen
returns floats). A mismatch stops the run.

Timing: each case is decided by every implementation back to back, in an order that
rotates from case to case, so drift of a shared machine hits all of them alike; the
first 200 cases warm up and are not counted. Ratios are of medians (and of p99s) from
this one run.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import handwritten  # noqa: E402
from engine.rulebook import RuleBook  # noqa: E402
from engine.tooling.cases import valid_cases  # noqa: E402
from engine.types import parse_datetime  # noqa: E402

CENT = Decimal("0.01")
WARM_UP = 200
GOALS = {"a/c": 0.25, "a/d": 2.0}  # issue 14


def _norm(value, kind):
    if value is None:
        return None
    if kind in ("money", "decimal"):
        d = Decimal(repr(value) if isinstance(value, float) else str(value))
        return d.quantize(CENT) if kind == "money" else d
    if kind == "integer":
        if value != int(value):
            raise AssertionError(f"{value!r} is not a whole number")
        return int(value)
    return value


def normalised(ruleset, outputs: dict) -> dict:
    return {k: _norm(v, ruleset.outputs[k].result_type.kind) for k, v in outputs.items() if v is not None}


def zen_deciders(calendar) -> dict:
    try:
        import zen
    except ImportError:
        print("zen-engine is not installed (pip install -e '.[bench]'): column c skipped", file=sys.stderr)
        return {}
    from bench.jdm.build import build
    engine = zen.ZenEngine()
    out = {}
    for name, doc in build(calendar).items():
        decision = engine.create_decision(json.dumps(doc, ensure_ascii=False))
        out[name] = (lambda d: lambda case, as_of: d.evaluate(dict(case, as_of=as_of))["result"])(decision)
    return out


def hand_deciders(calendar) -> dict:
    fns = dict(handwritten.FUNCTIONS, sla=partial(handwritten.sla, calendar=calendar))
    return {name: (lambda f: lambda case, as_of: f(case, parse_datetime(as_of)))(fn) for name, fn in fns.items()}


def stats(times: list) -> dict:
    times = sorted(times)
    return {"n": len(times), "median_us": statistics.median(times), "p99_us": times[int(len(times) * 0.99) - 1],
            "mean_us": statistics.fmean(times)}


def run(name, books, zen_fns, hand_fns, n, seed) -> dict:
    durable, python = books["durable"].get(name), books["python"].get(name)
    nomemo = books["durable_nomemo"].get(name)
    rs = python.ruleset
    t0 = time.perf_counter()
    cases = valid_cases(python, n, seed, rules_dir=ROOT / "rules")
    generated = time.perf_counter() - t0
    impls = {"a": partial(durable.decide, explain="fired"), "a_full": partial(durable.decide, explain="full"),
             "a_nomemo": partial(nomemo.decide, explain="fired"), "b": partial(python.decide, explain="fired")}
    if name in zen_fns:
        impls["c"] = zen_fns[name]
    if name in hand_fns:
        impls["d"] = hand_fns[name]

    # 1. same outputs on every case
    for case, as_of in cases:
        ref = python.decide(case, as_of=as_of).to_json()
        for key in ("a", "a_full", "a_nomemo"):
            got = impls[key](case, as_of=as_of).to_json()
            got.pop("not_fired", None)
            if got != ref:
                raise SystemExit(f"{name}: {key} differs from b on {case} as of {as_of}:\n{got}\n{ref}")
        want = normalised(rs, ref["decision"])
        for key in ("c", "d"):
            if key in impls:
                got = impls[key](case, as_of)
                if normalised(rs, got) != want:
                    raise SystemExit(f"{name}: {key} differs from the engine on {case} as of {as_of}:\n"
                                     f"{normalised(rs, got)}\n{want}")
    # 2. timing, interleaved
    keys = list(impls)
    times = {k: [] for k in keys}
    clock = time.perf_counter_ns
    for i, (case, as_of) in enumerate(cases):
        order = keys[i % len(keys):] + keys[:i % len(keys)]
        for k in order:
            fn = impls[k]
            t = clock()
            fn(case, as_of=as_of) if k in ("a", "a_full", "a_nomemo", "b") else fn(case, as_of)
            elapsed = (clock() - t) / 1000
            if i >= WARM_UP:
                times[k].append(elapsed)
    memo = durable.matcher
    result = {"ruleset": name, "cases": len(cases), "timed": len(cases) - WARM_UP, "generated_s": round(generated, 2),
              "memo_hit_rate": round(memo.memo_hits / max(1, memo.memo_hits + memo.memo_misses), 3),
              "checked_equal": [k for k in keys if k != "b"], "impl": {k: stats(v) for k, v in times.items()}}
    med = {k: v["median_us"] for k, v in result["impl"].items()}
    p99 = {k: v["p99_us"] for k, v in result["impl"].items()}
    result["ratios"] = {f"{x}/{y}": {"median": med[x] / med[y], "p99": p99[x] / p99[y]}
                        for x, y in (("a", "b"), ("a_nomemo", "b"), ("a", "c"), ("a_nomemo", "c"), ("a_full", "c"), ("b", "c"), ("c", "d"), ("a", "d"),
                                     ("a_full", "d"), ("b", "d")) if x in med and y in med}
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ruleset", action="append")
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    books = {b: RuleBook.load(ROOT / "rules", backend=b) for b in ("durable", "python")}
    load_ms = (time.perf_counter() - t0) * 1000
    from engine.evaluation.backends import durable
    durable.MEMO_SIZE, saved = 0, durable.MEMO_SIZE
    books["durable_nomemo"] = RuleBook.load(ROOT / "rules", backend="durable")
    durable.MEMO_SIZE = saved
    zen_fns, hand_fns = zen_deciders(books["python"].calendar), hand_deciders(books["python"].calendar)
    names = args.ruleset or sorted(books["python"].rulesets)
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "command": " ".join(["bench/engine.py", *sys.argv[1:]]), "load_both_backends_ms": round(load_ms),
              "rulesets": []}
    print(f"# {report['date']}  {report['machine']}")
    print(f"load+compile all rule sets, both backends: {load_ms:.0f} ms")
    print(f"{'rule set':14} {'impl':8} {'cases':>6} {'median µs':>10} {'p99 µs':>9}")
    for name in names:
        r = run(name, books, zen_fns, hand_fns, args.cases, args.seed)
        report["rulesets"].append(r)
        print(f"{name:14} durable match memo hit rate {r['memo_hit_rate']:.1%}")
        for k, s in r["impl"].items():
            print(f"{name:14} {k:8} {s['n']:6} {s['median_us']:10.1f} {s['p99_us']:9.1f}")
        for k, v in r["ratios"].items():
            goal = GOALS.get(k)
            verdict = "" if goal is None else f"   goal ≤ {goal:.3g}: {'met' if v['median'] <= goal else 'NOT met'}"
            print(f"{name:14} {k:7} median {v['median']:7.2f}×  p99 {v['p99']:7.2f}×{verdict}")
        sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def machine() -> str:
    import os
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


if __name__ == "__main__":
    main()
