"""Profile the engine's hot path with pyinstrument: one rule set decided on generated cases.

    .venv/bin/python bench/profile.py [--ruleset warranty] [--backend durable] [--cases 3000]

Prints pyinstrument's call tree (what bench/RESULTS.md summarises). For the HTTP server,
see bench/RESULTS.md: py-spy record -p <worker pid> while bench/http_load.py runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler  # noqa: E402

from engine.rulebook import RuleBook  # noqa: E402
from engine.tooling.cases import valid_cases  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ruleset", default="warranty")
    ap.add_argument("--backend", default="durable")
    ap.add_argument("--cases", type=int, default=3000)
    args = ap.parse_args()
    book = RuleBook.load(ROOT / "rules", backend=args.backend)
    cases = valid_cases(RuleBook.load(ROOT / "rules", backend="python").get(args.ruleset), args.cases,
                        rules_dir=ROOT / "rules")
    loaded = book.get(args.ruleset)
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for case, as_of in cases:
        loaded.decide(case, as_of=as_of)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
