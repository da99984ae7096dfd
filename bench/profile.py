"""Profile the engine's hot path with pyinstrument: one rule set decided on generated cases.

    .venv/bin/python bench/profile.py [--ruleset warranty] [--backend durable] [--cases 3000]
    .venv/bin/python bench/profile.py --http [--durability process-crash] [--cases 1000]

Prints pyinstrument's call tree (what bench/RESULTS.md summarises). --http: the app in process
(Flask's test client, the decision log on, a fresh SQLite log at the given durability),
POST /v1/decisions/warranty with examples/warranty/request.json, wall clock (so the commit's
fsync shows). For the gunicorn server, see bench/RESULTS.md: py-spy record -p <worker pid>
while bench/http_load.py runs.
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
    ap.add_argument("--http", action="store_true", help="profile the decision endpoint in process")
    ap.add_argument("--durability", default="process-crash", help="AFTERSALES_DURABILITY, with --http")
    args = ap.parse_args()
    if args.http:
        return profile_http(args.cases, args.durability)
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


def profile_http(requests: int, durability: str):
    import logging
    import os
    import shutil
    import tempfile
    tmp = Path(tempfile.mkdtemp(prefix="aftersales-profile-"))
    try:
        shutil.copytree(ROOT / "rules", tmp / "rules", ignore=shutil.ignore_patterns("tests"))
        os.environ.update(AFTERSALES_RULES=str(tmp / "rules"), AFTERSALES_VAR=str(tmp / "var"),
                          AFTERSALES_DURABILITY=durability)
        os.environ.pop("AFTERSALES_DATABASE_URL", None)
        from api import create_app
        app = create_app(watch=False)
        logging.disable(logging.CRITICAL)  # the access log: not what is profiled
        client = app.test_client()
        body = (ROOT / "examples" / "warranty" / "request.json").read_text(encoding="utf-8")
        for _ in range(200):  # warm up
            client.post("/v1/decisions/warranty", data=body, content_type="application/json")
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(requests):
            client.post("/v1/decisions/warranty", data=body, content_type="application/json")
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
