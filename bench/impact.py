"""How long `aftersales impact` takes on a large corpus.

    .venv/bin/python bench/impact.py [--cases 100000] [--ruleset warranty] [--jobs N]
    .venv/bin/python bench/impact.py --cases 20000 --keep cases.jsonl --corpus-only
    .venv/bin/python bench/impact.py --corpus cases.jsonl     # time a kept corpus (generating 1,000,000 takes minutes)

Generates N valid cases of a rule set (engine.tooling.cases, fixed seed: `aftersales check`'s
boundary-value candidates, each case the base case or a rule test's case with a few inputs
changed, as_of spread over 2025–2026), writes them as JSON Lines, makes a base
folder that is the shipped rules with an older policy (general products: 24 months of
warranty instead of 12; electronics returns: 0.2% depreciation a day instead of
0.1%), and times `aftersales impact --base <that folder> --cases <corpus>`.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.rulebook import RuleBook  # noqa: E402
from engine.tooling.cases import valid_cases  # noqa: E402


def corpus(loaded, n: int, seed: int = 7) -> list[str]:
    """n valid cases as JSON Lines (engine.tooling.cases)."""
    return [json.dumps({"decision_id": f"bench-{i}", "ruleset": loaded.ruleset.name, "as_of": as_of, "case": case},
                       ensure_ascii=False)
            for i, (case, as_of) in enumerate(valid_cases(loaded, n, seed, rules_dir=ROOT / "rules"), start=1)]


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
    ap.add_argument("--corpus", help="time this corpus (JSON Lines, e.g. one written with --keep) instead")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aftersales-bench-"))
    try:
        if args.corpus:
            path = Path(args.corpus)
            with path.open(encoding="utf-8") as f:
                lines = sum(1 for _ in f)
        else:
            book = RuleBook.load(ROOT / "rules", backend="python")
            t0 = time.perf_counter()
            text = corpus(book.get(args.ruleset), args.cases)
            lines = len(text)
            print(f"generated {lines:,} valid {args.ruleset} cases in {time.perf_counter() - t0:.1f}s")
            path = Path(args.keep) if args.keep else tmp / "cases.jsonl"
            path.write_text("\n".join(text) + "\n", encoding="utf-8")
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
        print(f"... aftersales impact on {lines:,} cases: {wall:.1f}s wall clock "
              f"({wall / lines * 1e6:.0f} µs a case, both rule versions)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
