"""How long `aftersales impact` takes on a large corpus.

    .venv/bin/python bench/impact.py [--cases 100000] [--ruleset warranty] [--jobs N]
    .venv/bin/python bench/impact.py --cases 20000 --keep cases.jsonl --corpus-only

Generates N valid cases of a rule set (fixed seed; the values come from the same
boundary-value candidates `aftersales check` uses, each case the base case with a few
inputs changed, as_of spread over 2025–2026), writes them as JSON Lines, makes a base
folder that is the shipped rules with an older policy (general products: 24 months of
warranty instead of 12; electronics returns: 0.2% depreciation a day instead of
0.1%), and times `aftersales impact --base <that folder> --cases <corpus>`.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.tooling.check import ABSENT, Analyzer, materialize  # noqa: E402
from engine.errors import CaseError, DecisionConflict  # noqa: E402
from engine.rulebook import RuleBook  # noqa: E402
from engine.types import CHINA  # noqa: E402


def corpus(loaded, n: int, seed: int = 7) -> list[str]:
    """n valid cases as JSON Lines."""
    rs = loaded.ruleset
    an = Analyzer(rs, datetime(2026, 11, 25, 10, tzinfo=CHINA))
    base = an.base()
    pools = an.cand.lists
    names = list(pools)
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 9, tzinfo=CHINA)
    out = []
    while len(out) < n:
        as_of = start + timedelta(days=rng.randrange(695), minutes=rng.randrange(600))
        case = {k: materialize(v, as_of) for k, v in base.items()}
        if rs.name == "warranty":
            case.update(_warranty_like(rs, rng, as_of))
        for name in rng.sample(names, rng.randint(1, min(4, len(names)))):
            c = rng.choice(pools[name])
            if c is ABSENT:
                case.pop(name, None)
            else:
                case[name] = materialize(c, as_of)
        try:
            loaded.decide(case, as_of=as_of)
        except (CaseError, DecisionConflict):
            continue
        out.append(json.dumps({"decision_id": f"bench-{len(out) + 1}", "ruleset": rs.name,
                               "as_of": as_of.isoformat(), "case": case}, ensure_ascii=False))
    return out


def _warranty_like(rs, rng, as_of) -> dict:
    """A plausible warranty claim: any product line, bought in the last three years, mostly
    manufacturing faults and repair requests, a price."""
    line = rng.choice(rs.inputs["product_line"].type.values)
    case = {"product_line": line,
            "purchase_date": (as_of.date() - timedelta(days=rng.randrange(1, 1100))).isoformat(),
            "fault_cause": rng.choices(["manufacturing", "misuse", "unknown", "none", "force_majeure"],
                                       [60, 15, 15, 5, 5])[0],
            "request": rng.choices(["repair", "exchange", "return", "consultation"], [70, 12, 12, 6])[0],
            "price": f"{rng.randrange(9900, 2_000_000) / 100:.2f}"}
    if line == "national_sanbao":
        case["product_category"] = rng.choice(rs.inputs["product_category"].type.values)
    if line == "household_car":
        case["mileage_km"] = rng.randrange(0, 90_000)
        case["purchase_date"] = max(case["purchase_date"], "2022-01-01")
    if line == "installed_system":
        case["acceptance_date"] = case["purchase_date"]
    if rng.random() < 0.3:
        case["repairs_same_fault"] = rng.randrange(0, 4)
    return case


def older_policy(folder: Path):
    w = folder / "warranty.yaml"
    text = w.read_text(encoding="utf-8")
    text = text.replace("  general_months:\n    value: 12", "  general_months:\n    value: 24", 1)
    text = text.replace("      electronics: 0.001\n", "      electronics: 0.002\n", 1)
    w.write_text(text, encoding="utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--ruleset", default="warranty")
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--keep", help="write the corpus here and keep it")
    ap.add_argument("--corpus-only", action="store_true", help="with --keep: only write the corpus")
    args = ap.parse_args()
    book = RuleBook.load(ROOT / "rules", backend="python")
    t0 = time.perf_counter()
    lines = corpus(book.get(args.ruleset), args.cases)
    print(f"generated {len(lines):,} valid {args.ruleset} cases in {time.perf_counter() - t0:.1f}s")
    tmp = Path(tempfile.mkdtemp(prefix="aftersales-bench-"))
    try:
        path = Path(args.keep) if args.keep else tmp / "cases.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if args.corpus_only:
            return
        base = tmp / "base"
        shutil.copytree(ROOT / "rules", base)
        older_policy(base)
        cmd = [str(ROOT / ".venv/bin/aftersales"), "impact", "--base", str(base), "--rules", str(ROOT / "rules"),
               "--cases", str(path), "--no-progress"] + (["--jobs", str(args.jobs)] if args.jobs else [])
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        head = "\n".join(p.stdout.splitlines()[:24])
        print(head)
        print(f"... aftersales impact on {len(lines):,} cases: {wall:.1f}s wall clock "
              f"({wall / len(lines) * 1e6:.0f} µs a case, both rule versions)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
